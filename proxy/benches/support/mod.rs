//! Synthetic routing tables for the proxy benchmarks: `n` Ingresses of four shapes.
//!
//! ```text
//! Ingress i, by i % 10 (two paths each, so 2·n routes in all):
//!   0..=6  precise host   app-i.example.com       /  (Prefix), /api (Prefix)
//!   7      wildcard host  *.w-i.example.com       /  (Prefix), /static (Prefix)
//!   8      shared host    shared.example.com      /team-i (Prefix), /team-i/api (Exact)
//!                          → one long prefix list of n/5 paths merged from n/10 Ingresses
//!   9      regex host     re-i.example.com        /api/v[0-9]+/(.*), /assets/(.+)\.(css|js)
//! Service of Ingress i: svc-(i/5), three endpoints each (n/5 Services).
//! The first `tls_hosts` precise hosts have their own ECDSA certificate.
//! ```

// Each bench binary uses a different part of this module.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};

use proxy::table::{
    Action, Backend, Certificate, HostPattern, Hsts, PathKind, PathRule, Policy, Route, RouteTable,
    RuleIndex, Source, TlsBinding, UpstreamProtocol, VirtualHost,
};

/// The shapes of Ingress in the table, one per kind of lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Precise,
    Wildcard,
    SharedPrefix,
    Regex,
}

impl Shape {
    pub const ALL: [Shape; 4] = [
        Shape::Precise,
        Shape::Wildcard,
        Shape::SharedPrefix,
        Shape::Regex,
    ];

    /// Which shape Ingress `i` has.
    pub fn of(i: usize) -> Shape {
        match i % 10 {
            7 => Shape::Wildcard,
            8 => Shape::SharedPrefix,
            9 => Shape::Regex,
            _ => Shape::Precise,
        }
    }

    /// The benchmark name of lookups into this shape.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Precise => "precise_host",
            Shape::Wildcard => "wildcard_host",
            Shape::SharedPrefix => "long_prefix_list",
            Shape::Regex => "regex_host",
        }
    }

    /// An Ingress of this shape near the middle of `0..n` (`n` ≥ 10).
    pub fn pick(self, n: usize) -> usize {
        let decade = (n / 2) / 10 * 10;
        decade
            + match self {
                Shape::Precise => 3,
                Shape::Wildcard => 7,
                Shape::SharedPrefix => 8,
                Shape::Regex => 9,
            }
    }

    /// A request `(host, path)` that a route of Ingress `i` (of this shape) answers.
    pub fn request(self, i: usize) -> (String, String) {
        match self {
            Shape::Precise => (precise_host(i), "/api/users/42".to_owned()),
            Shape::Wildcard => (
                format!("tenant.w-{i}.example.com"),
                "/static/app.js".to_owned(),
            ),
            Shape::SharedPrefix => (
                "shared.example.com".to_owned(),
                format!("/team-{i}/api/v2/items"),
            ),
            Shape::Regex => (format!("re-{i}.example.com"), "/api/v2/users".to_owned()),
        }
    }
}

pub fn precise_host(i: usize) -> String {
    format!("app-{i}.example.com")
}

/// The table of `n` Ingresses, with `tls_hosts` certificates (see the module docs).
pub fn table(n: usize, tls_hosts: usize) -> RouteTable {
    let mut virtual_hosts = Vec::with_capacity(n);
    let mut shared = Vec::new();
    let mut tls = Vec::new();
    for i in 0..n {
        let source = Source {
            created: i64::try_from(i).unwrap_or(i64::MAX),
            namespace: "bench".to_owned(),
            name: format!("ing-{i}"),
        };
        let backend = backend(i / 5);
        let route = |index: u32, kind: PathKind, path: String, policy: Policy| Route {
            path: PathRule { kind, path },
            action: Action::Forward(backend.clone()),
            policy,
            source: source.clone(),
            index: RuleIndex {
                rule: 0,
                path: index,
            },
        };
        let plain = |host: HostPattern, routes: Vec<Route>, regex_mode: bool| VirtualHost {
            host,
            regex_mode,
            routes,
            default_backend: None,
        };
        match Shape::of(i) {
            Shape::Precise => {
                let secure = tls.len() < tls_hosts;
                let policy = Policy {
                    https_redirect: secure,
                    hsts: secure.then(Hsts::default),
                    ..Policy::default()
                };
                let host = precise_host(i);
                if secure {
                    tls.push(TlsBinding {
                        hosts: vec![HostPattern::Exact(host.clone())],
                        certificate: certificate(&host),
                    });
                }
                virtual_hosts.push(plain(
                    HostPattern::Exact(host),
                    vec![
                        route(0, PathKind::Prefix, "/".to_owned(), policy.clone()),
                        route(1, PathKind::Prefix, "/api".to_owned(), policy),
                    ],
                    false,
                ));
            }
            Shape::Wildcard => virtual_hosts.push(plain(
                HostPattern::Wildcard(format!("w-{i}.example.com")),
                vec![
                    route(0, PathKind::Prefix, "/".to_owned(), Policy::default()),
                    route(1, PathKind::Prefix, "/static".to_owned(), Policy::default()),
                ],
                false,
            )),
            Shape::SharedPrefix => {
                shared.push(route(
                    0,
                    PathKind::Prefix,
                    format!("/team-{i}"),
                    Policy::default(),
                ));
                shared.push(route(
                    1,
                    PathKind::Exact,
                    format!("/team-{i}/api"),
                    Policy::default(),
                ));
            }
            Shape::Regex => {
                let rewrite = Policy {
                    rewrite_target: Some("/$1".to_owned()),
                    ..Policy::default()
                };
                virtual_hosts.push(plain(
                    HostPattern::Exact(format!("re-{i}.example.com")),
                    vec![
                        route(
                            0,
                            PathKind::ImplementationSpecific,
                            "/api/v[0-9]+/(.*)".to_owned(),
                            rewrite.clone(),
                        ),
                        route(
                            1,
                            PathKind::ImplementationSpecific,
                            r"/assets/(.+)\.(css|js)".to_owned(),
                            rewrite,
                        ),
                    ],
                    true,
                ));
            }
        }
    }
    if !shared.is_empty() {
        virtual_hosts.push(VirtualHost {
            host: HostPattern::Exact("shared.example.com".to_owned()),
            regex_mode: false,
            routes: shared,
            default_backend: None,
        });
    }
    RouteTable {
        virtual_hosts: virtual_hosts.into_iter().map(std::sync::Arc::new).collect(),
        default_backend: None,
        tls,
        default_certificate: None,
    }
}

/// Service `s`: three endpoints in 10.0.0.0/8.
fn backend(s: usize) -> Backend {
    let [_, _, b, c] = u32::try_from(s).unwrap_or(u32::MAX).to_be_bytes();
    let endpoints = (1..=3)
        .map(|d| SocketAddr::from((Ipv4Addr::new(10, b, c, d), 8080)))
        .collect();
    Backend {
        name: format!("bench-svc-{s}-80"),
        service: format!("svc-{s}"),
        endpoints,
        protocol: UpstreamProtocol::Http,
    }
}

/// A self-signed ECDSA P-256 certificate for `host`.
fn certificate(host: &str) -> Certificate {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key pair");
    let params = rcgen::CertificateParams::new(vec![host.to_owned()]).expect("parameters");
    let cert = params.self_signed(&key).expect("certificate");
    Certificate {
        source: format!("bench/tls-{host}"),
        chain_pem: cert.pem().into_bytes(),
        key_pem: key.serialize_pem().into_bytes(),
    }
}
