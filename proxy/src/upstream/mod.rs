//! Sending requests to a backend's endpoints: balancing, connect retries, pooled
//! HTTP/1.1 connections, shared HTTP/2 connections, TLS and timeouts.
//!
//! ```text
//! Upstream { balancer, endpoints: [EndpointPool] } ──send()──► by the pool's transport:
//!   HTTP/1.1 (TCP or TLS): take idle sender or connect; idle sender died ─► retry same endpoint
//!   HTTP/2 (h2c or TLS+h2): the endpoint's shared connection (opened on first use)
//!   connect failed ─► next endpoint (≤ max_tries)
//!   response head ─► UpstreamBody (returns an HTTP/1.1 sender to its pool at end of stream)
//! ```

mod body;
mod connect;
mod pool;
mod transport;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use http::header::HOST;
use http::uri::{Authority, PathAndQuery, Uri};
use http::{Request, Response, Version};

pub use body::{ProxyBody, RequestBody, UpstreamBody};
pub(crate) use connect::Mode;
pub use pool::{EndpointPool, PoolRegistry};

use crate::balance::RoundRobin;
use crate::config::ProxyConfig;
use crate::error::ProxyError;
use crate::metrics::{ConnectFailure, ProxyMetrics, RetryReason};
use body::Lease;
use pool::HostTag;

/// A backend resolved for one table version: its balancer and endpoint pools.
#[derive(Debug)]
pub struct Upstream {
    /// `Backend::name`, for logs.
    pub name: String,
    balancer: RoundRobin,
    endpoints: Box<[Arc<EndpointPool>]>,
}

/// Why one endpoint did not answer.
#[expect(
    clippy::large_enum_variant,
    reason = "short-lived return value; boxing the request would allocate per retry"
)]
enum Attempt {
    /// Nothing was sent; the request comes back for the next endpoint.
    ConnectFailed(io::Error, Request<RequestBody>),
    /// The request was (or may have been) sent: no retry.
    Failed(ProxyError),
}

impl Upstream {
    /// Binds a backend to its shared balancer state and endpoint pools.
    pub fn new(name: String, balancer: RoundRobin, endpoints: Vec<Arc<EndpointPool>>) -> Self {
        Upstream {
            name,
            balancer,
            endpoints: endpoints.into_boxed_slice(),
        }
    }

    /// The endpoint pools, in table order.
    pub fn endpoints(&self) -> &[Arc<EndpointPool>] {
        &self.endpoints
    }

    /// True when the endpoints speak HTTP/2 (`GRPC`, `GRPCS`).
    pub fn is_http2(&self) -> bool {
        self.endpoints
            .first()
            .is_some_and(|pool| pool.transport().is_http2())
    }

    /// Sends `req` to the next endpoint, trying further endpoints while connecting fails.
    /// Returns the response and the endpoint that gave it.
    pub(crate) async fn send(
        &self,
        mut req: Request<RequestBody>,
        config: &ProxyConfig,
        mode: Mode,
        metrics: &ProxyMetrics,
    ) -> Result<(Response<UpstreamBody>, SocketAddr), ProxyError> {
        let count = self.endpoints.len();
        if count == 0 {
            return Err(ProxyError::NoEndpoints {
                backend: self.name.clone(),
            });
        }
        let start = self.balancer.next(count);
        let tries = config.max_tries.clamp(1, count);
        let mut last_error = None;
        for offset in 0..tries {
            let Some(pool) = self.endpoints.get((start + offset) % count) else {
                break;
            };
            match send_to(pool, req, config, mode, metrics).await {
                Ok(response) => return Ok((response, pool.addr())),
                Err(Attempt::Failed(err)) => return Err(err),
                Err(Attempt::ConnectFailed(err, back)) => {
                    tracing::debug!(upstream = %self.name, endpoint = %pool.addr(), error = %err, "connect failed");
                    let failure = ConnectFailure::of(&err);
                    metrics.connect_error(failure);
                    if offset + 1 < tries {
                        metrics.retry(RetryReason::Connect(failure));
                    }
                    req = back;
                    last_error = Some(err);
                }
            }
        }
        Err(ProxyError::Connect(last_error.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::NotConnected, "no endpoint tried")
        })))
    }
}

/// Sends `req` to `pool`'s endpoint with the pool's transport.
async fn send_to(
    pool: &Arc<EndpointPool>,
    req: Request<RequestBody>,
    config: &ProxyConfig,
    mode: Mode,
    metrics: &ProxyMetrics,
) -> Result<Response<UpstreamBody>, Attempt> {
    let host = match pool.transport().per_host() {
        true => request_host(&req),
        false => None,
    };
    if pool.transport().is_http2() {
        send_http2(pool, req, config, host, metrics).await
    } else {
        send_http1(pool, req, config, mode, host, metrics).await
    }
}

