//! Propagation latency: the time from a change to the first request served by the route it
//! adds, over many changes, with many Ingresses already in place.
//!
//! ```text
//! propagation [--mode manifests|api] [--existing 100] [--changes 100] [--gap-ms 20]
//!
//! backend "bench" (wicket echo: loopback, or a network-namespace pod in api mode)
//! bundle "base": Service bench + EndpointSlice + N Ingresses base-i (host base-i.bench.test)
//! for k in 1..=changes:
//!     t0 → write bundle change-k (one Ingress, host change-k.bench.test → bench)
//!          manifests: a new file, written and renamed into place
//!          api: an in-process apply on the Kubernetes API server double
//!     GET / Host: change-k.bench.test in a tight loop on a keep-alive connection
//!     → first 200: record now − t0
//! ```
//!
//! Prints p50/p99 (and min, mean, max) as a line of JSON. The `wicket` binary is
//! `$WICKET_BIN`, else `target/<profile>/wicket`. The api mode needs root (pods are
//! network namespaces). Run by `e2e/bench/propagation.sh`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark tool: its report is its output"
)]

mod support;

use std::time::{Duration, Instant};

use e2e::cluster::Cluster;
use e2e::manifest::{Ingress, PathType, Rule, backend_objects, documents};
use e2e::{Backend, Testbed, Upstream};
use serde_json::{Value, json};
use support::{BoxError, Flags, first_ok, ms, percentile};

const USAGE: &str =
    "usage: propagation [--mode manifests|api] [--existing N] [--changes N] [--gap-ms MS]";

/// Longest wait for one change to be served.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(60);

struct Options {
    mode: String,
    existing: usize,
    changes: usize,
    gap: Duration,
}

fn ingress(name: &str, host: &str) -> Value {
    Ingress::new(name)
        .rule(Rule::host(host).path("/", PathType::Prefix, "bench"))
        .to_value()
}

async fn measure<C: Cluster>(
    testbed: &Testbed<C>,
    backend: &Backend,
    options: &Options,
) -> Result<Vec<Duration>, BoxError> {
    let mut base = backend_objects(backend.name(), &[backend.addr()]);
    base.extend(
        (0..options.existing)
            .map(|i| ingress(&format!("base-{i}"), &format!("base-{i}.bench.test"))),
    );
    let loaded = Instant::now();
    testbed.apply_objects("base", &base).await?;
    if let Some(last) = options.existing.checked_sub(1) {
        let host = format!("base-{last}.bench.test");
        first_ok(
            &testbed.client,
            testbed.proxy(),
            &host,
            loaded,
            CHANGE_TIMEOUT,
        )
        .await?;
    }
    eprintln!(
        "{} existing Ingresses served after {:.0} ms",
        options.existing,
        ms(loaded.elapsed())
    );
    let mut latencies = Vec::with_capacity(options.changes);
    for k in 1..=options.changes {
        let name = format!("change-{k}");
        let host = format!("{name}.bench.test");
        let yaml = documents([&ingress(&name, &host)]);
        let t0 = Instant::now();
        testbed.cluster.apply(&name, &yaml).await?;
        let latency = first_ok(&testbed.client, testbed.proxy(), &host, t0, CHANGE_TIMEOUT).await?;
        latencies.push(latency);
        tokio::time::sleep(options.gap).await;
    }
    let published: Vec<String> = testbed
        .wicket
        .logs()
        .lines()
        .into_iter()
        .filter(|line| line.contains("table published"))
        .collect();
    for line in published.iter().rev().take(3).rev() {
        eprintln!("wicket: {line}");
    }
    Ok(latencies)
}

fn report(options: &Options, mut latencies: Vec<Duration>) -> Result<(), BoxError> {
    if latencies.is_empty() {
        return Err("no changes measured".into());
    }
    latencies.sort();
    let mean = latencies.iter().sum::<Duration>() / u32::try_from(latencies.len())?;
    let line = json!({
        "mode": options.mode,
        "existing_ingresses": options.existing,
        "changes": latencies.len(),
        "p50_ms": ms(percentile(&latencies, 50.0)),
        "p99_ms": ms(percentile(&latencies, 99.0)),
        "min_ms": ms(percentile(&latencies, 0.0)),
        "mean_ms": ms(mean),
        "max_ms": ms(percentile(&latencies, 100.0)),
    });
    println!("{line}");
    Ok(())
}

async fn run() -> Result<(), BoxError> {
    let mut flags = Flags::from_env(USAGE)?;
    let options = Options {
        mode: flags.get("mode", "manifests".to_owned())?,
        existing: flags.get("existing", 100)?,
        changes: flags.get("changes", 100)?,
        gap: Duration::from_millis(flags.get("gap-ms", 20)?),
    };
    flags.finish()?;
    let latencies = match options.mode.as_str() {
        "manifests" => {
            let testbed = Testbed::manifests().await?;
            let backends = testbed.backends(&["bench"]).await?;
            let backend = backends.first().ok_or("no backend started")?;
            measure(&testbed, backend, &options).await?
        }
        "api" => {
            let testbed = Testbed::kubernetes().await?;
            let backends = testbed.backends(&["bench"]).await?;
            let backend = backends.first().ok_or("no backend started")?;
            measure(&testbed, backend, &options).await?
        }
        other => return Err(format!("unknown --mode {other:?}\n{USAGE}").into()),
    };
    report(&options, latencies)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("propagation: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
