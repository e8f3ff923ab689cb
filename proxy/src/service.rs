//! One request through the proxy: host → path → match → policy → upstream → response.
//!
//! The request is edited in place: its parts are moved, the URI is replaced with the
//! origin form that goes upstream, and only the headers the rules name are touched.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{
    CONTENT_LENGTH, HOST, HeaderValue, LOCATION, STRICT_TRANSPORT_SECURITY, TE, TRANSFER_ENCODING,
    UPGRADE,
};
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use http_body::Body as _;

use crate::config::ProxyConfig;
use crate::drain::Drain;
use crate::error::ProxyError;
use crate::handle::{Dispatch, Entry, TableHandle};
use crate::headers::{self, Forwarded, X_REQUEST_ID};
use crate::metrics::OpenConnection;
use crate::telemetry::{Exchange, Metered, Telemetry, UpstreamInfo};
use crate::upstream::{Mode, ProxyBody, RequestBody};
use crate::{authority, normalize};

/// Everything a connection's requests share, built once at accept.
#[derive(Debug)]
pub struct ConnContext {
    /// The table to serve.
    pub handle: Arc<TableHandle>,
    /// Timeouts and limits.
    pub config: Arc<ProxyConfig>,
    /// Per-connection forwarding header values.
    pub forwarded: Forwarded,
    /// `http` or `https`, for redirects.
    pub scheme: &'static str,
    /// True when the connection arrived over TLS.
    pub tls: bool,
    /// The client address.
    pub peer: SocketAddr,
    /// Where requests are reported.
    pub telemetry: Telemetry,
    /// Tracks upgraded connections for the shutdown.
    pub drain: Drain,
    /// This connection in `wicket_open_connections`; an upgraded stream keeps a clone.
    pub open: OpenConnection,
}

/// Paths never redirected to HTTPS, so that HTTP-01 challenges reach the ACME client.
const ACME_CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// Serves one request; never fails (errors become short plain-text responses). The
/// request is reported (metrics, access log) when the response body ends.
pub async fn serve(ctx: &ConnContext, mut req: Request<Incoming>) -> Response<Metered> {
    let request_id = headers::request_id(req.headers_mut());
    let mut exchange = Exchange::begin(&ctx.telemetry, ctx.peer, &req, &request_id);
    let mut response = match proxy(ctx, req, &mut exchange).await {
        Ok(response) => response,
        Err(err) => {
            tracing::debug!(error = %err, "request failed");
            err.into_response(None)
        }
    };
    // Unique per response: marked sensitive so that HTTP/2 sends it as a literal that is
    // never indexed, instead of churning the HPACK table (an unmatched value is searched
    // through every earlier request ID the table holds).
    let mut request_id = request_id;
    request_id.set_sensitive(true);
    response.headers_mut().insert(X_REQUEST_ID, request_id);
    exchange.respond(response)
}

/// The parts of routing that borrow the request, resolved before it is edited.
struct Routed<'a> {
    entry: &'a Entry,
    /// The new URI (origin form), or `None` when the request's URI can go as is.
    uri: Option<Uri>,
    /// The host as the client sent it (`Host`, `:authority` or absolute-form authority).
    client_host: Option<HeaderValue>,
    /// True when the host came from the URI and `Host` must be set from it.
    host_from_uri: bool,
    /// True when the normalised path is exactly `/`.
    is_root: bool,
    /// `308` target when a plain-HTTP request must move to HTTPS.
    https_redirect: Option<HeaderValue>,
}

async fn proxy(
    ctx: &ConnContext,
    req: Request<Incoming>,
    exchange: &mut Exchange,
) -> Result<Response<ProxyBody>, ProxyError> {
    check_framing(&req)?;
    let active = ctx.handle.load();
    let routed = route(ctx, &active, &req)?;
    exchange.set_route(exchange.telemetry().series(&routed.entry.telemetry));
    let hsts = match ctx.tls {
        true => routed.entry.hsts.clone(),
        false => None,
    };
    let result = forward(ctx, routed, req, exchange).await;
    let Some(hsts) = hsts else {
        return result;
    };
    let mut response = result.unwrap_or_else(|err| {
        tracing::debug!(error = %err, "request failed");
        err.into_response(None)
    });
    response
        .headers_mut()
        .insert(STRICT_TRANSPORT_SECURITY, hsts);
    Ok(response)
}

