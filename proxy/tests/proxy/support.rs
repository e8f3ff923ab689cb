//! Test harness: the proxy on 127.0.0.1:0 with a hand-built table, echo backends, clients.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use proxy::config::ProxyConfig;
use proxy::table::{
    Action, Backend, HostPattern, PathKind, PathRule, Policy, Route, RouteTable, RuleIndex, Source,
    VirtualHost,
};
use proxy::{Drain, DrainReport, PublishOutcome, TableHandle, Telemetry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

/// Longest any single test step may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Fails the test when `fut` does not finish within [`DEADLINE`].
pub async fn within<T>(fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(value) => value,
        Err(_) => panic!("test step took longer than {DEADLINE:?}"),
    }
}

// ---------------------------------------------------------------- proxy

/// A running proxy.
pub struct Proxy {
    pub addr: SocketAddr,
    pub handle: Arc<TableHandle>,
    pub drain: Drain,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Proxy {
    pub async fn start(table: RouteTable) -> Proxy {
        Proxy::start_with(table, ProxyConfig::default()).await
    }

    pub async fn start_with(table: RouteTable, config: ProxyConfig) -> Proxy {
        Proxy::start_full(table, config, Telemetry::disabled()).await
    }

    pub async fn start_full(table: RouteTable, config: ProxyConfig, telemetry: Telemetry) -> Proxy {
        let handle = Arc::new(TableHandle::new());
        assert!(matches!(
            handle.publish(table),
            PublishOutcome::Published { .. }
        ));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let drain = Drain::new();
        let task = tokio::spawn(proxy::server::serve_http(
            listener,
            handle.clone(),
            Arc::new(config),
            telemetry,
            drain.clone(),
        ));
        Proxy {
            addr,
            handle,
            drain,
            task: Some(task),
        }
    }

    pub fn publish(&self, table: RouteTable) {
        assert!(matches!(
            self.handle.publish(table),
            PublishOutcome::Published { .. }
        ));
    }

    /// Stops accepting and waits (up to [`DEADLINE`]) for the drain.
    pub async fn stop(self) -> DrainReport {
        self.stop_within(DEADLINE).await
    }

    /// Stops accepting, waits up to `grace` for the drain and cuts the rest.
    pub async fn stop_within(mut self, grace: Duration) -> DrainReport {
        self.drain.stop_accepting();
        if let Some(task) = self.task.take() {
            within(task).await.expect("join").expect("serve_http");
        }
        within(self.drain.wait(grace)).await
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

// ---------------------------------------------------------------- tables

/// A backend named `namespace-service-port`; the Service is the middle part.
pub fn backend(name: &str, endpoints: &[SocketAddr]) -> Action {
    let service = name.split('-').nth(1).unwrap_or(name);
    Action::Forward(Backend {
        name: name.to_owned(),
        service: service.to_owned(),
        endpoints: endpoints.to_vec(),
        protocol: Default::default(),
    })
}

pub fn route(path: &str, kind: PathKind, action: Action) -> Route {
    Route {
        path: PathRule {
            kind,
            path: path.to_owned(),
        },
        action,
        policy: Policy::default(),
        source: Source {
            created: 1,
            namespace: "default".into(),
            name: "test".into(),
        },
        index: RuleIndex::default(),
    }
}

pub fn vhost(host: &str, routes: Vec<Route>) -> VirtualHost {
    VirtualHost {
        host: HostPattern::Exact(host.to_owned()),
        regex_mode: false,
        routes,
        default_backend: None,
    }
}

pub fn table(vhosts: Vec<VirtualHost>) -> RouteTable {
    RouteTable {
        virtual_hosts: vhosts.into_iter().map(std::sync::Arc::new).collect(),
        ..RouteTable::default()
    }
}

/// `a.example` with one `Prefix /` route to `action`.
pub fn single(action: Action) -> RouteTable {
    table(vec![vhost(
        "a.example",
        vec![route("/", PathKind::Prefix, action)],
    )])
}

// ---------------------------------------------------------------- echo backend

/// An in-process HTTP/1.1 backend. By the `x-test-mode` request header it:
/// - (absent) answers with a description of the request it saw (see [`Seen`]);
/// - `stream`: streams the request body back;
/// - `hang`: never answers;
/// - `gate`: reports arrival, then answers once the gate is opened;
/// - `close`: describes the request and closes the connection.
pub struct EchoBackend {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicUsize>,
    pub arrived: mpsc::UnboundedReceiver<()>,
    pub gate: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Drop for EchoBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EchoBackend {
    pub async fn start(name: &'static str) -> EchoBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Notify::new());
        let (arrive_tx, arrived) = mpsc::unbounded_channel();
        let counter = requests.clone();
        let gate_in = gate.clone();
        let task = tokio::spawn(async move {
            let conns = Arc::new(AtomicUsize::new(0));
            let mut handlers = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let conn = conns.fetch_add(1, Ordering::Relaxed);
                let counter = counter.clone();
                let gate = gate_in.clone();
                let arrive_tx = arrive_tx.clone();
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    counter.fetch_add(1, Ordering::Relaxed);
                    let gate = gate.clone();
                    let arrive_tx = arrive_tx.clone();
                    async move { Ok::<_, hyper::Error>(echo(name, conn, req, gate, arrive_tx).await) }
                });
                handlers.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        EchoBackend {
            addr,
            requests,
            arrived,
            gate,
            task,
        }
    }

    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

type EchoBody = http_body_util::Either<Full<Bytes>, Incoming>;

async fn echo(
    name: &str,
    conn: usize,
    req: Request<Incoming>,
    gate: Arc<Notify>,
    arrived: mpsc::UnboundedSender<()>,
) -> Response<EchoBody> {
    let mode = req
        .headers()
        .get("x-test-mode")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    match mode.as_str() {
        "stream" => return Response::new(EchoBody::Right(req.into_body())),
        "hang" => std::future::pending::<()>().await,
        "gate" => {
            let _ = arrived.send(());
            gate.notified().await;
        }
        _ => {}
    }
    let mut text = format!(
        "backend: {name}\nconn: {conn}\nmethod: {}\nuri: {}\nversion: {:?}\n",
        req.method(),
        req.uri(),
        req.version()
    );
    for (header, value) in req.headers() {
        text.push_str(&format!(
            "h: {}: {}\n",
            header,
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    text.push_str(&format!("body: {}\n", String::from_utf8_lossy(&body)));
    let mut response = Response::new(EchoBody::Left(Full::new(Bytes::from(text))));
    let headers = response.headers_mut();
    headers.insert("x-hop", "secret".parse().expect("value"));
    if mode == "close" {
        headers.insert("connection", "close, x-hop".parse().expect("value"));
    } else {
        headers.insert("connection", "x-hop".parse().expect("value"));
    }
    response
}

/// What an echo backend saw, parsed from its answer.
#[derive(Debug, Default)]
pub struct Seen {
    pub backend: String,
    pub conn: String,
    pub method: String,
    pub uri: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    pub fn parse(text: &str) -> Seen {
        let mut seen = Seen::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(": ") else {
                continue;
            };
            match key {
                "backend" => seen.backend = value.into(),
                "conn" => seen.conn = value.into(),
                "method" => seen.method = value.into(),
                "uri" => seen.uri = value.into(),
                "version" => seen.version = value.into(),
                "body" => seen.body = value.into(),
                "h" => {
                    if let Some((name, value)) = value.split_once(": ") {
                        seen.headers.push((name.into(), value.into()));
                    }
                }
                _ => {}
            }
        }
        seen
    }

    /// Every value of header `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The only value of header `name`.
    pub fn one(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "{name} sent {} times: {all:?}", all.len());
        all.first().copied()
    }
}

// ---------------------------------------------------------------- clients

/// A collected response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn seen(&self) -> Seen {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.text());
        Seen::parse(&self.text())
    }
}

async fn collect<B>(response: Response<B>) -> Result<Reply, BoxError>
where
    B: hyper::body::Body,
    B::Error: Into<BoxError>,
{
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(Into::into)?.to_bytes();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// Sends one request on a new HTTP/1.1 connection.
pub async fn send<B>(addr: SocketAddr, req: Request<B>) -> Result<Reply, BoxError>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    within(async { collect(sender.send_request(req).await?).await }).await
}

/// `GET path` with `Host: host` on a new HTTP/1.1 connection.
pub async fn get(addr: SocketAddr, host: &str, path: &str) -> Reply {
    let req = Request::get(path)
        .header("host", host)
        .body(http_body_util::Empty::<Bytes>::new())
        .expect("request");
    send(addr, req).await.expect("request failed")
}

/// Sends one request over HTTP/2 with prior knowledge (h2c).
pub async fn send_h2(addr: SocketAddr, req: Request<Full<Bytes>>) -> Result<Reply, BoxError> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    within(async { collect(sender.send_request(req).await?).await }).await
}

/// Writes `bytes` on a raw TCP connection and reads until the peer closes.
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    within(async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(bytes).await.expect("write");
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
}

/// An address where nothing listens (bound once, then released).
pub async fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("local addr")
}
