//! `translate`: a pure, deterministic function from a [`Snapshot`] to a [`RouteTable`].
//!
//! ```text
//! Snapshot ─► class::is_owned ─► sort by (creationTimestamp, namespace, name)
//!          ─► tls::TlsBuilder (spec.tls, Secrets) ─► TLS bindings + TLS hosts
//!          ─► rules::TableBuilder (validate, annotations, backend::Backends) ─► RouteTable
//!          └─► Vec<Issue> (sorted, deduplicated)
//! ```
//!
//! The output depends only on the set of objects, never on the order of the snapshot's
//! vectors.

pub mod annotations;
pub mod backend;
pub mod class;
pub mod rules;
pub mod tls;
pub mod validate;

use k8s_openapi::{api::networking::v1::Ingress, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use proxy::{RouteTable, table::Source};

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
    let settings = &config.tls;
    let mut issues = Vec::new();
    let backends = backend::Backends::new(snapshot, &mut issues);
    let secrets = tls::Secrets::new(snapshot);
    let mut owned: Vec<(Source, &Ingress)> = snapshot
        .ingresses
        .iter()
        .filter(|ingress| class::is_owned(ingress, &snapshot.classes, config))
        .map(|ingress| (source_of(ingress), &**ingress))
        .collect();
    owned.sort_by(|a, b| a.0.cmp(&b.0));
    let mut tls = tls::TlsBuilder::new(&secrets);
    for (source, ingress) in &owned {
        tls.add(source, ingress, &mut issues);
    }
    let tls = tls.finish();
    let mut builder = rules::TableBuilder::new(&backends, &secrets, &tls.hosts, settings);
    for (source, ingress) in owned {
        builder.add(source, ingress, &mut issues);
    }
    let mut table = builder.finish(&mut issues);
    table.tls = tls.bindings;
    table.default_certificate = settings
        .default_ssl_certificate
        .as_ref()
        .and_then(|secret| secrets.default_certificate(secret, &mut issues));
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
