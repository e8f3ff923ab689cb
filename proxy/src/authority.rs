//! The routing host of a request: absolute-form authority, else `Host`/`:authority`.

use std::borrow::Cow;

/// Why a request has no usable host (→ 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("missing Host header")]
    Missing,
}

/// The normalised routing host (ASCII lower-case, without port and trailing dot).
pub fn routing_host<B>(req: &http::Request<B>) -> Result<Cow<'_, str>, HostError> {
    let _ = req;
    Err(HostError::Missing)
}
