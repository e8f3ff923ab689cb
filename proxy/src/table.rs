//! The routing table: plain, immutable data that the controller produces and the proxy serves.
//!
//! ```text
//! RouteTable ─┬─ virtual_hosts: [VirtualHost { host, regex_mode, routes: [Route], default_backend }]
//!             └─ default_backend: Option<Fallback>     (an Ingress with only `spec.defaultBackend`)
//! Route { path: PathRule, action: Action, policy: Policy, source: Source, index: RuleIndex }
//! Fallback { action: Action, policy: Policy (https_redirect, hsts only), source: Source }
//! Action = Forward(Backend { name, endpoints, protocol }) | Unavailable { reason }
//! tls: [TlsBinding { hosts, certificate }]   default_certificate: Option<Certificate>
//! ```
//!
//! Nothing here knows about Kubernetes; the controller adapts Ingress objects to these types.
//! The table derives `Clone + Eq` so that an unchanged table is detected and not swapped.

use std::net::SocketAddr;
use std::sync::Arc;

/// A complete, self-contained routing table. Matching semantics live in [`crate::matcher`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteTable {
    /// One entry per distinct host pattern. Order does not affect matching; the controller
    /// emits them sorted so that equal inputs give equal tables. Shared, so that a host
    /// that did not change between two versions is the same allocation in both (and
    /// compares equal by address).
    pub virtual_hosts: Vec<Arc<VirtualHost>>,
    /// Serves every request of the listener that nothing else answers (an Ingress with a
    /// `defaultBackend` and no rules). `None` → the built-in 404.
    pub default_backend: Option<Fallback>,
    /// Certificates chosen by SNI on the HTTPS listener. A handshake whose SNI matches no
    /// binding (or that has no SNI) gets `default_certificate`.
    pub tls: Vec<TlsBinding>,
    /// The certificate for unknown or missing SNI (`--default-ssl-certificate`).
    /// `None` → the proxy's own self-signed certificate, generated at start.
    pub default_certificate: Option<Certificate>,
}

/// The routes of one host pattern, merged across every Ingress that names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualHost {
    /// Which request hosts this virtual host answers.
    pub host: HostPattern,
    /// ingress-nginx regex mode: when true, every path of this host (whatever its
    /// `PathKind`) is a case-insensitive regex anchored at the start only, and the longest
    /// path string wins, first (oldest) on ties.
    pub regex_mode: bool,
    /// The rules for this host. Order does not affect matching (precedence is computed).
    pub routes: Vec<Route>,
    /// Serves this host's paths that no route matches (`defaultBackend` beside rules).
    /// `None` → fall through to [`RouteTable::default_backend`].
    pub default_backend: Option<Fallback>,
}

/// Which request hosts a [`VirtualHost`] answers. Host names are stored lower-case, without
/// a port and without a trailing dot.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostPattern {
    /// Exactly this host, e.g. `foo.bar.com`.
    Exact(String),
    /// `*.<suffix>`: exactly one label followed by the suffix, e.g. `Wildcard("foo.com")`
    /// matches `bar.foo.com` but neither `foo.com` nor `baz.bar.foo.com`.
    Wildcard(String),
    /// Rules without a host: used only when no `Exact` or `Wildcard` virtual host matches.
    Any,
}

/// One path rule of one Ingress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// What request paths this route matches.
    pub path: PathRule,
    /// What to do with a matching request.
    pub action: Action,
    /// Per-route request policy (rewrites, redirects).
    pub policy: Policy,
    /// The Ingress this route came from; also the tie-break (oldest wins).
    pub source: Source,
    /// Position of this path inside its Ingress; the last tie-break.
    pub index: RuleIndex,
}

/// A path and how it is compared with the request path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathRule {
    pub kind: PathKind,
    /// The path exactly as written in the Ingress (for `ImplementationSpecific` it may be
    /// empty, which means `/`). Validation of its characters is the controller's job;
    /// the matcher still never panics on any string.
    pub path: String,
}

/// The Ingress `pathType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathKind {
    /// Byte-equal, case-sensitive, trailing slash significant.
    Exact,
    /// Element-wise prefix on `/`.
    Prefix,
    /// `Prefix`, unless the host is in regex mode.
    ImplementationSpecific,
}

/// Position of a path inside its Ingress: `spec.rules[rule].http.paths[path]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleIndex {
    pub rule: u32,
    pub path: u32,
}

/// A backend reached when no rule path matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fallback {
    pub action: Action,
    /// The host's HTTPS policy, as for its routes: only `https_redirect` and `hsts` apply
    /// to a fallback; `rewrite_target` and `app_root` are not used (the controller leaves
    /// them `None`). The listener's default has no host: no redirect, no HSTS.
    pub policy: Policy,
    pub source: Source,
}

