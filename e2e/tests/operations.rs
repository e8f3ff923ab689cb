//! Operating wicket: `/metrics` after a known mix of requests, the access log in both
//! formats, `/debug/routes`, graceful shutdown with a slow request and a WebSocket in
//! flight, and `wicket check` on good and broken manifests.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use e2e::binary::wicket_binary;
use e2e::client::{Body, empty, get_fresh, request};
use e2e::manifest::{
    CLASS, CONTROLLER, Ingress, PathType, Rule, backend_objects, documents, ingress_class, service,
};
use e2e::{Echo, Error, HttpClient, ManifestDir, Wicket, poll_until};
use futures_util::{SinkExt, StreamExt};
use http::{Method, StatusCode};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const HOST: &str = "ops.example";
const WAIT: Duration = Duration::from_secs(20);

/// A port on loopback where nothing listens (bound, then released).
fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr")
}

/// `ops.example`: `/app` → a live echo, `/dead` → an endpoint that refuses connections
/// (502), `/empty` → a Service without endpoints (503); anything else is unmatched (404).
fn manifests(dir: &ManifestDir, app: &Echo, dead: SocketAddr) {
    let mut objects = vec![ingress_class(CLASS, CONTROLLER), service("empty")];
    objects.extend(backend_objects("app", &[app.addr()]));
    objects.extend(backend_objects("dead", &[dead]));
    objects.push(
        Ingress::new("ops")
            .rule(
                Rule::host(HOST)
                    .path("/app", PathType::Prefix, "app")
                    .path("/dead", PathType::Prefix, "dead")
                    .path("/empty", PathType::Prefix, "empty"),
            )
            .to_value(),
    );
    dir.write("all", &documents(&objects))
        .expect("write manifests");
}

async fn start(dir: &ManifestDir, extra: &[&str]) -> Wicket {
    let mut args: Vec<OsString> = vec!["serve".into(), "--manifests".into()];
    args.push(dir.path().into());
    args.extend(extra.iter().map(OsString::from));
    Wicket::start_with(&args).await.expect("wicket starts")
}

async fn admin_get(wicket: &Wicket, path: &str) -> e2e::Reply {
    let admin = wicket.admin_addr();
    get_fresh(admin, &admin.to_string(), path)
        .await
        .expect("admin answers")
}

/// Waits until `/debug/routes` shows the three routes of `ops.example` and returns the JSON.
async fn routes_published(wicket: &Wicket) -> Value {
    poll_until(WAIT, "the ops.example routes to be published", async || {
        let reply = admin_get(wicket, "/debug/routes").await;
        let json: Value = serde_json::from_slice(&reply.body).map_err(|e| e.to_string())?;
        let routes = json["virtual_hosts"]
            .as_array()
            .and_then(|hosts| hosts.iter().find(|h| h["host"] == HOST))
            .and_then(|h| h["routes"].as_array())
            .map_or(0, Vec::len);
        if routes == 3 {
            Ok(json)
        } else {
            Err(json.to_string())
        }
    })
    .await
    .expect("routes published")
}

async fn send(client: &HttpClient, proxy: SocketAddr, method: Method, path: &str, agent: &str) {
    let request = request(method, proxy, HOST, path)
        .header(http::header::USER_AGENT, agent)
        .body::<Body>(empty());
    client
        .fetch(request, Duration::from_secs(10))
        .await
        .expect("the proxy answers");
}

/// One sample per `name{labels}` of the exposition, parsed by a Prometheus text parser;
/// every line that is not a comment must parse as a sample.
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        assert!(
            matches!(
                prometheus_parse::LineInfo::parse(line),
                prometheus_parse::LineInfo::Sample { .. }
            ),
            "not a sample line: {line:?}"
        );
    }
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("the exposition parses");
    let mut samples = BTreeMap::new();
    for sample in scrape.samples {
        let mut labels: Vec<(String, String)> = sample
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        labels.sort();
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        let value = match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(buckets) => {
                buckets.iter().map(|b| b.count).fold(0.0, f64::max)
            }
            prometheus_parse::Value::Summary(_) => f64::NAN,
        };
        samples.insert(format!("{}{{{}}}", sample.metric, labels.join(",")), value);
    }
    samples
}

