//! Endpoint churn under continuous traffic: endpoints are added, and removed the way
//! Kubernetes removes a pod (out of the EndpointSlice first, then the pod dies), and no
//! request fails.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Mutex;

use crate::backend::{Backend, Upstream};
use crate::client::{HttpClient, get_fresh};
use crate::cluster::Cluster;
use crate::error::Result;
use crate::manifest::{Ingress, PathType, Rule, backend_objects};
use crate::testbed::Testbed;
use crate::wait::{CONVERGE, poll_until, wait_until};

const HOST: &str = "churn.example";

/// Requests the traffic loop makes after the last change before it stops.
const REQUESTS_AFTER: usize = 40;

/// One answer (or failure) the traffic loop saw.
type Outcomes = Arc<Mutex<Vec<Result<String, String>>>>;

async fn apply_endpoints<C: Cluster>(tb: &Testbed<C>, live: &[Backend]) -> Result<()> {
    let addrs: Vec<SocketAddr> = live.iter().map(Upstream::addr).collect();
    tb.apply_objects("backend", &backend_objects("churn", &addrs))
        .await
}

/// Waits until the traffic loop has been answered by `name` after its `since`-th request.
async fn wait_seen(outcomes: &Outcomes, since: usize, name: &str) -> Result<()> {
    wait_until(CONVERGE, &format!("traffic to reach {name}"), async || {
        let outcomes = outcomes.lock().await;
        outcomes
            .iter()
            .skip(since)
            .any(|o| o.as_deref() == Ok(name))
    })
    .await
}

/// Removes the first live backend from the EndpointSlice, waits until wicket has published
/// a table without it and no longer routes to it, then kills it. Returns the loop's request
/// count at the kill.
async fn withdraw_then_kill<C: Cluster>(
    tb: &Testbed<C>,
    live: &mut Vec<Backend>,
    outcomes: &Outcomes,
) -> Result<usize> {
    let gone = live.remove(0);
    let name = gone.name().to_owned();
    let published = |line: &str| line.contains("table published");
    let before = tb
        .wicket
        .logs()
        .lines()
        .iter()
        .filter(|l| published(l))
        .count();
    apply_endpoints(tb, live).await?;
    wait_until(CONVERGE, "wicket to publish a new table", async || {
        tb.wicket
            .logs()
            .lines()
            .iter()
            .filter(|l| published(l))
            .count()
            > before
    })
    .await?;
    // Round robin over the remaining endpoints: three rounds in a row without `gone`.
    let rounds = 3 * live.len().max(1);
    let probe = HttpClient::new();
    let proxy = tb.proxy();
    let mut streak = 0;
    poll_until(
        CONVERGE,
        &format!("{name} to stop being routed to"),
        async || {
            let reply = probe
                .get(proxy, HOST, "/probe")
                .await
                .map_err(|e| e.to_string())?;
            match reply.backend() {
                Ok(seen) if seen == name => streak = 0,
                Ok(_) => streak += 1,
                Err(other) => return Err(other),
            }
            if streak >= rounds {
                Ok(())
            } else {
                Err(format!("{streak} answers without {name} in a row"))
            }
        },
    )
    .await?;
    let at = outcomes.lock().await.len();
    gone.kill().await?;
    Ok(at)
}

/// A client sends requests continuously (keep-alive and new connections mixed) while pods
/// are added to and removed from the Service's EndpointSlice; every request must be a 200
/// from a backend that was live, new endpoints must get traffic, and a removed endpoint
/// none once wicket has published its removal.
pub async fn no_failed_requests<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let mut live = tb.backends(&["churn-1", "churn-2"]).await?;
    apply_endpoints(tb, &live).await?;
    let ingress = Ingress::new("churn").rule(Rule::host(HOST).path("/", PathType::Prefix, "churn"));
    tb.cluster.apply("ingress", &ingress.to_yaml()).await?;
    tb.wait_for_backend(HOST, "/", "churn-1").await?;
    tb.wait_for_backend(HOST, "/", "churn-2").await?;

    let outcomes: Outcomes = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = tokio::spawn(traffic_loop(
        tb.proxy(),
        Arc::clone(&outcomes),
        Arc::clone(&stop),
    ));

    let churn = async {
        let mut killed = Vec::new();
        let since = outcomes.lock().await.len();
        live.extend(tb.backends(&["churn-3", "churn-4"]).await?);
        apply_endpoints(tb, &live).await?;
        wait_seen(&outcomes, since, "churn-3").await?;
        wait_seen(&outcomes, since, "churn-4").await?;

        killed.push((
            "churn-1",
            withdraw_then_kill(tb, &mut live, &outcomes).await?,
        ));
        killed.push((
            "churn-2",
            withdraw_then_kill(tb, &mut live, &outcomes).await?,
        ));

        let since = outcomes.lock().await.len();
        live.extend(tb.backends(&["churn-5"]).await?);
        apply_endpoints(tb, &live).await?;
        wait_seen(&outcomes, since, "churn-5").await?;
        killed.push((
            "churn-3",
            withdraw_then_kill(tb, &mut live, &outcomes).await?,
        ));

        let last = outcomes.lock().await.len();
        wait_until(CONVERGE, "traffic after the last change", async || {
            outcomes.lock().await.len() >= last + REQUESTS_AFTER
        })
        .await?;
        Ok::<_, crate::Error>(killed)
    }
    .await;
    stop.store(true, Ordering::Relaxed);
    let loop_result = traffic.await;
    let killed = churn?;
    assert!(
        loop_result.is_ok(),
        "traffic loop panicked: {loop_result:?}"
    );

    let outcomes = outcomes.lock().await;
    let failures: Vec<String> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.as_deref().is_ok_and(|name| name.starts_with("churn-")))
        .map(|(i, o)| format!("#{i}: {o:?}"))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} requests failed during endpoint churn; the first ones:\n{}",
        failures.len(),
        outcomes.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    for (name, at) in killed {
        let late: Vec<usize> = outcomes
            .iter()
            .enumerate()
            .skip(at)
            .filter(|(_, o)| o.as_deref() == Ok(name))
            .map(|(i, _)| i)
            .collect();
        assert!(
            late.is_empty(),
            "{name} answered requests {late:?} after it was killed (at request {at})"
        );
    }
    Ok(())
}

async fn traffic_loop(proxy: SocketAddr, outcomes: Outcomes, stop: Arc<AtomicBool>) {
    let pooled = HttpClient::new();
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let path = format!("/churn/{i}");
        let reply = if i.is_multiple_of(3) {
            get_fresh(proxy, HOST, &path).await
        } else {
            pooled.get(proxy, HOST, &path).await
        };
        let outcome = match reply {
            Ok(reply) => reply.backend(),
            Err(e) => Err(e.to_string()),
        };
        outcomes.lock().await.push(outcome);
        i += 1;
    }
}
