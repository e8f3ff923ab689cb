//! A readable view of a routing table: the `/debug/routes` JSON of the admin listener and the
//! table `wicket check` prints. Names backends, endpoints and certificate sources, never key
//! material.
//!
//! ```text
//! RouteTable ─► TableView { virtual_hosts: [HostView { routes: [RouteView] }], tls, … }
//!                  ├─ serde_json ─► /debug/routes
//!                  └─ rows() ─► host, path, type, backend, TLS  (wicket check)
//! ```

use proxy::table::{
    Action, Fallback, HostPattern, PathKind, Policy, Route, RouteTable, UpstreamProtocol,
    VirtualHost,
};
use serde::Serialize;

/// The whole table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TableView {
    /// The table version being served (0: nothing published yet).
    pub generation: u64,
    pub virtual_hosts: Vec<HostView>,
    /// The listener's default backend (an Ingress with only `spec.defaultBackend`).
    pub default_backend: Option<TargetView>,
    pub tls: Vec<TlsView>,
    /// Source of the certificate for unknown or missing SNI; `None`: the self-signed one.
    pub default_certificate: Option<String>,
}

/// One virtual host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostView {
    /// `a.example.com`, `*.example.com`, or `*` for rules without a host.
    pub host: String,
    pub regex_mode: bool,
    /// The Secret (`namespace/name`) whose certificate SNI picks for this host, if any.
    pub tls: Option<String>,
    pub routes: Vec<RouteView>,
    /// Serves this host's unmatched paths.
    pub default_backend: Option<TargetView>,
}

/// One path rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteView {
    pub path: String,
    /// `Exact`, `Prefix` or `ImplementationSpecific`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(flatten)]
    pub target: TargetView,
    pub policy: PolicyView,
}

/// Where matched requests go, and which Ingress said so.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetView {
    /// `namespace-service-port`; `None` when the backend is unavailable.
    pub backend: Option<String>,
    pub endpoints: Vec<String>,
    /// `HTTP`, `HTTPS`, `GRPC` or `GRPCS`.
    pub protocol: Option<&'static str>,
    /// Why requests are answered 503, when the backend could not be resolved.
    pub unavailable: Option<String>,
    /// The Ingress, `namespace/name`.
    pub source: String,
}

/// Per-route policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PolicyView {
    pub rewrite_target: Option<String>,
    pub app_root: Option<String>,
    pub https_redirect: bool,
    /// The `Strict-Transport-Security` value sent over HTTPS.
    pub hsts: Option<String>,
}

/// Hosts served with one certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TlsView {
    pub hosts: Vec<String>,
    /// The Secret, `namespace/name`.
    pub certificate: String,
}

impl TableView {
    pub fn of(table: &RouteTable, generation: u64) -> Self {
        Self {
            generation,
            virtual_hosts: table
                .virtual_hosts
                .iter()
                .map(|v| HostView::of(v, table))
                .collect(),
            default_backend: table.default_backend.as_ref().map(TargetView::fallback),
            tls: table
                .tls
                .iter()
                .map(|b| TlsView {
                    hosts: b.hosts.iter().map(host_name).collect(),
                    certificate: b.certificate.source.clone(),
                })
                .collect(),
            default_certificate: table.default_certificate.as_ref().map(|c| c.source.clone()),
        }
    }

    /// One row per route and per default backend: `[host, path, type, backend, tls]`,
    /// in table order. A default backend shows as path `*` and type `default`.
    pub fn rows(&self) -> Vec<[String; 5]> {
        let mut rows = Vec::new();
        let tls = |host: &HostView| host.tls.clone().unwrap_or_else(|| "-".to_owned());
        for host in &self.virtual_hosts {
            for route in &host.routes {
                let kind = if host.regex_mode {
                    "Regex".to_owned()
                } else {
                    route.kind.to_owned()
                };
                rows.push([
                    host.host.clone(),
                    route.path.clone(),
                    kind,
                    route.target.describe(),
                    tls(host),
                ]);
            }
            if let Some(fallback) = &host.default_backend {
                rows.push([
                    host.host.clone(),
                    "*".to_owned(),
                    "default".to_owned(),
                    fallback.describe(),
                    tls(host),
                ]);
            }
        }
        if let Some(fallback) = &self.default_backend {
            rows.push([
                "*".to_owned(),
                "*".to_owned(),
                "default".to_owned(),
                fallback.describe(),
                "-".to_owned(),
            ]);
        }
        rows
    }
}

