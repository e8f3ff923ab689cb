//! Opening HTTP/1.1 connections to upstream endpoints.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::pool::Sender;

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
pub(crate) async fn connect(addr: SocketAddr, timeout: Duration, mode: Mode) -> io::Result<Sender> {
    let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(stream) => stream?,
        Err(_) => {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connect to {addr} timed out"),
            ));
        }
    };
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(stream))
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
