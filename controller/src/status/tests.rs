//! Status planning: equal → no write, class switch → our addresses removed, foreign
//! Ingresses untouched, and no repeated write while the store catches up.

use k8s_openapi::{
    api::networking::v1::{IngressLoadBalancerIngress, IngressLoadBalancerStatus, IngressStatus},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use super::*;

fn ip(ip: &str) -> Address {
    Address {
        ip: Some(ip.to_owned()),
        hostname: None,
    }
}

fn host(name: &str) -> Address {
    Address {
        ip: None,
        hostname: Some(name.to_owned()),
    }
}

fn key(name: &str) -> IngressKey {
    ("apps".to_owned(), name.to_owned())
}

fn set(names: &[&str]) -> BTreeSet<IngressKey> {
    names.iter().map(|n| key(n)).collect()
}

fn ingress(name: &str, version: &str, addresses: &[Address]) -> Ingress {
    let entries = addresses
        .iter()
        .map(|a| IngressLoadBalancerIngress {
            ip: a.ip.clone(),
            hostname: a.hostname.clone(),
            ports: None,
        })
        .collect();
    Ingress {
        metadata: ObjectMeta {
            namespace: Some("apps".to_owned()),
            name: Some(name.to_owned()),
            resource_version: Some(version.to_owned()),
            ..Default::default()
        },
        spec: None,
        status: Some(IngressStatus {
            load_balancer: Some(IngressLoadBalancerStatus {
                ingress: Some(entries),
            }),
        }),
    }
}

#[test]
fn equal_status_is_not_written() {
    let desired = normalize(vec![ip("10.0.0.1"), host("lb.example.com")]);
    let ingresses = [(key("web"), desired.clone())];
    assert_eq!(
        plan(&desired, &ingresses, &set(&["web"]), &set(&["web"])),
        vec![]
    );
}

#[test]
fn a_differing_owned_status_is_replaced() {
    let desired = vec![ip("10.0.0.1")];
    let ingresses = [(key("web"), vec![]), (key("api"), vec![ip("10.9.9.9")])];
    let writes = plan(
        &desired,
        &ingresses,
        &set(&["web", "api"]),
        &BTreeSet::new(),
    );
    assert_eq!(
        writes,
        vec![
            Write {
                key: key("web"),
                addresses: desired.clone()
            },
            Write {
                key: key("api"),
                addresses: desired.clone()
            },
        ]
    );
}

#[test]
fn an_ingress_that_stops_being_ours_loses_exactly_our_addresses() {
    let desired = vec![ip("10.0.0.1")];
    let ingresses = [
        (key("switched"), desired.clone()),
        (key("switched-and-rewritten"), vec![ip("192.0.2.7")]),
    ];
    let was = set(&["switched", "switched-and-rewritten"]);
    let writes = plan(&desired, &ingresses, &BTreeSet::new(), &was);
    assert_eq!(
        writes,
        vec![Write {
            key: key("switched"),
            addresses: vec![]
        }]
    );
}

#[test]
fn foreign_ingresses_are_never_touched() {
    let desired = vec![ip("10.0.0.1")];
    // Never ours, even though it carries our very addresses.
    let ingresses = [(key("theirs"), desired.clone()), (key("other"), vec![])];
    assert_eq!(
        plan(&desired, &ingresses, &BTreeSet::new(), &BTreeSet::new()),
        vec![]
    );
}

#[test]
fn the_writer_remembers_ownership_and_does_not_repeat_itself() {
    let desired = vec![ip("10.0.0.1")];
    let mut state = StatusState::default();
    let owned = set(&["web"]);

    let due = state.due(&desired, &[ingress("web", "1", &[])], &owned);
    assert_eq!(due.len(), 1);
    let (write, version) = due.into_iter().next().expect("one write");
    state.wrote(&write, version);
    // The store has not seen the write yet: no second write.
    assert!(
        state
            .due(&desired, &[ingress("web", "1", &[])], &owned)
            .is_empty()
    );
    // The store caught up.
    assert!(
        state
            .due(&desired, &[ingress("web", "2", &desired)], &owned)
            .is_empty()
    );

    // A class switch: no longer owned, still carrying our address → cleared once.
    let due = state.due(&desired, &[ingress("web", "3", &desired)], &BTreeSet::new());
    assert_eq!(due.len(), 1);
    assert!(due[0].0.addresses.is_empty());
    // Another controller wrote its own address: forgotten, never touched again.
    let theirs = [ingress("web", "4", &[ip("192.0.2.7")])];
    assert!(state.due(&desired, &theirs, &BTreeSet::new()).is_empty());
    let ours_again_by_chance = [ingress("web", "5", &desired)];
    assert!(
        state
            .due(&desired, &ours_again_by_chance, &BTreeSet::new())
            .is_empty()
    );
}

#[test]
fn a_follower_keeps_track_so_it_can_clear_after_taking_over() {
    let desired = vec![ip("10.0.0.1")];
    let mut state = StatusState::default();
    // Owned and correct: nothing to do, but remembered.
    assert!(
        state
            .due(&desired, &[ingress("web", "1", &desired)], &set(&["web"]))
            .is_empty()
    );
    let due = state.due(&desired, &[ingress("web", "2", &desired)], &BTreeSet::new());
    assert_eq!(due.len(), 1, "{due:?}");
}

#[test]
fn the_patch_sets_or_removes_the_list() {
    let body = patch_body(&[ip("10.0.0.1"), host("lb.example.com")]);
    assert_eq!(
        body,
        json!({"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}, {"hostname": "lb.example.com"}]}}})
    );
    assert_eq!(
        patch_body(&[]),
        json!({"status": {"loadBalancer": {"ingress": null}}})
    );
}

#[test]
fn flag_addresses_become_ip_or_hostname() {
    let parsed = [
        StatusAddress::Ip("10.0.0.1".parse().expect("ip")),
        StatusAddress::Ip("2001:db8::1".parse().expect("ip")),
        StatusAddress::Hostname("lb.example.com".to_owned()),
    ];
    let addresses: Vec<Address> = parsed.iter().map(Address::from_flag).collect();
    assert_eq!(
        addresses,
        vec![ip("10.0.0.1"), ip("2001:db8::1"), host("lb.example.com")]
    );
}

#[test]
fn service_and_ingress_addresses_are_normalized() {
    let ingress = ingress(
        "web",
        "1",
        &[host("b.example.com"), ip("10.0.0.1"), ip("10.0.0.1")],
    );
    assert_eq!(
        current(&ingress),
        vec![ip("10.0.0.1"), host("b.example.com")]
    );
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "wicket", "namespace": "wicket"},
        "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}, {"ip": "203.0.113.9"}]}}
    }))
    .expect("service decodes");
    assert_eq!(
        of_service(&service),
        vec![ip("203.0.113.9"), host("lb.example.com")]
    );
}
