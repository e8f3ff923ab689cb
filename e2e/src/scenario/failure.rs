//! Unhealthy and missing backends: retry past dead endpoints, then 502 and 503.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};

use http::StatusCode;

use crate::cluster::Cluster;
use crate::echo::Echo;
use crate::error::{Error, Result};
use crate::manifest::{Ingress, PathType, Rule, backend_objects, service};
use crate::testbed::Testbed;

/// A loopback address with nothing listening (bound, then released).
pub fn dead_endpoint() -> Result<SocketAddr> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("binding a port to release", e))?;
    listener
        .local_addr()
        .map_err(|e| Error::io("reading a released port", e))
}

/// Dead endpoints among live ones are retried (every request succeeds); all endpoints dead
/// → 502; a Service without endpoints → 503; an unknown Service → 503.
pub async fn dead_and_missing_endpoints<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let live_1 = Echo::start("live-1").await?;
    let live_2 = Echo::start("live-2").await?;
    let mixed = [live_1.addr(), dead_endpoint()?, live_2.addr()];
    let dead = [dead_endpoint()?, dead_endpoint()?];
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
