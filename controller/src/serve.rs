//! `wicket serve`: a source (a manifests directory or the Kubernetes API), the reconcile
//! loop, the proxy and the admin listener, started together and stopped together.
//!
//! ```text
//! start(): registry (proxy + controller metrics) ─► open source ─► bind http, https, admin
//!          (errors here exit 2 or 1)
//! run():   admin ┐
//!     proxy http ┤
//!    proxy https ├─ until SIGTERM/SIGINT ─► /readyz 503 ─► --shutdown-delay ─► stop accepting
//!      reconcile ┘   ─► in-flight requests and upgraded streams get --shutdown-grace ─► cut the
//!                    rest ─► `shutdown complete drained=N cut=M` ─► admin, reconcile stop
//!  (Kubernetes: reconcile after every store synced; plus election, status, Events)
//! ```

use std::{
    ffi::OsString, future::Future, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration,
};

use prometheus_client::registry::Registry;
use proxy::{
    Drain, TableHandle, Telemetry,
    access_log::{AccessLog, AccessLogFormat},
    config::ProxyConfig,
    metrics::ProxyMetrics,
};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

use crate::{
    admin::{self, Admin, Readiness},
    args::{HumanDuration, KubeArgs, ServeArgs},
    error::ControllerError,
    events::{self, Reporter},
    leader::{self, ElectionConfig},
    listen,
    metrics::{ControllerMetrics, MANIFEST_KIND},
    reconcile::{self, Reconciler},
    source::{
        Changes,
        kube::{KubeSource, WatchOptions, Watches, client},
        manifests::ManifestDir,
    },
    status::{self, Address, Publish},
    translate::TranslateConfig,
};

/// Where the objects come from.
#[derive(Clone, Debug)]
pub enum SourceOptions {
    /// `--manifests DIR`.
    Manifests(PathBuf),
    /// The Kubernetes API.
    Kubernetes(KubeOptions),
}

/// The Kubernetes mode's settings.
#[derive(Clone, Debug)]
pub struct KubeOptions {
    /// `--kubeconfig` / `KUBECONFIG`; `None`: in-cluster, else `~/.kube/config`.
    pub kubeconfig: Option<OsString>,
    pub watch: WatchOptions,
    /// Where Ingress status addresses come from; `None`: status is not written.
    pub publish: Option<Publish>,
    pub election: ElectionConfig,
}

impl KubeOptions {
    /// `env` looks up an environment variable (`POD_NAMESPACE` for the election namespace).
    pub fn from_args(
        args: &KubeArgs,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ControllerError> {
        if args.renew_period.0.is_zero() || args.renew_period.0 >= args.lease_duration.0 {
            return Err(ControllerError::Usage(format!(
                "--renew-period ({}) must be above 0 and shorter than --lease-duration ({})",
                args.renew_period, args.lease_duration
            )));
        }
        if args.lease_duration.0 < Duration::from_secs(1) {
            return Err(ControllerError::Usage(
                "--lease-duration must be at least 1s".to_owned(),
            ));
        }
        let publish = if !args.publish_status_address.is_empty() {
            Some(Publish::Addresses(
                args.publish_status_address
                    .iter()
                    .map(Address::from_flag)
                    .collect(),
            ))
        } else {
            args.publish_service.clone().map(Publish::Service)
        };
        let namespace = args
            .election_namespace
            .clone()
            .or_else(|| env("POD_NAMESPACE"))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "wicket".to_owned());
        let identity = args
            .election_identity
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(leader::default_identity);
        Ok(Self {
            kubeconfig: args.kubeconfig.clone().filter(|k| !k.is_empty()),
            watch: WatchOptions {
                namespace: args.watch_namespace.clone().filter(|n| !n.is_empty()),
            },
            publish,
            election: ElectionConfig {
                namespace,
                name: args.election_id.clone(),
                identity,
                lease_duration: args.lease_duration.0,
                renew_period: args.renew_period.0,
            },
        })
    }
}

/// Everything `serve` needs, independent of how it was configured.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub source: SourceOptions,
    pub http_addr: SocketAddr,
    pub https_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub translate: TranslateConfig,
    pub proxy: ProxyConfig,
    /// `--access-log-format`.
    pub access_log: AccessLogFormat,
    /// Between the shutdown signal (readiness already failing) and closing the listeners.
    pub shutdown_delay: Duration,
    /// How long in-flight requests and upgraded connections may take after that.
    pub shutdown_grace: Duration,
}

