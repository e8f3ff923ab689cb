//! Lease decisions (pure: a Lease, the clock, how long it looked the same) and the Leases
//! a replica writes.

use super::*;

const ME: &str = "wicket-a";
const SECOND: Duration = Duration::from_secs(1);

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + second).expect("valid timestamp")
}

fn record(holder: Option<&str>, renewed: i64) -> Record {
    Record {
        holder: holder.map(str::to_owned),
        renew_time: Some(at(renewed)),
        lease_duration: Some(15 * SECOND),
        transitions: 3,
    }
}

fn config() -> ElectionConfig {
    ElectionConfig {
        namespace: "wicket".to_owned(),
        name: "wicket-leader".to_owned(),
        identity: ME.to_owned(),
        lease_duration: 15 * SECOND,
        renew_period: 2 * SECOND,
    }
}

#[test]
fn a_missing_lease_is_created() {
    assert_eq!(
        decide(None, ME, at(0), Duration::ZERO, 15 * SECOND),
        Decision::Create
    );
}

#[test]
fn our_lease_is_renewed_even_when_late() {
    let ours = record(Some(ME), 0);
    assert_eq!(
        decide(Some(&ours), ME, at(5), Duration::ZERO, 15 * SECOND),
        Decision::Renew
    );
    assert_eq!(
        decide(Some(&ours), ME, at(60), Duration::ZERO, 15 * SECOND),
        Decision::Renew
    );
}

#[test]
fn a_valid_foreign_lease_is_followed() {
    let theirs = record(Some("wicket-b"), 0);
    assert_eq!(
        decide(Some(&theirs), ME, at(14), 14 * SECOND, 15 * SECOND),
        Decision::Follow {
            holder: "wicket-b".to_owned()
        }
    );
}

#[test]
fn a_free_or_expired_lease_is_taken_over() {
    let free = record(None, 0);
    assert_eq!(
        decide(Some(&free), ME, at(1), Duration::ZERO, 15 * SECOND),
        Decision::TakeOver
    );
    // Expired by the wall clock (renewTime + duration has passed).
    let theirs = record(Some("wicket-b"), 0);
    assert_eq!(
        decide(Some(&theirs), ME, at(15), Duration::ZERO, 15 * SECOND),
        Decision::TakeOver
    );
    // Expired by observation: unchanged for the duration although its clock runs ahead.
    let ahead = record(Some("wicket-b"), 100);
    assert_eq!(
        decide(Some(&ahead), ME, at(0), 15 * SECOND, 15 * SECOND),
        Decision::TakeOver
    );
    assert!(matches!(
        decide(Some(&ahead), ME, at(0), 14 * SECOND, 15 * SECOND),
        Decision::Follow { .. }
    ));
    // No renewTime at all counts as expired.
    let never = Record {
        renew_time: None,
        ..theirs
    };
    assert_eq!(
        decide(Some(&never), ME, at(0), Duration::ZERO, 15 * SECOND),
        Decision::TakeOver
    );
}

#[test]
fn the_lease_duration_of_the_lease_wins_over_ours() {
    let short = Record {
        lease_duration: Some(5 * SECOND),
        ..record(Some("wicket-b"), 0)
    };
    assert_eq!(
        decide(Some(&short), ME, at(5), Duration::ZERO, 60 * SECOND),
        Decision::TakeOver
    );
}

#[test]
fn the_observer_measures_how_long_a_record_stays_the_same() {
    let t0 = Instant::now();
    let mut observer = Observer::default();
    let a = record(Some("wicket-b"), 0);
    assert_eq!(observer.observe(Some(&a), t0), Duration::ZERO);
    assert_eq!(observer.observe(Some(&a), t0 + 3 * SECOND), 3 * SECOND);
    let renewed = record(Some("wicket-b"), 2);
    assert_eq!(
        observer.observe(Some(&renewed), t0 + 4 * SECOND),
        Duration::ZERO
    );
    assert_eq!(observer.observe(Some(&renewed), t0 + 5 * SECOND), SECOND);
    assert_eq!(observer.observe(None, t0 + 6 * SECOND), Duration::ZERO);
}

#[test]
fn taking_over_counts_a_transition_and_renewing_does_not() {
    let config = config();
    let theirs = held(
        &ElectionConfig {
            identity: "wicket-b".to_owned(),
            ..config.clone()
        },
        at(0),
        None,
    );
    let mut theirs = theirs;
    theirs.metadata.resource_version = Some("41".to_owned());
    let taken = held(&config, at(20), Some(&theirs));
    let spec = taken.spec.clone().unwrap_or_default();
    assert_eq!(spec.holder_identity.as_deref(), Some(ME));
    assert_eq!(spec.lease_transitions, Some(1));
    assert_eq!(spec.acquire_time, Some(MicroTime(at(20))));
    assert_eq!(spec.lease_duration_seconds, Some(15));
    assert_eq!(
        taken.metadata.resource_version.as_deref(),
        Some("41"),
        "optimistic concurrency"
    );

    let renewed = held(&config, at(22), Some(&taken));
    let spec = renewed.spec.unwrap_or_default();
    assert_eq!(spec.lease_transitions, Some(1));
    assert_eq!(spec.acquire_time, Some(MicroTime(at(20))));
    assert_eq!(spec.renew_time, Some(MicroTime(at(22))));
}

#[test]
fn a_released_lease_is_free_for_the_next_replica() {
    let lease = released(&held(&config(), at(0), None), at(5));
    let record = Record::of(&lease);
    assert_eq!(record.holder, None);
    assert_eq!(
        decide(
            Some(&record),
            "wicket-b",
            at(5),
            Duration::ZERO,
            15 * SECOND
        ),
        Decision::TakeOver
    );
}

#[test]
fn a_leader_steps_down_before_others_may_take_over() {
    assert_eq!(config().renew_deadline(), 13 * SECOND);
    let tight = ElectionConfig {
        renew_period: 15 * SECOND,
        ..config()
    };
    assert!(tight.renew_deadline() < tight.lease_duration);
}

#[test]
fn identities_differ_between_processes_on_one_host() {
    assert_ne!(default_identity(), default_identity());
}
