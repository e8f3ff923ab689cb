//! Editing routes under continuous traffic: the change shows up fast and no request fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::client::{HttpClient, get_fresh};
use crate::cluster::Cluster;
use crate::error::Result;
use crate::manifest::{Ingress, PathType, Rule};
use crate::testbed::Testbed;
use crate::wait::{CONVERGE, poll_until, wait_until};

/// How soon after the write the new route must answer.
const NEW_ROUTE_WITHIN: Duration = Duration::from_secs(1);

/// Requests made by the traffic loop before the edit and after the retarget is seen.
const REQUESTS_AROUND_EDIT: usize = 40;

#[derive(Debug)]
struct Outcome {
    path: &'static str,
    fresh_connection: bool,
    result: Result<String, String>,
}

fn ingress(version: u8) -> String {
    let rule = Rule::host("hot.example").path("/a", PathType::Prefix, "hot-a");
    let rule = match version {
        1 => rule.path("/b", PathType::Prefix, "hot-b"),
        _ => rule
            .path("/b", PathType::Prefix, "hot-c")
            .path("/new", PathType::Exact, "hot-c"),
    };
    Ingress::new("hot").rule(rule).to_yaml()
}

/// One client loop sends sequential requests (keep-alive and new connections mixed) to `/a`
/// and `/b` while the Ingress is rewritten to retarget `/b` and add `/new`. `/new` must
/// answer within [`NEW_ROUTE_WITHIN`] of the write, and every loop request must be a 200
/// from a backend that was valid at the time (`/b` switches once and never switches back).
pub async fn no_failed_requests<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let echoes = tb.backends(&["hot-a", "hot-b", "hot-c"]).await?;
    tb.apply_echo_services("backends", &echoes).await?;
    tb.cluster.apply("ingress", &ingress(1)).await?;
    tb.wait_for_backend("hot.example", "/a", "hot-a").await?;
    tb.wait_for_backend("hot.example", "/b", "hot-b").await?;

    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = tokio::spawn(traffic_loop(
        tb.proxy(),
        HttpClient::new(),
        Arc::clone(&outcomes),
        Arc::clone(&stop),
    ));
    let count = async || outcomes.lock().await.len();
    wait_until(CONVERGE, "traffic before the edit", async || {
        count().await >= REQUESTS_AROUND_EDIT
    })
    .await?;

    tb.cluster.apply("ingress", &ingress(2)).await?;
    let written = Instant::now();
    let probe = HttpClient::new();
    let proxy = tb.proxy();
    let new_route = poll_until(
        NEW_ROUTE_WITHIN,
        "the new route /new to be served by hot-c",
        async || {
            let reply = probe
                .get(proxy, "hot.example", "/new")
                .await
                .map_err(|e| e.to_string())?;
            match reply.backend() {
                Ok(name) if name == "hot-c" => Ok(written.elapsed()),
                Ok(name) => Err(format!("served by {name}")),
                Err(other) => Err(other),
            }
        },
    )
    .await;

    let switched_at = async || {
        let outcomes = outcomes.lock().await;
        outcomes
            .iter()
            .position(|o| o.path == "/b" && o.result.as_deref() == Ok("hot-c"))
    };
    let after_switch = wait_until(CONVERGE, "traffic after /b is retargeted", async || {
        let total = count().await;
        switched_at()
            .await
            .is_some_and(|at| total >= at + REQUESTS_AROUND_EDIT)
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let loop_result = traffic.await;

    let outcomes = outcomes.lock().await;
    let failures: Vec<String> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            !matches!(
                (o.path, o.result.as_deref()),
                ("/a", Ok("hot-a")) | ("/b", Ok("hot-b" | "hot-c"))
            )
        })
        .map(|(i, o)| {
            format!(
                "#{i} {} (new connection: {}): {:?}",
                o.path, o.fresh_connection, o.result
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} requests failed; the first ones:\n{}",
        failures.len(),
        outcomes.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let b_answers: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.path == "/b")
        .filter_map(|o| o.result.as_deref().ok())
        .collect();
    let first_c = b_answers.iter().position(|&n| n == "hot-c");
    assert!(
        first_c.is_some_and(|at| at > 0),
        "/b must be served by hot-b, then hot-c: {b_answers:?}"
    );
    if let Some(at) = first_c {
        assert!(
            b_answers.iter().skip(at).all(|&n| n == "hot-c"),
            "/b went back to the old backend after switching: {b_answers:?}"
        );
    }
    assert!(
        outcomes.iter().any(|o| o.fresh_connection) && outcomes.iter().any(|o| !o.fresh_connection)
    );
    drop(outcomes);

    let elapsed = new_route?;
    assert!(
        elapsed <= NEW_ROUTE_WITHIN,
        "/new answered {elapsed:?} after the write"
    );
    after_switch?;
    assert!(
        loop_result.is_ok(),
        "traffic loop panicked: {loop_result:?}"
    );
    Ok(())
}

async fn traffic_loop(
    proxy: std::net::SocketAddr,
    pooled: HttpClient,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
    stop: Arc<AtomicBool>,
) {
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let path = if i.is_multiple_of(2) { "/a" } else { "/b" };
        let fresh_connection = i.is_multiple_of(3);
        let reply = if fresh_connection {
            get_fresh(proxy, "hot.example", path).await
        } else {
            pooled.get(proxy, "hot.example", path).await
        };
        let result = match reply {
            Ok(reply) => reply.backend(),
            Err(e) => Err(e.to_string()),
        };
        outcomes.lock().await.push(Outcome {
            path,
            fresh_connection,
            result,
        });
        i += 1;
    }
}
