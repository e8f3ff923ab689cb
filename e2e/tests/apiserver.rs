//! The Kubernetes API server test double, exercised over real sockets: raw HTTP, kubectl and
//! the kube-rs watcher wicket itself uses.

use std::process::Command;
use std::time::Duration;

use e2e::apiserver::ApiServer;
use e2e::apiserver::client::{DEADLINE, RawClient, WatchStream};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::time::timeout;

/// A raw API client for one user (thin wrapper that fails the test on transport errors).
struct Api {
    raw: RawClient,
}

impl Api {
    fn new(server: &ApiServer, user: &str) -> Self {
        Self {
            raw: server.client(user),
        }
    }

    fn with_token(server: &ApiServer, token: Option<&str>) -> Self {
        Self {
            raw: RawClient::new(server.addr(), token.map(str::to_owned)).expect("client"),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        self.raw
            .call(method, path, content_type, body)
            .await
            .expect("an answer")
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, "application/json", None).await
    }

    async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, "application/json", Some(body))
            .await
    }

    async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, "application/json", Some(body))
            .await
    }

    async fn patch(&self, path: &str, content_type: &str, body: &Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, content_type, Some(body))
            .await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, "application/json", None)
            .await
    }

    async fn watch(&self, path: &str) -> Watch {
        Watch(self.raw.watch(path).await.expect("watch opened"))
    }
}

/// A watch stream that fails the test on transport errors and timeouts.
struct Watch(WatchStream);

impl Watch {
    async fn next(&mut self) -> Option<Value> {
        self.0
            .next()
            .await
            .expect("a watch event or the end within the deadline")
    }

    async fn next_change(&mut self) -> Option<Value> {
        self.0
            .next_change()
            .await
            .expect("a watch event or the end within the deadline")
    }
}

fn summary(event: &Value) -> (String, String) {
    (
        event["type"].as_str().unwrap_or_default().to_owned(),
        event["object"]["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn pair(kind: &str, name: &str) -> (String, String) {
    (kind.to_owned(), name.to_owned())
}

const INGRESSES: &str = "/apis/networking.k8s.io/v1/namespaces/default/ingresses";
const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

fn ingress(name: &str, service: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"ingressClassName": "wicket", "rules": [{"host": "a.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": service, "port": {"number": 80}}}}
        ]}}]}
    })
}

fn configmap(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})
}

/// Percent-encodes a query value (continue tokens are base64 with `+`, `/` and `=`).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn rv(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("a numeric resourceVersion")
}

#[tokio::test]
async fn create_get_delete_and_status_shapes() {
    let server = ApiServer::start().await;
    let api = Api::new(&server, "tester");

    let (code, created) = api.post(INGRESSES, &ingress("web", "svc")).await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let meta = &created["metadata"];
    assert_eq!(meta["namespace"], "default");
    assert_eq!(meta["generation"], 1);
    assert_eq!(meta["uid"].as_str().map(str::len), Some(36));
    let timestamp = meta["creationTimestamp"]
        .as_str()
        .expect("creationTimestamp");
    assert!(
        timestamp.len() == 20 && timestamp.ends_with('Z'),
        "{timestamp}"
    );
    assert_eq!(created["status"], json!({"loadBalancer": {}}));

    let (code, fetched) = api.get(&format!("{INGRESSES}/web")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(fetched, created);

    let (code, again) = api.post(INGRESSES, &ingress("web", "svc")).await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(again["reason"], "AlreadyExists");
    assert_eq!(
        again["message"],
        "ingresses.networking.k8s.io \"web\" already exists"
    );

    let (code, deleted) = api.delete(&format!("{INGRESSES}/web")).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(deleted["metadata"]["uid"], created["metadata"]["uid"]);

    let (code, missing) = api.get(&format!("{INGRESSES}/web")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(
        missing,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"ingresses.networking.k8s.io \"web\" not found","reason":"NotFound",
            "details":{"name":"web","group":"networking.k8s.io","kind":"ingresses"},"code":404})
    );

    let (code, no_ns) = api
        .post(
            "/api/v1/namespaces/nowhere/configmaps",
            &configmap("c", json!({})),
        )
        .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(no_ns["message"], "namespaces \"nowhere\" not found");

    let (code, generated) = api
        .post(
            CONFIGMAPS,
            &json!({"metadata": {"generateName": "gen-"}, "data": {}}),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED);
    let name = generated["metadata"]["name"]
        .as_str()
        .expect("generated name");
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    let (code, bad) = api
        .post(CONFIGMAPS, &configmap("Bad_Name", json!({})))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["reason"], "Invalid");
    assert_eq!(bad["details"]["causes"][0]["field"], "metadata.name");
    server.stop().await;
}

