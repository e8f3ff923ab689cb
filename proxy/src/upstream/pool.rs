//! Upstream connections per endpoint, kept across table swaps: idle HTTP/1.1 connections,
//! and the shared multiplexed HTTP/2 connection(s).
//!
//! [`PoolRegistry`] maps (endpoint address, protocol) to [`EndpointPool`]s; it is touched at
//! publish time (to resolve pools into the compiled table) and by the idle sweep, never per
//! request. A connection bound to a request host (TLS with the host as SNI) is only reused
//! for that host.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hyper::client::conn::http1::SendRequest;

use super::connect::{self, H2Sender};
use super::transport::Transport;
use crate::table::UpstreamProtocol;
use crate::tls::TlsError;

/// The sender half of one upstream HTTP/1.1 connection.
pub type Sender = SendRequest<super::body::RequestBody>;

/// The request host a connection is bound to (TLS SNI), `None` when it serves any host.
pub(crate) type HostTag = Option<Arc<str>>;

struct Idle {
    sender: Sender,
    since: Instant,
    host: HostTag,
}

/// The connections of one endpoint spoken to with one protocol.
pub struct EndpointPool {
    addr: SocketAddr,
    transport: Transport,
    idle: Mutex<Vec<Idle>>,
    /// Shared HTTP/2 connections, one per host tag (a single one unless per-host TLS).
    http2: tokio::sync::Mutex<Vec<(HostTag, H2Sender)>>,
}

impl std::fmt::Debug for EndpointPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointPool")
            .field("addr", &self.addr)
            .field("transport", &self.transport)
            .field("idle", &self.idle_count())
            .finish()
    }
}

impl EndpointPool {
    /// An empty HTTP/1.1-over-TCP pool for `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self::with_transport(addr, Transport::Http1)
    }

    pub(crate) fn with_transport(addr: SocketAddr, transport: Transport) -> Self {
        EndpointPool {
            addr,
            transport,
            idle: Mutex::new(Vec::new()),
            http2: tokio::sync::Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The shared HTTP/2 connection for `host`, opened within `timeout` when there is
    /// none or it closed; `true` with a fresh one.
    pub(crate) async fn http2(
        &self,
        host: &HostTag,
        timeout: Duration,
    ) -> std::io::Result<(H2Sender, bool)> {
        let mut shared = self.http2.lock().await;
        shared.retain(|(_, sender)| !sender.is_closed());
        if let Some((_, sender)) = shared.iter().find(|(tag, _)| tag == host) {
            return Ok((sender.clone(), false));
        }
        let sender =
            connect::connect_http2(self.addr, &self.transport, host.as_deref(), timeout).await?;
        shared.push((host.clone(), sender.clone()));
        Ok((sender, true))
    }

    /// The endpoint address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Idle>> {
        // A panic while holding this lock leaves a Vec in a valid state.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The most recently returned idle sender for `host` that is not closed. Closed ones
    /// met on the way are dropped; the idle sweep drops the others.
    pub(crate) fn take(&self, host: &HostTag) -> Option<Sender> {
        let mut idle = self.lock();
        while let Some(found) = idle.iter().rposition(|entry| entry.host == *host) {
            let entry = idle.swap_remove(found);
            if !entry.sender.is_closed() {
                return Some(entry.sender);
            }
        }
        None
    }

    /// Keeps `sender` (bound to `host`) for reuse unless it is closed or `max_idle` are
    /// already kept.
    pub(crate) fn put(&self, sender: Sender, host: HostTag, max_idle: usize) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < max_idle {
            idle.push(Idle {
                sender,
                since: Instant::now(),
                host,
            });
        }
    }

    /// Closes idle connections older than `timeout` or already closed.
    pub fn sweep(&self, now: Instant, timeout: Duration) {
        self.lock()
            .retain(|entry| !entry.sender.is_closed() && now.duration_since(entry.since) < timeout);
    }

    /// How many idle connections are kept.
    pub fn idle_count(&self) -> usize {
        self.lock().len()
    }
}

/// The pools of one address, one per protocol (almost always exactly one).
type Pools = Vec<(UpstreamProtocol, Arc<EndpointPool>)>;

/// Endpoint pools by address and protocol. [`resolve`](Self::resolve) during a publish,
/// then [`commit`](Self::commit) to forget pools the new table no longer names.
#[derive(Debug, Default)]
pub struct PoolRegistry {
    current: HashMap<SocketAddr, Pools>,
    next: HashMap<SocketAddr, Pools>,
}

