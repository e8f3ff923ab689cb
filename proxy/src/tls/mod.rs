//! TLS: the crypto provider, certificates from PEM, SNI selection and the rustls
//! configurations of the HTTPS listener and of TLS upstreams.
//!
//! ```text
//! publish: RouteTable.tls ─► pem::certified_key_from_pem (cached by content) ─► SniIndex in Active
//! handshake: CertResolver ─► TableHandle::load().tls.resolve(SNI) ─► certificate
//! upstream: UpstreamTls ─► upstream::client_config (verify off, or webpki with the given CA)
//! ```
//!
//! The crypto provider is aws-lc-rs: it does more full handshakes per CPU-second than
//! ring with RSA certificates (see `benches/handshake.rs`).

mod acceptor;
mod pem;
mod self_signed;
mod sni;
mod upstream;

use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;

pub use acceptor::{ALPN_H2, ALPN_HTTP11, CertResolver, server_config};
pub use pem::{TlsError, certified_key_from_pem};
pub use self_signed::{SELF_SIGNED_NAME, self_signed};
pub use sni::{CertCache, SniIndex};
pub use upstream::{NoVerification, client_config};

static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();

/// The crypto provider every TLS configuration of the proxy uses.
pub fn provider() -> Arc<CryptoProvider> {
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// Makes [`provider`] the process default, for other rustls users in the same process
/// (e.g. the Kubernetes client). Does nothing when a default is already installed.
pub fn install_crypto_provider() {
    // An error only means that a default is already installed.
    let _ = CryptoProvider::install_default(rustls::crypto::aws_lc_rs::default_provider());
}

/// Session-ticket keys, rotated by the provider.
fn ticketer() -> Result<Arc<dyn rustls::server::ProducesTickets>, rustls::Error> {
    rustls::crypto::aws_lc_rs::Ticketer::new()
}
