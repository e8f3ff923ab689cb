//! Ingress status: the leader copies the published addresses into every owned Ingress's
//! `status.loadBalancer.ingress`, only when they differ, and takes them back from an
//! Ingress that stops being ours.
//!
//! ```text
//! desired = --publish-status-address, else the --publish-service Service's status.loadBalancer.ingress
//! Report (owned) + Ingress store ──► plan() ──► merge-patch /status (leader only, never when equal)
//!   owned, status ≠ desired                      ─► set desired
//!   was owned, not now, status == desired ≠ []   ─► clear
//!   anything else (foreign)                      ─► untouched
//! ```

use std::{
    borrow::Borrow,
    collections::{BTreeSet, HashMap, HashSet},
    future::Future,
    sync::Arc,
};

use k8s_openapi::api::{core::v1::Service, networking::v1::Ingress};
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
    runtime::{WatchStreamExt, reflector::Store, watcher},
};
use serde_json::json;
use tokio::sync::watch;

use crate::{
    args::{NamespacedName, StatusAddress},
    reconcile::{IngressKey, Report, Reports, ingress_key},
    source::kube::{decoded, watch::Guarded},
};

/// One entry of `status.loadBalancer.ingress`. Ordered IPs first, then host names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Address {
    pub ip: Option<String>,
    pub hostname: Option<String>,
}

impl Ord for Address {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let key = |a: &Self| (a.ip.is_none(), a.ip.clone(), a.hostname.clone());
        key(self).cmp(&key(other))
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Address {
    pub fn from_flag(address: &StatusAddress) -> Self {
        match address {
            StatusAddress::Ip(ip) => Self {
                ip: Some(ip.to_string()),
                hostname: None,
            },
            StatusAddress::Hostname(name) => Self {
                ip: None,
                hostname: Some(name.clone()),
            },
        }
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.ip, &self.hostname) {
            (Some(ip), Some(host)) => write!(f, "{ip}/{host}"),
            (Some(one), None) | (None, Some(one)) => f.write_str(one),
            (None, None) => f.write_str("-"),
        }
    }
}

/// Sorted, without duplicates and empty entries: the form addresses are compared in.
pub fn normalize(mut addresses: Vec<Address>) -> Vec<Address> {
    addresses.retain(|a| a.ip.is_some() || a.hostname.is_some());
    addresses.sort();
    addresses.dedup();
    addresses
}

/// The addresses an Ingress's status carries now.
pub fn current(ingress: &Ingress) -> Vec<Address> {
    let entries = ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref());
    addresses(entries.into_iter().flatten().map(|e| (&e.ip, &e.hostname)))
}

/// The addresses a Service publishes in `status.loadBalancer.ingress`.
pub fn of_service(service: &Service) -> Vec<Address> {
    let entries = service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref());
    addresses(entries.into_iter().flatten().map(|e| (&e.ip, &e.hostname)))
}

/// Normalised addresses from `(ip, hostname)` pairs of a load-balancer status, empty
/// strings counting as absent. Ingress and Service spell these entries as different types.
fn addresses<'a>(
    entries: impl Iterator<Item = (&'a Option<String>, &'a Option<String>)>,
) -> Vec<Address> {
    normalize(
        entries
            .map(|(ip, hostname)| Address {
                ip: ip.clone().filter(|s| !s.is_empty()),
                hostname: hostname.clone().filter(|s| !s.is_empty()),
            })
            .collect(),
    )
}

/// One status write: `addresses` empty means "clear".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    pub key: IngressKey,
    pub addresses: Vec<Address>,
}

/// The writes that bring every Ingress to where it should be. `ingresses` are every
/// Ingress with its current (normalized) addresses; `desired` is normalized.
pub fn plan(
    desired: &[Address],
    ingresses: &[(IngressKey, Vec<Address>)],
    owned: &BTreeSet<IngressKey>,
    was_owned: &BTreeSet<IngressKey>,
) -> Vec<Write> {
    plan_of(
        desired,
        ingresses
            .iter()
            .map(|(key, current)| (key, current.as_slice())),
        owned,
        was_owned,
    )
}