impl ServeOptions {
    pub fn from_args(args: &ServeArgs) -> Result<Self, ControllerError> {
        let source = match &args.manifests {
            Some(dir) => SourceOptions::Manifests(dir.clone()),
            None => SourceOptions::Kubernetes(KubeOptions::from_args(&args.kube, |name| {
                std::env::var(name).ok()
            })?),
        };
        Ok(Self {
            source,
            http_addr: args.http_addr,
            https_addr: args.https_addr,
            admin_addr: args.admin_addr,
            translate: args.class.translate_config(&args.tls),
            proxy: args.proxy.proxy_config(),
            access_log: args.access_log_format.format(),
            shutdown_delay: args.shutdown.shutdown_delay.0,
            shutdown_grace: args.shutdown.shutdown_grace.0,
        })
    }
}

/// An open source.
enum Opened {
    Manifests(ManifestDir),
    Kubernetes {
        client: kube::Client,
        options: KubeOptions,
    },
}

/// A serve whose source is open and whose listeners are bound, not yet serving.
pub struct Started {
    options: ServeOptions,
    source: Opened,
    changes: Changes,
    http: TcpListener,
    https: TcpListener,
    admin: TcpListener,
    registry: Registry,
    proxy_metrics: Arc<ProxyMetrics>,
    metrics: Arc<ControllerMetrics>,
}

/// Registers the metrics, opens the source, logs `wicket starting` and binds the listeners
/// (each logs `listening listener=.. addr=..`). In Kubernetes mode the client configuration
/// is loaded here (a bad one exits 2); the API server is first contacted by `run`.
pub async fn start(options: ServeOptions) -> Result<Started, ControllerError> {
    proxy::tls::install_crypto_provider();
    let mut registry = Registry::default();
    let proxy_metrics = ProxyMetrics::new(&mut registry);
    let kubernetes = matches!(options.source, SourceOptions::Kubernetes(_));
    let metrics = ControllerMetrics::new(&mut registry, kubernetes);
    let changes = Changes::new();
    let source = match &options.source {
        SourceOptions::Manifests(dir) => {
            let mut source = ManifestDir::open(dir)?;
            let events = metrics.watch_event_counter(MANIFEST_KIND);
            source.watch_with(changes.clone(), move || {
                events.inc();
            })?;
            Opened::Manifests(source)
        }
        SourceOptions::Kubernetes(kube) => {
            let client = client::connect(kube.kubeconfig.as_deref()).await?;
            Opened::Kubernetes {
                client,
                options: kube.clone(),
            }
        }
    };
    let (mode, manifests) = match &options.source {
        SourceOptions::Manifests(dir) => ("manifests", Some(dir.display().to_string())),
        SourceOptions::Kubernetes(_) => ("kubernetes", None),
    };
    tracing::info!(
        version = %env!("CARGO_PKG_VERSION"),
        source = %mode,
        class = %options.translate.ingress_class,
        controller = %options.translate.controller_name,
        manifests = manifests.as_deref(),
        "wicket starting"
    );
    let http = listen::bind("http", options.http_addr).await?;
    let https = listen::bind("https", options.https_addr).await?;
    let admin = listen::bind("admin", options.admin_addr).await?;
    Ok(Started {
        options,
        source,
        changes,
        http,
        https,
        admin,
        registry,
        proxy_metrics,
        metrics,
    })
}

