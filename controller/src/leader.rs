//! Leader election over a `coordination.k8s.io/v1` Lease: only the holder writes Ingress
//! status and Events; every replica serves traffic.
//!
//! ```text
//! every --renew-period:  GET lease ─► decide() ─┬─ Create   (no Lease)            ─► POST
//!                                                ├─ Renew    (we hold it)          ─► PUT renewTime
//!                                                ├─ TakeOver (free or expired)     ─► PUT holder, transitions+1
//!                                                └─ Follow   (someone else, valid)
//! PUTs carry the resourceVersion read, so two replicas never both win (409 for the loser).
//! A leader whose renewals fail for --lease-duration minus --renew-period steps down.
//! On shutdown the leader releases the Lease (holder emptied) so another takes over at once.
//! ```
//!
//! A Lease expires when its `renewTime + leaseDurationSeconds` has passed, or when this
//! replica has seen it unchanged for `leaseDurationSeconds` (robust to clock skew).

use std::{future::Future, time::Duration};

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
use kube::{
    Api, Client,
    api::{PostParams, ResourceExt},
};
use tokio::{sync::watch, time::Instant};

/// How this replica takes part in the election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionConfig {
    pub namespace: String,
    /// The Lease name (`--election-id`).
    pub name: String,
    /// This replica's `holderIdentity`.
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_period: Duration,
}

impl ElectionConfig {
    /// How long a leader keeps leading without a successful renewal: it steps down one
    /// renew period before others may consider its Lease expired.
    pub fn renew_deadline(&self) -> Duration {
        self.lease_duration
            .checked_sub(self.renew_period)
            .filter(|d| !d.is_zero())
            .unwrap_or(self.lease_duration / 2)
    }
}

/// The parts of a Lease the decision reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub holder: Option<String>,
    pub renew_time: Option<Timestamp>,
    pub lease_duration: Option<Duration>,
    pub transitions: i32,
}

impl Record {
    pub fn of(lease: &Lease) -> Self {
        let spec = lease.spec.clone().unwrap_or_default();
        Self {
            holder: spec.holder_identity.filter(|h| !h.is_empty()),
            renew_time: spec.renew_time.or(spec.acquire_time).map(|t| t.0),
            lease_duration: spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map(Duration::from_secs),
            transitions: spec.lease_transitions.unwrap_or(0),
        }
    }
}

/// What to do with the Lease as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// There is no Lease: create it, held by us.
    Create,
    /// We hold it: renew.
    Renew,
    /// Nobody holds it, or the holder let it expire: take it over.
    TakeOver,
    /// Someone else holds a valid Lease.
    Follow { holder: String },
}

/// Decides from the Lease (`None`: it does not exist), the wall clock, and how long this
/// replica has seen the same record. `default_duration` applies when the Lease has none.
pub fn decide(
    lease: Option<&Record>,
    me: &str,
    now: Timestamp,
    unchanged_for: Duration,
    default_duration: Duration,
) -> Decision {
    let Some(record) = lease else {
        return Decision::Create;
    };
    let Some(holder) = &record.holder else {
        return Decision::TakeOver;
    };
    if holder == me {
        return Decision::Renew;
    }
    let duration = record.lease_duration.unwrap_or(default_duration);
    let duration_ms = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    let expired_by_clock = record.renew_time.is_none_or(|renewed| {
        renewed.as_millisecond().saturating_add(duration_ms) <= now.as_millisecond()
    });
    if expired_by_clock || unchanged_for >= duration {
        Decision::TakeOver
    } else {
        Decision::Follow {
            holder: holder.clone(),
        }
    }
}

/// Remembers since when the Lease record has looked the same to this replica.
#[derive(Debug, Default)]
pub struct Observer {
    seen: Option<(Option<Record>, Instant)>,
}

impl Observer {
    /// Records `record` as seen at `now`; returns how long it has been unchanged.
    pub fn observe(&mut self, record: Option<&Record>, now: Instant) -> Duration {
        match &self.seen {
            Some((seen, since)) if seen.as_ref() == record => now.saturating_duration_since(*since),
            _ => {
                self.seen = Some((record.cloned(), now));
                Duration::ZERO
            }
        }
    }
}

/// The Lease a replica writes when it creates, renews or takes over.
fn held(config: &ElectionConfig, now: Timestamp, previous: Option<&Lease>) -> Lease {
    let previous_spec = previous.and_then(|l| l.spec.clone()).unwrap_or_default();
    let ours = previous_spec.holder_identity.as_deref() == Some(config.identity.as_str());
    let transitions = previous_spec.lease_transitions.unwrap_or(0);
    let seconds = i32::try_from(config.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
    Lease {
        metadata: ObjectMeta {
            name: Some(config.name.clone()),
            namespace: Some(config.namespace.clone()),
            resource_version: previous.and_then(|l| l.metadata.resource_version.clone()),
            ..previous.map(|l| l.metadata.clone()).unwrap_or_default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(config.identity.clone()),
            lease_duration_seconds: Some(seconds),
            acquire_time: if ours {
                previous_spec.acquire_time
            } else {
                Some(MicroTime(now))
            },
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(match previous {
                Some(_) if !ours => transitions.saturating_add(1),
                _ => transitions,
            }),
            ..previous_spec
        }),
    }
}

