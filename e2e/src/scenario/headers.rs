//! What the proxy adds to a forwarded request: X-Forwarded-*, X-Real-IP, X-Request-ID,
//! and the client's Host kept.

use http::Method;

use crate::client::{empty, request};
use crate::cluster::Cluster;
use crate::error::Result;
use crate::manifest::{Ingress, PathType, Rule};
use crate::testbed::Testbed;
use crate::wait::REQUEST;

/// Forwarding headers as the backend sees them, and the request id returned to the client.
pub async fn forwarded<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let echoes = tb.backends(&["inspect"]).await?;
    tb.apply_echo_services("backends", &echoes).await?;
    let ingress = Ingress::new("inspect").rule(Rule::host("h.example").path(
        "/",
        PathType::Prefix,
        "inspect",
    ));
    tb.cluster.apply("ingress", &ingress.to_yaml()).await?;
    tb.wait_for_backend("h.example", "/", "inspect").await?;

    let proxy = tb.proxy();
    let plain = tb
        .client
        .fetch(
            request(Method::GET, proxy, "h.example", "/inspect?a=1").body(empty()),
            REQUEST,
        )
        .await?;
    let seen = plain.echo()?;
    assert_eq!(seen.host.as_deref(), Some("h.example"), "Host is kept");
    assert_eq!(seen.header("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(seen.header("x-real-ip"), ["127.0.0.1"]);
    assert_eq!(seen.header("x-forwarded-proto"), ["http"]);
    assert_eq!(seen.header("x-forwarded-host"), ["h.example"]);
    assert_eq!(seen.header("x-forwarded-port"), [proxy.port().to_string()]);
    let [upstream_id] = seen.header("x-request-id") else {
        panic!(
            "expected one X-Request-ID upstream, got {:?}",
            seen.header("x-request-id")
        );
    };
    assert!(!upstream_id.is_empty(), "empty X-Request-ID");
    let returned: Vec<_> = plain
        .headers
        .get_all("x-request-id")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(
        returned,
        [upstream_id.as_str()],
        "X-Request-ID returned to the client"
    );

    let chained = tb
        .client
        .fetch(
            request(Method::GET, proxy, "h.example", "/inspect")
                .header("x-forwarded-for", "203.0.113.7")
                .body(empty()),
            REQUEST,
        )
        .await?;
    let seen = chained.echo()?;
    assert_eq!(
        seen.header("x-forwarded-for"),
        ["203.0.113.7, 127.0.0.1"],
        "client value with the peer appended"
    );
    let [second_id] = seen.header("x-request-id") else {
        panic!(
            "expected one X-Request-ID upstream, got {:?}",
            seen.header("x-request-id")
        );
    };
    assert_ne!(second_id, upstream_id, "each request gets its own id");
    Ok(())
}