impl PoolRegistry {
    /// The pool for `addr` spoken to with `protocol`, the same one earlier tables used
    /// when it existed. Fails when the protocol's TLS settings are unusable.
    pub fn resolve(
        &mut self,
        addr: SocketAddr,
        protocol: &UpstreamProtocol,
    ) -> Result<Arc<EndpointPool>, TlsError> {
        if let Some(found) = find(self.next.get(&addr), protocol) {
            return Ok(found);
        }
        let pool = match find(self.current.get(&addr), protocol) {
            Some(pool) => pool,
            None => Arc::new(EndpointPool::with_transport(
                addr,
                Transport::new(protocol)?,
            )),
        };
        self.next
            .entry(addr)
            .or_default()
            .push((protocol.clone(), pool.clone()));
        Ok(pool)
    }

    /// Ends a publish: pools not resolved since the last commit are forgotten (their idle
    /// connections close once no in-flight request holds them).
    pub fn commit(&mut self) {
        let size = self.next.len();
        self.current = std::mem::replace(&mut self.next, HashMap::with_capacity(size));
    }

    /// Closes idle connections older than `timeout` in every pool.
    pub fn sweep(&self, timeout: Duration) {
        let now = Instant::now();
        for (_, pool) in self.current.values().flatten() {
            pool.sweep(now, timeout);
        }
    }

    /// How many pools there are.
    pub fn len(&self) -> usize {
        self.current.values().map(Vec::len).sum()
    }

    /// True when no endpoint has a pool.
    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}

fn find(pools: Option<&Pools>, protocol: &UpstreamProtocol) -> Option<Arc<EndpointPool>> {
    pools?
        .iter()
        .find(|(known, _)| known == protocol)
        .map(|(_, pool)| pool.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn pools_survive_commits_while_named() {
        let mut registry = PoolRegistry::default();
        let http = UpstreamProtocol::Http;
        let a = registry.resolve(addr(1), &http).expect("pool");
        registry.resolve(addr(2), &http).expect("pool");
        registry.commit();
        assert_eq!(registry.len(), 2);

        let a_again = registry.resolve(addr(1), &http).expect("pool");
        registry.commit();
        assert!(Arc::ptr_eq(&a, &a_again));
        assert_eq!(registry.len(), 1);
    }

    #[test]
    fn one_address_has_a_pool_per_protocol() {
        let mut registry = PoolRegistry::default();
        let http = registry
            .resolve(addr(1), &UpstreamProtocol::Http)
            .expect("pool");
        let grpc = registry
            .resolve(addr(1), &UpstreamProtocol::Grpc)
            .expect("pool");
        let https = UpstreamProtocol::Https(Default::default());
        let tls = registry.resolve(addr(1), &https).expect("pool");
        assert!(!Arc::ptr_eq(&http, &grpc));
        assert!(grpc.transport().is_http2() && !http.transport().is_http2());
        assert!(tls.transport().per_host());
        registry.commit();
        assert_eq!(registry.len(), 3);
        let again = registry.resolve(addr(1), &https).expect("pool");
        assert!(Arc::ptr_eq(&tls, &again));

        let bad_name = UpstreamProtocol::Https(crate::table::UpstreamTls {
            server_name: Some("not a name".into()),
            ..Default::default()
        });
        assert!(matches!(
            registry.resolve(addr(1), &bad_name),
            Err(TlsError::InvalidServerName(_))
        ));
    }

    #[tokio::test]
    async fn idle_connections_are_reused_capped_and_swept() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let accept = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let pool = EndpointPool::new(addr);
        let timeout = Duration::from_secs(5);
        for _ in 0..3 {
            let sender = super::super::connect::connect(addr, timeout, super::super::Mode::Pooled)
                .await
                .expect("connect");
            pool.put(sender, None, 2);
        }
        assert_eq!(pool.idle_count(), 2, "capped at max_idle");
        pool.sweep(Instant::now(), timeout);
        assert_eq!(pool.idle_count(), 2, "young connections stay");
        assert!(pool.take(&Some("other.example".into())).is_none());
        assert!(pool.take(&None).is_some());
        pool.sweep(Instant::now() + timeout, timeout);
        assert_eq!(pool.idle_count(), 0, "old connections are closed");
        accept.abort();
    }

    #[test]
    fn empty_pool_takes_nothing() {
        let pool = EndpointPool::new(addr(1));
        assert!(pool.take(&None).is_none());
        pool.sweep(Instant::now(), Duration::from_secs(1));
        assert_eq!(pool.idle_count(), 0);
    }
}
