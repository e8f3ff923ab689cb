//! Graceful shutdown: stop accepting, let connections and upgraded streams finish within a
//! grace period, cut what remains and say how many of each.
//!
//! ```text
//! let drain = Drain::new();
//! serve_http(.., drain.clone())   every accepted connection (TLS handshake included) and
//! serve_https(.., drain.clone())  every upgraded stream (WebSocket splice) is tracked
//!
//! drain.stop_accepting()          listeners close (new connections are refused) and serve_*
//!                                 return; HTTP/1 connections close after their current
//!                                 response, HTTP/2 connections get GOAWAY and finish their
//!                                 open streams; upgraded streams keep running
//! drain.wait(grace).await         ─► DrainReport { drained, cut }: tracked tasks that ended
//!                                 on their own after the stop, and those cut at `grace`
//! ```

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use hyper_util::server::graceful::GracefulConnection;
use tokio::sync::watch;

/// Where the shutdown is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Serving,
    Stopping,
    Cut,
}

/// The shutdown trigger and tracker shared by the listeners of one process. Cloning is
/// cheap; every clone controls the same drain.
#[derive(Clone, Debug)]
pub struct Drain {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    phase: watch::Sender<Phase>,
    open: watch::Sender<usize>,
    drained: AtomicUsize,
    cut: AtomicUsize,
}

/// What [`Drain::wait`] saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Connections and upgraded streams that were open at the stop and ended on their own.
    pub drained: usize,
    /// Connections and upgraded streams still open at the end of the grace period.
    pub cut: usize,
}

impl Default for Drain {
    fn default() -> Self {
        Self::new()
    }
}

impl Drain {
    /// A drain in the serving phase with nothing tracked.
    pub fn new() -> Drain {
        Drain {
            inner: Arc::new(Inner {
                phase: watch::Sender::new(Phase::Serving),
                open: watch::Sender::new(0),
                drained: AtomicUsize::new(0),
                cut: AtomicUsize::new(0),
            }),
        }
    }

    /// Tells the listeners to stop accepting and the open connections to finish. Idempotent.
    pub fn stop_accepting(&self) {
        self.inner.phase.send_if_modified(|phase| {
            let serving = *phase == Phase::Serving;
            if serving {
                *phase = Phase::Stopping;
            }
            serving
        });
    }

    /// True once [`Drain::stop_accepting`] was called.
    pub fn is_stopping(&self) -> bool {
        *self.inner.phase.borrow() != Phase::Serving
    }

    /// Completes once [`Drain::stop_accepting`] was called.
    pub async fn stopping(&self) {
        let mut phase = self.inner.phase.subscribe();
        let _ = phase.wait_for(|phase| *phase != Phase::Serving).await;
    }

    /// Connections and upgraded streams open now.
    pub fn open(&self) -> usize {
        *self.inner.open.borrow()
    }

    /// Stops accepting (if not yet), waits up to `grace` for every tracked connection and
    /// upgraded stream to end, then cuts the rest and waits for them to close.
    pub async fn wait(&self, grace: Duration) -> DrainReport {
        self.stop_accepting();
        let mut open = self.inner.open.subscribe();
        let idle = async { open.wait_for(|open| *open == 0).await.is_ok() };
        let finished = tokio::time::timeout(grace, idle).await.is_ok();
        if !finished {
            self.inner.phase.send_replace(Phase::Cut);
            // Every tracked task selects on the cut, so this completes promptly.
            let _ = open.wait_for(|open| *open == 0).await;
        }
        DrainReport {
            drained: self.inner.drained.load(Ordering::Relaxed),
            cut: self.inner.cut.load(Ordering::Relaxed),
        }
    }

    /// Registers one task (a connection or an upgraded stream) until the guard is dropped.
    pub(crate) fn track(&self) -> Tracked {
        self.inner.open.send_modify(|open| *open += 1);
        Tracked {
            inner: self.inner.clone(),
            cut: false,
        }
    }
}

/// One tracked connection or upgraded stream; counted as drained or cut when dropped.
#[derive(Debug)]
pub(crate) struct Tracked {
    inner: Arc<Inner>,
    cut: bool,
}

impl Tracked {
    /// Runs `task` to its end, or until the drain cuts it (then `None`).
    pub(crate) async fn run<F: Future>(&mut self, task: F) -> Option<F::Output> {
        let mut phase = self.inner.phase.subscribe();
        tokio::select! {
            output = task => Some(output),
            _ = phase.wait_for(|phase| *phase == Phase::Cut) => {
                self.cut = true;
                None
            }
        }
    }