#[tokio::test]
async fn requests_need_a_known_token() {
    let server = ApiServer::start().await;
    let anonymous = Api::with_token(&server, None);
    let (code, body) = anonymous.get(INGRESSES).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(body["reason"], "Unauthorized");
    assert_eq!(anonymous.get("/version").await.0, StatusCode::OK);
    let forged = Api::with_token(&server, Some("forged"));
    assert_eq!(forged.get("/version").await.0, StatusCode::UNAUTHORIZED);

    server.stop().await;
}

#[tokio::test]
async fn plain_http_on_the_tls_port_gets_400_like_a_real_server() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = ApiServer::start().await;
    let mut plain = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    let request = format!(
        "GET /api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        server.token("plain")
    );
    plain.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    timeout(DEADLINE, plain.read_to_string(&mut answer))
        .await
        .expect("an answer within the deadline")
        .expect("read");
    assert_eq!(
        answer,
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
    );
    // The server still speaks HTTPS on the same port afterwards.
    let (code, _) = Api::new(&server, "after-plain").get("/api").await;
    assert_eq!(code, StatusCode::OK);
    server.stop().await;
}

#[tokio::test]
async fn stale_updates_conflict() {
    let server = ApiServer::start().await;
    let api = Api::new(&server, "tester");
    let (_, created) = api.post(CONFIGMAPS, &configmap("c", json!({}))).await;
    let mut first = created.clone();
    first["data"]["k"] = json!("first");
    let (code, updated) = api.put(&format!("{CONFIGMAPS}/c"), &first).await;
    assert_eq!(code, StatusCode::OK);
    assert!(rv(&updated) > rv(&created));

    let mut stale = created;
    stale["data"]["k"] = json!("second");
    let (code, conflict) = api.put(&format!("{CONFIGMAPS}/c"), &stale).await;
    assert_eq!(code, StatusCode::CONFLICT);
    assert_eq!(conflict["reason"], "Conflict");
    assert_eq!(
        conflict["message"],
        "Operation cannot be fulfilled on configmaps \"c\": the object has been modified; please apply your changes to the latest version and try again"
    );
    let (_, current) = api.get(&format!("{CONFIGMAPS}/c")).await;
    assert_eq!(current["data"]["k"], "first");
    server.stop().await;
}

#[tokio::test]
async fn loopback_endpoint_addresses_are_rejected() {
    let server = ApiServer::start().await;
    let api = Api::new(&server, "tester");
    let slice = |name: &str, address: &str| {
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [address], "conditions": {"ready": true}}],
            "ports": [{"name": "http", "port": 8080}]})
    };
    let path = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";
    let (code, rejected) = api.post(path, &slice("web-loop", "127.0.0.1")).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        rejected["message"],
        "EndpointSlice.discovery.k8s.io \"web-loop\" is invalid: endpoints[0].addresses[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"
    );
    assert_eq!(
        rejected["details"]["causes"],
        json!([{"reason": "FieldValueInvalid", "field": "endpoints[0].addresses[0]",
            "message": "Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"}])
    );
    let (code, accepted) = api.post(path, &slice("web-pod", "10.244.1.7")).await;
    assert_eq!(code, StatusCode::CREATED, "{accepted}");
    assert_eq!(accepted["ports"][0]["protocol"], "TCP");

    let err = server
        .create(slice("in-process", "127.0.0.2"))
        .expect_err("in-process writes are validated too");
    assert_eq!(err.code, 422);
    server.stop().await;
}

