//! Events on Ingresses: every [`Issue`] about an owned Ingress becomes one
//! `events.k8s.io/v1` Event (type Warning, reason and message from the Issue), written by
//! the leader only, once per (Ingress uid, reason, field, message) while the Issue lasts,
//! at a bounded rate.
//!
//! ```text
//! Report.issues (kind Ingress) + Ingress store (uid) ──► Candidate
//!   ──► Dedupe (emitted while present) ──► TokenBucket ──► POST events.k8s.io/v1 Event
//! ```

use std::{collections::HashSet, future::Future, sync::Arc, time::Duration};

use k8s_openapi::{
    api::{core::v1::ObjectReference, events::v1::Event, networking::v1::Ingress},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
use kube::{
    Api, Client,
    api::PostParams,
    runtime::reflector::{ObjectRef, Store},
};
use tokio::{sync::watch, time::Instant};

use crate::{
    issue::{Issue, ObjectKind},
    reconcile::{Report, Reports},
    source::kube::watch::Guarded,
};

/// The Event `action` of every Event wicket writes.
pub const ACTION: &str = "Translate";
/// Longest Event note the API accepts (events.k8s.io/v1: 1 kB).
const MAX_NOTE: usize = 1024;
/// Events allowed in a burst, and per second after it.
const BURST: f64 = 25.0;
const PER_SECOND: f64 = 5.0;

/// What makes two Events the same: the Ingress (by uid) and the Issue.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EventKey {
    pub uid: String,
    pub reason: &'static str,
    pub field: Option<String>,
    pub message: String,
}

/// One Event that the current Issues call for.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub key: EventKey,
    pub regarding: ObjectReference,
    pub note: String,
}

impl Candidate {
    /// The Event for `issue` about `ingress`; `None` when the Issue is not about an Ingress
    /// or the Ingress has no uid.
    pub fn new(issue: &Issue, ingress: &Ingress) -> Option<Self> {
        if issue.object.kind != ObjectKind::Ingress {
            return None;
        }
        let uid = ingress.metadata.uid.clone().filter(|u| !u.is_empty())?;
        let note = match &issue.field {
            Some(field) => format!("{field}: {}", issue.message),
            None => issue.message.clone(),
        };
        Some(Self {
            key: EventKey {
                uid: uid.clone(),
                reason: issue.reason.as_str(),
                field: issue.field.clone(),
                message: issue.message.clone(),
            },
            regarding: ObjectReference {
                api_version: Some(ObjectKind::Ingress.api_version().to_owned()),
                kind: Some(ObjectKind::Ingress.as_str().to_owned()),
                namespace: Some(issue.object.namespace.clone()),
                name: Some(issue.object.name.clone()),
                uid: Some(uid),
                resource_version: ingress.metadata.resource_version.clone(),
                field_path: None,
            },
            note: truncate(note, MAX_NOTE),
        })
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max.saturating_sub(3);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    text
}

/// Remembers which Events were written; an Issue that goes away and comes back is
/// written again.
#[derive(Debug, Default)]
pub struct Dedupe {
    emitted: HashSet<EventKey>,
}

impl Dedupe {
    /// Forgets Events whose Issue is gone; returns the candidates not written yet.
    pub fn fresh<'a>(&mut self, current: &'a [Candidate]) -> Vec<&'a Candidate> {
        let present: HashSet<&EventKey> = current.iter().map(|c| &c.key).collect();
        self.emitted.retain(|k| present.contains(k));
        let mut seen = HashSet::new();
        current
            .iter()
            .filter(|c| !self.emitted.contains(&c.key) && seen.insert(&c.key))
            .collect()
    }

    pub fn mark(&mut self, key: &EventKey) {
        self.emitted.insert(key.clone());
    }
}

/// A token bucket: `capacity` at once, `per_second` after that.
#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    pub fn new(capacity: f64, per_second: f64, now: Instant) -> Self {
        Self {
            capacity,
            per_second,
            tokens: capacity,
            at: now,
        }
    }

    /// Takes a token, or says how long until one is available.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / self.per_second,
            ))
        }
    }
}