impl HostView {
    fn of(vhost: &VirtualHost, table: &RouteTable) -> Self {
        Self {
            host: host_name(&vhost.host),
            regex_mode: vhost.regex_mode,
            tls: tls_source(table, &vhost.host),
            routes: vhost.routes.iter().map(RouteView::of).collect(),
            default_backend: vhost.default_backend.as_ref().map(TargetView::fallback),
        }
    }
}

impl RouteView {
    fn of(route: &Route) -> Self {
        Self {
            path: route.path.path.clone(),
            kind: kind_name(route.path.kind),
            target: TargetView::of(&route.action, route.source.key()),
            policy: PolicyView::of(&route.policy),
        }
    }
}

impl TargetView {
    fn of(action: &Action, source: String) -> Self {
        match action {
            Action::Forward(backend) => Self {
                backend: Some(backend.name.clone()),
                endpoints: backend.endpoints.iter().map(ToString::to_string).collect(),
                protocol: Some(protocol_name(&backend.protocol)),
                unavailable: None,
                source,
            },
            Action::Unavailable { reason } => Self {
                backend: None,
                endpoints: Vec::new(),
                protocol: None,
                unavailable: Some(reason.clone()),
                source,
            },
        }
    }

    fn fallback(fallback: &Fallback) -> Self {
        Self::of(&fallback.action, fallback.source.key())
    }

    /// `default-web-80 (2 endpoints)`, or `503: <reason>`.
    pub fn describe(&self) -> String {
        match (&self.backend, &self.unavailable) {
            (Some(name), _) => {
                let n = self.endpoints.len();
                let plural = if n == 1 { "" } else { "s" };
                format!("{name} ({n} endpoint{plural})")
            }
            (None, Some(reason)) => format!("503: {reason}"),
            (None, None) => "503".to_owned(),
        }
    }
}

impl PolicyView {
    fn of(policy: &Policy) -> Self {
        Self {
            rewrite_target: policy.rewrite_target.clone(),
            app_root: policy.app_root.clone(),
            https_redirect: policy.https_redirect,
            hsts: policy.hsts.as_ref().map(|h| {
                let mut value = format!("max-age={}", h.max_age_seconds);
                if h.include_subdomains {
                    value.push_str("; includeSubDomains");
                }
                if h.preload {
                    value.push_str("; preload");
                }
                value
            }),
        }
    }
}

/// The Secret a TLS handshake for `host` would use: a binding naming the same pattern, or
/// for an exact host, a binding with the matching one-label wildcard.
fn tls_source(table: &RouteTable, host: &HostPattern) -> Option<String> {
    let covers = |pattern: &HostPattern| {
        pattern == host
            || matches!((pattern, host), (HostPattern::Wildcard(suffix), HostPattern::Exact(name))
                if name.split_once('.').is_some_and(|(_, rest)| rest == suffix))
    };
    let exact = table.tls.iter().find(|b| b.hosts.iter().any(|h| h == host));
    exact
        .or_else(|| table.tls.iter().find(|b| b.hosts.iter().any(covers)))
        .map(|b| b.certificate.source.clone())
}

pub fn host_name(host: &HostPattern) -> String {
    match host {
        HostPattern::Exact(name) => name.clone(),
        HostPattern::Wildcard(suffix) => format!("*.{suffix}"),
        HostPattern::Any => "*".to_owned(),
    }
}

fn kind_name(kind: PathKind) -> &'static str {
    match kind {
        PathKind::Exact => "Exact",
        PathKind::Prefix => "Prefix",
        PathKind::ImplementationSpecific => "ImplementationSpecific",
    }
}

fn protocol_name(protocol: &UpstreamProtocol) -> &'static str {
    match protocol {
        UpstreamProtocol::Http => "HTTP",
        UpstreamProtocol::Https(_) => "HTTPS",
        UpstreamProtocol::Grpc => "GRPC",
        UpstreamProtocol::Grpcs(_) => "GRPCS",
    }
}

#[cfg(test)]
mod tests;
