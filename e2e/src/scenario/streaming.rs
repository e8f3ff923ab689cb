//! Large bodies stream through the proxy in both directions without being buffered.

use http::{Method, StatusCode};

use crate::client::{RepeatBody, bounded, count_body_bytes, empty, request};
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::manifest::{Ingress, PathType, Rule};
use crate::testbed::Testbed;

/// Size of each direction's body.
pub const BODY_BYTES: u64 = 100 * 1024 * 1024;

/// Upper bound on wicket's peak resident memory across the whole scenario.
pub const PEAK_RSS_LIMIT: u64 = 64 * 1024 * 1024;

const TRANSFER: std::time::Duration = std::time::Duration::from_secs(120);

/// 100 MiB up (generated on the fly) and 100 MiB down (counted as it streams), with
/// wicket's peak RSS staying under [`PEAK_RSS_LIMIT`].
pub async fn large_bodies<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let echoes = tb.backends(&["bulk"]).await?;
    tb.apply_echo_services("backends", &echoes).await?;
    let ingress =
        Ingress::new("bulk").rule(Rule::host("bulk.example").path("/", PathType::Prefix, "bulk"));
    tb.cluster.apply("ingress", &ingress.to_yaml()).await?;
    tb.wait_for_backend("bulk.example", "/", "bulk").await?;
    let proxy = tb.proxy();

    let upload = request(Method::POST, proxy, "bulk.example", "/upload")
        .body(RepeatBody::new(BODY_BYTES).boxed());
    let reply = tb.client.fetch(upload, TRANSFER).await?;
    assert_eq!(reply.status, StatusCode::OK, "upload: {}", reply.describe());
    let seen = reply.echo()?;
    assert_eq!(
        (seen.name.as_str(), seen.body_bytes),
        ("bulk", BODY_BYTES),
        "bytes the backend received"
    );

    let download = request(
        Method::GET,
        proxy,
        "bulk.example",
        &format!("/download?echo-bytes={BODY_BYTES}"),
    )
    .body(empty())
    .map_err(|e| Error::client("building the download request", e))?;
    let received = bounded(TRANSFER, "a 100 MiB download through the proxy", async {
        let response = tb.client.send(download).await?;
        assert_eq!(response.status(), StatusCode::OK, "download status");
        count_body_bytes(response).await
    })
    .await?;
    assert_eq!(received, BODY_BYTES, "bytes received by the client");

    let peak = tb.wicket.peak_rss_bytes()?;
    assert!(
        peak < PEAK_RSS_LIMIT,
        "wicket peak RSS {} KiB ≥ {} KiB",
        peak / 1024,
        PEAK_RSS_LIMIT / 1024
    );
    Ok(())
}
