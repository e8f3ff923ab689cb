//! The backends scenarios route to, whatever the source mode: a `wicket echo` on loopback
//! (manifests mode), in a network-namespace pod (API mode against the test double), or in a
//! Pod of a real cluster (`E2E_KUBECONFIG`). Scenarios get them from the
//! [`Testbed`](crate::Testbed) and only see a name, an address and a way to stop them.

use std::ffi::OsStr;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use crate::binary::wicket_binary;
use crate::echo::Echo;
use crate::error::{Error, Result};
use crate::kubectl::RemotePod;
use crate::netns::{Pod, PodNetwork};
use crate::process::ChildProcess;

/// The port `wicket echo` listens on inside a pod.
pub const POD_PORT: u16 = 8080;

const STARTUP: Duration = Duration::from_secs(30);
const STOP: Duration = Duration::from_secs(10);

/// Something with a name that answers at an address: an [`Echo`] or a [`Backend`].
pub trait Upstream {
    /// The name it reports in every answer (and the Service it gets in bundles).
    fn name(&self) -> &str;
    /// Where it is reached.
    fn addr(&self) -> SocketAddr;
}

impl Upstream for Echo {
    fn name(&self) -> &str {
        Echo::name(self)
    }

    fn addr(&self) -> SocketAddr {
        Echo::addr(self)
    }
}

/// A backend of the testbed's mode, stopped (and its pod removed) when dropped.
#[derive(Debug)]
pub struct Backend {
    name: String,
    addr: SocketAddr,
    runs: Runs,
}

/// What keeps a backend alive. Fields drop in order: the process goes before its pod.
#[derive(Debug)]
enum Runs {
    /// Nothing: the address refuses connections.
    Nothing,
    Loopback(Echo),
    InPod {
        process: Option<ChildProcess>,
        pod: Pod,
    },
    Remote(RemotePod),
}

impl Upstream for Backend {
    fn name(&self) -> &str {
        &self.name
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Backend {
    /// `wicket echo --listen 127.0.0.1:0 --name NAME`.
    pub async fn loopback(name: &str) -> Result<Self> {
        let echo = Echo::start(name).await?;
        Ok(Self {
            name: name.to_owned(),
            addr: echo.addr(),
            runs: Runs::Loopback(echo),
        })
    }

    /// A loopback address with nothing listening (a port bound, then released).
    pub fn dead_loopback(name: &str) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| Error::io("binding a port to release", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading a released port", e))?;
        Ok(Self {
            name: name.to_owned(),
            addr,
            runs: Runs::Nothing,
        })
    }

    /// Pod `name` on `network` running `wicket echo --listen 0.0.0.0:8080 --name NAME`.
    pub async fn in_pod(network: &PodNetwork, name: &str) -> Result<Self> {
        let pod = network.pod(name)?;
        let listen = format!("0.0.0.0:{POD_PORT}");
        let args = ["echo", "--listen", &listen, "--name", name].map(OsStr::new);
        let what = format!("wicket echo in pod {name}");
        let mut process = pod.spawn(&what, &wicket_binary()?, &args)?;
        process.listen_addr("echo", STARTUP).await?;
        Ok(Self {
            name: name.to_owned(),
            addr: SocketAddr::from((pod.ip(), POD_PORT)),
            runs: Runs::InPod {
                process: Some(process),
                pod,
            },
        })
    }

    /// Pod `name` on `network` with nothing running: its address refuses connections.
    pub fn dead_pod(network: &PodNetwork, name: &str) -> Result<Self> {
        let pod = network.pod(name)?;
        Ok(Self {
            name: name.to_owned(),
            addr: SocketAddr::from((pod.ip(), POD_PORT)),
            runs: Runs::InPod { process: None, pod },
        })
    }

    /// A Pod of a real cluster, reached at `addr`.
    pub(crate) fn remote(pod: RemotePod, addr: SocketAddr) -> Self {
        Self {
            name: pod.name().to_owned(),
            addr,
            runs: Runs::Remote(pod),
        }
    }

    /// Kills the backend the way a node loses a pod (SIGKILL, then the pod is removed) and
    /// waits until it is gone.
    pub async fn kill(self) -> Result<()> {
        match self.runs {
            Runs::Nothing => Ok(()),
            Runs::Loopback(echo) => {
                tokio::task::spawn_blocking(move || drop(echo))
                    .await
                    .map_err(|e| Error::client("stopping an echo backend", e))?;
                Ok(())
            }
            Runs::InPod { process, pod } => {
                if let Some(mut process) = process {
                    process.kill(STOP).await?;
                }
                tokio::task::spawn_blocking(move || drop(pod))
                    .await
                    .map_err(|e| Error::client("removing a pod", e))?;
                Ok(())
            }
            Runs::Remote(pod) => pod.delete().await,
        }
    }
}
