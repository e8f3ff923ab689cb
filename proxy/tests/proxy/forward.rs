//! Routing, header rules, HTTP/2 and upstream failure statuses.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{Empty, Full};
use proxy::config::ProxyConfig;
use proxy::table::{Action, PathKind};

use crate::support::*;

#[tokio::test]
async fn routes_by_host_and_path() {
    let api = EchoBackend::start("api").await;
    let web = EchoBackend::start("web").await;
    let proxy = Proxy::start(table(vec![
        vhost(
            "a.example",
            vec![
                route(
                    "/api",
                    PathKind::Prefix,
                    backend("default-api-80", &[api.addr]),
                ),
                route(
                    "/",
                    PathKind::Prefix,
                    backend("default-web-80", &[web.addr]),
                ),
            ],
        ),
        vhost(
            "b.example",
            vec![route(
                "/",
                PathKind::Prefix,
                backend("default-api-80", &[api.addr]),
            )],
        ),
    ]))
    .await;

    assert_eq!(
        get(proxy.addr, "a.example", "/api/x").await.seen().backend,
        "api"
    );
    assert_eq!(
        get(proxy.addr, "a.example", "/apix").await.seen().backend,
        "web"
    );
    assert_eq!(
        get(proxy.addr, "A.Example:9999", "/").await.seen().backend,
        "web"
    );
    let seen = get(proxy.addr, "b.example", "/q?x=1&y=%2F").await.seen();
    assert_eq!(
        (seen.backend.as_str(), seen.uri.as_str()),
        ("api", "/q?x=1&y=%2F")
    );
    proxy.stop().await;
}

#[tokio::test]
async fn header_rules() {
    let app = EchoBackend::start("app").await;
    let proxy = Proxy::start(single(backend("default-app-80", &[app.addr]))).await;
    let req = Request::get("/p")
        .header("host", "a.example")
        .header("x-forwarded-for", "192.0.2.1")
        .header("x-forwarded-for", "192.0.2.2, 192.0.2.3")
        .header("x-real-ip", "203.0.113.9")
        .header("x-forwarded-proto", "https")
        .header("connection", "x-secret, keep-alive")
        .header("x-secret", "1")
        .header("keep-alive", "timeout=5")
        .header("proxy-connection", "keep-alive")
        .header("te", "trailers")
        .header("x-kept", "yes")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let reply = send(proxy.addr, req).await.expect("send");
    let seen = reply.seen();

    assert_eq!(seen.one("host"), Some("a.example"));
    assert_eq!(
        seen.all("x-forwarded-for"),
        ["192.0.2.1, 192.0.2.2, 192.0.2.3, 127.0.0.1"]
    );
    assert_eq!(seen.one("x-real-ip"), Some("127.0.0.1"));
    assert_eq!(seen.one("x-forwarded-proto"), Some("http"));
    assert_eq!(seen.one("x-forwarded-host"), Some("a.example"));
    let port = proxy.addr.port().to_string();
    assert_eq!(seen.one("x-forwarded-port"), Some(port.as_str()));
    assert_eq!(seen.one("x-kept"), Some("yes"));
    for hop in [
        "connection",
        "x-secret",
        "keep-alive",
        "proxy-connection",
        "te",
        "upgrade",
    ] {
        assert_eq!(
            seen.all(hop),
            Vec::<&str>::new(),
            "{hop} reached the backend"
        );
    }
    assert_eq!(seen.version, "HTTP/1.1");

    let id = seen
        .one("x-request-id")
        .expect("x-request-id sent upstream");
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(reply.headers["x-request-id"], id, "the same ID is returned");
    assert!(
        !reply.headers.contains_key("x-hop"),
        "response hop-by-hop header leaked"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn client_request_id_is_kept_and_returned() {
    let app = EchoBackend::start("app").await;
    let proxy = Proxy::start(single(backend("default-app-80", &[app.addr]))).await;
    let req = Request::get("/")
        .header("host", "a.example")
        .header("x-request-id", "client-id-42")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let reply = send(proxy.addr, req).await.expect("send");
    assert_eq!(reply.seen().one("x-request-id"), Some("client-id-42"));
    assert_eq!(reply.headers["x-request-id"], "client-id-42");
    proxy.stop().await;
}

#[tokio::test]
async fn absolute_form_target_sets_host() {
    let app = EchoBackend::start("app").await;
    let proxy = Proxy::start(single(backend("default-app-80", &[app.addr]))).await;
    let req = Request::get("http://a.example:8080/abs?q=1")
        .header("host", "other.example")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let seen = send(proxy.addr, req).await.expect("send").seen();
    assert_eq!(seen.uri, "/abs?q=1");
    assert_eq!(seen.one("host"), Some("a.example:8080"));
    proxy.stop().await;
}

#[tokio::test]
async fn h2c_prior_knowledge() {
    let app = EchoBackend::start("app").await;
    let proxy = Proxy::start(single(backend("default-app-80", &[app.addr]))).await;
    let req = Request::post("http://a.example/h2?x=1")
        .body(Full::new(Bytes::from_static(b"over h2")))
        .expect("request");
    let reply = send_h2(proxy.addr, req).await.expect("h2 request");
    assert!(reply.headers.contains_key("x-request-id"));
    let seen = reply.seen();
    assert_eq!(seen.version, "HTTP/1.1");
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.uri, "/h2?x=1");
    assert_eq!(seen.one("host"), Some("a.example"));
    assert_eq!(seen.body, "over h2");
    proxy.stop().await;
}

#[tokio::test]
async fn no_route_is_a_plain_text_404() {
    let proxy = Proxy::start(table(vec![])).await;
    let reply = get(proxy.addr, "nowhere.example", "/").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.text(), "404 no route\n");
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/plain")
    );
    assert_eq!(reply.headers["x-request-id"].len(), 32);
    proxy.stop().await;
}

