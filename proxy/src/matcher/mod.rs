//! Request → route lookup, compiled once per published table (DESIGN.md "Semantics").
//!
//! ```text
//! find(host, path)
//!   host ──► HostIndex: Exact map ─► Wildcard map (host minus first label) ─► Any ─► none
//!                          │ a virtual host, never falls through to another one
//!   path ──► PathRouter (matchit, Prefix/Exact)  or  RegexRoutes (regex mode, first match)
//!              │ no route
//!              └─► vhost default_backend ─► table default_backend ─► None (404)
//! ```
//!
//! Precedence is resolved at compile time, so a lookup is a few hash probes and one tree
//! walk, and never allocates in this module.

mod host;
mod path;
mod regex;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::sync::Arc;

use crate::table::{PathKind, PathRule, Route, RouteTable, RuleIndex, Source, VirtualHost};

pub use self::regex::RegexCache;
use self::{host::HostIndex, path::PathRouter, regex::RegexRoutes};

/// Where a request goes, as indexes into the [`RouteTable`] it was compiled from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `table.virtual_hosts[vhost].routes[route]`.
    Route { vhost: usize, route: usize },
    /// `table.virtual_hosts[vhost].default_backend`.
    HostDefault { vhost: usize },
    /// `table.default_backend`.
    ListenerDefault,
}

/// A table entry the matcher could not use; the entry is skipped, the rest still serves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("invalid path regex {path:?} from {source_key}: {reason}")]
    InvalidRegex {
        path: String,
        source_key: String,
        reason: String,
    },
    #[error("unusable path {path:?} from {source_key}: {reason}")]
    InvalidPath {
        path: String,
        source_key: String,
        reason: String,
    },
    #[error("invalid rewrite of path {path:?} to {target:?}: {reason}")]
    InvalidRewrite {
        path: String,
        target: String,
        reason: String,
    },
    #[error("host {host} appears in more than one virtual host; only the first is served")]
    DuplicateHost { host: String },
    /// A TLS certificate that cannot be served; `hosts` (none for the default
    /// certificate) get the default certificate instead.
    #[error("certificate {source_key} is unusable ({reason}); {}", fallback(hosts))]
    InvalidCertificate {
        source_key: String,
        hosts: Vec<String>,
        reason: String,
    },
    /// A backend's upstream TLS settings cannot be used; its requests get 503.
    #[error("upstream TLS settings of {backend} are unusable: {reason}")]
    InvalidUpstreamTls { backend: String, reason: String },
}

fn fallback(hosts: &[String]) -> String {
    if hosts.is_empty() {
        "the self-signed certificate is served instead".to_owned()
    } else {
        format!("{} get the default certificate", hosts.join(", "))
    }
}

/// A host pattern as written in an Ingress (`*.foo.com`), for messages.
pub(crate) fn display_host(pattern: &crate::table::HostPattern) -> String {
    host::display(pattern)
}

/// Compiled matcher for one table version.
#[derive(Debug, Default)]
pub struct Matcher {
    hosts: HostIndex,
    /// Indexed by the values of `hosts`.
    compiled: Vec<CompiledHost>,
    listener_default: bool,
}

#[derive(Debug)]
struct CompiledHost {
    /// Index into `table.virtual_hosts`.
    vhost: usize,
    /// Shared with earlier versions whose virtual host had the same routes.
    paths: Arc<CompiledPaths>,
    /// The index into the previous table's `virtual_hosts` whose compiled paths these are.
    reused_from: Option<usize>,
    has_default: bool,
}

/// The compiled routes of one virtual host and what compiling them reported.
#[derive(Debug)]
struct CompiledPaths {
    paths: Paths,
    errors: Vec<TableError>,
}

impl CompiledPaths {
    fn compile(host: &VirtualHost, cache: &mut RegexCache) -> CompiledPaths {
        let mut errors = Vec::new();
        let paths = if host.regex_mode {
            Paths::Regex(RegexRoutes::compile(&host.routes, cache, &mut errors))
        } else {
            Paths::Plain(PathRouter::compile(&host.routes, &mut errors))
        };
        CompiledPaths { paths, errors }
    }
}

#[derive(Debug)]
enum Paths {
    Plain(PathRouter),
    Regex(RegexRoutes),
}

impl Matcher {
    /// Compiles `table`; entries that cannot be used are reported and skipped.
    pub fn compile(table: &RouteTable) -> (Matcher, Vec<TableError>) {
        Matcher::compile_reusing(table, None, &mut RegexCache::default())
    }

