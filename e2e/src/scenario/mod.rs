//! The scenario list: each behaviour checked end to end, written once against
//! [`Cluster`](crate::Cluster) so every source mode runs the same list (see
//! [`scenario_tests!`](crate::scenario_tests)).
//!
//! A scenario starts its own echo backends, applies objects, waits (with a deadline) for
//! them to be served, then asserts; assertion failures panic with the evidence.

pub mod balance;
pub mod class;
pub mod failure;
pub mod headers;
pub mod hot_edit;
pub mod routing;
pub mod streaming;
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