impl Started {
    /// The bound HTTP address (the real port when configured with port 0).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.local_addr().ok()
    }

    /// The bound HTTPS address.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https.local_addr().ok()
    }

    /// Serves until `shutdown` completes or a listener fails, then shuts down gracefully:
    /// readiness fails at once, listeners close after the shutdown delay, and open
    /// connections get the shutdown grace to finish.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ControllerError> {
        let Started {
            options,
            source,
            changes,
            http,
            https,
            admin,
            registry,
            proxy_metrics,
            metrics,
        } = self;
        let access_log = AccessLog::stdout(
            options.access_log,
            proxy_metrics.access_log_dropped().clone(),
        )
        .map_err(ControllerError::Runtime)?;
        let telemetry = Telemetry::new(proxy_metrics, access_log.clone());
        let handle = Arc::new(TableHandle::new());
        let readiness = Arc::new(Readiness::new(handle.clone()));
        let (stop, stopped) = watch::channel(false);
        let drain = Drain::new();

        let proxy_config = Arc::new(options.proxy.clone());
        let mut proxy_task = tokio::spawn(proxy::server::serve_http(
            http,
            handle.clone(),
            proxy_config.clone(),
            telemetry.clone(),
            drain.clone(),
        ));
        let mut https_task = tokio::spawn(proxy::server::serve_https(
            https,
            handle.clone(),
            proxy_config,
            telemetry,
            drain.clone(),
        ));
        let admin_state = Arc::new(Admin::new(readiness.clone(), Arc::new(registry)));
        let mut admin_task = tokio::spawn(admin::serve(admin, admin_state, until(stopped.clone())));
        readiness.set_listening();
        let mut reconcile_task = match source {
            Opened::Manifests(source) => {
                let reconciler = Reconciler::new(source, handle, options.translate.clone())
                    .with_metrics(metrics);
                tokio::spawn(reconcile::run(reconciler, changes, until(stopped)))
            }
            Opened::Kubernetes {
                client,
                options: kube,
            } => tokio::spawn(run_kubernetes(
                client,
                kube,
                options.translate.clone(),
                handle,
                changes,
                metrics,
                stopped,
            )),
        };

        let outcome = tokio::select! {
            () = shutdown => {
                readiness.set_draining();
                tracing::info!(
                    delay = %HumanDuration(options.shutdown_delay),
                    grace = %HumanDuration(options.shutdown_grace),
                    "shutting down: not ready; listeners close after the delay"
                );
                tokio::time::sleep(options.shutdown_delay).await;
                Ok(())
            }
            result = &mut proxy_task => Err(match result {
                Ok(Err(source)) => ControllerError::Serve { listener: "http", source },
                _ => ControllerError::Stopped("the http listener"),
            }),
            result = &mut https_task => Err(match result {
                Ok(Err(source)) => ControllerError::Serve { listener: "https", source },
                _ => ControllerError::Stopped("the https listener"),
            }),
            _ = &mut admin_task => Err(ControllerError::Stopped("the admin listener")),
            result = &mut reconcile_task => Err(match result {
                Ok(Err(error)) => error,
                _ => ControllerError::Stopped("the reconcile loop"),
            }),
        };
        readiness.set_draining();
        drain.stop_accepting();
        // A finished task has been awaited by the select above and must not be awaited again.
        if !proxy_task.is_finished()
            && let Ok(Err(error)) = proxy_task.await
        {
            tracing::error!(%error, "http listener failed while stopping");
        }
        if !https_task.is_finished()
            && let Ok(Err(error)) = https_task.await
        {
            tracing::error!(%error, "https listener failed while stopping");
        }
        tracing::info!(
            open = drain.open(),
            grace = %HumanDuration(options.shutdown_grace),
            "listeners closed; draining open connections"
        );
        let report = drain.wait(options.shutdown_grace).await;
        tracing::info!(
            drained = report.drained,
            cut = report.cut,
            "shutdown complete"
        );
        // The admin listener answers (readiness failing) until the drain is over.
        let _ = stop.send(true);
        if !admin_task.is_finished() {
            let _ = admin_task.await;
        }
        if !reconcile_task.is_finished() {
            let _ = reconcile_task.await;
        }
        let _ = tokio::task::spawn_blocking(move || access_log.close()).await;
        outcome
    }
}

