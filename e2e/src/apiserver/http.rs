//! The HTTP front: authentication, routing of discovery and resource paths, and the
//! handlers for GET/POST/PUT/PATCH/DELETE, list and watch.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderMap};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::Value;

use super::discovery;
use super::patch::{self, PatchType};
use super::resources::{self, ResourceType};
use super::selector::{FieldSelector, LabelSelector};
use super::status::{FieldError, Status};
use super::store::{ListQuery, ListRv, Part, Preconditions, State, WatchFrom, WriteRecord};
use super::watch::{self, WatchOptions};

pub type ResponseBody = BoxBody<Bytes, Infallible>;

const MAX_BODY: usize = 3 * 1024 * 1024;

/// Serves one request.
pub async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
    server_address: Arc<str>,
) -> Result<Response<ResponseBody>, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let anonymous_ok = matches!(
        path.as_str(),
        "/healthz" | "/livez" | "/readyz" | "/version"
    );
    let user = match bearer(req.headers()) {
        Some(token) => match state.user_for_token(token) {
            Some(user) => user,
            None => return Ok(status_response(&Status::unauthorized())),
        },
        None if anonymous_ok => "system:anonymous".to_owned(),
        None => return Ok(status_response(&Status::unauthorized())),
    };
    let response = match route(req, &state, &server_address).await {
        Ok(response) => response,
        Err(status) => status_response(&status),
    };
    if matches!(
        method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        state.record_write(WriteRecord {
            method: method.to_string(),
            path,
            user,
            at: SystemTime::now(),
            code: response.status().as_u16(),
        });
    }
    Ok(response)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn full(body: impl Into<Bytes>) -> ResponseBody {
    Full::new(body.into()).boxed()
}