#[tokio::test]
async fn lists_paginate_and_old_continue_tokens_expire() {
    let server = ApiServer::start().await;
    let api = Api::new(&server, "tester");
    for i in 0..5 {
        let (code, _) = api
            .post(CONFIGMAPS, &configmap(&format!("cm-{i}"), json!({})))
            .await;
        assert_eq!(code, StatusCode::CREATED);
    }
    let (_, first) = api.get(&format!("{CONFIGMAPS}?limit=2")).await;
    assert_eq!(first["kind"], "ConfigMapList");
    assert_eq!(first["metadata"]["remainingItemCount"], 3);
    assert!(
        first["items"][0].get("kind").is_none(),
        "list items carry no kind"
    );
    let mut names: Vec<String> = Vec::new();
    let mut page = first.clone();
    loop {
        assert_eq!(
            page["metadata"]["resourceVersion"],
            first["metadata"]["resourceVersion"]
        );
        for item in page["items"].as_array().expect("items") {
            names.push(
                item["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        let Some(token) = page["metadata"]["continue"].as_str() else {
            break;
        };
        if names.len() == 2 {
            // A write between pages is not visible: pages come from one snapshot.
            server
                .create(configmap("cm-late", json!({})))
                .expect("late create");
        }
        let (code, next) = api
            .get(&format!("{CONFIGMAPS}?limit=2&continue={}", encode(token)))
            .await;
        assert_eq!(code, StatusCode::OK, "{next}");
        page = next;
    }
    assert_eq!(names, ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"]);

    let token = first["metadata"]["continue"].as_str().expect("token");
    server.compact();
    let (code, expired) = api
        .get(&format!("{CONFIGMAPS}?limit=2&continue={}", encode(token)))
        .await;
    assert_eq!(code, StatusCode::GONE);
    assert_eq!(expired["reason"], "Expired");
    let then = rv(&first["items"][0]);
    let (code, exact) = api
        .get(&format!(
            "{CONFIGMAPS}?resourceVersion={then}&resourceVersionMatch=Exact"
        ))
        .await;
    assert_eq!(
        (code, exact["reason"].clone()),
        (StatusCode::GONE, json!("Expired"))
    );
    let (code, invalid) = api
        .get(&format!("{CONFIGMAPS}?resourceVersionMatch=Exact"))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        invalid["message"],
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
    );
    server.stop().await;
}

#[tokio::test]
async fn watch_from_a_resource_version_replays_exactly_the_later_changes() {
    let server = ApiServer::start().await;
    let api = Api::new(&server, "tester");
    let (_, a) = api.post(CONFIGMAPS, &configmap("a", json!({}))).await;
    let from = rv(&a);
    api.post(CONFIGMAPS, &configmap("b", json!({}))).await;
    let mut changed = a.clone();
    changed["data"]["k"] = json!("changed");
    api.put(&format!("{CONFIGMAPS}/a"), &changed).await;
    api.delete(&format!("{CONFIGMAPS}/b")).await;

    let mut watch = api
        .watch(&format!("{CONFIGMAPS}?watch=true&resourceVersion={from}"))
        .await;
    let mut seen = Vec::new();
    let mut last_rv = from;
    for _ in 0..3 {
        let event = watch.next_change().await.expect("replayed event");
        assert_eq!(event["object"]["kind"], "ConfigMap");
        let event_rv = rv(&event["object"]);
        assert!(event_rv > last_rv, "resourceVersions increase");
        last_rv = event_rv;
        seen.push(summary(&event));
    }
    assert_eq!(
        seen,
        [
            pair("ADDED", "b"),
            pair("MODIFIED", "a"),
            pair("DELETED", "b")
        ]
    );

    api.post(CONFIGMAPS, &configmap("c", json!({}))).await;
    let live = watch.next_change().await.expect("live event");
    assert_eq!(summary(&live), pair("ADDED", "c"));

    let mut fresh = api.watch(&format!("{CONFIGMAPS}?watch=1")).await;
    let mut initial = vec![
        summary(&fresh.next_change().await.expect("initial")),
        summary(&fresh.next_change().await.expect("initial")),
    ];
    initial.sort();
    assert_eq!(initial, [pair("ADDED", "a"), pair("ADDED", "c")]);

    server.drop_watches();
    assert!(
        watch.next_change().await.is_none(),
        "drop_watches ends the stream"
    );
    assert!(
        fresh.next_change().await.is_none(),
        "drop_watches ends the stream"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_expired_resource_version_gets_200_then_an_error_event() {
    let server = ApiServer::start().await;
    let api = Api::new(&server, "tester");
    let (_, a) = api.post(CONFIGMAPS, &configmap("a", json!({}))).await;
    let old = rv(&a) - 1;
    api.post(CONFIGMAPS, &configmap("b", json!({}))).await;
    server.compact();
    let now = server.state().current_rv();
    let mut watch = api
        .watch(&format!("{CONFIGMAPS}?watch=true&resourceVersion={old}"))
        .await;
    let event = watch.next().await.expect("an ERROR event");
    assert_eq!(
        event,
        json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": format!("too old resource version: {old} ({now})"),
            "reason": "Expired", "code": 410}})
    );
    assert!(
        watch.next().await.is_none(),
        "the stream ends after the error"
    );
    server.stop().await;
}

#[tokio::test]
async fn bookmarks_and_initial_events() {
    let server = ApiServer::start().await;
    server.set_bookmark_interval(Duration::from_millis(50));
    let api = Api::new(&server, "tester");
    let (_, a) = api.post(CONFIGMAPS, &configmap("a", json!({}))).await;

    let mut watch = api
        .watch(&format!(
            "{CONFIGMAPS}?watch=1&allowWatchBookmarks=true&resourceVersion={}",
            rv(&a)
        ))
        .await;
    let bookmark = watch.next().await.expect("a bookmark");
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(bookmark["object"]["kind"], "ConfigMap");
    assert_eq!(bookmark["object"]["apiVersion"], "v1");
    assert!(rv(&bookmark["object"]) >= rv(&a));

    let mut streaming = api
        .watch(&format!(
            "{CONFIGMAPS}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
        ))
        .await;
    let added = streaming.next().await.expect("initial ADDED");
    assert_eq!(summary(&added), pair("ADDED", "a"));
    let end = streaming.next().await.expect("end bookmark");
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(rv(&end["object"]), server.state().current_rv());

    let (code, invalid) = api
        .get(&format!("{CONFIGMAPS}?watch=1&sendInitialEvents=true"))
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{invalid}");

    let mut short = api
        .watch(&format!(
            "{CONFIGMAPS}?watch=1&timeoutSeconds=1&resourceVersion={}",
            rv(&a)
        ))
        .await;
    assert!(
        short.next().await.is_none(),
        "timeoutSeconds ends the stream"
    );
    server.stop().await;
}

#[tokio::test]
async fn selectors_filter_lists_and_watches() {
    let server = ApiServer::start().await;
    let api = Api::new(&server, "tester");
    let (_, a) = api
        .post(
            CONFIGMAPS,
            &configmap("a", json!({"app": "web", "tier": "front"})),
        )
        .await;
    api.post(CONFIGMAPS, &configmap("b", json!({"app": "db"})))
        .await;
    api.post(CONFIGMAPS, &configmap("c", json!({}))).await;

    let names = |list: &Value| -> Vec<String> {
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| {
                i["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    };
    for (selector, expected) in [
        ("app%3Dweb", vec!["a"]),
        ("app!%3Dweb", vec!["b", "c"]),
        ("app+in+(web,db)", vec!["a", "b"]),
        ("app+notin+(web)", vec!["b", "c"]),
        ("tier", vec!["a"]),
        ("!app", vec!["c"]),
    ] {
        let (code, list) = api
            .get(&format!("{CONFIGMAPS}?labelSelector={selector}"))
            .await;
        assert_eq!(code, StatusCode::OK, "{selector}: {list}");
        assert_eq!(names(&list), expected, "{selector}");
    }
    let (_, by_name) = api
        .get(&format!("{CONFIGMAPS}?fieldSelector=metadata.name%3Db"))
        .await;
    assert_eq!(names(&by_name), ["b"]);
    let (code, unsupported) = api
        .get(&format!("{CONFIGMAPS}?fieldSelector=data.k%3Dv"))
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(
        unsupported["message"]
            .as_str()
            .unwrap_or_default()
            .contains("is not a known field selector"),
        "{unsupported}"
    );

    let mut watch = api
        .watch(&format!(
            "{CONFIGMAPS}?watch=1&labelSelector=app%3Dweb&resourceVersion={}",
            rv(&a)
        ))
        .await;
    let mut relabelled = a.clone();
    relabelled["metadata"]["labels"] = json!({"app": "other"});
    relabelled["metadata"]["resourceVersion"] = json!("");
    api.put(&format!("{CONFIGMAPS}/a"), &relabelled).await;
    let (_, c) = api.get(&format!("{CONFIGMAPS}/c")).await;
    let mut joining = c;
    joining["metadata"]["labels"] = json!({"app": "web"});
    api.put(&format!("{CONFIGMAPS}/c"), &joining).await;
    assert_eq!(
        summary(&watch.next_change().await.expect("a left")),
        pair("DELETED", "a")
    );
    assert_eq!(
        summary(&watch.next_change().await.expect("c joined")),
        pair("ADDED", "c")
    );
    server.stop().await;
}

#[tokio::test]
async fn the_status_subresource_is_isolated() {
    let server = ApiServer::start().await;
    let api = Api::new(&server, "tester");
    let (_, created) = api.post(INGRESSES, &ingress("web", "svc")).await;
    let path = format!("{INGRESSES}/web");

    // Main resource: status is ignored, a spec change bumps generation.
    let mut main = created.clone();
    main["status"] = json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}});
    main["spec"]["rules"][0]["host"] = json!("b.example.com");
    let (code, after_main) = api.put(&path, &main).await;
    assert_eq!(code, StatusCode::OK, "{after_main}");
    assert_eq!(after_main["status"], json!({"loadBalancer": {}}));
    assert_eq!(after_main["spec"]["rules"][0]["host"], "b.example.com");
    assert_eq!(after_main["metadata"]["generation"], 2);

    // Status subresource: spec is ignored, generation stays.
    let mut status = after_main.clone();
    status["status"] = json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}});
    status["spec"]["rules"][0]["host"] = json!("c.example.com");
    let (code, after_status) = api.put(&format!("{path}/status"), &status).await;
    assert_eq!(code, StatusCode::OK, "{after_status}");
    assert_eq!(
        after_status["status"]["loadBalancer"]["ingress"][0]["ip"],
        "192.0.2.1"
    );
    assert_eq!(after_status["spec"]["rules"][0]["host"], "b.example.com");
    assert_eq!(after_status["metadata"]["generation"], 2);

    // A label change is metadata only: no generation bump.
    let mut labelled = after_status.clone();
    labelled["metadata"]["labels"]["extra"] = json!("1");
    let (_, after_label) = api.put(&path, &labelled).await;
    assert_eq!(after_label["metadata"]["generation"], 2);

    let (code, by_patch) = api
        .patch(
            &format!("{path}/status"),
            "application/merge-patch+json",
            &json!({"status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}}, "spec": null}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{by_patch}");
    assert_eq!(
        by_patch["status"]["loadBalancer"]["ingress"][0]["hostname"],
        "lb.example.com"
    );
    assert_eq!(by_patch["spec"]["rules"][0]["host"], "b.example.com");

    let (code, _) = api
        .get("/api/v1/namespaces/default/configmaps/x/status")
        .await;
    assert_eq!(
        code,
        StatusCode::NOT_FOUND,
        "ConfigMaps have no status subresource"
    );
    server.stop().await;
}

#[tokio::test]
async fn merge_json_and_apply_patches() {
    let server = ApiServer::start().await;
    let api = Api::new(&server, "tester");
    api.post(CONFIGMAPS, &configmap("c", json!({"a": "1"})))
        .await;
    let path = format!("{CONFIGMAPS}/c");

    let (code, merged) = api
        .patch(
            &path,
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"b": "2"}}, "data": {"k": null, "n": "new"}}),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{merged}");
    assert_eq!(merged["metadata"]["labels"], json!({"a": "1", "b": "2"}));
    assert_eq!(merged["data"], json!({"n": "new"}));

    let (code, patched) = api
        .patch(
            &path,
            "application/json-patch+json",
            &json!([{"op": "test", "path": "/data/n", "value": "new"}, {"op": "add", "path": "/data/m", "value": "x"}]),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{patched}");
    assert_eq!(patched["data"], json!({"n": "new", "m": "x"}));

    let (code, failed) = api
        .patch(
            &path,
            "application/json-patch+json",
            &json!([{"op": "test", "path": "/data/n", "value": "old"}]),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{failed}");

    let (code, stale) = api
        .patch(
            &path,
            "application/merge-patch+json",
            &json!({"metadata": {"resourceVersion": "1"}, "data": {"z": "z"}}),
        )
        .await;
    assert_eq!(
        (code, stale["reason"].clone()),
        (StatusCode::CONFLICT, json!("Conflict"))
    );

    let (code, wrong) = api.patch(&path, "application/json", &json!({})).await;
    assert_eq!(code, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{wrong}");

    let apply = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"x": "1"}});
    let applied_path = format!("{CONFIGMAPS}/applied");
    let (code, no_manager) = api
        .patch(&applied_path, "application/apply-patch+yaml", &apply)
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{no_manager}");
    let (code, created) = api
        .patch(
            &format!("{applied_path}?fieldManager=test"),
            "application/apply-patch+yaml",
            &apply,
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let (code, dry) = api
        .patch(
            &format!("{applied_path}?fieldManager=test&dryRun=All"),
            "application/merge-patch+json",
            &json!({"data": {"x": "2"}}),
        )
        .await;
    assert_eq!(
        (code, dry["data"]["x"].clone()),
        (StatusCode::OK, json!("2"))
    );
    assert_eq!(
        api.get(&applied_path).await.1["data"]["x"],
        "1",
        "dry run does not persist"
    );
    server.stop().await;
}

