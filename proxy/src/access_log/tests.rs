//! Access log lines: field order, absent values, escaping, JSON, and the writer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

use prometheus_client::registry::Registry;

use super::*;
use crate::metrics::{ProxyMetrics, RouteLabels};

fn route() -> Arc<RouteSeries> {
    let metrics = ProxyMetrics::new(&mut Registry::default());
    let labels = RouteLabels {
        namespace: Arc::from("shop"),
        ingress: Arc::from("front"),
        service: Arc::from("cart"),
    };
    Arc::new(metrics.series(labels, Arc::from("shop-cart-80")))
}

/// A proxied `GET` at 2026-11-22 14:10:41.250 UTC.
fn proxied() -> Record {
    Record {
        remote_addr: "192.0.2.7:51000"
            .parse()
            .unwrap_or(([0, 0, 0, 0], 0).into()),
        time: UNIX_EPOCH + Duration::from_millis(1_795_356_641_250),
        method: Method::GET,
        uri: Uri::from_static("/cart/items?page=2"),
        version: Version::HTTP_11,
        status: 200,
        bytes_sent: 1234,
        referer: Some(HeaderValue::from_static("https://shop.example/")),
        user_agent: Some(HeaderValue::from_static("curl/8.5.0")),
        request_length: 87,
        request_time: Duration::from_millis(1503),
        route: Some(route()),
        upstream_addr: Some(([10, 1, 2, 3], 8080).into()),
        upstream_status: Some(200),
        upstream_response_time: Some(Duration::from_millis(1500)),
        upstream_response_length: Some(1234),
        request_id: HeaderValue::from_static("0123abcd"),
    }
}

/// A request that matched nothing.
fn unmatched() -> Record {
    Record {
        status: 404,
        bytes_sent: 13,
        referer: None,
        user_agent: None,
        route: None,
        upstream_addr: None,
        upstream_status: None,
        upstream_response_time: None,
        upstream_response_length: None,
        ..proxied()
    }
}

fn text(record: &Record) -> String {
    let mut line = String::new();
    text_line(record, &mut line);
    line
}

fn json(record: &Record) -> serde_json::Value {
    let mut line = String::new();
    json_line(record, &mut line);
    assert!(!line.contains('\n'));
    serde_json::from_str(&line).unwrap_or_default()
}

#[test]
fn text_follows_upstreaminfo() {
    assert_eq!(
        text(&proxied()),
        "192.0.2.7 - - [22/Nov/2026:14:10:41 +0000] \"GET /cart/items?page=2 HTTP/1.1\" 200 1234 \
         \"https://shop.example/\" \"curl/8.5.0\" 87 1.503 [shop-cart-80] [] 10.1.2.3:8080 1234 \
         1.500 200 0123abcd"
    );
}

#[test]
fn absent_values_are_dashes() {
    assert_eq!(
        text(&unmatched()),
        "192.0.2.7 - - [22/Nov/2026:14:10:41 +0000] \"GET /cart/items?page=2 HTTP/1.1\" 404 13 \
         \"-\" \"-\" 87 1.503 [-] [] - - - - 0123abcd"
    );
}

#[test]
fn hostile_values_cannot_forge_a_line() {
    let record = Record {
        user_agent: HeaderValue::from_bytes(b"x\" 200 \\ \xff\tend").ok(),
        referer: HeaderValue::from_bytes(b"\"").ok(),
        ..proxied()
    };
    let line = text(&record);
    assert!(
        line.contains(r#""\x22" "x\x22 200 \x5C \xFF\x09end""#),
        "{line}"
    );
    assert_eq!(line.matches('"').count(), 6, "{line}");
    assert!(!line.contains('\n') && !line.contains('\r'));
}

#[test]
fn json_names_every_field() {
    let value = json(&proxied());
    let expected = serde_json::json!({
        "remote_addr": "192.0.2.7",
        "time": "2026-11-22T14:10:41.250Z",
        "method": "GET",
        "path": "/cart/items?page=2",
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes_sent": 1234,
        "referer": "https://shop.example/",
        "user_agent": "curl/8.5.0",
        "request_length": 87,
        "request_time": 1.503,
        "upstream_name": "shop-cart-80",
        "upstream_addr": "10.1.2.3:8080",
        "upstream_status": 200,
        "upstream_response_time": 1.5,
        "upstream_response_length": 1234,
        "request_id": "0123abcd",
        "namespace": "shop",
        "ingress": "front",
        "service": "cart",
    });
    assert_eq!(value, expected);
}

#[test]
fn json_absent_values_are_null_and_escapes_hold() {
    let record = Record {
        user_agent: HeaderValue::from_bytes(b"a\"b\\c\t\xff").ok(),
        ..unmatched()
    };
    let value = json(&record);
    assert_eq!(value["upstream_name"], serde_json::Value::Null);
    assert_eq!(value["upstream_status"], serde_json::Value::Null);
    assert_eq!(value["namespace"], serde_json::Value::Null);
    assert_eq!(value["referer"], serde_json::Value::Null);
    assert_eq!(value["user_agent"], "a\"b\\c\t\u{fffd}");
    assert_eq!(value["status"], 404);
}

/// A sink the test can read while the writer owns it.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
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

impl Shared {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn the_writer_writes_lines_within_its_interval() {
    let sink = Shared::default();
    let dropped = Counter::default();
    let log = AccessLog::start(AccessLogFormat::Text, sink.clone(), dropped.clone());
    let Ok(log) = log else {
        panic!("writer thread");
    };
    log.log(proxied());
    log.log(unmatched());
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.lines().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(sink.lines(), vec![text(&proxied()), text(&unmatched())]);
    log.close();
    assert_eq!(dropped.get(), 0);
}

#[test]
fn a_full_channel_drops_and_counts_and_close_flushes() {
    let sink = Shared::default();
    let dropped = Counter::default();
    let log = AccessLog::start_bounded(AccessLogFormat::Json, sink.clone(), dropped.clone(), 2);
    let Ok(log) = log else {
        panic!("writer thread");
    };
    // The writer wakes every 100 ms, so five lines at once overflow two slots (or
    // fewer are dropped when a tick falls in between: the counts must add up).
    for _ in 0..5 {
        log.log(unmatched());
    }
    log.close();
    let written = sink.lines();
    assert_eq!(written.len() as u64 + dropped.get(), 5);
    assert!(dropped.get() > 0 || written.len() == 5);
    for line in &written {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "{line}"
        );
    }
    log.log(unmatched());
    assert_eq!(
        sink.lines().len(),
        written.len(),
        "nothing is written after close"
    );
}

#[test]
fn off_logs_nothing() {
    let log = AccessLog::off();
    assert!(!log.is_on());
    log.log(proxied());
    log.flush();
    log.close();
    let started = AccessLog::start(AccessLogFormat::Off, Shared::default(), Counter::default());
    assert!(started.is_ok_and(|log| !log.is_on()));
}
