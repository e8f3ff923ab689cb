//! Polling with a deadline: the only way tests wait for something to become true.

use std::time::Duration;

use tokio::time::{Instant, sleep};

use crate::error::{Error, Result};

/// How long a route, endpoint or readiness change may take to show up. The binary promises
/// 100 ms; the margin absorbs a noisy machine, and a passing test never waits this long.
pub const CONVERGE: Duration = Duration::from_secs(15);

/// Upper bound for one ordinary request.
pub const REQUEST: Duration = Duration::from_secs(10);

const POLL: Duration = Duration::from_millis(10);

/// Calls `probe` until it returns `Ok`, or fails after `timeout` with the last `Err` text.
pub async fn poll_until<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match probe().await {
            Ok(value) => return Ok(value),
            Err(last) => last,
        };
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                what: what.to_owned(),
                after: timeout,
                last,
            });
        }
        sleep(POLL).await;
    }
}

/// Calls `cond` until it returns true, or fails after `timeout`.
pub async fn wait_until(
    timeout: Duration,
    what: &str,
    mut cond: impl AsyncFnMut() -> bool,
) -> Result<()> {
    poll_until(timeout, what, async || {
        if cond().await {
            Ok(())
        } else {
            Err("condition still false".to_owned())
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_first_success() {
        let mut calls = 0;
        let value = poll_until(Duration::from_secs(5), "third call", async || {
            calls += 1;
            if calls == 3 {
                Ok(calls)
            } else {
                Err(format!("call {calls}"))
            }
        })
        .await;
        assert_eq!(value.ok(), Some(3));
    }

    #[tokio::test]
    async fn times_out_with_the_last_observation() {
        let result = wait_until(Duration::from_millis(30), "never", async || false).await;
        match result {
            Err(Error::Timeout { what, .. }) => assert_eq!(what, "never"),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
}