#[tokio::test]
async fn discovery_documents_parse() {
    let server = ApiServer::start().await;
    let api = Api::new(&server, "tester");
    let (_, version) = api.get("/version").await;
    assert_eq!(version["major"], "1");
    let (_, core) = api.get("/api").await;
    assert_eq!(core["versions"], json!(["v1"]));
    let (_, groups) = api.get("/apis").await;
    let group_names: Vec<&str> = groups["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    for group in [
        "networking.k8s.io",
        "discovery.k8s.io",
        "coordination.k8s.io",
        "events.k8s.io",
        "rbac.authorization.k8s.io",
        "apps",
        "policy",
    ] {
        assert!(group_names.contains(&group), "{group} in {group_names:?}");
    }
    let (_, v1) = api.get("/api/v1").await;
    let resources = v1["resources"].as_array().expect("resources");
    let services = resources
        .iter()
        .find(|r| r["name"] == "services")
        .expect("services");
    assert_eq!(services["shortNames"], json!(["svc"]));
    assert!(resources.iter().any(|r| r["name"] == "services/status"));
    let (_, leases) = api.get("/apis/coordination.k8s.io/v1").await;
    assert_eq!(leases["resources"][0]["kind"], "Lease");
    let (code, _) = api.get("/openapi/v2").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn events_are_shared_between_both_apis() {
    let server = ApiServer::start().await;
    let api = Api::new(&server, "tester");
    let event = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": "web.1", "namespace": "default"},
        "eventTime": "2025-01-01T00:00:00.000000Z", "type": "Warning", "reason": "BadBackend",
        "action": "Translate", "note": "service missing", "reportingController": "wicket.dev/controller",
        "reportingInstance": "wicket-0", "regarding": {"kind": "Ingress", "namespace": "default", "name": "web"}});
    let (code, created) = api
        .post("/apis/events.k8s.io/v1/namespaces/default/events", &event)
        .await;
    assert_eq!(code, StatusCode::CREATED, "{created}");
    let (_, core) = api.get("/api/v1/namespaces/default/events/web.1").await;
    assert_eq!(core["message"], "service missing");
    assert_eq!(core["involvedObject"]["name"], "web");
    let (_, filtered) = api
        .get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dweb,reason%3DBadBackend")
        .await;
    assert_eq!(filtered["items"].as_array().map(Vec::len), Some(1));
    let (code, immutable) = api
        .patch(
            "/apis/events.k8s.io/v1/namespaces/default/events/web.1",
            "application/merge-patch+json",
            &json!({"note": "changed"}),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{immutable}");
    server.stop().await;
}

