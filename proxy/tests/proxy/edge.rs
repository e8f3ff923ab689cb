//! Strict parsing at the edge, checked with raw bytes: nothing ambiguous reaches a backend.

use crate::support::*;

async fn start() -> (EchoBackend, Proxy) {
    let app = EchoBackend::start("app").await;
    let proxy = Proxy::start(single(backend("default-app-80", &[app.addr]))).await;
    (app, proxy)
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

#[tokio::test]
async fn bad_hosts_are_400() {
    let (app, proxy) = start().await;
    let cases: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\nHost: a.example\r\nHost: a.example\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a.example/x\r\nConnection: close\r\n\r\n",
    ];
    for case in cases {
        let response = raw(proxy.addr, case).await;
        assert_eq!(
            status_line(&response),
            "HTTP/1.1 400 Bad Request",
            "{}",
            String::from_utf8_lossy(case)
        );
        assert!(response.to_ascii_lowercase().contains("x-request-id: "));
    }
    assert_eq!(app.request_count(), 0);
    proxy.stop().await;
}

#[tokio::test]
async fn differing_content_lengths_are_400() {
    let (app, proxy) = start().await;
    let response = raw(
        proxy.addr,
        b"POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    )
    .await;
    assert!(
        status_line(&response).starts_with("HTTP/1.1 400"),
        "{response}"
    );
    assert_eq!(app.request_count(), 0);
    proxy.stop().await;
}

/// hyper settles Content-Length + Transfer-Encoding itself before the proxy sees the
/// request (RFC 9112 §6.3): chunked wins, Content-Length is dropped and the connection is
/// closed after the response. The backend gets one unambiguous framing and the bytes after
/// the chunked terminator are never read as a request.
#[tokio::test]
async fn content_length_with_transfer_encoding_is_never_forwarded_ambiguously() {
    let (app, proxy) = start().await;
    // By Content-Length the body is "0\r\n\r\nGET /smuggled ..."; by chunked framing it is
    // empty and a second request follows.
    let response = raw(
        proxy.addr,
        b"POST / HTTP/1.1\r\nHost: a.example\r\nContent-Length: 48\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a.example\r\n\r\n",
    )
    .await;
    assert!(
        status_line(&response).starts_with("HTTP/1.1 200"),
        "{response}"
    );
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_default();
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    let seen = Seen::parse(body);
    assert_eq!(seen.uri, "/");
    assert_eq!(seen.all("content-length"), Vec::<&str>::new());
    assert_eq!(seen.body, "");
    assert!(!response.contains("/smuggled"), "{response}");
    assert_eq!(
        app.request_count(),
        1,
        "the smuggled request was not forwarded"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn oversized_header_section_is_431() {
    let (app, proxy) = start().await;
    let mut request = b"GET / HTTP/1.1\r\nHost: a.example\r\n".to_vec();
    for i in 0..10 {
        request.extend_from_slice(format!("x-filler-{i}: {}\r\n", "a".repeat(4000)).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    let response = raw(proxy.addr, &request).await;
    assert!(
        status_line(&response).starts_with("HTTP/1.1 431"),
        "{response}"
    );
    assert_eq!(app.request_count(), 0);

    // Just under the limit still works.
    let mut request = b"GET / HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n".to_vec();
    request.extend_from_slice(format!("x-filler: {}\r\n\r\n", "a".repeat(16 * 1024)).as_bytes());
    let response = raw(proxy.addr, &request).await;
    assert!(
        status_line(&response).starts_with("HTTP/1.1 200"),
        "{response}"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn path_is_normalised_before_matching_and_upstream() {
    let app = EchoBackend::start("app").await;
    let other = EchoBackend::start("other").await;
    let proxy = Proxy::start(table(vec![vhost(
        "a.example",
        vec![
            route(
                "/public",
                proxy::table::PathKind::Prefix,
                backend("default-app-80", &[app.addr]),
            ),
            route(
                "/",
                proxy::table::PathKind::Prefix,
                backend("default-other-80", &[other.addr]),
            ),
        ],
    )]))
    .await;
    let response = raw(
        proxy.addr,
        b"GET /private/../public/./a//b?x=/../ HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        status_line(&response).starts_with("HTTP/1.1 200"),
        "{response}"
    );
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    let seen = Seen::parse(body);
    assert_eq!(seen.backend, "app");
    assert_eq!(seen.uri, "/public/a/b?x=/../");
    proxy.stop().await;
}
