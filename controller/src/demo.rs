//! `wicket demo`: the quickstart in one command. Starts an echo backend on every loopback
//! endpoint of a manifests directory, runs `serve --manifests` on it, and logs `curl`
//! commands to try.

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    net::{IpAddr, Ipv4Addr, SocketAddr},
};

use k8s_openapi::api::{discovery::v1::EndpointSlice, networking::v1::Ingress};
use proxy::config::ProxyConfig;
use tokio::sync::watch;

use crate::{
    args::DemoArgs,
    echo,
    error::ControllerError,
    listen,
    manifest::Object,
    serve::{self, ServeOptions},
    source::manifests::ManifestDir,
};

/// The label naming an EndpointSlice's Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Runs the demo until `shutdown` completes.
pub async fn run(
    args: DemoArgs,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ControllerError> {
    let objects = ManifestDir::open(&args.manifests)?.read();
    let backends = loopback_backends(&objects);
    if backends.is_empty() {
        tracing::warn!(dir = %args.manifests.display(), "no EndpointSlice endpoint on a loopback address: no echo backend started");
    }

    let (stop, stopped) = watch::channel(false);
    let mut echoes = Vec::new();
    for (addr, name) in backends {
        let listener = listen::bind("echo", addr).await?;
        let mut stopped = stopped.clone();
        echoes.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(error) = echo::serve(listener, &name, shutdown).await {
                tracing::error!(%error, %addr, "echo backend failed");
            }
        }));
    }

    let options = ServeOptions {
        source: serve::SourceOptions::Manifests(args.manifests),
        http_addr: args.http_addr,
        https_addr: args.https_addr,
        admin_addr: args.admin_addr,
        translate: args.class.translate_config(&args.tls),
        // Locally nothing maps 443 to the HTTPS listener: redirects name its port.
        proxy: ProxyConfig {
            https_port_for_redirects: Some(args.https_addr.port()).filter(|p| *p != 0),
            ..args.proxy.proxy_config()
        },
        access_log: args.access_log_format.format(),
        shutdown_delay: args.shutdown_delay.0,
        shutdown_grace: args.shutdown_grace.0,
    };
    let started = serve::start(options).await?;
    let http = started.http_addr().unwrap_or(args.http_addr);
    for command in curl_commands(&objects, http) {
        tracing::info!("try: {command}");
    }
    let result = started.run(shutdown).await;
    let _ = stop.send(true);
    for task in echoes {
        let _ = task.await;
    }
    result
}

/// Every loopback `address:port` of every EndpointSlice, named after the slice's Service
/// (the first slice naming an address wins).
pub fn loopback_backends(objects: &[Object]) -> BTreeMap<SocketAddr, String> {
    let mut backends = BTreeMap::new();
    for object in objects {
        if let Object::EndpointSlice(slice) = object {
            let name = service_name(slice);
            let ports = slice
                .ports
                .iter()
                .flatten()
                .filter_map(|p| u16::try_from(p.port?).ok());
            let ports: Vec<u16> = ports.collect();
            for endpoint in &slice.endpoints {
                for address in &endpoint.addresses {
                    let Ok(ip) = address.parse::<IpAddr>() else {
                        continue;
                    };
                    if !ip.is_loopback() {
                        continue;
                    }
                    for port in &ports {
                        backends
                            .entry(SocketAddr::new(ip, *port))
                            .or_insert_with(|| name.clone());
                    }
                }
            }
        }
    }
    backends
}

fn service_name(slice: &EndpointSlice) -> String {
    let meta = &slice.metadata;
    meta.labels
        .as_ref()
        .and_then(|labels| labels.get(SERVICE_NAME_LABEL))
        .or(meta.name.as_ref())
        .cloned()
        .unwrap_or_else(|| "echo".to_owned())
}

/// One `curl` command per Ingress host and path (and per default backend), sorted.
pub fn curl_commands(objects: &[Object], http: SocketAddr) -> BTreeSet<String> {
    let http = reachable(http);
    let mut commands = BTreeSet::new();
    for object in objects {
        if let Object::Ingress(ingress) = object {
            add_ingress(ingress, http, &mut commands);
        }
    }
    commands
}

