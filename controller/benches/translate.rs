//! `translate` of 1,000 and 10,000 Ingresses with their Services, EndpointSlices and TLS
//! Secrets, built as k8s-openapi objects (the shape of the scale test):
//!
//! ```text
//! n Ingresses, two paths each (2·n paths), by i % 10:
//!   0..=6 precise host app-i.example.com: / and /api (Prefix); the first n/20 have spec.tls
//!         with their own Secret (ECDSA certificate)
//!   7     wildcard host *.w-i.example.com: / and /static (Prefix)
//!   8     shared host shared.example.com: /team-i (Prefix), /team-i/api (Exact)
//!   9     regex host re-i.example.com: use-regex + rewrite-target /$1, two regex paths
//! n/5 Services (port 80 "http" → targetPort "http"), one EndpointSlice each, three ready
//! endpoints on port 8080. One IngressClass `wicket`.
//! ```
//!
//! `translate/N` translates from scratch; `translate, one Ingress changed/N` is the
//! incremental `Translator` of the reconcile loop, given the same snapshot with one
//! Ingress replaced by a changed copy each time.
//!
//! `cargo bench -p controller --bench translate`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use controller::snapshot::Snapshot;
use controller::translate::{TranslateConfig, Translator, translate};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

/// The allocator of the `wicket` binary, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const NAMESPACE: &str = "bench";

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> Arc<T> {
    Arc::new(serde_json::from_value(value).expect("a valid object"))
}

fn created(i: usize) -> String {
    // One second apart from 2024-01-01T00:00:00Z, so that the oldest-wins order is total.
    let (minutes, seconds) = (i / 60, i % 60);
    let (hours, minutes) = (minutes / 60, minutes % 60);
    let (days, hours) = (hours / 24, hours % 24);
    format!(
        "2024-01-{:02}T{hours:02}:{minutes:02}:{seconds:02}Z",
        days + 1
    )
}

fn path(path: &str, kind: &str, service: usize) -> Value {
    json!({
        "path": path,
        "pathType": kind,
        "backend": { "service": { "name": format!("svc-{service}"), "port": { "name": "http" } } },
    })
}

fn ingress(i: usize, tls: bool) -> Value {
    let service = i / 5;
    let mut annotations = serde_json::Map::new();
    let (host, paths) = match i % 10 {
        7 => (
            format!("*.w-{i}.example.com"),
            vec![
                path("/", "Prefix", service),
                path("/static", "Prefix", service),
            ],
        ),
        8 => (
            "shared.example.com".to_owned(),
            vec![
                path(&format!("/team-{i}"), "Prefix", service),
                path(&format!("/team-{i}/api"), "Exact", service),
            ],
        ),
        9 => {
            annotations.insert(
                "nginx.ingress.kubernetes.io/use-regex".to_owned(),
                json!("true"),
            );
            annotations.insert(
                "nginx.ingress.kubernetes.io/rewrite-target".to_owned(),
                json!("/$1"),
            );
            (
                format!("re-{i}.example.com"),
                vec![
                    path("/api/v[0-9]+/(.*)", "ImplementationSpecific", service),
                    path(r"/assets/(.+)\.(css|js)", "ImplementationSpecific", service),
                ],
            )
        }
        _ => (
            format!("app-{i}.example.com"),
            vec![
                path("/", "Prefix", service),
                path("/api", "Prefix", service),
            ],
        ),
    };
    let mut spec = json!({
        "ingressClassName": "wicket",
        "rules": [{ "host": host, "http": { "paths": paths } }],
    });
    if tls {
        spec["tls"] = json!([{ "hosts": [host], "secretName": format!("tls-{i}") }]);
    }
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": format!("ing-{i}"),
            "namespace": NAMESPACE,
            "creationTimestamp": created(i),
            "annotations": annotations,
        },
        "spec": spec,
    })
}

fn service(s: usize) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": format!("svc-{s}"), "namespace": NAMESPACE },
        "spec": { "ports": [{ "name": "http", "port": 80, "targetPort": "http" }] },
    })
}

