//! Per-request telemetry: what a request records while it is served, and the response
//! body that counts bytes and reports the request (metrics + access log) when it ends.
//!
//! ```text
//! serve(): Exchange::begin ─► route matched: Exchange.route = RouteTelemetry's cached series
//!          upstream answered: endpoint, status, time to head
//!          Response<Metered> ─► body frames counted ─► end of body, error or drop:
//!          Exchange::finish ─► requests_total, durations, bytes ─► access log Record
//! ```
//!
//! Labels are built once per compiled entry ([`RouteTelemetry`]); their series are
//! resolved on the entry's first request and cached in it, so a request formats no
//! string and takes no lock.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{REFERER, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, Uri, Version};
use http_body::{Body, Frame, SizeHint};
use prometheus_client::registry::Registry;

use crate::access_log::{AccessLog, Record};
use crate::metrics::{ProxyMetrics, RouteLabels, RouteSeries};
use crate::table::{Backend, Source};
use crate::upstream::ProxyBody;

/// What the proxy reports to: its metrics and its access log. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Telemetry {
    pub metrics: Arc<ProxyMetrics>,
    pub access_log: AccessLog,
}

impl Telemetry {
    /// Reports to `metrics` and `access_log`.
    pub fn new(metrics: Arc<ProxyMetrics>, access_log: AccessLog) -> Telemetry {
        Telemetry {
            metrics,
            access_log,
        }
    }

    /// Metrics registered nowhere and no access log.
    pub fn disabled() -> Telemetry {
        Telemetry {
            metrics: ProxyMetrics::new(&mut Registry::default()),
            access_log: AccessLog::off(),
        }
    }

    /// The series of `route`, cached in it for these metrics.
    pub(crate) fn series(&self, route: &RouteTelemetry) -> Arc<RouteSeries> {
        let key = Arc::as_ptr(&self.metrics) as usize;
        let (cached_for, series) = route.series.get_or_init(|| (key, self.resolve(route)));
        match *cached_for == key {
            true => series.clone(),
            // Another `Telemetry` serves the same table: resolve without caching.
            false => self.resolve(route),
        }
    }

    fn resolve(&self, route: &RouteTelemetry) -> Arc<RouteSeries> {
        Arc::new(
            self.metrics
                .series(route.labels.clone(), route.upstream_name.clone()),
        )
    }
}

/// The labels of one compiled entry, and its series once resolved.
#[derive(Debug, Default)]
pub struct RouteTelemetry {
    labels: RouteLabels,
    upstream_name: Arc<str>,
    series: OnceLock<(usize, Arc<RouteSeries>)>,
}

impl RouteTelemetry {
    /// Labels for an entry from `source` that forwards to `backend`, if any.
    pub fn new(source: &Source, backend: Option<&Backend>) -> RouteTelemetry {
        RouteTelemetry {
            labels: RouteLabels::of(source, backend),
            upstream_name: Arc::from(backend.map_or("", |b| b.name.as_str())),
            series: OnceLock::new(),
        }
    }

    /// The route's labels.
    pub fn labels(&self) -> &RouteLabels {
        &self.labels
    }
}

/// One request's telemetry, from its head to the end of its response body.
#[derive(Debug)]
pub(crate) struct Exchange {
    telemetry: Telemetry,
    start: Instant,
    peer: SocketAddr,
    method: Method,
    version: Version,
    /// The request target, the referer and user agent: kept only for the access log.
    logged: Option<Logged>,
    request_body: Option<Arc<AtomicU64>>,
    route: Option<Arc<RouteSeries>>,
    upstream: Option<UpstreamInfo>,
    status: u16,
    bytes_sent: u64,
}

#[derive(Debug)]
struct Logged {
    uri: Uri,
    referer: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
    head_length: u64,
    request_id: HeaderValue,
}

/// The upstream exchange behind a response.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UpstreamInfo {
    pub(crate) addr: SocketAddr,
    pub(crate) status: u16,
    pub(crate) elapsed: Duration,
}

impl Exchange {
    /// Starts recording `req` from `peer`.
    pub(crate) fn begin<B>(
        telemetry: &Telemetry,
        peer: SocketAddr,
        req: &Request<B>,
        request_id: &HeaderValue,
    ) -> Exchange {
        let logged = telemetry.access_log.is_on().then(|| {
            let headers = req.headers();
            Logged {
                uri: req.uri().clone(),
                referer: headers.get(REFERER).cloned(),
                user_agent: headers.get(USER_AGENT).cloned(),
                head_length: head_length(req.method(), req.uri(), headers),
                request_id: request_id.clone(),
            }
        });
        Exchange {
            telemetry: telemetry.clone(),
            start: Instant::now(),
            peer,
            method: req.method().clone(),
            version: req.version(),
            logged,
            request_body: None,
            route: None,
            upstream: None,
            status: 0,
            bytes_sent: 0,
        }
    }

