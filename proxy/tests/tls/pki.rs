//! Test certificates made with rcgen: a CA, leaves for given names and key kinds, and the
//! same private key in PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, RsaKeySize,
    SignatureAlgorithm,
};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

/// The kinds of private key a Secret may hold.
#[derive(Clone, Copy, Debug)]
pub enum KeyKind {
    Rsa2048,
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    pub fn generate(self) -> KeyPair {
        let generated = match self {
            KeyKind::Rsa2048 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048)
            }
            KeyKind::P256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyKind::P384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
            KeyKind::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
        };
        generated.expect("key generation")
    }

    fn algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            KeyKind::Rsa2048 => &rcgen::PKCS_RSA_SHA256,
            KeyKind::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyKind::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyKind::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }
}

/// A test certificate authority.
pub struct Ca {
    pub cert_pem: String,
    pub der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyKind::P256.generate();
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA certificate");
        Ca {
            cert_pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A root store trusting only this CA.
    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).expect("add CA");
        roots
    }

    /// A leaf for `names` (SANs; may include `*.` wildcards) with a new P-256 key.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_with(names, KeyKind::P256)
    }

    /// A leaf for `names` with a new key of `kind`; its chain PEM is leaf then CA.
    pub fn leaf_with(&self, names: &[&str], kind: KeyKind) -> Leaf {
        let key = kind.generate();
        assert_eq!(key.algorithm(), kind.algorithm());
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("params");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Leaf {
            chain_pem: format!("{}{}", cert.pem(), self.cert_pem),
            der: cert.der().clone(),
            key_pem: key.serialize_pem(),
            key_der: key.serialize_der(),
        }
    }
}

/// A leaf certificate and its key.
pub struct Leaf {
    /// Leaf, then the CA.
    pub chain_pem: String,
    pub der: CertificateDer<'static>,
    /// PKCS#8 PEM.
    pub key_pem: String,
    /// PKCS#8 DER.
    pub key_der: Vec<u8>,
}

impl Leaf {
    /// The key as PKCS#1 (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`) PEM: the private
    /// key octets inside the PKCS#8 structure are exactly those encodings.
    pub fn key_pem_as(&self, label: &str) -> String {
        pem_encode(label, pkcs8_inner(&self.key_der))
    }
}

/// The `privateKey` OCTET STRING content of a PKCS#8 `PrivateKeyInfo`.
fn pkcs8_inner(der: &[u8]) -> &[u8] {
    let (tag, info, _) = der_item(der);
    assert_eq!(tag, 0x30, "PrivateKeyInfo is a SEQUENCE");
    let (tag, _version, rest) = der_item(info);
    assert_eq!(tag, 0x02, "version INTEGER");
    let (tag, _algorithm, rest) = der_item(rest);
    assert_eq!(tag, 0x30, "AlgorithmIdentifier SEQUENCE");
    let (tag, key, _) = der_item(rest);
    assert_eq!(tag, 0x04, "privateKey OCTET STRING");
    key
}

/// One DER TLV: (tag, content, rest).
fn der_item(der: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = der[0];
    let first = der[1] as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let count = first & 0x7f;
        let len = der[2..2 + count]
            .iter()
            .fold(0usize, |len, byte| (len << 8) | *byte as usize);
        (len, 2 + count)
    };
    (tag, &der[header..header + len], &der[header + len..])
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(bytes[0]) << 16) | (u32::from(bytes[1]) << 8) | u32::from(bytes[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("ascii"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
