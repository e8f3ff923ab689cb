//! `Translator` (incremental) gives exactly what `translate` (from scratch) gives for every
//! snapshot of a sequence of changes, and shares the virtual hosts that did not change.

mod common;

use std::sync::Arc;

use controller::{
    snapshot::Snapshot,
    translate::{TranslateConfig, Translator, translate},
};
use k8s_openapi::api::networking::v1::Ingress;

/// The objects of one kind: each is present in the snapshot or not.
struct Kind<K> {
    items: Vec<Arc<K>>,
    present: Vec<bool>,
}

impl<K: Clone> Kind<K> {
    fn new(items: Vec<Arc<K>>) -> Self {
        let present = vec![true; items.len()];
        Self { items, present }
    }

    fn pick(&self, rng: &mut common::Rng) -> Option<usize> {
        let n = u64::try_from(self.items.len()).ok().filter(|&n| n > 0)?;
        usize::try_from(rng.next() % n).ok()
    }

    /// Removes a present object or puts a removed one back (the same `Arc`).
    fn toggle(&mut self, rng: &mut common::Rng) {
        if let Some(i) = self.pick(rng) {
            self.present[i] = !self.present[i];
        }
    }

    /// Replaces an object with a changed copy (a new `Arc`, as a source gives for an update).
    fn change(&mut self, rng: &mut common::Rng, how: impl FnOnce(&mut K)) {
        if let Some(i) = self.pick(rng) {
            let mut copy = K::clone(&self.items[i]);
            how(&mut copy);
            self.items[i] = Arc::new(copy);
        }
    }

    fn snapshot(&self, rng: &mut common::Rng) -> Vec<Arc<K>> {
        let mut present: Vec<Arc<K>> = self
            .items
            .iter()
            .zip(&self.present)
            .filter(|(_, present)| **present)
            .map(|(item, _)| Arc::clone(item))
            .collect();
        rng.shuffle(&mut present);
        present
    }
}

struct World {
    ingresses: Kind<Ingress>,
    classes: Kind<k8s_openapi::api::networking::v1::IngressClass>,
    services: Kind<k8s_openapi::api::core::v1::Service>,
    slices: Kind<k8s_openapi::api::discovery::v1::EndpointSlice>,
    secrets: Kind<k8s_openapi::api::core::v1::Secret>,
}

impl World {
    fn new(snapshot: Snapshot) -> Self {
        Self {
            ingresses: Kind::new(snapshot.ingresses),
            classes: Kind::new(snapshot.classes),
            services: Kind::new(snapshot.services),
            slices: Kind::new(snapshot.slices),
            secrets: Kind::new(snapshot.secrets),
        }
    }

    fn snapshot(&self, rng: &mut common::Rng) -> Snapshot {
        Snapshot {
            ingresses: self.ingresses.snapshot(rng),
            classes: self.classes.snapshot(rng),
            services: self.services.snapshot(rng),
            slices: self.slices.snapshot(rng),
            secrets: self.secrets.snapshot(rng),
        }
    }

    /// One random change of the kind a cluster sees.
    fn change(&mut self, rng: &mut common::Rng) {
        match rng.next() % 10 {
            0 => self.ingresses.toggle(rng),
            1 => self.ingresses.change(rng, |i| {
                i.metadata.resource_version = Some("copy".to_owned());
            }),
            2 => self.ingresses.change(rng, |i| {
                let annotations = i.metadata.annotations.get_or_insert_default();
                let key = "nginx.ingress.kubernetes.io/use-regex".to_owned();
                if annotations.remove(&key).is_none() {
                    annotations.insert(key, "true".to_owned());
                }
            }),
            3 => self.ingresses.change(rng, |i| {
                let path = i
                    .spec
                    .as_mut()
                    .and_then(|s| s.rules.as_mut())
                    .and_then(|r| r.first_mut())
                    .and_then(|r| r.http.as_mut())
                    .and_then(|h| h.paths.first_mut());
                if let Some(path) = path {
                    path.path = Some(format!("{}x", path.path.as_deref().unwrap_or("/")));
                }
            }),
            4 => self.services.toggle(rng),
            5 => self.services.change(rng, |s| {
                let port = s
                    .spec
                    .as_mut()
                    .and_then(|s| s.ports.as_mut())
                    .and_then(|p| p.first_mut());
                if let Some(port) = port {
                    port.port = if port.port == 80 { 81 } else { 80 };
                }
            }),
            6 => self.slices.toggle(rng),
            7 => self.slices.change(rng, |s| {
                s.endpoints.pop();
            }),
            8 => self.secrets.toggle(rng),
            _ => self.classes.toggle(rng),
        }
    }
}

#[test]
fn incremental_translate_equals_translate_from_scratch() {
    let config = TranslateConfig::default();
    let mut world = World::new(common::union_of_fixtures());
    let mut translator = Translator::new(config.clone());
    let mut rng = common::Rng(0x5851_F42D_4C95_7F2D);
    let mut reused = 0;
    let mut previous: Option<proxy::RouteTable> = None;
    for step in 0..300 {
        if step > 0 {
            for _ in 0..=rng.next() % 3 {
                world.change(&mut rng);
            }
        }
        let snapshot = world.snapshot(&mut rng);
        let got = translator.translate(&snapshot);
        let expected = translate(&snapshot, &config);
        common::assert_same(&got, &expected, &format!("step {step}"));
        if let Some(previous) = &previous {
            reused += got
                .0
                .virtual_hosts
                .iter()
                .filter(|v| previous.virtual_hosts.iter().any(|p| Arc::ptr_eq(p, v)))
                .count();
        }
        previous = Some(got.0);
    }
    assert!(reused > 1000, "hosts are reused between steps ({reused})");
}

