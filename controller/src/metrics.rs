//! The controller's Prometheus metrics (`wicket_table_*`, `wicket_watch_events_total`,
//! `wicket_leader`, `wicket_certificate_not_after_seconds`), registered in the same
//! [`Registry`] as the proxy's and served on the admin listener's `/metrics`.
//!
//! ```text
//! rebuild: translate + publish ─► build duration, publishes / skipped, last publish time,
//!                                 routes / hosts / endpoints, certificate not-after per Secret
//! source events ─► watch events {kind}      election ─► leader (Kubernetes mode only)
//! ```
//!
//! Labels are bounded by the objects in the table (Secret names, object kinds); no request
//! data ever becomes a label.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicI64, AtomicU64},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use proxy::{
    PublishOutcome, RouteTable,
    table::{Action, Certificate},
};

/// `kind` label of `wicket_watch_events_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

/// `secret` label (`namespace/name`) of `wicket_certificate_not_after_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SecretLabel {
    pub secret: String,
}

/// The `kind` of manifest-file change events (`--manifests` mode).
pub const MANIFEST_KIND: &str = "manifest";

/// The controller's metrics. Cheap to share: every field is a handle.
#[derive(Debug)]
pub struct ControllerMetrics {
    publishes: Counter,
    publish_skipped: Counter,
    last_publish: Gauge<f64, AtomicU64>,
    build_duration: Histogram,
    routes: Gauge,
    hosts: Gauge,
    endpoints: Gauge,
    watch_events: Family<KindLabel, Counter>,
    leader: Option<Gauge>,
    not_after: Family<SecretLabel, Gauge<i64, AtomicI64>>,
    /// The Secrets currently in `not_after`, so that removed ones are dropped.
    certificates: Mutex<BTreeSet<String>>,
}

impl ControllerMetrics {
    /// Registers every controller metric in `registry`. `leader_election`: whether
    /// `wicket_leader` exists (Kubernetes mode); without an election it is absent.
    pub fn new(registry: &mut Registry, leader_election: bool) -> Arc<Self> {
        let metrics = Self {
            publishes: Counter::default(),
            publish_skipped: Counter::default(),
            last_publish: Gauge::default(),
            // 1 ms … ~8 s.
            build_duration: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            routes: Gauge::default(),
            hosts: Gauge::default(),
            endpoints: Gauge::default(),
            watch_events: Family::default(),
            leader: leader_election.then(Gauge::default),
            not_after: Family::default(),
            certificates: Mutex::new(BTreeSet::new()),
        };
        // Counters get their `_total` suffix from the encoder.
        registry.register(
            "wicket_table_publishes",
            "Routing tables compiled and swapped into the proxy",
            metrics.publishes.clone(),
        );
        registry.register(
            "wicket_table_publish_skipped",
            "Rebuilds whose table equalled the one being served (nothing swapped)",
            metrics.publish_skipped.clone(),
        );
        registry.register(
            "wicket_table_last_publish_timestamp_seconds",
            "Unix time of the last table publish",
            metrics.last_publish.clone(),
        );
        registry.register(
            "wicket_table_build_duration_seconds",
            "Time to translate the objects and compile the routing table",
            metrics.build_duration.clone(),
        );
        registry.register(
            "wicket_table_routes",
            "Path rules in the routing table being served",
            metrics.routes.clone(),
        );
        registry.register(
            "wicket_table_hosts",
            "Virtual hosts (host patterns, the host-less one included) in the table being served",
            metrics.hosts.clone(),
        );
        registry.register(
            "wicket_table_endpoints",
            "Distinct endpoint addresses in the table being served",
            metrics.endpoints.clone(),
        );
        registry.register(
            "wicket_watch_events",
            "Object events seen by the source, by kind (manifests mode: kind=\"manifest\" file changes)",
            metrics.watch_events.clone(),
        );
        if let Some(leader) = &metrics.leader {
            registry.register(
                "wicket_leader",
                "1 while this replica holds the leader Lease, else 0",
                leader.clone(),
            );
        }
        registry.register(
            "wicket_certificate_not_after_seconds",
            "Unix time at which the leaf certificate of a Secret in the table expires",
            metrics.not_after.clone(),
        );
        Arc::new(metrics)
    }