fn json_response(code: u16, value: &Value) -> Response<ResponseBody> {
    let mut response = Response::new(full(value.to_string()));
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn status_response(status: &Status) -> Response<ResponseBody> {
    json_response(status.code, &status.to_json())
}

type Query = HashMap<String, String>;

fn parse_query(query: Option<&str>) -> Query {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| char::from(*c).to_digit(16));
        match b {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn route(
    req: Request<Incoming>,
    state: &Arc<State>,
    server_address: &str,
) -> Result<Response<ResponseBody>, Status> {
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let is_get = req.method() == Method::GET;
    let discovery_doc = match segments.as_slice() {
        ["healthz" | "livez" | "readyz"] => {
            let mut response = Response::new(full("ok"));
            response.headers_mut().insert(
                CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            return Ok(response);
        }
        ["version"] => Some(discovery::version()),
        ["api"] => Some(discovery::core_versions(server_address)),
        ["apis"] => Some(discovery::groups()),
        ["api", version] => discovery::resource_list("", version),
        ["apis", group] => discovery::group_document(group),
        ["apis", group, version] => discovery::resource_list(group, version),
        ["api", version, rest @ ..] => {
            let target = parse_target("", version, rest)?;
            return resource(req, state, target).await;
        }
        ["apis", group, version, rest @ ..] => {
            let target = parse_target(group, version, rest)?;
            return resource(req, state, target).await;
        }
        _ => None,
    };
    match discovery_doc {
        Some(_) if !is_get => Err(Status::method_not_allowed(req.method().as_str())),
        Some(doc) => Ok(json_response(200, &doc)),
        None => Err(Status::path_not_found()),
    }
}

/// What a resource path names.
#[derive(Debug)]
struct Target {
    rt: &'static ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    status: bool,
    watch_prefix: bool,
}

fn parse_target(group: &str, version: &str, rest: &[&str]) -> Result<Target, Status> {
    let (watch_prefix, rest) = match rest {
        ["watch", rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    let namespaced_path = match rest {
        ["namespaces", _, plural, ..] => {
            resources::by_path(group, version, plural).is_some_and(|r| r.namespaced)
        }
        _ => false,
    };
    let (namespace, rest) = match (namespaced_path, rest) {
        (true, ["namespaces", ns, rest @ ..]) => (Some((*ns).to_owned()), rest),
        (_, rest) => (None, rest),
    };
    let (plural, name, sub) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(*name), None),
        [plural, name, sub] => (*plural, Some(*name), Some(*sub)),
        _ => return Err(Status::path_not_found()),
    };
    let rt = resources::by_path(group, version, plural).ok_or_else(Status::path_not_found)?;
    if rt.namespaced && namespace.is_none() && name.is_some() {
        return Err(Status::path_not_found());
    }
    let status = match sub {
        None => false,
        Some("status") if rt.has_status && !watch_prefix => true,
        Some(_) => return Err(Status::path_not_found()),
    };
    Ok(Target {
        rt,
        namespace,
        name: name.map(percent_decode),
        status,
        watch_prefix,
    })
}

async fn resource(
    req: Request<Incoming>,
    state: &Arc<State>,
    target: Target,
) -> Result<Response<ResponseBody>, Status> {
    let query = parse_query(req.uri().query());
    let method = req.method().clone();
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let rt = target.rt;
    let ns = target.namespace.clone().unwrap_or_default();
    let part = if target.status {
        Part::Status
    } else {
        Part::Main
    };
    let dry_run = dry_run(&query)?;
    match (method, target.name.clone()) {
        (Method::GET, None) => {
            let watching = target.watch_prefix
                || matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
            if watching {
                watch_collection(state, &target, &query, None)
            } else {
                list(state, &target, &query).await
            }
        }
        (Method::GET, Some(name)) if target.watch_prefix => {
            watch_collection(state, &target, &query, Some(&name))
        }
        (Method::GET, Some(name)) => Ok(json_response(200, &state.get(rt, &ns, &name)?)),
        (Method::POST, None) if target.namespace.is_some() || !rt.namespaced => {
            let body = decode_object(rt, &content_type, read_body(req).await?)?;
            let created = state.create(rt, &ns, body, dry_run, false)?;
            Ok(json_response(201, &created))
        }
        (Method::DELETE, None) => {
            let labels = label_selector(&query)?;
            let fields = field_selector(rt, &query)?;
            let list = state.delete_collection(
                rt,
                target.namespace.as_deref(),
                &labels,
                &fields,
                dry_run,
            )?;
            Ok(json_response(200, &list))
        }
        (Method::PUT, Some(name)) => {
            let body = decode_object(rt, &content_type, read_body(req).await?)?;
            let (object, created) =
                state.update(rt, &ns, &name, body, part, dry_run, rt.create_on_update)?;
            Ok(json_response(if created { 201 } else { 200 }, &object))
        }
        (Method::PATCH, Some(name)) => {
            let Some(kind) = PatchType::from_content_type(&content_type) else {
                return Err(Status::unsupported_media_type(
                    &content_type,
                    patch::MEDIA_TYPES,
                ));
            };
            if kind == PatchType::Apply && query.get("fieldManager").is_none_or(String::is_empty) {
                return Err(Status::invalid(
                    "PatchOptions",
                    "meta.k8s.io",
                    "",
                    &[FieldError::required(
                        "fieldManager",
                        "is required for apply patch",
                    )],
                ));
            }
            let body = read_body(req).await?;
            if kind == PatchType::Apply {
                check_type(rt, &patch::parse_apply(&body)?, true)?;
            }
            let (object, created) = state.patch(
                rt,
                &ns,
                &name,
                part,
                dry_run,
                kind == PatchType::Apply,
                |current| patch::apply(kind, current, &body),
            )?;
            Ok(json_response(if created { 201 } else { 200 }, &object))
        }
        (Method::DELETE, Some(name)) if !target.status => {
            let body = read_body(req).await?;
            let (pre, body_dry_run) = delete_options(&body)?;
            let (object, gone) = state.delete(rt, &ns, &name, &pre, dry_run || body_dry_run)?;
            Ok(json_response(if gone { 200 } else { 202 }, &object))
        }
        (method, _) => Err(Status::method_not_allowed(method.as_str())),
    }
}

fn dry_run(query: &Query) -> Result<bool, Status> {
    match query.get("dryRun").map(String::as_str) {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(Status::invalid(
            "CreateOptions",
            "meta.k8s.io",
            "",
            &[FieldError::not_supported("dryRun", other, &["All"])],
        )),
    }
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, Status> {
    Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .map_err(|_| Status::too_large_body())
}

/// Decodes a POST/PUT body (JSON or YAML) and checks its apiVersion and kind.
fn decode_object(rt: &ResourceType, content_type: &str, body: Bytes) -> Result<Value, Status> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let object: Value = match media {
        "application/yaml" => serde_yaml_ng::from_slice(&body)
            .map_err(|e| Status::bad_request(format!("error decoding YAML: {e}")))?,
        "application/json" | "*/*" | "" => serde_json::from_slice(&body).map_err(|e| {
            Status::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })?,
        other => {
            return Err(Status::unsupported_media_type(
                other,
                &[
                    "application/json",
                    "application/yaml",
                    "application/vnd.kubernetes.protobuf",
                ],
            ));
        }
    };
    check_type(rt, &object, false)?;
    Ok(object)
}

/// A body's `apiVersion` and `kind`, when given (required for apply), must be the endpoint's.
fn check_type(rt: &ResourceType, object: &Value, required: bool) -> Result<(), Status> {
    if !object.is_object() {
        return Err(Status::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if required && (api_version.is_empty() || kind.is_empty()) {
        return Err(Status::bad_request(
            "invalid object type: apiVersion and kind are required for apply",
        ));
    }
    let expected = rt.api_version();
    if !api_version.is_empty() && api_version != expected {
        return Err(Status::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({expected})"
        )));
    }
    if !kind.is_empty() && kind != rt.kind {
        return Err(Status::bad_request(format!(
            "{kind} in version \"{}\" cannot be handled as a {}: the kind in the data ({kind}) does not match the expected kind ({})",
            rt.version, rt.kind, rt.kind
        )));
    }
    Ok(())
}

fn delete_options(body: &[u8]) -> Result<(Preconditions, bool), Status> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((Preconditions::default(), false));
    }
    let options: Value = serde_json::from_slice(body)
        .map_err(|e| Status::bad_request(format!("error decoding DeleteOptions: {e}")))?;
    let text = |p: &str| {
        options
            .pointer(p)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let dry_run = options
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == "All"));
    Ok((
        Preconditions {
            uid: text("/preconditions/uid"),
            resource_version: text("/preconditions/resourceVersion"),
        },
        dry_run,
    ))
}

