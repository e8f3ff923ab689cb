//! The HTTP and HTTPS listeners: accept loop, TLS handshake, per-connection HTTP/1.1 + h2c service, graceful drain.
//!
//! ```text
//! TcpListener ─accept─► ConnInfo { peer, local, tls } ─► serve_connection(io)
//!   HTTPS: TLS handshake (≤ header_read_timeout; SNI picks the certificate)
//!          ─► HTTP/2 or HTTP/1.1 by the connection preface, which agrees with the ALPN
//!             protocol a client negotiated (h2 clients open with the HTTP/2 preface)
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use crate::config::ProxyConfig;
use crate::handle::TableHandle;
use crate::headers::Forwarded;
use crate::service::{self, ConnContext};
use crate::tls;

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

/// Serves plain HTTP (HTTP/1.1 and h2c prior knowledge) on `listener` until `shutdown`
/// completes, then stops accepting and waits for open connections to finish.
pub async fn serve_http(
    listener: TcpListener,
    handle: Arc<TableHandle>,
    config: Arc<ProxyConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let builder = Arc::new(connection_builder(&config));
    accept_loop(
        listener,
        handle,
        config,
        shutdown,
        false,
        move |stream, info, conn| {
            serve_connection(
                stream,
                info,
                builder.clone(),
                conn.handle,
                conn.config,
                conn.watcher,
            );
        },
    )
    .await
}

/// Serves HTTPS on `listener` until `shutdown` completes, like [`serve_http`]. The
/// certificate of each handshake comes from the table being served (SNI); HTTP/2 or
/// HTTP/1.1 follows the negotiated ALPN protocol.
pub async fn serve_https(
    listener: TcpListener,
    handle: Arc<TableHandle>,
    config: Arc<ProxyConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = tls::server_config(handle.clone()).map_err(std::io::Error::other)?;
    serve_https_with(listener, handle, config, tls, shutdown).await
}

/// [`serve_https`] with a caller-built rustls configuration.
pub async fn serve_https_with(
    listener: TcpListener,
    handle: Arc<TableHandle>,
    config: Arc<ProxyConfig>,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let builder = Arc::new(connection_builder(&config));
    let acceptor = TlsAcceptor::from(tls);
    accept_loop(
        listener,
        handle,
        config,
        shutdown,
        true,
        move |stream, info, conn| {
            let acceptor = acceptor.clone();
            let builder = builder.clone();
            let span = tracing::debug_span!("tls", peer = %info.peer);
            tokio::spawn(
                async move {
                    let timeout = conn.config.header_read_timeout;
                    let stream = match tokio::time::timeout(timeout, acceptor.accept(stream)).await
                    {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(err)) => {
                            tracing::debug!(error = %err, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake timed out");
                            return;
                        }
                    };
                    tracing::trace!(alpn = ?stream.get_ref().1.alpn_protocol(), "TLS established");
                    serve_connection(
                        stream,
                        info,
                        builder,
                        conn.handle,
                        conn.config,
                        conn.watcher,
                    );
                }
                .instrument(span),
            );
        },
    )
    .await
}

/// What an accepted connection is served with.
struct Accepted {
    handle: Arc<TableHandle>,
    config: Arc<ProxyConfig>,
    watcher: Watcher,
}

/// Accepts on `listener` and hands each connection to `serve` until `shutdown`; then
/// stops accepting and waits for the connections to finish.
async fn accept_loop(
    listener: TcpListener,
    handle: Arc<TableHandle>,
    config: Arc<ProxyConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    tls: bool,
    serve: impl Fn(TcpStream, ConnInfo, Accepted),
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let sweeper = tokio::spawn(sweep_idle(handle.clone(), config.upstream_idle_timeout));
    let _stop_sweeper = AbortOnDrop(sweeper);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
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
            handle: handle.clone(),
            config: config.clone(),
            watcher: graceful.watcher(),
        };
        serve(stream, info, accepted);
    }
    drop(listener);
    graceful.shutdown().await;
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

/// Serves one accepted connection on its own task. `io` is the raw TCP stream or the
/// decrypted TLS stream.
pub fn serve_connection<I>(
    io: I,
    info: ConnInfo,
    builder: Arc<auto::Builder<TokioExecutor>>,
    handle: Arc<TableHandle>,
    config: Arc<ProxyConfig>,
    watcher: Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let span = tracing::debug_span!("conn", peer = %info.peer, local = %info.local, tls = info.tls);
    let ctx = Arc::new(ConnContext {
        handle,
        config,
        forwarded: Forwarded::new(info.peer, info.local, info.tls),
        scheme: if info.tls { "https" } else { "http" },
        tls: info.tls,
    });
    let service = service_fn(move |req: hyper::Request<Incoming>| {
        let ctx = ctx.clone();
        async move { Ok::<_, std::convert::Infallible>(service::serve(&ctx, req).await) }
    });
    tokio::spawn(
        async move {
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
            if let Err(err) = watcher.watch(conn).await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        }
        .instrument(span),
    );
}

/// Closes idle upstream connections older than `timeout`, checking every `timeout / 2`.
async fn sweep_idle(handle: Arc<TableHandle>, timeout: Duration) {
    let period = (timeout / 2).max(Duration::from_millis(100));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        handle.sweep_idle(timeout);
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
