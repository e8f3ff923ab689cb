//! Two replicas: both serve traffic, exactly one (the Lease holder) writes status, and when
//! it is killed the other takes over within the lease duration.

use std::time::Duration;

use super::{double, ingress, serve_backend, status_writes, wait_status};
use crate::apicluster::{
    Double, ELECTION_ID, ELECTION_NAMESPACE, LEASE_DURATION, Publish, RENEW_PERIOD, STATUS_ADDRESS,
};
use crate::cluster::Cluster;
use crate::error::Result;
use crate::logs::wait_for_log;
use crate::manifest::CLASS;
use crate::testbed::Testbed;
use crate::wait::{CONVERGE, poll_until};
use crate::wicket::Wicket;

/// Slack on top of the lease duration for the follower to notice and to take over: one
/// renew period to observe the expiry, plus a noisy machine.
const TAKEOVER_MARGIN: Duration = Duration::from_secs(5);

/// The Lease's `spec.holderIdentity`.
fn lease_holder(api: &Double) -> Result<Option<String>> {
    let lease = api.get(
        "coordination.k8s.io/v1",
        "Lease",
        ELECTION_NAMESPACE,
        ELECTION_ID,
    )?;
    Ok(lease.and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_owned)))
}

/// Replica a leads (it starts first), replica b follows; only a writes status while both
/// serve. After `kill -9` of a, b holds the Lease within [`LEASE_DURATION`] plus a margin
/// and writes the status of a new Ingress; a crashed replica's writes stop with it.
pub async fn failover() -> Result<()> {
    let mut tb = Testbed::kubernetes().await?;
    let api = double(&tb.cluster)?;
    wait_for_log(tb.wicket.logs(), CONVERGE, "replica-a to lead", |line| {
        line.contains("leader acquired")
    })
    .await?;
    let args_b = tb.cluster.serve_args("replica-b", &Publish::default())?;
    let replica_b = Wicket::start_with(&args_b).await?;
    wait_for_log(replica_b.logs(), CONVERGE, "replica-b to follow", |line| {
        line.contains("following leader")
    })
    .await?;
    assert_eq!(lease_holder(api)?.as_deref(), Some("replica-a"));

    let _backends = serve_backend(&tb, "lead-app").await?;
    let first = ingress("first", Some(CLASS), "lead-app");
    tb.cluster.apply("first", &first.to_yaml()).await?;
    wait_status(api, "first", &[STATUS_ADDRESS]).await?;
    tb.wait_for_backend("first.example", "/", "lead-app")
        .await?;
    let via_b = poll_until(CONVERGE, "replica-b to serve first.example", async || {
        let reply = tb
            .client
            .get(replica_b.http_addr(), "first.example", "/")
            .await
            .map_err(|e| e.to_string())?;
        reply.backend()
    })
    .await?;
    assert_eq!(via_b, "lead-app", "the follower serves traffic too");
    let before = status_writes(api)?;
    assert!(
        !before.is_empty() && before.iter().all(|w| w.user == "replica-a"),
        "only the leader writes status: {before:?}"
    );
    assert!(
        replica_b
            .logs()
            .find(|l| l.contains("leader acquired"))
            .is_none(),
        "replica-b led while replica-a held the Lease:\n{}",
        replica_b.logs().text()
    );

    tb.wicket.kill(Duration::from_secs(10)).await?;
    let killed_at = status_writes(api)?.len();
    let deadline = LEASE_DURATION + RENEW_PERIOD + TAKEOVER_MARGIN;
    wait_for_log(
        replica_b.logs(),
        deadline,
        "replica-b to take over",
        |line| line.contains("leader acquired"),
    )
    .await?;
    assert_eq!(lease_holder(api)?.as_deref(), Some("replica-b"));

    let second = ingress("second", Some(CLASS), "lead-app");
    tb.cluster.apply("second", &second.to_yaml()).await?;
    wait_status(api, "second", &[STATUS_ADDRESS]).await?;
    let after: Vec<_> = status_writes(api)?.into_iter().skip(killed_at).collect();
    assert!(
        after
            .iter()
            .any(|w| w.path.ends_with("/ingresses/second/status")),
        "no status write for the new Ingress: {after:?}"
    );
    assert!(
        after.iter().all(|w| w.user == "replica-b"),
        "status writes after the takeover: {after:?}"
    );
    Ok(())
}
