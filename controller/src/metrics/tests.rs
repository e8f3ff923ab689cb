use std::net::SocketAddr;

use prometheus_client::encoding::text::encode;
use proxy::table::{
    Backend, Fallback, HostPattern, PathKind, PathRule, Policy, Route, RuleIndex, Source,
    TlsBinding, UpstreamProtocol, VirtualHost,
};

use super::*;

/// A self-signed certificate for `host` expiring at `not_after` (Unix seconds).
fn certificate(source: &str, host: &str, not_after: i64) -> Certificate {
    let mut params = rcgen::CertificateParams::new(vec![host.to_owned()]).expect("params");
    params.not_after =
        rcgen::date_time_ymd(1970, 1, 1) + std::time::Duration::from_secs(not_after as u64);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    Certificate {
        source: source.to_owned(),
        chain_pem: cert.pem().into_bytes(),
        key_pem: key.serialize_pem().into_bytes(),
    }
}

fn forward(name: &str, endpoints: &[&str]) -> Action {
    Action::Forward(Backend {
        name: name.to_owned(),
        service: name.to_owned(),
        endpoints: endpoints
            .iter()
            .map(|e| e.parse::<SocketAddr>().expect("addr"))
            .collect(),
        protocol: UpstreamProtocol::Http,
    })
}

fn route(path: &str, action: Action) -> Route {
    Route {
        path: PathRule {
            kind: PathKind::Prefix,
            path: path.to_owned(),
        },
        action,
        policy: Policy::default(),
        source: Source::default(),
        index: RuleIndex::default(),
    }
}

fn table() -> RouteTable {
    RouteTable {
        virtual_hosts: [
            VirtualHost {
                host: HostPattern::Exact("a.example.com".to_owned()),
                regex_mode: false,
                routes: vec![
                    route(
                        "/",
                        forward("default-a-80", &["10.0.0.1:80", "10.0.0.2:80"]),
                    ),
                    route(
                        "/gone",
                        Action::Unavailable {
                            reason: "x".to_owned(),
                        },
                    ),
                ],
                default_backend: Some(Fallback {
                    action: forward("default-b-80", &["10.0.0.2:80", "10.0.0.3:80"]),
                    policy: Policy::default(),
                    source: Source::default(),
                }),
            },
            VirtualHost {
                host: HostPattern::Any,
                regex_mode: false,
                routes: vec![route("/x", forward("default-c-80", &[]))],
                default_backend: None,
            },
        ]
        .into_iter()
        .map(std::sync::Arc::new)
        .collect(),
        default_backend: Some(Fallback {
            action: forward("default-d-80", &["10.0.0.4:8080"]),
            policy: Policy::default(),
            source: Source::default(),
        }),
        tls: vec![TlsBinding {
            hosts: vec![HostPattern::Exact("a.example.com".to_owned())],
            certificate: certificate("default/a-tls", "a.example.com", 1_900_000_000),
        }],
        default_certificate: Some(certificate("kube-system/wild", "x.example", 2_000_000_000)),
    }
}

fn exposition(registry: &Registry) -> String {
    let mut text = String::new();
    encode(&mut text, registry).expect("encode");
    text
}

fn sample<'a>(text: &'a str, series: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
}

#[test]
fn counts_routes_hosts_and_distinct_endpoints() {
    assert_eq!(
        TableCounts::of(&table()),
        TableCounts {
            routes: 3,
            hosts: 2,
            endpoints: 4
        }
    );
    assert_eq!(
        TableCounts::of(&RouteTable::default()),
        TableCounts::default()
    );
}

#[test]
fn reads_the_leaf_not_after_of_every_certificate() {
    let found = not_after_by_secret(&table());
    let expected: BTreeMap<String, i64> = [
        ("default/a-tls".to_owned(), 1_900_000_000),
        ("kube-system/wild".to_owned(), 2_000_000_000),
    ]
    .into();
    assert_eq!(found, expected);
    let broken = Certificate {
        source: "default/broken".to_owned(),
        chain_pem: b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
        key_pem: Vec::new(),
    };
    assert_eq!(leaf_not_after(&broken), None);
}

#[test]
fn a_publish_sets_the_table_gauges_and_a_skip_counts_apart() {
    let mut registry = Registry::default();
    let metrics = ControllerMetrics::new(&mut registry, false);
    let published = PublishOutcome::Published {
        generation: 1,
        errors: Vec::new(),
    };
    let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    metrics.record_publish(&published, &table(), at);
    metrics.record_publish(&PublishOutcome::Unchanged, &table(), at);
    metrics.observe_build(Duration::from_millis(3));
    metrics.watch_event(MANIFEST_KIND);
    metrics.watch_event(MANIFEST_KIND);
    let text = exposition(&registry);
    for (series, value) in [
        ("wicket_table_publishes_total", "1"),
        ("wicket_table_publish_skipped_total", "1"),
        (
            "wicket_table_last_publish_timestamp_seconds",
            "1700000000.0",
        ),
        ("wicket_table_routes", "3"),
        ("wicket_table_hosts", "2"),
        ("wicket_table_endpoints", "4"),
        ("wicket_table_build_duration_seconds_count", "1"),
        ("wicket_watch_events_total{kind=\"manifest\"}", "2"),
        (
            "wicket_certificate_not_after_seconds{secret=\"default/a-tls\"}",
            "1900000000",
        ),
    ] {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    }
    assert!(!text.contains("wicket_leader"), "{text}");
}

#[test]
fn certificates_that_leave_the_table_lose_their_series() {
    let mut registry = Registry::default();
    let metrics = ControllerMetrics::new(&mut registry, true);
    let published = PublishOutcome::Published {
        generation: 1,
        errors: Vec::new(),
    };
    metrics.record_publish(&published, &table(), SystemTime::now());
    let mut smaller = table();
    smaller.tls.clear();
    metrics.record_publish(&published, &smaller, SystemTime::now());
    metrics.set_leader(true);
    let text = exposition(&registry);
    assert_eq!(
        sample(
            &text,
            "wicket_certificate_not_after_seconds{secret=\"default/a-tls\"}"
        ),
        None
    );
    assert!(
        sample(
            &text,
            "wicket_certificate_not_after_seconds{secret=\"kube-system/wild\"}"
        )
        .is_some()
    );
    assert_eq!(sample(&text, "wicket_leader"), Some("1"));
}
