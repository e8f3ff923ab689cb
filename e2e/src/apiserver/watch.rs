//! Watch streams: newline-delimited JSON events over a chunked 200 response. Initial ADDED
//! events, replayed history, live changes filtered by selectors (an object that stops matching
//! is sent as DELETED, one that starts matching as ADDED), periodic BOOKMARKs, the
//! end-of-initial-events BOOKMARK, an ERROR event for an expired resourceVersion, and
//! `timeoutSeconds`.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::convert;
use super::resources::ResourceType;
use super::selector::{FieldSelector, LabelSelector};
use super::status::Status;
use super::store::{Change, ChangeKind, State, WatchItem, WatchStart};

/// What the client asked of the stream.
#[derive(Debug, Default)]
pub struct WatchOptions {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// `allowWatchBookmarks=true`.
    pub bookmarks: bool,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
}

/// A response body fed by a channel; it ends when the sender is dropped.
#[derive(Debug)]
pub struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// Starts streaming: `start` is the registered watch or the Status to send as an ERROR event.
pub fn stream(
    state: Arc<State>,
    rt: &'static ResourceType,
    start: Result<WatchStart, Status>,
    options: WatchOptions,
) -> ChannelBody {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        match start {
            Ok(start) => run(state, rt, start, options, tx).await,
            Err(status) => {
                let _ = tx
                    .send(line(&json!({"type": "ERROR", "object": status.to_json()})))
                    .await;
            }
        }
    });
    ChannelBody { rx }
}

fn line(event: &Value) -> Bytes {
    let mut bytes = event.to_string().into_bytes();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

fn bookmark(rt: &ResourceType, rv: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end && let Value::Object(m) = &mut metadata {
        m.insert(
            "annotations".to_owned(),
            json!({"k8s.io/initial-events-end": "true"}),
        );
    }
    line(&json!({
        "type": "BOOKMARK",
        "object": {"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": metadata}
    }))
}

/// Unregisters the watcher however the stream ends.
struct Registration {
    state: Arc<State>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.state.unregister(self.id);
    }
}

struct Filter<'a> {
    rt: &'static ResourceType,
    options: &'a WatchOptions,
}

impl Filter<'_> {
    fn matches(&self, stored: &Value) -> bool {
        self.options.labels.matches(stored) && self.options.fields.matches(stored)
    }

    fn event(&self, kind: &str, stored: &Value) -> Bytes {
        line(&json!({"type": kind, "object": convert::to_external(self.rt, stored)}))
    }

    /// The event this watcher sees for a change, if any.
    fn translate(&self, change: &Change) -> Option<Bytes> {
        let now = self.matches(&change.object);
        let before = change.old.as_ref().is_some_and(|o| self.matches(o));
        let kind = match change.kind {
            ChangeKind::Added => now.then_some("ADDED"),
            ChangeKind::Deleted => before.then_some("DELETED"),
            ChangeKind::Modified => match (before, now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            },
        }?;
        Some(self.event(kind, &change.object))
    }
}

async fn run(
    state: Arc<State>,
    rt: &'static ResourceType,
    start: WatchStart,
    options: WatchOptions,
    out: mpsc::Sender<Bytes>,
) {
    let WatchStart {
        id,
        mut rx,
        initial,
        initial_end,
        replay,
        skip_through,
    } = start;
    let _registration = Registration {
        state: state.clone(),
        id,
    };
    let filter = Filter {
        rt,
        options: &options,
    };
    for object in initial.iter().filter(|o| filter.matches(o)) {
        if out.send(filter.event("ADDED", object)).await.is_err() {
            return;
        }
    }
    if let Some(rv) = initial_end
        && out.send(bookmark(rt, rv, true)).await.is_err()
    {
        return;
    }
    for change in &replay {
        if let Some(event) = filter.translate(change)
            && out.send(event).await.is_err()
        {
            return;
        }
    }
    let every = state.bookmark_interval();
    let mut ticker = tokio::time::interval_at(Instant::now() + every, every);
    let deadline = options.timeout.map(|t| Instant::now() + t);
    loop {
        let event = tokio::select! {
            item = rx.recv() => match item {
                None => break,
                Some(WatchItem::Change(change)) if change.rv > skip_through => filter.translate(&change),
                Some(WatchItem::Change(_)) => None,
                Some(WatchItem::Bookmark(rv)) => {
                    (options.bookmarks && rv >= skip_through).then(|| bookmark(rt, rv, false))
                }
            },
            _ = ticker.tick(), if options.bookmarks => {
                state.request_bookmark(id);
                None
            }
            () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => break,
            () = out.closed() => break,
        };
        if let Some(event) = event
            && out.send(event).await.is_err()
        {
            break;
        }
    }
}
