//! `translate`: a pure, deterministic function from a [`Snapshot`] to a [`RouteTable`].

use proxy::RouteTable;

use crate::snapshot::Snapshot;

/// Settings that change what `translate` produces.
#[derive(Clone, Debug)]
pub struct TranslateConfig {
    /// Our IngressClass name (`--ingress-class`, default `wicket`).
    pub ingress_class: String,
    /// Our controller name (`--controller-name`, default `wicket.dev/ingress-controller`).
    pub controller_name: String,
    /// Also serve Ingresses that name no class at all (`--watch-ingress-without-class`).
    pub watch_ingress_without_class: bool,
}

impl Default for TranslateConfig {
    fn default() -> Self {
        Self {
            ingress_class: "wicket".to_owned(),
            controller_name: "wicket.dev/ingress-controller".to_owned(),
            watch_ingress_without_class: false,
        }
    }
}

/// Translates a snapshot into a routing table plus the problems found on the way.
pub fn translate(
    _snapshot: &Snapshot,
    _config: &TranslateConfig,
) -> (RouteTable, Vec<crate::issue::Issue>) {
    (RouteTable::default(), Vec::new())
}