/// [`plan`] over borrowed `(key, addresses shown)` pairs.
fn plan_of<'a>(
    desired: &[Address],
    ingresses: impl Iterator<Item = (&'a IngressKey, &'a [Address])>,
    owned: &BTreeSet<IngressKey>,
    was_owned: &BTreeSet<IngressKey>,
) -> Vec<Write> {
    let mut writes = Vec::new();
    for (key, current) in ingresses {
        if owned.contains(key) {
            if current != desired {
                writes.push(Write {
                    key: key.clone(),
                    addresses: desired.to_vec(),
                });
            }
        } else if was_owned.contains(key) && !desired.is_empty() && current == desired {
            writes.push(Write {
                key: key.clone(),
                addresses: Vec::new(),
            });
        }
    }
    writes
}

/// The merge patch of the status subresource for `addresses` (`null` removes the list).
pub fn patch_body(addresses: &[Address]) -> serde_json::Value {
    let ingress = if addresses.is_empty() {
        serde_json::Value::Null
    } else {
        addresses
            .iter()
            .map(|a| {
                let mut entry = serde_json::Map::new();
                if let Some(ip) = &a.ip {
                    entry.insert("ip".to_owned(), json!(ip));
                }
                if let Some(hostname) = &a.hostname {
                    entry.insert("hostname".to_owned(), json!(hostname));
                }
                serde_json::Value::Object(entry)
            })
            .collect()
    };
    json!({ "status": { "loadBalancer": { "ingress": ingress } } })
}

/// Where the desired addresses come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Publish {
    /// `--publish-status-address`.
    Addresses(Vec<Address>),
    /// `--publish-service NS/NAME`.
    Service(NamespacedName),
}

/// Desired addresses: `None` until known (the publish Service not listed yet).
pub type Desired = watch::Receiver<Option<Vec<Address>>>;

/// The desired addresses, followed from the publish Service when there is one. The
/// watch task (if any) runs until aborted.
pub fn desired(
    client: &Client,
    publish: &Publish,
) -> (Desired, Option<tokio::task::JoinHandle<()>>) {
    match publish {
        Publish::Addresses(addresses) => {
            let (tx, rx) = watch::channel(Some(normalize(addresses.clone())));
            // Keep the channel open for as long as receivers exist.
            let task = tokio::spawn(async move { tx.closed().await });
            (rx, Some(task))
        }
        Publish::Service(service) => {
            let (tx, rx) = watch::channel(None);
            let api = Api::<Guarded<Service>>::namespaced(client.clone(), &service.namespace);
            let task = tokio::spawn(follow_service(api, service.name.clone(), tx));
            (rx, Some(task))
        }
    }
}

/// Follows one Service's load-balancer addresses (a deleted Service publishes none).
async fn follow_service(
    api: Api<Guarded<Service>>,
    name: String,
    tx: watch::Sender<Option<Vec<Address>>>,
) {
    use futures_util::StreamExt;
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let stream = watcher(api, config).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let named = |s: &Guarded<Service>| {
        s.0.as_ref()
            .ok()
            .filter(|s| s.metadata.name.as_deref() == Some(&name))
            .map(of_service)
    };
    let mut listed: Option<Vec<Address>> = None;
    let publish = |addresses: Vec<Address>| {
        tx.send_if_modified(|old| {
            let changed = old.as_ref() != Some(&addresses);
            if changed {
                tracing::info!(addresses = %join(&addresses), "publish service addresses");
                *old = Some(addresses);
            }
            changed
        });
    };
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Init) => listed = None,
            Ok(watcher::Event::InitApply(s)) => listed = named(&s).or(listed),
            Ok(watcher::Event::InitDone) => publish(listed.take().unwrap_or_default()),
            Ok(watcher::Event::Apply(s)) => {
                if let Some(addresses) = named(&s) {
                    publish(addresses);
                }
            }
            Ok(watcher::Event::Delete(s)) => {
                if named(&s).is_some() {
                    publish(Vec::new());
                }
            }
            Err(error) => {
                tracing::warn!(kind = "Service", %error, "watch failed, retrying with backoff");
            }
        }
    }
}

