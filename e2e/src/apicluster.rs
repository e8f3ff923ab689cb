//! The Kubernetes API as a [`Cluster`]: the in-memory API server double, whose backends are
//! `wicket echo` processes in network-namespace pods, or — with `E2E_KUBECONFIG` set — a
//! real cluster driven with `kubectl`, whose backends are Pods.
//!
//! ```text
//!  ApiCluster ─┬─ Double: ApiServer (HTTPS, one user per replica) · PodNetwork 10.244.N.0/24
//!              │          · namespace `wicket` for the election Lease
//!              └─ Real:   kubectl --kubeconfig $E2E_KUBECONFIG · a namespace per testbed
//!                         (bundles' objects are moved into it; wicket --watch-namespace it)
//! ```

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::apiserver::{ApiServer, State, Status, WriteRecord};
use crate::backend::{Backend, POD_PORT};
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::kubectl::{Kubectl, RemoteNamespace, RemotePod};
use crate::manifest::{NAMESPACE, documents};
use crate::netns::{PodNetwork, require_root};

/// What wicket writes into owned Ingresses' status by default (TEST-NET-3, never routed).
pub const STATUS_ADDRESS: &str = "203.0.113.10";

/// The namespace of the election Lease on the double.
pub const ELECTION_NAMESPACE: &str = "wicket";

/// The election Lease's name (wicket's default `--election-id`).
pub const ELECTION_ID: &str = "wicket-leader";

/// `--lease-duration` of every replica under test.
pub const LEASE_DURATION: Duration = Duration::from_secs(4);

/// `--renew-period` of every replica under test.
pub const RENEW_PERIOD: Duration = Duration::from_secs(1);

/// Where a replica takes the addresses it writes into Ingress status from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Publish {
    /// `--publish-status-address ADDR`.
    StatusAddress(String),
    /// `--publish-service NS/NAME`.
    Service { namespace: String, name: String },
}

impl Default for Publish {
    fn default() -> Self {
        Self::StatusAddress(STATUS_ADDRESS.to_owned())
    }
}

/// A Kubernetes API that scenarios apply bundles to and that wicket watches.
#[derive(Debug)]
pub struct ApiCluster {
    /// The objects each bundle consists of, as last applied.
    bundles: Mutex<BTreeMap<String, Vec<Value>>>,
    target: Target,
}

#[derive(Debug)]
enum Target {
    Double(Double),
    Real(Real),
}

#[derive(Debug)]
struct Real {
    kubectl: Kubectl,
    namespace: RemoteNamespace,
}

/// The API server double, restartable, with the pod network its backends live on.
#[derive(Debug)]
pub struct Double {
    server: Mutex<Option<ApiServer>>,
    /// The store while the server is stopped.
    stopped: Mutex<Option<Arc<State>>>,
    addr: SocketAddr,
    network: PodNetwork,
    dir: TempDir,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn api_error(what: String, status: &Status) -> Error {
    Error::Unexpected {
        what,
        detail: status.to_string(),
    }
}

impl Double {
    async fn start() -> Result<Self> {
        require_root()?;
        let network = PodNetwork::create()?;
        let dir = tempfile::Builder::new()
            .prefix("wicket-e2e-kube-")
            .tempdir()
            .map_err(|e| Error::io("creating a kubeconfig directory", e))?;
        let server = ApiServer::start().await;
        server
            .create(json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": { "name": ELECTION_NAMESPACE },
            }))
            .map_err(|e| api_error(format!("creating namespace {ELECTION_NAMESPACE}"), &e))?;
        Ok(Self {
            addr: server.addr(),
            server: Mutex::new(Some(server)),
            stopped: Mutex::new(None),
            network,
            dir,
        })
    }

    /// Runs `f` on the running server; fails while it is stopped.
    pub fn with<T>(&self, f: impl FnOnce(&ApiServer) -> T) -> Result<T> {
        match lock(&self.server).as_ref() {
            Some(server) => Ok(f(server)),
            None => Err(Error::Unexpected {
                what: "the API server double is stopped".to_owned(),
                detail: format!("it was listening on {}", self.addr),
            }),
        }
    }

    /// The pods' network.
    pub fn network(&self) -> &PodNetwork {
        &self.network
    }

    /// A kubeconfig acting as `user` (one bearer token per user).
    pub fn kubeconfig(&self, user: &str) -> Result<PathBuf> {
        self.with(|server| server.kubeconfig(self.dir.path(), user))
    }

    /// Every mutating HTTP request so far.
    pub fn writes(&self) -> Result<Vec<WriteRecord>> {
        self.with(ApiServer::writes)
    }

    /// One object, if it exists.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
    ) -> Result<Option<Value>> {
        self.with(|server| server.get(api_version, kind, ns, name))
    }

    /// Creates or replaces an object in-process (kept `.status` when it has none).
    pub fn apply(&self, object: Value) -> Result<Value> {
        let what = format!("applying {}", describe(&object));
        self.with(|server| server.apply(object))?
            .map_err(|e| api_error(what, &e))
    }

    /// Replaces an object's `.status`, as a controller (e.g. a load balancer's) would.
    pub fn update_status(
        &self,
        api_version: &str,
        kind: &str,
        ns: &str,
        name: &str,
        status: Value,
    ) -> Result<Value> {
        let what = format!("updating the status of {kind} {ns}/{name}");
        self.with(|server| server.update_status(api_version, kind, ns, name, status))?
            .map_err(|e| api_error(what, &e))
    }

    /// Ends every open watch stream without stopping the server.
    pub fn drop_watches(&self) -> Result<()> {
        self.with(ApiServer::drop_watches)
    }

    /// Stops the server (every connection and watch closes); its store is kept.
    pub async fn stop(&self) -> Result<()> {
        let server = lock(&self.server).take();
        let Some(server) = server else {
            return Ok(());
        };
        let state = server.stop().await;
        *lock(&self.stopped) = Some(state);
        Ok(())
    }

    /// Starts the server again on the same address with the kept store.
    pub async fn restart(&self) -> Result<()> {
        let state = lock(&self.stopped).take();
        let server = ApiServer::start_on(self.addr, state)
            .await
            .map_err(|e| Error::io(format!("restarting the API server on {}", self.addr), e))?;
        *lock(&self.server) = Some(server);
        Ok(())
    }
}

