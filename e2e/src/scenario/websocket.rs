//! WebSocket upgrade through the proxy.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::client::bounded;
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::manifest::{Ingress, PathType, Rule};
use crate::testbed::Testbed;
use crate::wait::REQUEST;

/// A WebSocket client connects through the proxy; text and binary messages come back.
pub async fn echo<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let echoes = tb.backends(&["ws"]).await?;
    tb.apply_echo_services("backends", &echoes).await?;
    let ingress =
        Ingress::new("ws").rule(Rule::host("ws.example").path("/socket", PathType::Prefix, "ws"));
    tb.cluster.apply("ingress", &ingress.to_yaml()).await?;
    tb.wait_for_backend("ws.example", "/socket", "ws").await?;

    bounded(
        REQUEST * 3,
        "a WebSocket exchange through the proxy",
        async {
            let request = "ws://ws.example/socket/chat"
                .into_client_request()
                .map_err(|e| Error::client("building the upgrade request", e))?;
            let stream = TcpStream::connect(tb.proxy())
                .await
                .map_err(|e| Error::io("connecting to the proxy", e))?;
            let (mut socket, response) = tokio_tungstenite::client_async(request, stream)
                .await
                .map_err(|e| Error::client("WebSocket upgrade through the proxy", e))?;
            assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);

            let messages = [
                Message::text("hello through wicket"),
                Message::binary(vec![0u8, 1, 2, 254, 255]),
                Message::text("x".repeat(100_000)),
            ];
            for message in messages {
                socket
                    .send(message.clone())
                    .await
                    .map_err(|e| Error::client("sending a WebSocket message", e))?;
                let reply = loop {
                    match socket.next().await {
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(reply)) => break reply,
                        Some(Err(e)) => {
                            return Err(Error::client("reading a WebSocket message", e));
                        }
                        None => panic!(
                            "the WebSocket closed before echoing {} bytes",
                            message.len()
                        ),
                    }
                };
                assert_eq!(reply, message, "echoed message");
            }
            socket
                .close(None)
                .await
                .map_err(|e| Error::client("closing the WebSocket", e))?;
            Ok(())
        },
    )
    .await
}
