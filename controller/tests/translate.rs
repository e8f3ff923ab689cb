//! `translate` from YAML fixtures (`tests/fixtures/<behaviour>.yaml`): the exact table and
//! the exact Issues per behaviour, and independence from object order.

mod common;

use common::{brief, full, load, render, run};
use controller::{
    issue::{ObjectKind, Reason, Severity},
    translate::{TranslateConfig, translate},
};
use proxy::table::{Action, Backend, HostPattern, PathKind};

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.strip_prefix("    ").unwrap_or(l).to_owned())
        .collect()
}

#[test]
fn class_ownership() {
    let (table, issues) = run("class-ownership");
    assert_eq!(
        render(&table),
        lines(
            r#"
    host "annotation.example"
      Prefix "/" -> forward default-web-80 [10.0.0.1:8080] (default/by-annotation 0.0)
    host "edge.example"
      Prefix "/" -> forward default-web-80 [10.0.0.1:8080] (default/by-other-class-of-ours 0.0)
    host "field.example"
      Prefix "/" -> forward default-web-80 [10.0.0.1:8080] (default/by-field 0.0)
    "#
        )
    );
    // Foreign Ingresses are invisible: the broken one raises nothing.
    assert_eq!(brief(&issues), Vec::<String>::new());
}

#[test]
fn class_ownership_with_watch_ingress_without_class() {
    let config = TranslateConfig {
        watch_ingress_without_class: true,
        ..TranslateConfig::default()
    };
    let (table, issues) = translate(&load("class-ownership"), &config);
    let hosts: Vec<HostPattern> = table.virtual_hosts.iter().map(|v| v.host.clone()).collect();
    let exact = |h: &str| HostPattern::Exact(h.to_owned());
    assert_eq!(
        hosts,
        vec![
            exact("annotation.example"),
            exact("edge.example"),
            exact("field.example"),
            exact("no-class.example"),
        ]
    );
    assert!(issues.is_empty(), "{issues:?}");
}

#[test]
fn class_ownership_follows_controller_name() {
    let config = TranslateConfig {
        controller_name: "k8s.io/ingress-nginx".to_owned(),
        ingress_class: "nginx".to_owned(),
        ..TranslateConfig::default()
    };
    let (table, issues) = translate(&load("class-ownership"), &config);
    let hosts: Vec<HostPattern> = table.virtual_hosts.iter().map(|v| v.host.clone()).collect();
    // field-wins (field: nginx), foreign-annotation, no-class (nginx is the default class)
    // and the broken foreign-invalid are now ours.
    assert_eq!(
        hosts,
        vec![
            HostPattern::Exact("field-wins.example".to_owned()),
            HostPattern::Exact("foreign-annotation.example".to_owned()),
            HostPattern::Exact("no-class.example".to_owned()),
        ]
    );
    assert_eq!(
        brief(&issues),
        lines(
            "
    Error SnippetRefused ingress default/foreign-invalid metadata.annotations[nginx.ingress.kubernetes.io/configuration-snippet]
    Error InvalidHost ingress default/foreign-invalid spec.rules[0].host
    "
        )
    );
}

#[test]
fn default_class() {
    let (table, issues) = run("default-class");
    assert_eq!(
        render(&table),
        lines(
            r#"
    host "classless.example"
      Prefix "/" -> forward default-web-80 [10.0.0.1:8080] (default/classless 0.0)
    "#
        )
    );
    assert!(issues.is_empty(), "{issues:?}");
}

#[test]
fn class_absent_means_our_class_name_is_enough() {
    let (table, issues) = run("class-absent");
    assert_eq!(
        render(&table),
        lines(
            r#"
    host "ours.example"
      Prefix "/" -> forward default-web-80 [10.0.0.1:8080] (default/named-ours 0.0)
    "#
        )
    );
    assert!(issues.is_empty(), "{issues:?}");
}

