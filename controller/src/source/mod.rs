//! Sources of Kubernetes objects: where a [`Snapshot`] comes from, and how a change is signalled.
//!
//! ```text
//! source ──Changes::notify()──► reconcile (debounce) ──► Source::snapshot() ──► translate
//! ```
//!
//! Two implementations: [`manifests::ManifestDir`] (`--manifests DIR`) and
//! [`kube::KubeSource`] (the Kubernetes API).

pub mod kube;
pub mod manifests;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::snapshot::Snapshot;

/// Something that can produce the current set of objects at any time.
pub trait Source: Send + 'static {
    /// The objects as they are now. Never fails: unreadable input is logged and the last
    /// good version of it is kept, so that a broken edit never removes routes.
    /// May block on I/O; call it from a blocking context.
    fn snapshot(&mut self) -> Snapshot;
}

/// A level-triggered "something changed" signal from a source to the reconcile loop.
/// Several notifications before the loop looks collapse into one.
#[derive(Clone, Debug, Default)]
pub struct Changes(Arc<Notify>);

impl Changes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a change; callable from any thread, async or not.
    pub fn notify(&self) {
        self.0.notify_one();
    }

    /// Completes once a change has been recorded since the last call completed.
    pub async fn changed(&self) {
        self.0.notified().await;
    }
}
