//! Plain HTTP on hosts with TLS moves to HTTPS with 308 (not the ACME challenge path);
//! HSTS is sent on HTTPS only; the upstream learns the request came over TLS.

use proxy::table::{Fallback, Hsts, PathKind, Policy, Source};

use crate::harness::*;
use crate::pki::Ca;
use crate::support::*;

async fn start() -> (Proxies, EchoBackend) {
    let echo = EchoBackend::start("echo").await;
    let ca = Ca::new("test CA");
    let leaf = ca.leaf(&["secure.example"]);
    let mut secure = route(
        "/",
        PathKind::Prefix,
        backend("default-echo-80", &[echo.addr]),
    );
    secure.policy.https_redirect = true;
    secure.policy.hsts = Some(Hsts::default());
    let mut preload = route(
        "/preload",
        PathKind::Prefix,
        backend("default-echo-80", &[echo.addr]),
    );
    preload.policy.hsts = Some(Hsts {
        max_age_seconds: 60,
        include_subdomains: false,
        preload: true,
    });
    let plain = route(
        "/",
        PathKind::Prefix,
        backend("default-echo-80", &[echo.addr]),
    );
    let mut table = table(vec![
        vhost("secure.example", vec![secure, preload]),
        vhost("plain.example", vec![plain]),
    ]);
    table.tls = vec![binding(&["secure.example"], certificate("secure", &leaf))];
    (Proxies::start(table).await, echo)
}

#[tokio::test]
async fn plain_http_is_redirected_with_308_except_acme_challenges() {
    let (proxies, echo) = start().await;
    let reply = get(proxies.http, "secure.example:8080", "/a/b?x=1&y=2").await;
    assert_eq!(reply.status, 308);
    assert_eq!(
        reply.headers["location"],
        "https://secure.example/a/b?x=1&y=2"
    );
    assert!(!reply.headers.contains_key("strict-transport-security"));

    let reply = get(
        proxies.http,
        "secure.example",
        "/.well-known/acme-challenge/token",
    )
    .await;
    assert_eq!(
        reply.status, 200,
        "ACME HTTP-01 challenges are served over HTTP"
    );
    assert_eq!(reply.seen().one("x-forwarded-proto"), Some("http"));
    assert!(
        !reply.headers.contains_key("strict-transport-security"),
        "no HSTS over HTTP"
    );

    let reply = get(proxies.http, "plain.example", "/a").await;
    assert_eq!(
        reply.status, 200,
        "hosts without the policy are not redirected"
    );
    assert_eq!(echo.request_count(), 2);

    let reply = https_get(proxies.https, "secure.example", "/a").await;
    assert_eq!(reply.status, 200, "no redirect over HTTPS");
    proxies.stop().await;
}

#[tokio::test]
async fn redirects_name_the_https_port_when_it_is_not_443() {
    let (proxies, _backend) = start().await;
    let config = proxy::config::ProxyConfig {
        https_port_for_redirects: Some(8443),
        ..Default::default()
    };
    let other = Proxies::start_with(proxies.handle.load().table.clone(), config).await;
    let reply = get(other.http, "secure.example", "/p?q").await;
    assert_eq!(reply.status, 308);
    assert_eq!(reply.headers["location"], "https://secure.example:8443/p?q");
    other.stop().await;

    let config = proxy::config::ProxyConfig {
        https_port_for_redirects: Some(443),
        ..Default::default()
    };
    let default_port = Proxies::start_with(proxies.handle.load().table.clone(), config).await;
    let reply = get(default_port.http, "secure.example", "/p").await;
    assert_eq!(reply.headers["location"], "https://secure.example/p");
    default_port.stop().await;
    proxies.stop().await;
}

#[tokio::test]
async fn hsts_on_https_responses_and_forwarded_proto() {
    let (proxies, _backend) = start().await;
    let reply = https_get(proxies.https, "secure.example", "/x").await;
    assert_eq!(
        reply.headers["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    assert_eq!(reply.seen().one("x-forwarded-proto"), Some("https"));

    let reply = https_get(proxies.https, "secure.example", "/preload/x").await;
    assert_eq!(
        reply.headers["strict-transport-security"],
        "max-age=60; preload"
    );

    let reply = https_get(proxies.https, "plain.example", "/x").await;
    assert_eq!(reply.status, 200);
    assert!(!reply.headers.contains_key("strict-transport-security"));
    assert_eq!(reply.seen().one("x-forwarded-proto"), Some("https"));
    proxies.stop().await;
}

/// `fallback.example` has TLS, a route `/api` and a default backend beside it, both with
/// the host's HTTPS policy.
async fn start_with_host_default() -> (Proxies, EchoBackend, EchoBackend) {
    let api = EchoBackend::start("api").await;
    let fallback = EchoBackend::start("fallback").await;
    let ca = Ca::new("test CA");
    let leaf = ca.leaf(&["fallback.example"]);
    let policy = Policy {
        https_redirect: true,
        hsts: Some(Hsts::default()),
        ..Policy::default()
    };
    let mut routed = route(
        "/api",
        PathKind::Prefix,
        backend("default-api-80", &[api.addr]),
    );
    routed.policy = policy.clone();
    let mut host = vhost("fallback.example", vec![routed]);
    host.default_backend = Some(Fallback {
        action: backend("default-fallback-80", &[fallback.addr]),
        policy,
        source: Source::default(),
    });
    let mut table = table(vec![host]);
    table.tls = vec![binding(
        &["fallback.example"],
        certificate("fallback", &leaf),
    )];
    (Proxies::start(table).await, api, fallback)
}

#[tokio::test]
async fn a_host_default_backend_follows_the_https_policy_of_its_host() {
    let (proxies, api, fallback) = start_with_host_default().await;
    let reply = get(proxies.http, "fallback.example", "/unmatched?q=1").await;
    assert_eq!(reply.status, 308, "body: {}", reply.text());
    assert_eq!(
        reply.headers["location"],
        "https://fallback.example/unmatched?q=1"
    );

    let reply = get(
        proxies.http,
        "fallback.example",
        "/.well-known/acme-challenge/token",
    )
    .await;
    assert_eq!(
        reply.seen().backend,
        "fallback",
        "ACME challenges are served"
    );
    assert!(!reply.headers.contains_key("strict-transport-security"));

    let reply = https_get(proxies.https, "fallback.example", "/unmatched").await;
    assert_eq!(reply.seen().backend, "fallback");
    assert_eq!(
        reply.headers["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    assert_eq!(fallback.request_count(), 2);
    assert_eq!(api.request_count(), 0);
    proxies.stop().await;
}