fn selector_error(rt: &ResourceType, query: &Query, why: &str) -> Status {
    let group_version = if rt.group.is_empty() {
        format!("/{}", rt.version)
    } else {
        rt.api_version()
    };
    Status::bad_request(format!(
        "Unable to find \"{group_version}, Resource={}\" that match label selector \"{}\", field selector \"{}\": {why}",
        rt.plural,
        query.get("labelSelector").map_or("", String::as_str),
        query.get("fieldSelector").map_or("", String::as_str),
    ))
}

fn label_selector(query: &Query) -> Result<LabelSelector, Status> {
    let text = query.get("labelSelector").map_or("", String::as_str);
    LabelSelector::parse(text)
        .map_err(|why| Status::bad_request(format!("unable to parse requirement: {why}")))
}

fn field_selector(rt: &ResourceType, query: &Query) -> Result<FieldSelector, Status> {
    let text = query.get("fieldSelector").map_or("", String::as_str);
    FieldSelector::parse(text, rt).map_err(|why| selector_error(rt, query, &why))
}

fn parse_rv(text: &str) -> Result<u64, Status> {
    text.parse::<u64>()
        .map_err(|_| Status::bad_request(format!("invalid resource version \"{text}\"")))
}

fn list_options_invalid(errors: &[FieldError]) -> Status {
    Status::invalid("ListOptions", "meta.k8s.io", "", errors)
}

