//! Opening connections to upstream endpoints: TCP (TCP_NODELAY), then TLS when the
//! transport asks for it, then an HTTP/1.1 or HTTP/2 client connection.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::body::RequestBody;
use super::pool::Sender;
use super::transport::Transport;

/// The sender half of a multiplexed upstream HTTP/2 connection.
pub(crate) type H2Sender = http2::SendRequest<RequestBody>;

/// Whether a connection may switch protocols (and is then never pooled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A keep-alive connection that goes back to the pool.
    Pooled,
    /// A one-off connection that may answer `101 Switching Protocols`.
    Upgrade,
}

/// Connects to `addr` within `timeout` and starts an HTTP/1.1 client connection on it.
/// Errors mean no request byte was sent, so another endpoint may be tried.
#[cfg(test)]
pub(crate) async fn connect(addr: SocketAddr, timeout: Duration, mode: Mode) -> io::Result<Sender> {
    connect_http1(addr, &Transport::Http1, None, timeout, mode).await
}

/// [`connect`] over `transport` (TCP or TLS); `host` is the request host, the SNI name
/// when the transport names none.
pub(crate) async fn connect_http1(
    addr: SocketAddr,
    transport: &Transport,
    host: Option<&str>,
    timeout: Duration,
    mode: Mode,
) -> io::Result<Sender> {
    within(addr, timeout, async {
        let stream = tcp(addr).await?;
        match transport.tls() {
            None => start_http1(stream, addr, mode).await,
            Some(tls) => start_http1(tls.connect(stream, addr, host).await?, addr, mode).await,
        }
    })
    .await
}

/// Connects to `addr` within `timeout` and starts an HTTP/2 client connection on it.
pub(crate) async fn connect_http2(
    addr: SocketAddr,
    transport: &Transport,
    host: Option<&str>,
    timeout: Duration,
) -> io::Result<H2Sender> {
    within(addr, timeout, async {
        let stream = tcp(addr).await?;
        match transport.tls() {
            None => start_http2(stream, addr).await,
            Some(tls) => start_http2(tls.connect(stream, addr, host).await?, addr).await,
        }
    })
    .await
}

async fn within<T>(
    addr: SocketAddr,
    timeout: Duration,
    connecting: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match tokio::time::timeout(timeout, connecting).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connect to {addr} timed out"),
        )),
    }
}

async fn tcp(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn start_http1<I>(io: I, addr: SocketAddr, mode: Mode) -> io::Result<Sender>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(io::Error::other)?;
    match mode {
        Mode::Pooled => {
            tokio::spawn(async move {
                if let Err(err) = conn.await {
                    tracing::debug!(%addr, error = %err, "upstream connection ended");
                }
            });
        }
        Mode::Upgrade => {
            tokio::spawn(async move {
                if let Err(err) = conn.with_upgrades().await {
                    tracing::debug!(%addr, error = %err, "upstream connection ended");
                }
            });
        }
    }
    Ok(sender)
}

async fn start_http2<I>(io: I, addr: SocketAddr) -> io::Result<H2Sender>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake(TokioIo::new(io))
        .await
        .map_err(io::Error::other)?;
    tokio::spawn(async move {
        if let Err(err) = conn.await {
            tracing::debug!(%addr, error = %err, "upstream HTTP/2 connection ended");
        }
    });
    Ok(sender)
}