#[tokio::test]
async fn writes_record_the_user_and_restarts_keep_state() {
    let server = ApiServer::start().await;
    let alice = Api::new(&server, "replica-a");
    let bob = Api::new(&server, "replica-b");
    alice.post(INGRESSES, &ingress("web", "svc")).await;
    let (_, current) = bob.get(&format!("{INGRESSES}/web")).await;
    let mut status = current;
    status["status"] = json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.9"}]}});
    let (code, _) = bob.put(&format!("{INGRESSES}/web/status"), &status).await;
    assert_eq!(code, StatusCode::OK);
    let writes = server.writes();
    let status_writers: Vec<&str> = writes
        .iter()
        .filter(|w| w.path.ends_with("/status"))
        .map(|w| w.user.as_str())
        .collect();
    assert_eq!(status_writers, ["replica-b"]);
    assert_eq!(
        writes.first().map(|w| (w.method.as_str(), w.code)),
        Some(("POST", 201))
    );

    let mut watch = alice
        .watch(&format!(
            "{INGRESSES}?watch=1&resourceVersion={}",
            server.state().current_rv()
        ))
        .await;
    let addr = server.addr();
    let state = server.stop().await;
    assert!(watch.next().await.is_none(), "stop ends open watches");
    let restarted = ApiServer::start_on(addr, Some(state))
        .await
        .expect("rebind the same port");
    let (code, kept) = Api::new(&restarted, "replica-a")
        .get(&format!("{INGRESSES}/web"))
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(
        kept["status"]["loadBalancer"]["ingress"][0]["ip"],
        "192.0.2.9"
    );
    let fresh = ApiServer::start().await;
    assert!(
        fresh.state().current_rv() > restarted.state().current_rv(),
        "a fresh store starts above every resourceVersion issued before"
    );
    fresh.stop().await;
    restarted.stop().await;
}

