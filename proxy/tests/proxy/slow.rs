//! Slow and silent clients are cut at the header-read timeout: a connection that sends an
//! incomplete request head, or nothing at all, does not hold a slot for ever.

use std::time::Duration;

use proxy::config::ProxyConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

const TIMEOUT: Duration = Duration::from_millis(300);

async fn start() -> (EchoBackend, Proxy) {
    let app = EchoBackend::start("app").await;
    let config = ProxyConfig {
        header_read_timeout: TIMEOUT,
        ..ProxyConfig::default()
    };
    let proxy = Proxy::start_with(single(backend("default-app-80", &[app.addr])), config).await;
    (app, proxy)
}

/// Connects, sends `bytes` (possibly none) and reads until the proxy closes the
/// connection; what the proxy sent before closing.
async fn send_and_wait_for_close(proxy: &Proxy, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match within(stream.read(&mut buf)).await {
            Ok(0) | Err(_) => return seen,
            Ok(n) => seen.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
    }
}

#[tokio::test]
async fn a_silent_connection_is_closed() {
    let (app, proxy) = start().await;
    let seen = send_and_wait_for_close(&proxy, b"").await;
    assert!(seen.is_empty(), "{}", String::from_utf8_lossy(&seen));
    assert_eq!(app.request_count(), 0);
}

#[tokio::test]
async fn an_incomplete_head_is_cut() {
    let (app, proxy) = start().await;
    send_and_wait_for_close(&proxy, b"GET / HTTP/1.1\r\nHost: a.example\r\n").await;
    assert_eq!(app.request_count(), 0);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let (app, proxy) = start().await;
    let seen = send_and_wait_for_close(&proxy, b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n").await;
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert_eq!(app.request_count(), 1);
}
