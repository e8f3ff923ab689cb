//! The server's TLS identity: one CA per process and a certificate for 127.0.0.1, ::1 and
//! localhost signed by it (a real API server only speaks HTTPS, and client-go does not send a
//! bearer token over plain HTTP). Every server in the process shares it, so a client keeps
//! trusting a restarted server.

use std::sync::{Arc, LazyLock};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};

/// What servers and clients of the double need.
#[derive(Debug)]
pub struct Identity {
    /// The CA certificate (PEM), for `certificate-authority-data`.
    pub ca_pem: String,
    /// Offers `h2` and `http/1.1`, like a real server.
    pub server: Arc<ServerConfig>,
    /// Trusts the CA; speaks `http/1.1`.
    pub client: Arc<ClientConfig>,
}

static IDENTITY: LazyLock<Result<Identity, String>> =
    LazyLock::new(|| build().map_err(|e| e.to_string()));

/// The process-wide identity (created on first use).
pub fn identity() -> Result<&'static Identity, String> {
    IDENTITY.as_ref().map_err(Clone::clone)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn build() -> Result<Identity, Box<dyn std::error::Error + Send + Sync>> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "wicket-e2e-apiserver-ca");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, &ca_key);

    let mut leaf_params = CertificateParams::new(vec![
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
        "localhost".to_owned(),
        "kubernetes.default.svc".to_owned(),
    ])?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate()?;
    let leaf = leaf_params.signed_by(&leaf_key, &issuer)?;

    let chain = vec![leaf.der().clone(), ca_cert.der().clone()];
    let key = PrivatePkcs8KeyDer::from(leaf_key.serialize_der());
    let mut server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key.into())?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(ca_cert.der().to_vec()))?;
    let mut client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"http/1.1".to_vec()];

    Ok(Identity {
        ca_pem: ca_cert.pem(),
        server: Arc::new(server),
        client: Arc::new(client),
    })
}
