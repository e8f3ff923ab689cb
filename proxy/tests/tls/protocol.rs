//! TLS protocol features of the HTTPS listener: ALPN h2 and http/1.1, TLS 1.2 and 1.3
//! clients, and session resumption by ticket and by session ID.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Version};
use http_body_util::{BodyExt, Empty};
use rustls::HandshakeKind;
use rustls::client::{Resumption, Tls12Resumption};

use crate::harness::*;
use crate::pki::Ca;
use crate::support::*;

async fn start() -> (Proxies, EchoBackend, Ca) {
    let echo = EchoBackend::start("echo").await;
    let ca = Ca::new("test CA");
    let leaf = ca.leaf(&["a.example"]);
    let mut table = single(backend("default-echo-80", &[echo.addr]));
    table.tls = vec![binding(&["a.example"], certificate("a", &leaf))];
    (Proxies::start(table).await, echo, ca)
}

#[tokio::test]
async fn alpn_h2_is_negotiated_and_http2_requests_are_served() {
    let (proxies, _backend, ca) = start().await;
    let mut client = Client::trusting(ca.roots());
    client.alpn = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let stream = connect(proxies.https, Some("a.example"), client.config())
        .await
        .expect("handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let mut sender = http2::<Empty<Bytes>>(stream).await;
    for path in ["/one", "/two"] {
        let req = Request::get(format!("https://a.example{path}"))
            .body(Empty::new())
            .expect("request");
        let response = within(sender.send_request(req)).await.expect("response");
        assert_eq!(response.version(), Version::HTTP_2);
        assert_eq!(response.status(), 200);
        let body = within(response.into_body().collect())
            .await
            .expect("body")
            .to_bytes();
        let seen = Seen::parse(&String::from_utf8_lossy(&body));
        assert_eq!(seen.uri, path);
        assert_eq!(seen.one("x-forwarded-proto"), Some("https"));
        assert_eq!(seen.one("host"), Some("a.example"));
    }

    let mut client = Client::trusting(ca.roots());
    client.alpn = vec![b"http/1.1".to_vec()];
    let stream = connect(proxies.https, Some("a.example"), client.config())
        .await
        .expect("handshake");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let mut sender = http1(stream).await;
    let reply = get_on(&mut sender, "a.example", "/")
        .await
        .expect("request");
    assert_eq!(reply.seen().version, "HTTP/1.1");
    proxies.stop().await;
}

#[tokio::test]
async fn tls12_only_and_tls13_only_clients_connect() {
    let (proxies, _backend, ca) = start().await;
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let mut client = Client::trusting(ca.roots());
        client.versions = vec![version];
        let stream = connect(proxies.https, Some("a.example"), client.config())
            .await
            .unwrap_or_else(|err| panic!("{:?}: {err}", version.version));
        assert_eq!(stream.get_ref().1.protocol_version(), Some(version.version));
        let mut sender = http1(stream).await;
        let reply = get_on(&mut sender, "a.example", "/")
            .await
            .expect("request");
        assert_eq!(reply.status, 200);
    }
    proxies.stop().await;
}

/// Two handshakes with one client configuration: the second resumes.
async fn second_handshake_resumes(proxies: &Proxies, config: Arc<rustls::ClientConfig>) {
    let first = connect(proxies.https, Some("a.example"), config.clone())
        .await
        .expect("first handshake");
    assert_eq!(
        first.get_ref().1.handshake_kind(),
        Some(HandshakeKind::Full)
    );
    // TLS 1.3 tickets arrive after the handshake: use the connection once so they are read.
    let mut sender = http1(first).await;
    assert_eq!(
        get_on(&mut sender, "a.example", "/")
            .await
            .expect("request")
            .status,
        200
    );
    let second = connect(proxies.https, Some("a.example"), config)
        .await
        .expect("second handshake");
    assert_eq!(
        second.get_ref().1.handshake_kind(),
        Some(HandshakeKind::Resumed)
    );
}

#[tokio::test]
async fn sessions_resume_by_ticket_and_by_session_id() {
    let (proxies, _backend, ca) = start().await;

    // TLS 1.3: tickets.
    let mut client = Client::trusting(ca.roots());
    client.versions = vec![&rustls::version::TLS13];
    second_handshake_resumes(&proxies, client.config()).await;

    // TLS 1.2 with tickets.
    let mut client = Client::trusting(ca.roots());
    client.versions = vec![&rustls::version::TLS12];
    second_handshake_resumes(&proxies, client.config()).await;

    // TLS 1.2 by session ID only (the server's session cache).
    let mut client = Client::trusting(ca.roots());
    client.versions = vec![&rustls::version::TLS12];
    let mut config = Arc::unwrap_or_clone(client.config());
    config.resumption =
        Resumption::in_memory_sessions(16).tls12_resumption(Tls12Resumption::SessionIdOnly);
    second_handshake_resumes(&proxies, Arc::new(config)).await;
    proxies.stop().await;
}
