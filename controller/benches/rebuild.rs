//! One rebuild of the reconcile loop with 1,000 and 5,000 Ingresses already served: the
//! manifests source re-reads its directory after one file changed, then translate and
//! publish. This is the work between a change and the new table in propagation latency,
//! without the debounce.
//!
//! ```text
//! DIR/base.yaml: IngressClass wicket, Service + EndpointSlice "app", n Ingresses
//!                base-i (host base-i.bench.test, / Prefix → app)
//! each iteration: DIR/change.yaml ← one Ingress whose host alternates between two
//!                 names, so every rebuild publishes a new table
//! ```
//!
//! `cargo bench -p controller --bench rebuild`

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use controller::reconcile::Reconciler;
use controller::source::manifests::ManifestDir;
use controller::translate::TranslateConfig;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use proxy::{PublishOutcome, TableHandle};

/// The allocator of the `wicket` binary, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn ingress(out: &mut String, name: &str, host: &str) {
    let _ = write!(
        out,
        "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  \
         namespace: bench\nspec:\n  ingressClassName: wicket\n  rules:\n  - host: {host}\n    \
         http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          \
         service:\n            name: app\n            port:\n              number: 80\n"
    );
}

fn base(n: usize) -> String {
    let mut out = String::from(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: wicket\n\
         spec:\n  controller: wicket.dev/ingress-controller\n\
         ---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app\n  namespace: bench\n\
         spec:\n  ports:\n  - port: 80\n    targetPort: 8080\n\
         ---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: app-1\n  \
         namespace: bench\n  labels:\n    kubernetes.io/service-name: app\naddressType: IPv4\n\
         ports:\n- port: 8080\nendpoints:\n- addresses: [\"10.0.0.1\"]\n\
         - addresses: [\"10.0.0.2\"]\n- addresses: [\"10.0.0.3\"]\n",
    );
    for i in 0..n {
        ingress(
            &mut out,
            &format!("base-{i}"),
            &format!("base-{i}.bench.test"),
        );
    }
    out
}

fn change(dir: &Path, k: usize) {
    let mut text = String::new();
    ingress(&mut text, "change", &format!("change-{}.bench.test", k % 2));
    std::fs::write(dir.join("change.yaml"), text).expect("the change file is written");
}

fn bench_rebuild(c: &mut Criterion) {
    let mut group = c.benchmark_group("rebuild");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    for n in [1_000, 5_000] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("base.yaml"), base(n)).expect("base.yaml is written");
        change(dir.path(), 0);
        let source = ManifestDir::open(dir.path()).expect("the directory opens");
        let handle = Arc::new(TableHandle::new());
        let mut reconciler = Reconciler::new(source, handle.clone(), TranslateConfig::default());
        reconciler.rebuild();
        let routes: usize = handle
            .load()
            .table
            .virtual_hosts
            .iter()
            .map(|v| v.routes.len())
            .sum();
        assert_eq!(routes, n + 1, "every Ingress of the fixture is served");
        let mut k = 0;
        group.bench_with_input(
            BenchmarkId::new("manifests, one file changed", n),
            &n,
            |b, _| {
                b.iter(|| {
                    k += 1;
                    change(dir.path(), k);
                    let outcome = reconciler.rebuild();
                    assert!(matches!(outcome, PublishOutcome::Published { .. }));
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_rebuild);
criterion_main!(benches);
