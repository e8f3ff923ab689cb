//! `TableHandle`: the one arc-swap user. A publish compiles a [`RouteTable`] once into an
//! immutable [`Active`]; requests `load()` it once and use that version to their end.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use http::HeaderValue;

use crate::balance::CursorRegistry;
use crate::matcher::{Matcher, RegexCache, TableError, Target};
use crate::rewrite::Rewrite;
use crate::table::{Action, Fallback, Hsts, Route, RouteTable, VirtualHost};
use crate::telemetry::RouteTelemetry;
use crate::tls::{CertCache, SniIndex};
use crate::upstream::{PoolRegistry, Upstream};

/// What a matched request does, compiled once per table version.
#[derive(Debug)]
pub enum Dispatch {
    /// Proxy to this backend.
    Forward(Upstream),
    /// Answer 503; `reason` is for logs.
    Unavailable { reason: String },
}

/// A route, host default or listener default, ready to serve.
#[derive(Debug)]
pub struct Entry {
    /// Where the request goes.
    pub dispatch: Dispatch,
    /// The compiled `rewrite-target`, if any.
    pub rewrite: Option<Rewrite>,
    /// The `app-root` redirect target, if any.
    pub app_root: Option<String>,
    /// Answer plain HTTP with `308` to HTTPS (outside the ACME challenge path).
    pub https_redirect: bool,
    /// The `Strict-Transport-Security` value for responses sent over HTTPS.
    pub hsts: Option<HeaderValue>,
    /// Metric labels and series of this entry's requests.
    pub telemetry: RouteTelemetry,
}

/// The compiled, immutable table a request uses from start to end.
#[derive(Debug, Default)]
pub struct Active {
    /// 0 before the first publish, then 1, 2, …
    pub generation: u64,
    /// The table this version was compiled from.
    pub table: RouteTable,
    /// The compiled matcher.
    pub matcher: Matcher,
    /// Certificates by SNI name, parsed at publish.
    pub tls: SniIndex,
    /// `routes[vhost][route]`, parallel to `table.virtual_hosts[vhost].routes[route]`.
    /// A host whose routes did not change shares them with the previous version.
    routes: Vec<Arc<[Entry]>>,
    /// Parallel to `table.virtual_hosts[vhost].default_backend`.
    host_defaults: Vec<Option<Entry>>,
    listener_default: Option<Entry>,
}

impl Active {
    /// The compiled entry a matcher [`Target`] points at.
    pub fn entry(&self, target: Target) -> Option<&Entry> {
        match target {
            Target::Route { vhost, route } => self.routes.get(vhost)?.get(route),
            Target::HostDefault { vhost } => self.host_defaults.get(vhost)?.as_ref(),
            Target::ListenerDefault => self.listener_default.as_ref(),
        }
    }
}

/// Result of [`TableHandle::publish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    /// The table was compiled and swapped in; `errors` name the entries that were skipped.
    Published {
        generation: u64,
        errors: Vec<TableError>,
    },
    /// The table equals the one being served; nothing was swapped.
    Unchanged,
}

/// State that outlives table versions, updated only by a publish.
#[derive(Debug, Default)]
struct Registries {
    cursors: CursorRegistry,
    pools: PoolRegistry,
    certs: CertCache,
    regexes: RegexCache,
}

/// The swap point between the controller and the proxy.
#[derive(Debug)]
pub struct TableHandle {
    current: ArcSwap<Active>,
    registries: Mutex<Registries>,
}

impl Default for TableHandle {
    fn default() -> Self {
        Self::new()
    }
}

impl TableHandle {
    /// A handle serving an empty table (every request → 404) at generation 0.
    pub fn new() -> TableHandle {
        TableHandle {
            current: ArcSwap::from_pointee(Active::default()),
            registries: Mutex::new(Registries::default()),
        }
    }

