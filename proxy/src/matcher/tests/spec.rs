//! The Kubernetes docs example table (mission-anchors §1.3) and the
//! ingress-controller-conformance scenarios (§1.11), word for word.

use super::*;

/// One row of the Kubernetes docs "Examples" table: kind, path(s), request path(s), matches?
fn docs_row(rules: &[(PathKind, &str)], requests: &[&str], expected: Option<&str>, row: &str) {
    let routes = rules
        .iter()
        .map(|&(kind, path)| mk_route(kind, path, &format!("{kind:?} {path}")))
        .collect();
    let compiled = any_host(routes);
    for request in requests {
        assert_eq!(
            compiled.served("", request),
            expected,
            "row {row:?}, request {request}"
        );
    }
}

#[test]
fn docs_prefix_root_matches_all_paths_yes() {
    let all = ["/", "/foo", "/foo/", "/aaa/bbb/ccc", "/%2F", "/{x}", "/a.b"];
    docs_row(
        &[(Prefix, "/")],
        &all,
        Some("Prefix /"),
        "Prefix | / | (all paths) | Yes",
    );
}

#[test]
fn docs_exact_foo_request_foo_yes() {
    docs_row(
        &[(Exact, "/foo")],
        &["/foo"],
        Some("Exact /foo"),
        "Exact | /foo | /foo | Yes",
    );
}

#[test]
fn docs_exact_foo_request_bar_no() {
    docs_row(
        &[(Exact, "/foo")],
        &["/bar"],
        None,
        "Exact | /foo | /bar | No",
    );
}

#[test]
fn docs_exact_foo_request_foo_slash_no() {
    docs_row(
        &[(Exact, "/foo")],
        &["/foo/"],
        None,
        "Exact | /foo | /foo/ | No",
    );
}

#[test]
fn docs_exact_foo_slash_request_foo_no() {
    docs_row(
        &[(Exact, "/foo/")],
        &["/foo"],
        None,
        "Exact | /foo/ | /foo | No",
    );
}

#[test]
fn docs_prefix_foo_requests_foo_and_foo_slash_yes() {
    let row = "Prefix | /foo | /foo, /foo/ | Yes";
    docs_row(
        &[(Prefix, "/foo")],
        &["/foo", "/foo/"],
        Some("Prefix /foo"),
        row,
    );
}

#[test]
fn docs_prefix_foo_slash_requests_foo_and_foo_slash_yes() {
    let row = "Prefix | /foo/ | /foo, /foo/ | Yes";
    docs_row(
        &[(Prefix, "/foo/")],
        &["/foo", "/foo/"],
        Some("Prefix /foo/"),
        row,
    );
}

#[test]
fn docs_prefix_aaa_bb_request_aaa_bbb_no() {
    docs_row(
        &[(Prefix, "/aaa/bb")],
        &["/aaa/bbb"],
        None,
        "Prefix | /aaa/bb | /aaa/bbb | No",
    );
}

#[test]
fn docs_prefix_aaa_bbb_request_aaa_bbb_yes() {
    let row = "Prefix | /aaa/bbb | /aaa/bbb | Yes";
    docs_row(
        &[(Prefix, "/aaa/bbb")],
        &["/aaa/bbb"],
        Some("Prefix /aaa/bbb"),
        row,
    );
}

#[test]
fn docs_prefix_aaa_bbb_slash_request_aaa_bbb_yes_ignores_trailing_slash() {
    let row = "Prefix | /aaa/bbb/ | /aaa/bbb | Yes, ignores trailing slash";
    docs_row(
        &[(Prefix, "/aaa/bbb/")],
        &["/aaa/bbb"],
        Some("Prefix /aaa/bbb/"),
        row,
    );
}

#[test]
fn docs_prefix_aaa_bbb_request_aaa_bbb_slash_yes_matches_trailing_slash() {
    let row = "Prefix | /aaa/bbb | /aaa/bbb/ | Yes, matches trailing slash";
    docs_row(
        &[(Prefix, "/aaa/bbb")],
        &["/aaa/bbb/"],
        Some("Prefix /aaa/bbb"),
        row,
    );
}

#[test]
fn docs_prefix_aaa_bbb_request_aaa_bbb_ccc_yes_matches_subpath() {
    let row = "Prefix | /aaa/bbb | /aaa/bbb/ccc | Yes, matches subpath";
    docs_row(
        &[(Prefix, "/aaa/bbb")],
        &["/aaa/bbb/ccc"],
        Some("Prefix /aaa/bbb"),
        row,
    );
}

