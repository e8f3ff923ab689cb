//! WebSocket through the proxy: the upgrade is forwarded and the bytes spliced.

use futures_util::{SinkExt, StreamExt};
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
