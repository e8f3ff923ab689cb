//! PEM → [`CertifiedKey`]: the one place a certificate chain and its private key are parsed
//! and checked against each other.
//!
//! ```text
//! tls.crt ─► every CERTIFICATE section, in order (leaf first, then the chain)
//! tls.key ─► the first RSA PRIVATE KEY (PKCS#1) │ PRIVATE KEY (PKCS#8) │ EC PRIVATE KEY (SEC1)
//!            ─► provider key loader (RSA, ECDSA P-256/P-384, Ed25519) ─► signing key
//! leaf SubjectPublicKeyInfo == signing key's public key, else KeyMismatch
//! ```

use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject, SectionKind};
use rustls_pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};

/// Why a certificate chain and key cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The data is not PEM (no PEM section at all, or broken PEM syntax).
    #[error("{what} is not PEM: {reason}")]
    NotPem { what: &'static str, reason: String },
    /// The certificate PEM has no `CERTIFICATE` section.
    #[error("no CERTIFICATE in the certificate PEM")]
    NoCertificate,
    /// The key PEM has no private key section of a known encoding.
    #[error("no private key (PKCS#1, PKCS#8 or SEC1) in the key PEM")]
    NoKey,
    /// The key is of a kind or curve that cannot sign TLS handshakes.
    #[error("unsupported private key: {0}")]
    UnsupportedKey(String),
    /// The leaf certificate cannot be parsed as X.509.
    #[error("invalid leaf certificate: {0}")]
    InvalidCertificate(String),
    /// The private key does not belong to the leaf certificate.
    #[error("the private key does not match the certificate")]
    KeyMismatch,
    /// `proxy-ssl-name` is not a DNS name or IP address.
    #[error("invalid TLS server name {0:?}")]
    InvalidServerName(String),
    /// A TLS configuration could not be built (e.g. no randomness for session tickets).
    #[error("TLS setup failed: {0}")]
    Setup(String),
}

/// Parses a PEM certificate chain (leaf first) and a PEM private key (PKCS#1, PKCS#8 or
/// SEC1; RSA, ECDSA P-256/P-384 or Ed25519) into a signing-ready [`CertifiedKey`], and
/// checks that the key belongs to the leaf.
pub fn certified_key_from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, TlsError> {
    let chain = certificates(chain_pem)?;
    let key = private_key(key_pem)?;
    let signing_key = super::provider()
        .key_provider
        .load_private_key(key)
        .map_err(|err| TlsError::UnsupportedKey(err.to_string()))?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::KeyMismatch)
        }
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Err(
            TlsError::UnsupportedKey("its public key cannot be derived".to_owned()),
        ),
        Err(err) => Err(TlsError::InvalidCertificate(err.to_string())),
    }
}

/// [`certified_key_from_pem`], shared.
pub(crate) fn shared_key_from_pem(
    chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<CertifiedKey>, TlsError> {
    certified_key_from_pem(chain_pem, key_pem).map(Arc::new)
}

/// Every PEM section of `data`, in order; `NotPem` when there is none or the syntax is broken.
fn sections(what: &'static str, data: &[u8]) -> Result<Vec<(SectionKind, Vec<u8>)>, TlsError> {
    let sections = <(SectionKind, Vec<u8>)>::pem_slice_iter(data)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|err| TlsError::NotPem {
            what,
            reason: err.to_string(),
        })?;
    if sections.is_empty() {
        return Err(TlsError::NotPem {
            what,
            reason: "no PEM section found".to_owned(),
        });
    }
    Ok(sections)
}

fn certificates(chain_pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain: Vec<_> = sections("the certificate", chain_pem)?
        .into_iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| CertificateDer::from(der))
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(chain)
}

fn private_key(key_pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    sections("the private key", key_pem)?
        .into_iter()
        .find_map(|(kind, der)| match kind {
            SectionKind::RsaPrivateKey => Some(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der))),
            SectionKind::PrivateKey => Some(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der))),
            SectionKind::EcPrivateKey => Some(PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der))),
            _ => None,
        })
        .ok_or(TlsError::NoKey)
}
