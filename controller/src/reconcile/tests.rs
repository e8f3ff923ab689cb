//! Debounce arithmetic, issue de-duplication, and the loop against a counting source.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{
    issue::{ObjectKind, ObjectRef, Reason},
    snapshot::Snapshot,
};

use super::*;

const MS: Duration = Duration::from_millis(1);

#[test]
fn debounce_waits_for_quiet_after_the_last_change() {
    let t0 = Instant::now();
    let mut d = Debounce::new(15 * MS, 60 * MS);
    assert_eq!(d.deadline(), None);
    assert!(!d.take_due(t0));
    d.record(t0);
    assert_eq!(d.deadline(), Some(t0 + 15 * MS));
    d.record(t0 + 10 * MS);
    assert_eq!(d.deadline(), Some(t0 + 25 * MS));
    assert!(!d.take_due(t0 + 24 * MS));
    assert!(d.take_due(t0 + 25 * MS));
    assert_eq!(d.deadline(), None, "a taken burst is cleared");
}

#[test]
fn debounce_is_capped_after_the_first_change() {
    let t0 = Instant::now();
    let mut d = Debounce::new(15 * MS, 60 * MS);
    for i in 0..10 {
        d.record(t0 + i * 10 * MS);
    }
    assert_eq!(d.deadline(), Some(t0 + 60 * MS));
    assert!(d.take_due(t0 + 60 * MS));
    d.record(t0 + 95 * MS);
    assert_eq!(
        d.deadline(),
        Some(t0 + 110 * MS),
        "a new burst starts its own cap"
    );
}

/// A source that returns an empty snapshot and counts how often it was read.
struct Counting(Arc<AtomicUsize>);

impl Source for Counting {
    fn snapshot(&mut self) -> Snapshot {
        self.0.fetch_add(1, Ordering::SeqCst);
        Snapshot::default()
    }
}

fn issue(name: &str) -> Issue {
    let object = ObjectRef::new(ObjectKind::Ingress, "default", name);
    Issue::new(
        Reason::MissingService,
        object,
        None,
        "service web not found",
    )
}

#[test]
fn issues_are_logged_once_while_they_persist() {
    let handle = Arc::new(TableHandle::new());
    let source = Counting(Arc::default());
    let mut r = Reconciler::new(source, handle, TranslateConfig::default());
    assert_eq!(
        r.log_new_issues(vec![issue("a"), issue("b"), issue("a")]),
        2
    );
    assert_eq!(r.log_new_issues(vec![issue("b"), issue("a")]), 0);
    assert_eq!(r.log_new_issues(vec![issue("b")]), 0);
    assert_eq!(
        r.log_new_issues(vec![issue("a"), issue("b")]),
        1,
        "a came back"
    );
}

#[test]
fn the_first_rebuild_publishes_even_an_empty_table() {
    let handle = Arc::new(TableHandle::new());
    let mut r = Reconciler::new(
        Counting(Arc::default()),
        handle.clone(),
        TranslateConfig::default(),
    );
    assert_eq!(handle.generation(), 0);
    assert!(matches!(
        r.rebuild(),
        PublishOutcome::Published { generation: 1, .. }
    ));
    assert_eq!(r.rebuild(), PublishOutcome::Unchanged);
    assert_eq!(handle.generation(), 1);
}

#[tokio::test]
async fn the_loop_publishes_at_start_and_rereads_after_changes() {
    let reads = Arc::new(AtomicUsize::new(0));
    let handle = Arc::new(TableHandle::new());
    let reconciler = Reconciler::new(
        Counting(reads.clone()),
        handle.clone(),
        TranslateConfig::default(),
    );
    let changes = Changes::new();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(reconciler, changes.clone(), async {
        let _ = stopped.await;
    }));

    let deadline = Instant::now() + Duration::from_secs(20);
    while handle.generation() == 0 {
        assert!(Instant::now() < deadline, "no first publish");
        tokio::time::sleep(MS).await;
    }
    assert_eq!(reads.load(Ordering::SeqCst), 1);
    for _ in 0..5 {
        changes.notify();
    }
    while reads.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "no re-read after a change");
        tokio::time::sleep(MS).await;
    }
    let _ = stop.send(());
    let result = task.await.expect("reconcile task");
    assert!(result.is_ok());
    assert_eq!(handle.generation(), 1, "an equal table is not swapped");
}

#[test]
fn rebuilds_are_counted_as_publishes_and_skips() {
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = ControllerMetrics::new(&mut registry, false);
    let handle = Arc::new(TableHandle::new());
    let mut r = Reconciler::new(Counting(Arc::default()), handle, TranslateConfig::default())
        .with_metrics(metrics);
    r.rebuild();
    r.rebuild();
    r.rebuild();
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
    for line in [
        "wicket_table_publishes_total 1",
        "wicket_table_publish_skipped_total 2",
        "wicket_table_build_duration_seconds_count 3",
        "wicket_table_routes 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
}
