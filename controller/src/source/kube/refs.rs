//! What the owned Ingresses reference: a Service, EndpointSlice or Secret event triggers a
//! rebuild only when it is about one of these.
//!
//! ```text
//! owned Ingress ─ spec.defaultBackend.service.name ─┐
//!               ─ spec.rules[].http.paths[].backend ┴─► services (namespace, name)
//!               ─ spec.tls[].secretName, proxy-ssl-secret ─► secrets (namespace, name)
//! Service (ns, name) │ EndpointSlice (ns, label kubernetes.io/service-name) ─► services?
//! Secret (ns, name) ─► secrets?
//! ```

use std::{borrow::Borrow, collections::HashSet};

use k8s_openapi::{
    api::networking::v1::{Ingress, IngressBackend, IngressClass},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use crate::translate::{TranslateConfig, class, namespace_of, tls};

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The kinds whose events are filtered through [`Referenced`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dependent {
    Service,
    EndpointSlice,
    Secret,
}

/// The `(namespace, name)` of every Service and Secret that an owned Ingress references.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Referenced {
    services: HashSet<(String, String)>,
    secrets: HashSet<(String, String)>,
}

impl Referenced {
    /// The references of the Ingresses among `ingresses` that `config` owns.
    pub fn compute<'a, C: Borrow<IngressClass>>(
        ingresses: impl IntoIterator<Item = &'a Ingress>,
        classes: &[C],
        config: &TranslateConfig,
    ) -> Self {
        let mut referenced = Self::default();
        for ingress in ingresses {
            if class::is_owned(ingress, classes, config) {
                referenced.add(ingress);
            }
        }
        if let Some(secret) = &config.tls.default_ssl_certificate {
            referenced
                .secrets
                .insert((secret.namespace.clone(), secret.name.clone()));
        }
        referenced
    }

    fn add(&mut self, ingress: &Ingress) {
        for secret in tls::referenced_secrets(ingress) {
            self.secrets.insert((secret.namespace, secret.name));
        }
        let namespace = namespace_of(&ingress.metadata);
        let Some(spec) = &ingress.spec else { return };
        let rules = spec.rules.iter().flatten();
        let paths = rules.filter_map(|r| r.http.as_ref()).flat_map(|h| &h.paths);
        let backends = spec.default_backend.iter().chain(paths.map(|p| &p.backend));
        for name in backends.filter_map(service_name) {
            self.services
                .insert((namespace.to_owned(), name.to_owned()));
        }
    }

    /// Whether an event about the object with `meta`, of kind `kind`, can change the table.
    pub fn matters(&self, kind: Dependent, meta: &ObjectMeta) -> bool {
        let namespace = namespace_of(meta).to_owned();
        let name = match kind {
            Dependent::Service | Dependent::Secret => meta.name.as_deref(),
            Dependent::EndpointSlice => meta
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                .map(String::as_str),
        };
        let Some(name) = name else { return false };
        let key = (namespace, name.to_owned());
        match kind {
            Dependent::Service | Dependent::EndpointSlice => self.services.contains(&key),
            Dependent::Secret => self.secrets.contains(&key),
        }
    }
}

fn service_name(backend: &IngressBackend) -> Option<&str> {
    backend.service.as_ref().map(|s| s.name.as_str())
}

#[cfg(test)]
mod tests {
    use crate::snapshot::Snapshot;

    use super::*;

    const YAML: &str = r#"
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: wicket}
spec: {controller: wicket.dev/ingress-controller}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: apps
  annotations: {nginx.ingress.kubernetes.io/proxy-ssl-secret: infra/upstream-ca}
spec:
  ingressClassName: wicket
  defaultBackend: {service: {name: fallback, port: {number: 80}}}
  tls: [{hosts: [a.example.com], secretName: a-tls}]
  rules:
  - host: a.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: theirs, namespace: apps}
spec:
  ingressClassName: nginx
  tls: [{secretName: their-tls}]
  defaultBackend: {service: {name: their-app, port: {number: 80}}}
"#;

    fn referenced() -> Referenced {
        let snapshot = Snapshot::from_yaml(YAML).expect("fixture parses");
        Referenced::compute(
            snapshot.ingresses.iter().map(|i| &**i),
            &snapshot.classes,
            &TranslateConfig::default(),
        )
    }

    fn meta(namespace: &str, name: &str, service_label: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            namespace: Some(namespace.to_owned()),
            name: Some(name.to_owned()),
            labels: service_label.map(|s| {
                [(SERVICE_NAME_LABEL.to_owned(), s.to_owned())]
                    .into_iter()
                    .collect()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn referenced_services_slices_and_secrets_trigger() {
        let r = referenced();
        assert!(r.matters(Dependent::Service, &meta("apps", "app", None)));
        assert!(r.matters(Dependent::Service, &meta("apps", "fallback", None)));
        assert!(r.matters(
            Dependent::EndpointSlice,
            &meta("apps", "app-x7k2p", Some("app"))
        ));
        assert!(r.matters(Dependent::Secret, &meta("apps", "a-tls", None)));
        assert!(r.matters(Dependent::Secret, &meta("infra", "upstream-ca", None)));
    }

    #[test]
    fn unreferenced_objects_do_not_trigger() {
        let r = referenced();
        // Same name in another namespace, or a name nobody uses.
        assert!(!r.matters(Dependent::Service, &meta("other", "app", None)));
        assert!(!r.matters(Dependent::Service, &meta("apps", "unused", None)));
        // A slice is matched by its service label, not its own name.
        assert!(!r.matters(Dependent::EndpointSlice, &meta("apps", "app", None)));
        assert!(!r.matters(Dependent::EndpointSlice, &meta("apps", "x", Some("unused"))));
        // A Service name is not a Secret name, and vice versa.
        assert!(!r.matters(Dependent::Secret, &meta("apps", "app", None)));
        assert!(!r.matters(Dependent::Service, &meta("apps", "a-tls", None)));
    }

    #[test]
    fn references_of_foreign_ingresses_do_not_trigger() {
        let r = referenced();
        assert!(!r.matters(Dependent::Service, &meta("apps", "their-app", None)));
        assert!(!r.matters(Dependent::Secret, &meta("apps", "their-tls", None)));
    }
}
