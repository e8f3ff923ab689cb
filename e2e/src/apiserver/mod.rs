//! An in-memory Kubernetes API server test double that speaks the real wire protocol.
//!
//! ```text
//!  ApiServer ── accept loop ── http::handle ─┬─ discovery (/version, /api, /apis, …)
//!                                            └─ resources: list · watch · get · create ·
//!                                               update · patch · delete (+ /status)
//!                                                      │
//!  State (store): objects · one global resourceVersion · bounded history · watchers
//!                 · tokens · write log        ◄── in-process create/apply/update_status
//! ```
//!
//! Served kinds are listed in [`resources::REGISTRY`]. Where the double knowingly differs
//! from a real kube-apiserver:
//! - HTTPS with a CA generated per process ([`tls`]); clients find it in the kubeconfig.
//!   A plain-HTTP request on the port gets the real server's 400 ("Client sent an HTTP
//!   request to an HTTPS server.").
//! - JSON only (no protobuf, no Table output, no aggregated discovery); `/openapi/v2` and
//!   `/openapi/v3` are 404, so `kubectl apply` needs `--validate=false`.
//! - Strategic merge patch is a JSON merge patch without `$` directives; server-side apply is
//!   create-or-merge without managed fields or conflicts (see [`patch`]).
//! - A list with `resourceVersion=0` is served from the latest state; `limit` is honoured.
//! - Validation and defaulting cover the kinds wicket uses (see [`validate`], [`defaults`]);
//!   Deployments, PDBs and RBAC objects get metadata validation only.
//! - Deleting a Namespace removes it and its contents at once (no Terminating phase);
//!   finalizers on other objects are honoured. No garbage collection of owned objects.
//! - Authentication is a bearer token per user; there is no authorization (RBAC objects are
//!   stored, not enforced). Requests without a valid token get 401, except the health
//!   endpoints and `/version`.
//! - In-process `create`/`apply` keep a given `.status` (HTTP writes never do).

pub mod client;
pub mod convert;
pub mod defaults;
pub mod discovery;
pub mod http;
pub mod kubeconfig;
pub mod meta;
pub mod patch;
pub mod plain;
pub mod resources;
pub mod selector;
pub mod status;
pub mod store;
pub mod tls;
pub mod validate;
pub mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

pub use resources::ResourceType;
pub use status::{FieldError, Status};
pub use store::{Part, State, WriteRecord};

