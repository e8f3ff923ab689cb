//! TLS metrics of the HTTPS listener: handshakes by version, failures by reason.

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use proxy::Telemetry;
use proxy::access_log::AccessLog;
use proxy::config::ProxyConfig;
use proxy::metrics::ProxyMetrics;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::harness::*;
use crate::pki::Ca;
use crate::support::*;

fn has_line(registry: &Registry, line: &str) -> bool {
    let mut text = String::new();
    encode(&mut text, registry).is_ok() && text.lines().any(|l| l == line)
}

#[tokio::test]
async fn handshakes_and_handshake_errors_are_counted() {
    let echo = EchoBackend::start("echo").await;
    let ca = Ca::new("test CA");
    let leaf = ca.leaf(&["a.example"]);
    let mut table = single(backend("default-echo-80", &[echo.addr]));
    table.tls = vec![binding(&["a.example"], certificate("a", &leaf))];
    let mut registry = Registry::default();
    let telemetry = Telemetry::new(ProxyMetrics::new(&mut registry), AccessLog::off());
    let proxies = Proxies::start_full(table, ProxyConfig::default(), telemetry).await;

    let client = Client::trusting(ca.roots());
    let stream = connect(proxies.https, Some("a.example"), client.config())
        .await
        .expect("handshake");
    drop(stream);
    let mut garbage = TcpStream::connect(proxies.https).await.expect("connect");
    garbage
        .write_all(b"GET / HTTP/1.1\r\nhost: a.example\r\n\r\n")
        .await
        .expect("write");

    within(async {
        while !(has_line(
            &registry,
            r#"wicket_tls_handshakes_total{version="TLSv1.3"} 1"#,
        ) && has_line(
            &registry,
            r#"wicket_tls_handshake_errors_total{reason="protocol"} 1"#,
        )) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(has_line(
        &registry,
        r#"wicket_tls_handshake_errors_total{reason="timeout"} 0"#
    ));
    drop(garbage);
    proxies.stop().await;
}
