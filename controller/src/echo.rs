//! `wicket echo`: a demo and test backend that answers every request with a JSON description
//! of what it received, and echoes WebSocket messages.
//!
//! Query parameters steer the answer: `echo-status=NNN` (status code), `echo-bytes=N`
//! (stream N bytes instead of JSON), `echo-delay-ms=N` (wait before answering).

use std::{
    collections::BTreeMap,
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::{
    HeaderMap, Request, Response, StatusCode,
    body::{Body, Frame, Incoming, SizeHint},
    header::{self, HeaderValue},
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{handshake::derive_accept_key, protocol::Role},
};

use crate::{error::ControllerError, listen};

/// Response header carrying the server's name.
pub const NAME_HEADER: &str = "x-echo-name";
/// Longest `echo-delay-ms` honoured.
const MAX_DELAY: Duration = Duration::from_secs(3600);
/// Size of one streamed chunk for `echo-bytes`.
const CHUNK_LEN: usize = 16 * 1024;
static CHUNK: [u8; CHUNK_LEN] = [b'x'; CHUNK_LEN];

type EchoBody = BoxBody<Bytes, Infallible>;

/// One echo server's identity: its name and the address it is bound to.
#[derive(Debug)]
pub struct Echo {
    name: String,
    name_header: HeaderValue,
    listen: SocketAddr,
}

impl Echo {
    /// `name` goes into the JSON and the `x-echo-name` header, so it must be a valid header value.
    pub fn new(name: &str, listen: SocketAddr) -> Result<Self, ControllerError> {
        let name_header = HeaderValue::from_str(name)
            .map_err(|_| ControllerError::Usage(format!("invalid echo name '{name}'")))?;
        Ok(Self {
            name: name.to_owned(),
            name_header,
            listen,
        })
    }
}

/// Serves the echo backend on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    name: &str,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ControllerError> {
    let listen = listener
        .local_addr()
        .map_err(|source| ControllerError::Serve {
            listener: "echo",
            source,
        })?;
    let echo = Arc::new(Echo::new(name, listen)?);
    let service = service_fn(move |req| {
        let echo = Arc::clone(&echo);
        async move { Ok::<_, Infallible>(answer(&echo, req).await) }
    });
    listen::serve("echo", listener, service, shutdown).await;
    Ok(())
}

/// The answer to one request.
pub async fn answer(echo: &Echo, req: Request<Incoming>) -> Response<EchoBody> {
    let params = match Params::parse(req.uri().query()) {
        Ok(params) => params,
        Err(reason) => return plain(echo, StatusCode::BAD_REQUEST, reason),
    };
    if wants_websocket(req.headers()) {
        return upgrade(echo, req);
    }
    let (parts, mut body) = req.into_parts();
    let mut body_bytes: u64 = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    body_bytes = body_bytes.saturating_add(data.len() as u64);
                }
            }
            Err(error) => {
                tracing::debug!(%error, "request body ended with an error");
                return plain(echo, StatusCode::BAD_REQUEST, "request body error".into());
            }
        }
    }
    if let Some(delay) = params.delay {
        tokio::time::sleep(delay).await;
    }
    let status = params.status.unwrap_or(StatusCode::OK);
    if let Some(len) = params.bytes {
        let mut response = Response::new(Repeat { remaining: len }.boxed());
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        headers.insert(NAME_HEADER, echo.name_header.clone());
        return response;
    }
    let host = parts
        .headers
        .get(header::HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
        .or_else(|| parts.uri.authority().map(|a| a.to_string()));
    let description = json!({
        "name": echo.name,
        "listen": echo.listen.to_string(),
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "host": host,
        "version": format!("{:?}", parts.version),
        "headers": header_map(&parts.headers),
        "body_bytes": body_bytes,
    });
    let mut response = Response::new(Full::new(Bytes::from(description.to_string())).boxed());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(NAME_HEADER, echo.name_header.clone());
    response
}

/// Header name (lower-case) → every value, in order.
fn header_map(headers: &HeaderMap) -> BTreeMap<&str, Vec<String>> {
    let mut map: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        map.entry(name.as_str())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    map
}

fn plain(echo: &Echo, status: StatusCode, text: String) -> Response<EchoBody> {
    let mut response = Response::new(Full::new(Bytes::from(text)).boxed());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(NAME_HEADER, echo.name_header.clone());
    response
}

/// The `echo-*` query parameters.
#[derive(Debug, Default, PartialEq, Eq)]
struct Params {
    status: Option<StatusCode>,
    bytes: Option<u64>,
    delay: Option<Duration>,
}

impl Params {
    fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut params = Self::default();
        for pair in query.unwrap_or_default().split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "echo-status" => {
                    let status = value
                        .parse::<u16>()
                        .ok()
                        .and_then(|code| StatusCode::from_u16(code).ok())
                        .filter(|status| !status.is_informational())
                        .ok_or_else(|| format!("invalid echo-status '{value}'"))?;
                    params.status = Some(status);
                }
                "echo-bytes" => {
                    let len = value
                        .parse()
                        .map_err(|_| format!("invalid echo-bytes '{value}'"))?;
                    params.bytes = Some(len);
                }
                "echo-delay-ms" => {
                    let ms = value
                        .parse()
                        .map_err(|_| format!("invalid echo-delay-ms '{value}'"))?;
                    params.delay = Some(Duration::from_millis(ms).min(MAX_DELAY));
                }
                _ => {}
            }
        }
        Ok(params)
    }
}

/// A body of `remaining` bytes, streamed in chunks of one static buffer.
struct Repeat {
    remaining: u64,
}

impl Body for Repeat {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let len = usize::try_from(this.remaining).map_or(CHUNK_LEN, |n| n.min(CHUNK_LEN));
        this.remaining -= len as u64;
        let chunk = CHUNK.get(..len).unwrap_or(&CHUNK);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

fn wants_websocket(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("websocket"))
}

/// Answers `101 Switching Protocols` and echoes messages on the upgraded connection.
fn upgrade(echo: &Echo, mut req: Request<Incoming>) -> Response<EchoBody> {
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return plain(
            echo,
            StatusCode::BAD_REQUEST,
            "missing sec-websocket-key".into(),
        );
    };
    let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) else {
        return plain(
            echo,
            StatusCode::BAD_REQUEST,
            "bad sec-websocket-key".into(),
        );
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                echo_messages(ws).await;
            }
            Err(error) => tracing::debug!(%error, "websocket upgrade failed"),
        }
    });
    let mut response = Response::new(Full::new(Bytes::new()).boxed());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    headers.insert(NAME_HEADER, echo.name_header.clone());
    response
}

/// Sends every text and binary message back until the peer closes. Pings and the closing
/// handshake are answered by the WebSocket stream itself.
async fn echo_messages<S>(mut ws: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(message) = ws.next().await {
        match message {
            Ok(message) if message.is_text() || message.is_binary() => {
                if let Err(error) = ws.send(message).await {
                    tracing::debug!(%error, "websocket send failed");
                    return;
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::debug!(%error, "websocket ended with an error");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
