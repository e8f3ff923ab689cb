//! The first bytes of a connection must arrive within the header-read timeout.
//!
//! hyper's header-read timer starts only once it reads a request head, and the connection
//! builder first waits, without a deadline, for the bytes that tell HTTP/1.1 from HTTP/2.
//! [`FirstBytes`] bounds that wait: until the first byte (or end of stream) is read, a read
//! that would wait past the deadline fails with `TimedOut`, which ends the connection.
//! After that it only passes calls through.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// An I/O stream whose first read must complete before a deadline.
pub struct FirstBytes<I> {
    io: I,
    /// `None` once the first byte arrived.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<I> FirstBytes<I> {
    pub fn new(io: I, timeout: Duration) -> Self {
        Self {
            io,
            deadline: Some(Box::pin(tokio::time::sleep_until(Instant::now() + timeout))),
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for FirstBytes<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let Some(deadline) = &mut this.deadline else {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        };
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.deadline = None;
                Poll::Ready(result)
            }
            Poll::Pending => match deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no request within the header-read timeout",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for FirstBytes<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_silent_stream_times_out() {
        let (_client, server) = tokio::io::duplex(64);
        let mut io = FirstBytes::new(server, Duration::from_secs(10));
        let mut buf = [0u8; 8];
        let err = io.read(&mut buf).await.expect_err("times out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_first_byte_there_is_no_deadline() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut io = FirstBytes::new(server, Duration::from_secs(10));
        client.write_all(b"G").await.expect("write");
        let mut buf = [0u8; 8];
        assert_eq!(io.read(&mut buf).await.expect("first byte"), 1);
        // Time passes far beyond the deadline; the next read still waits for data.
        tokio::time::advance(Duration::from_secs(60)).await;
        let read = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            io.read(&mut buf).await.map(|n| buf[..n].to_vec())
        });
        client.write_all(b"ET").await.expect("write");
        let got = read.await.expect("joined").expect("read");
        assert_eq!(got, b"ET");
    }
}
