//! The client side of TLS towards backends (`backend-protocol: HTTPS` / `GRPCS`).
//!
//! Verification is off unless `UpstreamTls::verify` (as ingress-nginx `proxy-ssl-verify`);
//! then the chain must lead to a CA of `ca_pem` and name the SNI host. Signatures of the
//! handshake are checked either way.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;

use super::pem::TlsError;
use crate::table::UpstreamTls;

/// A client configuration for one backend's TLS settings, offering `alpn`.
pub fn client_config(tls: &UpstreamTls, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = super::provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|err| TlsError::Setup(err.to_string()))?;
    let mut config = if tls.verify {
        let roots = root_store(tls.ca_pem.as_deref())?;
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|err| TlsError::Setup(err.to_string()))?;
        builder.with_webpki_verifier(verifier).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth()
    };
    config.alpn_protocols = alpn.iter().map(|id| id.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The CA certificates of `ca_pem`; at least one is required.
fn root_store(ca_pem: Option<&[u8]>) -> Result<RootCertStore, TlsError> {
    let ca_pem = ca_pem.ok_or(TlsError::NoCertificate)?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|err| TlsError::NotPem {
            what: "the CA bundle",
            reason: err.to_string(),
        })?;
        roots
            .add(cert)
            .map_err(|err| TlsError::InvalidCertificate(err.to_string()))?;
    }
    if roots.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(roots)
}

/// Accepts any certificate chain; still checks that the peer holds the certificate's key.
/// Used for backends without `proxy-ssl-verify`, and by tests and benches that talk to
/// servers with throwaway certificates.
#[derive(Debug)]
pub struct NoVerification(Arc<CryptoProvider>);

impl NoVerification {
    /// A verifier checking handshake signatures with `provider`'s algorithms.
    pub fn new(provider: Arc<CryptoProvider>) -> Self {
        NoVerification(provider)
    }
}

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
