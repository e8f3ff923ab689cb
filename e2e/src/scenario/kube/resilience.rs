//! The API server going away: traffic keeps flowing on the last table, and changes made
//! once it is back (after a restart, or after its watches were dropped) are served.

use std::time::Duration;

use super::{Traffic, assert_all_served_by, double, ingress, serve_backend};
use crate::cluster::Cluster;
use crate::error::Result;
use crate::logs::wait_for_log;
use crate::manifest::CLASS;
use crate::testbed::Testbed;
use crate::wait::{CONVERGE, poll_until};

/// Requests that must succeed while the API server is down.
const DURING_OUTAGE: usize = 50;

/// How long a change may take after the API server returns: the reflectors retry with an
/// exponential backoff that grew during the outage.
const AFTER_RESTART: Duration = Duration::from_secs(60);

/// Stops the API server while a client sends requests, waits until wicket has noticed (a
/// failed watch) and more requests were served, restarts it on the same address with the
/// same store, then applies a new Ingress: it is served, and no request failed throughout.
pub async fn api_restart() -> Result<()> {
    let tb = Testbed::kubernetes().await?;
    let api = double(&tb.cluster)?;
    let _backends = serve_backend(&tb, "steady").await?;
    let before = ingress("before", Some(CLASS), "steady");
    tb.cluster.apply("before", &before.to_yaml()).await?;
    tb.wait_for_backend("before.example", "/", "steady").await?;

    let traffic = Traffic::start(tb.proxy(), "before.example");
    traffic.wait_for(0, 20, "traffic before the outage").await?;
    let failed_watch = |line: &str| line.contains("watch failed, retrying with backoff");
    assert_eq!(
        tb.wicket.logs().find(failed_watch),
        None,
        "a watch failed early"
    );
    api.stop().await?;
    let stopped_at = traffic.count().await;
    wait_for_log(
        tb.wicket.logs(),
        CONVERGE,
        "wicket to notice the API server is gone",
        failed_watch,
    )
    .await?;
    traffic
        .wait_for(stopped_at, DURING_OUTAGE, "traffic during the outage")
        .await?;
    api.restart().await?;

    let after = ingress("after", Some(CLASS), "steady");
    tb.cluster.apply("after", &after.to_yaml()).await?;
    poll_until(
        AFTER_RESTART,
        "a change made after the restart to be served",
        async || {
            let reply = tb
                .get("after.example", "/")
                .await
                .map_err(|e| e.to_string())?;
            reply.backend()
        },
    )
    .await?;
    let outcomes = traffic.stop().await;
    assert_all_served_by(&outcomes, "steady");
    assert!(
        outcomes.len() >= stopped_at + DURING_OUTAGE,
        "{} requests in all",
        outcomes.len()
    );
    Ok(())
}

/// Every watch stream is ended by the server; a change made afterwards is served, and
/// traffic never fails.
pub async fn dropped_watches() -> Result<()> {
    let tb = Testbed::kubernetes().await?;
    let api = double(&tb.cluster)?;
    let _backends = serve_backend(&tb, "rewatch").await?;
    let before = ingress("before", Some(CLASS), "rewatch");
    tb.cluster.apply("before", &before.to_yaml()).await?;
    tb.wait_for_backend("before.example", "/", "rewatch")
        .await?;

    let traffic = Traffic::start(tb.proxy(), "before.example");
    traffic
        .wait_for(0, 20, "traffic before the watches drop")
        .await?;
    for round in 0..2 {
        api.drop_watches()?;
        let name = format!("after-{round}");
        let after = ingress(&name, Some(CLASS), "rewatch");
        tb.cluster.apply(&name, &after.to_yaml()).await?;
        tb.wait_for_backend(&format!("{name}.example"), "/", "rewatch")
            .await?;
    }
    let count = traffic.count().await;
    traffic
        .wait_for(count, 20, "traffic after the watches came back")
        .await?;
    let outcomes = traffic.stop().await;
    assert_all_served_by(&outcomes, "rewatch");
    Ok(())
}
