//! `ProxyError` and the one place an error becomes an HTTP status.

/// Everything that can go wrong while proxying one request.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("no route")]
    NoRoute,
}
