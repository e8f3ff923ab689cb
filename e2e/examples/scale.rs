//! Scale: wicket's memory and publish time with a large manifest set.
//!
//! ```text
//! scale [--ingresses 10000] [--services 2000] [--tls-hosts 500] [--changes 5]
//!
//! manifests: N Ingresses with two paths each (host app-i.scale.test: / and /api, Prefix),
//!            S Services with one EndpointSlice of three ready endpoints each (10.x, never
//!            contacted), T of the hosts with spec.tls and their own Secret (an ECDSA
//!            certificate generated here), plus one Ingress → a live echo backend
//! start:     wicket serve --manifests DIR → /readyz 200 and the live route answers
//! changes:   a new Ingress file per change → first 200 from its host (re-read, translate,
//!            compile and swap of the whole table)
//! ```
//!
//! Prints one line of JSON: start-to-served time, the `table published` log line, median and
//! max change latency, VmHWM and VmRSS, and any publish/translate duration metric on
//! `/metrics`. The `wicket` binary is `$WICKET_BIN`, else `target/<profile>/wicket`.
//! Run by `e2e/bench/scale.sh`.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark tool: its report is its output"
)]

mod support;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use e2e::manifest::{Ingress, PathType, Rule, backend_objects, documents};
use e2e::{Backend, HttpClient, ManifestDir, Upstream, Wicket};
use serde_json::{Value, json};
use support::{BoxError, Flags, first_ok, memory_kib, ms, percentile};

const USAGE: &str = "usage: scale [--ingresses N] [--services N] [--tls-hosts N] [--changes N]";
const NAMESPACE: &str = e2e::manifest::NAMESPACE;
const TIMEOUT: Duration = Duration::from_secs(300);

fn service(s: usize) -> Vec<Value> {
    let endpoints: Vec<Value> = (1..=3)
        .map(|d| {
            json!({
                "addresses": [format!("10.{}.{}.{d}", s / 256 % 256, s % 256)],
                "conditions": { "ready": true },
            })
        })
        .collect();
    vec![
        e2e::manifest::service(&format!("svc-{s}")),
        json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": format!("svc-{s}-1"),
                "namespace": NAMESPACE,
                "labels": { "kubernetes.io/service-name": format!("svc-{s}") },
            },
            "addressType": "IPv4",
            "ports": [{ "name": "http", "port": 8080, "protocol": "TCP" }],
            "endpoints": endpoints,
        }),
    ]
}

fn tls_secret(name: &str, host: &str) -> Result<Value, BoxError> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let cert = rcgen::CertificateParams::new(vec![host.to_owned()])?.self_signed(&key)?;
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": name, "namespace": NAMESPACE },
        "type": "kubernetes.io/tls",
        "data": {
            "tls.crt": STANDARD.encode(cert.pem()),
            "tls.key": STANDARD.encode(key.serialize_pem()),
        },
    }))
}

fn ingress(i: usize, services: usize, tls: bool) -> Value {
    let host = format!("app-{i}.scale.test");
    let service = format!("svc-{}", i % services.max(1));
    let mut value = Ingress::new(&format!("app-{i}"))
        .rule(
            Rule::host(&host)
                .path("/", PathType::Prefix, &service)
                .path("/api", PathType::Prefix, &service),
        )
        .to_value();
    if tls {
        value["spec"]["tls"] = json!([{ "hosts": [host], "secretName": format!("tls-{i}") }]);
    }
    value
}