/// What the proxy does with a matched request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Proxy to one of the backend's endpoints. No endpoints → 503.
    Forward(Backend),
    /// The backend could not be resolved (unknown Service, missing port, resource backend):
    /// answer 503. `reason` is for logs, never sent to the client.
    Unavailable { reason: String },
}

impl Action {
    /// The backend requests are forwarded to; `None` when they are answered 503.
    pub fn backend(&self) -> Option<&Backend> {
        match self {
            Action::Forward(backend) => Some(backend),
            Action::Unavailable { .. } => None,
        }
    }
}

/// A load-balanced set of endpoints of one Service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// Upstream name for logs and metrics: `namespace-service-port` (as ingress-nginx).
    /// Balancer state (the round-robin cursor) is keyed by this name and survives swaps.
    pub name: String,
    /// The Service's name, for metric labels.
    pub service: String,
    /// Pod endpoints, sorted and without duplicates. Connection pools are keyed by address
    /// and survive swaps.
    pub endpoints: Vec<SocketAddr>,
    /// How to speak to the endpoints (`backend-protocol`).
    pub protocol: UpstreamProtocol,
}

/// The protocol spoken to a backend's endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum UpstreamProtocol {
    /// HTTP/1.1 over TCP (`backend-protocol: HTTP`, the default).
    #[default]
    Http,
    /// HTTP/1.1 over TLS (`HTTPS`).
    Https(UpstreamTls),
    /// HTTP/2 over TCP, prior knowledge (`GRPC`).
    Grpc,
    /// HTTP/2 over TLS with ALPN `h2` (`GRPCS`).
    Grpcs(UpstreamTls),
}

/// TLS settings towards a backend.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpstreamTls {
    /// Verify the backend's certificate chain and name against `ca_pem`
    /// (`proxy-ssl-verify`). `false` (the default, as in ingress-nginx) → no verification.
    pub verify: bool,
    /// PEM CA bundle for verification (`ca.crt` of `proxy-ssl-secret`).
    pub ca_pem: Option<Vec<u8>>,
    /// Name to send as SNI and verify (`proxy-ssl-name`); `None` → the request host.
    pub server_name: Option<String>,
}

/// Per-route policy from annotations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// ingress-nginx `rewrite-target`: the whole path is replaced by this template, with
    /// `$1..$n` taken from the case-insensitive, unanchored match of the route path against
    /// the request path; the query string is kept. `None` → the path goes upstream as is.
    pub rewrite_target: Option<String>,
    /// ingress-nginx `app-root`: a request for exactly `/` is answered with
    /// `302 Location: <scheme>://<host><app_root>`.
    pub app_root: Option<String>,
    /// Answer plain-HTTP requests with `308` to the same URL on `https` (`ssl-redirect` on a
    /// host with TLS, or `force-ssl-redirect`), except under `/.well-known/acme-challenge/`.
    pub https_redirect: bool,
    /// `Strict-Transport-Security` added to responses sent over HTTPS. `None` → none.
    pub hsts: Option<Hsts>,
}

/// An HSTS policy (RFC 6797).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hsts {
    pub max_age_seconds: u64,
    pub include_subdomains: bool,
    pub preload: bool,
}

impl Default for Hsts {
    /// `max-age=31536000; includeSubDomains`, as ingress-nginx.
    fn default() -> Self {
        Hsts {
            max_age_seconds: 31_536_000,
            include_subdomains: true,
            preload: false,
        }
    }
}

/// Hosts served with one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsBinding {
    /// SNI names this certificate answers: `Exact` or `Wildcard` (never `Any`).
    pub hosts: Vec<HostPattern>,
    pub certificate: Certificate,
}

/// A certificate chain and its private key, as PEM from a `kubernetes.io/tls` Secret.
/// Parsed into a signing key once per publish (cached by content), never per handshake.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Where it came from, `namespace/name` of the Secret, for logs and Issues.
    pub source: String,
    /// `tls.crt`: leaf first, then the chain.
    pub chain_pem: Vec<u8>,
    /// `tls.key`: PKCS#1, PKCS#8 or SEC1.
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for Certificate {
    /// Never prints key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("source", &self.source)
            .field("chain_pem_bytes", &self.chain_pem.len())
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Provenance: the Ingress an entry came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Source {
    /// `metadata.creationTimestamp` in seconds since the Unix epoch (0 when unknown).
    /// Compared first, so it must stay the first field for the derived `Ord`.
    pub created: i64,
    pub namespace: String,
    pub name: String,
}

impl Source {
    /// `namespace/name`, as shown in logs and Issues.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}