impl ApiCluster {
    /// The real cluster of `$E2E_KUBECONFIG` when set, else a fresh API server double and
    /// pod network (which need root).
    pub async fn start() -> Result<Self> {
        let target = match Kubectl::from_env() {
            Some(kubectl) => {
                let namespace = RemoteNamespace::create(&kubectl).await?;
                Target::Real(Real { kubectl, namespace })
            }
            None => Target::Double(Double::start().await?),
        };
        Ok(Self {
            bundles: Mutex::new(BTreeMap::new()),
            target,
        })
    }

    /// The double, or `None` against a real cluster.
    pub fn double(&self) -> Option<&Double> {
        match &self.target {
            Target::Double(double) => Some(double),
            Target::Real(_) => None,
        }
    }

    /// The namespace bundles' namespaced objects are put in.
    pub fn namespace(&self) -> &str {
        match &self.target {
            Target::Double(_) => NAMESPACE,
            Target::Real(real) => real.namespace.name(),
        }
    }

    /// The arguments of `wicket serve` for replica `identity` (also its API user).
    pub fn serve_args(&self, identity: &str, publish: &Publish) -> Result<Vec<OsString>> {
        let mut args: Vec<OsString> = vec!["serve".into(), "--kubeconfig".into()];
        let election_namespace = match &self.target {
            Target::Double(double) => {
                args.push(double.kubeconfig(identity)?.into());
                ELECTION_NAMESPACE.to_owned()
            }
            Target::Real(real) => {
                args.push(real.kubectl.kubeconfig().into());
                args.push("--watch-namespace".into());
                args.push(real.namespace.name().into());
                real.namespace.name().to_owned()
            }
        };
        let lease = format!("{}ms", LEASE_DURATION.as_millis());
        let renew = format!("{}ms", RENEW_PERIOD.as_millis());
        for (flag, value) in [
            ("--election-namespace", election_namespace.as_str()),
            ("--election-id", ELECTION_ID),
            ("--election-identity", identity),
            ("--lease-duration", &lease),
            ("--renew-period", &renew),
        ] {
            args.push(flag.into());
            args.push(value.into());
        }
        match publish {
            Publish::StatusAddress(address) => {
                args.push("--publish-status-address".into());
                args.push(address.into());
            }
            Publish::Service { namespace, name } => {
                args.push("--publish-service".into());
                args.push(format!("{namespace}/{name}").into());
            }
        }
        Ok(args)
    }

    /// `objects` with their namespace set to [`ApiCluster::namespace`].
    fn localize(&self, objects: Vec<Value>) -> Vec<Value> {
        let namespace = self.namespace();
        objects
            .into_iter()
            .map(|mut object| {
                if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
                    && meta.contains_key("namespace")
                {
                    meta.insert("namespace".into(), json!(namespace));
                }
                object
            })
            .collect()
    }

