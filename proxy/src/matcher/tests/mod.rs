//! Matcher tests: small `mk_*` builders and a `served` probe that names the backend.

mod hosts;
mod precedence;
mod regex_mode;
mod reuse;
mod spec;

use std::sync::Arc;

use super::{Matcher, TableError, Target};
use crate::table::{
    Action, Backend, Fallback, HostPattern, PathKind, PathRule, Policy, Route, RouteTable,
    RuleIndex, Source, VirtualHost,
};

use PathKind::{Exact, ImplementationSpecific, Prefix};

fn mk_backend(name: &str) -> Action {
    Action::Forward(Backend {
        name: name.to_owned(),
        service: name.to_owned(),
        endpoints: Vec::new(),
        protocol: Default::default(),
    })
}

/// A route of the default source at the default rule index.
fn mk_route(kind: PathKind, path: &str, backend: &str) -> Route {
    Route {
        path: PathRule {
            kind,
            path: path.to_owned(),
        },
        action: mk_backend(backend),
        policy: Policy::default(),
        source: Source::default(),
        index: RuleIndex::default(),
    }
}

fn mk_source(created: i64, namespace: &str, name: &str) -> Source {
    Source {
        created,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

fn from(source: &Source, route: Route) -> Route {
    Route {
        source: source.clone(),
        ..route
    }
}

fn mk_exact(host: &str) -> HostPattern {
    HostPattern::Exact(host.to_owned())
}

fn mk_wildcard(suffix: &str) -> HostPattern {
    HostPattern::Wildcard(suffix.to_owned())
}

/// A virtual host serving `routes`.
fn mk_host(host: HostPattern, routes: Vec<Route>) -> VirtualHost {
    VirtualHost {
        host,
        regex_mode: false,
        routes,
        default_backend: None,
    }
}

fn mk_regex_host(host: HostPattern, routes: Vec<Route>) -> VirtualHost {
    VirtualHost {
        regex_mode: true,
        ..mk_host(host, routes)
    }
}

fn with_default(vhost: VirtualHost, backend: &str) -> VirtualHost {
    VirtualHost {
        default_backend: Some(mk_fallback(backend)),
        ..vhost
    }
}

fn mk_fallback(backend: &str) -> Fallback {
    Fallback {
        action: mk_backend(backend),
        policy: Policy::default(),
        source: Source::default(),
    }
}

fn mk_table(virtual_hosts: Vec<VirtualHost>) -> RouteTable {
    RouteTable {
        virtual_hosts: virtual_hosts.into_iter().map(Arc::new).collect(),
        ..RouteTable::default()
    }
}

/// A table and its matcher, compiled without errors.
struct Compiled {
    table: RouteTable,
    matcher: Matcher,
}

impl Compiled {
    fn new(table: RouteTable) -> Self {
        let (matcher, errors) = Matcher::compile(&table);
        assert_eq!(errors, Vec::<TableError>::new());
        Compiled { table, matcher }
    }

    /// The backend name that serves `host` + `path`; `None` is the built-in 404.
    fn served(&self, host: &str, path: &str) -> Option<&str> {
        let action = match self.matcher.find(host, path)? {
            Target::Route { vhost, route } => {
                &self
                    .table
                    .virtual_hosts
                    .get(vhost)?
                    .routes
                    .get(route)?
                    .action
            }
            Target::HostDefault { vhost } => {
                &self
                    .table
                    .virtual_hosts
                    .get(vhost)?
                    .default_backend
                    .as_ref()?
                    .action
            }
            Target::ListenerDefault => &self.table.default_backend.as_ref()?.action,
        };
        match action {
            Action::Forward(backend) => Some(&backend.name),
            Action::Unavailable { reason } => Some(reason),
        }
    }
}

/// Shorthand: one host-less virtual host with `routes`.
fn any_host(routes: Vec<Route>) -> Compiled {
    Compiled::new(mk_table(vec![mk_host(HostPattern::Any, routes)]))
}
