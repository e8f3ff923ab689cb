//! Upstream protocols: HTTPS backends (verification off and on), an HTTP/2 cleartext
//! backend streaming both ways with trailers behind an h2 TLS listener (gRPC's shape),
//! and WebSocket over TLS.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use proxy::table::{Action, Backend, UpstreamProtocol, UpstreamTls};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::harness::*;
use crate::pki::{Ca, Leaf};
use crate::support::*;

fn backend_with(name: &str, addr: SocketAddr, protocol: UpstreamProtocol) -> Action {
    Action::Forward(Backend {
        name: name.to_owned(),
        service: name.to_owned(),
        endpoints: vec![addr],
        protocol,
    })
}

/// Serves each accepted connection with `serve` until dropped.
struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An HTTPS (HTTP/1.1) backend presenting `leaf`, answering `tls-backend <host>`.
async fn https_backend(leaf: &Leaf) -> Server {
    let key =
        proxy::tls::certified_key_from_pem(leaf.chain_pem.as_bytes(), leaf.key_pem.as_bytes())
            .expect("backend certificate");
    let config = rustls::ServerConfig::builder_with_provider(proxy::tls::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(key)));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(stream).await else {
                    return;
                };
                let sni = stream.get_ref().1.server_name().unwrap_or("-").to_owned();
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let text = format!(
                        "tls-backend sni={sni} host={}",
                        req.headers()
                            .get("host")
                            .and_then(|h| h.to_str().ok())
                            .unwrap_or("-")
                    );
                    async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text)))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Server { addr, task }
}

#[tokio::test]
async fn https_upstreams_with_and_without_verification() {
    let backend_ca = Ca::new("backend CA");
    let wrong_ca = Ca::new("some other CA");
    let leaf = backend_ca.leaf(&["svc.internal"]);
    let server = https_backend(&leaf).await;
    let tls = |verify: bool, ca: Option<&Ca>, name: Option<&str>| {
        UpstreamProtocol::Https(UpstreamTls {
            verify,
            ca_pem: ca.map(|ca| ca.cert_pem.clone().into_bytes()),
            server_name: name.map(str::to_owned),
        })
    };
    let routes = vec![
        route(
            "/off",
            proxy::table::PathKind::Prefix,
            backend_with("off", server.addr, tls(false, None, None)),
        ),
        route(
            "/right",
            proxy::table::PathKind::Prefix,
            backend_with(
                "right",
                server.addr,
                tls(true, Some(&backend_ca), Some("svc.internal")),
            ),
        ),
        route(
            "/wrong",
            proxy::table::PathKind::Prefix,
            backend_with(
                "wrong",
                server.addr,
                tls(true, Some(&wrong_ca), Some("svc.internal")),
            ),
        ),
        route(
            "/name",
            proxy::table::PathKind::Prefix,
            backend_with(
                "name",
                server.addr,
                tls(true, Some(&backend_ca), Some("other.internal")),
            ),
        ),
    ];
    let proxies = Proxies::start(table(vec![vhost("a.example", routes)])).await;
    assert_eq!(proxies.errors, Vec::new());

    let reply = get(proxies.http, "a.example", "/off").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // Without proxy-ssl-name the request host is the SNI name.
    assert_eq!(reply.text(), "tls-backend sni=a.example host=a.example");
    let reply = get(proxies.http, "a.example", "/right").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "tls-backend sni=svc.internal host=a.example");
    // Pooled TLS connections keep working.
    assert_eq!(get(proxies.http, "a.example", "/right").await.status, 200);
    assert_eq!(get(proxies.http, "a.example", "/wrong").await.status, 502);
    assert_eq!(
        get(proxies.http, "a.example", "/name").await.status,
        502,
        "name check"
    );
    proxies.stop().await;
}

#[tokio::test]
async fn verification_without_a_ca_is_a_table_error_and_503() {
    let protocol = UpstreamProtocol::Https(UpstreamTls {
        verify: true,
        ca_pem: None,
        server_name: None,
    });
    let addr = dead_addr().await;
    let proxies = Proxies::start(single(backend_with("default-svc-443", addr, protocol))).await;
    assert_eq!(proxies.errors.len(), 1);
    assert!(
        proxies.errors[0].to_string().contains("default-svc-443"),
        "{}",
        proxies.errors[0]
    );
    assert_eq!(get(proxies.http, "a.example", "/").await.status, 503);
    proxies.stop().await;
}