fn slice(s: usize) -> Value {
    let endpoints: Vec<Value> = (1..=3)
        .map(|d| {
            json!({
                "addresses": [format!("10.{}.{}.{d}", s / 256, s % 256)],
                "conditions": { "ready": true },
            })
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": format!("svc-{s}-abcde"),
            "namespace": NAMESPACE,
            "labels": { "kubernetes.io/service-name": format!("svc-{s}") },
        },
        "addressType": "IPv4",
        "ports": [{ "name": "http", "port": 8080 }],
        "endpoints": endpoints,
    })
}

fn secret(i: usize) -> Secret {
    let host = format!("app-{i}.example.com");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key pair");
    let params = rcgen::CertificateParams::new(vec![host]).expect("parameters");
    let cert = params.self_signed(&key).expect("certificate");
    Secret {
        metadata: ObjectMeta {
            name: Some(format!("tls-{i}")),
            namespace: Some(NAMESPACE.to_owned()),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".to_owned()),
        data: Some(BTreeMap::from([
            ("tls.crt".to_owned(), ByteString(cert.pem().into_bytes())),
            (
                "tls.key".to_owned(),
                ByteString(key.serialize_pem().into_bytes()),
            ),
        ])),
        ..Secret::default()
    }
}

/// `n` Ingresses, `n / 5` Services and EndpointSlices, `n / 20` TLS Secrets.
fn snapshot(n: usize) -> Snapshot {
    let tls_hosts = n / 20;
    let mut with_tls = 0;
    let mut snapshot = Snapshot::default();
    snapshot.classes.push(from_json(json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": { "name": "wicket" },
        "spec": { "controller": "wicket.dev/ingress-controller" },
    })));
    for i in 0..n {
        let tls = i % 10 < 7 && with_tls < tls_hosts;
        if tls {
            with_tls += 1;
            snapshot.secrets.push(Arc::new(secret(i)));
        }
        snapshot.ingresses.push(from_json(ingress(i, tls)));
    }
    for s in 0..n / 5 {
        snapshot.services.push(from_json(service(s)));
        snapshot.slices.push(from_json(slice(s)));
    }
    snapshot
}

fn bench_translate(c: &mut Criterion) {
    let config = TranslateConfig::default();
    let mut group = c.benchmark_group("translate");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for n in [1_000, 10_000] {
        let snapshot = snapshot(n);
        let (table, issues) = translate(&snapshot, &config);
        assert!(
            issues.is_empty(),
            "the bench snapshot must translate cleanly: {issues:?}"
        );
        let routes: usize = table.virtual_hosts.iter().map(|v| v.routes.len()).sum();
        assert_eq!(routes, 2 * n);
        assert_eq!(table.tls.len(), n / 20);
        group.bench_with_input(BenchmarkId::from_parameter(n), &snapshot, |b, snapshot| {
            b.iter(|| translate(black_box(snapshot), &config));
        });
    }
    group.finish();
}

fn bench_incremental(c: &mut Criterion) {
    let config = TranslateConfig::default();
    let mut group = c.benchmark_group("translate, one Ingress changed");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    for n in [1_000, 10_000] {
        let mut snapshot = snapshot(n);
        let mut translator = Translator::new(config.clone());
        let (first, _) = translator.translate(&snapshot);
        let mut k = 0u64;
        let mut change = |snapshot: &mut Snapshot| {
            k += 1;
            let ingress = Arc::make_mut(&mut snapshot.ingresses[1]);
            ingress.metadata.resource_version = Some(k.to_string());
        };
        change(&mut snapshot);
        let (second, issues) = translator.translate(&snapshot);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(second, first, "the change does not change the table");
        let shared = first
            .virtual_hosts
            .iter()
            .zip(&second.virtual_hosts)
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count();
        assert_eq!(
            shared + 1,
            first.virtual_hosts.len(),
            "one host is built again"
        );
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                change(&mut snapshot);
                translator.translate(black_box(&snapshot))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_translate, bench_incremental);
criterion_main!(benches);
