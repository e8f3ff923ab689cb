//! Shared helpers for the translate tests: load a fixture, render a table and its Issues
//! as compact text lines that a test compares exactly.

#![allow(dead_code)]

use std::path::PathBuf;

use controller::{
    issue::Issue,
    snapshot::Snapshot,
    translate::{TranslateConfig, translate},
};
use proxy::table::{
    Action, Fallback, HostPattern, Hsts, Route, RouteTable, Source, UpstreamProtocol, UpstreamTls,
};

/// Every fixture file name (without `.yaml`), sorted.
pub fn fixture_names() -> Vec<String> {
    let dir = fixtures_dir();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".yaml").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The snapshot of `tests/fixtures/<name>.yaml`; every document must parse.
pub fn load(name: &str) -> Snapshot {
    let path = fixtures_dir().join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    Snapshot::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every object of every fixture. Fixtures reuse names in the default namespace; only the
/// first object per key is kept, so the union is a valid set.
pub fn union_of_fixtures() -> Snapshot {
    let mut union = Snapshot::default();
    let mut seen = std::collections::BTreeSet::new();
    for name in fixture_names() {
        let path = fixtures_dir().join(format!("{name}.yaml"));
        let text = std::fs::read_to_string(&path).expect("fixture readable");
        for object in controller::manifest::parse_documents(&text) {
            let object = object.expect("fixture parses");
            if object.key().is_some_and(|key| seen.insert(key)) {
                union.insert(object);
            }
        }
    }
    union
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = usize::try_from(self.next() % (i as u64 + 1)).expect("fits");
            items.swap(i, j);
        }
    }
}

pub type Output = (proxy::RouteTable, Vec<controller::issue::Issue>);

/// Compares readable renderings first (the failure names only the differing lines), then
/// the values.
pub fn assert_same(got: &Output, expected: &Output, what: &str) {
    assert_same_lines(
        &render(&got.0),
        &render(&expected.0),
        &format!("{what}: table"),
    );
    assert_same_lines(
        &full(&got.1),
        &full(&expected.1),
        &format!("{what}: issues"),
    );
    assert_eq!(got, expected, "{what}");
}

fn assert_same_lines(got: &[String], expected: &[String], what: &str) {
    if got != expected {
        let missing: Vec<&String> = expected.iter().filter(|l| !got.contains(l)).collect();
        let extra: Vec<&String> = got.iter().filter(|l| !expected.contains(l)).collect();
        panic!("{what} differ\nmissing: {missing:#?}\nextra: {extra:#?}");
    }
}

/// Translates a fixture with the default configuration.
pub fn run(name: &str) -> (RouteTable, Vec<Issue>) {
    translate(&load(name), &TranslateConfig::default())
}

/// One line per certificate, fallback, virtual host and route:
/// ```text
/// default-certificate default/fallback-tls
/// tls default/a-tls "a.example" "*.b.example"
/// default -> forward default-web-80 [10.0.0.1:8080] (default/catch-all)
/// host "a.example" regex
///   default -> 503 service default/x not found https-redirect hsts=31536000+sub (default/site)
///   Prefix "/a" -> forward default-web-80 [10.0.0.1:8080] grpc rewrite=/x app-root=/y https-redirect hsts=31536000+sub (default/site 0.0)
/// ```
pub fn render(table: &RouteTable) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(certificate) = &table.default_certificate {
        lines.push(format!("default-certificate {}", certificate.source));
    }
    for binding in &table.tls {
        let hosts: Vec<String> = binding.hosts.iter().map(host_text).collect();
        lines.push(format!(
            "tls {} {}",
            binding.certificate.source,
            hosts.join(" ")
        ));
    }
    if let Some(fallback) = &table.default_backend {
        lines.push(format!("default -> {}", fallback_text(fallback)));
    }
    for vhost in &table.virtual_hosts {
        let host = format!("host {}", host_text(&vhost.host));
        lines.push(if vhost.regex_mode {
            format!("{host} regex")
        } else {
            host
        });
        if let Some(fallback) = &vhost.default_backend {
            lines.push(format!("  default -> {}", fallback_text(fallback)));
        }
        for route in &vhost.routes {
            lines.push(format!("  {}", route_text(route)));
        }
    }
    lines
}

