//! The HTTP and HTTPS listeners: accept loop, TLS handshake, per-connection HTTP/1.1 + h2c service.
//!
//! ```text
//! TcpListener ─accept─► ConnInfo { peer, local, tls } ─► drain.track() ─► serve_connection(io)
//!   HTTPS: TLS handshake (≤ header_read_timeout; SNI picks the certificate)
//!          ─► HTTP/2 or HTTP/1.1 by the connection preface, which agrees with the ALPN
//!             protocol a client negotiated (h2 clients open with the HTTP/2 preface)
//!   both: the first bytes within header_read_timeout (FirstBytes), then hyper's own
//!         per-request header timer (HTTP/1.1)
//! drain.stop_accepting() ─► the listener closes, serve_* return; connections finish
//!                           under the drain (see [`crate::drain`])
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use crate::config::ProxyConfig;
use crate::drain::{Drain, Tracked};
use crate::handle::TableHandle;
use crate::headers::Forwarded;
use crate::metrics::{HandshakeFailure, OpenConnection, ProxyMetrics};
use crate::service::{self, ConnContext};
use crate::telemetry::Telemetry;
use crate::tls;

mod first_bytes;

use self::first_bytes::FirstBytes;

/// hyper's smallest allowed HTTP/1 read buffer.
const MIN_HEADER_BUFFER: usize = 8 * 1024;

/// Where a connection comes from and how it arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// The client address.
    pub peer: SocketAddr,
    /// The listener address the client connected to.
    pub local: SocketAddr,
    /// True when the connection is TLS-terminated by the proxy.
    pub tls: bool,
}

/// Serves plain HTTP (HTTP/1.1 and h2c prior knowledge) on `listener` until
/// [`Drain::stop_accepting`]; then closes the listener and returns. The open connections
/// keep being served, tracked by `drain` (see [`crate::drain`]).
pub async fn serve_http(
    listener: TcpListener,
    handle: Arc<TableHandle>,
    config: Arc<ProxyConfig>,
    telemetry: Telemetry,
    drain: Drain,
) -> std::io::Result<()> {
    let builder = Arc::new(connection_builder(&config));
    let open = telemetry.metrics.open_connections("http");
    let shared = Shared {
        handle,
        config,
        telemetry,
        drain,
    };
    accept_loop(listener, shared, false, move |stream, info, conn| {
        let open = OpenConnection::new(&open);
        tokio::spawn(serve_connection(stream, info, builder.clone(), conn, open));
    })
    .await
}

/// Serves HTTPS on `listener` like [`serve_http`]. The certificate of each handshake
/// comes from the table being served (SNI); HTTP/2 or HTTP/1.1 follows the negotiated
/// ALPN protocol.
pub async fn serve_https(
    listener: TcpListener,
    handle: Arc<TableHandle>,
    config: Arc<ProxyConfig>,
    telemetry: Telemetry,
    drain: Drain,
) -> std::io::Result<()> {
    let tls = tls::server_config(handle.clone()).map_err(std::io::Error::other)?;
    serve_https_with(listener, handle, config, tls, telemetry, drain).await
}

/// [`serve_https`] with a caller-built rustls configuration.
pub async fn serve_https_with(
    listener: TcpListener,
    handle: Arc<TableHandle>,
    config: Arc<ProxyConfig>,
    tls: Arc<rustls::ServerConfig>,
    telemetry: Telemetry,
    drain: Drain,
) -> std::io::Result<()> {
    let builder = Arc::new(connection_builder(&config));
    let acceptor = TlsAcceptor::from(tls);
    let open = telemetry.metrics.open_connections("https");
    let shared = Shared {
        handle,
        config,
        telemetry,
        drain,
    };
    accept_loop(listener, shared, true, move |stream, info, mut conn| {
        let acceptor = acceptor.clone();
        let builder = builder.clone();
        let open = OpenConnection::new(&open);
        let span = tracing::debug_span!("tls", peer = %info.peer);
        tokio::spawn(
            async move {
                let timeout = conn.shared.config.header_read_timeout;
                let handshake = tokio::time::timeout(timeout, acceptor.accept(stream));
                let metrics = &conn.shared.telemetry.metrics;
                let stream = match conn.tracked.run(handshake).await {
                    Some(Ok(Ok(stream))) => stream,
                    Some(Ok(Err(err))) => {
                        tracing::debug!(error = %err, "TLS handshake failed");
                        metrics.tls_handshake_error(HandshakeFailure::of(&err));
                        return;
                    }
                    Some(Err(_)) => {
                        tracing::debug!("TLS handshake timed out");
                        metrics.tls_handshake_error(HandshakeFailure::Timeout);
                        return;
                    }
                    None => return,
                };
                let session = stream.get_ref().1;
                metrics.tls_handshake(session.protocol_version());
                tracing::trace!(alpn = ?session.alpn_protocol(), "TLS established");
                serve_connection(stream, info, builder, conn, open).await;
            }
            .instrument(span),
        );
    })
    .await
}