    /// [`compile`](Self::compile), reusing the compiled routes of every virtual host whose
    /// routes and regex mode equal those of the same host pattern in `previous` (the table
    /// and matcher being served), and taking regexes from `cache`.
    pub fn compile_reusing(
        table: &RouteTable,
        previous: Option<(&RouteTable, &Matcher)>,
        cache: &mut RegexCache,
    ) -> (Matcher, Vec<TableError>) {
        let mut errors = Vec::new();
        let mut matcher = Matcher {
            listener_default: table.default_backend.is_some(),
            ..Matcher::default()
        };
        // The compiled host after the last one reused: where the next host usually is.
        let mut guess = 0;
        for (vhost, host) in table.virtual_hosts.iter().enumerate() {
            if !matcher.hosts.insert(&host.host, matcher.compiled.len()) {
                errors.push(TableError::DuplicateHost {
                    host: host::display(&host.host),
                });
                continue;
            }
            let reused = previous.and_then(|(table, matcher)| matcher.reusable(table, host, guess));
            let (paths, reused_from) = match reused {
                Some((paths, from, compiled)) => {
                    guess = compiled + 1;
                    if let Paths::Regex(routes) = &paths.paths {
                        routes.keep_cached(cache);
                    }
                    (paths, Some(from))
                }
                None => (Arc::new(CompiledPaths::compile(host, cache)), None),
            };
            errors.extend(paths.errors.iter().cloned());
            matcher.compiled.push(CompiledHost {
                vhost,
                paths,
                reused_from,
                has_default: host.default_backend.is_some(),
            });
        }
        (matcher, errors)
    }

    /// `(virtual host, previous virtual host)` for every host whose compiled routes were
    /// taken over from the previous version, which happens only when its routes and regex
    /// mode did not change.
    pub fn reused(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.compiled
            .iter()
            .filter_map(|c| Some((c.vhost, c.reused_from?)))
    }

    /// The compiled routes of `host` in this matcher, the index of its virtual host in
    /// `table` (the one it was compiled from) and its own index, when that gives the host
    /// pattern the same routes and regex mode. The compiled host at `guess` is tried first:
    /// when it was compiled from this very virtual host, no lookup is needed.
    fn reusable(
        &self,
        table: &RouteTable,
        host: &Arc<VirtualHost>,
        guess: usize,
    ) -> Option<(Arc<CompiledPaths>, usize, usize)> {
        if let Some(compiled) = self.compiled.get(guess)
            && table
                .virtual_hosts
                .get(compiled.vhost)
                .is_some_and(|old| Arc::ptr_eq(old, host))
        {
            return Some((compiled.paths.clone(), compiled.vhost, guess));
        }
        let index = self.hosts.get(&host.host)?;
        let compiled = self.compiled.get(index)?;
        let old = table.virtual_hosts.get(compiled.vhost)?;
        let same = Arc::ptr_eq(old, host)
            || (old.regex_mode == host.regex_mode && old.routes == host.routes);
        same.then(|| (compiled.paths.clone(), compiled.vhost, index))
    }

    /// Finds the target for a request. `host` is already normalised by
    /// [`crate::authority`] (ASCII lower-case, no port, no trailing dot) and `path` by
    /// [`crate::normalize`]. `None` → 404.
    pub fn find(&self, host: &str, path: &str) -> Option<Target> {
        let compiled = self.hosts.find(host).and_then(|i| self.compiled.get(i));
        if let Some(compiled) = compiled {
            let route = match &compiled.paths.paths {
                Paths::Plain(router) => router.find(path),
                Paths::Regex(routes) => routes.find(path),
            };
            if let Some(route) = route {
                return Some(Target::Route {
                    vhost: compiled.vhost,
                    route,
                });
            }
            if compiled.has_default {
                return Some(Target::HostDefault {
                    vhost: compiled.vhost,
                });
            }
        }
        self.listener_default.then_some(Target::ListenerDefault)
    }
}

/// The rule path as matched: an empty `ImplementationSpecific` path means `/`.
fn rule_path(rule: &PathRule) -> &str {
    if rule.path.is_empty() && rule.kind == PathKind::ImplementationSpecific {
        "/"
    } else {
        &rule.path
    }
}

/// Sort key, best first: longest rule path as written, then `Exact` over the others
/// (dropped in regex mode, where every kind is a regex), then the oldest Ingress, then
/// the position inside it.
type Precedence<'a> = (Reverse<usize>, bool, &'a Source, RuleIndex);

fn precedence(route: &Route, regex_mode: bool) -> Precedence<'_> {
    let not_exact = !regex_mode && route.path.kind != PathKind::Exact;
    (
        Reverse(rule_path(&route.path).len()),
        not_exact,
        &route.source,
        route.index,
    )
}

/// Route indexes of `routes`, best first.
fn by_precedence(routes: &[Route], regex_mode: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..routes.len()).collect();
    order.sort_by_cached_key(|&i| routes.get(i).map(|r| precedence(r, regex_mode)));
    order
}
