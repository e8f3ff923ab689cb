//! Reuse between translates: per Ingress its hosts, Issues and inputs; per host its
//! virtual host and the Issues of merging its Ingresses.
//!
//! ```text
//! owned Ingresses ─► Memo::plan ─► clean: the same object as last time, and so are the
//!                  │               Services and EndpointSlices it references
//!                  └─► dirty hosts: every host of a changed, new or removed Ingress
//! TableBuilder, only the dirty hosts (clean Ingresses on them are added again; their own
//!   Issues come from the memo) ─► Memo::hosts: clean hosts keep their Arc<VirtualHost>
//!   and Issues, dirty ones are replaced or dropped ─► Memo::remember
//! ```
//!
//! TLS Secrets are remembered too: a certificate and key are parsed again only when their
//! Secret object changed.
//!
//! Objects are recognised by address. The memo holds the snapshot it was made from, so
//! none of the objects it recorded can be freed and its address taken by another one: an
//! equal address in the next snapshot is the same, unchanged object (sources replace an
//! object's `Arc` when it changes). A host also depends on whether it has TLS (its HTTPS
//! redirect and HSTS): when the set of TLS hosts changes, every host whose answer changed
//! is dirty too. The settings are fixed per [`super::Translator`]. An Ingress without
//! rules (the listener's default backend) or with a `proxy-ssl-secret` (which reads a
//! Secret) is never reused.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use k8s_openapi::api::networking::v1::Ingress;
use proxy::table::{HostPattern, Source, VirtualHost};

use super::{
    annotations::{self, PROXY_SSL_SECRET},
    backend::Backends,
    namespace_of,
    tls::{KeyChecks, TlsHosts},
    validate,
};
use crate::{issue::Issue, snapshot::Snapshot};

/// What the previous translate produced, and from what.
#[derive(Default)]
pub(super) struct Memo {
    /// The snapshot of the previous translate: keeps every recorded address taken.
    previous: Snapshot,
    /// The TLS hosts of the previous translate; `None` before the first.
    tls_hosts: Option<TlsHosts>,
    /// By the Ingress's address.
    ingresses: ByAddress<IngressMemo>,
    hosts: BTreeMap<HostPattern, HostMemo>,
    /// Whether each TLS Secret's certificate and key parse.
    key_checks: KeyChecks,
}

pub(super) struct IngressMemo {
    /// Addresses of the Services and EndpointSlices its backends read, sorted; `None` →
    /// never reused (it is remembered for its hosts, which change when it goes).
    inputs: Option<Vec<usize>>,
    /// Every valid host of its rules.
    hosts: Vec<HostPattern>,
    /// The Issues about this Ingress alone.
    issues: Vec<Issue>,
}

struct HostMemo {
    vhost: Arc<VirtualHost>,
    issues: Vec<Issue>,
}

/// What to do with one owned Ingress.
pub(super) enum Step {
    /// Unchanged: its Issues are known; it is added again only if one of its hosts is dirty.
    Reuse(IngressMemo),
    /// New, changed or never reused: added, and remembered.
    Build {
        inputs: Option<Vec<usize>>,
        hosts: Vec<HostPattern>,
    },
}

pub(super) struct Plan {
    /// One per owned Ingress, in the same order.
    pub steps: Vec<Step>,
    /// The hosts to build; `None` → every host (nothing is reused).
    pub dirty: Option<BTreeSet<HostPattern>>,
}

impl Memo {
    /// The Secret parse outcomes of the previous translate, for [`super::tls::Secrets`].
    pub fn take_key_checks(&mut self) -> KeyChecks {
        std::mem::take(&mut self.key_checks)
    }

    /// Sorts the owned Ingresses into reused and built ones, and finds the dirty hosts.
    pub fn plan(
        &mut self,
        owned: &[(Source, &Arc<Ingress>)],
        backends: &Backends<'_>,
        tls_hosts: &TlsHosts,
    ) -> Plan {
        // Nothing to reuse before the first translate.
        let reset = self.tls_hosts.is_none();
        let mut dirty = BTreeSet::new();
        if let Some(before) = self
            .tls_hosts
            .as_ref()
            .filter(|before| *before != tls_hosts)
        {
            dirty.extend(
                self.hosts
                    .keys()
                    .filter(|host| before.covers(host) != tls_hosts.covers(host))
                    .cloned(),
            );
        }
        let mut scratch = Vec::new();
        let steps = owned
            .iter()
            .map(|(_, ingress)| {
                let reusable = inputs(ingress, backends, &mut scratch);
                match self.ingresses.remove(&address(ingress)) {
                    Some(memo) if reusable && memo.inputs.as_ref() == Some(&scratch) => {
                        Step::Reuse(memo)
                    }
                    previous => {
                        let hosts = rule_hosts(ingress);
                        if !reset {
                            dirty.extend(previous.into_iter().flat_map(|m| m.hosts));
                            dirty.extend(hosts.iter().cloned());
                        }
                        Step::Build {
                            inputs: reusable.then(|| scratch.clone()),
                            hosts,
                        }
                    }
                }
            })
            .collect();
        // What is left was removed (or is no longer ours).
        for (_, removed) in self.ingresses.drain() {
            dirty.extend(removed.hosts);
        }
        Plan {
            steps,
            dirty: (!reset).then_some(dirty),
        }
    }

