//! What only the Kubernetes API mode can show: Ingress status, leader election, and
//! surviving API server restarts and dropped watches. Each scenario makes its own testbed
//! ([`Testbed::kubernetes`](crate::Testbed::kubernetes) and more replicas as needed) and
//! reads the API server double's write log, so with `E2E_KUBECONFIG` set they are skipped
//! with a printed reason (see [`kube_scenario_tests!`](crate::kube_scenario_tests)).

pub mod leader;
pub mod resilience;
pub mod status;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use tokio::sync::Mutex;

use crate::apicluster::{ApiCluster, Double};
use crate::apiserver::WriteRecord;
use crate::backend::Backend;
use crate::client::{HttpClient, get_fresh};
use crate::error::{Error, Result};
use crate::kubectl::{E2E_KUBECONFIG, Kubectl};
use crate::manifest::{Ingress, NAMESPACE, PathType, Rule};
use crate::testbed::Testbed;
use crate::wait::{CONVERGE, poll_until};

/// Whether the scenario `name` cannot run because `E2E_KUBECONFIG` points at a real
/// cluster; prints why.
#[allow(
    clippy::print_stdout,
    reason = "the test runner shows it with --nocapture; the reason a test did nothing"
)]
pub fn skipped(name: &str) -> bool {
    let real = Kubectl::from_env().is_some();
    if real {
        println!(
            "skipped {name}: {E2E_KUBECONFIG} is set, and this scenario needs the API server \
             double (its write log, restarting it, dropping its watches)"
        );
    }
    real
}

/// The testbed's API server double (an error against a real cluster).
pub fn double(cluster: &ApiCluster) -> Result<&Double> {
    cluster.double().ok_or_else(|| Error::Unexpected {
        what: "this scenario needs the API server double".to_owned(),
        detail: format!("unset {E2E_KUBECONFIG}"),
    })
}

/// The addresses (IP or hostname) in an Ingress's `status.loadBalancer.ingress`.
pub fn status_addresses(ingress: &Value) -> Vec<String> {
    ingress["status"]["loadBalancer"]["ingress"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| e["ip"].as_str().or_else(|| e["hostname"].as_str()))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Polls until Ingress `default/name` carries exactly `expected` in its status.
pub async fn wait_status(double: &Double, name: &str, expected: &[&str]) -> Result<()> {
    let what = format!("Ingress {name} to carry status {expected:?}");
    poll_until(CONVERGE, &what, async || {
        let ingress = double
            .get("networking.k8s.io/v1", "Ingress", NAMESPACE, name)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("Ingress {name} does not exist"))?;
        let seen = status_addresses(&ingress);
        if seen == expected {
            Ok(())
        } else {
            Err(format!("status {seen:?}"))
        }
    })
    .await
}

/// The HTTP writes to Ingress status subresources (`…/ingresses/NAME/status`).
pub fn status_writes(double: &Double) -> Result<Vec<WriteRecord>> {
    Ok(double
        .writes()?
        .into_iter()
        .filter(|w| w.path.contains("/ingresses/") && w.path.ends_with("/status"))
        .collect())
}

/// An Ingress `name` for host `NAME.example` → Service `service`.
pub fn ingress(name: &str, class: Option<&str>, service: &str) -> Ingress {
    Ingress::new(name)
        .class(class)
        .rule(Rule::host(&format!("{name}.example")).path("/", PathType::Prefix, service))
}

/// Starts backend `name` and applies it as bundle `backend-NAME` (a Service named `name`).
pub async fn serve_backend(tb: &Testbed<ApiCluster>, name: &str) -> Result<Vec<Backend>> {
    let backends = tb.backends(&[name]).await?;
    tb.apply_echo_services(&format!("backend-{name}"), &backends)
        .await?;
    Ok(backends)
}

/// Requests sent continuously to one host through the proxy, each outcome recorded.
#[derive(Debug)]
pub struct Traffic {
    outcomes: Arc<Mutex<Vec<Result<String, String>>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Traffic {
    /// Starts sending `GET /` with `Host: host` (keep-alive and new connections mixed).
    pub fn start(proxy: std::net::SocketAddr, host: &str) -> Self {
        let outcomes: Arc<Mutex<Vec<Result<String, String>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let host = host.to_owned();
        let task = tokio::spawn({
            let (outcomes, stop) = (Arc::clone(&outcomes), Arc::clone(&stop));
            async move {
                let pooled = HttpClient::new();
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let path = format!("/traffic/{i}");
                    let reply = if i.is_multiple_of(3) {
                        get_fresh(proxy, &host, &path).await
                    } else {
                        pooled.get(proxy, &host, &path).await
                    };
                    let outcome = match reply {
                        Ok(reply) => reply.backend(),
                        Err(e) => Err(e.to_string()),
                    };
                    outcomes.lock().await.push(outcome);
                    i += 1;
                }
            }
        });
        Self {
            outcomes,
            stop,
            task,
        }
    }

    /// Requests answered (or failed) so far.
    pub async fn count(&self) -> usize {
        self.outcomes.lock().await.len()
    }

    /// Waits until `more` requests beyond `since` have completed.
    pub async fn wait_for(&self, since: usize, more: usize, what: &str) -> Result<()> {
        poll_until(CONVERGE, what, async || {
            let count = self.count().await;
            if count >= since + more {
                Ok(())
            } else {
                Err(format!(
                    "{} of {more} requests",
                    count.saturating_sub(since)
                ))
            }
        })
        .await
    }

    /// Stops and returns every outcome.
    pub async fn stop(self) -> Vec<Result<String, String>> {
        self.stop.store(true, Ordering::Relaxed);
        let finished = self.task.await;
        assert!(finished.is_ok(), "traffic loop panicked: {finished:?}");
        std::mem::take(&mut *self.outcomes.lock().await)
    }
}

/// Panics unless every outcome is a 200 from `backend`.
pub fn assert_all_served_by(outcomes: &[Result<String, String>], backend: &str) {
    let failures: Vec<String> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| o.as_deref() != Ok(backend))
        .map(|(i, o)| format!("#{i}: {o:?}"))
        .take(20)
        .collect();
    assert!(
        failures.is_empty(),
        "requests not served by {backend} (of {}):\n{}",
        outcomes.len(),
        failures.join("\n")
    );
}

/// Defines one `#[tokio::test]` per Kubernetes-only scenario ([`kube`](self)). Each builds
/// its own testbed; with `E2E_KUBECONFIG` set each is skipped with a printed reason.
#[macro_export]
macro_rules! kube_scenario_tests {
    () => {
        $crate::kube_scenario_tests!(@each
            status_is_published_on_owned_ingresses_only => $crate::scenario::kube::status::owned_only,
            status_follows_the_publish_service => $crate::scenario::kube::status::publish_service,
            one_leader_writes_status_and_another_takes_over => $crate::scenario::kube::leader::failover,
            traffic_survives_an_api_server_restart => $crate::scenario::kube::resilience::api_restart,
            changes_are_picked_up_after_dropped_watches => $crate::scenario::kube::resilience::dropped_watches,
        );
    };
    (@each $($name:ident => $scenario:path),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() -> ::std::result::Result<(), $crate::Error> {
                if $crate::scenario::kube::skipped(stringify!($name)) {
                    return Ok(());
                }
                $crate::scenario::run($scenario()).await
            }
        )+
    };
}