#[tokio::test]
async fn in_process_writes_produce_watch_events() {
    let server = ApiServer::start().await;
    let api = Api::new(&server, "tester");
    let services = "/api/v1/namespaces/default/services";
    let mut watch = api
        .watch(&format!(
            "{services}?watch=1&resourceVersion={}",
            server.state().current_rv()
        ))
        .await;
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb", "namespace": "default"},
        "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}]}});
    let created = server.create(svc.clone()).expect("create");
    assert!(
        created["spec"]["clusterIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10."))
    );
    server
        .update_status(
            "v1",
            "Service",
            "default",
            "lb",
            json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}),
        )
        .expect("status");
    let reapplied = server.apply(svc).expect("apply");
    assert_eq!(reapplied["metadata"]["uid"], created["metadata"]["uid"]);
    assert_eq!(reapplied["spec"]["clusterIP"], created["spec"]["clusterIP"]);
    server
        .delete("v1", "Service", "default", "lb")
        .expect("delete");
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(summary(&watch.next_change().await.expect("event")));
    }
    assert_eq!(
        seen,
        [
            pair("ADDED", "lb"),
            pair("MODIFIED", "lb"),
            pair("DELETED", "lb")
        ]
    );
    assert!(server.get("v1", "Service", "default", "lb").is_none());
    assert!(server.list("v1", "Namespace").len() >= 4);
    server.stop().await;
}

