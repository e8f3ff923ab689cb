//! Shutdown: stop accepting at once, let in-flight requests and upgraded connections
//! finish within the grace period, cut and count the rest.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use proxy::table::PathKind;
use tokio::net::TcpStream;

use crate::support::*;

#[tokio::test]
async fn shutdown_stops_accepting_and_drains_in_flight_requests() {
    let mut app = EchoBackend::start("app").await;
    let proxy = Proxy::start(single(backend("default-app-80", &[app.addr]))).await;
    let addr = proxy.addr;

    let in_flight = tokio::spawn(async move {
        let req = Request::get("/")
            .header("host", "a.example")
            .header("x-test-mode", "gate")
            .body(Empty::<Bytes>::new())
            .expect("request");
        send(addr, req).await.expect("send")
    });
    within(app.arrived.recv())
        .await
        .expect("request reached the backend");

    let stopping = tokio::spawn(proxy.stop());
    within(async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        !stopping.is_finished(),
        "shutdown waits for the in-flight request"
    );

    app.gate.notify_one();
    assert_eq!(within(in_flight).await.expect("join").seen().backend, "app");
    within(stopping).await.expect("stop");
}

/// Connects a WebSocket client through the proxy to `ws://a.example/chat`.
async fn websocket(addr: std::net::SocketAddr) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let stream = TcpStream::connect(addr).await.expect("connect");
    let request = "ws://a.example/chat"
        .into_client_request()
        .expect("request");
    let (ws, response) = within(tokio_tungstenite::client_async(request, stream))
        .await
        .expect("websocket handshake through the proxy");
    assert_eq!(response.status(), 101);
    ws
}

async fn echo_once(ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>, text: &str) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    within(ws.send(Message::text(text))).await.expect("send");
    let echoed = within(ws.next()).await.expect("open").expect("message");
    assert_eq!(echoed, Message::text(text));
}

/// Polls until connecting to `addr` fails.
async fn refused(addr: std::net::SocketAddr) {
    within(async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn in_flight_requests_and_websockets_finish_within_grace() {
    let mut app = EchoBackend::start("app").await;
    let (ws_addr, ws_task) = crate::upgrade::ws_echo().await;
    let routes = vec![
        route(
            "/",
            PathKind::Prefix,
            backend("default-app-80", &[app.addr]),
        ),
        route(
            "/chat",
            PathKind::Prefix,
            backend("default-ws-80", &[ws_addr]),
        ),
    ];
    let proxy = Proxy::start(table(vec![vhost("a.example", routes)])).await;
    let addr = proxy.addr;
    let drain = proxy.drain.clone();

    let mut ws = websocket(addr).await;
    let in_flight = tokio::spawn(async move {
        let req = Request::get("/")
            .header("host", "a.example")
            .header("x-test-mode", "gate")
            .body(Empty::<Bytes>::new())
            .expect("request");
        send(addr, req).await.expect("send")
    });
    within(app.arrived.recv())
        .await
        .expect("request reached the backend");

    let stopping = tokio::spawn(proxy.stop_within(DEADLINE));
    refused(addr).await;
    echo_once(&mut ws, "still open after the stop").await;
    assert!(!stopping.is_finished(), "the drain waits for both");

    app.gate.notify_one();
    assert_eq!(within(in_flight).await.expect("join").status, 200);
    echo_once(&mut ws, "still open after the request drained").await;
    assert_eq!(drain.open(), 1, "only the WebSocket is left");
    drop(ws);
    let report = within(stopping).await.expect("stop");
    assert_eq!(report, proxy::DrainReport { drained: 2, cut: 0 });
    ws_task.abort();
}

#[tokio::test]
async fn what_outlives_the_grace_period_is_cut_and_counted() {
    use futures_util::StreamExt;
    let (ws_addr, ws_task) = crate::upgrade::ws_echo().await;
    let proxy = Proxy::start(single(backend("default-ws-80", &[ws_addr]))).await;
    let mut ws = websocket(proxy.addr).await;
    echo_once(&mut ws, "hello").await;

    let report = proxy.stop_within(Duration::from_millis(100)).await;
    assert_eq!(report, proxy::DrainReport { drained: 0, cut: 1 });
    // The cut closes the client's connection.
    let next = within(ws.next()).await;
    assert!(!matches!(next, Some(Ok(ref m)) if m.is_text()), "{next:?}");
    ws_task.abort();
}