fn route_labels(service: &str, method: &str, class: &str) -> String {
    let ingress = if service.is_empty() { "" } else { "ops" };
    let namespace = if service.is_empty() { "" } else { "default" };
    format!(
        "wicket_requests_total{{ingress={ingress:?},method={method:?},namespace={namespace:?},service={service:?},status_class={class:?}}}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_match_a_known_mix_of_requests_and_debug_routes_shows_the_table() {
    let app = Echo::start("app").await.expect("echo");
    let dead = closed_port();
    let dir = ManifestDir::new().expect("dir");
    manifests(&dir, &app, dead);
    let wicket = start(&dir, &["--access-log-format", "off"]).await;

    let routes = routes_published(&wicket).await;
    let host = routes["virtual_hosts"]
        .as_array()
        .and_then(|hosts| hosts.iter().find(|h| h["host"] == HOST))
        .cloned()
        .unwrap_or_default();
    let by_path: BTreeMap<String, (Value, Value, Value)> = host["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["path"].as_str().unwrap_or_default().to_owned(),
                (
                    r["backend"].clone(),
                    r["endpoints"].clone(),
                    r["source"].clone(),
                ),
            )
        })
        .collect();
    let app_endpoint = app.addr().to_string();
    let dead_endpoint = dead.to_string();
    assert_eq!(
        by_path.get("/app"),
        Some(&(
            "default-app-80".into(),
            serde_json::json!([app_endpoint]),
            "default/ops".into()
        ))
    );
    assert_eq!(
        by_path.get("/dead"),
        Some(&(
            "default-dead-80".into(),
            serde_json::json!([dead_endpoint]),
            "default/ops".into()
        ))
    );
    assert_eq!(
        by_path.get("/empty").map(|r| &r.2),
        Some(&"default/ops".into())
    );
    assert_eq!(host["tls"], Value::Null);

    let client = HttpClient::new();
    let proxy = wicket.http_addr();
    for _ in 0..3 {
        send(&client, proxy, Method::GET, "/app/x?q=1", "mix").await;
    }
    send(&client, proxy, Method::POST, "/app", "mix").await;
    for _ in 0..2 {
        send(&client, proxy, Method::GET, "/nothing/here", "mix").await;
    }
    send(&client, proxy, Method::GET, "/dead", "mix").await;
    send(&client, proxy, Method::GET, "/empty", "mix").await;

    let expected: BTreeMap<String, f64> = [
        (route_labels("app", "GET", "2xx"), 3.0),
        (route_labels("app", "POST", "2xx"), 1.0),
        (route_labels("", "GET", "4xx"), 2.0),
        (route_labels("dead", "GET", "5xx"), 1.0),
        (route_labels("empty", "GET", "5xx"), 1.0),
        (
            "wicket_request_duration_seconds_count{ingress=\"ops\",namespace=\"default\",service=\"app\"}".to_owned(),
            4.0,
        ),
        ("wicket_table_publishes_total{}".to_owned(), 1.0),
        ("wicket_table_routes{}".to_owned(), 3.0),
        ("wicket_table_hosts{}".to_owned(), 1.0),
        ("wicket_table_endpoints{}".to_owned(), 2.0),
        ("wicket_table_build_duration_seconds_count{}".to_owned(), 1.0),
    ]
    .into();
    let (samples, text) = poll_until(WAIT, "the scraped values to match", async || {
        let reply = admin_get(&wicket, "/metrics").await;
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        let samples = parse_exposition(&text);
        let requests: BTreeMap<&String, &f64> = samples
            .iter()
            .filter(|(k, _)| k.starts_with("wicket_requests_total"))
            .collect();
        let expected_requests: BTreeMap<&String, &f64> = expected
            .iter()
            .filter(|(k, _)| k.starts_with("wicket_requests_total"))
            .collect();
        let matches = requests == expected_requests
            && expected.iter().all(|(k, v)| samples.get(k) == Some(v));
        if matches {
            Ok((samples, text))
        } else {
            Err(format!("{requests:#?}\n{text}"))
        }
    })
    .await
    .expect("metrics");
    let reply = admin_get(&wicket, "/metrics").await;
    assert_eq!(
        reply.content_type(),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(
        samples
            .keys()
            .any(|k| k.starts_with("wicket_upstream_connect_errors_total")),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    for name in samples.keys() {
        assert!(name.starts_with("wicket_"), "{name}");
        assert!(
            !name.contains("127.0.0.1"),
            "no client address in labels: {name}"
        );
        assert!(!name.contains("/app"), "no raw path in labels: {name}");
    }

    let logs = wicket.logs().lines();
    let position = |needle: &str| logs.iter().position(|l| l.contains(needle));
    let starting = position("wicket starting").expect("a starting line");
    assert!(
        logs.get(starting).is_some_and(|l| l.contains("version=")
            && l.contains("source=manifests")
            && l.contains("class=wicket")),
        "{logs:#?}"
    );
    let listening = position("listening").expect("a listening line");
    let published = position("table published").expect("a published line");
    assert!(starting < listening && listening < published, "{logs:#?}");
}

/// The access log lines wicket wrote that contain `needle`.
async fn access_lines(wicket: &Wicket, needle: &str, count: usize) -> Vec<String> {
    poll_until(WAIT, "access log lines", async || {
        let lines: Vec<String> = wicket
            .stdout()
            .lines()
            .into_iter()
            .filter(|l| l.contains(needle))
            .collect();
        if lines.len() >= count {
            Ok(lines)
        } else {
            Err(wicket.stdout().text())
        }
    })
    .await
    .expect("access log")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_access_log_describes_proxied_unmatched_and_failed_requests() {
    let app = Echo::start("app").await.expect("echo");
    let dead = closed_port();
    let dir = ManifestDir::new().expect("dir");
    manifests(&dir, &app, dead);
    let wicket = start(&dir, &["--access-log-format", "json"]).await;
    routes_published(&wicket).await;
    let client = HttpClient::new();
    let proxy = wicket.http_addr();
    send(&client, proxy, Method::GET, "/app/one?x=1", "json-agent").await;
    send(&client, proxy, Method::GET, "/unmatched", "json-agent").await;
    send(&client, proxy, Method::GET, "/dead", "json-agent").await;

    let lines = access_lines(&wicket, "json-agent", 3).await;
    let records: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("each access log line is JSON"))
        .collect();
    let by_path = |path: &str| {
        records
            .iter()
            .find(|r| r["path"] == path)
            .cloned()
            .unwrap_or_else(|| panic!("no line for {path}: {lines:#?}"))
    };
    let proxied = by_path("/app/one?x=1");
    for (field, value) in [
        ("remote_addr", Value::from("127.0.0.1")),
        ("method", "GET".into()),
        ("protocol", "HTTP/1.1".into()),
        ("status", 200.into()),
        ("user_agent", "json-agent".into()),
        ("upstream_name", "default-app-80".into()),
        ("upstream_addr", app.addr().to_string().into()),
        ("upstream_status", 200.into()),
        ("namespace", "default".into()),
        ("ingress", "ops".into()),
        ("service", "app".into()),
    ] {
        assert_eq!(proxied[field], value, "{field} of {proxied}");
    }
    assert!(
        proxied["bytes_sent"].as_u64().is_some_and(|n| n > 0),
        "{proxied}"
    );
    assert!(proxied["request_time"].is_number(), "{proxied}");
    assert!(proxied["upstream_response_time"].is_number(), "{proxied}");
    assert!(
        proxied["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{proxied}"
    );

    let unmatched = by_path("/unmatched");
    assert_eq!(unmatched["status"], 404, "{unmatched}");
    for field in [
        "upstream_name",
        "upstream_addr",
        "upstream_status",
        "ingress",
        "service",
    ] {
        assert_eq!(unmatched[field], Value::Null, "{field} of {unmatched}");
    }

    let failed = by_path("/dead");
    assert_eq!(failed["status"], 502, "{failed}");
    assert_eq!(failed["upstream_name"], "default-dead-80", "{failed}");
    assert_eq!(failed["service"], "dead", "{failed}");
    assert_eq!(failed["upstream_status"], Value::Null, "{failed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_access_log_follows_the_ingress_nginx_layout() {
    let app = Echo::start("app").await.expect("echo");
    let dead = closed_port();
    let dir = ManifestDir::new().expect("dir");
    manifests(&dir, &app, dead);
    let wicket = start(&dir, &[]).await;
    routes_published(&wicket).await;
    let client = HttpClient::new();
    let proxy = wicket.http_addr();
    send(&client, proxy, Method::GET, "/app/two", "text-agent").await;
    send(&client, proxy, Method::GET, "/unmatched", "text-agent").await;
    send(&client, proxy, Method::GET, "/dead", "text-agent").await;

    let lines = access_lines(&wicket, "text-agent", 3).await;
    let line = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .cloned()
            .unwrap_or_else(|| panic!("no line with {needle}: {lines:#?}"))
    };
    let proxied = line("\"GET /app/two HTTP/1.1\"");
    assert!(proxied.starts_with("127.0.0.1 - - ["), "{proxied}");
    assert!(
        proxied.contains("\"GET /app/two HTTP/1.1\" 200 "),
        "{proxied}"
    );
    assert!(proxied.contains("\"-\" \"text-agent\" "), "{proxied}");
    let upstream = format!("[default-app-80] [] {} ", app.addr());
    assert!(proxied.contains(&upstream), "{proxied}");
    let unmatched = line("\"GET /unmatched HTTP/1.1\"");
    assert!(unmatched.contains("\" 404 "), "{unmatched}");
    assert!(unmatched.contains(" [-] [] - - - - "), "{unmatched}");
    let failed = line("\"GET /dead HTTP/1.1\"");
    assert!(failed.contains("\" 502 "), "{failed}");
    assert!(failed.contains("[default-dead-80] [] "), "{failed}");
    assert!(
        !wicket
            .stdout()
            .lines()
            .iter()
            .any(|l| l.contains("listening")),
        "application logs stay off stdout"
    );
}

/// Opens a WebSocket to `/app` through the proxy and checks one echo.
async fn open_websocket(proxy: SocketAddr) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let request = format!("ws://{HOST}/app/socket")
        .into_client_request()
        .expect("upgrade request");
    let stream = TcpStream::connect(proxy).await.expect("connect");
    let (mut socket, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("upgrade");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    exchange(&mut socket, "before SIGTERM").await;
    socket
}

async fn exchange(socket: &mut tokio_tungstenite::WebSocketStream<TcpStream>, text: &str) {
    socket.send(Message::text(text)).await.expect("send");
    loop {
        match tokio::time::timeout(WAIT, socket.next()).await {
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(reply))) => {
                assert_eq!(reply, Message::text(text));
                return;
            }
            other => panic!("no echo of {text:?}: {other:?}"),
        }
    }
}

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_a_slow_request_and_a_websocket_then_exits_0() {
    let app = Echo::start("app").await.expect("echo");
    let dir = ManifestDir::new().expect("dir");
    manifests(&dir, &app, closed_port());
    let mut wicket = start(&dir, &["--shutdown-delay", "1s", "--shutdown-grace", "30s"]).await;
    routes_published(&wicket).await;
    let proxy = wicket.http_addr();

    let mut socket = open_websocket(proxy).await;
    let slow =
        tokio::spawn(async move { get_fresh(proxy, HOST, "/app/slow?echo-delay-ms=4000").await });
    // Both connections are open at the proxy before the signal: the WebSocket's tunnel
    // (which has already proved itself with an exchange) and the slow request's.
    poll_until(
        WAIT,
        "the WebSocket and the slow request's connection to be open",
        async || {
            let reply = admin_get(&wicket, "/metrics").await;
            let text = String::from_utf8_lossy(&reply.body).into_owned();
            match sample(&text, "wicket_open_connections{listener=\"http\"}") {
                Some(2.0) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
    .expect("connections open");

    wicket.sigterm().expect("SIGTERM");
    poll_until(WAIT, "/readyz to fail", async || {
        let reply = admin_get(&wicket, "/readyz").await;
        if reply.status == StatusCode::SERVICE_UNAVAILABLE {
            Ok(())
        } else {
            Err(reply.describe())
        }
    })
    .await
    .expect("not ready");
    poll_until(
        WAIT,
        "new connections to be refused",
        async || match TcpStream::connect(proxy).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(()),
            other => Err(format!("{other:?}")),
        },
    )
    .await
    .expect("listener closed");

    // The upgraded connection still works after the listener closed.
    exchange(&mut socket, "after the listener closed").await;
    socket.close(None).await.expect("close");
    drop(socket);
    let reply = slow
        .await
        .expect("join")
        .expect("the slow request completes");
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.describe());
    assert_eq!(reply.echo().expect("echo").path, "/app/slow");

    let status = wicket.wait_exit(WAIT).await.expect("exit");
    assert_eq!(status.code(), Some(0), "{}", wicket.logs().text());
    let complete = wicket
        .logs()
        .find(|l| l.contains("shutdown complete"))
        .unwrap_or_else(|| panic!("{}", wicket.logs().text()));
    // The slow request and the WebSocket at least (a probe connection accepted during the
    // delay may add one).
    let drained: Option<u64> = complete
        .split_whitespace()
        .find_map(|t| t.strip_prefix("drained=")?.parse().ok());
    assert!(drained.is_some_and(|n| n >= 2), "{complete}");
    assert!(complete.ends_with(" cut=0"), "{complete}");
}

/// Runs `wicket check ARGS` from the workspace root: (exit code, stdout).
fn check(args: &[&str]) -> (Option<i32>, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(wicket_binary().expect("binary"))
        .arg("check")
        .args(args)
        .current_dir(root)
        .env_remove("RUST_LOG")
        .output()
        .expect("run wicket check");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn wicket_check_reports_exact_issues_and_exit_codes() -> Result<(), Error> {
    let (code, stdout) = check(&["examples/check/good"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "HOST              PATH      TYPE    BACKEND                     TLS",
            "shop.example.com  /         Prefix  shop-web-80 (2 endpoints)   shop/shop-tls",
            "shop.example.com  /api      Prefix  shop-api-http (1 endpoint)  shop/shop-tls",
            "shop.example.com  /healthz  Exact   shop-api-8080 (1 endpoint)  shop/shop-tls",
            "",
            "0 errors, 0 warnings; 3 routes on 1 host",
        ]
    );

    let (code, stdout) = check(&["examples/check/broken"]);
    assert_eq!(code, Some(1), "{stdout}");
    let issues: Vec<&str> = stdout.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(
        issues,
        [
            "examples/check/broken/syntax.yaml: Error document 1 (line 10): did not find expected ',' or '}' at line 18 column 1, while parsing a flow mapping at line 17 column 12",
            "examples/check/broken/regex.yaml: Error Ingress shop/search spec.rules[0].http.paths[0].path InvalidRegex: host \"search.example.com\" is in regex mode (use-regex or rewrite-target on one of its Ingresses) and path \"/q/(unclosed\" is not a valid regex: unclosed group; the path is ignored",
            "examples/check/broken/ingresses.yaml: Error Ingress shop/shop metadata.annotations[nginx.ingress.kubernetes.io/configuration-snippet] SnippetRefused: nginx.ingress.kubernetes.io/configuration-snippet is refused: snippets inject raw proxy configuration, which wicket does not have; the annotation is ignored",
            "examples/check/broken/ingresses.yaml: Error Ingress shop/shop spec.rules[0].http.paths[2].path InvalidPath: path \"relative/path\" must be an absolute path; the path is ignored",
            "examples/check/broken/ingresses.yaml: Warning Ingress shop/shop spec.rules[0].http.paths[1].backend MissingService: service shop/cart not found; answering 503",
        ]
    );
    assert!(
        stdout.ends_with("4 errors, 1 warning; 3 routes on 2 hosts\n"),
        "{stdout}"
    );

    let (code, stdout) = check(&["examples/check/missing"]);
    assert_eq!((code, stdout.as_str()), (Some(2), ""));
    Ok(())
}
