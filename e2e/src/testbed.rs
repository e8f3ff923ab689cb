//! A running wicket plus the [`Cluster`] it reads from: what every scenario gets.

use std::net::SocketAddr;

use http::StatusCode;
use serde_json::Value;

use crate::apicluster::{ApiCluster, Publish};
use crate::backend::{Backend, Upstream};
use crate::client::{HttpClient, Reply};
use crate::cluster::{Cluster, ManifestDir};
use crate::error::Result;
use crate::manifest::{backend_objects, documents};
use crate::wait::{CONVERGE, poll_until};
use crate::wicket::Wicket;

/// A wicket under test, the cluster it watches, and a client pointed at its proxy.
/// Fields drop in order: wicket stops before the cluster goes away.
#[derive(Debug)]
pub struct Testbed<C> {
    pub wicket: Wicket,
    pub cluster: C,
    pub client: HttpClient,
}

impl Testbed<ManifestDir> {
    /// `wicket serve --manifests` on a fresh, empty temporary directory.
    pub async fn manifests() -> Result<Self> {
        let cluster = ManifestDir::new()?;
        let wicket = Wicket::start(cluster.path()).await?;
        Ok(Self::new(wicket, cluster))
    }
}

impl Testbed<ApiCluster> {
    /// `wicket serve --kubeconfig …` (replica `replica-a`, status address
    /// [`STATUS_ADDRESS`](crate::apicluster::STATUS_ADDRESS)) on an API server double with a
    /// pod network, which needs root; or on the real cluster of `$E2E_KUBECONFIG`.
    pub async fn kubernetes() -> Result<Self> {
        Self::kubernetes_with(&Publish::default()).await
    }

    /// Like [`Testbed::kubernetes`], with the status addresses taken from `publish`.
    pub async fn kubernetes_with(publish: &Publish) -> Result<Self> {
        let cluster = ApiCluster::start().await?;
        let wicket = Wicket::start_with(&cluster.serve_args("replica-a", publish)?).await?;
        Ok(Self::new(wicket, cluster))
    }
}

impl<C: Cluster> Testbed<C> {
    pub fn new(wicket: Wicket, cluster: C) -> Self {
        Self {
            wicket,
            cluster,
            client: HttpClient::new(),
        }
    }

    /// The proxy's plain-HTTP address.
    pub fn proxy(&self) -> SocketAddr {
        self.wicket.http_addr()
    }

    /// Applies bundle `name` made of `objects`.
    pub async fn apply_objects(&self, name: &str, objects: &[Value]) -> Result<()> {
        self.cluster.apply(name, &documents(objects)).await
    }

    /// Starts one echo backend per name, of the kind this testbed's cluster runs.
    pub async fn backends(&self, names: &[&str]) -> Result<Vec<Backend>> {
        self.cluster.backends(names).await
    }

    /// An endpoint of the kind [`Testbed::backends`] hands out where nothing listens.
    pub async fn dead_backend(&self, name: &str) -> Result<Backend> {
        self.cluster.dead_backend(name).await
    }

    /// Applies bundle `name` with one Service per echo (named like the echo) whose only
    /// endpoint is that echo.
    pub async fn apply_echo_services<U: Upstream>(&self, name: &str, echoes: &[U]) -> Result<()> {
        let objects: Vec<Value> = echoes
            .iter()
            .flat_map(|echo| backend_objects(echo.name(), &[echo.addr()]))
            .collect();
        self.apply_objects(name, &objects).await
    }

    /// `GET path` with `Host: host` through the proxy on a pooled connection.
    pub async fn get(&self, host: &str, path: &str) -> Result<Reply> {
        self.client.get(self.proxy(), host, path).await
    }

    /// Polls until `host` + `path` is answered 200 by the echo called `name`.
    pub async fn wait_for_backend(&self, host: &str, path: &str, name: &str) -> Result<Reply> {
        let what = format!("http://{host}{path} to be served by {name}");
        poll_until(CONVERGE, &what, async || {
            let reply = self.get(host, path).await.map_err(|e| e.to_string())?;
            match reply.backend() {
                Ok(seen) if seen == name => Ok(reply),
                Ok(seen) => Err(format!("served by {seen}")),
                Err(other) => Err(other),
            }
        })
        .await
    }

    /// Polls until `host` + `path` is answered with `status`.
    pub async fn wait_for_status(
        &self,
        host: &str,
        path: &str,
        status: StatusCode,
    ) -> Result<Reply> {
        let what = format!("http://{host}{path} to answer {status}");
        poll_until(CONVERGE, &what, async || {
            let reply = self.get(host, path).await.map_err(|e| e.to_string())?;
            if reply.status == status {
                Ok(reply)
            } else {
                Err(reply.describe())
            }
        })
        .await
    }
}
