use proxy::table::{
    Backend, Certificate, Hsts, PathRule, RuleIndex, Source, TlsBinding, UpstreamTls,
};
use serde_json::json;

use super::*;

fn source(name: &str) -> Source {
    Source {
        created: 0,
        namespace: "default".to_owned(),
        name: name.to_owned(),
    }
}

fn certificate(source: &str) -> Certificate {
    Certificate {
        source: source.to_owned(),
        chain_pem: b"chain".to_vec(),
        key_pem: b"SECRET-KEY-MATERIAL".to_vec(),
    }
}

fn table() -> RouteTable {
    let web = Action::Forward(Backend {
        name: "default-web-80".to_owned(),
        service: "web".to_owned(),
        endpoints: vec!["10.0.0.1:8080".parse().expect("addr")],
        protocol: UpstreamProtocol::Https(UpstreamTls::default()),
    });
    RouteTable {
        virtual_hosts: [
            VirtualHost {
                host: HostPattern::Exact("a.example.com".to_owned()),
                regex_mode: false,
                routes: vec![
                    Route {
                        path: PathRule {
                            kind: PathKind::Prefix,
                            path: "/".to_owned(),
                        },
                        action: web.clone(),
                        policy: Policy {
                            https_redirect: true,
                            hsts: Some(Hsts::default()),
                            ..Policy::default()
                        },
                        source: source("web"),
                        index: RuleIndex::default(),
                    },
                    Route {
                        path: PathRule {
                            kind: PathKind::Exact,
                            path: "/old".to_owned(),
                        },
                        action: Action::Unavailable {
                            reason: "service default/gone not found".to_owned(),
                        },
                        policy: Policy::default(),
                        source: source("old"),
                        index: RuleIndex { rule: 0, path: 1 },
                    },
                ],
                default_backend: None,
            },
            VirtualHost {
                host: HostPattern::Any,
                regex_mode: true,
                routes: vec![Route {
                    path: PathRule {
                        kind: PathKind::ImplementationSpecific,
                        path: "/api(/|$)(.*)".to_owned(),
                    },
                    action: web.clone(),
                    policy: Policy {
                        rewrite_target: Some("/$2".to_owned()),
                        ..Policy::default()
                    },
                    source: source("api"),
                    index: RuleIndex::default(),
                }],
                default_backend: Some(Fallback {
                    action: web,
                    policy: Policy::default(),
                    source: source("api"),
                }),
            },
        ]
        .into_iter()
        .map(std::sync::Arc::new)
        .collect(),
        default_backend: None,
        tls: vec![TlsBinding {
            hosts: vec![HostPattern::Wildcard("example.com".to_owned())],
            certificate: certificate("default/wild-tls"),
        }],
        default_certificate: None,
    }
}

#[test]
fn the_json_names_sources_backends_and_certificates_without_keys() {
    let view = serde_json::to_value(TableView::of(&table(), 7)).expect("json");
    let web = |source: &str| {
        json!({
            "backend": "default-web-80",
            "endpoints": ["10.0.0.1:8080"],
            "protocol": "HTTPS",
            "unavailable": null,
            "source": source,
        })
    };
    let mut api_route = json!({
        "path": "/api(/|$)(.*)",
        "type": "ImplementationSpecific",
        "policy": {"rewrite_target": "/$2", "app_root": null, "https_redirect": false, "hsts": null},
    });
    let mut root_route = json!({
        "path": "/",
        "type": "Prefix",
        "policy": {
            "rewrite_target": null,
            "app_root": null,
            "https_redirect": true,
            "hsts": "max-age=31536000; includeSubDomains",
        },
    });
    for (route, target) in [
        (&mut api_route, web("default/api")),
        (&mut root_route, web("default/web")),
    ] {
        if let (Some(route), Some(target)) = (route.as_object_mut(), target.as_object()) {
            route.extend(target.clone());
        }
    }
    let expected = json!({
        "generation": 7,
        "virtual_hosts": [
            {
                "host": "a.example.com",
                "regex_mode": false,
                "tls": "default/wild-tls",
                "routes": [
                    root_route,
                    {
                        "path": "/old",
                        "type": "Exact",
                        "backend": null,
                        "endpoints": [],
                        "protocol": null,
                        "unavailable": "service default/gone not found",
                        "source": "default/old",
                        "policy": {"rewrite_target": null, "app_root": null, "https_redirect": false, "hsts": null},
                    },
                ],
                "default_backend": null,
            },
            {
                "host": "*",
                "regex_mode": true,
                "tls": null,
                "routes": [api_route],
                "default_backend": web("default/api"),
            },
        ],
        "default_backend": null,
        "tls": [{"hosts": ["*.example.com"], "certificate": "default/wild-tls"}],
        "default_certificate": null,
    });
    assert_eq!(view, expected);
    assert!(!view.to_string().contains("SECRET-KEY-MATERIAL"));
}

#[test]
fn rows_list_every_route_and_default_backend() {
    let rows = TableView::of(&table(), 1).rows();
    let rows: Vec<Vec<&str>> = rows
        .iter()
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec![
                "a.example.com",
                "/",
                "Prefix",
                "default-web-80 (1 endpoint)",
                "default/wild-tls"
            ],
            vec![
                "a.example.com",
                "/old",
                "Exact",
                "503: service default/gone not found",
                "default/wild-tls"
            ],
            vec![
                "*",
                "/api(/|$)(.*)",
                "Regex",
                "default-web-80 (1 endpoint)",
                "-"
            ],
            vec!["*", "*", "default", "default-web-80 (1 endpoint)", "-"],
        ]
    );
}
