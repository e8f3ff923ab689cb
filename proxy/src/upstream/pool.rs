//! Idle HTTP/1.1 connections per upstream endpoint, kept across table swaps.
//!
//! [`PoolRegistry`] maps endpoint addresses to [`EndpointPool`]s; it is touched at publish
//! time (to resolve pools into the compiled table) and by the idle sweep, never per request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;

/// The sender half of one upstream HTTP/1.1 connection.
pub type Sender = SendRequest<Incoming>;

struct Idle {
    sender: Sender,
    since: Instant,
}

/// The idle connections of one endpoint.
pub struct EndpointPool {
    addr: SocketAddr,
    idle: Mutex<Vec<Idle>>,
}

impl std::fmt::Debug for EndpointPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointPool")
            .field("addr", &self.addr)
            .field("idle", &self.idle_count())
            .finish()
    }
}

impl EndpointPool {
    /// An empty pool for `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        EndpointPool {
            addr,
            idle: Mutex::new(Vec::new()),
        }
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

    /// The most recently returned idle sender that is not closed.
    pub fn take(&self) -> Option<Sender> {
        let mut idle = self.lock();
        while let Some(entry) = idle.pop() {
            if !entry.sender.is_closed() {
                return Some(entry.sender);
            }
        }
        None
    }

    /// Keeps `sender` for reuse unless it is closed or `max_idle` are already kept.
    pub fn put(&self, sender: Sender, max_idle: usize) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.lock();
        if idle.len() < max_idle {
            idle.push(Idle {
                sender,
                since: Instant::now(),
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

/// Endpoint pools by address. [`resolve`](Self::resolve) during a publish, then
/// [`commit`](Self::commit) to forget pools the new table no longer names.
#[derive(Debug, Default)]
pub struct PoolRegistry {
    current: HashMap<SocketAddr, Arc<EndpointPool>>,
    next: HashMap<SocketAddr, Arc<EndpointPool>>,
}

impl PoolRegistry {
    /// The pool for `addr`, the same one earlier tables used when it existed.
    pub fn resolve(&mut self, addr: SocketAddr) -> Arc<EndpointPool> {
        if let Some(found) = self.next.get(&addr) {
            return found.clone();
        }
        let pool = self
            .current
            .remove(&addr)
            .unwrap_or_else(|| Arc::new(EndpointPool::new(addr)));
        self.next.insert(addr, pool.clone());
        pool
    }

    /// Ends a publish: pools not resolved since the last commit are forgotten (their idle
    /// connections close once no in-flight request holds them).
    pub fn commit(&mut self) {
        self.current = std::mem::take(&mut self.next);
    }

    /// Closes idle connections older than `timeout` in every pool.
    pub fn sweep(&self, timeout: Duration) {
        let now = Instant::now();
        for pool in self.current.values() {
            pool.sweep(now, timeout);
        }
    }

    /// How many endpoints have a pool.
    pub fn len(&self) -> usize {
        self.current.len()
    }

    /// True when no endpoint has a pool.
    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
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
        let a = registry.resolve(addr(1));
        registry.resolve(addr(2));
        registry.commit();
        assert_eq!(registry.len(), 2);

        let a_again = registry.resolve(addr(1));
        registry.commit();
        assert!(Arc::ptr_eq(&a, &a_again));
        assert_eq!(registry.len(), 1);
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
            pool.put(sender, 2);
        }
        assert_eq!(pool.idle_count(), 2, "capped at max_idle");
        pool.sweep(Instant::now(), timeout);
        assert_eq!(pool.idle_count(), 2, "young connections stay");
        assert!(pool.take().is_some());
        pool.sweep(Instant::now() + timeout, timeout);
        assert_eq!(pool.idle_count(), 0, "old connections are closed");
        accept.abort();
    }

    #[test]
    fn empty_pool_takes_nothing() {
        let pool = EndpointPool::new(addr(1));
        assert!(pool.take().is_none());
        pool.sweep(Instant::now(), Duration::from_secs(1));
        assert_eq!(pool.idle_count(), 0);
    }
}