/// Sends a routed request upstream (or answers it with a redirect).
async fn forward(
    ctx: &ConnContext,
    routed: Routed<'_>,
    mut req: Request<Incoming>,
    exchange: &mut Exchange,
) -> Result<Response<ProxyBody>, ProxyError> {
    if let Some(location) = routed.https_redirect {
        return Ok(redirect(StatusCode::PERMANENT_REDIRECT, location));
    }
    if routed.is_root
        && let Some(redirect) = app_root_redirect(ctx, routed.entry, routed.client_host.as_ref())?
    {
        return Ok(redirect);
    }
    let upstream = match &routed.entry.dispatch {
        Dispatch::Forward(upstream) => upstream,
        Dispatch::Unavailable { reason } => {
            return Err(ProxyError::Unavailable {
                reason: reason.clone(),
            });
        }
    };

    let upgrade = match req.version() {
        Version::HTTP_11 => headers::requested_upgrade(req.headers()),
        _ => None,
    };
    let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut req));

    let (mut parts, body) = req.into_parts();
    if let Some(uri) = routed.uri {
        parts.uri = uri;
    }
    parts.version = Version::HTTP_11;
    let te_trailers = upstream.is_http2() && headers::accepts_trailers(&parts.headers);
    headers::strip_hop_by_hop(&mut parts.headers);
    if te_trailers {
        // gRPC needs `te: trailers` end to end; HTTP/2 allows exactly this TE value.
        parts
            .headers
            .insert(TE, HeaderValue::from_static("trailers"));
    }
    if routed.host_from_uri
        && let Some(host) = &routed.client_host
    {
        parts.headers.insert(HOST, host.clone());
    }
    ctx.forwarded
        .apply(&mut parts.headers, routed.client_host.as_ref());
    let mode = match upgrade {
        Some(upgrade) => {
            headers::restore_upgrade(&mut parts.headers, upgrade);
            Mode::Upgrade
        }
        None => Mode::Pooled,
    };
    let counted = (!body.is_end_stream()).then(|| exchange.count_request_body());
    let req = Request::from_parts(parts, RequestBody::new(body, counted));

    let started = Instant::now();
    let metrics = &exchange.telemetry().metrics;
    let (mut response, endpoint) = upstream.send(req, &ctx.config, mode, metrics).await?;
    exchange.set_upstream(UpstreamInfo {
        addr: endpoint,
        status: response.status().as_u16(),
        elapsed: started.elapsed(),
    });
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_upgrade) = client_upgrade else {
            return Err(ProxyError::BadResponse("101 without an upgrade request"));
        };
        let upgrade = response.headers().get(UPGRADE).cloned();
        headers::strip_hop_by_hop(response.headers_mut());
        if let Some(upgrade) = upgrade {
            headers::restore_upgrade(response.headers_mut(), upgrade);
        }
        let upstream_upgrade = hyper::upgrade::on(&mut response);
        let mut tracked = ctx.drain.track();
        let open = ctx.open.clone();
        tokio::spawn(async move {
            if tracked
                .run(splice(client_upgrade, upstream_upgrade))
                .await
                .is_none()
            {
                tracing::debug!("upgraded connection cut at shutdown");
            }
            drop(open);
        });
    } else {
        headers::strip_hop_by_hop(response.headers_mut());
    }
    Ok(response.map(ProxyBody::Upstream))
}

/// Rejects ambiguous HTTP/1 framing that reached this far (hyper already rejects
/// differing Content-Lengths and drops Content-Length beside Transfer-Encoding).
fn check_framing<B>(req: &Request<B>) -> Result<(), ProxyError> {
    let headers = req.headers();
    if headers.contains_key(TRANSFER_ENCODING) && headers.contains_key(CONTENT_LENGTH) {
        return Err(ProxyError::BadFraming);
    }
    let mut lengths = headers.get_all(CONTENT_LENGTH).iter();
    if let Some(first) = lengths.next()
        && lengths.any(|other| other != first)
    {
        return Err(ProxyError::BadFraming);
    }
    Ok(())
}

fn route<'a, B>(
    ctx: &ConnContext,
    active: &'a crate::handle::Active,
    req: &Request<B>,
) -> Result<Routed<'a>, ProxyError> {
    let host = authority::routing_host(req)?;
    let path = normalize::normalize_path(req.uri().path())?;
    let entry = active
        .matcher
        .find(&host, &path)
        .and_then(|target| active.entry(target))
        .ok_or(ProxyError::NoRoute)?;

    let is_root = path == "/";
    let https_redirect = if !ctx.tls
        && entry.https_redirect
        && !path.starts_with(ACME_CHALLENGE_PREFIX)
        && !host.is_empty()
    {
        Some(https_location(&host, req.uri(), https_port(&ctx.config))?)
    } else {
        None
    };
    let query = req.uri().query();
    let rewritten = entry
        .rewrite
        .as_ref()
        .and_then(|rewrite| rewrite.apply(&path));
    let new_path = match (rewritten, path) {
        (Some(rewritten), _) => Some(rewritten),
        (None, Cow::Owned(normalised)) => Some(normalised),
        (None, Cow::Borrowed(_)) => None,
    };
    let uri = match new_path {
        Some(path) => Some(origin_form(path, query)?),
        None if req.uri().scheme().is_some() || req.uri().authority().is_some() => {
            let pq = req
                .uri()
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            Some(Uri::from(pq))
        }
        None => None,
    };

    let (client_host, host_from_uri) = match req.uri().authority() {
        Some(authority) => (HeaderValue::from_str(authority.as_str()).ok(), true),
        None => (req.headers().get(HOST).cloned(), false),
    };
    Ok(Routed {
        entry,
        uri,
        client_host,
        host_from_uri,
        is_root,
        https_redirect,
    })
}