/// What every connection of one listener is served with.
#[derive(Clone)]
struct Shared {
    handle: Arc<TableHandle>,
    config: Arc<ProxyConfig>,
    telemetry: Telemetry,
    drain: Drain,
}

/// An accepted connection's share of the listener, and its place in the drain.
struct Accepted {
    shared: Shared,
    tracked: Tracked,
}

/// Accepts on `listener` and hands each connection to `serve` until the drain stops
/// accepting; then closes the listener.
async fn accept_loop(
    listener: TcpListener,
    shared: Shared,
    tls: bool,
    serve: impl Fn(TcpStream, ConnInfo, Accepted),
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(sweep_idle(
        shared.handle.clone(),
        shared.telemetry.metrics.clone(),
        shared.config.upstream_idle_timeout,
    ));
    let _stop_sweeper = AbortOnDrop(sweeper);
    let drain = shared.drain.clone();
    let stopping = drain.stopping();
    tokio::pin!(stopping);
    loop {
        let accepted = tokio::select! {
            () = &mut stopping => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: back off briefly, keep serving.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %err, "TCP_NODELAY failed");
        }
        let local = match stream.local_addr() {
            Ok(local) => local,
            Err(err) => {
                tracing::debug!(%peer, error = %err, "connection gone before serving");
                continue;
            }
        };
        let info = ConnInfo { peer, local, tls };
        let accepted = Accepted {
            shared: shared.clone(),
            tracked: drain.track(),
        };
        serve(stream, info, accepted);
    }
    drop(listener);
    Ok(())
}

/// The hyper connection settings for client-facing connections.
pub fn connection_builder(config: &ProxyConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(config.max_header_bytes.max(MIN_HEADER_BUFFER));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX));
    builder
}

/// Serves one accepted connection to its end (or until the drain cuts it). `io` is the
/// raw TCP stream or the decrypted TLS stream.
async fn serve_connection<I>(
    io: I,
    info: ConnInfo,
    builder: Arc<auto::Builder<TokioExecutor>>,
    conn: Accepted,
    open: OpenConnection,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let span = tracing::debug_span!("conn", peer = %info.peer, local = %info.local, tls = info.tls);
    let Accepted {
        shared,
        mut tracked,
    } = conn;
    let io = FirstBytes::new(io, shared.config.header_read_timeout);
    let ctx = Arc::new(ConnContext {
        handle: shared.handle,
        config: shared.config,
        forwarded: Forwarded::new(info.peer, info.local, info.tls),
        scheme: if info.tls { "https" } else { "http" },
        tls: info.tls,
        peer: info.peer,
        telemetry: shared.telemetry,
        drain: shared.drain,
        open,
    });
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let ctx = ctx.clone();
        async move { Ok::<_, std::convert::Infallible>(service::serve(&ctx, req).await) }
    });
    async move {
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        match tracked.serve(conn).await {
            Some(Ok(())) => {}
            Some(Err(err)) => tracing::debug!(error = %err, "connection ended with an error"),
            None => tracing::debug!("connection cut at shutdown"),
        }
    }
    .instrument(span)
    .await;
}

/// Closes idle upstream connections older than `timeout`, checking every `timeout / 2`;
/// at the same pace, after the table changed, drops the metric series of removed routes
/// (once per version, however many listeners sweep).
async fn sweep_idle(handle: Arc<TableHandle>, metrics: Arc<ProxyMetrics>, timeout: Duration) {
    let period = (timeout / 2).max(Duration::from_millis(100));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        handle.sweep_idle(timeout);
        let active = handle.load();
        let dropped = metrics.retain_routes(active.generation, &active.table);
        if dropped > 0 {
            tracing::debug!(dropped, "metric series of removed routes dropped");
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