/// The Lease as a leader leaves it on shutdown: no holder, so the next replica takes over
/// on its next try.
fn released(lease: &Lease, now: Timestamp) -> Lease {
    let mut lease = lease.clone();
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.renew_time = Some(MicroTime(now));
    lease
}

/// Starts the election; the receiver says whether this replica leads now. Ends (releasing
/// the Lease if held) when `stop` completes.
pub fn spawn(
    client: Client,
    config: ElectionConfig,
    stop: impl Future<Output = ()> + Send + 'static,
) -> (watch::Receiver<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let api = Api::namespaced(client, &config.namespace);
    let task = tokio::spawn(run(api, config, tx, stop));
    (rx, task)
}

async fn run(
    api: Api<Lease>,
    config: ElectionConfig,
    leader: watch::Sender<bool>,
    stop: impl Future<Output = ()>,
) {
    let mut elector = Elector {
        api,
        config,
        observer: Observer::default(),
        last_renewed: None,
        followed: None,
    };
    let mut stop = std::pin::pin!(stop);
    loop {
        let leading = tokio::select! {
            () = &mut stop => break,
            leading = elector.step() => leading,
        };
        leader.send_if_modified(|was| std::mem::replace(was, leading) != leading);
        tokio::select! {
            () = &mut stop => break,
            () = tokio::time::sleep(elector.config.renew_period) => {}
        }
    }
    if *leader.borrow() {
        leader.send_replace(false);
        if tokio::time::timeout(RELEASE_TIMEOUT, elector.release())
            .await
            .is_err()
        {
            tracing::warn!("lease release timed out");
        }
    }
}

/// Longest wait for the Lease release on shutdown.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(2);

struct Elector {
    api: Api<Lease>,
    config: ElectionConfig,
    observer: Observer,
    /// When we last created, renewed or took over the Lease, while leading.
    last_renewed: Option<Instant>,
    /// The holder last logged while following.
    followed: Option<String>,
}

impl Elector {
    /// One round; returns whether we lead afterwards.
    async fn step(&mut self) -> bool {
        let now = Instant::now();
        // A round never outlasts a renew period (at least a second): a hung request counts
        // as a failed renewal.
        let limit = self.config.renew_period.max(Duration::from_secs(1));
        let outcome = match tokio::time::timeout(limit, self.try_step(now)).await {
            Ok(outcome) => outcome.map_err(|e| e.to_string()),
            Err(_) => Err("timed out".to_owned()),
        };
        let leading = match outcome {
            Ok(true) => {
                if self.last_renewed.is_none() {
                    tracing::info!(
                        identity = %self.config.identity,
                        lease = %format_args!("{}/{}", self.config.namespace, self.config.name),
                        "leader acquired"
                    );
                }
                self.last_renewed = Some(now);
                self.followed = None;
                true
            }
            Ok(false) => false,
            Err(error) => {
                tracing::warn!(%error, lease = %self.config.name, "lease update failed");
                self.last_renewed.is_some_and(|last| {
                    now.saturating_duration_since(last) < self.config.renew_deadline()
                })
            }
        };
        if !leading && self.last_renewed.take().is_some() {
            tracing::warn!(identity = %self.config.identity, "leader lost");
        }
        leading
    }

    /// Reads the Lease and acts on [`decide`]: `Ok(true)` when we hold it afterwards.
    async fn try_step(&mut self, now: Instant) -> Result<bool, kube::Error> {
        let lease = self.api.get_opt(&self.config.name).await?;
        let record = lease.as_ref().map(Record::of);
        let unchanged_for = self.observer.observe(record.as_ref(), now);
        let decision = decide(
            record.as_ref(),
            &self.config.identity,
            Timestamp::now(),
            unchanged_for,
            self.config.lease_duration,
        );
        let params = PostParams::default();
        let write = match decision {
            Decision::Follow { holder } => {
                if self.followed.as_ref() != Some(&holder) {
                    tracing::info!(%holder, "following leader");
                    self.followed = Some(holder);
                }
                return Ok(false);
            }
            Decision::Create => {
                let lease = held(&self.config, Timestamp::now(), None);
                self.api.create(&params, &lease).await
            }
            Decision::Renew | Decision::TakeOver => {
                let lease = held(&self.config, Timestamp::now(), lease.as_ref());
                self.api.replace(&self.config.name, &params, &lease).await
            }
        };
        match write {
            Ok(_) => Ok(true),
            // Another replica wrote first: it leads, we follow.
            Err(kube::Error::Api(status)) if status.is_conflict() || status.is_already_exists() => {
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }

    /// Gives the Lease up if we still hold it.
    async fn release(&self) {
        let lease = match self.api.get_opt(&self.config.name).await {
            Ok(Some(lease)) => lease,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "lease release failed");
                return;
            }
        };
        if Record::of(&lease).holder.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        let name = lease.name_any();
        match self
            .api
            .replace(
                &name,
                &PostParams::default(),
                &released(&lease, Timestamp::now()),
            )
            .await
        {
            Ok(_) => tracing::info!(identity = %self.config.identity, "leader released"),
            Err(error) => tracing::warn!(%error, "lease release failed"),
        }
    }
}

/// This replica's identity: `POD_NAME` when set (by `--election-identity`), else the
/// host name plus a random suffix, so two processes on one host never share one.
pub fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "wicket".to_owned());
    format!("{host}-{:08x}", fastrand::u32(..))
}

#[cfg(test)]
mod tests;