fn add_ingress(ingress: &Ingress, http: SocketAddr, commands: &mut BTreeSet<String>) {
    let Some(spec) = &ingress.spec else { return };
    let rules = spec.rules.as_deref().unwrap_or_default();
    let has_default = spec.default_backend.is_some();
    if rules.is_empty() && has_default {
        commands.insert(curl(None, http, "/anything"));
    }
    for rule in rules {
        let host = rule.host.as_deref().map(|h| h.replacen('*', "demo", 1));
        for path in rule.http.iter().flat_map(|h| &h.paths) {
            let path = literal_prefix(path.path.as_deref().unwrap_or("/"));
            commands.insert(curl(host.as_deref(), http, &path));
        }
        if has_default {
            commands.insert(curl(host.as_deref(), http, "/no-such-path"));
        }
    }
}

fn curl(host: Option<&str>, http: SocketAddr, path: &str) -> String {
    match host {
        Some(host) => format!("curl -H 'Host: {host}' http://{http}{path}"),
        None => format!("curl http://{http}{path}"),
    }
}

/// The part of a (possibly regex) path before its first special character, as a path.
fn literal_prefix(path: &str) -> String {
    let end = path
        .find(|c| "()[]{}*+?^$|\\".contains(c))
        .unwrap_or(path.len());
    let literal = path.get(..end).unwrap_or_default();
    if literal.starts_with('/') {
        literal.to_owned()
    } else {
        format!("/{literal}")
    }
}

/// A listener on `0.0.0.0`/`::` is reached through loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::parse_documents;

    use super::*;

    const MANIFESTS: &str = r#"
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports: [{name: http, port: 9101}]
endpoints:
- addresses: ["127.0.0.1", "10.0.0.7"]
- addresses: ["127.0.0.2"]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: api-xyz
  labels: {kubernetes.io/service-name: api}
addressType: IPv4
ports: [{port: 9102}, {port: 9103}]
endpoints:
- addresses: ["127.0.0.1"]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: demo}
spec:
  defaultBackend: {service: {name: web, port: {number: 80}}}
  rules:
  - host: app.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
      - {path: "/api(/|$)(.*)", pathType: ImplementationSpecific, backend: {service: {name: api, port: {number: 80}}}}
  - host: "*.example.org"
    http:
      paths:
      - {path: /x, pathType: Exact, backend: {service: {name: api, port: {number: 80}}}}
"#;

    fn objects() -> Vec<Object> {
        parse_documents(MANIFESTS)
            .into_iter()
            .filter_map(Result::ok)
            .collect()
    }

    #[test]
    fn finds_loopback_endpoints_named_after_their_service() {
        let backends: Vec<(String, String)> = loopback_backends(&objects())
            .into_iter()
            .map(|(addr, name)| (addr.to_string(), name))
            .collect();
        let expected = [
            ("127.0.0.1:9101", "web"),
            ("127.0.0.1:9102", "api"),
            ("127.0.0.1:9103", "api"),
            ("127.0.0.2:9101", "web"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(a, n)| ((*a).to_owned(), (*n).to_owned()))
            .collect();
        assert_eq!(backends, expected);
    }

    #[test]
    fn curl_commands_cover_hosts_paths_and_the_default_backend() {
        let http = SocketAddr::from(([0, 0, 0, 0], 8080));
        let commands: Vec<String> = curl_commands(&objects(), http).into_iter().collect();
        assert_eq!(
            commands,
            [
                "curl -H 'Host: app.example.com' http://127.0.0.1:8080/",
                "curl -H 'Host: app.example.com' http://127.0.0.1:8080/api",
                "curl -H 'Host: app.example.com' http://127.0.0.1:8080/no-such-path",
                "curl -H 'Host: demo.example.org' http://127.0.0.1:8080/no-such-path",
                "curl -H 'Host: demo.example.org' http://127.0.0.1:8080/x",
            ]
        );
    }
}
