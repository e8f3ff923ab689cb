//! The scenario list: each behaviour checked end to end, written once against
//! [`Cluster`](crate::Cluster) so every source mode runs the same list (see
//! [`scenario_tests!`](crate::scenario_tests)).
//!
//! A scenario gets its echo backends from the testbed (loopback processes or pods, by
//! mode), applies objects, waits (with a deadline) for them to be served, then asserts;
//! assertion failures panic with the evidence. [`kube`] holds what only the Kubernetes
//! API mode can show.

pub mod balance;
pub mod churn;
pub mod class;
pub mod failure;
pub mod headers;
pub mod hot_edit;
pub mod kube;
pub mod routing;
pub mod streaming;
pub mod tls;
pub mod websocket;

use std::time::Duration;

use crate::error::{Error, Result};

/// The most any one scenario may take, setup included.
pub const SCENARIO_LIMIT: Duration = Duration::from_secs(300);

/// Runs a whole scenario under [`SCENARIO_LIMIT`].
pub async fn run(scenario: impl Future<Output = Result<()>>) -> Result<()> {
    tokio::time::timeout(SCENARIO_LIMIT, scenario)
        .await
        .unwrap_or_else(|_| {
            Err(Error::Timeout {
                what: "the scenario to finish".to_owned(),
                after: SCENARIO_LIMIT,
                last: "still running".to_owned(),
            })
        })
}

/// Splits `/p?q` into the path and the query the echo backend should report.
pub(crate) fn split_query(target: &str) -> (&str, Option<&str>) {
    match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    }
}

/// Defines one `#[tokio::test]` per TLS scenario whose input comes from the source
/// (Secrets, Ingress `tls` sections, redirect annotations), each on a testbed made by
/// `$testbed`, like [`scenario_tests!`](crate::scenario_tests); every source mode runs them.
#[macro_export]
macro_rules! tls_scenario_tests {
    ($testbed:expr) => {
        $crate::scenario_tests!(@each $testbed;
            tls_sni_certificates => $crate::scenario::tls::sni_certificates,
            tls_https_redirect_and_hsts => $crate::scenario::tls::https_redirect,
            tls_certificate_rotation => $crate::scenario::tls::certificate_rotation,
            tls_broken_secret => $crate::scenario::tls::broken_secret,
        );
    };
}

/// Defines one `#[tokio::test]` per upstream-protocol scenario (gRPC, HTTPS backends).
/// Their backends are servers in the test process on loopback, which an API server does
/// not accept as EndpointSlice addresses, so only the manifests mode runs them.
#[macro_export]
macro_rules! upstream_scenario_tests {
    ($testbed:expr) => {
        $crate::scenario_tests!(@each $testbed;
            grpc_backend => $crate::scenario::tls::grpc_backend,
            https_backend => $crate::scenario::tls::https_backend,
        );
    };
}

/// Defines one `#[tokio::test]` per scenario, each on a testbed made by `$testbed`
/// (an expression evaluating to a `Future<Output = Result<Testbed<_>>>`).
#[macro_export]
macro_rules! scenario_tests {
    ($testbed:expr) => {
        $crate::scenario_tests!(@each $testbed;
            host_and_path_routing => $crate::scenario::routing::host_and_path,
            default_backends => $crate::scenario::routing::default_backends,
            curl_with_host_header => $crate::scenario::routing::curl_with_host_header,
            ingress_class_ownership => $crate::scenario::class::ownership,
            forwarded_headers => $crate::scenario::headers::forwarded,
            round_robin_across_endpoints => $crate::scenario::balance::round_robin,
            hot_edit_without_failed_requests => $crate::scenario::hot_edit::no_failed_requests,
            websocket_echo => $crate::scenario::websocket::echo,
            large_bodies_stream_in_bounded_memory => $crate::scenario::streaming::large_bodies,
            dead_and_missing_endpoints => $crate::scenario::failure::dead_and_missing_endpoints,
            endpoint_churn_without_failed_requests => $crate::scenario::churn::no_failed_requests,
        );
    };
    (@each $testbed:expr; $($name:ident => $scenario:path),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() -> ::std::result::Result<(), $crate::Error> {
                $crate::scenario::run(async {
                    let testbed = $testbed.await?;
                    $scenario(&testbed).await
                })
                .await
            }
        )+
    };
}
