//! Unhealthy and missing backends: retry past dead endpoints, then 502 and 503.

use std::collections::BTreeSet;

use http::StatusCode;

use crate::backend::Upstream;
use crate::cluster::Cluster;
use crate::error::Result;
use crate::manifest::{Ingress, PathType, Rule, backend_objects, service};
use crate::testbed::Testbed;

/// Dead endpoints among live ones are retried (every request succeeds); all endpoints dead
/// → 502; a Service without endpoints → 503; an unknown Service → 503.
pub async fn dead_and_missing_endpoints<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let live = tb.backends(&["live-1", "live-2"]).await?;
    let unreachable = [
        tb.dead_backend("dead-1").await?,
        tb.dead_backend("dead-2").await?,
        tb.dead_backend("dead-3").await?,
    ];
    let addr = |backends: &[crate::Backend], i: usize| backends.get(i).map(Upstream::addr);
    let (Some(live_1), Some(live_2)) = (addr(&live, 0), addr(&live, 1)) else {
        panic!("asked for two live backends, got {}", live.len());
    };
    let mixed = [live_1, unreachable[0].addr(), live_2];
    let dead = [unreachable[1].addr(), unreachable[2].addr()];
    let mut objects = backend_objects("mixed", &mixed);
    objects.extend(backend_objects("dead", &dead));
    objects.push(service("empty"));
    tb.apply_objects("backends", &objects).await?;
    let ingress = Ingress::new("failures").rule(
        Rule::host("f.example")
            .path("/mixed", PathType::Prefix, "mixed")
            .path("/dead", PathType::Prefix, "dead")
            .path("/empty", PathType::Prefix, "empty")
            .path("/ghost", PathType::Prefix, "ghost"),
    );
    tb.cluster.apply("ingress", &ingress.to_yaml()).await?;
    tb.wait_for_status("f.example", "/mixed", StatusCode::OK)
        .await?;

    let mut seen = BTreeSet::new();
    for i in 0..30 {
        let reply = tb.get("f.example", &format!("/mixed/{i}")).await?;
        let name = reply
            .backend()
            .unwrap_or_else(|other| panic!("request {i} to /mixed: {other}"));
        seen.insert(name);
    }
    let expected: BTreeSet<String> = ["live-1", "live-2"].map(str::to_owned).into();
    assert_eq!(seen, expected, "live endpoints answering /mixed");

    for (path, status) in [
        ("/dead", StatusCode::BAD_GATEWAY),
        ("/empty", StatusCode::SERVICE_UNAVAILABLE),
        ("/ghost", StatusCode::SERVICE_UNAVAILABLE),
    ] {
        tb.wait_for_status("f.example", path, status).await?;
        for _ in 0..5 {
            let reply = tb.get("f.example", path).await?;
            assert_eq!(reply.status, status, "{path}: {}", reply.describe());
        }
    }
    Ok(())
}
