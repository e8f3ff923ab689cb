//! Ingress rules → virtual hosts: validation, merging across Ingresses (oldest wins),
//! default backends, and ingress-nginx regex mode per host.
//!
//! ```text
//! Ingress (oldest first) ─► rules[i] ─► host ─► HostRoutes { candidates, taken paths, default }
//!                        └─ no rules ─► the listener's default backend
//! finish: regex mode per host ─► regex check ─► [(VirtualHost, its Issues)] + listener default
//! ```
//!
//! Issues that depend on the other Ingresses of a host belong to that host: path
//! conflicts, a second defaultBackend, paths that are not regexes in the host's regex
//! mode, and the backend problems of a path (reported only when the path is served).
//! Every other Issue depends only on its Ingress and the objects it references.

use std::collections::{BTreeMap, BTreeSet, HashMap, btree_map};
use std::rc::Rc;

use k8s_openapi::api::networking::v1::Ingress;
use proxy::table::{
    Action, Fallback, HostPattern, Hsts, PathKind, PathRule, Policy, Route, RuleIndex, Source,
    UpstreamProtocol, UpstreamTls, VirtualHost,
};
use regex::RegexBuilder;

use super::{
    annotations::{Annotations, BackendProtocol},
    backend::Backends,
    tls::{self, Secrets, TlsHosts, TlsSettings},
    validate,
};
use crate::issue::{Issue, ObjectKind, ObjectRef, Reason};

/// Size limit for a compiled path regex (the proxy compiles with the same limit).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Accumulates the routes of every owned Ingress, oldest first.
pub struct TableBuilder<'a> {
    backends: &'a Backends<'a>,
    secrets: &'a Secrets<'a>,
    tls_hosts: &'a TlsHosts,
    settings: &'a TlsSettings,
    /// Only these hosts are built; `None` → every host.
    only: Option<&'a BTreeSet<HostPattern>>,
    hosts: BTreeMap<HostPattern, HostRoutes>,
    default_backend: Option<Fallback>,
}

#[derive(Default)]
struct HostRoutes {
    candidates: Vec<Candidate>,
    /// `(kind, path)` already defined on this host, and by which Ingress.
    taken: BTreeMap<(PathKind, String), Rc<Source>>,
    default_backend: Option<Fallback>,
    /// The Issues that arise from merging Ingresses on this host.
    issues: Vec<Issue>,
}

/// What [`TableBuilder::finish`] gives.
pub struct Finished {
    /// Every host built, sorted, with the Issues of merging its Ingresses.
    pub hosts: Vec<(VirtualHost, Vec<Issue>)>,
    /// The listener's default backend.
    pub default_backend: Option<Fallback>,
}

/// A route plus what is needed to report on it after all Ingresses are merged (its
/// Ingress and field follow from the route's source and index).
struct Candidate {
    route: Route,
    /// `use-regex`, or a `rewrite-target` that differs from the path.
    wants_regex: bool,
}

/// `spec.rules[i].http.paths[j]`: where a route comes from in its Ingress.
fn path_field(index: RuleIndex) -> String {
    format!("spec.rules[{}].http.paths[{}]", index.rule, index.path)
}

impl<'a> TableBuilder<'a> {
    /// `tls_hosts` are the hosts with TLS (from every owned Ingress), which get HTTPS
    /// redirects and HSTS. With `only`, the rules of other hosts are skipped without a
    /// word: the caller has their virtual hosts and Issues already.
    pub fn new(
        backends: &'a Backends<'a>,
        secrets: &'a Secrets<'a>,
        tls_hosts: &'a TlsHosts,
        settings: &'a TlsSettings,
        only: Option<&'a BTreeSet<HostPattern>>,
    ) -> Self {
        Self {
            backends,
            secrets,
            tls_hosts,
            settings,
            only,
            hosts: BTreeMap::new(),
            default_backend: None,
        }
    }