/// The HTTPS port to name in redirects: none for 443 or when not configured.
fn https_port(config: &ProxyConfig) -> Option<u16> {
    config.https_port_for_redirects
}

/// `https://<host>[:port]<path>?<query>` for the request as the client sent it.
fn https_location(host: &str, uri: &Uri, port: Option<u16>) -> Result<HeaderValue, ProxyError> {
    let path = uri.path_and_query().map_or("/", PathAndQuery::as_str);
    let location = match port {
        Some(port) if port != 443 => format!("https://{host}:{port}{path}"),
        _ => format!("https://{host}{path}"),
    };
    HeaderValue::try_from(location)
        .map_err(|_| ProxyError::Internal("the HTTPS location is not a valid header"))
}

/// An empty-bodied redirect to `location`.
fn redirect(status: StatusCode, location: HeaderValue) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::empty());
    *response.status_mut() = status;
    response.headers_mut().insert(LOCATION, location);
    response
}

/// `path` plus the original query, as an origin-form URI.
fn origin_form(mut path: String, query: Option<&str>) -> Result<Uri, ProxyError> {
    if let Some(query) = query {
        path.reserve(query.len() + 1);
        path.push('?');
        path.push_str(query);
    }
    PathAndQuery::from_maybe_shared(Bytes::from(path))
        .map(Uri::from)
        .map_err(|_| ProxyError::Internal("the upstream path is not a valid URI"))
}

/// `302` to the route's `app-root`; called when the normalised path is exactly `/`.
fn app_root_redirect(
    ctx: &ConnContext,
    entry: &Entry,
    client_host: Option<&HeaderValue>,
) -> Result<Option<Response<ProxyBody>>, ProxyError> {
    let Some(app_root) = &entry.app_root else {
        return Ok(None);
    };
    let host = client_host
        .and_then(|host| host.to_str().ok())
        .ok_or(ProxyError::Internal("no host for the app-root redirect"))?;
    let location = format!("{}://{}{}", ctx.scheme, host, app_root);
    let location = HeaderValue::try_from(location)
        .map_err(|_| ProxyError::Internal("the app-root location is not a valid header"))?;
    Ok(Some(redirect(StatusCode::FOUND, location)))
}

/// Copies bytes both ways between an upgraded client and upstream connection.
async fn splice(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(both) => both,
        Err(err) => {
            tracing::debug!(error = %err, "upgrade failed");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut upstream = TokioIo::new(upstream);
    if let Err(err) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        tracing::debug!(error = %err, "upgraded connection ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_locations() {
        let uri = Uri::from_static("/a/b?x=1");
        let at = |port| https_location("h.example", &uri, port).ok();
        assert_eq!(
            at(None),
            Some(HeaderValue::from_static("https://h.example/a/b?x=1"))
        );
        assert_eq!(
            at(Some(443)),
            Some(HeaderValue::from_static("https://h.example/a/b?x=1"))
        );
        assert_eq!(
            at(Some(8443)),
            Some(HeaderValue::from_static("https://h.example:8443/a/b?x=1"))
        );
        let absolute = Uri::from_static("http://h.example:8080");
        assert_eq!(
            https_location("h.example", &absolute, None).ok(),
            Some(HeaderValue::from_static("https://h.example/"))
        );
    }

    #[test]
    fn framing_rules() {
        let ok = Request::builder()
            .header(CONTENT_LENGTH, "5")
            .body(())
            .unwrap_or_default();
        assert!(check_framing(&ok).is_ok());
        let both = Request::builder()
            .header(CONTENT_LENGTH, "5")
            .header(TRANSFER_ENCODING, "chunked")
            .body(())
            .unwrap_or_default();
        assert!(matches!(check_framing(&both), Err(ProxyError::BadFraming)));
        let differing = Request::builder()
            .header(CONTENT_LENGTH, "5")
            .header(CONTENT_LENGTH, "6")
            .body(())
            .unwrap_or_default();
        assert!(matches!(
            check_framing(&differing),
            Err(ProxyError::BadFraming)
        ));
    }

    #[test]
    fn origin_form_keeps_the_query() {
        let uri = origin_form("/b/c".into(), Some("x=1")).ok();
        assert_eq!(uri, Some(Uri::from_static("/b/c?x=1")));
        assert!(origin_form("/bad path".into(), None).is_err());
    }
}
