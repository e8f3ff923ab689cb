//! The proxy's Prometheus metrics (`wicket_…`), registered once and updated without
//! locks or string formatting on the request path.
//!
//! ```text
//! ProxyMetrics::new(&mut registry)
//!   wicket_requests_total{namespace,ingress,service,method,status_class}   counter
//!   wicket_request_duration_seconds{namespace,ingress,service}             histogram
//!   wicket_upstream_response_duration_seconds{namespace,ingress,service}   histogram (to the response head)
//!   wicket_request_bytes_total / wicket_response_bytes_total{namespace,ingress,service}
//!   wicket_upstream_connect_errors_total{reason} / wicket_upstream_retries_total{reason}
//!   wicket_open_connections{listener}   (upgraded streams count until their tunnel closes)
//!   wicket_tls_handshakes_total{version}
//!   wicket_tls_handshake_errors_total{reason}   wicket_access_log_dropped_total
//! ```
//!
//! A route's series are resolved once per compiled entry ([`RouteSeries`], cached in the
//! entry) and then updated with plain atomics; the `requests` counter of each
//! method × status class is resolved on its first use. Labels never carry a path or a
//! client address, so their number is bounded by the routing table; the series of routes
//! that left the table are dropped ([`ProxyMetrics::retain_routes`]).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use http::Method;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

/// The `method` label values; anything else is `OTHER`.
use crate::table::{Backend, RouteTable, Source};

const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER",
];
/// The `status_class` label values.
const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Index into [`METHODS`].
fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::DELETE => 4,
        Method::CONNECT => 5,
        Method::OPTIONS => 6,
        Method::TRACE => 7,
        Method::PATCH => 8,
        _ => 9,
    }
}

/// The `method` label of `method`: the standard method name, else `OTHER`.
pub fn method_label(method: &Method) -> &'static str {
    METHODS
        .get(method_index(method))
        .copied()
        .unwrap_or("OTHER")
}

/// Index into [`STATUS_CLASSES`]; statuses above 599 count as `5xx`.
fn status_class_index(status: u16) -> usize {
    usize::from(status / 100).clamp(1, 5) - 1
}

/// The `status_class` label of `status`: `1xx` … `5xx`.
pub fn status_class(status: u16) -> &'static str {
    STATUS_CLASSES
        .get(status_class_index(status))
        .copied()
        .unwrap_or("5xx")
}

/// The route labels: the Ingress a route came from and the Service it forwards to. All
/// empty for requests that match nothing.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub namespace: Arc<str>,
    pub ingress: Arc<str>,
    pub service: Arc<str>,
}

impl RouteLabels {
    /// The labels of a route or fallback from `source` that forwards to `backend`, if any.
    pub fn of(source: &Source, backend: Option<&Backend>) -> RouteLabels {
        let (namespace, ingress, service) = label_values(source, backend);
        RouteLabels {
            namespace: Arc::from(namespace),
            ingress: Arc::from(ingress),
            service: Arc::from(service),
        }
    }

    fn values(&self) -> (&str, &str, &str) {
        (&self.namespace, &self.ingress, &self.service)
    }
}

/// `(namespace, ingress, service)` of [`RouteLabels::of`], borrowed.
fn label_values<'a>(
    source: &'a Source,
    backend: Option<&'a Backend>,
) -> (&'a str, &'a str, &'a str) {
    (
        &source.namespace,
        &source.name,
        backend.map_or("", |b| b.service.as_str()),
    )
}

/// The route label sets that have series, and the table generation they were last
/// pruned against.
#[derive(Debug, Default)]
struct TrackedRoutes {
    labels: HashSet<RouteLabels>,
    pruned_for: Option<u64>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    namespace: Arc<str>,
    ingress: Arc<str>,
    service: Arc<str>,
    method: &'static str,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabel {
    listener: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

/// Why connecting to an upstream endpoint failed (the `reason` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectFailure {
    Refused,
    Timeout,
    Tls,
    Other,
}

impl ConnectFailure {
    const ALL: [ConnectFailure; 4] = [
        ConnectFailure::Refused,
        ConnectFailure::Timeout,
        ConnectFailure::Tls,
        ConnectFailure::Other,
    ];