fn kubectl(args: &[&str]) -> std::process::Output {
    match Command::new("kubectl").args(args).output() {
        Ok(output) => output,
        Err(e) => {
            panic!("kubectl could not be run ({e}); install kubectl v1.32 (`.ci/run` installs it)")
        }
    }
}

#[tokio::test]
async fn kubectl_gets_and_dry_run_applies() {
    let server = ApiServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = server.kubeconfig(dir.path(), "kubectl-user");
    let cache = dir.path().join("cache");
    server.create(ingress("web", "svc")).expect("ingress");
    let config = config.to_string_lossy().into_owned();
    let cache = cache.to_string_lossy().into_owned();
    let base = [
        "--kubeconfig",
        config.as_str(),
        "--cache-dir",
        cache.as_str(),
        "--request-timeout",
        "10s",
    ];

    let output = tokio::task::spawn_blocking({
        let args: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
        move || {
            let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
            all.extend(["get", "ingresses", "-A", "-o", "json"]);
            kubectl(&all)
        }
    })
    .await
    .expect("kubectl ran");
    assert!(
        output.status.success(),
        "kubectl get failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let list: Value = serde_json::from_slice(&output.stdout).expect("kubectl printed JSON");
    assert_eq!(list["items"][0]["metadata"]["name"], "web");
    assert_eq!(list["items"][0]["kind"], "Ingress");

    let manifest = dir.path().join("app.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: wicket\n---\n\
         apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: wicket\n  namespace: wicket\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: wicket\nrules: []\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: wicket\n  namespace: wicket\nspec:\n  selector:\n    matchLabels: {app: wicket}\n  template:\n    metadata:\n      labels: {app: wicket}\n    spec:\n      containers: [{name: wicket, image: wicket}]\n---\n\
         apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: wicket\n  namespace: wicket\nspec:\n  maxUnavailable: 1\n---\n\
         apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  namespace: default\nspec:\n  defaultBackend:\n    service: {name: svc, port: {number: 80}}\n",
    )
    .expect("manifest");
    let manifest = manifest.to_string_lossy().into_owned();
    let output = tokio::task::spawn_blocking({
        let args: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
        move || {
            let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
            all.extend([
                "apply",
                "--dry-run=client",
                "--validate=false",
                "-f",
                manifest.as_str(),
            ]);
            kubectl(&all)
        }
    })
    .await
    .expect("kubectl ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "kubectl apply failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("namespace/wicket created (dry run)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("deployment.apps/wicket created (dry run)"),
        "{stdout}"
    );
    assert!(stdout.contains("ingress.networking.k8s.io/web"), "{stdout}");
    assert!(
        server.writes().is_empty(),
        "a client-side dry run writes nothing"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_kube_rs_watcher_follows_changes_and_recovers_from_expiry() {
    use futures_util::StreamExt;
    use k8s_openapi::api::networking::v1::Ingress;
    use kube::runtime::watcher;

    let server = ApiServer::start().await;
    server.set_bookmark_interval(Duration::from_millis(100));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = server.kubeconfig(dir.path(), "kube-rs");
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).expect("kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    server.create(ingress("first", "svc")).expect("first");

    let api: kube::Api<Ingress> = kube::Api::all(client.clone());
    let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
    assert_eq!(next_name(&mut stream).await, pair("init", "first"));
    server.create(ingress("second", "svc")).expect("second");
    assert_eq!(next_name(&mut stream).await, pair("apply", "second"));

    // History lost and the watch dropped: the watcher gets 410 on re-watch, relists, carries on.
    server.compact();
    server.drop_watches();
    server.create(ingress("third", "svc")).expect("third");
    let mut relisted = Vec::new();
    while !relisted.contains(&pair("init", "third")) && !relisted.contains(&pair("apply", "third"))
    {
        relisted.push(next_name(&mut stream).await);
    }
    server
        .delete("networking.k8s.io/v1", "Ingress", "default", "first")
        .expect("delete");
    assert_eq!(next_name(&mut stream).await, pair("delete", "first"));
    server.stop().await;
}

/// The next object event from a kube-rs watcher as (kind of event, name).
async fn next_name(
    stream: &mut futures_util::stream::BoxStream<
        'static,
        Result<
            kube::runtime::watcher::Event<k8s_openapi::api::networking::v1::Ingress>,
            kube::runtime::watcher::Error,
        >,
    >,
) -> (String, String) {
    use futures_util::StreamExt;
    use kube::runtime::watcher::Event;
    loop {
        let event = timeout(DEADLINE, stream.next())
            .await
            .expect("a watcher event within the deadline")
            .expect("the watcher stream goes on")
            .expect("no watcher error");
        let (kind, ingress) = match event {
            Event::InitApply(i) => ("init", i),
            Event::Apply(i) => ("apply", i),
            Event::Delete(i) => ("delete", i),
            Event::Init | Event::InitDone => continue,
        };
        return (kind.to_owned(), ingress.metadata.name.unwrap_or_default());
    }
}
