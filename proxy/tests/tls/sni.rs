//! SNI picks the certificate: exact and wildcard bindings, the default for unknown or
//! missing SNI, live replacement, and a broken certificate that affects only its hosts.

use proxy::TableError;
use proxy::table::{Certificate, PathKind, RouteTable};

use crate::harness::*;
use crate::pki::Ca;
use crate::support::*;

/// A table with one echo route per host and the given TLS bindings.
fn tls_table(
    backend_addr: std::net::SocketAddr,
    hosts: &[&str],
    tls: Vec<proxy::table::TlsBinding>,
) -> RouteTable {
    RouteTable {
        tls,
        ..table(
            hosts
                .iter()
                .map(|host| {
                    let mut vhost = vhost(
                        host,
                        vec![route(
                            "/",
                            PathKind::Prefix,
                            backend("default-echo-80", &[backend_addr]),
                        )],
                    );
                    vhost.host = pattern(host);
                    vhost
                })
                .collect(),
        )
    }
}

fn self_signed_leaf() -> rustls::pki_types::CertificateDer<'static> {
    let key = proxy::tls::self_signed().expect("self-signed");
    key.cert.first().expect("leaf").clone()
}

#[tokio::test]
async fn sni_picks_the_bound_certificate_and_it_verifies_against_the_ca() {
    let echo = EchoBackend::start("echo").await;
    let ca = Ca::new("test CA");
    let a = ca.leaf(&["a.example"]);
    let b = ca.leaf(&["b.example"]);
    let proxies = Proxies::start(tls_table(
        echo.addr,
        &["a.example", "b.example"],
        vec![
            binding(&["a.example"], certificate("a-tls", &a)),
            binding(&["b.example"], certificate("b-tls", &b)),
        ],
    ))
    .await;

    for (host, leaf) in [("a.example", &a), ("b.example", &b)] {
        let stream = connect(
            proxies.https,
            Some(host),
            Client::trusting(ca.roots()).config(),
        )
        .await
        .expect("handshake verifies against the test CA");
        assert_eq!(peer_leaf(&stream), leaf.der, "certificate for {host}");
        let mut sender = http1(stream).await;
        let reply = get_on(&mut sender, host, "/x").await.expect("request");
        assert_eq!(reply.seen().one("x-forwarded-proto"), Some("https"));
    }
    // Host picks the route, SNI picks the certificate: SNI a, Host b is served by b's route.
    let stream = connect(proxies.https, Some("a.example"), Client::default().config())
        .await
        .expect("handshake");
    assert_eq!(peer_leaf(&stream), a.der);
    let mut sender = http1(stream).await;
    let reply = get_on(&mut sender, "b.example", "/")
        .await
        .expect("request");
    assert_eq!(reply.seen().one("host"), Some("b.example"));
    proxies.stop().await;
}

#[tokio::test]
async fn wildcard_bindings_and_wildcard_certificates() {
    let echo = EchoBackend::start("echo").await;
    let ca = Ca::new("test CA");
    let wildcard = ca.leaf(&["*.foo.example"]);
    let exact = ca.leaf(&["www.foo.example"]);
    let proxies = Proxies::start(tls_table(
        echo.addr,
        &["*.foo.example", "www.foo.example", "bar.example"],
        vec![
            binding(&["*.foo.example"], certificate("wild", &wildcard)),
            binding(&["www.foo.example"], certificate("www", &exact)),
            // A wildcard certificate bound to an exact host.
            binding(&["bar.wild.example"], certificate("wild-again", &wildcard)),
        ],
    ))
    .await;

    let verified = connect(
        proxies.https,
        Some("api.foo.example"),
        Client::trusting(ca.roots()).config(),
    )
    .await
    .expect("the wildcard certificate verifies for a one-label name");
    assert_eq!(peer_leaf(&verified), wildcard.der);
    assert_eq!(
        served_leaf(proxies.https, Some("API.Foo.Example")).await,
        wildcard.der
    );
    assert_eq!(
        served_leaf(proxies.https, Some("www.foo.example")).await,
        exact.der,
        "exact wins"
    );
    assert_eq!(
        served_leaf(proxies.https, Some("bar.wild.example")).await,
        wildcard.der
    );
    // One label only: neither the bare suffix nor two labels match the wildcard.
    assert_eq!(
        served_leaf(proxies.https, Some("foo.example")).await,
        self_signed_leaf()
    );
    assert_eq!(
        served_leaf(proxies.https, Some("a.b.foo.example")).await,
        self_signed_leaf()
    );
    proxies.stop().await;
}