    /// Classifies a connect error: refused, timed out, failed in the TLS handshake, or else.
    pub fn of(err: &std::io::Error) -> ConnectFailure {
        match err.kind() {
            std::io::ErrorKind::ConnectionRefused => ConnectFailure::Refused,
            std::io::ErrorKind::TimedOut => ConnectFailure::Timeout,
            _ if is_tls_error(err) => ConnectFailure::Tls,
            _ => ConnectFailure::Other,
        }
    }

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            ConnectFailure::Refused => "refused",
            ConnectFailure::Timeout => "timeout",
            ConnectFailure::Tls => "tls",
            ConnectFailure::Other => "other",
        }
    }
}

/// True when a rustls error sits somewhere in `err`'s source chain.
fn is_tls_error(err: &std::io::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = err.get_ref().map(|e| e as _);
    while let Some(error) = source {
        if error.is::<rustls::Error>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// Why a request went to another try (the `reason` label of the retries counter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryReason {
    /// Connecting to an endpoint failed; the next endpoint is tried.
    Connect(ConnectFailure),
    /// A pooled idle connection turned out closed; the request goes on a new one.
    StaleConnection,
}

/// Why a TLS handshake with a client failed (the `reason` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeFailure {
    /// Not finished within the header read timeout.
    Timeout,
    /// The client closed or reset the connection.
    Closed,
    /// The client sent something TLS rejects (bad record, unknown SNI, alert …).
    Protocol,
    Other,
}

impl HandshakeFailure {
    const ALL: [HandshakeFailure; 4] = [
        HandshakeFailure::Timeout,
        HandshakeFailure::Closed,
        HandshakeFailure::Protocol,
        HandshakeFailure::Other,
    ];

    /// Classifies the error of a failed server-side handshake.
    pub fn of(err: &std::io::Error) -> HandshakeFailure {
        use std::io::ErrorKind;
        match err.kind() {
            ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe => HandshakeFailure::Closed,
            ErrorKind::TimedOut => HandshakeFailure::Timeout,
            _ if is_tls_error(err) || err.kind() == ErrorKind::InvalidData => {
                HandshakeFailure::Protocol
            }
            _ => HandshakeFailure::Other,
        }
    }

    fn label(self) -> &'static str {
        match self {
            HandshakeFailure::Timeout => "timeout",
            HandshakeFailure::Closed => "closed",
            HandshakeFailure::Protocol => "protocol",
            HandshakeFailure::Other => "other",
        }
    }
}

/// Histogram bucket upper bounds in seconds (Prometheus' defaults, as ingress-nginx).
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// [`BUCKETS`] in nanoseconds.
const BUCKET_NANOS: [u64; 11] = [
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// A duration histogram updated with three relaxed atomic adds and no lock; encoded by
/// prometheus-client like its own histogram.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    inner: Arc<HistogramCells>,
}

