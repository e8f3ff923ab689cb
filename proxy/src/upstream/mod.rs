//! Sending requests to a backend's endpoints: balancing, connect retries, pooled
//! HTTP/1.1 connections and timeouts.
//!
//! ```text
//! Upstream { balancer, endpoints: [EndpointPool] } ──send()──► take idle sender or connect
//!   connect failed ─► next endpoint (≤ max_tries)      idle sender died ─► retry same endpoint
//!   response head ─► UpstreamBody (returns the sender to its pool at end of stream)
//! ```

mod body;
mod connect;
mod pool;

use std::io;
use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;

pub use body::{ProxyBody, UpstreamBody};
pub(crate) use connect::Mode;
pub use pool::{EndpointPool, PoolRegistry};

use crate::balance::RoundRobin;
use crate::config::ProxyConfig;
use crate::error::ProxyError;
use body::Lease;

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
    ConnectFailed(io::Error, Request<Incoming>),
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

    /// Sends `req` to the next endpoint, trying further endpoints while connecting fails.
    pub(crate) async fn send(
        &self,
        mut req: Request<Incoming>,
        config: &ProxyConfig,
        mode: Mode,
    ) -> Result<Response<UpstreamBody>, ProxyError> {
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
            match send_to(pool, req, config, mode).await {
                Ok(response) => return Ok(response),
                Err(Attempt::Failed(err)) => return Err(err),
                Err(Attempt::ConnectFailed(err, back)) => {
                    tracing::debug!(upstream = %self.name, endpoint = %pool.addr(), error = %err, "connect failed");
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

/// Sends `req` on an idle connection to `pool`'s endpoint, or on a new one.
async fn send_to(
    pool: &Arc<EndpointPool>,
    mut req: Request<Incoming>,
    config: &ProxyConfig,
    mode: Mode,
) -> Result<Response<UpstreamBody>, Attempt> {
    loop {
        let idle = match mode {
            Mode::Pooled => pool.take(),
            Mode::Upgrade => None,
        };
        let fresh = idle.is_none();
        let mut sender = match idle {
            Some(sender) => sender,
            None => match connect::connect(pool.addr(), config.connect_timeout, mode).await {
                Ok(sender) => sender,
                Err(err) => return Err(Attempt::ConnectFailed(err, req)),
            },
        };
        if let Err(err) = sender.ready().await {
            if fresh {
                return Err(Attempt::ConnectFailed(io::Error::other(err), req));
            }
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
                        max_idle: config.max_idle_per_endpoint,
                    }),
                    Mode::Upgrade => None,
                };
                return Ok(response.map(|body| UpstreamBody::new(body, lease)));
            }
            Ok(Err(mut err)) => match err.take_message() {
                // The connection closed before the request was written.
                Some(back) if !fresh => req = back,
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
