//! Metrics and access log of proxied, unmatched and failed requests, read back from the
//! Prometheus exposition and the access log sink.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use proxy::Telemetry;
use proxy::access_log::{AccessLog, AccessLogFormat};
use proxy::config::ProxyConfig;
use proxy::metrics::ProxyMetrics;
use proxy::table::{Action, PathKind};

use crate::support::*;

/// An access log sink the test reads while the writer owns it.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// Samples of the registry's exposition, parsed by a Prometheus text parser:
/// `name{label="value",…}` (labels sorted) → value.
fn scrape(registry: &Registry) -> BTreeMap<String, f64> {
    let mut text = String::new();
    encode(&mut text, registry).expect("encode");
    let lines = text.lines().map(|line| Ok(line.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("the exposition parses");
    let mut samples = BTreeMap::new();
    for sample in scrape.samples {
        let value = match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => continue,
        };
        let mut labels: Vec<_> = sample.labels.iter().collect();
        labels.sort();
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        samples.insert(format!("{}{{{}}}", sample.metric, labels.join(",")), value);
    }
    samples
}

/// Polls `check` until it holds or the deadline passes.
async fn eventually(mut check: impl FnMut() -> bool) {
    within(async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

struct Setup {
    registry: Registry,
    sink: Sink,
    log: AccessLog,
    proxy: Proxy,
    app: EchoBackend,
}

/// `a.example`: `/` → app, `/dead` → a closed port, `/none` → an unresolvable backend.
async fn setup() -> Setup {
    setup_with(ProxyConfig::default()).await
}

async fn setup_with(config: ProxyConfig) -> Setup {
    let app = EchoBackend::start("app").await;
    let dead = dead_addr().await;
    let mut registry = Registry::default();
    let metrics = ProxyMetrics::new(&mut registry);
    let sink = Sink::default();
    let log = AccessLog::start(
        AccessLogFormat::Text,
        sink.clone(),
        metrics.access_log_dropped().clone(),
    )
    .expect("access log");
    let routes = vec![
        route(
            "/",
            PathKind::Prefix,
            backend("default-app-80", &[app.addr]),
        ),
        route(
            "/dead",
            PathKind::Prefix,
            backend("default-dead-80", &[dead]),
        ),
        route(
            "/none",
            PathKind::Prefix,
            Action::Unavailable {
                reason: "service default/none not found".into(),
            },
        ),
    ];
    let telemetry = Telemetry::new(metrics, log.clone());
    let proxy = Proxy::start_full(table(vec![vhost("a.example", routes)]), config, telemetry).await;
    Setup {
        registry,
        sink,
        log,
        proxy,
        app,
    }
}

#[tokio::test]
async fn counters_after_a_known_mix_of_requests() {
    let setup = setup().await;
    let addr = setup.proxy.addr;
    let mut app_bytes = 0;
    for _ in 0..3 {
        let reply = get(addr, "a.example", "/x").await;
        assert_eq!(reply.status, 200);
        app_bytes += reply.body.len();
    }
    for _ in 0..2 {
        assert_eq!(get(addr, "b.example", "/").await.status, 404);
    }
    assert_eq!(get(addr, "a.example", "/dead").await.status, 502);
    assert_eq!(get(addr, "a.example", "/none").await.status, 503);

    let requests = |samples: &BTreeMap<String, f64>| -> f64 {
        samples
            .iter()
            .filter(|(name, _)| name.starts_with("wicket_requests_total{"))
            .map(|(_, value)| value)
            .sum()
    };
    eventually(|| requests(&scrape(&setup.registry)) >= 7.0).await;
    let samples = scrape(&setup.registry);
    let labels = |ns: &str, ing: &str, svc: &str, class: &str| {
        format!(
            "wicket_requests_total{{ingress=\"{ing}\",method=\"GET\",namespace=\"{ns}\",service=\"{svc}\",status_class=\"{class}\"}}"
        )
    };
    let expected: BTreeMap<String, f64> = [
        (labels("default", "test", "app", "2xx"), 3.0),
        (labels("", "", "", "4xx"), 2.0),
        (labels("default", "test", "dead", "5xx"), 1.0),
        (labels("default", "test", "", "5xx"), 1.0),
    ]
    .into_iter()
    .collect();
    let requests_seen: BTreeMap<String, f64> = samples
        .iter()
        .filter(|(name, _)| name.starts_with("wicket_requests_total{"))
        .map(|(name, value)| (name.clone(), *value))
        .collect();
    assert_eq!(requests_seen, expected);

    let app = r#"ingress="test",namespace="default",service="app""#;
    assert_eq!(
        samples.get(&format!("wicket_response_bytes_total{{{app}}}")),
        Some(&(app_bytes as f64))
    );
    assert_eq!(
        samples.get(r#"wicket_upstream_connect_errors_total{reason="refused"}"#),
        Some(&1.0)
    );
    assert_eq!(
        samples.get(r#"wicket_upstream_retries_total{reason="refused"}"#),
        Some(&0.0)
    );
    assert_eq!(
        samples.get(r#"wicket_access_log_dropped_total{}"#),
        Some(&0.0)
    );
    let mut text = String::new();
    encode(&mut text, &setup.registry).expect("encode");
    for line in [
        r#"wicket_request_duration_seconds_count{namespace="default",ingress="test",service="app"} 3"#,
        r#"wicket_upstream_response_duration_seconds_count{namespace="default",ingress="test",service="app"} 3"#,
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    assert!(!text.contains("/x"), "no path in any label");
    // Every client connection was closed: the gauge returns to zero.
    let open = r#"wicket_open_connections{listener="http"}"#;
    eventually(|| scrape(&setup.registry).get(open) == Some(&0.0)).await;
    setup.proxy.stop().await;
    setup.log.close();
}

/// The fields of one upstreaminfo line.
#[derive(Debug)]
struct Line {
    request: String,
    status: String,
    upstream_name: String,
    upstream_addr: String,
    upstream_status: String,
    request_id: String,
}

fn parse(line: &str) -> Line {
    let re = regex::Regex::new(
        r#"^(\S+) - - \[([^\]]+)\] "([^"]*)" (\d+) (\d+) "([^"]*)" "([^"]*)" (\d+) (\d+\.\d{3}) \[([^\]]*)\] \[\] (\S+) (\S+) (\S+) (\S+) (\S+)$"#,
    )
    .expect("regex");
    let caps = re
        .captures(line)
        .unwrap_or_else(|| panic!("not upstreaminfo: {line}"));
    let field = |i: usize| caps.get(i).map_or("", |m| m.as_str()).to_owned();
    assert_eq!(field(1), "127.0.0.1");
    Line {
        request: field(3),
        status: field(4),
        upstream_name: field(10),
        upstream_addr: field(11),
        upstream_status: field(14),
        request_id: field(15),
    }
}

#[tokio::test]
async fn access_log_lines_for_proxied_unmatched_and_failed_requests() {
    let setup = setup().await;
    let addr = setup.proxy.addr;
    let ok = get(addr, "a.example", "/ok?q=1").await;
    let missing = get(addr, "b.example", "/missing").await;
    let failed = get(addr, "a.example", "/dead/x").await;
    let id = |reply: &Reply| {
        reply
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    eventually(|| {
        setup.log.flush();
        setup.sink.lines().len() >= 3
    })
    .await;
    let lines: Vec<Line> = setup.sink.lines().iter().map(|l| parse(l)).collect();
    let find = |request_id: &str| {
        lines
            .iter()
            .find(|line| line.request_id == request_id)
            .unwrap_or_else(|| panic!("no line for {request_id}: {lines:?}"))
    };

    let proxied = find(&id(&ok));
    assert_eq!(proxied.request, "GET /ok?q=1 HTTP/1.1");
    assert_eq!(proxied.status, "200");
    assert_eq!(proxied.upstream_name, "default-app-80");
    assert_eq!(proxied.upstream_addr, setup.app.addr.to_string());
    assert_eq!(proxied.upstream_status, "200");

    let unmatched = find(&id(&missing));
    assert_eq!(unmatched.status, "404");
    assert_eq!(unmatched.upstream_name, "-");
    assert_eq!(unmatched.upstream_addr, "-");
    assert_eq!(unmatched.upstream_status, "-");

    let bad_gateway = find(&id(&failed));
    assert_eq!(bad_gateway.request, "GET /dead/x HTTP/1.1");
    assert_eq!(bad_gateway.status, "502");
    assert_eq!(bad_gateway.upstream_name, "default-dead-80");
    assert_eq!(bad_gateway.upstream_status, "-");
    setup.proxy.stop().await;
    setup.log.close();
}

#[tokio::test]
async fn series_of_removed_routes_are_dropped() {
    // The series are pruned at the idle sweep's pace: every 100 ms here.
    let setup = setup_with(ProxyConfig {
        upstream_idle_timeout: Duration::from_millis(200),
        ..ProxyConfig::default()
    })
    .await;
    let addr = setup.proxy.addr;
    assert_eq!(get(addr, "a.example", "/x").await.status, 200);
    assert_eq!(get(addr, "a.example", "/dead").await.status, 502);
    let series_of = |samples: &BTreeMap<String, f64>, service: &str| -> usize {
        let label = format!("service=\"{service}\"");
        samples.keys().filter(|name| name.contains(&label)).count()
    };
    eventually(|| {
        let samples = scrape(&setup.registry);
        series_of(&samples, "app") > 0 && series_of(&samples, "dead") > 0
    })
    .await;

    // `/` (Service app) leaves the table; `/dead` stays.
    let dead = dead_addr().await;
    setup.proxy.publish(table(vec![vhost(
        "a.example",
        vec![route(
            "/dead",
            PathKind::Prefix,
            backend("default-dead-80", &[dead]),
        )],
    )]));
    eventually(|| series_of(&scrape(&setup.registry), "app") == 0).await;
    let samples = scrape(&setup.registry);
    assert!(series_of(&samples, "dead") > 0, "{samples:#?}");
}