    /// Records the time one rebuild took to read the source, translate and publish.
    pub fn observe_build(&self, took: Duration) {
        self.build_duration.observe(took.as_secs_f64());
    }

    /// Records one publish attempt; `table` is what is being served after it.
    pub fn record_publish(&self, outcome: &PublishOutcome, table: &RouteTable, now: SystemTime) {
        match outcome {
            PublishOutcome::Published { .. } => {
                self.publishes.inc();
                let seconds = now
                    .duration_since(UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                self.last_publish.set(seconds);
                let counts = TableCounts::of(table);
                self.routes.set(gauge_value(counts.routes));
                self.hosts.set(gauge_value(counts.hosts));
                self.endpoints.set(gauge_value(counts.endpoints));
                self.set_certificates(table);
            }
            PublishOutcome::Unchanged => {
                self.publish_skipped.inc();
            }
        }
    }

    /// Counts one source event of `kind` (`Ingress`, `Service`, … or [`MANIFEST_KIND`]).
    pub fn watch_event(&self, kind: &str) {
        self.watch_events
            .get_or_create(&KindLabel {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// A counter handle for events of one `kind`, for hot callbacks.
    pub fn watch_event_counter(&self, kind: &str) -> Counter {
        self.watch_events.get_or_create_owned(&KindLabel {
            kind: kind.to_owned(),
        })
    }

    /// Whether this replica leads now (ignored without an election).
    pub fn set_leader(&self, leading: bool) {
        if let Some(leader) = &self.leader {
            leader.set(i64::from(leading));
        }
    }

    /// Sets one series per certificate in the table and drops series of Secrets no longer in it.
    fn set_certificates(&self, table: &RouteTable) {
        let current = not_after_by_secret(table);
        let mut previous = self
            .certificates
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for gone in previous.iter().filter(|s| !current.contains_key(*s)) {
            self.not_after.remove(&SecretLabel {
                secret: gone.clone(),
            });
        }
        for (secret, seconds) in &current {
            self.not_after
                .get_or_create(&SecretLabel {
                    secret: secret.clone(),
                })
                .set(*seconds);
        }
        *previous = current.into_keys().collect();
    }
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The sizes reported by the `wicket_table_*` gauges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableCounts {
    pub routes: usize,
    pub hosts: usize,
    pub endpoints: usize,
}

impl TableCounts {
    pub fn of(table: &RouteTable) -> Self {
        let mut endpoints: BTreeSet<SocketAddr> = BTreeSet::new();
        let mut add = |action: &Action| {
            if let Action::Forward(backend) = action {
                endpoints.extend(backend.endpoints.iter().copied());
            }
        };
        for vhost in &table.virtual_hosts {
            vhost.routes.iter().for_each(|r| add(&r.action));
            if let Some(fallback) = &vhost.default_backend {
                add(&fallback.action);
            }
        }
        if let Some(fallback) = &table.default_backend {
            add(&fallback.action);
        }
        Self {
            routes: table.virtual_hosts.iter().map(|v| v.routes.len()).sum(),
            hosts: table.virtual_hosts.len(),
            endpoints: endpoints.len(),
        }
    }
}

/// The leaf `notAfter` (Unix seconds) of every certificate in the table, by Secret
/// (`namespace/name`). Certificates whose PEM does not parse are left out (the proxy
/// already reports them as unusable).
pub fn not_after_by_secret(table: &RouteTable) -> BTreeMap<String, i64> {
    table
        .tls
        .iter()
        .map(|binding| &binding.certificate)
        .chain(table.default_certificate.as_ref())
        .filter_map(|certificate| Some((certificate.source.clone(), leaf_not_after(certificate)?)))
        .collect()
}

/// The `notAfter` of the first certificate in the chain, in Unix seconds.
pub fn leaf_not_after(certificate: &Certificate) -> Option<i64> {
    let pem = x509_parser::pem::Pem::iter_from_buffer(&certificate.chain_pem)
        .filter_map(Result::ok)
        .find(|pem| pem.label == "CERTIFICATE")?;
    let x509 = pem.parse_x509().ok()?;
    Some(x509.validity().not_after.timestamp())
}

#[cfg(test)]
mod tests;