async fn list(
    state: &Arc<State>,
    target: &Target,
    query: &Query,
) -> Result<Response<ResponseBody>, Status> {
    let rv = query.get("resourceVersion").map_or("", String::as_str);
    let matching = query.get("resourceVersionMatch").map_or("", String::as_str);
    let continue_token = query
        .get("continue")
        .filter(|c| !c.is_empty())
        .map(String::as_str);
    let mut errors = Vec::new();
    if !matching.is_empty() {
        if rv.is_empty() {
            errors.push(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if continue_token.is_some() {
            errors.push(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        if matching != "Exact" && matching != "NotOlderThan" {
            errors.push(FieldError::not_supported(
                "resourceVersionMatch",
                matching,
                &["Exact", "NotOlderThan", ""],
            ));
        }
        if matching == "Exact" && rv == "0" {
            errors.push(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
    }
    if query.contains_key("sendInitialEvents") {
        errors.push(FieldError::forbidden(
            "sendInitialEvents",
            "sendInitialEvents is forbidden for list",
        ));
    }
    if !errors.is_empty() {
        return Err(list_options_invalid(&errors));
    }
    let list_rv = match (rv, matching) {
        ("", _) => ListRv::Latest,
        ("0", _) => ListRv::Any,
        (n, "Exact") => ListRv::Exact(parse_rv(n)?),
        (n, _) => ListRv::NotOlderThan(parse_rv(n)?),
    };
    let limit = match query.get("limit").filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| Status::bad_request(format!("invalid limit \"{l}\"")))?,
        ),
    };
    let labels = label_selector(query)?;
    let fields = field_selector(target.rt, query)?;
    let list = state
        .list(
            target.rt,
            &ListQuery {
                namespace: target.namespace.as_deref(),
                labels: &labels,
                fields: &fields,
                rv: list_rv,
                limit,
                continue_token,
            },
        )
        .await?;
    Ok(json_response(200, &list))
}

fn watch_collection(
    state: &Arc<State>,
    target: &Target,
    query: &Query,
    name: Option<&str>,
) -> Result<Response<ResponseBody>, Status> {
    let rv = query.get("resourceVersion").map_or("", String::as_str);
    let matching = query.get("resourceVersionMatch").map_or("", String::as_str);
    let send_initial = match query.get("sendInitialEvents").map(String::as_str) {
        None => None,
        Some("true" | "1") => Some(true),
        Some(_) => Some(false),
    };
    let bookmarks = matches!(
        query.get("allowWatchBookmarks").map(String::as_str),
        Some("true" | "1")
    );
    let mut errors = Vec::new();
    if send_initial.is_some() && matching != "NotOlderThan" {
        errors.push(FieldError::forbidden(
            "resourceVersionMatch",
            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ));
    }
    if !matching.is_empty() {
        if send_initial.is_none() {
            errors.push(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ));
        }
        if matching != "NotOlderThan" {
            errors.push(FieldError::not_supported(
                "resourceVersionMatch",
                matching,
                &["NotOlderThan"],
            ));
        }
    }
    if !errors.is_empty() {
        return Err(list_options_invalid(&errors));
    }
    let from = match (send_initial, rv) {
        (Some(true), _) => WatchFrom::InitialEvents,
        (Some(false), "" | "0") => WatchFrom::Now { initial: false },
        (None, "" | "0") => WatchFrom::Now { initial: true },
        (_, n) => WatchFrom::After(parse_rv(n)?),
    };
    let labels = label_selector(query)?;
    let mut fields = field_selector(target.rt, query)?;
    if let Some(name) = name {
        let combined = match query.get("fieldSelector").filter(|f| !f.is_empty()) {
            Some(f) => format!("{f},metadata.name={name}"),
            None => format!("metadata.name={name}"),
        };
        fields = FieldSelector::parse(&combined, target.rt)
            .map_err(|why| selector_error(target.rt, query, &why))?;
    }
    let timeout = match query.get("timeoutSeconds").filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(Duration::from_secs(t.parse::<u64>().map_err(|_| {
            Status::bad_request(format!("invalid timeoutSeconds \"{t}\""))
        })?)),
    };
    let start = state.watch(target.rt, target.namespace.as_deref(), from);
    let body = watch::stream(
        state.clone(),
        target.rt,
        start,
        WatchOptions {
            labels,
            fields,
            bookmarks,
            timeout,
        },
    );
    let mut response = Response::new(body.boxed());
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-cache, private"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_queries() {
        let q = parse_query(Some("labelSelector=app%3Dweb%2Ctier+in+(a)&watch=1&x"));
        assert_eq!(
            q.get("labelSelector").map(String::as_str),
            Some("app=web,tier in (a)")
        );
        assert_eq!(q.get("watch").map(String::as_str), Some("1"));
        assert_eq!(q.get("x").map(String::as_str), Some(""));
    }

    #[test]
    fn parses_resource_paths() {
        let t = parse_target(
            "networking.k8s.io",
            "v1",
            &["namespaces", "default", "ingresses", "x", "status"],
        )
        .expect("parses");
        assert_eq!(
            (
                t.rt.kind,
                t.namespace.as_deref(),
                t.name.as_deref(),
                t.status
            ),
            ("Ingress", Some("default"), Some("x"), true)
        );
        let t = parse_target("", "v1", &["namespaces", "default"]).expect("namespace object");
        assert_eq!(
            (t.rt.kind, t.name.as_deref()),
            ("Namespace", Some("default"))
        );
        let t =
            parse_target("", "v1", &["namespaces", "default", "status"]).expect("namespace status");
        assert!(t.status);
        let t = parse_target("", "v1", &["watch", "namespaces", "a", "services"])
            .expect("legacy watch");
        assert!(t.watch_prefix);
        assert!(parse_target("networking.k8s.io", "v1", &["ingresses", "x"]).is_err());
        assert!(parse_target("", "v1", &["configmaps", "a", "b", "c"]).is_err());
        assert!(parse_target("", "v1", &["namespaces", "a", "configmaps", "c", "status"]).is_err());
    }
}