#[test]
fn default_backend() {
    let (table, issues) = run("default-backend");
    assert_eq!(
        render(&table),
        lines(
            r#"
    default -> forward default-fallback-80 [10.0.9.1:9000] (default/catch-all@1609459200)
    host "bare.example"
      default -> forward default-fallback-80 [10.0.9.1:9000] (default/site@1622505600)
    host "site.example"
      default -> forward default-fallback-80 [10.0.9.1:9000] (default/site@1622505600)
      Prefix "/app" -> forward default-web-80 [10.0.0.1:8080] (default/site@1622505600 0.0)
      Exact "/other" -> forward default-web-80 [10.0.0.1:8080] (default/site-newer@1672531200 0.0)
    "#
        )
    );
    assert_eq!(
        full(&issues),
        lines(
            r#"
    Error ingress default/empty spec: the Ingress has neither rules nor a defaultBackend; nothing is served
    Warning ingress default/catch-all-newer spec.defaultBackend: the listener's default backend is already set by ingress default/catch-all; the oldest wins and this one is ignored
    Warning ingress default/site-newer spec.defaultBackend: host "site.example" already has the defaultBackend of ingress default/site; the oldest wins and this one is ignored for that host
    "#
        )
    );
}

#[test]
fn port_by_name() {
    let (table, issues) = run("port-by-name");
    assert_eq!(
        render(&table),
        lines(
            r#"
    host "shop.example"
      Prefix "/by-name" -> forward shop-web-http [10.1.0.1:8080, 10.1.0.2:8080] (shop/shop 0.0)
      Prefix "/by-number" -> forward shop-web-9000 [10.1.0.1:9090, 10.1.0.2:9090] (shop/shop 0.1)
      Prefix "/target-port" -> 503 service shop/web has no port 8080 (shop/shop 0.2)
      Prefix "/no-such-name" -> 503 service shop/web has no port grpc (shop/shop 0.3)
    "#
        )
    );
    assert_eq!(
        full(&issues),
        lines(
            "
    Warning ingress shop/shop spec.rules[0].http.paths[2].backend: service shop/web has no port 8080; answering 503
    Warning ingress shop/shop spec.rules[0].http.paths[3].backend: service shop/web has no port grpc; answering 503
    "
        )
    );
}

#[test]
fn named_target_port() {
    let (table, issues) = run("named-target-port");
    let [vhost] = table.virtual_hosts.as_slice() else {
        panic!("one virtual host expected: {table:?}");
    };
    let [route] = vhost.routes.as_slice() else {
        panic!("one route expected: {vhost:?}");
    };
    let expected: Vec<std::net::SocketAddr> = [
        "10.2.0.1:3000",
        "10.2.0.1:3001",
        "10.2.0.2:3000",
        "10.2.0.3:3001",
        "[fd00::1]:3000",
    ]
    .iter()
    .map(|a| a.parse().expect("test address"))
    .collect();
    assert_eq!(
        route.action,
        Action::Forward(Backend {
            name: "default-api-80".to_owned(),
            service: "api".to_owned(),
            endpoints: expected,
            protocol: Default::default(),
        })
    );
    assert!(issues.is_empty(), "{issues:?}");
}

#[test]
fn endpoint_fallback_terminating() {
    let (table, issues) = run("endpoint-fallback-terminating");
    assert_eq!(
        render(&table),
        lines(
            r#"
    host "rollout.example"
      Prefix "/some-ready" -> forward default-some-ready-80 [10.3.0.1:8080, 10.3.0.2:8080] (default/rollout 0.0)
      Prefix "/all-terminating" -> forward default-all-terminating-80 [10.4.0.1:8080, 10.4.0.2:8080] (default/rollout 0.1)
      Prefix "/none" -> forward default-none-80 [] (default/rollout 0.2)
      Prefix "/fqdn" -> forward default-fqdn-80 [] (default/rollout 0.3)
    "#
        )
    );
    assert_eq!(
        brief(&issues),
        lines(
            "
    Warning NoEndpoints ingress default/rollout spec.rules[0].http.paths[2].backend
    Warning NoEndpoints ingress default/rollout spec.rules[0].http.paths[3].backend
    Warning UnsupportedAddressType endpointslice default/fqdn-1 addressType
    Warning InvalidEndpointAddress endpointslice default/none-1 endpoints[1].addresses
    Warning SliceWithoutServiceLabel endpointslice default/orphan metadata.labels[kubernetes.io/service-name]
    "
        )
    );
    let orphan = issues
        .iter()
        .find(|i| i.reason == Reason::SliceWithoutServiceLabel)
        .expect("orphan slice reported");
    assert_eq!(orphan.object.kind, ObjectKind::EndpointSlice);
}

