//! Load balancing across the endpoints of one Service.

use std::collections::BTreeMap;

use crate::backend::Upstream;
use crate::cluster::Cluster;
use crate::error::Result;
use crate::manifest::{Ingress, PathType, Rule, backend_objects};
use crate::testbed::Testbed;

/// A Service with three endpoints: 30 sequential requests reach all three.
pub async fn round_robin<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let echoes = tb.backends(&["rr-1", "rr-2", "rr-3"]).await?;
    let addrs: Vec<_> = echoes.iter().map(Upstream::addr).collect();
    tb.apply_objects("backend", &backend_objects("rr", &addrs))
        .await?;
    let ingress =
        Ingress::new("rr").rule(Rule::host("rr.example").path("/", PathType::Prefix, "rr"));
    tb.cluster.apply("ingress", &ingress.to_yaml()).await?;
    tb.wait_for_backend("rr.example", "/", "rr-1").await?;

    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..30 {
        let reply = tb.get("rr.example", &format!("/req/{i}")).await?;
        let name = reply
            .backend()
            .unwrap_or_else(|other| panic!("request {i}: {other}"));
        *seen.entry(name).or_default() += 1;
    }
    let names: Vec<&str> = seen.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["rr-1", "rr-2", "rr-3"],
        "backends seen over 30 requests: {seen:?}"
    );
    Ok(())
}