    /// Replaces the dirty hosts (all with `None`) by those `built`, and gives every
    /// virtual host, sorted, with the Issues of every host appended to `issues`.
    pub fn hosts(
        &mut self,
        dirty: Option<&BTreeSet<HostPattern>>,
        built: Vec<(VirtualHost, Vec<Issue>)>,
        issues: &mut Vec<Issue>,
    ) -> Vec<Arc<VirtualHost>> {
        match dirty {
            Some(dirty) => self.hosts.retain(|host, _| !dirty.contains(host)),
            None => self.hosts.clear(),
        }
        for (vhost, host_issues) in built {
            let memo = HostMemo {
                vhost: Arc::new(vhost),
                issues: host_issues,
            };
            self.hosts.insert(memo.vhost.host.clone(), memo);
        }
        let mut virtual_hosts = Vec::with_capacity(self.hosts.len());
        for memo in self.hosts.values() {
            virtual_hosts.push(Arc::clone(&memo.vhost));
            issues.extend_from_slice(&memo.issues);
        }
        virtual_hosts
    }

    /// Records what this translate read and knows for the next one.
    pub fn remember(
        &mut self,
        snapshot: &Snapshot,
        ingresses: ByAddress<IngressMemo>,
        tls_hosts: TlsHosts,
        key_checks: KeyChecks,
    ) {
        self.previous = snapshot.clone();
        self.ingresses = ingresses;
        self.tls_hosts = Some(tls_hosts);
        self.key_checks = key_checks;
    }
}

impl IngressMemo {
    pub fn new(inputs: Option<Vec<usize>>, hosts: Vec<HostPattern>, issues: Vec<Issue>) -> Self {
        Self {
            inputs,
            hosts,
            issues,
        }
    }

    pub fn hosts(&self) -> &[HostPattern] {
        &self.hosts
    }

    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }
}

/// A map keyed by object address.
pub(super) type ByAddress<V> = HashMap<usize, V, BuildHasherDefault<AddressHasher>>;

/// Hashes an address: one multiply, with the high half folded into the low bits that
/// pick the bucket (aligned addresses have their lowest bits clear).
#[derive(Default)]
pub(super) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.mix(u64::from(*byte));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
}

impl AddressHasher {
    fn mix(&mut self, n: u64) {
        let x = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 32);
    }
}

/// The key of an Ingress in the memo.
pub(super) fn address(ingress: &Arc<Ingress>) -> usize {
    Arc::as_ptr(ingress).addr()
}

/// Fills `out` with the addresses of the objects the Ingress's backends read; false when
/// the Ingress is never reused (no rules, or a `proxy-ssl-secret`).
fn inputs(ingress: &Ingress, backends: &Backends<'_>, out: &mut Vec<usize>) -> bool {
    out.clear();
    let spec = ingress.spec.as_ref();
    let rules = spec.and_then(|s| s.rules.as_deref()).unwrap_or_default();
    let reads_secret = ingress
        .metadata
        .annotations
        .iter()
        .flatten()
        .any(|(key, _)| annotations::name_of(key) == Some(PROXY_SSL_SECRET));
    if rules.is_empty() || reads_secret {
        return false;
    }
    let namespace = namespace_of(&ingress.metadata);
    let paths = rules
        .iter()
        .filter_map(|rule| rule.http.as_ref())
        .flat_map(|http| http.paths.iter().map(|path| &path.backend));
    let services = spec
        .and_then(|s| s.default_backend.as_ref())
        .into_iter()
        .chain(paths)
        .filter_map(|backend| backend.service.as_ref());
    for service in services {
        backends.inputs(namespace, &service.name, out);
    }
    out.sort_unstable();
    out.dedup();
    true
}

/// Every valid host of the Ingress's rules: each host it can add routes or a default
/// backend to.
fn rule_hosts(ingress: &Ingress) -> Vec<HostPattern> {
    let rules = ingress
        .spec
        .as_ref()
        .and_then(|s| s.rules.as_deref())
        .unwrap_or_default();
    let mut hosts: Vec<HostPattern> = rules
        .iter()
        .filter_map(|rule| validate::host_pattern(rule.host.as_deref()).ok())
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    hosts
}
