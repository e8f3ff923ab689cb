//! Secrets as found in clusters: RSA, ECDSA P-256/P-384 and Ed25519 keys in PKCS#1,
//! PKCS#8 or SEC1 PEM, each loaded and served; and the typed errors for bad ones.

use proxy::tls::{TlsError, certified_key_from_pem};

use crate::harness::*;
use crate::pki::{Ca, KeyKind};
use crate::support::*;

#[tokio::test]
async fn every_key_kind_and_encoding_is_loaded_and_served() {
    let echo = EchoBackend::start("echo").await;
    let ca = Ca::new("test CA");
    let cases = [
        (KeyKind::Rsa2048, "PKCS#8", None),
        (KeyKind::Rsa2048, "PKCS#1", Some("RSA PRIVATE KEY")),
        (KeyKind::P256, "PKCS#8", None),
        (KeyKind::P256, "SEC1", Some("EC PRIVATE KEY")),
        (KeyKind::P384, "PKCS#8", None),
        (KeyKind::P384, "SEC1", Some("EC PRIVATE KEY")),
        (KeyKind::Ed25519, "PKCS#8", None),
    ];
    let mut bindings = Vec::new();
    let mut expected = Vec::new();
    for (i, (kind, encoding, label)) in cases.iter().enumerate() {
        let host = format!("k{i}.example");
        let leaf = ca.leaf_with(&[host.as_str()], *kind);
        let key_pem = match label {
            Some(label) => leaf.key_pem_as(label),
            None => leaf.key_pem.clone(),
        };
        if let Some(label) = label {
            assert!(key_pem.starts_with(&format!("-----BEGIN {label}-----")));
        }
        certified_key_from_pem(leaf.chain_pem.as_bytes(), key_pem.as_bytes())
            .unwrap_or_else(|err| panic!("{kind:?} {encoding}: {err}"));
        let mut cert = certificate(&host, &leaf);
        cert.key_pem = key_pem.into_bytes();
        bindings.push(binding(&[host.as_str()], cert));
        expected.push((host, leaf.der.clone(), *kind, *encoding));
    }
    let mut table = single(backend("default-echo-80", &[echo.addr]));
    table.tls = bindings;
    let proxies = Proxies::start(table).await;
    assert_eq!(proxies.errors, Vec::new());
    for (host, der, kind, encoding) in expected {
        let stream = connect(
            proxies.https,
            Some(&host),
            Client::trusting(ca.roots()).config(),
        )
        .await
        .unwrap_or_else(|err| panic!("{kind:?} {encoding}: {err}"));
        assert_eq!(peer_leaf(&stream), der, "{kind:?} {encoding}");
    }
    proxies.stop().await;
}

#[test]
fn bad_secrets_get_typed_errors() {
    let ca = Ca::new("test CA");
    let leaf = ca.leaf(&["a.example"]);
    let other = ca.leaf(&["a.example"]);
    let chain = leaf.chain_pem.as_bytes();
    let key = leaf.key_pem.as_bytes();

    let not_pem = certified_key_from_pem(b"hello", key);
    assert!(
        matches!(
            not_pem,
            Err(TlsError::NotPem {
                what: "the certificate",
                ..
            })
        ),
        "{not_pem:?}"
    );
    let truncated = &chain[..chain.len() / 2];
    assert!(matches!(
        certified_key_from_pem(truncated, key),
        Err(TlsError::NotPem { .. })
    ));
    assert!(matches!(
        certified_key_from_pem(chain, b"garbage"),
        Err(TlsError::NotPem {
            what: "the private key",
            ..
        })
    ));
    // PEM, but of the wrong kinds.
    assert_eq!(
        certified_key_from_pem(key, key).err(),
        Some(TlsError::NoCertificate)
    );
    assert_eq!(
        certified_key_from_pem(chain, chain).err(),
        Some(TlsError::NoKey)
    );
    assert_eq!(
        certified_key_from_pem(chain, other.key_pem.as_bytes()).err(),
        Some(TlsError::KeyMismatch)
    );
    // A key PEM section whose content is no key.
    let bogus_key = "-----BEGIN PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END PRIVATE KEY-----\n";
    assert!(matches!(
        certified_key_from_pem(chain, bogus_key.as_bytes()),
        Err(TlsError::UnsupportedKey(_))
    ));
    // A certificate section whose content is no certificate.
    let bogus_cert = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        certified_key_from_pem(bogus_cert.as_bytes(), key),
        Err(TlsError::InvalidCertificate(_))
    ));
    // The good pair, with the chain kept in order.
    let certified = certified_key_from_pem(chain, key).expect("valid pair");
    assert_eq!(certified.cert.len(), 2, "leaf then CA");
    assert_eq!(certified.cert[0], leaf.der);
    assert_eq!(certified.cert[1], ca.der);
}
