//! Renders the Kubernetes objects the scenarios need as YAML.
//!
//! Backends are `wicket echo` processes (on loopback, or in pods at their pod IP): each
//! Service has one port named `http` (port [`SERVICE_PORT`], `targetPort: http`), and its
//! EndpointSlices carry a port named `http` with the echo's real port, one slice per
//! distinct port.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde_json::{Value, json};

/// The namespace every rendered object lives in.
pub const NAMESPACE: &str = "default";

/// The IngressClass name the binary serves without an IngressClass object.
pub const CLASS: &str = "wicket";

/// The `spec.controller` value of wicket's IngressClass.
pub const CONTROLLER: &str = "wicket.dev/ingress-controller";

/// The Service port every rendered Service exposes.
pub const SERVICE_PORT: u16 = 80;

/// The Ingress `pathType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathType {
    Exact,
    Prefix,
    ImplementationSpecific,
}

impl PathType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "Exact",
            Self::Prefix => "Prefix",
            Self::ImplementationSpecific => "ImplementationSpecific",
        }
    }
}

/// A `networking.k8s.io/v1` Ingress.
#[derive(Clone, Debug)]
pub struct Ingress {
    name: String,
    class: Option<String>,
    default_backend: Option<String>,
    rules: Vec<Rule>,
}

/// One rule of an Ingress: an optional host and its paths.
#[derive(Clone, Debug)]
pub struct Rule {
    host: Option<String>,
    paths: Vec<(String, PathType, String)>,
}

impl Ingress {
    /// An Ingress with `ingressClassName: wicket`, no rules and no default backend.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            class: Some(CLASS.to_owned()),
            default_backend: None,
            rules: Vec::new(),
        }
    }

    /// Sets (or with `None` removes) `spec.ingressClassName`.
    pub fn class(mut self, class: Option<&str>) -> Self {
        self.class = class.map(str::to_owned);
        self
    }

    /// `spec.defaultBackend` → `service` port [`SERVICE_PORT`].
    pub fn default_backend(mut self, service: &str) -> Self {
        self.default_backend = Some(service.to_owned());
        self
    }

    /// Appends a rule.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The object as JSON.
    pub fn to_value(&self) -> Value {
        let mut spec = serde_json::Map::new();
        if let Some(class) = &self.class {
            spec.insert("ingressClassName".into(), json!(class));
        }
        if let Some(service) = &self.default_backend {
            spec.insert("defaultBackend".into(), backend(service));
        }
        if !self.rules.is_empty() {
            spec.insert(
                "rules".into(),
                self.rules.iter().map(Rule::to_value).collect(),
            );
        }
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": { "name": self.name, "namespace": NAMESPACE },
            "spec": spec,
        })
    }

    /// The object as a YAML document.
    pub fn to_yaml(&self) -> String {
        yaml(&self.to_value())
    }
}

impl Rule {
    /// A rule for `host`.
    pub fn host(host: &str) -> Self {
        Self {
            host: Some(host.to_owned()),
            paths: Vec::new(),
        }
    }

    /// A rule without a host.
    pub fn any_host() -> Self {
        Self {
            host: None,
            paths: Vec::new(),
        }
    }

    /// Appends a path → `service` port [`SERVICE_PORT`].
    pub fn path(mut self, path: &str, path_type: PathType, service: &str) -> Self {
        self.paths
            .push((path.to_owned(), path_type, service.to_owned()));
        self
    }

    fn to_value(&self) -> Value {
        let paths: Vec<Value> = self
            .paths
            .iter()
            .map(|(path, path_type, service)| {
                json!({ "path": path, "pathType": path_type.as_str(), "backend": backend(service) })
            })
            .collect();
        let mut rule = serde_json::Map::new();
        if let Some(host) = &self.host {
            rule.insert("host".into(), json!(host));
        }
        rule.insert("http".into(), json!({ "paths": paths }));
        Value::Object(rule)
    }
}

fn backend(service: &str) -> Value {
    json!({ "service": { "name": service, "port": { "number": SERVICE_PORT } } })
}

/// A `networking.k8s.io/v1` IngressClass with the given `spec.controller`.
pub fn ingress_class(name: &str, controller: &str) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": { "name": name },
        "spec": { "controller": controller },
    })
}

/// A `v1` Service with one port named `http` (port [`SERVICE_PORT`], `targetPort: http`).
pub fn service(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": name, "namespace": NAMESPACE },
        "spec": {
            "ports": [{ "name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP" }],
        },
    })
}