    /// Adds one owned Ingress. Ingresses must be added oldest first.
    pub fn add(&mut self, source: Source, ingress: &Ingress, issues: &mut Vec<Issue>) {
        let object = ObjectRef::new(ObjectKind::Ingress, &source.namespace, &source.name);
        let annotations =
            Annotations::parse(ingress.metadata.annotations.as_ref(), &object, issues);
        let protocol = self.upstream_protocol(&annotations, &object, issues);
        let with_protocol = |action: Action| match action {
            Action::Forward(mut backend) => {
                backend.protocol = protocol.clone();
                Action::Forward(backend)
            }
            unavailable @ Action::Unavailable { .. } => unavailable,
        };
        let spec = ingress.spec.as_ref();
        let rules = spec.and_then(|s| s.rules.as_deref()).unwrap_or_default();
        let default_action = spec
            .and_then(|s| s.default_backend.as_ref())
            .map(|backend| {
                with_protocol(self.backends.resolve(
                    &source.namespace,
                    backend,
                    &object,
                    &|| DEFAULT_BACKEND_FIELD.to_owned(),
                    issues,
                ))
            });
        let hsts = tls::hsts_policy(
            self.settings,
            annotations.hsts,
            annotations.hsts_max_age,
            annotations.hsts_include_subdomains,
            annotations.hsts_preload,
        );

        if rules.is_empty() {
            match default_action {
                Some(action) => self.set_listener_default(action, &source, &object, issues),
                None => issues.push(Issue::new(
                    Reason::EmptySpec,
                    object,
                    Some("spec".to_owned()),
                    "the Ingress has neither rules nor a defaultBackend; nothing is served",
                )),
            }
            return;
        }

        let mut hosts = BTreeSet::new();
        let shared_source = Rc::new(source.clone());
        for (i, rule) in rules.iter().enumerate() {
            let host = match validate::host_pattern(rule.host.as_deref()) {
                Ok(host) => host,
                Err(message) => {
                    issues.push(Issue::new(
                        Reason::InvalidHost,
                        object.clone(),
                        Some(format!("spec.rules[{i}].host")),
                        format!("{message}; the rule is ignored"),
                    ));
                    continue;
                }
            };
            if self.only.is_some_and(|only| !only.contains(&host)) {
                continue;
            }
            let Some(http) = &rule.http else {
                // A rule without paths still sends its host to the Ingress's defaultBackend.
                if default_action.is_some() {
                    self.hosts.entry(host.clone()).or_default();
                    hosts.insert(host);
                }
                continue;
            };
            hosts.insert(host.clone());
            let policy = Policy {
                app_root: annotations.app_root.clone(),
                ..self.https_policy(&annotations, hsts.as_ref(), &host)
            };
            let index = |j: usize| RuleIndex {
                rule: u32::try_from(i).unwrap_or(u32::MAX),
                path: u32::try_from(j).unwrap_or(u32::MAX),
            };
            for (j, path) in http.paths.iter().enumerate() {
                let field = || path_field(index(j));
                let kind = match validate::path_kind(&path.path_type) {
                    Ok(kind) => kind,
                    Err(message) => {
                        issues.push(Issue::new(
                            Reason::InvalidPath,
                            object.clone(),
                            Some(format!("{}.pathType", field())),
                            format!("{message}; the path is ignored"),
                        ));
                        continue;
                    }
                };
                let text = path.path.clone().unwrap_or_default();
                if let Err(message) = validate::path(kind, &text) {
                    issues.push(Issue::new(
                        Reason::InvalidPath,
                        object.clone(),
                        Some(format!("{}.path", field())),
                        format!("{message}; the path is ignored"),
                    ));
                    continue;
                }
                let routes = self.hosts.entry(host.clone()).or_default();
                match routes.taken.entry((kind, text.clone())) {
                    btree_map::Entry::Vacant(slot) => {
                        slot.insert(shared_source.clone());
                    }
                    btree_map::Entry::Occupied(owner) => {
                        let by = if **owner.get() == source {
                            "earlier in this Ingress".to_owned()
                        } else {
                            format!("by ingress {}", owner.get().key())
                        };
                        routes.issues.push(Issue::new(
                            Reason::PathConflict,
                            object.clone(),
                            Some(format!("{}.path", field())),
                            format!(
                                "path {text:?} ({kind:?}) on host {} is already defined {by}; the oldest definition wins and this one is ignored",
                                validate::host_label(&host)
                            ),
                        ));
                        continue;
                    }
                }
                // Reported on the host: whether this path is served (and its backend
                // resolved) depends on the other Ingresses there.
                let action = with_protocol(self.backends.resolve(
                    &source.namespace,
                    &path.backend,
                    &object,
                    &|| format!("{}.backend", field()),
                    &mut routes.issues,
                ));
                let rewrite_target = annotations
                    .rewrite_target
                    .clone()
                    .filter(|target| *target != text);
                let wants_regex = annotations.use_regex || rewrite_target.is_some();
                routes.candidates.push(Candidate {
                    route: Route {
                        path: PathRule { kind, path: text },
                        action,
                        policy: Policy {
                            rewrite_target,
                            ..policy.clone()
                        },
                        source: source.clone(),
                        index: index(j),
                    },
                    wants_regex,
                });
            }
        }

        if let Some(action) = default_action {
            for host in hosts {
                let policy = self.https_policy(&annotations, hsts.as_ref(), &host);
                let routes = self.hosts.entry(host.clone()).or_default();
                match &routes.default_backend {
                    None => {
                        routes.default_backend = Some(Fallback {
                            action: action.clone(),
                            policy,
                            source: source.clone(),
                        });
                    }
                    Some(existing) if existing.source != source => {
                        routes.issues.push(Issue::new(
                            Reason::DuplicateDefaultBackend,
                            object.clone(),
                            Some(DEFAULT_BACKEND_FIELD.to_owned()),
                            format!(
                                "host {} already has the defaultBackend of ingress {}; the oldest wins and this one is ignored for that host",
                                validate::host_label(&host),
                                existing.source.key()
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
    }

    /// The HTTPS part of an Ingress's policy on `host`, the same for its routes and its
    /// default backend there: a redirect (`ssl-redirect`) and HSTS when the host has TLS,
    /// a redirect anyway under `force-ssl-redirect`. Rewrite and app-root are left unset.
    fn https_policy(
        &self,
        annotations: &Annotations,
        hsts: Option<&Hsts>,
        host: &HostPattern,
    ) -> Policy {
        let tls_host = self.tls_hosts.covers(host);
        Policy {
            rewrite_target: None,
            app_root: None,
            https_redirect: (tls_host && annotations.ssl_redirect)
                || annotations.force_ssl_redirect,
            hsts: hsts.filter(|_| tls_host).cloned(),
        }
    }

    /// `backend-protocol`, with `proxy-ssl-*` for the TLS protocols. A `proxy-ssl-secret`
    /// that cannot be read is reported; verification (if on) then has no CA, so the
    /// backends fail verification and answer 502 rather than being trusted unverified.
    fn upstream_protocol(
        &self,
        annotations: &Annotations,
        object: &ObjectRef,
        issues: &mut Vec<Issue>,
    ) -> UpstreamProtocol {
        let mut upstream_tls = || {
            let ca_pem = annotations.proxy_ssl_secret.as_ref().and_then(|secret| {
                self.secrets
                    .ca_bundle(&secret.value)
                    .map_err(|problem| {
                        let effect = if annotations.proxy_ssl_verify {
                            "backends cannot be verified and answer 502"
                        } else {
                            "it is not used while proxy-ssl-verify is off"
                        };
                        issues.push(Issue::new(
                            problem.reason,
                            object.clone(),
                            Some(format!("metadata.annotations[{}]", secret.key)),
                            format!("{}; {effect}", problem.message),
                        ));
                    })
                    .ok()
            });
            UpstreamTls {
                verify: annotations.proxy_ssl_verify,
                ca_pem,
                server_name: annotations.proxy_ssl_name.clone(),
            }
        };
        match annotations.backend_protocol {
            BackendProtocol::Http => UpstreamProtocol::Http,
            BackendProtocol::Grpc => UpstreamProtocol::Grpc,
            BackendProtocol::Https => UpstreamProtocol::Https(upstream_tls()),
            BackendProtocol::Grpcs => UpstreamProtocol::Grpcs(upstream_tls()),
        }
    }

    fn set_listener_default(
        &mut self,
        action: Action,
        source: &Source,
        object: &ObjectRef,
        issues: &mut Vec<Issue>,
    ) {
        match &self.default_backend {
            None => {
                // No host, so no TLS: neither a redirect nor HSTS.
                self.default_backend = Some(Fallback {
                    action,
                    policy: Policy::default(),
                    source: source.clone(),
                });
            }
            Some(existing) => issues.push(Issue::new(
                Reason::DuplicateDefaultBackend,
                object.clone(),
                Some(DEFAULT_BACKEND_FIELD.to_owned()),
                format!(
                    "the listener's default backend is already set by ingress {}; the oldest wins and this one is ignored",
                    existing.source.key()
                ),
            )),
        }
    }

    /// Decides regex mode per host, drops paths that are not valid regexes in that mode,
    /// and emits the hosts and their routes in a canonical order.
    pub fn finish(self) -> Finished {
        let mut hosts = Vec::with_capacity(self.hosts.len());
        // Regex-mode hosts often share patterns; each distinct one is compiled once.
        let mut checked: HashMap<String, Result<(), String>> = HashMap::new();
        for (host, routes) in self.hosts {
            let mut issues = routes.issues;
            let regex_mode = routes.candidates.iter().any(|c| c.wants_regex);
            let mut kept = Vec::with_capacity(routes.candidates.len());
            for candidate in routes.candidates {
                let invalid = if regex_mode {
                    let path = &candidate.route.path.path;
                    match checked.get(path) {
                        Some(result) => result.clone().err(),
                        None => {
                            let result = check_regex(path);
                            checked.insert(path.clone(), result.clone());
                            result.err()
                        }
                    }
                } else {
                    None
                };
                if let Some(reason) = invalid {
                    let source = &candidate.route.source;
                    issues.push(Issue::new(
                        Reason::InvalidRegex,
                        ObjectRef::new(ObjectKind::Ingress, &source.namespace, &source.name),
                        Some(format!("{}.path", path_field(candidate.route.index))),
                        format!(
                            "host {} is in regex mode (use-regex or rewrite-target on one of its Ingresses) and path {:?} is not a valid regex: {reason}; the path is ignored",
                            validate::host_label(&host),
                            candidate.route.path.path
                        ),
                    ));
                    continue;
                }
                kept.push(candidate.route);
            }
            kept.sort_by(|a, b| (&a.source, a.index).cmp(&(&b.source, b.index)));
            let vhost = VirtualHost {
                host,
                regex_mode,
                routes: kept,
                default_backend: routes.default_backend,
            };
            hosts.push((vhost, issues));
        }
        Finished {
            hosts,
            default_backend: self.default_backend,
        }
    }
}

const DEFAULT_BACKEND_FIELD: &str = "spec.defaultBackend";

/// Compiles the path as the proxy will in regex mode: `(?i)^<path>` (empty means `/`).
fn check_regex(path: &str) -> Result<(), String> {
    let path = if path.is_empty() { "/" } else { path };
    RegexBuilder::new(&format!("(?i)^{path}"))
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(drop)
        .map_err(|e| one_line(&e.to_string()))
}

/// The `error: …` line of a multi-line regex error, else its first line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .or_else(|| message.lines().next())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_errors_are_one_line() {
        let err = check_regex("/foo(").expect_err("unbalanced group");
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains("unclosed group"), "{err}");
        assert_eq!(check_regex("/something(/|$)(.*)"), Ok(()));
        assert_eq!(check_regex(""), Ok(()));
        assert!(check_regex("/(a{1000}){1000}").is_err());
    }
}