#[tokio::test]
async fn unavailable_and_empty_backends_are_503() {
    let proxy = Proxy::start(table(vec![vhost(
        "a.example",
        vec![
            route(
                "/gone",
                PathKind::Prefix,
                Action::Unavailable {
                    reason: "service default/gone not found".into(),
                },
            ),
            route("/", PathKind::Prefix, backend("default-empty-80", &[])),
        ],
    )]))
    .await;
    for path in ["/gone", "/"] {
        let reply = get(proxy.addr, "a.example", path).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(reply.text(), "503 service unavailable\n");
        assert!(
            !reply.text().contains("not found"),
            "the reason stays in logs"
        );
        assert!(reply.headers.contains_key("x-request-id"));
    }
    proxy.stop().await;
}

#[tokio::test]
async fn dead_endpoint_is_retried_on_a_live_one() {
    let live = EchoBackend::start("live").await;
    let dead = dead_addr().await;
    let proxy = Proxy::start(single(backend("default-app-80", &[dead, live.addr]))).await;
    for _ in 0..4 {
        assert_eq!(
            get(proxy.addr, "a.example", "/").await.seen().backend,
            "live"
        );
    }
    proxy.stop().await;
}

#[tokio::test]
async fn all_endpoints_dead_is_502() {
    let dead = [dead_addr().await, dead_addr().await];
    let proxy = Proxy::start(single(backend("default-app-80", &dead))).await;
    let reply = get(proxy.addr, "a.example", "/").await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(reply.text(), "502 bad gateway\n");
    proxy.stop().await;
}

#[tokio::test]
async fn slow_response_head_is_504() {
    let app = EchoBackend::start("app").await;
    let config = ProxyConfig {
        response_timeout: Duration::from_millis(300),
        ..ProxyConfig::default()
    };
    let proxy = Proxy::start_with(single(backend("default-app-80", &[app.addr])), config).await;
    let req = Request::get("/")
        .header("host", "a.example")
        .header("x-test-mode", "hang")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let reply = send(proxy.addr, req).await.expect("send");
    assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(reply.text(), "504 gateway timeout\n");
    proxy.stop().await;
}

#[tokio::test]
async fn upstream_closing_after_each_response_is_handled() {
    let app = EchoBackend::start("app").await;
    let proxy = Proxy::start(single(backend("default-app-80", &[app.addr]))).await;
    let mut conns = Vec::new();
    for _ in 0..3 {
        let req = Request::get("/")
            .header("host", "a.example")
            .header("x-test-mode", "close")
            .body(Empty::<Bytes>::new())
            .expect("request");
        conns.push(send(proxy.addr, req).await.expect("send").seen().conn);
    }
    conns.dedup();
    assert_eq!(
        conns.len(),
        3,
        "each request needed a new upstream connection"
    );
    proxy.stop().await;
}
