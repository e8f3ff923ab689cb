//! `kubectl` against a real cluster, for `E2E_KUBECONFIG` runs: server-side apply, delete,
//! namespaces, and `wicket echo` Pods from `E2E_ECHO_IMAGE`.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};

/// Points the Kubernetes-mode e2e tests at a real cluster instead of the test double.
pub const E2E_KUBECONFIG: &str = "E2E_KUBECONFIG";

/// The image backend Pods run (`wicket echo`, e.g. this repository's `Dockerfile`).
pub const E2E_ECHO_IMAGE: &str = "E2E_ECHO_IMAGE";

/// The field manager of every server-side apply.
const FIELD_MANAGER: &str = "wicket-e2e";

/// Longest any one kubectl call may take (a Pod's image pull included).
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(180);

/// `kubectl --kubeconfig FILE …`.
#[derive(Clone, Debug)]
pub struct Kubectl {
    kubeconfig: PathBuf,
}

impl Kubectl {
    /// The cluster named by `$E2E_KUBECONFIG`, if set.
    pub fn from_env() -> Option<Self> {
        std::env::var_os(E2E_KUBECONFIG)
            .filter(|path| !path.is_empty())
            .map(|path| Self {
                kubeconfig: PathBuf::from(path),
            })
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("kubectl");
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs `kubectl ARGS…` (with `stdin` piped in) and returns its stdout.
    pub async fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let what = format!("kubectl {}", args.join(" "));
        let exchange = async {
            let mut child = self.command(args).spawn().map_err(|source| Error::Spawn {
                what: what.clone(),
                source,
            })?;
            if let Some(mut pipe) = child.stdin.take() {
                if let Some(text) = stdin {
                    pipe.write_all(text.as_bytes())
                        .await
                        .map_err(|e| Error::io(format!("writing to {what}"), e))?;
                }
                drop(pipe);
            }
            child
                .wait_with_output()
                .await
                .map_err(|e| Error::io(format!("running {what}"), e))
        };
        let output = tokio::time::timeout(KUBECTL_TIMEOUT, exchange)
            .await
            .map_err(|_| Error::Timeout {
                what: what.clone(),
                after: KUBECTL_TIMEOUT,
                last: "still running".to_owned(),
            })??;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(Error::Unexpected {
                what: format!("{what} failed ({})", output.status),
                detail: String::from_utf8_lossy(&output.stderr).into_owned(),
            })
        }
    }

    /// `kubectl apply --server-side` of a YAML stream.
    pub async fn apply(&self, yaml: &str) -> Result<()> {
        let manager = format!("--field-manager={FIELD_MANAGER}");
        let args = [
            "apply",
            "--server-side",
            "--force-conflicts",
            &manager,
            "-f",
            "-",
        ];
        self.run(&args, Some(yaml)).await.map(drop)
    }

    /// `kubectl delete` of the objects in a YAML stream (missing ones are fine).
    pub async fn delete(&self, yaml: &str) -> Result<()> {
        let args = ["delete", "--ignore-not-found", "--wait=false", "-f", "-"];
        self.run(&args, Some(yaml)).await.map(drop)
    }

    /// Deletes without waiting, from a `Drop` (blocking); failures are reported on stderr.
    pub(crate) fn delete_blocking(&self, args: &[&str]) {
        let mut all: Vec<OsString> = vec!["--kubeconfig".into(), self.kubeconfig.clone().into()];
        all.extend(["delete", "--ignore-not-found", "--wait=false"].map(OsString::from));
        all.extend(args.iter().map(OsString::from));
        let outcome = std::process::Command::new("kubectl")
            .args(&all)
            .stdin(Stdio::null())
            .output();
        match outcome {
            Ok(output) if output.status.success() => {}
            Ok(output) => report(&String::from_utf8_lossy(&output.stderr)),
            Err(e) => report(&e.to_string()),
        }
    }
}

#[allow(
    clippy::print_stderr,
    reason = "cleanup runs in Drop; the test runner shows stderr of failed tests"
)]
fn report(message: &str) {
    eprintln!("kubectl cleanup: {}", message.trim());
}

/// A namespace of the real cluster made for one testbed, deleted when dropped.
#[derive(Debug)]
pub struct RemoteNamespace {
    kubectl: Kubectl,
    name: String,
}

impl RemoteNamespace {
    /// Creates `wicket-e2e-<random>`.
    pub async fn create(kubectl: &Kubectl) -> Result<Self> {
        let name = format!("wicket-e2e-{:08x}", fastrand::u32(..));
        kubectl.run(&["create", "namespace", &name], None).await?;
        Ok(Self {
            kubectl: kubectl.clone(),
            name,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for RemoteNamespace {
    fn drop(&mut self) {
        self.kubectl.delete_blocking(&["namespace", &self.name]);
    }
}

/// A Pod running `wicket echo` from `$E2E_ECHO_IMAGE`; deleted when dropped.
#[derive(Debug)]
pub struct RemotePod {
    kubectl: Kubectl,
    namespace: String,
    name: String,
    deleted: bool,
}

impl RemotePod {
    /// Starts Pod `name` with `wicket echo --listen 0.0.0.0:PORT --name NAME` and returns it
    /// with its pod IP once Ready.
    pub async fn start(
        kubectl: &Kubectl,
        namespace: &str,
        name: &str,
        port: u16,
    ) -> Result<(Self, IpAddr)> {
        let image = std::env::var(E2E_ECHO_IMAGE).map_err(|_| Error::Unexpected {
            what: format!("{E2E_KUBECONFIG} is set but {E2E_ECHO_IMAGE} is not"),
            detail: format!(
                "set {E2E_ECHO_IMAGE} to an image whose entrypoint is the wicket binary \
                 (`docker build -t wicket:e2e .`, then load it into the cluster)"
            ),
        })?;
        let pod = Self {
            kubectl: kubectl.clone(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            deleted: false,
        };
        let image = format!("--image={image}");
        let listen = format!("0.0.0.0:{port}");
        let run = [
            "run",
            name,
            "-n",
            namespace,
            &image,
            "--restart=Never",
            "--",
            "echo",
            "--listen",
            &listen,
            "--name",
            name,
        ];
        kubectl.run(&run, None).await?;
        let target = format!("pod/{name}");
        let wait = [
            "wait",
            "-n",
            namespace,
            "--for=condition=Ready",
            &target,
            "--timeout=150s",
        ];
        kubectl.run(&wait, None).await?;
        let get = [
            "get",
            "pod",
            name,
            "-n",
            namespace,
            "-o",
            "jsonpath={.status.podIP}",
        ];
        let ip = kubectl.run(&get, None).await?;
        let ip = ip.trim().parse().map_err(|_| Error::Unexpected {
            what: format!("pod {namespace}/{name} has no usable IP"),
            detail: ip.clone(),
        })?;
        Ok((pod, ip))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Deletes the Pod at once (grace period 0) and waits until it is gone.
    pub async fn delete(mut self) -> Result<()> {
        let target = format!("pod/{}", self.name);
        let args = [
            "delete",
            "-n",
            &self.namespace,
            &target,
            "--grace-period=0",
            "--force",
        ];
        self.kubectl.run(&args, None).await?;
        self.deleted = true;
        Ok(())
    }
}

impl Drop for RemotePod {
    fn drop(&mut self) {
        if !self.deleted {
            let target = format!("pod/{}", self.name);
            self.kubectl
                .delete_blocking(&["-n", &self.namespace, &target, "--grace-period=0"]);
        }
    }
}
