//! Bodies: the client's request body on its way upstream (counted), the upstream
//! response body streamed through (returning its connection to the pool at end of
//! stream), and short bodies the proxy writes itself.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use hyper::body::Incoming;

use super::pool::{EndpointPool, HostTag, Sender};

/// A client's request body on its way upstream; counts the data bytes passed on.
pub struct RequestBody {
    inner: Incoming,
    counted: Option<Arc<AtomicU64>>,
}

impl RequestBody {
    /// Passes `inner` on, adding its data bytes to `counted` when given.
    pub fn new(inner: Incoming, counted: Option<Arc<AtomicU64>>) -> Self {
        RequestBody { inner, counted }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let (Poll::Ready(Some(Ok(frame))), Some(counted)) = (&polled, &this.counted)
            && let Some(data) = frame.data_ref()
        {
            counted.fetch_add(data.len() as u64, Ordering::Relaxed);
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

/// The connection an upstream body came from, handed back when the body is complete.
pub(crate) struct Lease {
    pub(crate) pool: Arc<EndpointPool>,
    pub(crate) sender: Sender,
    pub(crate) host: HostTag,
    pub(crate) max_idle: usize,
}

/// An upstream response body. Its connection goes back to the pool once the body has
/// been read to the end; a body dropped early closes the connection instead.
pub struct UpstreamBody {
    inner: Incoming,
    lease: Option<Lease>,
    done: bool,
}

impl UpstreamBody {
    pub(crate) fn new(inner: Incoming, lease: Option<Lease>) -> Self {
        UpstreamBody {
            inner,
            lease,
            done: false,
        }
    }

    fn release(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.pool.put(lease.sender, lease.host, lease.max_idle);
        }
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        if self.done || self.inner.is_end_stream() {
            self.release();
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => {
                this.done = true;
                this.release();
            }
            Poll::Ready(Some(Err(_))) => {
                this.lease = None;
            }
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => {
                this.done = true;
                this.release();
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Every response body the proxy sends to a client.
pub enum ProxyBody {
    /// Streamed from an upstream.
    Upstream(UpstreamBody),
    /// Written by the proxy (errors, redirects).
    Full(Full<Bytes>),
}

impl ProxyBody {
    /// A body with exactly `bytes`.
    pub fn full(bytes: Bytes) -> Self {
        ProxyBody::Full(Full::new(bytes))
    }

    /// An empty body.
    pub fn empty() -> Self {
        ProxyBody::Full(Full::new(Bytes::new()))
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ProxyBody::Upstream(body) => Pin::new(body).poll_frame(cx),
            ProxyBody::Full(body) => match Pin::new(body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
                Poll::Ready(Some(Err(never))) => match never {},
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Upstream(body) => body.is_end_stream(),
            ProxyBody::Full(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Upstream(body) => body.size_hint(),
            ProxyBody::Full(body) => body.size_hint(),
        }
    }
}