    /// Serves a hyper connection to its end: asks it to finish once the drain stops
    /// accepting, drops it when the drain cuts.
    ///
    /// The connection is polled on every wake-up of its task; the phase only when the
    /// phase's own waker fired (see [`PhaseSignal`]), so a busy connection does not pay
    /// for the drain on each request.
    pub(crate) async fn serve<C>(&mut self, conn: C) -> Option<Result<(), C::Error>>
    where
        C: GracefulConnection,
    {
        let mut stopping_rx = self.inner.phase.subscribe();
        let mut cutting_rx = self.inner.phase.subscribe();
        let stopping = stopping_rx.wait_for(|phase| *phase != Phase::Serving);
        let cutting = cutting_rx.wait_for(|phase| *phase == Phase::Cut);
        tokio::pin!(conn, stopping, cutting);
        let signal = Arc::new(PhaseSignal::default());
        let phase_waker = Waker::from(signal.clone());
        let mut registered: Option<Waker> = None;
        let mut asked = false;
        let output = std::future::poll_fn(|cx| {
            loop {
                if let Poll::Ready(result) = conn.as_mut().poll(cx) {
                    return Poll::Ready(Some(result));
                }
                if !registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    let waker = cx.waker().clone();
                    signal.set_task(waker.clone());
                    registered = Some(waker);
                }
                if !signal.take_changed() {
                    return Poll::Pending;
                }
                let mut phase_cx = Context::from_waker(&phase_waker);
                if cutting.as_mut().poll(&mut phase_cx).is_ready() {
                    return Poll::Ready(None);
                }
                if asked || stopping.as_mut().poll(&mut phase_cx).is_pending() {
                    return Poll::Pending;
                }
                asked = true;
                conn.as_mut().graceful_shutdown();
                // Poll the connection again: it may finish at once.
            }
        })
        .await;
        if output.is_none() {
            self.cut = true;
        }
        output
    }
}

/// The waker given to the drain's phase futures inside [`Tracked::serve`]: notes that the
/// phase may have changed and wakes the connection's task.
#[derive(Debug)]
struct PhaseSignal {
    /// True when the phase futures must be polled (initially, and after each wake).
    changed: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Default for PhaseSignal {
    fn default() -> Self {
        PhaseSignal {
            changed: AtomicBool::new(true),
            task: Mutex::new(None),
        }
    }
}

impl PhaseSignal {
    fn set_task(&self, waker: Waker) {
        *self.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(waker);
    }

    fn take_changed(&self) -> bool {
        self.changed.swap(false, Ordering::AcqRel)
    }
}

impl Wake for PhaseSignal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.changed.store(true, Ordering::Release);
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(task) = task.as_ref() {
            task.wake_by_ref();
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.cut {
            self.inner.cut.fetch_add(1, Ordering::Relaxed);
        } else if *self.inner.phase.borrow() != Phase::Serving {
            self.inner.drained.fetch_add(1, Ordering::Relaxed);
        }
        self.inner
            .open
            .send_modify(|open| *open = open.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_drained_and_cut_tasks() {
        let drain = Drain::new();
        let mut before = drain.track();
        assert_eq!(before.run(async {}).await, Some(()));
        drop(before);
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let mut finishing = drain.track();
        let finisher = tokio::spawn(async move { finishing.run(released).await.is_some() });
        let mut stuck = drain.track();
        let stuck = tokio::spawn(async move { stuck.run(std::future::pending::<()>()).await });
        assert_eq!(drain.open(), 2);
        drain.stop_accepting();
        assert!(drain.is_stopping());
        let _ = release.send(());
        assert!(matches!(finisher.await, Ok(true)));
        let report = drain.wait(Duration::from_millis(50)).await;
        assert_eq!(report, DrainReport { drained: 1, cut: 1 });
        assert!(matches!(stuck.await, Ok(None)));
        assert_eq!(drain.open(), 0);
    }

    #[tokio::test]
    async fn an_idle_drain_reports_nothing() {
        let drain = Drain::new();
        let report = drain.wait(Duration::from_secs(5)).await;
        assert_eq!(report, DrainReport::default());
        drain.stopping().await;
    }
}
