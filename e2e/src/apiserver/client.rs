//! A raw HTTPS client for the double: one connection per request, a bearer token, JSON in and
//! out, and watch streams read event by event. For tests that check the wire protocol itself.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use super::tls;

/// Upper bound for one request or one watch event.
pub const DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no TLS identity: {0}")]
    Tls(String),
    #[error("cannot reach the API server: {0}")]
    Connect(#[from] std::io::Error),
    #[error("HTTP error: {0}")]
    Http(#[from] hyper::Error),
    #[error("bad request: {0}")]
    Request(#[from] http::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("watch {path} answered {status}")]
    WatchRefused { path: String, status: StatusCode },
    #[error("a watch event is not JSON: {0}")]
    Event(#[from] serde_json::Error),
}

/// A client acting as one user (or anonymous).
#[derive(Clone)]
pub struct RawClient {
    addr: SocketAddr,
    token: Option<String>,
    tls: TlsConnector,
}

impl std::fmt::Debug for RawClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawClient")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

impl RawClient {
    pub fn new(addr: SocketAddr, token: Option<String>) -> Result<Self, ClientError> {
        let identity = tls::identity().map_err(ClientError::Tls)?;
        Ok(Self {
            addr,
            token,
            tls: TlsConnector::from(Arc::clone(&identity.client)),
        })
    }

    /// Sends one request; the response body is left to read.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<http::Response<Incoming>, ClientError> {
        let exchange = async {
            let tcp = TcpStream::connect(self.addr).await?;
            let name = ServerName::IpAddress(self.addr.ip().into());
            let stream = self.tls.connect(name, tcp).await?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let mut builder = Request::builder()
                .method(method)
                .uri(path)
                .header("host", self.addr.to_string())
                .header("content-type", content_type)
                .header("accept", "application/json");
            if let Some(token) = &self.token {
                builder = builder.header("authorization", format!("Bearer {token}"));
            }
            let request = builder.body(Full::new(Bytes::from(body)))?;
            Ok::<_, ClientError>(sender.send_request(request).await?)
        };
        timeout(DEADLINE, exchange)
            .await
            .map_err(|_| ClientError::Timeout(DEADLINE))?
    }

    /// Sends `body` as JSON (any content type) and reads the answer as JSON (or as a JSON
    /// string when it is not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ClientError> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let response = self.send(method, path, content_type, bytes).await?;
        let status = response.status();
        let body = timeout(DEADLINE, response.into_body().collect())
            .await
            .map_err(|_| ClientError::Timeout(DEADLINE))??
            .to_bytes();
        let value = serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        Ok((status, value))
    }

    /// Opens a watch (the path carries `watch=1` and its parameters).
    pub async fn watch(&self, path: &str) -> Result<WatchStream, ClientError> {
        let response = self
            .send(Method::GET, path, "application/json", Vec::new())
            .await?;
        if response.status() != StatusCode::OK {
            return Err(ClientError::WatchRefused {
                path: path.to_owned(),
                status: response.status(),
            });
        }
        Ok(WatchStream {
            body: response.into_body(),
            buffer: BytesMut::new(),
        })
    }
}

/// A watch response read one event (one JSON line) at a time.
#[derive(Debug)]
pub struct WatchStream {
    body: Incoming,
    buffer: BytesMut,
}

impl WatchStream {
    /// The next event; `Ok(None)` when the stream ended (cleanly or by a cut connection).
    pub async fn next(&mut self) -> Result<Option<Value>, ClientError> {
        timeout(DEADLINE, self.next_unbounded())
            .await
            .map_err(|_| ClientError::Timeout(DEADLINE))?
    }

    async fn next_unbounded(&mut self) -> Result<Option<Value>, ClientError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line = self.buffer.split_to(end + 1);
                return Ok(Some(serde_json::from_slice(&line)?));
            }
            let Some(Ok(frame)) = self.body.frame().await else {
                return Ok(None);
            };
            if let Ok(data) = frame.into_data() {
                self.buffer.extend_from_slice(&data);
            }
        }
    }

    /// The next event that is not a BOOKMARK.
    pub async fn next_change(&mut self) -> Result<Option<Value>, ClientError> {
        loop {
            match self.next().await? {
                Some(event) if event["type"] == "BOOKMARK" => {}
                other => return Ok(other),
            }
        }
    }
}
