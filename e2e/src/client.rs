//! HTTP/1.1 client for talking to the proxy with any `Host`, over pooled or fresh connections.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, HOST};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::echo::EchoReply;
use crate::error::{Error, Result};
use crate::wait::REQUEST;

/// Request body type of the harness.
pub type Body = BoxBody<Bytes, Infallible>;

/// An empty request body.
pub fn empty() -> Body {
    Empty::new().boxed()
}

/// A client with a keep-alive connection pool; cheap to clone (clones share the pool).
#[derive(Clone, Debug)]
pub struct HttpClient {
    pool: Client<HttpConnector, Body>,
}

/// A complete response.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body parsed as an echo backend's answer.
    pub fn echo(&self) -> Result<EchoReply> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Unexpected {
            what: format!("response ({}) is not an echo answer: {e}", self.status),
            detail: String::from_utf8_lossy(&self.body).into_owned(),
        })
    }

    /// The echo backend's name when this is a 200 from one, else a description of it.
    pub fn backend(&self) -> Result<String, String> {
        if self.status != StatusCode::OK {
            return Err(self.describe());
        }
        self.echo().map(|e| e.name).map_err(|e| e.to_string())
    }

    /// A one-line description for assertion messages.
    pub fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body[..self.body.len().min(200)]).into_owned();
        format!("{} {body:?}", self.status)
    }

    /// The `Content-Type` header, if any and if text.
    pub fn content_type(&self) -> Option<&str> {
        self.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    pub fn new() -> Self {
        Self {
            pool: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// `GET http://addr/path` with `Host: host` on a pooled connection.
    pub async fn get(&self, addr: SocketAddr, host: &str, path: &str) -> Result<Reply> {
        self.fetch(
            request(Method::GET, addr, host, path).body(empty()),
            REQUEST,
        )
        .await
    }

    /// Sends on a pooled connection and reads the whole response within `timeout`.
    pub async fn fetch(
        &self,
        request: http::Result<Request<Body>>,
        timeout: Duration,
    ) -> Result<Reply> {
        let request = request.map_err(|e| Error::client("building a request", e))?;
        let what = format!("{} {}", request.method(), request.uri());
        bounded(timeout, &what, async {
            let response = self
                .pool
                .request(request)
                .await
                .map_err(|e| Error::client(&what, e))?;
            collect(response, &what).await
        })
        .await
    }

    /// Sends on a pooled connection and returns the response with its body unread.
    pub async fn send(&self, request: Request<Body>) -> Result<Response<Incoming>> {
        let what = format!("{} {}", request.method(), request.uri());
        self.pool
            .request(request)
            .await
            .map_err(|e| Error::client(what, e))
    }
}

/// A request builder for `http://addr/path` carrying `Host: host`.
pub fn request(method: Method, addr: SocketAddr, host: &str, path: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .header(HOST, host)
}

/// `GET path` with `Host: host` on a new connection that is closed afterwards.
pub async fn get_fresh(addr: SocketAddr, host: &str, path: &str) -> Result<Reply> {
    let what = format!("GET http://{addr}{path} (Host: {host}, new connection)");
    bounded(REQUEST, &what, async {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| Error::io(format!("{what}: connect"), e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Error::client(&what, e))?;
        let driver = tokio::spawn(connection);
        let request = Request::get(path)
            .header(HOST, host)
            .header(CONNECTION, "close")
            .body(empty())
            .map_err(|e| Error::client(&what, e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| Error::client(&what, e))?;
        let reply = collect(response, &what).await;
        drop(sender);
        let _ = driver.await;
        reply
    })
    .await
}

async fn collect(response: Response<Incoming>, what: &str) -> Result<Reply> {
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| Error::client(what, e))?
        .to_bytes();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// Reads a response body to the end, counting bytes without keeping them.
pub async fn count_body_bytes(response: Response<Incoming>) -> Result<u64> {
    let mut body = response.into_body();
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::client("reading a response body", e))?;
        if let Ok(data) = frame.into_data() {
            total += data.len() as u64;
        }
    }
    Ok(total)
}

/// Runs `future` with a deadline.
pub async fn bounded<T>(
    timeout: Duration,
    what: &str,
    future: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(timeout, future)
        .await
        .unwrap_or_else(|_| {
            Err(Error::Timeout {
                what: what.to_owned(),
                after: timeout,
                last: "no answer".to_owned(),
            })
        })
}

/// A request body of `len` bytes produced on the fly in fixed chunks; nothing is buffered.
#[derive(Debug)]
pub struct RepeatBody {
    remaining: u64,
}

const CHUNK: &[u8] = &[b'w'; 64 * 1024];

impl RepeatBody {
    pub fn new(len: u64) -> Self {
        Self { remaining: len }
    }

    /// As a harness request body.
    pub fn boxed(self) -> Body {
        BodyExt::boxed(self)
    }
}

impl http_body::Body for RepeatBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let take = usize::try_from(self.remaining).map_or(CHUNK.len(), |r| r.min(CHUNK.len()));
        self.remaining -= take as u64;
        let chunk = CHUNK.get(..take).unwrap_or(CHUNK);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn repeat_body_yields_exactly_its_length() {
        let body = RepeatBody::new(200_000).boxed();
        let bytes = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        assert_eq!(bytes.len(), 200_000);
        assert!(bytes.iter().all(|&b| b == b'w'));
    }
}