/// `n` Ingresses `app-i` (host `app-i.example`, `/` → Service `web`) and the objects they need.
fn many(n: usize) -> Snapshot {
    let mut text = String::from(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: wicket\n\
         spec:\n  controller: wicket.dev/ingress-controller\n\
         ---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n\
         spec:\n  ports:\n  - port: 80\n    targetPort: 8080\n\
         ---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-1\n  \
         labels:\n    kubernetes.io/service-name: web\naddressType: IPv4\n\
         ports:\n- port: 8080\nendpoints:\n- addresses: [\"10.0.0.1\"]\n",
    );
    for i in 0..n {
        text.push_str(&ingress_yaml(i, "/"));
    }
    Snapshot::from_yaml(&text).expect("the fixture parses")
}

fn ingress_yaml(i: usize, path: &str) -> String {
    format!(
        "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: app-{i}\n\
         spec:\n  ingressClassName: wicket\n  rules:\n  - host: app-{i}.example\n    http:\n      \
         paths:\n      - path: {path}\n        pathType: Prefix\n        backend:\n          \
         service:\n            name: web\n            port:\n              number: 80\n"
    )
}

fn replace_ingress(snapshot: &mut Snapshot, i: usize, path: &str) {
    let name = format!("app-{i}");
    let changed = Snapshot::from_yaml(&ingress_yaml(i, path)).expect("the Ingress parses");
    let slot = snapshot
        .ingresses
        .iter_mut()
        .find(|ingress| ingress.metadata.name.as_deref() == Some(name.as_str()))
        .expect("the Ingress exists");
    *slot = Arc::clone(&changed.ingresses[0]);
}

/// Which virtual hosts of `now` are the very allocations of `before`.
fn shared(before: &proxy::RouteTable, now: &proxy::RouteTable) -> Vec<bool> {
    now.virtual_hosts
        .iter()
        .map(|v| before.virtual_hosts.iter().any(|b| Arc::ptr_eq(b, v)))
        .collect()
}

#[test]
fn only_the_changed_host_is_built_again() {
    let config = TranslateConfig::default();
    let mut translator = Translator::new(config.clone());
    let mut snapshot = many(20);
    let (first, issues) = translator.translate(&snapshot);
    assert_eq!(issues, Vec::new());
    assert_eq!(first.virtual_hosts.len(), 20);

    replace_ingress(&mut snapshot, 7, "/changed");
    let (second, _) = translator.translate(&snapshot);
    assert_eq!(second, translate(&snapshot, &config).0);
    let reused = shared(&first, &second);
    let rebuilt: Vec<String> = second
        .virtual_hosts
        .iter()
        .zip(&reused)
        .filter(|(_, reused)| !**reused)
        .map(|(v, _)| format!("{:?}", v.host))
        .collect();
    assert_eq!(rebuilt, vec![r#"Exact("app-7.example")"#.to_owned()]);

    // An unchanged snapshot, even in another order, builds nothing.
    snapshot.ingresses.reverse();
    let (third, _) = translator.translate(&snapshot);
    assert!(shared(&second, &third).iter().all(|s| *s));

    // A changed EndpointSlice is read by every route: every host is built again.
    let slice = Arc::make_mut(&mut snapshot.slices[0]);
    slice.endpoints.clear();
    let (fourth, issues) = translator.translate(&snapshot);
    assert_eq!(
        (fourth.clone(), issues),
        translate(&snapshot, &config),
        "after the slice change"
    );
    assert!(shared(&third, &fourth).iter().all(|s| !*s));
}

#[test]
fn a_host_follows_the_tls_hosts_of_other_ingresses() {
    // `tls-only` lists app-3.example under spec.tls without routing it: app-3's routes
    // (from another Ingress) get the HTTPS redirect while it is there.
    let tls_only = Snapshot::from_yaml(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: tls-only\n\
         spec:\n  ingressClassName: wicket\n  tls:\n  - hosts: [app-3.example]\n    \
         secretName: app-3-tls\n  rules:\n  - host: elsewhere.example\n    http:\n      \
         paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          \
         service:\n            name: web\n            port:\n              number: 80\n",
    )
    .expect("the Ingress parses");
    let config = TranslateConfig::default();
    let mut translator = Translator::new(config.clone());
    let mut snapshot = many(20);
    let redirects = |table: &proxy::RouteTable| -> Vec<String> {
        table
            .virtual_hosts
            .iter()
            .filter(|v| v.routes.iter().any(|r| r.policy.https_redirect))
            .map(|v| format!("{:?}", v.host))
            .collect()
    };
    assert_eq!(
        redirects(&translator.translate(&snapshot).0),
        Vec::<String>::new()
    );

    snapshot.ingresses.push(Arc::clone(&tls_only.ingresses[0]));
    let with_tls = translator.translate(&snapshot);
    common::assert_same(
        &with_tls,
        &translate(&snapshot, &config),
        "after adding tls-only",
    );
    assert_eq!(
        redirects(&with_tls.0),
        vec![r#"Exact("app-3.example")"#.to_owned()]
    );

    snapshot.ingresses.pop();
    let without = translator.translate(&snapshot);
    common::assert_same(
        &without,
        &translate(&snapshot, &config),
        "after removing tls-only",
    );
    assert_eq!(redirects(&without.0), Vec::<String>::new());
}
