//! The Kubernetes API source: one reflector per kind, a readiness gate, and change
//! notifications filtered down to what the owned Ingresses use.
//!
//! ```text
//! Ingress, IngressClass ─────────────────────────► always Changes::notify()
//! Service, EndpointSlice, Secret(type=kubernetes.io/tls) ─► refs::Referenced::matters? ─► notify
//! every store ──► Stores::ready() (all synced once) ──► Stores::snapshot() ──► translate
//! ```
//!
//! IngressClasses are cluster-scoped and always watched cluster-wide; the other kinds are
//! watched in one namespace when `--watch-namespace` is set.

pub mod client;
pub mod refs;
pub mod shared;
pub mod watch;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use k8s_openapi::{
    api::{
        core::v1::{Secret, Service},
        discovery::v1::EndpointSlice,
        networking::v1::{Ingress, IngressClass},
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kube::{
    Api, Client, Resource,
    runtime::{
        reflector::{self, Store, store::Writer},
        watcher,
    },
};
use tokio::task::JoinHandle;

use self::{
    refs::{Dependent, Referenced},
    shared::Shared,
    watch::{Guarded, reflect},
};
use super::{Changes, Source};
use crate::{
    error::ControllerError, metrics::ControllerMetrics, reconcile::ingress_key, snapshot::Snapshot,
    translate::TranslateConfig,
};

/// Field selector of the Secret watch: only TLS Secrets are read.
pub const TLS_SECRET_SELECTOR: &str = "type=kubernetes.io/tls";

/// The reflector stores of every kind `translate` reads.
#[derive(Clone)]
pub struct Stores {
    pub ingresses: Store<Guarded<Ingress>>,
    pub classes: Store<Guarded<IngressClass>>,
    pub services: Store<Guarded<Service>>,
    pub slices: Store<Guarded<EndpointSlice>>,
    pub secrets: Store<Guarded<Secret>>,
}

/// The write ends of [`Stores`], each fed by one reflector.
pub struct Writers {
    pub ingresses: Writer<Guarded<Ingress>>,
    pub classes: Writer<Guarded<IngressClass>>,
    pub services: Writer<Guarded<Service>>,
    pub slices: Writer<Guarded<EndpointSlice>>,
    pub secrets: Writer<Guarded<Secret>>,
}

impl Stores {
    /// Empty stores and their writers.
    pub fn new() -> (Self, Writers) {
        let (ingresses, ingresses_w) = reflector::store();
        let (classes, classes_w) = reflector::store();
        let (services, services_w) = reflector::store();
        let (slices, slices_w) = reflector::store();
        let (secrets, secrets_w) = reflector::store();
        let stores = Self {
            ingresses,
            classes,
            services,
            slices,
            secrets,
        };
        let writers = Writers {
            ingresses: ingresses_w,
            classes: classes_w,
            services: services_w,
            slices: slices_w,
            secrets: secrets_w,
        };
        (stores, writers)
    }

    /// Completes once every store has been filled by a complete list at least once.
    pub async fn ready(&self) -> Result<(), ControllerError> {
        let stopped = |_| ControllerError::Stopped("a Kubernetes watch");
        self.ingresses.wait_until_ready().await.map_err(stopped)?;
        self.classes.wait_until_ready().await.map_err(stopped)?;
        self.services.wait_until_ready().await.map_err(stopped)?;
        self.slices.wait_until_ready().await.map_err(stopped)?;
        self.secrets.wait_until_ready().await.map_err(stopped)?;
        Ok(())
    }

    /// The references of the owned Ingresses, from the Ingress and IngressClass stores.
    fn referenced(&self, config: &TranslateConfig) -> Referenced {
        let ingresses = self.ingresses.state();
        let classes = self.classes.state();
        let classes: Vec<&IngressClass> = decoded(&classes).collect();
        Referenced::compute(decoded(&ingresses), &classes, config)
    }
}

/// The objects of a store's state that decoded, borrowed.
pub fn decoded<K>(state: &[Arc<Guarded<K>>]) -> impl Iterator<Item = &K> {
    state.iter().filter_map(|o| o.0.as_ref().ok())
}

/// Snapshots of [`Stores`] that share every object unchanged since the previous one.
#[derive(Default)]
pub struct Snapshots {
    ingresses: Shared<Ingress>,
    classes: Shared<IngressClass>,
    services: Shared<Service>,
    slices: Shared<EndpointSlice>,
    secrets: Shared<Secret>,
}

impl Snapshots {
    /// The decodable objects of every store, as one snapshot.
    pub fn read(&mut self, stores: &Stores) -> Snapshot {
        Snapshot {
            ingresses: self.ingresses.read(&stores.ingresses),
            classes: self.classes.read(&stores.classes),
            services: self.services.read(&stores.services),
            slices: self.slices.read(&stores.slices),
            secrets: self.secrets.read(&stores.secrets),
        }
    }
}

/// Decides which events become a [`Changes::notify`]. Shared by every watch task.
pub struct Trigger {
    stores: Stores,
    config: TranslateConfig,
    changes: Changes,
    /// `None` after an Ingress or IngressClass event: recomputed on the next lookup.
    referenced: Mutex<Option<Referenced>>,
    /// What translate reads of each Ingress, as last seen: an event that changes none of
    /// it (a status update, ours included) is no change.
    ingresses: Mutex<HashMap<(String, String), IngressVersion>>,
}

/// The parts of an Ingress translate depends on, as a fingerprint: its
/// `metadata.generation` (which the API server bumps on every spec change) and a hash of its
/// uid and annotations. An object that did not decode, or has no generation, has none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IngressVersion(Option<(i64, u64)>);

impl IngressVersion {
    fn of(object: &Guarded<Ingress>) -> Self {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let fingerprint = object.0.as_ref().ok().and_then(|ingress| {
            let meta = &ingress.metadata;
            let mut hasher = DefaultHasher::new();
            meta.uid.hash(&mut hasher);
            meta.annotations.hash(&mut hasher);
            Some((meta.generation?, hasher.finish()))
        });
        Self(fingerprint)
    }
}

impl Trigger {
    pub fn new(stores: Stores, config: TranslateConfig, changes: Changes) -> Self {
        Self {
            stores,
            config,
            changes,
            referenced: Mutex::new(None),
            ingresses: Mutex::new(HashMap::new()),
        }
    }

    /// An Ingress event: a change unless only what translate ignores changed (status,
    /// labels, resourceVersion); [`Self::owner`] otherwise.
    pub fn ingress(&self, event: &watcher::Event<Guarded<Ingress>>) {
        let mut seen = self
            .ingresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match event {
            watcher::Event::Init => seen.clear(),
            watcher::Event::InitApply(object) => {
                seen.insert(ingress_key(object.meta()), IngressVersion::of(object));
            }
            watcher::Event::Apply(object) => {
                let version = IngressVersion::of(object);
                let before = seen.insert(ingress_key(object.meta()), version);
                // Unknown versions (no generation, not decoded) always count.
                if version.0.is_some() && before == Some(version) {
                    return;
                }
            }
            watcher::Event::Delete(object) => {
                seen.remove(&ingress_key(object.meta()));
            }
            watcher::Event::InitDone => {}
        }
        drop(seen);
        self.owner(event);
    }

    /// An Ingress or IngressClass event: always a change, and the references may move.
    pub fn owner<K: Resource>(&self, event: &watcher::Event<K>) {
        if is_change(event).is_some() {
            *self.lock() = None;
            self.changes.notify();
        }
    }

    /// A Service, EndpointSlice or Secret event: a change only when an owned Ingress
    /// references the object (a relist always counts). Returns whether it notified.
    pub fn dependent<K: Resource>(&self, kind: Dependent, event: &watcher::Event<K>) -> bool {
        let matters = match is_change(event) {
            None => false,
            Some(None) => true,
            Some(Some(meta)) => {
                let mut referenced = self.lock();
                referenced
                    .get_or_insert_with(|| self.stores.referenced(&self.config))
                    .matters(kind, meta)
            }
        };
        if matters {
            self.changes.notify();
        }
        matters
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Referenced>> {
        self.referenced
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// `Some(Some(meta))` for an applied or deleted object, `Some(None)` for the end of a
/// (re)list, `None` for events that change nothing visible yet.
fn is_change<K: Resource>(event: &watcher::Event<K>) -> Option<Option<&ObjectMeta>> {
    match event {
        watcher::Event::Apply(o) | watcher::Event::Delete(o) => Some(Some(o.meta())),
        watcher::Event::InitDone => Some(None),
        watcher::Event::Init | watcher::Event::InitApply(_) => None,
    }
}

/// Counts the object events of one kind (`Apply`, `Delete`, and objects of a relist).
struct EventCounter(Option<prometheus_client::metrics::counter::Counter>);

impl EventCounter {
    fn count<K>(&self, event: &watcher::Event<K>) {
        if let (
            Some(counter),
            watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitApply(_),
        ) = (&self.0, event)
        {
            counter.inc();
        }
    }
}

/// What to watch.
#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    /// Watch namespaced kinds in this namespace only.
    pub namespace: Option<String>,
}

/// The running reflectors; dropping this stops them.
pub struct Watches(Vec<JoinHandle<()>>);

impl Drop for Watches {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// The Kubernetes source: a [`Source`] over the reflector stores.
pub struct KubeSource {
    stores: Stores,
    snapshots: Snapshots,
}

impl KubeSource {
    /// Starts one reflector per kind; events are filtered into `changes`.
    pub fn start(
        client: &Client,
        options: &WatchOptions,
        config: TranslateConfig,
        changes: Changes,
    ) -> (Self, Watches) {
        Self::start_with(client, options, config, changes, None)
    }

    /// [`Self::start`], also counting every object event by kind in `metrics`.
    pub fn start_with(
        client: &Client,
        options: &WatchOptions,
        config: TranslateConfig,
        changes: Changes,
        metrics: Option<&ControllerMetrics>,
    ) -> (Self, Watches) {
        let count = |kind: &str| EventCounter(metrics.map(|m| m.watch_event_counter(kind)));
        let (stores, writers) = Stores::new();
        let trigger = Arc::new(Trigger::new(stores.clone(), config, changes));
        let all = watcher::Config::default();
        let tls = watcher::Config::default().fields(TLS_SECRET_SELECTOR);
        let ns = options.namespace.as_deref();
        let mut tasks = Vec::new();
        let t = trigger.clone();
        tasks.push(tokio::spawn(reflect(
            scoped(client, ns),
            all.clone(),
            writers.ingresses,
            {
                let counter = count("Ingress");
                move |e| {
                    counter.count(e);
                    t.ingress(e);
                }
            },
        )));
        let t = trigger.clone();
        tasks.push(tokio::spawn(reflect(
            Api::all(client.clone()),
            all.clone(),
            writers.classes,
            {
                let counter = count("IngressClass");
                move |e| {
                    counter.count(e);
                    t.owner(e);
                }
            },
        )));
        let t = trigger.clone();
        tasks.push(tokio::spawn(reflect(
            scoped(client, ns),
            all.clone(),
            writers.services,
            {
                let counter = count("Service");
                move |e| {
                    counter.count(e);
                    t.dependent(Dependent::Service, e);
                }
            },
        )));
        let t = trigger.clone();
        tasks.push(tokio::spawn(reflect(
            scoped(client, ns),
            all,
            writers.slices,
            {
                let counter = count("EndpointSlice");
                move |e| {
                    counter.count(e);
                    t.dependent(Dependent::EndpointSlice, e);
                }
            },
        )));
        let t = trigger;
        tasks.push(tokio::spawn(reflect(
            scoped(client, ns),
            tls,
            writers.secrets,
            {
                let counter = count("Secret");
                move |e| {
                    counter.count(e);
                    t.dependent(Dependent::Secret, e);
                }
            },
        )));
        let snapshots = Snapshots::default();
        (Self { stores, snapshots }, Watches(tasks))
    }

    pub fn stores(&self) -> &Stores {
        &self.stores
    }
}

impl Source for KubeSource {
    fn snapshot(&mut self) -> Snapshot {
        self.snapshots.read(&self.stores)
    }
}

/// An Api in `namespace`, or across all namespaces.
fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

#[cfg(test)]
mod tests;