#[tokio::test]
async fn unknown_or_missing_sni_gets_the_default_certificate() {
    let echo = EchoBackend::start("echo").await;
    let ca = Ca::new("test CA");
    let a = ca.leaf(&["a.example"]);
    let fallback = ca.leaf(&["fallback.example"]);
    let mut table = tls_table(
        echo.addr,
        &["a.example"],
        vec![binding(&["a.example"], certificate("a", &a))],
    );
    let proxies = Proxies::start(table.clone()).await;

    // No --default-ssl-certificate: the self-signed one.
    assert_eq!(
        served_leaf(proxies.https, Some("unknown.example")).await,
        self_signed_leaf()
    );
    assert_eq!(served_leaf(proxies.https, None).await, self_signed_leaf());
    // A request without SNI is still routed by Host.
    let stream = connect(proxies.https, None, Client::default().config())
        .await
        .expect("handshake");
    let mut sender = http1(stream).await;
    let reply = get_on(&mut sender, "a.example", "/")
        .await
        .expect("request");
    assert_eq!(reply.seen().backend, "echo");

    table.default_certificate = Some(certificate("fallback", &fallback));
    assert_eq!(proxies.publish(table), Vec::new());
    assert_eq!(
        served_leaf(proxies.https, Some("unknown.example")).await,
        fallback.der
    );
    assert_eq!(served_leaf(proxies.https, None).await, fallback.der);
    assert_eq!(served_leaf(proxies.https, Some("a.example")).await, a.der);
    proxies.stop().await;
}

#[tokio::test]
async fn a_replaced_certificate_reaches_the_next_handshake_while_open_connections_continue() {
    let echo = EchoBackend::start("echo").await;
    let ca = Ca::new("test CA");
    let old = ca.leaf(&["a.example"]);
    let new = ca.leaf(&["a.example"]);
    let proxies = Proxies::start(tls_table(
        echo.addr,
        &["a.example"],
        vec![binding(&["a.example"], certificate("a", &old))],
    ))
    .await;

    let stream = connect(proxies.https, Some("a.example"), Client::default().config())
        .await
        .expect("handshake");
    assert_eq!(peer_leaf(&stream), old.der);
    let mut kept = http1(stream).await;
    assert_eq!(
        get_on(&mut kept, "a.example", "/")
            .await
            .expect("first")
            .status,
        200
    );

    assert_eq!(
        proxies.publish(tls_table(
            echo.addr,
            &["a.example"],
            vec![binding(&["a.example"], certificate("a", &new))],
        )),
        Vec::new()
    );
    assert_eq!(served_leaf(proxies.https, Some("a.example")).await, new.der);
    let again = get_on(&mut kept, "a.example", "/")
        .await
        .expect("the open connection still works");
    assert_eq!(again.status, 200);
    assert_eq!(again.seen().conn, "0", "same upstream connection reused");
    proxies.stop().await;
}

#[tokio::test]
async fn a_broken_certificate_is_reported_and_only_its_hosts_fall_back() {
    let echo = EchoBackend::start("echo").await;
    let ca = Ca::new("test CA");
    let good = ca.leaf(&["good.example"]);
    let other = ca.leaf(&["other.example"]);
    let broken = Certificate {
        source: "default/broken-tls".into(),
        chain_pem: b"not a certificate".to_vec(),
        key_pem: good.key_pem.clone().into_bytes(),
    };
    let mismatched = Certificate {
        source: "default/mismatched-tls".into(),
        chain_pem: other.chain_pem.clone().into_bytes(),
        key_pem: good.key_pem.clone().into_bytes(),
    };
    let proxies = Proxies::start(tls_table(
        echo.addr,
        &["good.example", "bad.example", "odd.example"],
        vec![
            binding(&["good.example"], certificate("good-tls", &good)),
            binding(&["bad.example"], broken),
            binding(&["odd.example"], mismatched),
        ],
    ))
    .await;
    let errors = &proxies.errors;
    assert_eq!(errors.len(), 2, "{errors:?}");
    match &errors[0] {
        TableError::InvalidCertificate {
            source_key,
            hosts,
            reason,
        } => {
            assert_eq!(source_key, "default/broken-tls");
            assert_eq!(hosts, &["bad.example".to_owned()]);
            assert!(reason.contains("not PEM"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        errors[1].to_string().contains("default/mismatched-tls"),
        "{}",
        errors[1]
    );
    assert!(
        errors[1].to_string().contains("does not match"),
        "{}",
        errors[1]
    );

    assert_eq!(
        served_leaf(proxies.https, Some("good.example")).await,
        good.der
    );
    assert_eq!(
        served_leaf(proxies.https, Some("bad.example")).await,
        self_signed_leaf()
    );
    assert_eq!(
        served_leaf(proxies.https, Some("odd.example")).await,
        self_signed_leaf()
    );
    // The route of the host with the broken certificate still serves.
    let reply = https_get(proxies.https, "bad.example", "/").await;
    assert_eq!(reply.status, 200);
    proxies.stop().await;
}