#[test]
fn docs_prefix_aaa_bbb_request_aaa_bbbxyz_no_does_not_match_string_prefix() {
    let row = "Prefix | /aaa/bbb | /aaa/bbbxyz | No, does not match string prefix";
    docs_row(&[(Prefix, "/aaa/bbb")], &["/aaa/bbbxyz"], None, row);
}

#[test]
fn docs_prefix_root_and_aaa_request_aaa_ccc_yes_matches_aaa_prefix() {
    let row = "Prefix | /, /aaa | /aaa/ccc | Yes, matches /aaa prefix";
    let rules = [(Prefix, "/"), (Prefix, "/aaa")];
    docs_row(&rules, &["/aaa/ccc"], Some("Prefix /aaa"), row);
}

#[test]
fn docs_prefix_root_aaa_aaa_bbb_request_aaa_bbb_yes_matches_aaa_bbb_prefix() {
    let row = "Prefix | /, /aaa, /aaa/bbb | /aaa/bbb | Yes, matches /aaa/bbb prefix";
    let rules = [(Prefix, "/"), (Prefix, "/aaa"), (Prefix, "/aaa/bbb")];
    docs_row(&rules, &["/aaa/bbb"], Some("Prefix /aaa/bbb"), row);
}

#[test]
fn docs_prefix_root_aaa_aaa_bbb_request_ccc_yes_matches_root_prefix() {
    let row = "Prefix | /, /aaa, /aaa/bbb | /ccc | Yes, matches / prefix";
    let rules = [(Prefix, "/"), (Prefix, "/aaa"), (Prefix, "/aaa/bbb")];
    docs_row(&rules, &["/ccc"], Some("Prefix /"), row);
}

#[test]
fn docs_prefix_aaa_request_ccc_no_uses_default_backend() {
    let row = "Prefix | /aaa | /ccc | No, uses default backend";
    docs_row(&[(Prefix, "/aaa")], &["/ccc"], None, row);
    let mut table = mk_table(vec![mk_host(
        HostPattern::Any,
        vec![mk_route(Prefix, "/aaa", "aaa")],
    )]);
    table.default_backend = Some(mk_fallback("default"));
    assert_eq!(
        Compiled::new(table).served("", "/ccc"),
        Some("default"),
        "{row}"
    );
}

#[test]
fn docs_mixed_foo_prefix_and_foo_exact_request_foo_yes_prefers_exact() {
    let row = "Mixed | /foo (Prefix), /foo (Exact) | /foo | Yes, prefers Exact";
    docs_row(
        &[(Prefix, "/foo"), (Exact, "/foo")],
        &["/foo"],
        Some("Exact /foo"),
        row,
    );
    docs_row(
        &[(Exact, "/foo"), (Prefix, "/foo")],
        &["/foo"],
        Some("Exact /foo"),
        row,
    );
}

/// features/path_rules.feature, Background Ingress `path-rules`.
fn path_rules() -> Compiled {
    Compiled::new(mk_table(vec![
        mk_host(
            mk_exact("exact-path-rules"),
            vec![mk_route(Exact, "/foo", "foo-exact")],
        ),
        mk_host(
            mk_exact("prefix-path-rules"),
            vec![
                mk_route(Prefix, "/foo", "foo-prefix"),
                mk_route(Prefix, "/aaa/bbb", "aaa-slash-bbb-prefix"),
                mk_route(Prefix, "/aaa", "aaa-prefix"),
            ],
        ),
        mk_host(
            mk_exact("mixed-path-rules"),
            vec![
                mk_route(Prefix, "/foo", "foo-prefix"),
                mk_route(Exact, "/foo", "foo-exact"),
            ],
        ),
        mk_host(
            mk_exact("trailing-slash-path-rules"),
            vec![
                mk_route(Prefix, "/aaa/bbb/", "aaa-slash-bbb-slash-prefix"),
                mk_route(Exact, "/foo/", "foo-slash-exact"),
            ],
        ),
    ]))
}

