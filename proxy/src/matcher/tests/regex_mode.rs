//! Regex-mode hosts (ingress-nginx `use-regex` / `rewrite-target`, mission-anchors §2.3).

use super::*;

fn regex_host(routes: Vec<Route>) -> Compiled {
    Compiled::new(mk_table(vec![mk_regex_host(mk_exact("h"), routes)]))
}

#[test]
fn regex_paths_are_start_anchored_prefixes() {
    // `/u[A-Z]` IS, use-regex → `/uuid` matches.
    let compiled = regex_host(vec![mk_route(ImplementationSpecific, "/u[A-Z]", "u")]);
    assert_eq!(compiled.served("h", "/uuid"), Some("u"));
    assert_eq!(compiled.served("h", "/x/uuid"), None);
    assert_eq!(compiled.served("h", "/u1"), None);
}

#[test]
fn exact_path_on_a_regex_host_is_a_prefix_regex() {
    // Exact `/HEAD` on A, regex on B (same host) → `/headers` matches.
    let compiled = regex_host(vec![
        from(&mk_source(1, "ns", "a"), mk_route(Exact, "/HEAD", "head")),
        from(
            &mk_source(2, "ns", "b"),
            mk_route(ImplementationSpecific, "/[abc]", "abc"),
        ),
    ]);
    assert_eq!(compiled.served("h", "/headers"), Some("head"));
    assert_eq!(compiled.served("h", "/ABCdef"), Some("abc"));
}

#[test]
fn prefix_path_on_a_regex_host_matches_string_prefixes() {
    // `/api` Prefix on Ingress A + any Ingress B on H with use-regex → `/apix` matches.
    let compiled = regex_host(vec![mk_route(Prefix, "/api", "api")]);
    assert_eq!(compiled.served("h", "/apix"), Some("api"));
    assert_eq!(compiled.served("h", "/API/v1"), Some("api"));
    // Without regex mode: `/api`, `/api/`, `/api/x` match; `/apix` does not.
    let plain = Compiled::new(mk_table(vec![mk_host(
        mk_exact("h"),
        vec![mk_route(Prefix, "/api", "api")],
    )]));
    for path in ["/api", "/api/", "/api/x"] {
        assert_eq!(plain.served("h", path), Some("api"), "{path}");
    }
    assert_eq!(plain.served("h", "/apix"), None);
}

#[test]
fn something_capture_location() {
    // `/something(/|$)(.*)` IS, use-regex, rewrite `/$2`.
    let compiled = regex_host(vec![mk_route(
        ImplementationSpecific,
        "/something(/|$)(.*)",
        "http-svc",
    )]);
    for path in [
        "/something",
        "/something/",
        "/something/new",
        "/SOMETHING/new",
    ] {
        assert_eq!(compiled.served("h", path), Some("http-svc"), "{path}");
    }
    // `(/|$)` requires `/` or the end → default backend 404.
    assert_eq!(compiled.served("h", "/somethingelse"), None);
}

#[test]
fn longest_path_string_is_tried_first() {
    // `^/foo/bar/[A-Z0-9]{3}` precedes and wins over `^/foo/bar/bar` for `/foo/bar/bar`.
    let compiled = regex_host(vec![
        mk_route(ImplementationSpecific, "/foo/bar/bar", "literal"),
        mk_route(ImplementationSpecific, "/foo/bar/[A-Z0-9]{3}", "class"),
        mk_route(ImplementationSpecific, "/", "root"),
    ]);
    assert_eq!(compiled.served("h", "/foo/bar/bar"), Some("class"));
    assert_eq!(compiled.served("h", "/foo/bar/ba"), Some("root"));
}

#[test]
fn ties_go_to_the_oldest_ingress_then_rule_index() {
    let compiled = regex_host(vec![
        from(&mk_source(9, "ns", "new"), mk_route(Exact, "/ab", "new")),
        from(&mk_source(1, "ns", "old"), mk_route(Prefix, "/a.", "old")),
    ]);
    assert_eq!(compiled.served("h", "/abc"), Some("old"));

    let source = mk_source(1, "ns", "one");
    let compiled = regex_host(vec![
        Route {
            index: RuleIndex { rule: 0, path: 1 },
            ..from(&source, mk_route(Prefix, "/a.", "second"))
        },
        Route {
            index: RuleIndex { rule: 0, path: 0 },
            ..from(&source, mk_route(Prefix, "/.b", "first"))
        },
    ]);
    assert_eq!(compiled.served("h", "/ab"), Some("first"));
}

#[test]
fn exact_is_not_preferred_in_regex_mode() {
    let compiled = regex_host(vec![
        from(&mk_source(1, "ns", "a"), mk_route(Prefix, "/foo", "prefix")),
        from(&mk_source(2, "ns", "b"), mk_route(Exact, "/foo", "exact")),
    ]);
    assert_eq!(compiled.served("h", "/foo"), Some("prefix"));
}

#[test]
fn invalid_regex_is_reported_and_skipped() {
    let table = mk_table(vec![with_default(
        mk_regex_host(
            mk_exact("h"),
            vec![
                from(
                    &mk_source(1, "ns", "bad"),
                    mk_route(ImplementationSpecific, "/(unclosed", "bad"),
                ),
                mk_route(ImplementationSpecific, "/ok", "ok"),
            ],
        ),
        "fallback",
    )]);
    let (matcher, errors) = Matcher::compile(&table);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        matches!(&errors[..], [TableError::InvalidRegex { path, source_key, .. }]
            if path == "/(unclosed" && source_key == "ns/bad"),
        "{errors:?}"
    );
    assert_eq!(
        matcher.find("h", "/ok/1"),
        Some(Target::Route { vhost: 0, route: 1 })
    );
    assert_eq!(
        matcher.find("h", "/(unclosed"),
        Some(Target::HostDefault { vhost: 0 })
    );
}

#[test]
fn oversized_regex_is_reported() {
    let table = mk_table(vec![mk_regex_host(
        mk_exact("h"),
        vec![mk_route(ImplementationSpecific, "/(a{1000}){1000}", "huge")],
    )]);
    let (_, errors) = Matcher::compile(&table);
    assert!(
        matches!(&errors[..], [TableError::InvalidRegex { .. }]),
        "{errors:?}"
    );
}

#[test]
fn regex_mode_is_per_host() {
    let compiled = Compiled::new(mk_table(vec![
        mk_regex_host(mk_exact("regex"), vec![mk_route(Prefix, "/api", "api")]),
        mk_host(mk_exact("plain"), vec![mk_route(Prefix, "/api", "api")]),
    ]));
    assert_eq!(compiled.served("regex", "/apix"), Some("api"));
    assert_eq!(compiled.served("plain", "/apix"), None);
}
