//! Host and path routing across several Ingresses, default backends, and a real `curl`.

use http::StatusCode;

use crate::cluster::Cluster;
use crate::curl::curl_get;
use crate::error::Result;
use crate::manifest::{Ingress, PathType, Rule};
use crate::scenario::split_query;
use crate::testbed::Testbed;

/// Two hosts (Prefix and Exact paths), a host-less rule, precedence between them, and 404
/// for everything unmatched.
pub async fn host_and_path<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let echoes = tb.backends(&["app", "exact", "site-b", "hostless"]).await?;
    tb.apply_echo_services("backends", &echoes).await?;
    let a = Ingress::new("site-a").rule(
        Rule::host("a.example")
            .path("/app", PathType::Prefix, "app")
            .path("/exact", PathType::Exact, "exact"),
    );
    let b =
        Ingress::new("site-b").rule(Rule::host("b.example").path("/", PathType::Prefix, "site-b"));
    let any = Ingress::new("hostless").rule(Rule::any_host().path(
        "/anyhost",
        PathType::Prefix,
        "hostless",
    ));
    tb.cluster.apply("ingress-a", &a.to_yaml()).await?;
    tb.cluster.apply("ingress-b", &b.to_yaml()).await?;
    tb.cluster.apply("ingress-hostless", &any.to_yaml()).await?;
    tb.wait_for_backend("a.example", "/app", "app").await?;
    tb.wait_for_backend("b.example", "/", "site-b").await?;
    tb.wait_for_backend("c.example", "/anyhost", "hostless")
        .await?;

    let cases: &[(&str, &str, Option<&str>)] = &[
        ("a.example", "/app", Some("app")),
        ("a.example", "/app/", Some("app")),
        ("a.example", "/app/deep/er", Some("app")),
        ("a.example", "/app?x=1&y=2", Some("app")),
        ("A.Example:8080", "/app", Some("app")),
        ("a.example", "/apple", None),
        ("a.example", "/", None),
        ("a.example", "/exact", Some("exact")),
        ("a.example", "/exact/", None),
        ("a.example", "/exact/sub", None),
        ("a.example", "/EXACT", None),
        ("b.example", "/", Some("site-b")),
        ("b.example", "/app", Some("site-b")),
        ("b.example", "/any/thing?q", Some("site-b")),
        ("c.example", "/anyhost", Some("hostless")),
        ("c.example", "/anyhost/x", Some("hostless")),
        ("127.0.0.1", "/anyhost", Some("hostless")),
        ("c.example", "/anyhostile", None),
        ("c.example", "/", None),
        // A host with its own rules never falls through to host-less rules.
        ("a.example", "/anyhost", None),
        ("b.example.org", "/app", None),
    ];
    for &(host, target, expected) in cases {
        let reply = tb.get(host, target).await?;
        match expected {
            Some(name) => {
                assert_eq!(
                    reply.backend(),
                    Ok(name.to_owned()),
                    "Host: {host}, {target}"
                );
                let echo = reply.echo()?;
                let (path, query) = split_query(target);
                assert_eq!(
                    echo.path, path,
                    "path sent upstream for Host: {host}, {target}"
                );
                assert_eq!(
                    echo.query.as_deref(),
                    query,
                    "query sent upstream for {target}"
                );
                assert_eq!(echo.method, "GET");
            }
            None => {
                assert_eq!(
                    reply.status,
                    StatusCode::NOT_FOUND,
                    "Host: {host}, {target}: {}",
                    reply.describe()
                );
                let content_type = reply.content_type().unwrap_or_default();
                assert!(
                    content_type.starts_with("text/plain"),
                    "404 content type {content_type:?}"
                );
            }
        }
    }
    Ok(())
}

/// A `defaultBackend` beside rules serves that Ingress's hosts' unmatched paths; an
/// Ingress with only a `defaultBackend` serves every other unmatched request.
pub async fn default_backends<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let echoes = tb.backends(&["app", "site-default", "fallback"]).await?;
    tb.apply_echo_services("backends", &echoes).await?;
    let site = Ingress::new("site")
        .default_backend("site-default")
        .rule(Rule::host("a.example").path("/app", PathType::Prefix, "app"));
    tb.cluster.apply("ingress-site", &site.to_yaml()).await?;
    tb.wait_for_backend("a.example", "/app", "app").await?;
    tb.wait_for_backend("a.example", "/elsewhere", "site-default")
        .await?;
    let unmatched = tb.get("b.example", "/").await?;
    assert_eq!(
        unmatched.status,
        StatusCode::NOT_FOUND,
        "before a catch-all: {}",
        unmatched.describe()
    );

    let catch_all = Ingress::new("catch-all").default_backend("fallback");
    tb.cluster
        .apply("ingress-catch-all", &catch_all.to_yaml())
        .await?;
    tb.wait_for_backend("b.example", "/", "fallback").await?;
    let cases: &[(&str, &str, &str)] = &[
        ("a.example", "/app/x", "app"),
        ("a.example", "/elsewhere", "site-default"),
        ("b.example", "/some/path?q=1", "fallback"),
        ("127.0.0.1", "/", "fallback"),
    ];
    for &(host, target, name) in cases {
        let reply = tb.get(host, target).await?;
        assert_eq!(
            reply.backend(),
            Ok(name.to_owned()),
            "Host: {host}, {target}"
        );
        assert_eq!(
            reply.echo()?.path,
            split_query(target).0,
            "path sent upstream for {target}"
        );
    }

    tb.cluster.delete("ingress-catch-all").await?;
    tb.wait_for_status("b.example", "/", StatusCode::NOT_FOUND)
        .await?;
    Ok(())
}

/// A real client: `curl -H 'Host: …'` reaches the right backend and sees 404 elsewhere.
pub async fn curl_with_host_header<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let echoes = tb.backends(&["curl-target"]).await?;
    tb.apply_echo_services("backends", &echoes).await?;
    let ingress = Ingress::new("curl").rule(Rule::host("app.example.com").path(
        "/",
        PathType::Prefix,
        "curl-target",
    ));
    tb.cluster.apply("ingress", &ingress.to_yaml()).await?;
    tb.wait_for_backend("app.example.com", "/", "curl-target")
        .await?;

    let reply = curl_get(tb.proxy(), "app.example.com", "/path?from=curl").await?;
    assert_eq!(reply.status, 200, "curl body: {}", reply.body);
    let echo: crate::echo::EchoReply =
        serde_json::from_str(&reply.body).map_err(|e| crate::Error::Unexpected {
            what: format!("curl body is not an echo answer: {e}"),
            detail: reply.body.clone(),
        })?;
    assert_eq!(echo.name, "curl-target");
    assert_eq!(echo.host.as_deref(), Some("app.example.com"));
    assert_eq!(echo.path, "/path");
    assert_eq!(echo.query.as_deref(), Some("from=curl"));
    assert!(
        echo.header("user-agent")
            .iter()
            .any(|ua| ua.starts_with("curl/")),
        "{:?}",
        echo.headers
    );

    let miss = curl_get(tb.proxy(), "other.example.com", "/").await?;
    assert_eq!(miss.status, 404, "curl body: {}", miss.body);
    Ok(())
}