    /// The request matched a route (or a default backend).
    pub(crate) fn set_route(&mut self, series: Arc<RouteSeries>) {
        self.route = Some(series);
    }

    /// Counts the request body as it streams upstream.
    pub(crate) fn count_request_body(&mut self) -> Arc<AtomicU64> {
        self.request_body
            .get_or_insert_with(|| Arc::new(AtomicU64::new(0)))
            .clone()
    }

    /// The upstream that answered.
    pub(crate) fn set_upstream(&mut self, upstream: UpstreamInfo) {
        self.upstream = Some(upstream);
    }

    /// The telemetry this exchange reports to.
    pub(crate) fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Wraps the response body so that the request is reported when the body ends.
    pub(crate) fn respond(
        mut self,
        response: http::Response<ProxyBody>,
    ) -> http::Response<Metered> {
        self.status = response.status().as_u16();
        response.map(|inner| Metered {
            inner,
            exchange: Some(self),
        })
    }

    fn finish(self) {
        let elapsed = self.start.elapsed();
        let metrics = &self.telemetry.metrics;
        let series = self.route.as_ref().unwrap_or_else(|| metrics.unmatched());
        let request_bytes = self
            .request_body
            .as_ref()
            .map_or(0, |bytes| bytes.load(Ordering::Relaxed));
        series.request(metrics, &self.method, self.status);
        series.request_duration(elapsed);
        if let Some(upstream) = &self.upstream {
            series.upstream_duration(upstream.elapsed);
        }
        series.bytes(request_bytes, self.bytes_sent);
        let Some(logged) = self.logged else {
            return;
        };
        let record = Record {
            remote_addr: self.peer,
            time: SystemTime::now(),
            method: self.method,
            uri: logged.uri,
            version: self.version,
            status: self.status,
            bytes_sent: self.bytes_sent,
            referer: logged.referer,
            user_agent: logged.user_agent,
            request_length: logged.head_length + request_bytes,
            request_time: elapsed,
            route: self.route,
            upstream_addr: self.upstream.map(|u| u.addr),
            upstream_status: self.upstream.map(|u| u.status),
            upstream_response_time: self.upstream.map(|u| u.elapsed),
            upstream_response_length: self.upstream.map(|_| self.bytes_sent),
            request_id: logged.request_id,
        };
        self.telemetry.access_log.log(record);
    }
}

/// An HTTP/1-style estimate of the request head's size: request line and header fields.
fn head_length(method: &Method, uri: &Uri, headers: &HeaderMap) -> u64 {
    let line = method.as_str().len() + uri.path_and_query().map_or(1, |pq| pq.as_str().len()) + 12;
    let fields: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    (line + fields + 2) as u64
}

/// The response body sent to clients: counts the bytes and reports the request once the
/// body has ended, failed, or been dropped (the client went away).
pub struct Metered {
    inner: ProxyBody,
    exchange: Option<Exchange>,
}

impl Metered {
    fn finish(&mut self) {
        if let Some(exchange) = self.exchange.take() {
            exchange.finish();
        }
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Body for Metered {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(exchange)) = (frame.data_ref(), &mut this.exchange) {
                    exchange.bytes_sent += data.len() as u64;
                }
                if this.inner.is_end_stream() {
                    this.finish();
                }
            }
            Poll::Ready(_) => this.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_come_from_the_source_and_backend() {
        let source = Source {
            created: 0,
            namespace: "shop".into(),
            name: "front".into(),
        };
        let cart = Backend {
            name: "shop-cart-http-web".into(),
            service: "cart".into(),
            endpoints: Vec::new(),
            protocol: Default::default(),
        };
        let route = RouteTelemetry::new(&source, Some(&cart));
        assert_eq!(&*route.labels().namespace, "shop");
        assert_eq!(&*route.labels().ingress, "front");
        assert_eq!(&*route.labels().service, "cart");
        assert_eq!(&*route.upstream_name, "shop-cart-http-web");
        let unavailable = RouteTelemetry::new(&source, None);
        assert_eq!(&*unavailable.labels().service, "");
    }

    #[test]
    fn series_are_cached_per_metrics() {
        let telemetry = Telemetry::disabled();
        let route = RouteTelemetry::new(&Source::default(), None);
        let first = telemetry.series(&route);
        assert!(Arc::ptr_eq(&first, &telemetry.series(&route)));
        let other = Telemetry::disabled();
        assert!(!Arc::ptr_eq(&first, &other.series(&route)));
    }
}
