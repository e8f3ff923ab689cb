//! The server side of TLS: the rustls configuration of the HTTPS listener and the
//! certificate resolver that reads the table being served on every handshake.
//!
//! ```text
//! ClientHello ─► CertResolver ─► TableHandle::load().tls (SniIndex) ─► Arc<CertifiedKey>
//! ServerConfig: TLS 1.3 + 1.2, ALPN h2 then http/1.1, tickets + session-ID cache
//! ```

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;

use super::pem::TlsError;
use crate::handle::TableHandle;

/// ALPN protocol ids offered by the HTTPS listener, preferred first.
pub const ALPN_H2: &[u8] = b"h2";
/// HTTP/1.1's ALPN id.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Sessions remembered for session-ID resumption (TLS 1.2 without tickets).
const SESSION_CACHE_ENTRIES: usize = 16 * 1024;

/// Picks the certificate for each handshake from the table being served, so a published
/// certificate reaches the next handshake at once. Parsing happened at publish.
#[derive(Debug)]
pub struct CertResolver {
    handle: Arc<TableHandle>,
}

impl CertResolver {
    /// A resolver serving the certificates of `handle`'s current table.
    pub fn new(handle: Arc<TableHandle>) -> Self {
        CertResolver { handle }
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.handle.load().tls.resolve(client_hello.server_name())
    }
}

/// The rustls server configuration of the HTTPS listener.
pub fn server_config(handle: Arc<TableHandle>) -> Result<Arc<ServerConfig>, TlsError> {
    let setup = |err: rustls::Error| TlsError::Setup(err.to_string());
    // Generate the fallback certificate now rather than during the first handshake.
    if let Err(err) = super::self_signed() {
        tracing::error!(error = %err, "no self-signed certificate");
    }
    let mut config = ServerConfig::builder_with_provider(super::provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(setup)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(CertResolver::new(handle)));
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
    config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_ENTRIES);
    config.ticketer = super::ticketer().map_err(setup)?;
    Ok(Arc::new(config))
}
