//! Proxy settings: listen addresses, timeouts and limits. Plain data; never reads the environment.

use std::time::Duration;

/// Timeouts and limits of the data plane. The controller fills it from flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    /// A client must send a complete request head within this time (slowloris guard).
    pub header_read_timeout: Duration,
    /// Largest accepted request header section; above it the client gets 431.
    /// Values below 8 KiB are raised to 8 KiB for HTTP/1 (hyper's smallest read buffer).
    pub max_header_bytes: usize,
    /// Time allowed to open a TCP connection to an endpoint.
    pub connect_timeout: Duration,
    /// Time from sending a request upstream to receiving the response head (→ 504).
    pub response_timeout: Duration,
    /// Idle upstream connections older than this are closed.
    pub upstream_idle_timeout: Duration,
    /// Most idle connections kept per upstream endpoint.
    pub max_idle_per_endpoint: usize,
    /// Endpoints tried per request when connecting fails (the first try included).
    pub max_tries: usize,
    /// The port named in `308` redirects to HTTPS; `None` or 443 → no port in the URL.
    pub https_port_for_redirects: Option<u16>,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 32 * 1024,
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(60),
            upstream_idle_timeout: Duration::from_secs(60),
            max_idle_per_endpoint: 1024,
            max_tries: 3,
            https_port_for_redirects: None,
        }
    }
}
