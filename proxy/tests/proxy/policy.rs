//! Per-route policy: `rewrite-target` and `app-root`.

use http::StatusCode;
use proxy::table::{PathKind, Policy, RouteTable};

use crate::support::*;

fn rewrite_table(app: std::net::SocketAddr) -> RouteTable {
    let mut rewritten = route(
        "/api(/|$)(.*)",
        PathKind::ImplementationSpecific,
        backend("default-app-80", &[app]),
    );
    rewritten.policy = Policy {
        rewrite_target: Some("/v2/$2".into()),
        app_root: None,
        ..Policy::default()
    };
    let mut host = vhost("a.example", vec![rewritten]);
    host.regex_mode = true;
    table(vec![host])
}

#[tokio::test]
async fn rewrite_target_replaces_the_path_and_keeps_the_query() {
    let app = EchoBackend::start("app").await;
    let proxy = Proxy::start(rewrite_table(app.addr)).await;
    let seen = get(proxy.addr, "a.example", "/api/users/7?expand=1")
        .await
        .seen();
    assert_eq!(seen.uri, "/v2/users/7?expand=1");
    let seen = get(proxy.addr, "a.example", "/API").await.seen();
    assert_eq!(seen.uri, "/v2/", "case-insensitive match, empty capture");
    proxy.stop().await;
}

#[tokio::test]
async fn app_root_redirects_only_the_root() {
    let app = EchoBackend::start("app").await;
    let mut root = route(
        "/",
        PathKind::Prefix,
        backend("default-app-80", &[app.addr]),
    );
    root.policy.app_root = Some("/app1".into());
    let proxy = Proxy::start(table(vec![vhost("a.example", vec![root])])).await;

    let reply = get(proxy.addr, "a.example:8080", "/?q=1").await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_eq!(reply.headers["location"], "http://a.example:8080/app1");
    assert!(reply.headers.contains_key("x-request-id"));

    let seen = get(proxy.addr, "a.example", "/app1/index.html")
        .await
        .seen();
    assert_eq!(seen.uri, "/app1/index.html");
    assert_eq!(app.request_count(), 1);
    proxy.stop().await;
}