/// Sends `req` on an idle HTTP/1.1 connection to `pool`'s endpoint, or on a new one.
async fn send_http1(
    pool: &Arc<EndpointPool>,
    mut req: Request<RequestBody>,
    config: &ProxyConfig,
    mode: Mode,
    host: HostTag,
    metrics: &ProxyMetrics,
) -> Result<Response<UpstreamBody>, Attempt> {
    loop {
        let idle = match mode {
            Mode::Pooled => pool.take(&host),
            Mode::Upgrade => None,
        };
        let fresh = idle.is_none();
        let mut sender = match idle {
            Some(sender) => sender,
            None => {
                let connected = connect::connect_http1(
                    pool.addr(),
                    pool.transport(),
                    host.as_deref(),
                    config.connect_timeout,
                    mode,
                );
                match connected.await {
                    Ok(sender) => sender,
                    Err(err) => return Err(Attempt::ConnectFailed(err, req)),
                }
            }
        };
        if let Err(err) = sender.ready().await {
            if fresh {
                return Err(Attempt::ConnectFailed(io::Error::other(err), req));
            }
            metrics.retry(RetryReason::StaleConnection);
            continue;
        }
        let sent = tokio::time::timeout(config.response_timeout, sender.try_send_request(req));
        match sent.await {
            Err(_elapsed) => return Err(Attempt::Failed(ProxyError::UpstreamTimeout)),
            Ok(Ok(response)) => {
                let lease = match mode {
                    Mode::Pooled => Some(Lease {
                        pool: pool.clone(),
                        sender,
                        host,
                        max_idle: config.max_idle_per_endpoint,
                    }),
                    Mode::Upgrade => None,
                };
                return Ok(response.map(|body| UpstreamBody::new(body, lease)));
            }
            Ok(Err(mut err)) => match err.take_message() {
                // The connection closed before the request was written.
                Some(back) if !fresh => {
                    metrics.retry(RetryReason::StaleConnection);
                    req = back;
                }
                Some(back) => {
                    return Err(Attempt::ConnectFailed(
                        io::Error::other(err.into_error()),
                        back,
                    ));
                }
                None => return Err(Attempt::Failed(ProxyError::Upstream(err.into_error()))),
            },
        }
    }
}

/// Sends `req` on the endpoint's shared HTTP/2 connection. Trailers pass both ways.
async fn send_http2(
    pool: &Arc<EndpointPool>,
    req: Request<RequestBody>,
    config: &ProxyConfig,
    host: HostTag,
    metrics: &ProxyMetrics,
) -> Result<Response<UpstreamBody>, Attempt> {
    let mut req = http2_request(req, pool.transport().scheme());
    loop {
        let (mut sender, fresh) = match pool.http2(&host, config.connect_timeout).await {
            Ok(shared) => shared,
            Err(err) => return Err(Attempt::ConnectFailed(err, req)),
        };
        if let Err(err) = sender.ready().await {
            if fresh {
                return Err(Attempt::ConnectFailed(io::Error::other(err), req));
            }
            metrics.retry(RetryReason::StaleConnection);
            continue;
        }
        let sent = tokio::time::timeout(config.response_timeout, sender.try_send_request(req));
        match sent.await {
            Err(_elapsed) => return Err(Attempt::Failed(ProxyError::UpstreamTimeout)),
            Ok(Ok(response)) => return Ok(response.map(|body| UpstreamBody::new(body, None))),
            Ok(Err(mut err)) => match err.take_message() {
                Some(back) if !fresh => {
                    metrics.retry(RetryReason::StaleConnection);
                    req = back;
                }
                Some(back) => {
                    return Err(Attempt::ConnectFailed(
                        io::Error::other(err.into_error()),
                        back,
                    ));
                }
                None => return Err(Attempt::Failed(ProxyError::Upstream(err.into_error()))),
            },
        }
    }
}

/// An HTTP/2 request: version 2 and an absolute URI carrying `:scheme` and `:authority`
/// (from `Host`, which is then dropped as `:authority` replaces it).
fn http2_request(req: Request<RequestBody>, scheme: http::uri::Scheme) -> Request<RequestBody> {
    let (mut parts, body) = req.into_parts();
    parts.version = Version::HTTP_2;
    let authority = parts
        .headers
        .get(HOST)
        .and_then(|host| Authority::try_from(host.as_bytes()).ok());
    if let Some(authority) = authority {
        let path = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let uri = Uri::builder()
            .scheme(scheme)
            .authority(authority)
            .path_and_query(path)
            .build();
        if let Ok(uri) = uri {
            parts.uri = uri;
            parts.headers.remove(HOST);
        }
    }
    Request::from_parts(parts, body)
}

/// The request's host without port, lower-case: the TLS name of per-host connections.
fn request_host<B>(req: &Request<B>) -> HostTag {
    let host = req.headers().get(HOST)?.to_str().ok()?;
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next()?,
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    (!name.is_empty()).then(|| Arc::from(name.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_host(host: &str) -> Request<()> {
        Request::builder()
            .header(HOST, host)
            .body(())
            .unwrap_or_default()
    }

    #[test]
    fn request_host_drops_port_brackets_and_case() {
        assert_eq!(
            request_host(&with_host("Foo.Example:8443")).as_deref(),
            Some("foo.example")
        );
        assert_eq!(
            request_host(&with_host("foo.example.")).as_deref(),
            Some("foo.example")
        );
        assert_eq!(
            request_host(&with_host("[::1]:443")).as_deref(),
            Some("::1")
        );
        assert_eq!(request_host(&with_host("")), None);
        assert_eq!(request_host(&Request::new(())), None);
    }
}
