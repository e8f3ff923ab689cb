//! `translate`: a pure, deterministic function from a [`Snapshot`] to a [`RouteTable`].
//!
//! ```text
//! Snapshot ─► class::is_owned ─► sort by (creationTimestamp, namespace, name)
//!          ─► tls::TlsBuilder (spec.tls, Secrets) ─► TLS bindings + TLS hosts
//!          ─► rules::TableBuilder (validate, annotations, backend::Backends) ─► RouteTable
//!          └─► Vec<Issue> (sorted, deduplicated)
//! ```
//!
//! [`Translator`] gives the same result, built incrementally: only the hosts whose
//! Ingresses or referenced objects changed since its previous translate are built again.
//!
//! The output depends only on the set of objects, never on the order of the snapshot's
//! vectors.

pub mod annotations;
pub mod backend;
pub mod class;
mod memo;
pub mod rules;
pub mod tls;
pub mod validate;

use std::sync::Arc;

use k8s_openapi::{api::networking::v1::Ingress, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use proxy::{RouteTable, table::Source};

use self::memo::{IngressMemo, Memo, Step};
use crate::{issue::Issue, manifest::DEFAULT_NAMESPACE, snapshot::Snapshot};

/// Settings that change what `translate` produces.
#[derive(Clone, Debug)]
pub struct TranslateConfig {
    /// Our IngressClass name (`--ingress-class`, default `wicket`).
    pub ingress_class: String,
    /// Our controller name (`--controller-name`, default `wicket.dev/ingress-controller`).
    pub controller_name: String,
    /// Also serve Ingresses that name no class at all (`--watch-ingress-without-class`).
    pub watch_ingress_without_class: bool,
    /// HSTS defaults and the default certificate (`--hsts*`, `--default-ssl-certificate`).
    pub tls: tls::TlsSettings,
}

impl Default for TranslateConfig {
    fn default() -> Self {
        Self {
            ingress_class: "wicket".to_owned(),
            controller_name: "wicket.dev/ingress-controller".to_owned(),
            watch_ingress_without_class: false,
            tls: tls::TlsSettings::default(),
        }
    }
}

/// Translates a snapshot into a routing table plus the problems found on the way.
/// Ingresses that are not ours are invisible: they produce neither routes nor Issues.
pub fn translate(snapshot: &Snapshot, config: &TranslateConfig) -> (RouteTable, Vec<Issue>) {
    translate_with(snapshot, config, &mut Memo::default())
}

/// Translates one snapshot after another, reusing from the previous translate every
/// virtual host none of whose inputs changed (see [`memo`]). Each result equals what
/// [`translate`] gives for the same snapshot.
pub struct Translator {
    config: TranslateConfig,
    memo: Memo,
}

impl Translator {
    pub fn new(config: TranslateConfig) -> Self {
        Self {
            config,
            memo: Memo::default(),
        }
    }

    pub fn config(&self) -> &TranslateConfig {
        &self.config
    }

    pub fn translate(&mut self, snapshot: &Snapshot) -> (RouteTable, Vec<Issue>) {
        translate_with(snapshot, &self.config, &mut self.memo)
    }
}

fn translate_with(
    snapshot: &Snapshot,
    config: &TranslateConfig,
    memo: &mut Memo,
) -> (RouteTable, Vec<Issue>) {
    let settings = &config.tls;
    let mut issues = Vec::new();
    let backends = backend::Backends::new(snapshot, &mut issues);
    let secrets = tls::Secrets::reusing(snapshot, memo.take_key_checks());
    let mut owned: Vec<(Source, &Arc<Ingress>)> = snapshot
        .ingresses
        .iter()
        .filter(|ingress| class::is_owned(ingress, &snapshot.classes, config))
        .map(|ingress| (source_of(ingress), ingress))
        .collect();
    owned.sort_by(|a, b| a.0.cmp(&b.0));
    let mut tls = tls::TlsBuilder::new(&secrets);
    for (source, ingress) in &owned {
        tls.add(source, ingress, &mut issues);
    }
    let tls = tls.finish();
    let memo::Plan { steps, dirty } = memo.plan(&owned, &backends, &tls.hosts);
    let mut builder =
        rules::TableBuilder::new(&backends, &secrets, &tls.hosts, settings, dirty.as_ref());
    let mut remembered = memo::ByAddress::with_capacity_and_hasher(owned.len(), Default::default());
    let mut discarded = Vec::new();
    for ((source, ingress), step) in owned.into_iter().zip(steps) {
        match step {
            Step::Reuse(known) => {
                // Its own Issues are known; it is added again only for its routes on a
                // host that is built again.
                if dirty
                    .as_ref()
                    .is_some_and(|dirty| known.hosts().iter().any(|h| dirty.contains(h)))
                {
                    builder.add(source, ingress, &mut discarded);
                    discarded.clear();
                }
                issues.extend_from_slice(known.issues());
                remembered.insert(memo::address(ingress), known);
            }
            Step::Build { inputs, hosts } => {
                let first = issues.len();
                builder.add(source, ingress, &mut issues);
                let own = issues.get(first..).unwrap_or_default().to_vec();
                remembered.insert(memo::address(ingress), IngressMemo::new(inputs, hosts, own));
            }
        }
    }
    let built = builder.finish();
    let default_certificate = settings
        .default_ssl_certificate
        .as_ref()
        .and_then(|secret| secrets.default_certificate(secret, &mut issues));
    let virtual_hosts = memo.hosts(dirty.as_ref(), built.hosts, &mut issues);
    memo.remember(snapshot, remembered, tls.hosts, secrets.into_key_checks());
    let table = RouteTable {
        virtual_hosts,
        default_backend: built.default_backend,
        tls: tls.bindings,
        default_certificate,
    };
    issues.sort();
    issues.dedup();
    (table, issues)
}

/// Provenance and age of an Ingress: the precedence key when Ingresses conflict.
pub fn source_of(ingress: &Ingress) -> Source {
    Source {
        created: ingress
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(0, |t| t.0.as_second()),
        namespace: namespace_of(&ingress.metadata).to_owned(),
        name: ingress.metadata.name.clone().unwrap_or_default(),
    }
}

/// `metadata.namespace`, or `default` when unset.
pub(crate) fn namespace_of(meta: &ObjectMeta) -> &str {
    meta.namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE)
}
