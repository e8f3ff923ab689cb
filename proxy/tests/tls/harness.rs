//! The proxy with both listeners (HTTP and HTTPS) on one table, and TLS clients.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use proxy::config::ProxyConfig;
use proxy::table::{Certificate, HostPattern, RouteTable, TlsBinding};
use proxy::{Drain, PublishOutcome, TableError, TableHandle, Telemetry};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::pki::Leaf;
use crate::support::{BoxError, Reply, within};

/// A running proxy serving one table on an HTTPS and an HTTP listener.
pub struct Proxies {
    pub https: SocketAddr,
    pub http: SocketAddr,
    pub handle: Arc<TableHandle>,
    /// Errors of the first publish.
    pub errors: Vec<TableError>,
    drain: Drain,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

impl Proxies {
    pub async fn start(table: RouteTable) -> Proxies {
        Proxies::start_with(table, ProxyConfig::default()).await
    }

    pub async fn start_with(table: RouteTable, config: ProxyConfig) -> Proxies {
        Proxies::start_full(table, config, Telemetry::disabled()).await
    }

    pub async fn start_full(
        table: RouteTable,
        config: ProxyConfig,
        telemetry: Telemetry,
    ) -> Proxies {
        let handle = Arc::new(TableHandle::new());
        let errors = publish(&handle, table);
        let config = Arc::new(config);
        let drain = Drain::new();
        let mut tasks = Vec::new();
        let mut addrs = Vec::new();
        for tls in [true, false] {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            addrs.push(listener.local_addr().expect("local addr"));
            let task = match tls {
                true => tokio::spawn(proxy::server::serve_https(
                    listener,
                    handle.clone(),
                    config.clone(),
                    telemetry.clone(),
                    drain.clone(),
                )),
                false => tokio::spawn(proxy::server::serve_http(
                    listener,
                    handle.clone(),
                    config.clone(),
                    telemetry.clone(),
                    drain.clone(),
                )),
            };
            tasks.push(task);
        }
        Proxies {
            https: addrs[0],
            http: addrs[1],
            handle,
            errors,
            drain,
            tasks,
        }
    }

    /// Publishes `table`; returns the table errors.
    pub fn publish(&self, table: RouteTable) -> Vec<TableError> {
        publish(&self.handle, table)
    }

    pub async fn stop(mut self) {
        self.drain.stop_accepting();
        for task in self.tasks.drain(..) {
            within(task).await.expect("join").expect("serve");
        }
        self.drain.wait(crate::support::DEADLINE).await;
    }
}

impl Drop for Proxies {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn publish(handle: &TableHandle, table: RouteTable) -> Vec<TableError> {
    match handle.publish(table) {
        PublishOutcome::Published { errors, .. } => errors,
        PublishOutcome::Unchanged => panic!("table unchanged"),
    }
}

// ---------------------------------------------------------------- table helpers

/// A certificate from a test leaf, named `default/<source>`.
pub fn certificate(source: &str, leaf: &Leaf) -> Certificate {
    Certificate {
        source: format!("default/{source}"),
        chain_pem: leaf.chain_pem.clone().into_bytes(),
        key_pem: leaf.key_pem.clone().into_bytes(),
    }
}

/// A binding of `hosts` (`*.x` → wildcard) to `certificate`.
pub fn binding(hosts: &[&str], certificate: Certificate) -> TlsBinding {
    TlsBinding {
        hosts: hosts.iter().map(|host| pattern(host)).collect(),
        certificate,
    }
}

pub fn pattern(host: &str) -> HostPattern {
    match host.strip_prefix("*.") {
        Some(suffix) => HostPattern::Wildcard(suffix.to_owned()),
        None => HostPattern::Exact(host.to_owned()),
    }
}

// ---------------------------------------------------------------- clients

/// Client settings for a test.
pub struct Client {
    /// `None` → accept any certificate (the test inspects it instead).
    pub roots: Option<RootCertStore>,
    pub alpn: Vec<Vec<u8>>,
    pub versions: Vec<&'static rustls::SupportedProtocolVersion>,
}

impl Default for Client {
    fn default() -> Self {
        Client {
            roots: None,
            alpn: vec![b"http/1.1".to_vec()],
            versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
        }
    }
}

impl Client {
    pub fn trusting(roots: RootCertStore) -> Client {
        Client {
            roots: Some(roots),
            ..Client::default()
        }
    }

    pub fn config(self) -> Arc<ClientConfig> {
        let provider = proxy::tls::provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.versions)
            .expect("versions");
        let mut config = match self.roots {
            Some(roots) => builder.with_root_certificates(roots).with_no_client_auth(),
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(proxy::tls::NoVerification::new(
                    provider,
                )))
                .with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn;
        Arc::new(config)
    }
}

/// Opens a TLS connection; `sni: None` sends no SNI (the name is an IP address).
pub async fn connect(
    addr: SocketAddr,
    sni: Option<&str>,
    config: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let name = match sni {
        Some(name) => ServerName::try_from(name.to_owned()).expect("dns name"),
        None => ServerName::IpAddress(addr.ip().into()),
    };
    let stream = TcpStream::connect(addr).await?;
    within(TlsConnector::from(config).connect(name, stream)).await
}

/// The leaf certificate a TLS connection presented.
pub fn peer_leaf(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .expect("a peer certificate")
        .clone()
        .into_owned()
}

/// The leaf served for `sni` (accepting any certificate).
pub async fn served_leaf(addr: SocketAddr, sni: Option<&str>) -> CertificateDer<'static> {
    let stream = connect(addr, sni, Client::default().config())
        .await
        .expect("handshake");
    peer_leaf(&stream)
}

/// An HTTP/1.1 client connection on `stream`.
pub async fn http1(
    stream: TlsStream<TcpStream>,
) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("http1 handshake");
    tokio::spawn(conn);
    sender
}

/// `GET path` with `Host: host` on an open HTTP/1.1 connection.
pub async fn get_on(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    host: &str,
    path: &str,
) -> Result<Reply, BoxError> {
    let req = Request::get(path)
        .header("host", host)
        .body(Empty::<Bytes>::new())?;
    within(async {
        let response = sender.send_request(req).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    })
    .await
}

/// `GET https://host/path` over a new TLS connection with SNI `host`.
pub async fn https_get(addr: SocketAddr, host: &str, path: &str) -> Reply {
    let stream = connect(addr, Some(host), Client::default().config())
        .await
        .expect("handshake");
    let mut sender = http1(stream).await;
    get_on(&mut sender, host, path).await.expect("request")
}

/// An HTTP/2 client connection on `stream`.
pub async fn http2<B>(stream: TlsStream<TcpStream>) -> hyper::client::conn::http2::SendRequest<B>
where
    B: hyper::body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("http2 handshake");
    tokio::spawn(conn);
    sender
}
