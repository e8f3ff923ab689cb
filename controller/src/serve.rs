//! `wicket serve`: the manifests source, the reconcile loop, the proxy and the admin
//! listener, started together and stopped together.
//!
//! ```text
//! start(): open source ─► bind http ─► bind admin          (errors here exit 2 or 1)
//! run():   admin ┐
//!          proxy ├─ until shutdown ─► /readyz 503 ─► shutdown delay ─► listeners drain
//!      reconcile ┘
//! ```

use std::{future::Future, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use proxy::{TableHandle, config::ProxyConfig};
use tokio::{net::TcpListener, sync::watch};

use crate::{
    admin::{self, Readiness},
    args::ServeArgs,
    error::ControllerError,
    listen,
    reconcile::{self, Reconciler},
    source::{Changes, manifests::ManifestDir},
    translate::TranslateConfig,
};

/// Everything `serve` needs, independent of how it was configured.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub manifests: PathBuf,
    pub http_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub translate: TranslateConfig,
    pub proxy: ProxyConfig,
    pub shutdown_delay: Duration,
}

impl ServeOptions {
    pub fn from_args(args: &ServeArgs) -> Result<Self, ControllerError> {
        let Some(manifests) = args.manifests.clone() else {
            return Err(ControllerError::Usage(
                "--manifests DIR is required: this build has no Kubernetes API source".into(),
            ));
        };
        Ok(Self {
            manifests,
            http_addr: args.http_addr,
            admin_addr: args.admin_addr,
            translate: args.class.translate_config(),
            proxy: args.proxy.proxy_config(),
            shutdown_delay: args.shutdown_delay.0,
        })
    }
}

/// A serve whose source is open and whose listeners are bound, not yet serving.
pub struct Started {
    options: ServeOptions,
    source: ManifestDir,
    changes: Changes,
    http: TcpListener,
    admin: TcpListener,
}

/// Opens the source and binds the listeners (each logs `listening listener=.. addr=..`).
pub async fn start(options: ServeOptions) -> Result<Started, ControllerError> {
    let mut source = ManifestDir::open(&options.manifests)?;
    let changes = Changes::new();
    source.watch(changes.clone())?;
    let http = listen::bind("http", options.http_addr).await?;
    let admin = listen::bind("admin", options.admin_addr).await?;
    Ok(Started {
        options,
        source,
        changes,
        http,
        admin,
    })
}

impl Started {
    /// The bound HTTP address (the real port when configured with port 0).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.local_addr().ok()
    }

    /// Serves until `shutdown` completes or a listener fails.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ControllerError> {
        let Started {
            options,
            source,
            changes,
            http,
            admin,
        } = self;
        let handle = Arc::new(TableHandle::new());
        let readiness = Arc::new(Readiness::new(handle.clone()));
        let (stop, stopped) = watch::channel(false);
        let stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            }
        };

        let mut proxy_task = tokio::spawn(proxy::server::serve_http(
            http,
            handle.clone(),
            Arc::new(options.proxy.clone()),
            stopped(),
        ));
        let mut admin_task = tokio::spawn(admin::serve(admin, readiness.clone(), stopped()));
        readiness.set_listening();
        let reconciler = Reconciler::new(source, handle, options.translate.clone());
        let mut reconcile_task = tokio::spawn(reconcile::run(reconciler, changes, stopped()));

        let outcome = tokio::select! {
            () = shutdown => {
                readiness.set_draining();
                tracing::info!(delay = ?options.shutdown_delay, "shutting down");
                tokio::time::sleep(options.shutdown_delay).await;
                Ok(())
            }
            result = &mut proxy_task => Err(match result {
                Ok(Err(source)) => ControllerError::Serve { listener: "http", source },
                _ => ControllerError::Stopped("the http listener"),
            }),
            _ = &mut admin_task => Err(ControllerError::Stopped("the admin listener")),
            result = &mut reconcile_task => Err(match result {
                Ok(Err(error)) => error,
                _ => ControllerError::Stopped("the reconcile loop"),
            }),
        };
        readiness.set_draining();
        let _ = stop.send(true);
        // A finished task has been awaited by the select above and must not be awaited again.
        if !proxy_task.is_finished()
            && let Ok(Err(error)) = proxy_task.await
        {
            tracing::error!(%error, "http listener failed while stopping");
        }
        if !admin_task.is_finished() {
            let _ = admin_task.await;
        }
        if !reconcile_task.is_finished() {
            let _ = reconcile_task.await;
        }
        if outcome.is_ok() {
            tracing::info!("stopped");
        }
        outcome
    }
}
