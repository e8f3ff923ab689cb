//! Full TLS handshakes per second, in memory, for each crypto provider compiled in:
//! aws-lc-rs always, ring with `--features bench-ring`. Resumption is off on both sides,
//! so every iteration is a full handshake (client and server on one thread: the time is
//! CPU time). RSA-2048 and ECDSA P-256 server certificates, TLS 1.3 and TLS 1.2.
//!
//! `cargo bench -p proxy --features bench-ring --bench handshake`

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::NoServerSessionStorage;
use rustls::{
    ClientConfig, ClientConnection, ServerConfig, ServerConnection, SupportedProtocolVersion,
};

#[cfg_attr(
    not(feature = "bench-ring"),
    expect(unused_mut, reason = "one provider only")
)]
fn providers() -> Vec<(&'static str, Arc<CryptoProvider>)> {
    let mut providers = vec![(
        "aws-lc-rs",
        Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
    )];
    #[cfg(feature = "bench-ring")]
    providers.push(("ring", Arc::new(rustls::crypto::ring::default_provider())));
    providers
}

/// A self-signed certificate and its PKCS#8 key.
fn certificate(rsa: bool) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let key = if rsa {
        rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
    } else {
        rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
    }
    .expect("key");
    let params = rcgen::CertificateParams::new(vec!["bench.example".to_owned()]).expect("params");
    let cert = params.self_signed(&key).expect("certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (cert.der().clone(), key)
}

fn configs(
    provider: &Arc<CryptoProvider>,
    version: &'static SupportedProtocolVersion,
    cert: &CertificateDer<'static>,
    key: &PrivateKeyDer<'static>,
) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    let mut server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key.clone_key())
        .expect("server certificate");
    server.session_storage = Arc::new(NoServerSessionStorage {});
    server.send_tls13_tickets = 0;
    let mut client = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(proxy::tls::NoVerification::new(
            provider.clone(),
        )))
        .with_no_client_auth();
    client.resumption = rustls::client::Resumption::disabled();
    (Arc::new(client), Arc::new(server))
}

/// One full handshake, bytes passed in memory.
fn handshake(client: &Arc<ClientConfig>, server: &Arc<ServerConfig>) {
    let name = ServerName::try_from("bench.example").expect("name");
    let mut client = ClientConnection::new(client.clone(), name).expect("client");
    let mut server = ServerConnection::new(server.clone()).expect("server");
    let mut buf = Vec::with_capacity(8192);
    while client.is_handshaking() || server.is_handshaking() {
        transfer(&mut buf, &mut client, &mut server);
        transfer(&mut buf, &mut server, &mut client);
    }
}

fn transfer<A, B, DA, DB>(buf: &mut Vec<u8>, from: &mut A, to: &mut B)
where
    A: std::ops::DerefMut<Target = rustls::ConnectionCommon<DA>>,
    B: std::ops::DerefMut<Target = rustls::ConnectionCommon<DB>>,
    DA: rustls::SideData,
    DB: rustls::SideData,
{
    buf.clear();
    while from.wants_write() {
        from.write_tls(buf).expect("write");
    }
    let mut slice = &buf[..];
    while !slice.is_empty() {
        to.read_tls(&mut slice).expect("read");
        to.process_new_packets().expect("handshake");
    }
}

fn bench(c: &mut Criterion) {
    let certs = [("rsa2048", certificate(true)), ("p256", certificate(false))];
    let versions = [
        ("tls13", &rustls::version::TLS13),
        ("tls12", &rustls::version::TLS12),
    ];
    let mut group = c.benchmark_group("full_handshake");
    group.throughput(Throughput::Elements(1));
    group.sample_size(30);
    for (provider_name, provider) in providers() {
        for (cert_name, (cert, key)) in &certs {
            for (version_name, version) in versions {
                let (client, server) = configs(&provider, version, cert, key);
                let id = format!("{provider_name}/{cert_name}/{version_name}");
                group.bench_function(id, |b| b.iter(|| handshake(&client, &server)));
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