#[derive(Debug, Default)]
struct HistogramCells {
    /// Per-bucket (not cumulative) counts; the last one is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        let index = BUCKET_NANOS.partition_point(|bound| *bound < nanos);
        if let Some(bucket) = self.inner.buckets.get(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.inner
            .buckets
            .iter()
            .map(|bucket| bucket.load(Ordering::Relaxed))
            .sum()
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        // The encoder takes per-bucket counts and accumulates them itself.
        let bounds = BUCKETS.iter().copied().chain([f64::INFINITY]);
        let buckets: Vec<(f64, u64)> = bounds
            .zip(&self.inner.buckets)
            .map(|(bound, cell)| (bound, cell.load(Ordering::Relaxed)))
            .collect();
        let count = buckets.iter().map(|(_, count)| count).sum();
        let sum = self.inner.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// The series of one route (or of unmatched requests), resolved once.
#[derive(Debug)]
pub struct RouteSeries {
    /// The labels every series below carries.
    pub labels: RouteLabels,
    /// `namespace-service-port`, the upstream name of the access log; empty when unmatched.
    pub upstream_name: Arc<str>,
    requests: [[OnceLock<Counter>; STATUS_CLASSES.len()]; METHODS.len()],
    request_duration: Histogram,
    upstream_duration: Histogram,
    request_bytes: Counter,
    response_bytes: Counter,
}

impl RouteSeries {
    /// Counts one finished request.
    pub fn request(&self, metrics: &ProxyMetrics, method: &Method, status: u16) {
        let method = method_index(method);
        let class = status_class_index(status);
        let Some(slot) = self.requests.get(method).and_then(|row| row.get(class)) else {
            return;
        };
        slot.get_or_init(|| {
            let labels = RequestLabels {
                namespace: self.labels.namespace.clone(),
                ingress: self.labels.ingress.clone(),
                service: self.labels.service.clone(),
                method: METHODS.get(method).copied().unwrap_or("OTHER"),
                status_class: STATUS_CLASSES.get(class).copied().unwrap_or("5xx"),
            };
            metrics.requests.get_or_create_owned(&labels)
        })
        .inc();
    }

    /// Records the whole request's duration.
    pub fn request_duration(&self, duration: Duration) {
        self.request_duration.observe(duration);
    }

    /// Records the time from sending upstream to the response head.
    pub fn upstream_duration(&self, duration: Duration) {
        self.upstream_duration.observe(duration);
    }

    /// Adds request and response body bytes.
    pub fn bytes(&self, request: u64, response: u64) {
        if request > 0 {
            self.request_bytes.inc_by(request);
        }
        if response > 0 {
            self.response_bytes.inc_by(response);
        }
    }
}

/// Every metric the proxy updates. Build with [`ProxyMetrics::new`].
#[derive(Debug)]
pub struct ProxyMetrics {
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<RouteLabels, Histogram>,
    upstream_duration: Family<RouteLabels, Histogram>,
    request_bytes: Family<RouteLabels, Counter>,
    response_bytes: Family<RouteLabels, Counter>,
    connect_errors: [Counter; 4],
    retries: [Counter; 5],
    open_connections: Family<ListenerLabel, Gauge>,
    tls_handshakes: Family<VersionLabel, Counter>,
    tls_handshake_errors: [Counter; 4],
    access_log_dropped: Counter,
    unmatched: Arc<RouteSeries>,
    /// Every route label set with series, so that those of removed routes can be dropped.
    routes: Mutex<TrackedRoutes>,
}

impl ProxyMetrics {
    /// Registers the proxy's metrics in `registry`.
    pub fn new(registry: &mut Registry) -> Arc<ProxyMetrics> {
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "wicket_requests",
            "Requests answered, by route, method and status class",
            requests.clone(),
        );
        let request_duration = Family::<RouteLabels, Histogram>::default();
        registry.register(
            "wicket_request_duration_seconds",
            "Time from the request head to the end of the response",
            request_duration.clone(),
        );
        let upstream_duration = Family::<RouteLabels, Histogram>::default();
        registry.register(
            "wicket_upstream_response_duration_seconds",
            "Time from sending a request upstream to its response head",
            upstream_duration.clone(),
        );
        let request_bytes = Family::<RouteLabels, Counter>::default();
        registry.register(
            "wicket_request_bytes",
            "Request body bytes received from clients",
            request_bytes.clone(),
        );
        let response_bytes = Family::<RouteLabels, Counter>::default();
        registry.register(
            "wicket_response_bytes",
            "Response body bytes sent to clients",
            response_bytes.clone(),
        );
        let connect = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "wicket_upstream_connect_errors",
            "Failed connection attempts to upstream endpoints, by reason",
            connect.clone(),
        );
        let connect_errors = ConnectFailure::ALL.map(|reason| {
            connect.get_or_create_owned(&ReasonLabel {
                reason: reason.label(),
            })
        });
        let retry = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "wicket_upstream_retries",
            "Requests sent again (to another endpoint or on a new connection), by reason",
            retry.clone(),
        );
        let retries = [
            RetryReason::Connect(ConnectFailure::Refused),
            RetryReason::Connect(ConnectFailure::Timeout),
            RetryReason::Connect(ConnectFailure::Tls),
            RetryReason::Connect(ConnectFailure::Other),
            RetryReason::StaleConnection,
        ]
        .map(|reason| {
            retry.get_or_create_owned(&ReasonLabel {
                reason: retry_label(reason),
            })
        });
        let open_connections = Family::<ListenerLabel, Gauge>::default();
        registry.register(
            "wicket_open_connections",
            "Client connections open now, by listener (upgraded ones until their tunnel closes)",
            open_connections.clone(),
        );
        let tls_handshakes = Family::<VersionLabel, Counter>::default();
        registry.register(
            "wicket_tls_handshakes",
            "Completed client TLS handshakes, by protocol version",
            tls_handshakes.clone(),
        );
        let handshake_errors = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "wicket_tls_handshake_errors",
            "Failed client TLS handshakes, by reason",
            handshake_errors.clone(),
        );
        let tls_handshake_errors = HandshakeFailure::ALL.map(|reason| {
            handshake_errors.get_or_create_owned(&ReasonLabel {
                reason: reason.label(),
            })
        });
        let access_log_dropped = Counter::default();
        registry.register(
            "wicket_access_log_dropped",
            "Access log lines dropped because the writer fell behind",
            access_log_dropped.clone(),
        );
        let mut metrics = ProxyMetrics {
            requests,
            request_duration,
            upstream_duration,
            request_bytes,
            response_bytes,
            connect_errors,
            retries,
            open_connections,
            tls_handshakes,
            tls_handshake_errors,
            access_log_dropped,
            unmatched: Arc::new(placeholder_series()),
            routes: Mutex::default(),
        };
        metrics.unmatched = Arc::new(metrics.series(RouteLabels::default(), Arc::from("")));
        Arc::new(metrics)
    }

    /// Resolves the series of one route.
    pub fn series(&self, labels: RouteLabels, upstream_name: Arc<str>) -> RouteSeries {
        self.tracked().labels.insert(labels.clone());
        RouteSeries {
            request_duration: self.request_duration.get_or_create_owned(&labels),
            upstream_duration: self.upstream_duration.get_or_create_owned(&labels),
            request_bytes: self.request_bytes.get_or_create_owned(&labels),
            response_bytes: self.response_bytes.get_or_create_owned(&labels),
            requests: Default::default(),
            labels,
            upstream_name,
        }
    }

    /// Drops the series of every route label set that `table` (version `generation`) no
    /// longer serves (the series of unmatched requests stay); returns how many label sets
    /// were dropped. Each generation is pruned once, whoever asks. A request still in
    /// flight on a dropped route is not counted.
    pub fn retain_routes(&self, generation: u64, table: &RouteTable) -> usize {
        let mut tracked = self.tracked();
        if tracked.pruned_for == Some(generation) {
            return 0;
        }
        tracked.pruned_for = Some(generation);
        let fallbacks = table
            .virtual_hosts
            .iter()
            .filter_map(|vhost| vhost.default_backend.as_ref())
            .chain(&table.default_backend)
            .map(|fallback| (&fallback.source, &fallback.action));
        let live: HashSet<(&str, &str, &str)> = table
            .virtual_hosts
            .iter()
            .flat_map(|vhost| &vhost.routes)
            .map(|route| (&route.source, &route.action))
            .chain(fallbacks)
            .map(|(source, action)| label_values(source, action.backend()))
            .collect();
        let unmatched = RouteLabels::default();
        let stale: Vec<RouteLabels> = tracked
            .labels
            .iter()
            .filter(|l| **l != unmatched && !live.contains(&l.values()))
            .cloned()
            .collect();
        for labels in &stale {
            tracked.labels.remove(labels);
            self.request_duration.remove(labels);
            self.upstream_duration.remove(labels);
            self.request_bytes.remove(labels);
            self.response_bytes.remove(labels);
            for method in METHODS {
                for status_class in STATUS_CLASSES {
                    self.requests.remove(&RequestLabels {
                        namespace: labels.namespace.clone(),
                        ingress: labels.ingress.clone(),
                        service: labels.service.clone(),
                        method,
                        status_class,
                    });
                }
            }
        }
        stale.len()
    }

    fn tracked(&self) -> std::sync::MutexGuard<'_, TrackedRoutes> {
        // A plain set; a panic elsewhere leaves it usable.
        self.routes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The series of requests that match no route.
    pub fn unmatched(&self) -> &Arc<RouteSeries> {
        &self.unmatched
    }

    /// Counts one failed connection attempt.
    pub fn connect_error(&self, failure: ConnectFailure) {
        if let Some(counter) = self.connect_errors.get(failure as usize) {
            counter.inc();
        }
    }

    /// Counts one retry.
    pub fn retry(&self, reason: RetryReason) {
        let index = match reason {
            RetryReason::Connect(failure) => failure as usize,
            RetryReason::StaleConnection => 4,
        };
        if let Some(counter) = self.retries.get(index) {
            counter.inc();
        }
    }

    /// The open-connections gauge of `listener` (`http` or `https`).
    pub fn open_connections(&self, listener: &'static str) -> Gauge {
        self.open_connections
            .get_or_create_owned(&ListenerLabel { listener })
    }

    /// Counts one completed TLS handshake.
    pub fn tls_handshake(&self, version: Option<rustls::ProtocolVersion>) {
        let version = match version {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "other",
        };
        self.tls_handshakes
            .get_or_create(&VersionLabel { version })
            .inc();
    }

    /// Counts one failed TLS handshake.
    pub fn tls_handshake_error(&self, failure: HandshakeFailure) {
        if let Some(counter) = self.tls_handshake_errors.get(failure as usize) {
            counter.inc();
        }
    }

    /// The counter of dropped access log lines.
    pub fn access_log_dropped(&self) -> &Counter {
        &self.access_log_dropped
    }
}