#[test]
fn missing_service() {
    let (table, issues) = run("missing-service");
    assert_eq!(
        render(&table),
        lines(
            r#"
    host "mixed.example"
      Prefix "/ok" -> forward default-web-80 [10.0.0.1:8080] (default/mixed 0.0)
      Prefix "/missing" -> 503 service default/ghost not found (default/mixed 0.1)
      Prefix "/bucket" -> 503 resource backend StorageBucket/static-assets is not supported (only Service backends are) (default/mixed 0.2)
      Prefix "/external" -> 503 service default/external is of type ExternalName, which is not supported (default/mixed 0.3)
      Prefix "/no-port" -> 503 backend needs a port name or port number (default/mixed 0.4)
    "#
        )
    );
    assert_eq!(
        brief(&issues),
        lines(
            "
    Error InvalidBackend ingress default/mixed spec.rules[0].http.paths[4].backend
    Warning MissingService ingress default/mixed spec.rules[0].http.paths[1].backend
    Warning ResourceBackend ingress default/mixed spec.rules[0].http.paths[2].backend
    Warning ExternalNameService ingress default/mixed spec.rules[0].http.paths[3].backend
    "
        )
    );
    assert_eq!(
        issues[1].to_string(),
        "Warning ingress default/mixed spec.rules[0].http.paths[1].backend: service default/ghost not found; answering 503"
    );
}

#[test]
fn rewrite_regex_mode() {
    let (table, issues) = run("rewrite-regex-mode");
    assert_eq!(
        render(&table),
        lines(
            r#"
    host "moved.example" regex
      Prefix "/old" -> forward default-web-80 [10.0.0.1:8080] rewrite=/new (default/moved 0.0)
    host "plain.example"
      Prefix "/" -> forward default-web-80 [10.0.0.1:8080] (default/same-target 0.0)
    host "regex.example" regex
      ImplementationSpecific "/u[A-Z]" -> forward default-web-80 [10.0.0.1:8080] app-root=/app1 (default/broken-regex 0.1)
    host "rewrite.example" regex
      Prefix "/api" -> forward default-web-80 [10.0.0.1:8080] (default/plain-on-regex-host 0.0)
      ImplementationSpecific "/something(/|$)(.*)" -> forward default-web-80 [10.0.0.1:8080] rewrite=/$2 (default/rewrite 0.0)
    host "values.example"
      ImplementationSpecific "/x(" -> forward default-web-80 [10.0.0.1:8080] (default/bad-values 0.0)
    "#
        )
    );
    assert_eq!(
        full(&issues),
        lines(
            r#"
    Error ingress default/bad-values metadata.annotations[nginx.ingress.kubernetes.io/app-root]: nginx.ingress.kubernetes.io/app-root: value "https://evil.example/" must start with '/'; the annotation is ignored
    Error ingress default/bad-values metadata.annotations[nginx.ingress.kubernetes.io/rewrite-target]: nginx.ingress.kubernetes.io/rewrite-target: value "/a b" contains whitespace or control characters; the annotation is ignored
    Error ingress default/bad-values metadata.annotations[nginx.ingress.kubernetes.io/use-regex]: nginx.ingress.kubernetes.io/use-regex: value "yes" is not a boolean ("true" or "false"); the annotation is ignored
    Error ingress default/broken-regex spec.rules[0].http.paths[0].path: host "regex.example" is in regex mode (use-regex or rewrite-target on one of its Ingresses) and path "/foo(" is not a valid regex: unclosed group; the path is ignored
    "#
        )
    );
}

#[test]
fn snippets_refused() {
    let (table, issues) = run("snippets-refused");
    assert_eq!(
        render(&table),
        lines(
            r#"
    host "snippets.example"
      Prefix "/" -> forward default-web-80 [10.0.0.1:8080] (default/snippets 0.0)
    "#
        )
    );
    assert_eq!(
        brief(&issues),
        lines(
            "
    Error SnippetRefused ingress default/snippets metadata.annotations[nginx.ingress.kubernetes.io/configuration-snippet]
    Error SnippetRefused ingress default/snippets metadata.annotations[nginx.ingress.kubernetes.io/server-snippet]
    Error SnippetRefused ingress default/snippets metadata.annotations[wicket.dev/auth-snippet]
    Warning UnsupportedAnnotation ingress default/snippets metadata.annotations[nginx.ingress.kubernetes.io/proxy-body-size]
    "
        )
    );
    assert!(
        issues
            .iter()
            .filter(|i| i.reason == Reason::SnippetRefused)
            .all(|i| i.severity == Severity::Error)
    );
}

