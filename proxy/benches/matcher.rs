//! `Matcher::find` at 10, 1,000 and 10,000 Ingresses: a precise host, a wildcard host, a
//! host whose paths form one long prefix list, a regex-mode host, and a miss (404).
//! The tables are described in `support/mod.rs`.
//!
//! `cargo bench -p proxy --bench matcher`

mod support;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use proxy::Matcher;
use support::Shape;

const SIZES: [usize; 3] = [10, 1_000, 10_000];

fn find(c: &mut Criterion) {
    let mut group = c.benchmark_group("find");
    for n in SIZES {
        let (matcher, errors) = Matcher::compile(&support::table(n, 0));
        assert!(
            errors.is_empty(),
            "the bench table must compile: {errors:?}"
        );
        for shape in Shape::ALL {
            let (host, path) = shape.request(shape.pick(n));
            assert!(
                matcher.find(&host, &path).is_some(),
                "{host}{path} must match a route"
            );
            group.bench_with_input(BenchmarkId::new(shape.name(), n), &n, |b, _| {
                b.iter(|| matcher.find(black_box(&host), black_box(&path)));
            });
        }
        let (host, path) = ("unknown.example.org", "/index.html");
        assert!(matcher.find(host, path).is_none(), "{host}{path} must miss");
        group.bench_with_input(BenchmarkId::new("miss", n), &n, |b, _| {
            b.iter(|| matcher.find(black_box(host), black_box(path)));
        });
    }
    group.finish();
}

criterion_group!(benches, find);
criterion_main!(benches);