/// Counts one client connection in `wicket_open_connections` until its last clone is
/// dropped: the connection holds one, and an upgraded stream (WebSocket) taken over from
/// it holds another until its tunnel closes.
#[derive(Clone, Debug)]
pub struct OpenConnection {
    _guard: Arc<OpenGuard>,
}

#[derive(Debug)]
struct OpenGuard(Gauge);

impl OpenConnection {
    /// Counts a new connection in `gauge` (one of [`ProxyMetrics::open_connections`]).
    pub fn new(gauge: &Gauge) -> Self {
        gauge.inc();
        OpenConnection {
            _guard: Arc::new(OpenGuard(gauge.clone())),
        }
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn retry_label(reason: RetryReason) -> &'static str {
    match reason {
        RetryReason::Connect(failure) => failure.label(),
        RetryReason::StaleConnection => "stale_connection",
    }
}

/// Series registered nowhere, replaced before [`ProxyMetrics::new`] returns.
fn placeholder_series() -> RouteSeries {
    RouteSeries {
        labels: RouteLabels::default(),
        upstream_name: Arc::from(""),
        requests: Default::default(),
        request_duration: Histogram::default(),
        upstream_duration: Histogram::default(),
        request_bytes: Counter::default(),
        response_bytes: Counter::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn methods_are_normalised() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::CONNECT), "CONNECT");
        let custom = Method::from_bytes(b"PURGE").unwrap_or_default();
        assert_eq!(method_label(&custom), "OTHER");
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(101), "1xx");
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(308), "3xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(503), "5xx");
        assert_eq!(status_class(999), "5xx");
        assert_eq!(status_class(0), "1xx");
    }

    #[test]
    fn connect_failures_are_classified() {
        use std::io::{Error, ErrorKind};
        let refused = Error::from(ErrorKind::ConnectionRefused);
        assert_eq!(ConnectFailure::of(&refused), ConnectFailure::Refused);
        let timeout = Error::new(ErrorKind::TimedOut, "connect timed out");
        assert_eq!(ConnectFailure::of(&timeout), ConnectFailure::Timeout);
        let tls = Error::other(rustls::Error::DecryptError);
        assert_eq!(ConnectFailure::of(&tls), ConnectFailure::Tls);
        assert_eq!(
            ConnectFailure::of(&Error::other("reset")),
            ConnectFailure::Other
        );
    }

    #[test]
    fn an_open_connection_counts_once_until_its_last_clone_drops() {
        let gauge = Gauge::default();
        let connection = OpenConnection::new(&gauge);
        let tunnel = connection.clone();
        assert_eq!(gauge.get(), 1);
        drop(connection);
        assert_eq!(gauge.get(), 1, "the tunnel keeps the connection open");
        let other = OpenConnection::new(&gauge);
        assert_eq!(gauge.get(), 2);
        drop(tunnel);
        drop(other);
        assert_eq!(gauge.get(), 0);
    }

    #[test]
    fn histogram_buckets_are_cumulative_in_the_exposition() {
        let mut registry = Registry::default();
        let metrics = ProxyMetrics::new(&mut registry);
        let labels = RouteLabels {
            namespace: Arc::from("ns"),
            ingress: Arc::from("web"),
            service: Arc::from("app"),
        };
        let series = metrics.series(labels, Arc::from("ns-app-80"));
        series.request_duration(Duration::from_millis(3));
        series.request_duration(Duration::from_millis(300));
        series.request_duration(Duration::from_secs(60));
        series.request(&metrics, &Method::GET, 200);
        series.request(&metrics, &Method::GET, 204);
        let mut text = String::new();
        assert!(encode(&mut text, &registry).is_ok());
        let route = r#"namespace="ns",ingress="web",service="app""#;
        for line in [
            format!(r#"wicket_request_duration_seconds_bucket{{le="0.005",{route}}} 1"#),
            format!(r#"wicket_request_duration_seconds_bucket{{le="0.25",{route}}} 1"#),
            format!(r#"wicket_request_duration_seconds_bucket{{le="0.5",{route}}} 2"#),
            format!(r#"wicket_request_duration_seconds_bucket{{le="10.0",{route}}} 2"#),
            format!(r#"wicket_request_duration_seconds_bucket{{le="+Inf",{route}}} 3"#),
            format!(r#"wicket_request_duration_seconds_count{{{route}}} 3"#),
            format!(r#"wicket_requests_total{{{route},method="GET",status_class="2xx"}} 2"#),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