/// Completes once `stopped` turns true (or its sender is gone).
async fn until(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Aborts the task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The Kubernetes mode: reflectors, then (after every store synced) the reconcile loop;
/// beside it the election, and the status writer and Event recorder fed by its reports.
async fn run_kubernetes(
    client: kube::Client,
    options: KubeOptions,
    translate: TranslateConfig,
    handle: Arc<TableHandle>,
    changes: Changes,
    metrics: Arc<ControllerMetrics>,
    stopped: watch::Receiver<bool>,
) -> Result<(), ControllerError> {
    let (source, watches): (KubeSource, Watches) = KubeSource::start_with(
        &client,
        &options.watch,
        translate.clone(),
        changes.clone(),
        Some(&metrics),
    );
    let stores = source.stores().clone();
    tracing::info!(
        namespace = options.watch.namespace.as_deref().unwrap_or("*"),
        "watching the Kubernetes API"
    );
    let (leader, election) = leader::spawn(
        client.clone(),
        options.election.clone(),
        until(stopped.clone()),
    );
    let (reconciler, reports) = Reconciler::new(source, handle, translate.clone())
        .with_metrics(metrics.clone())
        .with_reports();
    let mut helpers = Vec::new();
    helpers.push(AbortOnDrop(tokio::spawn(mirror_leader(
        leader.clone(),
        metrics,
    ))));
    if let Some(publish) = &options.publish {
        let (desired, follow) = status::desired(&client, publish);
        helpers.extend(follow.map(AbortOnDrop));
        helpers.push(AbortOnDrop(tokio::spawn(status::run(
            client.clone(),
            stores.ingresses.clone(),
            reports.clone(),
            leader.clone(),
            desired,
            until(stopped.clone()),
        ))));
    }
    let reporter = Reporter {
        controller: translate.controller_name.clone(),
        instance: options.election.identity.clone(),
    };
    helpers.push(AbortOnDrop(tokio::spawn(events::run(
        client,
        reporter,
        stores.ingresses.clone(),
        reports,
        leader,
        until(stopped.clone()),
    ))));

    let result = tokio::select! {
        ready = stores.ready() => match ready {
            Ok(()) => {
                tracing::info!("stores synced");
                reconcile::run(reconciler, changes, until(stopped.clone())).await
            }
            Err(error) => Err(error),
        },
        () = until(stopped.clone()) => Ok(()),
    };
    // The election releases the Lease on the way out.
    let _ = election.await;
    drop(helpers);
    drop(watches);
    result
}

/// Keeps `wicket_leader` equal to the election's state.
async fn mirror_leader(mut leader: watch::Receiver<bool>, metrics: Arc<ControllerMetrics>) {
    loop {
        metrics.set_leader(*leader.borrow_and_update());
        if leader.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{self, Cli, Command};

    fn kube_args(extra: &[&str]) -> KubeArgs {
        let mut all = vec!["wicket", "serve"];
        all.extend_from_slice(extra);
        match args::parse(all) {
            Ok(Cli {
                command: Command::Serve(serve),
                ..
            }) => serve.kube,
            _ => panic!("serve should parse"),
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_election_namespace_comes_from_the_flag_then_pod_namespace_then_wicket() {
        let pod_namespace = |name: &str| (name == "POD_NAMESPACE").then(|| "edge".to_owned());
        let options = |extra: &[&str], env: &dyn Fn(&str) -> Option<String>| {
            KubeOptions::from_args(&kube_args(extra), env).expect("valid")
        };
        let flagged = ["--election-namespace", "infra"];
        assert_eq!(
            options(&flagged, &pod_namespace).election.namespace,
            "infra"
        );
        assert_eq!(options(&[], &pod_namespace).election.namespace, "edge");
        assert_eq!(options(&[], &no_env).election.namespace, "wicket");
    }

    #[test]
    fn status_addresses_override_the_publish_service() {
        let both = kube_args(&[
            "--publish-service",
            "wicket/lb",
            "--publish-status-address",
            "10.0.0.1",
        ]);
        let options = KubeOptions::from_args(&both, no_env).expect("valid");
        assert_eq!(
            options.publish,
            Some(Publish::Addresses(vec![Address {
                ip: Some("10.0.0.1".to_owned()),
                hostname: None
            }]))
        );
        let service = kube_args(&["--publish-service", "wicket/lb"]);
        let options = KubeOptions::from_args(&service, no_env).expect("valid");
        assert!(matches!(options.publish, Some(Publish::Service(_))));
        let neither = KubeOptions::from_args(&kube_args(&[]), no_env).expect("valid");
        assert_eq!(neither.publish, None);
    }

    #[test]
    fn the_renew_period_must_be_shorter_than_the_lease() {
        for extra in [
            &["--renew-period", "15s"][..],
            &["--renew-period", "0s"],
            &["--lease-duration", "500ms", "--renew-period", "100ms"],
        ] {
            let error = KubeOptions::from_args(&kube_args(extra), no_env).expect_err("invalid");
            assert_eq!(error.exit_code(), 2, "{extra:?}");
        }
    }

    #[test]
    fn an_explicit_identity_is_kept_and_the_default_is_unique() {
        let named = kube_args(&["--election-identity", "wicket-0"]);
        let options = KubeOptions::from_args(&named, no_env).expect("valid");
        assert_eq!(options.election.identity, "wicket-0");
    }
}