/// Writes the manifest set in a few files; returns the number of objects.
fn write_manifests(
    dir: &ManifestDir,
    ingresses: usize,
    services: usize,
    tls_hosts: usize,
    live: &Backend,
) -> Result<usize, BoxError> {
    let mut objects = Vec::new();
    for s in 0..services {
        objects.extend(service(s));
    }
    objects.extend(backend_objects(live.name(), &[live.addr()]));
    objects.push(
        Ingress::new("live")
            .rule(Rule::host("live.scale.test").path("/", PathType::Prefix, live.name()))
            .to_value(),
    );
    let mut count = objects.len();
    dir.write("services", &documents(&objects))?;
    let mut secrets = Vec::new();
    for i in 0..tls_hosts {
        secrets.push(tls_secret(
            &format!("tls-{i}"),
            &format!("app-{i}.scale.test"),
        )?);
    }
    count += secrets.len();
    dir.write("secrets", &documents(&secrets))?;
    for (chunk, start) in (0..ingresses).step_by(1000).enumerate() {
        let batch: Vec<Value> = (start..ingresses.min(start + 1000))
            .map(|i| ingress(i, services, i < tls_hosts))
            .collect();
        count += batch.len();
        dir.write(&format!("ingresses-{chunk:02}"), &documents(&batch))?;
    }
    Ok(count)
}

/// Lines of `/metrics` about publishing or translating, when the binary has them.
async fn publish_metrics(client: &HttpClient, wicket: &Wicket) -> Vec<String> {
    let admin = wicket.admin_addr();
    match client.get(admin, &admin.to_string(), "/metrics").await {
        Ok(reply) => String::from_utf8_lossy(&reply.body)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| l.contains("publish") || l.contains("translate") || l.contains("rebuild"))
            .map(str::to_owned)
            .collect(),
        Err(_) => Vec::new(),
    }
}

async fn run() -> Result<(), BoxError> {
    let mut flags = Flags::from_env(USAGE)?;
    let ingresses: usize = flags.get("ingresses", 10_000)?;
    let services: usize = flags.get("services", 2_000)?;
    let tls_hosts: usize = flags.get("tls-hosts", 500)?;
    let changes: usize = flags.get("changes", 5)?;
    flags.finish()?;
    if tls_hosts > ingresses || services == 0 {
        return Err(format!("need 0 < services and tls-hosts ≤ ingresses\n{USAGE}").into());
    }

    let dir = ManifestDir::new()?;
    let live = Backend::loopback("live").await?;
    let written = Instant::now();
    let objects = write_manifests(&dir, ingresses, services, tls_hosts, &live)?;
    eprintln!(
        "{objects} objects written in {:.0} ms",
        ms(written.elapsed())
    );

    let started = Instant::now();
    let wicket = Wicket::start(dir.path()).await?;
    let client = HttpClient::new();
    let proxy = wicket.http_addr();
    let served = first_ok(&client, proxy, "live.scale.test", started, TIMEOUT).await?;
    let published_line = wicket
        .logs()
        .find(|l| l.contains("table published"))
        .map(|l| e2e::logs::strip_ansi(&l));
    let (hwm_after_start, rss_after_start) = memory_kib(wicket.pid())?;

    let mut latencies = Vec::with_capacity(changes);
    for k in 1..=changes {
        let name = format!("change-{k}");
        let host = format!("{name}.scale.test");
        let yaml = Ingress::new(&name)
            .rule(Rule::host(&host).path("/", PathType::Prefix, live.name()))
            .to_yaml();
        let t0 = Instant::now();
        dir.write(&name, &yaml)?;
        latencies.push(first_ok(&client, proxy, &host, t0, TIMEOUT).await?);
    }
    latencies.sort();
    let (hwm, rss) = memory_kib(wicket.pid())?;
    let line = json!({
        "ingresses": ingresses,
        "paths": 2 * ingresses,
        "services": services,
        "endpoints": 3 * services,
        "tls_hosts": tls_hosts,
        "start_to_served_ms": ms(served),
        "table_published_log": published_line,
        "change_to_served_ms_p50": (!latencies.is_empty()).then(|| ms(percentile(&latencies, 50.0))),
        "change_to_served_ms_max": latencies.last().map(|d| ms(*d)),
        "rss_mib_after_start": rss_after_start as f64 / 1024.0,
        "hwm_mib_after_start": hwm_after_start as f64 / 1024.0,
        "rss_mib": rss as f64 / 1024.0,
        "peak_rss_mib": hwm as f64 / 1024.0,
        "publish_metrics": publish_metrics(&client, &wicket).await,
    });
    println!("{line}");
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scale: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