#[test]
fn merge_oldest_wins() {
    let (table, issues) = run("merge-oldest-wins");
    assert_eq!(
        render(&table),
        lines(
            r#"
    host "shared.example"
      Prefix "/b" -> forward team-a-newer-80 [10.10.0.1:8080] (team-a/same-age@1577836800 0.0)
      Prefix "/a" -> forward team-b-older-80 [10.20.0.1:8080] (team-b/zzz-oldest@1577836800 0.0)
      Exact "/a" -> forward team-a-newer-80 [10.10.0.1:8080] (team-a/aaa-newest@1714521600 0.1)
      Prefix "/c" -> forward team-a-newer-80 [10.10.0.1:8080] (team-a/aaa-newest@1714521600 0.2)
    "#
        )
    );
    assert_eq!(
        full(&issues),
        lines(
            r#"
    Warning ingress team-a/aaa-newest spec.rules[0].http.paths[0].path: path "/a" (Prefix) on host "shared.example" is already defined by ingress team-b/zzz-oldest; the oldest definition wins and this one is ignored
    Warning ingress team-a/aaa-newest spec.rules[0].http.paths[3].path: path "/c" (Prefix) on host "shared.example" is already defined earlier in this Ingress; the oldest definition wins and this one is ignored
    Warning ingress team-b/zzz-oldest spec.rules[0].http.paths[1].path: path "/b" (Prefix) on host "shared.example" is already defined by ingress team-a/same-age; the oldest definition wins and this one is ignored
    "#
        )
    );
}

#[test]
fn invalid_paths() {
    let (table, issues) = run("invalid-paths");
    assert_eq!(
        render(&table),
        lines(
            r#"
    host "www.example.com"
      Exact "/ok" -> forward default-web-80 [10.0.0.1:8080] (default/validation 0.0)
      ImplementationSpecific "" -> forward default-web-80 [10.0.0.1:8080] (default/validation 0.8)
      ImplementationSpecific "/x/../y" -> forward default-web-80 [10.0.0.1:8080] (default/validation 0.9)
    host "*.example.com"
      Prefix "/" -> forward default-web-80 [10.0.0.1:8080] (default/validation 1.0)
    host *any*
      Prefix "/" -> forward default-web-80 [10.0.0.1:8080] (default/validation 6.0)
    "#
        )
    );
    assert_eq!(
        full(&issues),
        lines(
            r#"
    Error ingress default/validation spec.rules[0].http.paths[1].path: path "relative" must be an absolute path; the path is ignored
    Error ingress default/validation spec.rules[0].http.paths[2].path: path "/a//b" must not contain "//"; the path is ignored
    Error ingress default/validation spec.rules[0].http.paths[3].path: path "/a/.." must not end with "/.."; the path is ignored
    Error ingress default/validation spec.rules[0].http.paths[4].path: path "/a%2Fb" must not contain "%2F"; the path is ignored
    Error ingress default/validation spec.rules[0].http.paths[5].pathType: pathType must be specified; the path is ignored
    Error ingress default/validation spec.rules[0].http.paths[6].pathType: pathType "Regex" is not one of Exact, Prefix, ImplementationSpecific; the path is ignored
    Error ingress default/validation spec.rules[0].http.paths[7].path: path "nope" must be empty or start with '/'; the path is ignored
    Error ingress default/validation spec.rules[2].host: host "*" is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253 characters); the rule is ignored
    Error ingress default/validation spec.rules[3].host: host "192.168.0.1" must be a DNS name, not an IP address; the rule is ignored
    Error ingress default/validation spec.rules[4].host: host "under_score.example" is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253 characters); the rule is ignored
    "#
        )
    );
    let route = &table.virtual_hosts[0].routes[0];
    assert_eq!(route.path.kind, PathKind::Exact);
}

/// Every fixture has a test above or in `translate_tls.rs`; a new fixture without one
/// fails here.
#[test]
fn every_fixture_is_pinned() {
    let pinned = [
        "backend-protocol",
        "class-absent",
        "class-ownership",
        "default-backend",
        "default-class",
        "endpoint-fallback-terminating",
        "invalid-paths",
        "merge-oldest-wins",
        "missing-service",
        "named-target-port",
        "port-by-name",
        "rewrite-regex-mode",
        "snippets-refused",
        "ssl-redirect",
        "tls-broken-secret",
        "tls-default-backend",
        "tls-sni",
        "tls-wildcard",
    ];
    assert_eq!(common::fixture_names(), pinned);
}
