//! The reconcile loop: change → debounce → snapshot → translate → publish, logging what is new.
//!
//! ```text
//! Changes ──► Debounce (hold-off after the last change, capped after the first) ──► rebuild:
//!   Source::snapshot() ──► Translator (incremental) ──► TableHandle::publish() ──► log issues once, errors, generation
//!                                      └──► Report (owned Ingresses, Issues) ──► status, Events
//! ```

use std::{
    collections::BTreeSet,
    future::Future,
    sync::Arc,
    time::{Duration, SystemTime},
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use proxy::{PublishOutcome, RouteTable, TableHandle};
use tokio::{sync::watch, time::Instant};

use crate::{
    error::ControllerError,
    issue::{Issue, Severity},
    metrics::ControllerMetrics,
    snapshot::Snapshot,
    source::{Changes, Source},
    translate::{TranslateConfig, Translator, class, namespace_of},
};

/// `(namespace, name)` of an Ingress.
pub type IngressKey = (String, String);

/// The [`IngressKey`] of an object's metadata (namespace `default` when unset).
pub fn ingress_key(meta: &ObjectMeta) -> IngressKey {
    (
        namespace_of(meta).to_owned(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// What one rebuild found, for the status writer and the Event recorder.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// The Ingresses this controller serves (by IngressClass ownership).
    pub owned: BTreeSet<IngressKey>,
    /// Every Issue of the rebuild, sorted.
    pub issues: Vec<Issue>,
}

impl Report {
    pub fn new(snapshot: &Snapshot, config: &TranslateConfig, issues: Vec<Issue>) -> Self {
        let owned = snapshot
            .ingresses
            .iter()
            .filter(|i| class::is_owned(i, &snapshot.classes, config))
            .map(|i| ingress_key(&i.metadata))
            .collect();
        Self { owned, issues }
    }
}

/// Receives a [`Report`] after every rebuild; `None` until the first.
pub type Reports = watch::Receiver<Option<Arc<Report>>>;

/// Quiet time after the last change before rebuilding: long enough to take the events of
/// one file write or one `kubectl apply` request together, short next to a rebuild.
pub const HOLD_OFF: Duration = Duration::from_millis(5);
/// Longest wait after the first change of a burst, however long the burst lasts.
pub const MAX_HOLD_OFF: Duration = Duration::from_millis(60);

/// Collapses a burst of changes into one rebuild: due [`HOLD_OFF`] after the last change,
/// but never later than [`MAX_HOLD_OFF`] after the first one.
#[derive(Clone, Copy, Debug)]
pub struct Debounce {
    hold_off: Duration,
    max_hold_off: Duration,
    /// `(first, last)` change of the pending burst.
    pending: Option<(Instant, Instant)>,
}

impl Debounce {
    pub fn new(hold_off: Duration, max_hold_off: Duration) -> Self {
        Self {
            hold_off,
            max_hold_off,
            pending: None,
        }
    }

    /// Records a change seen at `now`.
    pub fn record(&mut self, now: Instant) {
        let first = self.pending.map_or(now, |(first, _)| first);
        self.pending = Some((first, now));
    }

    /// When the pending burst is due; `None` when nothing is pending.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending
            .map(|(first, last)| (last + self.hold_off).min(first + self.max_hold_off))
    }

    /// True (and the burst is cleared) when a burst is pending and due at `now`.
    pub fn take_due(&mut self, now: Instant) -> bool {
        let due = self.deadline().is_some_and(|deadline| deadline <= now);
        if due {
            self.pending = None;
        }
        due
    }
}

impl Default for Debounce {
    fn default() -> Self {
        Self::new(HOLD_OFF, MAX_HOLD_OFF)
    }
}

/// Everything one rebuild needs; moved into a blocking task and back.
pub struct Reconciler<S> {
    source: S,
    handle: Arc<TableHandle>,
    translator: Translator,
    /// Issues already logged; an Issue that disappears and comes back is logged again.
    logged: BTreeSet<Issue>,
    reports: Option<watch::Sender<Option<Arc<Report>>>>,
    metrics: Option<Arc<ControllerMetrics>>,
}

impl<S: Source> Reconciler<S> {
    pub fn new(source: S, handle: Arc<TableHandle>, config: TranslateConfig) -> Self {
        Self {
            source,
            handle,
            translator: Translator::new(config),
            logged: BTreeSet::new(),
            reports: None,
            metrics: None,
        }
    }

    /// Also records every rebuild in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<ControllerMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Also hands a [`Report`] to the returned receiver after every rebuild.
    pub fn with_reports(mut self) -> (Self, Reports) {
        let (tx, rx) = watch::channel(None);
        self.reports = Some(tx);
        (self, rx)
    }

    /// Reads the source, translates, publishes and logs. Blocking (reads files).
    pub fn rebuild(&mut self) -> PublishOutcome {
        let started = std::time::Instant::now();
        let snapshot = self.source.snapshot();
        let read = started.elapsed();
        let (table, issues) = self.translator.translate(&snapshot);
        let translated = started.elapsed();
        let (vhosts, routes) = counts(&table);
        let outcome = self.handle.publish(table);
        let published = started.elapsed();
        // Reporting and logging come after the swap: they are not on the path of a change
        // to traffic.
        let report = self
            .reports
            .as_ref()
            .map(|_| Report::new(&snapshot, self.translator.config(), issues.clone()));
        self.log_new_issues(issues);
        if let Some(metrics) = &self.metrics {
            metrics.observe_build(started.elapsed());
            metrics.record_publish(&outcome, &self.handle.load().table, SystemTime::now());
        }
        match &outcome {
            PublishOutcome::Published { generation, errors } => {
                for error in errors {
                    tracing::error!(%error, "route skipped");
                }
                tracing::info!(
                    generation,
                    vhosts,
                    routes,
                    read_ms = millis(read),
                    translate_ms = millis(translated - read),
                    publish_ms = millis(published - translated),
                    "table published"
                );
            }
            PublishOutcome::Unchanged => {
                tracing::debug!(vhosts, routes, "table unchanged");
            }
        }
        if let (Some(reports), Some(report)) = (&self.reports, report) {
            reports.send_replace(Some(Arc::new(report)));
        }
        outcome
    }

    /// Logs every Issue not logged in the previous rebuild; returns how many were logged.
    fn log_new_issues(&mut self, issues: Vec<Issue>) -> usize {
        let current: BTreeSet<Issue> = issues.into_iter().collect();
        let mut logged = 0;
        for issue in current.difference(&self.logged) {
            logged += 1;
            match issue.severity {
                Severity::Error => tracing::error!("{issue}"),
                Severity::Warning => tracing::warn!("{issue}"),
            }
        }
        self.logged = current;
        logged
    }
}

/// A duration in milliseconds with microsecond resolution, for log fields.
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// `(virtual hosts, routes)` of a table, for the publish log line.
fn counts(table: &RouteTable) -> (usize, usize) {
    let routes = table.virtual_hosts.iter().map(|v| v.routes.len()).sum();
    (table.virtual_hosts.len(), routes)
}

/// Publishes once right away (even an empty result), then after every debounced change,
/// until `shutdown` completes.
pub async fn run<S: Source + Send + 'static>(
    reconciler: Reconciler<S>,
    changes: Changes,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ControllerError> {
    let worker = Worker::start(reconciler)?;
    worker.rebuild().await?;
    let mut debounce = Debounce::default();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let deadline = debounce.deadline();
        tokio::select! {
            () = &mut shutdown => return Ok(()),
            () = changes.changed() => debounce.record(Instant::now()),
            () = sleep_until(deadline), if deadline.is_some() => {
                if debounce.take_due(Instant::now()) {
                    worker.rebuild().await?;
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    if let Some(deadline) = deadline {
        tokio::time::sleep_until(deadline).await;
    }
}

/// The one thread every rebuild runs on. Rebuilds block (files are read) and allocate a
/// whole table; keeping them on one thread keeps that memory in one allocator arena instead
/// of one per blocking-pool thread.
struct Worker {
    requests: std::sync::mpsc::Sender<tokio::sync::oneshot::Sender<()>>,
}

impl Worker {
    fn start<S: Source + Send + 'static>(
        mut reconciler: Reconciler<S>,
    ) -> Result<Self, ControllerError> {
        let (requests, incoming) = std::sync::mpsc::channel::<tokio::sync::oneshot::Sender<()>>();
        std::thread::Builder::new()
            .name("reconcile".to_owned())
            .spawn(move || {
                // Ends when the `Worker` is dropped.
                while let Ok(done) = incoming.recv() {
                    reconciler.rebuild();
                    let _ = done.send(());
                }
            })
            .map_err(|_| ControllerError::Stopped("the reconcile loop"))?;
        Ok(Self { requests })
    }

    /// Runs one rebuild on the worker thread and waits for it.
    async fn rebuild(&self) -> Result<(), ControllerError> {
        let (done, finished) = tokio::sync::oneshot::channel();
        let stopped = |_| ControllerError::Stopped("the reconcile loop");
        self.requests.send(done).map_err(|_| stopped(()))?;
        finished.await.map_err(|_| stopped(()))
    }
}

#[cfg(test)]
mod tests;
