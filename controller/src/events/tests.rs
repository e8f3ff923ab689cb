//! Event content, de-duplication across rebuilds, and the rate bound.

use crate::issue::{ObjectRef, Reason};

use super::*;

fn ingress(uid: Option<&str>) -> Ingress {
    Ingress {
        metadata: ObjectMeta {
            namespace: Some("apps".to_owned()),
            name: Some("web".to_owned()),
            uid: uid.map(str::to_owned),
            resource_version: Some("7".to_owned()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn issue(reason: Reason, field: &str, message: &str) -> Issue {
    Issue::new(
        reason,
        ObjectRef::new(ObjectKind::Ingress, "apps", "web"),
        Some(field.to_owned()),
        message,
    )
}

fn candidate(reason: Reason, field: &str, message: &str) -> Candidate {
    Candidate::new(&issue(reason, field, message), &ingress(Some("u-1"))).expect("candidate")
}

#[test]
fn an_event_carries_the_issue_and_regards_the_ingress() {
    let c = candidate(
        Reason::MissingService,
        "spec.rules[0].http.paths[0].backend",
        "service \"app\" not found",
    );
    let reporter = Reporter {
        controller: "wicket.dev/ingress-controller".to_owned(),
        instance: "wicket-a".to_owned(),
    };
    let now = Timestamp::from_second(1_700_000_000).expect("time");
    let event = event(&reporter, &c, now);
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(event.reason.as_deref(), Some("MissingService"));
    assert_eq!(
        event.note.as_deref(),
        Some("spec.rules[0].http.paths[0].backend: service \"app\" not found")
    );
    assert_eq!(event.metadata.namespace.as_deref(), Some("apps"));
    let regarding = event.regarding.expect("regarding");
    assert_eq!(regarding.kind.as_deref(), Some("Ingress"));
    assert_eq!(
        regarding.api_version.as_deref(),
        Some("networking.k8s.io/v1")
    );
    assert_eq!(regarding.uid.as_deref(), Some("u-1"));
    assert_eq!(regarding.name.as_deref(), Some("web"));
    assert_eq!(
        event.reporting_controller.as_deref(),
        Some("wicket.dev/ingress-controller")
    );
    assert_eq!(event.action.as_deref(), Some(ACTION));
}

#[test]
fn only_ingress_issues_with_a_uid_become_events() {
    let about_service = Issue::new(
        Reason::NoEndpoints,
        ObjectRef::new(ObjectKind::Service, "apps", "web"),
        None,
        "m",
    );
    assert!(Candidate::new(&about_service, &ingress(Some("u-1"))).is_none());
    let i = issue(Reason::InvalidPath, "spec.rules[0]", "m");
    assert!(Candidate::new(&i, &ingress(None)).is_none());
}

#[test]
fn a_rebuild_does_not_repeat_events() {
    let mut dedupe = Dedupe::default();
    let a = candidate(
        Reason::InvalidPath,
        "spec.rules[0].http.paths[0].path",
        "bad",
    );
    let b = candidate(Reason::SnippetRefused, "metadata.annotations[x]", "refused");
    let current = vec![a.clone(), b.clone(), a.clone()];
    let fresh = dedupe.fresh(&current);
    assert_eq!(fresh, vec![&a, &b], "duplicates within one report collapse");
    dedupe.mark(&a.key);
    dedupe.mark(&b.key);
    assert!(
        dedupe.fresh(&current).is_empty(),
        "same issues, next rebuild"
    );

    // Same reason, different field or message: a different Event.
    let c = candidate(
        Reason::InvalidPath,
        "spec.rules[1].http.paths[0].path",
        "bad",
    );
    let current = vec![a.clone(), c.clone()];
    assert_eq!(dedupe.fresh(&current), vec![&c]);

    // An Issue that goes away and comes back is reported again.
    let without_a = vec![c.clone()];
    let _ = dedupe.fresh(&without_a);
    assert_eq!(dedupe.fresh(std::slice::from_ref(&a)), vec![&a]);
}

#[test]
fn a_recreated_ingress_gets_its_events_again() {
    let mut dedupe = Dedupe::default();
    let old = candidate(Reason::InvalidPath, "f", "bad");
    dedupe.mark(&old.key);
    let i = issue(Reason::InvalidPath, "f", "bad");
    let new = Candidate::new(&i, &ingress(Some("u-2"))).expect("candidate");
    assert_eq!(dedupe.fresh(&[old, new.clone()]), vec![&new]);
}

#[test]
fn the_rate_is_bounded_after_a_burst() {
    let t0 = Instant::now();
    let mut bucket = TokenBucket::new(3.0, 2.0, t0);
    for _ in 0..3 {
        assert_eq!(bucket.take(t0), Ok(()));
    }
    let wait = bucket.take(t0).expect_err("burst spent");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_millis(500),
        "{wait:?}"
    );
    assert_eq!(bucket.take(t0 + Duration::from_millis(500)), Ok(()));
    assert!(bucket.take(t0 + Duration::from_millis(500)).is_err());
    // Never more than the burst after a long quiet time.
    let later = t0 + Duration::from_secs(60);
    for _ in 0..3 {
        assert_eq!(bucket.take(later), Ok(()));
    }
    assert!(bucket.take(later).is_err());
}

#[test]
fn long_notes_are_cut_on_a_character_boundary() {
    let note = truncate("é".repeat(1000), MAX_NOTE);
    assert!(note.len() <= MAX_NOTE);
    assert!(note.ends_with("..."));
}
