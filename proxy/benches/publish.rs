//! Table compile and publish with 10,000 Ingresses (20,000 paths, 2,000 Services with
//! three endpoints each, 500 TLS hosts; tables described in `support/mod.rs`):
//! - `compile`: `Matcher::compile` alone, at 1,000 and 10,000 Ingresses;
//! - `publish/changed`: `TableHandle::publish` of a table that differs from the one being
//!   served by one route, with warm registries (certificates already parsed), as on a
//!   routine change;
//! - `publish/unchanged`: the equality check that skips the swap;
//! - `publish/cold`: the first publish into a fresh handle, parsing all 500 certificates.
//!
//! `cargo bench -p proxy --bench publish`

mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use proxy::table::{PathKind, PathRule, RouteTable};
use proxy::{Matcher, PublishOutcome, TableHandle};

const INGRESSES: usize = 10_000;
const TLS_HOSTS: usize = 500;

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(20);
    for n in [1_000, INGRESSES] {
        let table = support::table(n, n / 20);
        group.bench_with_input(BenchmarkId::from_parameter(n), &table, |b, table| {
            b.iter(|| Matcher::compile(black_box(table)));
        });
    }
    group.finish();
}

/// `table` with one more route on its first virtual host.
fn changed(table: &RouteTable) -> RouteTable {
    let mut other = table.clone();
    if let Some(vhost) = other
        .virtual_hosts
        .first_mut()
        .map(std::sync::Arc::make_mut)
        && let Some(route) = vhost.routes.first().cloned()
    {
        let mut extra = route;
        extra.path = PathRule {
            kind: PathKind::Prefix,
            path: "/changed".to_owned(),
        };
        extra.index.path = 99;
        vhost.routes.push(extra);
    }
    other
}

fn publish(c: &mut Criterion) {
    proxy::tls::install_crypto_provider();
    let a = support::table(INGRESSES, TLS_HOSTS);
    let b = changed(&a);
    assert_ne!(a, b);
    let routes: usize = a.virtual_hosts.iter().map(|v| v.routes.len()).sum();
    assert_eq!(routes, 2 * INGRESSES);
    assert_eq!(a.tls.len(), TLS_HOSTS);

    let mut group = c.benchmark_group("publish");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));

    let handle = TableHandle::new();
    let first = handle.publish(a.clone());
    assert!(
        matches!(&first, PublishOutcome::Published { errors, .. } if errors.is_empty()),
        "the bench table must publish cleanly: {first:?}"
    );
    let mut flip = false;
    group.bench_function(BenchmarkId::new("changed", INGRESSES), |bench| {
        bench.iter_batched(
            || {
                flip = !flip;
                if flip { b.clone() } else { a.clone() }
            },
            |table| handle.publish(table),
            BatchSize::LargeInput,
        );
    });

    let current = handle.load().table.clone();
    group.bench_function(BenchmarkId::new("unchanged", INGRESSES), |bench| {
        bench.iter_batched(
            || current.clone(),
            |table| handle.publish(table),
            BatchSize::LargeInput,
        );
    });

    group.bench_function(BenchmarkId::new("cold", INGRESSES), |bench| {
        bench.iter_batched(
            || (TableHandle::new(), a.clone()),
            |(fresh, table)| {
                let outcome = fresh.publish(table);
                (fresh, outcome)
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(benches, compile, publish);
criterion_main!(benches);
