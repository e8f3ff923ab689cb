//! `TableHandle`: the one arc-swap user.

/// The compiled, immutable table a request uses from start to end.
pub struct Active {}
/// Result of [`TableHandle::publish`].
pub enum PublishOutcome {}
/// The swap point between the controller and the proxy.
pub struct TableHandle {}