/// The EndpointSlices of `service` listing `endpoints` as ready, one slice per distinct
/// port (named `<service>-<n>`); none when `endpoints` is empty.
pub fn endpoint_slices(service: &str, endpoints: &[SocketAddr]) -> Vec<Value> {
    let mut by_port: BTreeMap<u16, Vec<IpAddr>> = BTreeMap::new();
    for endpoint in endpoints {
        by_port
            .entry(endpoint.port())
            .or_default()
            .push(endpoint.ip());
    }
    by_port
        .into_iter()
        .enumerate()
        .map(|(n, (port, ips))| {
            let address_type = if ips.iter().all(IpAddr::is_ipv4) {
                "IPv4"
            } else {
                "IPv6"
            };
            let endpoints: Vec<Value> = ips
                .iter()
                .map(|ip| json!({ "addresses": [ip.to_string()], "conditions": { "ready": true } }))
                .collect();
            json!({
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": format!("{service}-{n}"),
                    "namespace": NAMESPACE,
                    "labels": { "kubernetes.io/service-name": service },
                },
                "addressType": address_type,
                "ports": [{ "name": "http", "port": port, "protocol": "TCP" }],
                "endpoints": endpoints,
            })
        })
        .collect()
}

/// A Service and its EndpointSlices.
pub fn backend_objects(service_name: &str, endpoints: &[SocketAddr]) -> Vec<Value> {
    let mut objects = vec![service(service_name)];
    objects.extend(endpoint_slices(service_name, endpoints));
    objects
}

/// One YAML document.
pub fn yaml(object: &Value) -> String {
    serde_yaml_ng::to_string(object).unwrap_or_else(|e| format!("# unrenderable: {e}\n"))
}

/// A multi-document YAML stream.
pub fn documents<'a>(objects: impl IntoIterator<Item = &'a Value>) -> String {
    join_documents(objects.into_iter().map(yaml))
}

/// Joins YAML documents with `---` separators.
pub fn join_documents(documents: impl IntoIterator<Item = String>) -> String {
    let mut out = String::new();
    for document in documents {
        out.push_str("---\n");
        out.push_str(&document);
        if !document.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(text: &str) -> Vec<Value> {
        serde_yaml_ng::Deserializer::from_str(text)
            .filter_map(|doc| serde::Deserialize::deserialize(doc).ok())
            .collect()
    }

    #[test]
    fn renders_an_ingress_with_rules_and_default_backend() {
        let ingress = Ingress::new("web")
            .default_backend("fallback")
            .rule(Rule::host("a.example").path("/app", PathType::Prefix, "app"))
            .rule(Rule::any_host().path("/x", PathType::Exact, "x"));
        let parsed = parse_all(&ingress.to_yaml());
        assert_eq!(parsed, vec![ingress.to_value()]);
        let spec = &parsed[0]["spec"];
        assert_eq!(spec["ingressClassName"], "wicket");
        assert_eq!(spec["defaultBackend"]["service"]["name"], "fallback");
        assert_eq!(spec["rules"][0]["host"], "a.example");
        assert_eq!(spec["rules"][0]["http"]["paths"][0]["pathType"], "Prefix");
        assert_eq!(spec["rules"][1].get("host"), None);
        assert_eq!(
            spec["rules"][1]["http"]["paths"][0]["backend"]["service"]["port"]["number"],
            80
        );
    }

    #[test]
    fn groups_endpoints_by_port_into_slices() {
        let endpoints: Vec<SocketAddr> = ["127.0.0.1:1000", "127.0.0.1:2000", "127.0.0.2:1000"]
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect();
        let objects = backend_objects("svc", &endpoints);
        let text = documents(&objects);
        let parsed = parse_all(&text);
        assert_eq!(parsed.len(), 3, "{text}");
        assert_eq!(parsed[0]["kind"], "Service");
        assert_eq!(
            parsed[1]["metadata"]["labels"]["kubernetes.io/service-name"],
            "svc"
        );
        assert_eq!(parsed[1]["ports"][0]["port"], 1000);
        assert_eq!(parsed[1]["endpoints"].as_array().map(Vec::len), Some(2));
        assert_eq!(parsed[2]["ports"][0]["port"], 2000);
        assert_eq!(backend_objects("empty", &[]).len(), 1);
    }
}
