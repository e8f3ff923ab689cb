//! One reflector: list + watch of one kind into a store, with backoff, skipping malformed
//! objects, and a callback per event.
//!
//! ```text
//! watcher(api) ─► drop managedFields ─► reflector(store) ─► default_backoff ─► on_event
//!                                                          └─ error: warn, back off, resume
//! ```

use std::{fmt::Debug, pin::pin};

use futures_util::StreamExt;
use kube::{
    Api, Resource,
    core::DeserializeGuard,
    runtime::{WatchStreamExt, reflector::store::Writer, watcher},
};
use serde::de::DeserializeOwned;

/// An object as the stores hold it: the decoded object, or the metadata of one that did not
/// decode.
pub type Guarded<K> = DeserializeGuard<K>;

/// Runs until the task is aborted: the watch never ends on its own. API errors are logged
/// at warn and retried with kube's default backoff; the store keeps its last good contents
/// meanwhile.
pub async fn reflect<K>(
    api: Api<Guarded<K>>,
    config: watcher::Config,
    writer: Writer<Guarded<K>>,
    mut on_event: impl FnMut(&watcher::Event<Guarded<K>>) + Send,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let kind = K::kind(&());
    let stream = watcher(api, config)
        .modify(|object| object.meta_mut().managed_fields = None)
        .reflect(writer)
        .default_backoff();
    let mut stream = pin!(stream);
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => {
                warn_malformed(&kind, &event);
                on_event(&event);
            }
            Err(error) => {
                tracing::warn!(kind = %kind, %error, "watch failed, retrying with backoff");
            }
        }
    }
}

/// Logs an object that could not be decoded; the snapshot leaves it out.
fn warn_malformed<K: Resource>(kind: &str, event: &watcher::Event<Guarded<K>>) {
    let object = match event {
        watcher::Event::Apply(o) | watcher::Event::InitApply(o) => o,
        _ => return,
    };
    if let Err(invalid) = &object.0 {
        tracing::warn!(
            kind,
            namespace = invalid.metadata.namespace.as_deref().unwrap_or(""),
            name = invalid.metadata.name.as_deref().unwrap_or(""),
            error = %invalid.error,
            "malformed object skipped"
        );
    }
}
