//! Plain HTTP on the TLS port, answered as Go's `net/http` (and so a kube-apiserver) does:
//! the TLS layer reads the first record header; when those five bytes are the start of an
//! HTTP request instead, the client gets a 400 and no TLS alert.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What a kube-apiserver answers a plain-HTTP request on its TLS port.
pub const ANSWER: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Go's `tlsRecordHeaderLooksLikeHTTP`: the first five bytes begin an HTTP request.
pub fn looks_like_http(header: &[u8; 5]) -> bool {
    matches!(header, b"GET /" | b"HEAD " | b"POST " | b"PUT /" | b"OPTIO")
}

/// A connection that remembers the first five bytes the TLS layer reads from it, and
/// swallows the TLS layer's writes (its alert) once they look like an HTTP request.
#[derive(Debug)]
pub struct HeaderTap<IO> {
    io: IO,
    header: [u8; 5],
    seen: usize,
}

impl<IO> HeaderTap<IO> {
    pub fn new(io: IO) -> Self {
        Self {
            io,
            header: [0; 5],
            seen: 0,
        }
    }

    /// Whether the client opened with a plain-HTTP request.
    pub fn is_plain_http(&self) -> bool {
        self.seen == self.header.len() && looks_like_http(&self.header)
    }

    pub fn get_mut(&mut self) -> &mut IO {
        &mut self.io
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for HeaderTap<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if this.seen < this.header.len() {
            let fresh = buf.filled().get(before..).unwrap_or_default();
            for &byte in fresh.iter().take(this.header.len() - this.seen) {
                if let Some(slot) = this.header.get_mut(this.seen) {
                    *slot = byte;
                }
                this.seen += 1;
            }
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for HeaderTap<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.is_plain_http() {
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_http_methods_but_not_a_tls_record() {
        assert!(looks_like_http(b"GET /"));
        assert!(looks_like_http(b"OPTIO"));
        assert!(!looks_like_http(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        assert!(!looks_like_http(b"GETX "));
    }
}
