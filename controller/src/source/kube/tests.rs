//! The readiness gate, the snapshot over the stores, and the trigger filter, driven by
//! watcher events applied straight to the stores.

use futures_util::FutureExt;
use k8s_openapi::api::core::v1::ServiceSpec;
use kube::core::{DeserializeGuard, error_boundary::InvalidObject};

use super::*;
use crate::manifest::Object;

fn ok<K>(object: K) -> Guarded<K> {
    DeserializeGuard(Ok(object))
}

fn meta(namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        namespace: Some(namespace.to_owned()),
        name: Some(name.to_owned()),
        ..Default::default()
    }
}

fn service(namespace: &str, name: &str) -> Service {
    Service {
        metadata: meta(namespace, name),
        spec: Some(ServiceSpec::default()),
        status: None,
    }
}

/// Lists `objects` into `writer` as one complete (re)list.
fn list<K: Resource<DynamicType = ()> + Clone>(
    writer: &mut Writer<Guarded<K>>,
    objects: Vec<Guarded<K>>,
) {
    writer.apply_watcher_event(&watcher::Event::Init);
    for object in objects {
        writer.apply_watcher_event(&watcher::Event::InitApply(object));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
}

fn fixture() -> Snapshot {
    Snapshot::from_yaml(
        r#"
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: wicket}
spec: {controller: wicket.dev/ingress-controller}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: apps}
spec:
  ingressClassName: wicket
  rules:
  - http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
"#,
    )
    .expect("fixture parses")
}

#[test]
fn nothing_is_ready_until_every_store_has_listed_once() {
    let (stores, mut w) = Stores::new();
    list(&mut w.ingresses, vec![]);
    list(&mut w.classes, vec![]);
    list(&mut w.services, vec![]);
    list(&mut w.slices, vec![]);
    let mut ready = Box::pin(stores.ready());
    assert!(
        (&mut ready).now_or_never().is_none(),
        "secrets not listed yet"
    );
    // Objects seen before the list completes do not make a store ready either.
    w.secrets.apply_watcher_event(&watcher::Event::Init);
    assert!((&mut ready).now_or_never().is_none());
    w.secrets.apply_watcher_event(&watcher::Event::InitDone);
    assert!(matches!((&mut ready).now_or_never(), Some(Ok(()))));
}

#[test]
fn a_dropped_writer_ends_the_wait_with_an_error() {
    let (stores, w) = Stores::new();
    drop(w);
    assert!(matches!(stores.ready().now_or_never(), Some(Err(_))));
}

#[test]
fn the_snapshot_skips_malformed_objects() {
    let (stores, mut w) = Stores::new();
    let broken = DeserializeGuard(Err(InvalidObject {
        error: "invalid type: string \"x\", expected u16".to_owned(),
        metadata: meta("apps", "broken"),
    }));
    list(&mut w.services, vec![ok(service("apps", "app")), broken]);
    let snapshot = Snapshots::default().read(&stores);
    let names: Vec<_> = snapshot
        .services
        .iter()
        .filter_map(|s| s.metadata.name.as_deref())
        .collect();
    assert_eq!(names, ["app"]);
}

/// Stores filled from the fixture, a trigger over them, and its change signal.
fn trigger() -> (Trigger, Changes, Writers) {
    let (stores, mut w) = Stores::new();
    let fixture = fixture();
    list(
        &mut w.ingresses,
        fixture
            .ingresses
            .iter()
            .map(|i| ok((**i).clone()))
            .collect(),
    );
    list(
        &mut w.classes,
        fixture.classes.iter().map(|c| ok((**c).clone())).collect(),
    );
    let changes = Changes::new();
    let trigger = Trigger::new(stores, TranslateConfig::default(), changes.clone());
    (trigger, changes, w)
}

fn notified(changes: &Changes) -> bool {
    changes.changed().now_or_never().is_some()
}

#[test]
fn only_referenced_dependents_trigger_a_rebuild() {
    let (trigger, changes, _w) = trigger();
    let unused = watcher::Event::Apply(ok(service("apps", "unused")));
    assert!(!trigger.dependent(Dependent::Service, &unused));
    assert!(!notified(&changes));
    let used = watcher::Event::Delete(ok(service("apps", "app")));
    assert!(trigger.dependent(Dependent::Service, &used));
    assert!(notified(&changes));
    // The first items of a relist wait for its end; the end always counts.
    let relisting = watcher::Event::InitApply(ok(service("apps", "unused")));
    assert!(!trigger.dependent(Dependent::Service, &relisting));
    assert!(trigger.dependent(
        Dependent::Service,
        &watcher::Event::<Guarded<Service>>::InitDone
    ));
}

#[test]
fn an_ingress_event_always_triggers_and_refreshes_the_references() {
    let (trigger, changes, mut w) = trigger();
    let other = watcher::Event::Apply(ok(service("apps", "other")));
    assert!(!trigger.dependent(Dependent::Service, &other));

    // The Ingress now points at `other`.
    let mut ingress = fixture().ingresses.remove(0);
    if let Some(Object::Ingress(edited)) = crate::manifest::parse_documents(
        r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: apps}
spec:
  ingressClassName: wicket
  defaultBackend: {service: {name: other, port: {number: 80}}}
"#,
    )
    .into_iter()
    .next()
    .and_then(Result::ok)
    {
        ingress = edited;
    }
    let event = watcher::Event::Apply(ok((*ingress).clone()));
    w.ingresses.apply_watcher_event(&event);
    trigger.owner(&event);
    assert!(notified(&changes));
    assert!(trigger.dependent(Dependent::Service, &other));
}

#[test]
fn ingress_events_that_change_nothing_translate_reads_are_no_change() {
    use k8s_openapi::api::networking::v1::{
        IngressLoadBalancerIngress, IngressLoadBalancerStatus, IngressStatus,
    };
    let (trigger, changes, _w) = trigger();
    let mut ingress = (*fixture().ingresses[0]).clone();
    ingress.metadata.uid = Some("u-1".to_owned());
    ingress.metadata.generation = Some(1);
    ingress.metadata.resource_version = Some("10".to_owned());
    let apply = |object: &Ingress| {
        trigger.ingress(&watcher::Event::Apply(ok(object.clone())));
        notified(&changes)
    };
    assert!(apply(&ingress), "a new Ingress is a change");
    assert!(!apply(&ingress), "the same version again is not");

    // A status write (ours, say) bumps resourceVersion only.
    ingress.metadata.resource_version = Some("11".to_owned());
    ingress.status = Some(IngressStatus {
        load_balancer: Some(IngressLoadBalancerStatus {
            ingress: Some(vec![IngressLoadBalancerIngress {
                ip: Some("203.0.113.10".to_owned()),
                ..Default::default()
            }]),
        }),
    });
    assert!(!apply(&ingress), "a status update is not a change");

    ingress.metadata.generation = Some(2);
    assert!(apply(&ingress), "a spec change (new generation) is");
    ingress
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(
            "nginx.ingress.kubernetes.io/ssl-redirect".to_owned(),
            "true".to_owned(),
        );
    assert!(apply(&ingress), "an annotation change is");
    ingress.metadata.uid = Some("u-2".to_owned());
    assert!(apply(&ingress), "a re-created object is");
    ingress.metadata.generation = None;
    assert!(apply(&ingress), "without a generation, every event counts");
    assert!(apply(&ingress));

    trigger.ingress(&watcher::Event::Delete(ok(ingress.clone())));
    assert!(notified(&changes), "a deletion is a change");
}
