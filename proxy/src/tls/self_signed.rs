//! The proxy's own certificate, served when no default certificate is configured:
//! ECDSA P-256, self-signed for `wicket.invalid`, generated once per process.

use std::sync::{Arc, OnceLock};

use rustls::sign::CertifiedKey;

use super::pem::{TlsError, certified_key_from_pem};

/// The name on the self-signed certificate (a reserved TLD: it never matches a real host).
pub const SELF_SIGNED_NAME: &str = "wicket.invalid";

static SELF_SIGNED: OnceLock<Result<Arc<CertifiedKey>, TlsError>> = OnceLock::new();

/// The process's self-signed certificate, generated on first use.
pub fn self_signed() -> Result<Arc<CertifiedKey>, TlsError> {
    SELF_SIGNED.get_or_init(generate).clone()
}

fn generate() -> Result<Arc<CertifiedKey>, TlsError> {
    let setup = |err: rcgen::Error| TlsError::Setup(format!("self-signed certificate: {err}"));
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(setup)?;
    let mut params =
        rcgen::CertificateParams::new(vec![SELF_SIGNED_NAME.to_owned()]).map_err(setup)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, SELF_SIGNED_NAME);
    let cert = params.self_signed(&key).map_err(setup)?;
    certified_key_from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).map(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_and_usable() {
        let first = self_signed().expect("self-signed");
        let second = self_signed().expect("self-signed");
        assert!(Arc::ptr_eq(&first, &second));
        assert!(first.keys_match().is_ok());
    }
}