    /// Compiles `table` and swaps it in, unless it equals the table being served. The
    /// first publish always counts, even of an empty table.
    pub fn publish(&self, table: RouteTable) -> PublishOutcome {
        let mut registries = self.lock();
        let current = self.current.load();
        if current.generation != 0 && current.table == table {
            return PublishOutcome::Unchanged;
        }
        let generation = current.generation + 1;
        let (active, errors) = compile(table, &current, generation, &mut registries);
        registries.regexes.commit();
        registries.cursors.commit();
        registries.pools.commit();
        registries.certs.commit();
        self.current.store(Arc::new(active));
        PublishOutcome::Published { generation, errors }
    }

    /// The version to serve one request with.
    pub fn load(&self) -> Arc<Active> {
        self.current.load_full()
    }

    /// The generation being served; 0 = nothing published yet.
    pub fn generation(&self) -> u64 {
        self.current.load().generation
    }

    /// Closes idle upstream connections older than `timeout`.
    pub fn sweep_idle(&self, timeout: std::time::Duration) {
        self.lock().pools.sweep(timeout);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registries> {
        // The registries are plain maps; a panic elsewhere leaves them usable.
        self.registries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Compiles `table`, reusing what it shares with `previous` (the version being served).
fn compile(
    table: RouteTable,
    previous: &Active,
    generation: u64,
    registries: &mut Registries,
) -> (Active, Vec<TableError>) {
    let (matcher, mut errors) = Matcher::compile_reusing(
        &table,
        Some((&previous.table, &previous.matcher)),
        &mut registries.regexes,
    );
    // The previous version's compiled entries of each host whose routes are unchanged: the
    // hosts whose compiled paths the matcher took over.
    let mut reusable: Vec<Option<&Arc<[Entry]>>> = vec![None; table.virtual_hosts.len()];
    for (vhost, old) in matcher.reused() {
        if let Some(slot) = reusable.get_mut(vhost) {
            *slot = previous.routes.get(old);
        }
    }
    let mut routes = Vec::with_capacity(table.virtual_hosts.len());
    let mut host_defaults = Vec::with_capacity(table.virtual_hosts.len());
    for (vhost, reusable) in table.virtual_hosts.iter().zip(reusable) {
        let reused = reusable.filter(|_| keep_alive(vhost, registries));
        let compiled = match reused {
            Some(entries) => Arc::clone(entries),
            None => vhost
                .routes
                .iter()
                .map(|route| compile_route(route, registries, &mut errors))
                .collect(),
        };
        routes.push(compiled);
        host_defaults.push(
            vhost
                .default_backend
                .as_ref()
                .map(|f| compile_fallback(f, registries, &mut errors)),
        );
    }
    let listener_default = table
        .default_backend
        .as_ref()
        .map(|f| compile_fallback(f, registries, &mut errors));
    let tls = SniIndex::compile(&table, &mut registries.certs, &mut errors);
    let active = Active {
        generation,
        table,
        matcher,
        tls,
        routes,
        host_defaults,
        listener_default,
    };
    (active, errors)
}

/// Whether the compiled routes of `vhost` from the previous version can serve again: true
/// when none needs a compiled rewrite and every cursor and endpoint pool they use is still
/// resolvable, in which case each is marked as used by this version (so that the commit
/// keeps it). Routes with a rewrite are compiled again, which keeps their regexes cached.
fn keep_alive(vhost: &VirtualHost, registries: &mut Registries) -> bool {
    if vhost
        .routes
        .iter()
        .any(|route| route.policy.rewrite_target.is_some())
    {
        return false;
    }
    for route in &vhost.routes {
        if let Action::Forward(backend) = &route.action {
            registries.cursors.resolve(&backend.name);
            for addr in &backend.endpoints {
                if registries.pools.resolve(*addr, &backend.protocol).is_err() {
                    return false;
                }
            }
        }
    }
    true
}

fn compile_route(
    route: &Route,
    registries: &mut Registries,
    errors: &mut Vec<TableError>,
) -> Entry {
    let mut dispatch = compile_action(&route.action, registries, errors);
    let rewrite = match &route.policy.rewrite_target {
        None => None,
        Some(target) => {
            match Rewrite::compile_cached(&route.path.path, target, &mut registries.regexes) {
                Ok(rewrite) => Some(rewrite),
                Err(err) => {
                    dispatch = Dispatch::Unavailable {
                        reason: format!("invalid rewrite-target: {err}"),
                    };
                    if !errors.contains(&err) {
                        errors.push(err);
                    }
                    None
                }
            }
        }
    };
    Entry {
        dispatch,
        rewrite,
        app_root: route.policy.app_root.clone(),
        https_redirect: route.policy.https_redirect,
        hsts: route.policy.hsts.as_ref().map(hsts_value),
        telemetry: RouteTelemetry::new(&route.source, route.action.backend()),
    }
}

fn compile_fallback(
    fallback: &Fallback,
    registries: &mut Registries,
    errors: &mut Vec<TableError>,
) -> Entry {
    Entry {
        dispatch: compile_action(&fallback.action, registries, errors),
        // A fallback has no path to rewrite and serves no particular `/`.
        rewrite: None,
        app_root: None,
        https_redirect: fallback.policy.https_redirect,
        hsts: fallback.policy.hsts.as_ref().map(hsts_value),
        telemetry: RouteTelemetry::new(&fallback.source, fallback.action.backend()),
    }
}

/// `max-age=N[; includeSubDomains][; preload]`.
fn hsts_value(hsts: &Hsts) -> HeaderValue {
    let mut value = format!("max-age={}", hsts.max_age_seconds);
    if hsts.include_subdomains {
        value.push_str("; includeSubDomains");
    }
    if hsts.preload {
        value.push_str("; preload");
    }
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("max-age=0"))
}

fn compile_action(
    action: &Action,
    registries: &mut Registries,
    errors: &mut Vec<TableError>,
) -> Dispatch {
    match action {
        Action::Unavailable { reason } => Dispatch::Unavailable {
            reason: reason.clone(),
        },
        Action::Forward(backend) => {
            let balancer = registries.cursors.resolve(&backend.name);
            let endpoints = backend
                .endpoints
                .iter()
                .map(|addr| registries.pools.resolve(*addr, &backend.protocol))
                .collect::<Result<Vec<_>, _>>();
            match endpoints {
                Ok(endpoints) => {
                    Dispatch::Forward(Upstream::new(backend.name.clone(), balancer, endpoints))
                }
                Err(err) => {
                    let error = TableError::InvalidUpstreamTls {
                        backend: backend.name.clone(),
                        reason: err.to_string(),
                    };
                    if !errors.contains(&error) {
                        errors.push(error);
                    }
                    Dispatch::Unavailable {
                        reason: format!("unusable upstream TLS settings: {err}"),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{
        Backend, HostPattern, PathKind, PathRule, Policy, RuleIndex, Source, VirtualHost,
    };

    fn table(endpoints: &[u16]) -> RouteTable {
        let backend = Backend {
            name: "default-app-80".into(),
            service: "app".into(),
            endpoints: endpoints
                .iter()
                .map(|port| std::net::SocketAddr::from(([127, 0, 0, 1], *port)))
                .collect(),
            protocol: Default::default(),
        };
        RouteTable {
            virtual_hosts: vec![Arc::new(VirtualHost {
                host: HostPattern::Exact("a.example".into()),
                regex_mode: false,
                routes: vec![Route {
                    path: PathRule {
                        kind: PathKind::Prefix,
                        path: "/".into(),
                    },
                    action: Action::Forward(backend),
                    policy: Policy::default(),
                    source: Source::default(),
                    index: RuleIndex::default(),
                }],
                default_backend: None,
            })],
            ..RouteTable::default()
        }
    }

    fn upstream(active: &Active) -> &Upstream {
        match active.entry(Target::Route { vhost: 0, route: 0 }) {
            Some(Entry {
                dispatch: Dispatch::Forward(upstream),
                ..
            }) => upstream,
            other => panic!("unexpected entry {other:?}"),
        }
    }

    #[test]
    fn first_publish_counts_even_when_empty_then_unchanged_is_skipped() {
        let handle = TableHandle::new();
        assert_eq!(handle.generation(), 0);
        assert!(matches!(
            handle.publish(RouteTable::default()),
            PublishOutcome::Published { generation: 1, .. }
        ));
        assert_eq!(
            handle.publish(RouteTable::default()),
            PublishOutcome::Unchanged
        );
        assert!(matches!(
            handle.publish(table(&[1])),
            PublishOutcome::Published { generation: 2, .. }
        ));
        assert_eq!(handle.generation(), 2);
    }

    #[test]
    fn endpoint_pools_are_shared_across_versions() {
        let handle = TableHandle::new();
        handle.publish(table(&[1, 2]));
        let old = handle.load();
        handle.publish(table(&[2, 3]));
        let new = handle.load();
        let old_two = &upstream(&old).endpoints()[1];
        let new_two = &upstream(&new).endpoints()[0];
        assert!(Arc::ptr_eq(old_two, new_two));
        assert_eq!(old.generation, 1, "a loaded version never changes");
    }

    #[test]
    fn unchanged_hosts_keep_their_compiled_routes_and_pools() {
        let handle = TableHandle::new();
        let first = table(&[1, 2]);
        handle.publish(first.clone());
        let before = handle.load();
        let mut second = first.clone();
        let mut other = VirtualHost::clone(&first.virtual_hosts[0]);
        other.host = HostPattern::Exact("b.example".into());
        second.virtual_hosts.push(Arc::new(other));
        handle.publish(second.clone());
        let after = handle.load();
        assert!(
            Arc::ptr_eq(&before.routes[0], &after.routes[0]),
            "a.example is unchanged"
        );
        // The reused entries still hold the pools the registry hands out.
        let pool = &upstream(&after).endpoints()[0];
        let b = match after.entry(Target::Route { vhost: 1, route: 0 }) {
            Some(Entry {
                dispatch: Dispatch::Forward(upstream),
                ..
            }) => upstream,
            other => panic!("unexpected entry {other:?}"),
        };
        assert!(Arc::ptr_eq(pool, &b.endpoints()[0]));
        // Two more versions, then a change of a.example's endpoints: the pool of port 2
        // has been kept alive all along.
        let mut third = second.clone();
        third.virtual_hosts.pop();
        handle.publish(third);
        handle.publish(second);
        handle.publish(table(&[2, 3]));
        let changed = handle.load();
        assert!(!Arc::ptr_eq(&after.routes[0], &changed.routes[0]));
        let old_two = &upstream(&before).endpoints()[1];
        assert!(Arc::ptr_eq(old_two, &upstream(&changed).endpoints()[0]));
    }

    #[test]
    fn hsts_values() {
        assert_eq!(
            hsts_value(&Hsts::default()),
            "max-age=31536000; includeSubDomains"
        );
        let all = Hsts {
            max_age_seconds: 5,
            include_subdomains: true,
            preload: true,
        };
        assert_eq!(hsts_value(&all), "max-age=5; includeSubDomains; preload");
        let bare = Hsts {
            max_age_seconds: 0,
            include_subdomains: false,
            preload: false,
        };
        assert_eq!(hsts_value(&bare), "max-age=0");
    }

    #[test]
    fn entries_out_of_range_are_none() {
        let active = Active::default();
        assert!(active.entry(Target::Route { vhost: 3, route: 0 }).is_none());
        assert!(active.entry(Target::HostDefault { vhost: 0 }).is_none());
        assert!(active.entry(Target::ListenerDefault).is_none());
    }
}