    async fn put(&self, objects: &[Value], removed: &[Value]) -> Result<()> {
        match &self.target {
            Target::Double(double) => {
                for object in objects {
                    double.apply(object.clone())?;
                }
                for object in removed {
                    let text = |k: &str| object.get(k).and_then(Value::as_str).unwrap_or_default();
                    let meta = |k: &str| object["metadata"][k].as_str().unwrap_or_default();
                    let what = format!("deleting {}", describe(object));
                    match double.with(|server| {
                        server.delete(
                            text("apiVersion"),
                            text("kind"),
                            meta("namespace"),
                            meta("name"),
                        )
                    })? {
                        Ok(_) => {}
                        Err(status) if status.code == 404 => {}
                        Err(status) => return Err(api_error(what, &status)),
                    }
                }
                Ok(())
            }
            Target::Real(real) => {
                if !objects.is_empty() {
                    real.kubectl.apply(&documents(objects)).await?;
                }
                if !removed.is_empty() {
                    real.kubectl.delete(&documents(removed)).await?;
                }
                Ok(())
            }
        }
    }
}

/// `Kind ns/name` of an object, for messages.
fn describe(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let ns = object["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or("?");
    if ns.is_empty() {
        format!("{kind} {name}")
    } else {
        format!("{kind} {ns}/{name}")
    }
}

/// What identifies an object: apiVersion, kind, namespace, name.
fn identity(object: &Value) -> [String; 4] {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    [
        text(&object["apiVersion"]),
        text(&object["kind"]),
        text(&object["metadata"]["namespace"]),
        text(&object["metadata"]["name"]),
    ]
}

/// The documents of a YAML stream (empty documents skipped).
fn parse_documents(yaml: &str) -> Result<Vec<Value>> {
    let mut objects = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(yaml) {
        let object = Value::deserialize(document).map_err(|e| Error::Unexpected {
            what: "a bundle is not valid YAML".to_owned(),
            detail: e.to_string(),
        })?;
        if !object.is_null() {
            objects.push(object);
        }
    }
    Ok(objects)
}

impl Cluster for ApiCluster {
    /// Creates or replaces each object that is new or changed, in document order, then
    /// deletes the objects the bundle had before and no longer has.
    async fn apply(&self, name: &str, yaml: &str) -> Result<()> {
        let objects = self.localize(parse_documents(yaml)?);
        let previous = lock(&self.bundles).get(name).cloned().unwrap_or_default();
        let kept: Vec<[String; 4]> = objects.iter().map(identity).collect();
        let changed: Vec<Value> = objects
            .iter()
            .filter(|object| !previous.contains(object))
            .cloned()
            .collect();
        let removed: Vec<Value> = previous
            .into_iter()
            .filter(|old| !kept.contains(&identity(old)))
            .collect();
        self.put(&changed, &removed).await?;
        lock(&self.bundles).insert(name.to_owned(), objects);
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let previous = lock(&self.bundles).remove(name).unwrap_or_default();
        self.put(&[], &previous).await
    }

    async fn backends(&self, names: &[&str]) -> Result<Vec<Backend>> {
        let mut backends = Vec::with_capacity(names.len());
        for name in names {
            let backend = match &self.target {
                Target::Double(double) => Backend::in_pod(&double.network, name).await?,
                Target::Real(real) => {
                    let ns = real.namespace.name();
                    let (pod, ip) = RemotePod::start(&real.kubectl, ns, name, POD_PORT).await?;
                    Backend::remote(pod, SocketAddr::from((ip, POD_PORT)))
                }
            };
            backends.push(backend);
        }
        Ok(backends)
    }

    fn namespace(&self) -> &str {
        ApiCluster::namespace(self)
    }

    async fn dead_backend(&self, name: &str) -> Result<Backend> {
        match &self.target {
            Target::Double(double) => Backend::dead_pod(&double.network, name),
            Target::Real(real) => {
                // The Pod listens on another port: its IP refuses connections on POD_PORT.
                let ns = real.namespace.name();
                let other = POD_PORT.wrapping_add(1);
                let (pod, ip) = RemotePod::start(&real.kubectl, ns, name, other).await?;
                Ok(Backend::remote(pod, SocketAddr::from((ip, POD_PORT))))
            }
        }
    }
}

impl Drop for ApiCluster {
    /// On a real cluster, removes the cluster-scoped objects bundles created (the namespace,
    /// deleted afterwards, takes the rest).
    fn drop(&mut self) {
        if let Target::Real(real) = &self.target {
            let bundles = std::mem::take(&mut *lock(&self.bundles));
            for object in bundles.values().flatten() {
                if object["metadata"].get("namespace").is_none() {
                    let [_, kind, _, name] = identity(object);
                    real.kubectl
                        .delete_blocking(&[&format!("{}/{name}", kind.to_lowercase())]);
                }
            }
        }
    }
}