/// A running server. Dropping it stops it too (without waiting).
#[derive(Debug)]
pub struct ApiServer {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ApiServer {
    /// Starts on 127.0.0.1 with a port the OS picks and a fresh store.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> Self {
        match Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), None).await {
            Ok(server) => server,
            Err(e) => panic!("cannot bind the API server test double on 127.0.0.1: {e}"),
        }
    }

    /// Starts on `addr` (e.g. the address of a stopped server, to restart it), with `state`
    /// (kept from [`ApiServer::stop`]) or a fresh store.
    pub async fn start_on(addr: SocketAddr, state: Option<Arc<State>>) -> std::io::Result<Self> {
        let identity = tls::identity().map_err(std::io::Error::other)?;
        let acceptor = TlsAcceptor::from(Arc::clone(&identity.server));
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = state.unwrap_or_else(|| Arc::new(State::new()));
        let (shutdown, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, acceptor, state.clone(), stopped));
        Ok(Self {
            addr,
            state,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// A raw client acting as `user` (see [`client::RawClient`]).
    ///
    /// # Panics
    /// If the process-wide TLS identity could not be created.
    pub fn client(&self, user: &str) -> client::RawClient {
        match client::RawClient::new(self.addr, Some(self.token(user))) {
            Ok(client) => client,
            Err(e) => panic!("{e}"),
        }
    }

    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// Closes the listener, every connection and every watch; returns the store so a new
    /// server can continue with it.
    pub async fn stop(mut self) -> Arc<State> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.state.drop_watches();
        self.state.clone()
    }

    /// Ends every open watch stream (clients see the response end) without stopping.
    pub fn drop_watches(&self) {
        self.state.drop_watches();
    }

    /// Watch streams currently open.
    pub fn open_watches(&self) -> usize {
        self.state.open_watches()
    }

    /// Forgets the change history: watches and continue tokens from before now get 410.
    pub fn compact(&self) {
        self.state.compact();
    }

    /// How often watches that allow bookmarks get one (default 1 s); applies to new watches.
    pub fn set_bookmark_interval(&self, every: Duration) {
        self.state.set_bookmark_interval(every);
    }

    /// The bearer token of `user` (created on first use).
    pub fn token(&self, user: &str) -> String {
        self.state.token_for(user)
    }

    /// Writes a kubeconfig for `user` into `dir` (`kubeconfig-USER.yaml`): the server URL,
    /// the CA and the user's bearer token.
    ///
    /// # Panics
    /// If the file cannot be written.
    pub fn kubeconfig(&self, dir: &Path, user: &str) -> PathBuf {
        let token = self.token(user);
        match kubeconfig::write(dir, &self.url(), user, &token) {
            Ok(path) => path,
            Err(e) => panic!("cannot write a kubeconfig into {}: {e}", dir.display()),
        }
    }

    /// Every mutating HTTP request so far (in-process writes are not recorded).
    pub fn writes(&self) -> Vec<WriteRecord> {
        self.state.writes()
    }

    /// Creates an object (its apiVersion/kind pick the type; a namespaced object without a
    /// namespace goes to `default`, as kubectl would put it); a given `.status` is kept.
    pub fn create(&self, object: Value) -> Result<Value, Status> {
        let rt = type_of(&object)?;
        let namespace = namespace_of(rt, &object);
        self.state.create(rt, &namespace, object, false, true)
    }

    /// Creates the object, or replaces it if it exists (keeping its uid, and its status when
    /// `object` has none).
    pub fn apply(&self, mut object: Value) -> Result<Value, Status> {
        let rt = type_of(&object)?;
        meta::remove(&mut object, "resourceVersion");
        let namespace = namespace_of(rt, &object);
        let name = meta::name(&object).to_owned();
        self.state
            .update(rt, &namespace, &name, object, Part::All, false, true)
            .map(|(object, _)| object)
    }

    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let rt = resources::by_kind(api_version, kind)?;
        self.state.get(rt, namespace, name).ok()
    }

    /// Every object of a type, in all namespaces, sorted by namespace and name.
    pub fn list(&self, api_version: &str, kind: &str) -> Vec<Value> {
        resources::by_kind(api_version, kind)
            .map(|rt| self.state.objects(rt))
            .unwrap_or_default()
    }

    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, Status> {
        let rt = lookup(api_version, kind)?;
        self.state
            .delete(rt, namespace, name, &store::Preconditions::default(), false)
            .map(|(object, _)| object)
    }

    /// Replaces `.status` only, as a PUT on the status subresource does.
    pub fn update_status(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        status: Value,
    ) -> Result<Value, Status> {
        let rt = lookup(api_version, kind)?;
        self.state
            .patch(rt, namespace, name, Part::Status, false, false, |current| {
                let mut object = current.cloned().unwrap_or(Value::Null);
                meta::remove(&mut object, "resourceVersion");
                meta::set_top(&mut object, "status", status);
                Ok(object)
            })
            .map(|(object, _)| object)
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            self.state.drop_watches();
        }
    }
}

fn lookup(api_version: &str, kind: &str) -> Result<&'static ResourceType, Status> {
    resources::by_kind(api_version, kind).ok_or_else(|| {
        Status::bad_request(format!(
            "no kind \"{kind}\" is registered for version \"{api_version}\""
        ))
    })
}

fn namespace_of(rt: &ResourceType, object: &Value) -> String {
    match meta::namespace(object) {
        "" if rt.namespaced => "default".to_owned(),
        ns => ns.to_owned(),
    }
}

fn type_of(object: &Value) -> Result<&'static ResourceType, Status> {
    let text = |k: &str| object.get(k).and_then(Value::as_str).unwrap_or_default();
    lookup(text("apiVersion"), text("kind"))
}

/// Completes the TLS handshake; a client that speaks plain HTTP instead gets the 400 a real
/// server sends ([`plain`]), and the connection is closed.
async fn handshake(
    acceptor: &TlsAcceptor,
    stream: tokio::net::TcpStream,
) -> Option<tokio_rustls::server::TlsStream<plain::HeaderTap<tokio::net::TcpStream>>> {
    use tokio::io::AsyncWriteExt as _;
    let accept = acceptor
        .accept(plain::HeaderTap::new(stream))
        .into_fallible();
    match tokio::time::timeout(HANDSHAKE, accept).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err((_, mut tap))) if tap.is_plain_http() => {
            let stream = tap.get_mut();
            let _ = stream.write_all(plain::ANSWER).await;
            let _ = stream.shutdown().await;
            None
        }
        Ok(Err(_)) | Err(_) => None,
    }
}

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    mut stopped: oneshot::Receiver<()>,
) {
    let address: Arc<str> = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default()
        .into();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let state = state.clone();
                let address = address.clone();
                let acceptor = acceptor.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| http::handle(req, state.clone(), address.clone()));
                    let builder = auto::Builder::new(TokioExecutor::new());
                    if let Some(stream) = handshake(&acceptor, stream).await {
                        let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = &mut stopped => break,
        }
    }
    drop(listener);
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}