#[test]
fn conformance_path_rules() {
    let compiled = path_rules();
    #[rustfmt::skip]
    let scenarios: [(&str, &str, &str, Option<&str>); 16] = [
        ("An Ingress with exact path rules should send traffic to the matching backend service",
            "exact-path-rules", "/foo", Some("foo-exact")),
        ("An Ingress with exact path rules should not match requests with trailing slash",
            "exact-path-rules", "/foo/", None),
        ("An Ingress with exact path rules should be case sensitive",
            "exact-path-rules", "/FOO", None),
        ("An Ingress with exact path rules should not match any other label",
            "exact-path-rules", "/bar", None),
        ("An Ingress with prefix path rules should send traffic to the matching backend service",
            "prefix-path-rules", "/foo", Some("foo-prefix")),
        ("An Ingress with prefix path rules should ignore the request trailing slash and send traffic to the matching backend service",
            "prefix-path-rules", "/foo/", Some("foo-prefix")),
        ("An Ingress with prefix path rules should be case sensitive",
            "prefix-path-rules", "/FOO", None),
        ("An Ingress with prefix path rules should match multiple labels, match the longest path, and send traffic to the matching backend service",
            "prefix-path-rules", "/aaa/bbb", Some("aaa-slash-bbb-prefix")),
        ("An Ingress with prefix path rules should match multiple labels, match the longest path, and subpaths and send traffic to the matching backend service",
            "prefix-path-rules", "/aaa/bbb/ccc", Some("aaa-slash-bbb-prefix")),
        ("An Ingress with prefix path rules should and send traffic to the matching backend service",
            "prefix-path-rules", "/aaa/ccc", Some("aaa-prefix")),
        ("An Ingress with prefix path rules should match each labels string prefix",
            "prefix-path-rules", "/aaaccc", None),
        ("An Ingress with prefix path rules should ignore the request trailing slash and send traffic to the matching backend service",
            "prefix-path-rules", "/foo/", Some("foo-prefix")),
        ("An Ingress with mixed path rules should send traffic to the matching backend service where Exact is preferred",
            "mixed-path-rules", "/foo", Some("foo-exact")),
        ("An Ingress with a trailing slashes in a prefix path rule should ignore the trailing slash and send traffic to the matching backend service",
            "trailing-slash-path-rules", "/aaa/bbb", Some("aaa-slash-bbb-slash-prefix")),
        ("An Ingress with a trailing slashes in a prefix path rule should ignore the trailing slash and send traffic to the matching backend service",
            "trailing-slash-path-rules", "/aaa/bbb/", Some("aaa-slash-bbb-slash-prefix")),
        ("An Ingress with a trailing slashes in an exact path rule should not match requests without a trailing slash",
            "trailing-slash-path-rules", "/foo", None),
    ];
    for (title, host, path, expected) in scenarios {
        assert_eq!(
            compiled.served(host, path),
            expected,
            "{title}: {host}{path}"
        );
    }
}

/// features/host_rules.feature, Background Ingress `host-rules`.
fn host_rules() -> Compiled {
    Compiled::new(mk_table(vec![
        mk_host(
            mk_wildcard("foo.com"),
            vec![mk_route(Prefix, "/", "wildcard-foo-com")],
        ),
        mk_host(
            mk_exact("foo.bar.com"),
            vec![mk_route(Prefix, "/", "foo-bar-com")],
        ),
    ]))
}

#[test]
fn conformance_host_rules() {
    let compiled = host_rules();
    #[rustfmt::skip]
    let scenarios: [(&str, &str, Option<&str>); 6] = [
        // The certificate half of this scenario is a TLS test; routing is checked here.
        ("An Ingress with a host rule should send TLS traffic to the matching backend service",
            "foo.bar.com", Some("foo-bar-com")),
        ("An Ingress with a host rule should send traffic to the matching backend service",
            "foo.bar.com", Some("foo-bar-com")),
        ("An Ingress with a host rule should not route traffic when hostname does not match",
            "subdomain.bar.com", None),
        ("An Ingress with a wildcard host rule should send traffic to the matching backend service",
            "bar.foo.com", Some("wildcard-foo-com")),
        ("An Ingress with a wildcard host rule should not route traffic matching on more than a single dns label",
            "baz.bar.foo.com", None),
        ("An Ingress with a wildcard host rule should not route traffic matching no dns label",
            "foo.com", None),
    ];
    for (title, host, expected) in scenarios {
        assert_eq!(compiled.served(host, "/"), expected, "{title}: {host}");
    }
}

#[test]
fn conformance_default_backend() {
    // "An Ingress with no rules should send all requests to the default backend"
    let compiled = Compiled::new(RouteTable {
        virtual_hosts: Vec::new(),
        default_backend: Some(mk_fallback("echo-service")),
        ..RouteTable::default()
    });
    // | method | host | path |; the method does not take part in matching.
    let examples = [
        ("GET", "my-host", "/"),
        ("GET", "my-host", "/sub-path"),
        ("POST", "some-host", "/"),
        ("PUT", "", "/resource"),
        ("PUT", "192.0.2.10", "/resource"),
        ("DELETE", "some-host", "/resource"),
        ("PATCH", "my-host", "/resource"),
    ];
    for (method, host, path) in examples {
        assert_eq!(
            compiled.served(host, path),
            Some("echo-service"),
            "{method} {host}{path}"
        );
    }
}