/// An h2c backend: echoes every request data frame as a response data frame, then sends
/// trailers `grpc-status: 0` and `x-frames: <count>`; reports the request `te` header.
async fn h2c_streaming_backend() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    let te = req.headers().get("te").cloned();
                    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
                    tokio::spawn(async move {
                        let mut body = req.into_body();
                        let mut frames = 0;
                        while let Some(Ok(frame)) = body.frame().await {
                            // The end of a stream may come as an empty DATA frame.
                            if let Ok(data) = frame.into_data()
                                && !data.is_empty()
                            {
                                frames += 1;
                                if tx.send(Ok(Frame::data(data))).await.is_err() {
                                    return;
                                }
                            }
                        }
                        let mut trailers = HeaderMap::new();
                        trailers.insert("grpc-status", HeaderValue::from_static("0"));
                        trailers.insert("x-frames", HeaderValue::from(frames));
                        let _ = tx.send(Ok(Frame::trailers(trailers))).await;
                    });
                    let body = StreamBody::new(tokio_stream_from(rx));
                    let mut response = Response::new(body);
                    response
                        .headers_mut()
                        .insert("content-type", HeaderValue::from_static("application/grpc"));
                    if let Some(te) = te {
                        response.headers_mut().insert("x-saw-te", te);
                    }
                    Ok::<_, Infallible>(response)
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Server { addr, task }
}

/// A `Stream` over an mpsc receiver.
fn tokio_stream_from<T: Send + 'static>(
    rx: mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + Unpin {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

#[tokio::test]
async fn grpc_shaped_streams_and_trailers_through_an_h2_tls_listener() {
    let server = h2c_streaming_backend().await;
    let ca = Ca::new("test CA");
    let leaf = ca.leaf(&["grpc.example"]);
    let mut table = table(vec![vhost(
        "grpc.example",
        vec![route(
            "/",
            proxy::table::PathKind::Prefix,
            backend_with("default-grpc-50051", server.addr, UpstreamProtocol::Grpc),
        )],
    )]);
    table.tls = vec![binding(&["grpc.example"], certificate("grpc", &leaf))];
    let proxies = Proxies::start(table).await;

    let mut client = Client::trusting(ca.roots());
    client.alpn = vec![b"h2".to_vec()];
    let stream = connect(proxies.https, Some("grpc.example"), client.config())
        .await
        .expect("handshake");
    let mut sender = http2::<StreamBody<_>>(stream).await;

    // Two concurrent streams on one client connection, each interleaving requests and
    // responses frame by frame (client and server streaming).
    let mut calls = Vec::new();
    for call in 0..2 {
        let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
        let req = Request::post("https://grpc.example/echo.Echo/Chat")
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(StreamBody::new(tokio_stream_from(rx)))
            .expect("request");
        let response = within(sender.send_request(req))
            .await
            .expect("response head");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["x-saw-te"],
            "trailers",
            "te: trailers reaches gRPC backends"
        );
        assert!(response.headers().contains_key("x-request-id"));
        calls.push((call, tx, response.into_body()));
    }
    for (call, tx, body) in &mut calls {
        for i in 0..3 {
            let message = Bytes::from(format!("call {call} message {i}"));
            within(tx.send(Ok(Frame::data(message.clone()))))
                .await
                .expect("send");
            let frame = within(body.frame()).await.expect("frame").expect("ok");
            assert_eq!(
                frame.into_data().ok(),
                Some(message),
                "echoed before the request ends"
            );
        }
    }
    for (_, tx, mut body) in calls {
        drop(tx);
        let trailers = loop {
            let frame = within(body.frame())
                .await
                .expect("trailers frame")
                .expect("ok");
            if let Ok(trailers) = frame.into_trailers() {
                break trailers;
            }
        };
        assert_eq!(trailers["grpc-status"], "0");
        assert_eq!(trailers["x-frames"], "3");
    }
    proxies.stop().await;
}

/// A WebSocket echo server.
async fn ws_echo() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_close() || ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Server { addr, task }
}

#[tokio::test]
async fn websocket_over_tls() {
    let server = ws_echo().await;
    let ca = Ca::new("test CA");
    let leaf = ca.leaf(&["a.example"]);
    let mut table = single(backend("default-ws-80", &[server.addr]));
    table.tls = vec![binding(&["a.example"], certificate("a", &leaf))];
    let proxies = Proxies::start(table).await;

    let stream = connect(
        proxies.https,
        Some("a.example"),
        Client::trusting(ca.roots()).config(),
    )
    .await
    .expect("handshake");
    let request = "wss://a.example/chat"
        .into_client_request()
        .expect("request");
    let (mut ws, response) = within(tokio_tungstenite::client_async(request, stream))
        .await
        .expect("websocket handshake over TLS");
    assert_eq!(response.status(), 101);
    for text in ["hello", "over tls"] {
        within(ws.send(Message::text(text))).await.expect("send");
        let echoed = within(ws.next()).await.expect("open").expect("message");
        assert_eq!(echoed, Message::text(text));
    }
    let _ = ws.close(None).await;
    // The drain waits for upgraded connections: the client side must go too.
    drop(ws);
    proxies.stop().await;
}