/// Who writes the Events.
#[derive(Clone, Debug)]
pub struct Reporter {
    /// `reportingController`: the controller name.
    pub controller: String,
    /// `reportingInstance`: this replica's identity.
    pub instance: String,
}

/// The candidates of a report, with uids from the Ingress store.
fn candidates(report: &Report, ingresses: &Store<Guarded<Ingress>>) -> Vec<Candidate> {
    report
        .issues
        .iter()
        .filter(|i| i.object.kind == ObjectKind::Ingress)
        .filter_map(|issue| {
            let key = ObjectRef::new(&issue.object.name).within(&issue.object.namespace);
            let guarded = ingresses.get(&key)?;
            let ingress = guarded.0.as_ref().ok()?;
            Candidate::new(issue, ingress)
        })
        .collect()
}

/// Writes Events for every report while leading. Ends when `stop` completes.
pub async fn run(
    client: Client,
    reporter: Reporter,
    ingresses: Store<Guarded<Ingress>>,
    mut reports: Reports,
    mut leader: watch::Receiver<bool>,
    stop: impl Future<Output = ()>,
) {
    let mut dedupe = Dedupe::default();
    let mut bucket = TokenBucket::new(BURST, PER_SECOND, Instant::now());
    let mut stop = std::pin::pin!(stop);
    loop {
        let report: Option<Arc<Report>> = reports.borrow_and_update().clone();
        let leading = *leader.borrow_and_update();
        let mut retry = None;
        if let (Some(report), true) = (report, leading) {
            let current = candidates(&report, &ingresses);
            for candidate in dedupe.fresh(&current) {
                if let Err(wait) = bucket.take(Instant::now()) {
                    retry = Some(wait);
                    break;
                }
                write(&client, &reporter, candidate).await;
                dedupe.mark(&candidate.key);
            }
        }
        tokio::select! {
            () = &mut stop => return,
            r = reports.changed() => if r.is_err() { return },
            r = leader.changed() => if r.is_err() { return },
            () = tokio::time::sleep(retry.unwrap_or_default()), if retry.is_some() => {}
        }
    }
}

/// The Event object for `candidate`.
pub fn event(reporter: &Reporter, candidate: &Candidate, now: Timestamp) -> Event {
    let name = candidate.regarding.name.clone().unwrap_or_default();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{:x}", now.as_nanosecond())),
            namespace: candidate.regarding.namespace.clone(),
            ..Default::default()
        },
        event_time: Some(MicroTime(now)),
        type_: Some("Warning".to_owned()),
        reason: Some(candidate.key.reason.to_owned()),
        note: Some(candidate.note.clone()),
        action: Some(ACTION.to_owned()),
        regarding: Some(candidate.regarding.clone()),
        reporting_controller: Some(reporter.controller.clone()),
        reporting_instance: Some(truncate(reporter.instance.clone(), 128)),
        ..Default::default()
    }
}

/// Creates one Event; a failure is logged and not retried (the Issue is logged anyway).
async fn write(client: &Client, reporter: &Reporter, candidate: &Candidate) {
    let namespace = candidate.regarding.namespace.clone().unwrap_or_default();
    let name = candidate.regarding.name.clone().unwrap_or_default();
    let api = Api::<Event>::namespaced(client.clone(), &namespace);
    let event = event(reporter, candidate, Timestamp::now());
    match api.create(&PostParams::default(), &event).await {
        Ok(_) => tracing::info!(
            ingress = %format_args!("{namespace}/{name}"),
            reason = candidate.key.reason,
            "event recorded"
        ),
        Err(error) => tracing::warn!(
            ingress = %format_args!("{namespace}/{name}"),
            reason = candidate.key.reason,
            %error,
            "event not recorded"
        ),
    }
}

#[cfg(test)]
mod tests;
