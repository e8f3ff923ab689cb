//! WebSocket through the proxy: the upgrade is forwarded and the bytes spliced.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use prometheus_client::registry::Registry;
use proxy::Telemetry;
use proxy::access_log::AccessLog;
use proxy::config::ProxyConfig;
use proxy::metrics::ProxyMetrics;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::*;

/// A WebSocket server echoing every message, one task per connection.
pub async fn ws_echo() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
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
    (addr, task)
}

#[tokio::test]
async fn websocket_echo() {
    let (ws_addr, ws_task) = ws_echo().await;
    let proxy = Proxy::start(single(backend("default-ws-80", &[ws_addr]))).await;

    let stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let request = "ws://a.example/chat"
        .into_client_request()
        .expect("request");
    let (mut ws, response) = within(tokio_tungstenite::client_async(request, stream))
        .await
        .expect("websocket handshake through the proxy");
    assert_eq!(response.status(), 101);
    assert!(response.headers().contains_key("x-request-id"));

    for text in ["hello", "world"] {
        within(ws.send(Message::text(text))).await.expect("send");
        let echoed = within(ws.next()).await.expect("open").expect("message");
        assert_eq!(echoed, Message::text(text));
    }
    let big = Message::binary(vec![7u8; 1 << 20]);
    within(ws.send(big.clone())).await.expect("send");
    assert_eq!(
        within(ws.next()).await.expect("open").expect("message"),
        big
    );
    let _ = ws.close(None).await;
    // The drain waits for upgraded connections: the client side must go too.
    drop(ws);
    proxy.stop().await;
    ws_task.abort();
}

#[tokio::test]
async fn an_open_websocket_counts_as_an_open_connection_until_it_closes() {
    let (ws_addr, ws_task) = ws_echo().await;
    let mut registry = Registry::default();
    let metrics = ProxyMetrics::new(&mut registry);
    let open = metrics.open_connections("http");
    let telemetry = Telemetry::new(metrics, AccessLog::off());
    let proxy = Proxy::start_full(
        single(backend("default-ws-80", &[ws_addr])),
        ProxyConfig::default(),
        telemetry,
    )
    .await;

    let stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let request = "ws://a.example/chat"
        .into_client_request()
        .expect("request");
    let (mut ws, _) = within(tokio_tungstenite::client_async(request, stream))
        .await
        .expect("websocket handshake through the proxy");
    within(ws.send(Message::text("hello"))).await.expect("send");
    let echoed = within(ws.next()).await.expect("open").expect("message");
    assert_eq!(echoed, Message::text("hello"));
    // hyper has handed the connection over: only the tunnel is left in the drain.
    within(async {
        while proxy.drain.open() != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(open.get(), 1, "the tunnel is still an open connection");

    let _ = ws.close(None).await;
    drop(ws);
    within(async {
        while open.get() != 0 || proxy.drain.open() != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    proxy.stop().await;
    ws_task.abort();
}
