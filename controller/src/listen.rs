//! Listeners of the built-in small servers (admin, echo): bind with a stable log line, and an
//! accept loop (HTTP/1.1 + h2c, with upgrades) that drains gracefully on shutdown.

use std::{convert::Infallible, future::Future, net::SocketAddr, time::Duration};

use hyper::{
    Request, Response,
    body::{Body, Incoming},
    service::Service,
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::{conn::auto, graceful::GracefulShutdown},
};
use tokio::net::TcpListener;

use crate::error::ControllerError;

/// How long in-flight requests of a built-in server may take to finish after shutdown.
const DRAIN: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Binds `addr` and logs `listening listener=NAME addr=LOCAL_ADDR` (port 0 shows the real port).
pub async fn bind(
    listener: &'static str,
    addr: SocketAddr,
) -> Result<TcpListener, ControllerError> {
    let bound = TcpListener::bind(addr)
        .await
        .map_err(|source| ControllerError::Bind {
            listener,
            addr,
            source,
        })?;
    let local_addr = bound.local_addr().map_err(|source| ControllerError::Bind {
        listener,
        addr,
        source,
    })?;
    tracing::info!(listener, addr = %local_addr, "listening");
    Ok(bound)
}

/// Serves `service` on every accepted connection until `shutdown` completes, then stops
/// accepting and waits (bounded) for in-flight requests.
pub async fn serve<S, B>(
    name: &'static str,
    listener: TcpListener,
    service: S,
    shutdown: impl Future<Output = ()>,
) where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service.clone())
                        .into_owned();
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(error) = conn.await {
                            tracing::debug!(listener = name, %peer, %error, "connection ended with an error");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(listener = name, %error, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            listener = name,
            "connections still open after the drain period; closing"
        );
    }
}