fn host_text(host: &HostPattern) -> String {
    match host {
        HostPattern::Exact(h) => format!("{h:?}"),
        HostPattern::Wildcard(s) => format!("\"*.{s}\""),
        HostPattern::Any => "*any*".to_owned(),
    }
}

/// Like a route; a fallback's `rewrite_target` and `app_root` must stay unset.
fn fallback_text(fallback: &Fallback) -> String {
    assert_eq!(
        (&fallback.policy.rewrite_target, &fallback.policy.app_root),
        (&None, &None),
        "a fallback neither rewrites nor redirects `/`"
    );
    let mut text = action_text(&fallback.action);
    if fallback.policy.https_redirect {
        text.push_str(" https-redirect");
    }
    if let Some(hsts) = &fallback.policy.hsts {
        text.push_str(&format!(" hsts={}", hsts_text(hsts)));
    }
    text.push_str(&format!(" ({})", source_text(&fallback.source)));
    text
}

/// `ns/name`, with `@<created>` when the creation time is known.
fn source_text(source: &Source) -> String {
    if source.created == 0 {
        source.key()
    } else {
        format!("{}@{}", source.key(), source.created)
    }
}

fn route_text(route: &Route) -> String {
    let mut text = format!(
        "{:?} {:?} -> {}",
        route.path.kind,
        route.path.path,
        action_text(&route.action)
    );
    if let Some(target) = &route.policy.rewrite_target {
        text.push_str(&format!(" rewrite={target}"));
    }
    if let Some(root) = &route.policy.app_root {
        text.push_str(&format!(" app-root={root}"));
    }
    if route.policy.https_redirect {
        text.push_str(" https-redirect");
    }
    if let Some(hsts) = &route.policy.hsts {
        text.push_str(&format!(" hsts={}", hsts_text(hsts)));
    }
    text.push_str(&format!(
        " ({} {}.{})",
        source_text(&route.source),
        route.index.rule,
        route.index.path
    ));
    text
}

fn action_text(action: &Action) -> String {
    match action {
        Action::Forward(backend) => {
            let endpoints: Vec<String> = backend.endpoints.iter().map(|e| e.to_string()).collect();
            format!(
                "forward {} [{}]{}",
                backend.name,
                endpoints.join(", "),
                protocol_text(&backend.protocol)
            )
        }
        Action::Unavailable { reason } => format!("503 {reason}"),
    }
}

/// `31536000+sub+preload`.
fn hsts_text(hsts: &Hsts) -> String {
    let mut text = hsts.max_age_seconds.to_string();
    if hsts.include_subdomains {
        text.push_str("+sub");
    }
    if hsts.preload {
        text.push_str("+preload");
    }
    text
}

/// Empty for HTTP; ` grpc`, ` https(verify ca name=x)`, ` grpcs()`.
fn protocol_text(protocol: &UpstreamProtocol) -> String {
    let tls = |tls: &UpstreamTls| {
        let mut parts = Vec::new();
        if tls.verify {
            parts.push("verify".to_owned());
        }
        if tls.ca_pem.is_some() {
            parts.push("ca".to_owned());
        }
        if let Some(name) = &tls.server_name {
            parts.push(format!("name={name}"));
        }
        parts.join(" ")
    };
    match protocol {
        UpstreamProtocol::Http => String::new(),
        UpstreamProtocol::Grpc => " grpc".to_owned(),
        UpstreamProtocol::Https(t) => format!(" https({})", tls(t)),
        UpstreamProtocol::Grpcs(t) => format!(" grpcs({})", tls(t)),
    }
}

/// `Severity Reason kind ns/name field` per Issue (messages left out).
pub fn brief(issues: &[Issue]) -> Vec<String> {
    issues
        .iter()
        .map(|i| {
            let field = i.field.as_deref().unwrap_or("-");
            format!("{} {} {} {field}", i.severity, i.reason, i.object)
        })
        .collect()
}

/// Full one-line Display of every Issue.
pub fn full(issues: &[Issue]) -> Vec<String> {
    issues.iter().map(ToString::to_string).collect()
}