/// `a,b` for log lines.
fn join(addresses: &[Address]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The status writer's memory between evaluations.
#[derive(Debug, Default)]
pub struct StatusState {
    /// Ingresses owned now, plus formerly owned ones that still carry our addresses.
    was_owned: BTreeSet<IngressKey>,
    /// The last write per Ingress and the resourceVersion it was based on: not repeated
    /// while the store has not caught up with it.
    written: HashMap<IngressKey, (Option<String>, Vec<Address>)>,
}

impl StatusState {
    /// The writes due now, given the store contents; updates the memory of ownership.
    pub fn due(
        &mut self,
        desired: &[Address],
        ingresses: &[impl Borrow<Ingress>],
        owned: &BTreeSet<IngressKey>,
    ) -> Vec<(Write, Option<String>)> {
        // Runs after every rebuild over every Ingress: each key is built once, the rest
        // is borrowed.
        let current: Vec<(IngressKey, Vec<Address>, &Option<String>)> = ingresses
            .iter()
            .map(Borrow::borrow)
            .map(|i: &Ingress| {
                let key = ingress_key(&i.metadata);
                (key, current(i), &i.metadata.resource_version)
            })
            .collect();
        let writes = plan_of(
            desired,
            current.iter().map(|(k, a, _)| (k, a.as_slice())),
            owned,
            &self.was_owned,
        );
        let versions: HashMap<&IngressKey, &Option<String>> =
            current.iter().map(|(k, _, v)| (k, *v)).collect();
        // Ingresses that show our addresses: a set, so that this stays linear in their number.
        let showing_ours: HashSet<&IngressKey> = current
            .iter()
            .filter(|(_, a, _)| !desired.is_empty() && a.as_slice() == desired)
            .map(|(key, _, _)| key)
            .collect();
        // Owned now, or owned before and still showing our addresses.
        self.was_owned
            .retain(|k| owned.contains(k) || showing_ours.contains(k));
        for key in owned {
            if !self.was_owned.contains(key) {
                self.was_owned.insert(key.clone());
            }
        }
        self.written.retain(|k, _| versions.contains_key(k));
        writes
            .into_iter()
            .filter_map(|write| {
                let version = versions
                    .get(&write.key)
                    .map(|v| (*v).clone())
                    .unwrap_or_default();
                let pending = (version.clone(), write.addresses.clone());
                (self.written.get(&write.key) != Some(&pending)).then_some((write, version))
            })
            .collect()
    }

    /// Records a successful write based on `version`.
    pub fn wrote(&mut self, write: &Write, version: Option<String>) {
        self.written
            .insert(write.key.clone(), (version, write.addresses.clone()));
    }
}

/// Writes status after every report, desired-address change and leadership change, while
/// leading. Ends when `stop` completes.
pub async fn run(
    client: Client,
    ingresses: Store<Guarded<Ingress>>,
    mut reports: Reports,
    mut leader: watch::Receiver<bool>,
    mut desired: Desired,
    stop: impl Future<Output = ()>,
) {
    let mut state = StatusState::default();
    let mut stop = std::pin::pin!(stop);
    loop {
        let report: Option<Arc<Report>> = reports.borrow_and_update().clone();
        let addresses = desired.borrow_and_update().clone();
        let leading = *leader.borrow_and_update();
        if let (Some(report), Some(addresses)) = (report, addresses) {
            let listed = ingresses.state();
            let listed: Vec<&Ingress> = decoded(&listed).collect();
            let due = state.due(&addresses, &listed, &report.owned);
            if leading {
                for (write, version) in due {
                    if apply(&client, &write).await {
                        state.wrote(&write, version);
                    }
                }
            }
        }
        tokio::select! {
            () = &mut stop => return,
            r = reports.changed() => if r.is_err() { return },
            r = leader.changed() => if r.is_err() { return },
            r = desired.changed() => if r.is_err() { return },
        }
    }
}

/// Sends one status patch; logs the outcome.
async fn apply(client: &Client, write: &Write) -> bool {
    let (namespace, name) = &write.key;
    let api = Api::<Ingress>::namespaced(client.clone(), namespace);
    let body = patch_body(&write.addresses);
    match api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&body))
        .await
    {
        Ok(_) => {
            if write.addresses.is_empty() {
                tracing::info!(ingress = %format_args!("{namespace}/{name}"), "status cleared");
            } else {
                tracing::info!(
                    ingress = %format_args!("{namespace}/{name}"),
                    addresses = %join(&write.addresses),
                    "status written"
                );
            }
            true
        }
        Err(error) => {
            tracing::warn!(ingress = %format_args!("{namespace}/{name}"), %error, "status write failed");
            false
        }
    }
}

#[cfg(test)]
mod tests;
