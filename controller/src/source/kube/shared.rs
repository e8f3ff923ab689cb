//! `Shared`: the decoded objects of a reflector store as `Arc<K>`, copied once per object
//! version rather than once per snapshot.
//!
//! ```text
//! store.state() ─► Arc<Guarded<K>> (stable while the object is unchanged)
//!              ─► seen at the last read? reuse its Arc<K> : decode-copy once
//! ```
//!
//! A store replaces an object's `Arc` whenever the object changes, so the address of that
//! `Arc` identifies one version. The cache holds the `Arc` itself, which keeps the address
//! from being reused while it is a key.

use std::{collections::HashMap, sync::Arc};

use kube::{Resource, runtime::reflector::Store};

use super::watch::Guarded;

/// Per-kind cache from store entries to shared decoded objects.
pub struct Shared<K> {
    by_entry: HashMap<usize, (Arc<Guarded<K>>, Arc<K>)>,
}

impl<K> Default for Shared<K> {
    fn default() -> Self {
        Self {
            by_entry: HashMap::new(),
        }
    }
}

impl<K: Resource<DynamicType = ()> + Clone> Shared<K> {
    /// Every object of `store` that decoded. Objects unchanged since the last call are the
    /// same `Arc`s as then; entries no longer in the store are forgotten.
    pub fn read(&mut self, store: &Store<Guarded<K>>) -> Vec<Arc<K>> {
        let state = store.state();
        let mut next = HashMap::with_capacity(state.len());
        let mut objects = Vec::with_capacity(state.len());
        for entry in state {
            let key = Arc::as_ptr(&entry) as usize;
            let object = match self.by_entry.remove(&key) {
                Some((_, object)) => object,
                None => match &entry.0 {
                    Ok(object) => Arc::new(object.clone()),
                    Err(_) => continue,
                },
            };
            objects.push(object.clone());
            next.insert(key, (entry, object));
        }
        self.by_entry = next;
        objects
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{api::core::v1::Service, apimachinery::pkg::apis::meta::v1::ObjectMeta};
    use kube::{
        core::{DeserializeGuard, error_boundary::InvalidObject},
        runtime::{reflector, watcher},
    };

    use super::*;

    fn service(name: &str, version: &str) -> Guarded<Service> {
        DeserializeGuard(Ok(Service {
            metadata: ObjectMeta {
                namespace: Some("apps".to_owned()),
                name: Some(name.to_owned()),
                resource_version: Some(version.to_owned()),
                ..Default::default()
            },
            ..Default::default()
        }))
    }

    fn version(service: &Service) -> Option<&str> {
        service.metadata.resource_version.as_deref()
    }

    #[test]
    fn unchanged_objects_are_shared_and_changed_ones_copied_again() {
        let (store, mut writer) = reflector::store::<Guarded<Service>>();
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitApply(service("a", "1")));
        writer.apply_watcher_event(&watcher::Event::InitApply(service("b", "1")));
        writer.apply_watcher_event(&watcher::Event::InitDone);
        let mut shared = Shared::default();
        let mut first = shared.read(&store);
        first.sort_by(|x, y| x.metadata.name.cmp(&y.metadata.name));
        assert_eq!(first.len(), 2);

        writer.apply_watcher_event(&watcher::Event::Apply(service("b", "2")));
        let mut second = shared.read(&store);
        second.sort_by(|x, y| x.metadata.name.cmp(&y.metadata.name));
        assert!(Arc::ptr_eq(&first[0], &second[0]), "a is unchanged");
        assert!(!Arc::ptr_eq(&first[1], &second[1]), "b changed");
        assert_eq!(version(&second[1]), Some("2"));

        writer.apply_watcher_event(&watcher::Event::Delete(service("a", "1")));
        let third = shared.read(&store);
        assert_eq!(third.len(), 1);
        assert_eq!(shared.by_entry.len(), 1, "the deleted entry is forgotten");
    }

    #[test]
    fn objects_that_did_not_decode_are_left_out() {
        let (store, mut writer) = reflector::store::<Guarded<Service>>();
        let broken = DeserializeGuard::<Service>(Err(InvalidObject {
            error: "bad".to_owned(),
            metadata: ObjectMeta {
                namespace: Some("apps".to_owned()),
                name: Some("broken".to_owned()),
                ..Default::default()
            },
        }));
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitApply(broken));
        writer.apply_watcher_event(&watcher::Event::InitApply(service("a", "1")));
        writer.apply_watcher_event(&watcher::Event::InitDone);
        let objects = Shared::default().read(&store);
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].metadata.name.as_deref(), Some("a"));
    }
}
