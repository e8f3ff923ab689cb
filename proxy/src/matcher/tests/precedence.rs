//! Path precedence, tree backtracking, literal matching and a differential check of the
//! compiled tree against the operational definition (mission-anchors §1.3–1.4).

use super::*;

#[test]
fn longest_rule_path_wins() {
    let compiled = any_host(vec![
        mk_route(Prefix, "/aaa", "aaa"),
        mk_route(Prefix, "/aaa/bbb", "bbb"),
        mk_route(Prefix, "/", "root"),
    ]);
    assert_eq!(compiled.served("", "/aaa/bbb/x"), Some("bbb"));
    assert_eq!(compiled.served("", "/aaa/bbb"), Some("bbb"));
    assert_eq!(compiled.served("", "/aaa/ccc"), Some("aaa"));
    assert_eq!(compiled.served("", "/aaa"), Some("aaa"));
    assert_eq!(compiled.served("", "/aaab"), Some("root"));
}

#[test]
fn exact_beats_prefix_on_equal_length() {
    let compiled = any_host(vec![
        mk_route(Prefix, "/foo", "prefix"),
        mk_route(Exact, "/foo", "exact"),
    ]);
    assert_eq!(compiled.served("", "/foo"), Some("exact"));
    assert_eq!(compiled.served("", "/foo/"), Some("prefix"));
}

#[test]
fn implementation_specific_is_prefix_and_loses_to_exact() {
    let compiled = any_host(vec![
        mk_route(ImplementationSpecific, "/foo", "is"),
        mk_route(Exact, "/foo", "exact"),
        mk_route(ImplementationSpecific, "", "empty-is-root"),
    ]);
    assert_eq!(compiled.served("", "/foo"), Some("exact"));
    assert_eq!(compiled.served("", "/foo/bar"), Some("is"));
    assert_eq!(compiled.served("", "/foobar"), Some("empty-is-root"));
}

#[test]
fn prefix_foo_slash_beats_exact_foo_for_request_foo() {
    // API docs: "`/foo` and `/foo/` both match requests to `/foo` and `/foo/`. If both
    // paths are present in an Ingress spec, the longest matching path (`/foo/`) is given
    // priority."
    let compiled = any_host(vec![
        mk_route(Exact, "/foo", "exact-foo"),
        mk_route(Prefix, "/foo/", "prefix-foo-slash"),
    ]);
    assert_eq!(compiled.served("", "/foo"), Some("prefix-foo-slash"));
    let compiled = any_host(vec![
        mk_route(Prefix, "/foo", "prefix-foo"),
        mk_route(Prefix, "/foo/", "prefix-foo-slash"),
    ]);
    assert_eq!(compiled.served("", "/foo"), Some("prefix-foo-slash"));
    assert_eq!(compiled.served("", "/foo/"), Some("prefix-foo-slash"));
    assert_eq!(compiled.served("", "/foo/x"), Some("prefix-foo-slash"));
}

#[test]
fn exact_foo_slash_beats_prefix_foo_for_request_foo_slash() {
    let compiled = any_host(vec![
        mk_route(Prefix, "/foo", "prefix"),
        mk_route(Exact, "/foo/", "exact-slash"),
    ]);
    assert_eq!(compiled.served("", "/foo/"), Some("exact-slash"));
    assert_eq!(compiled.served("", "/foo"), Some("prefix"));
    assert_eq!(compiled.served("", "/foo/x"), Some("prefix"));
}

#[test]
fn oldest_ingress_wins_a_tie() {
    let old = mk_source(100, "zz", "zz");
    let new = mk_source(200, "aa", "aa");
    let compiled = any_host(vec![
        from(&new, mk_route(Prefix, "/app", "new")),
        from(&old, mk_route(Prefix, "/app", "old")),
    ]);
    assert_eq!(compiled.served("", "/app/x"), Some("old"));
    assert_eq!(compiled.served("", "/app"), Some("old"));
}

#[test]
fn equal_timestamps_tie_break_on_namespace_then_name() {
    let routes = vec![
        from(&mk_source(5, "b", "a"), mk_route(Exact, "/x", "b/a")),
        from(&mk_source(5, "a", "z"), mk_route(Exact, "/x", "a/z")),
        from(&mk_source(5, "a", "y"), mk_route(Exact, "/x", "a/y")),
    ];
    assert_eq!(any_host(routes).served("", "/x"), Some("a/y"));
}

#[test]
fn rule_index_is_the_last_tie_break() {
    let source = mk_source(1, "ns", "ing");
    let at = |rule, path| RuleIndex { rule, path };
    let routes = vec![
        Route {
            index: at(1, 0),
            ..from(&source, mk_route(Prefix, "/x", "rule-1"))
        },
        Route {
            index: at(0, 2),
            ..from(&source, mk_route(Prefix, "/x", "rule-0-path-2"))
        },
        Route {
            index: at(0, 1),
            ..from(&source, mk_route(Prefix, "/x", "rule-0-path-1"))
        },
    ];
    assert_eq!(any_host(routes).served("", "/x"), Some("rule-0-path-1"));
}

#[test]
fn longer_newer_rule_beats_shorter_older_rule() {
    let compiled = any_host(vec![
        from(&mk_source(1, "a", "old"), mk_route(Prefix, "/a", "old")),
        from(&mk_source(9, "a", "new"), mk_route(Prefix, "/a/b", "new")),
    ]);
    assert_eq!(compiled.served("", "/a/b/c"), Some("new"));
    assert_eq!(compiled.served("", "/a/c"), Some("old"));
}

#[test]
fn tree_backtracks_from_a_dead_static_branch() {
    let compiled = any_host(vec![
        mk_route(Prefix, "/foo", "prefix-foo"),
        mk_route(Exact, "/foo/bar", "exact-foo-bar"),
    ]);
    assert_eq!(compiled.served("", "/foo/bar/x"), Some("prefix-foo"));
    assert_eq!(compiled.served("", "/foo/bar"), Some("exact-foo-bar"));
    assert_eq!(compiled.served("", "/foo/bar/"), Some("prefix-foo"));
    assert_eq!(compiled.served("", "/foo/ba"), Some("prefix-foo"));
    assert_eq!(compiled.served("", "/foo/barx"), Some("prefix-foo"));

    let compiled = any_host(vec![
        mk_route(Prefix, "/", "root"),
        mk_route(Exact, "/a/b/c", "deep"),
    ]);
    assert_eq!(compiled.served("", "/a/b/d"), Some("root"));
    assert_eq!(compiled.served("", "/a/b/c/d"), Some("root"));
    assert_eq!(compiled.served("", "/a/b/c"), Some("deep"));

    let compiled = any_host(vec![
        mk_route(Prefix, "/aaa", "aaa"),
        mk_route(Prefix, "/aaa/bbb", "bbb"),
        mk_route(Exact, "/aaa/bbb/ccc/ddd", "ddd"),
    ]);
    assert_eq!(compiled.served("", "/aaa/ccc"), Some("aaa"));
    assert_eq!(compiled.served("", "/aaa/bbb/ccc/dd"), Some("bbb"));
    assert_eq!(compiled.served("", "/aaa/bbb/ccc/ddd/e"), Some("bbb"));
    assert_eq!(compiled.served("", "/aaa/bbbb"), Some("aaa"));
}

#[test]
fn special_characters_match_literally() {
    let compiled = any_host(vec![
        mk_route(Prefix, "/{id}", "braces"),
        mk_route(Exact, "/{*rest}", "catch-all-text"),
        mk_route(Exact, "/a}}b{{", "doubled"),
        mk_route(Prefix, "/x*y:z", "star-colon"),
    ]);
    assert_eq!(compiled.served("", "/{id}"), Some("braces"));
    assert_eq!(compiled.served("", "/{id}/x"), Some("braces"));
    assert_eq!(compiled.served("", "/{*rest}"), Some("catch-all-text"));
    assert_eq!(compiled.served("", "/a}}b{{"), Some("doubled"));
    assert_eq!(compiled.served("", "/x*y:z/1"), Some("star-colon"));
    assert_eq!(compiled.served("", "/abc"), None);
    assert_eq!(compiled.served("", "/{"), None);
    assert_eq!(compiled.served("", "/a}b{"), None);
    assert_eq!(compiled.served("", "/rest"), None);
}

#[test]
fn request_paths_with_braces_reach_a_root_prefix() {
    let compiled = any_host(vec![
        mk_route(Prefix, "/", "root"),
        mk_route(Prefix, "/foo", "foo"),
    ]);
    assert_eq!(compiled.served("", "/foo{"), Some("root"));
    assert_eq!(compiled.served("", "/foo/{x}"), Some("foo"));
    assert_eq!(compiled.served("", "/{{}}"), Some("root"));
}

#[test]
fn relative_rule_path_is_reported_and_skipped() {
    let table = mk_table(vec![mk_host(
        HostPattern::Any,
        vec![
            mk_route(Prefix, "foo", "bad"),
            mk_route(Exact, "", "empty-exact"),
            mk_route(Prefix, "/ok", "ok"),
        ],
    )]);
    let (matcher, errors) = Matcher::compile(&table);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .all(|e| matches!(e, TableError::InvalidPath { .. })),
        "{errors:?}"
    );
    assert_eq!(
        matcher.find("", "/ok/x"),
        Some(Target::Route { vhost: 0, route: 2 })
    );
    assert_eq!(matcher.find("", "/foo"), None);
}

/// Does `route` match the request path `r`? (mission-anchors §1.3, operational definition)
fn reference_matches(route: &Route, r: &str) -> bool {
    let p = if route.path.path.is_empty() {
        "/"
    } else {
        route.path.path.as_str()
    };
    match route.path.kind {
        Exact => r == p,
        Prefix | ImplementationSpecific => {
            let q = if p == "/" {
                p
            } else {
                p.strip_suffix('/').unwrap_or(p)
            };
            p == "/" || r == q || r.strip_prefix(q).is_some_and(|rest| rest.starts_with('/'))
        }
    }
}

fn reference_find(routes: &[Route], r: &str) -> Option<usize> {
    routes
        .iter()
        .enumerate()
        .filter(|(_, route)| reference_matches(route, r))
        .min_by_key(|(_, route)| super::super::precedence(route, false))
        .map(|(i, _)| i)
}

fn random_path(rng: &mut fastrand::Rng, max_segments: usize) -> String {
    const SEGMENTS: [&str; 7] = ["a", "b", "ab", "{x}", "*", "a:b", "é"];
    let mut path = String::new();
    for _ in 0..rng.usize(0..=max_segments) {
        path.push('/');
        path.push_str(SEGMENTS[rng.usize(0..SEGMENTS.len())]);
    }
    if path.is_empty() || rng.bool() {
        path.push('/');
    }
    path
}

#[test]
fn compiled_tree_agrees_with_the_definition() {
    let mut rng = fastrand::Rng::with_seed(0x5eed_1e55);
    for round in 0..400 {
        let routes: Vec<Route> = (0..rng.usize(1..8))
            .map(|i| {
                let kind = [Exact, Prefix, ImplementationSpecific][rng.usize(0..3)];
                let path = if kind == ImplementationSpecific && rng.u8(0..10) == 0 {
                    String::new()
                } else {
                    random_path(&mut rng, 3)
                };
                let source = mk_source(rng.i64(0..2), "ns", ["a", "b"][rng.usize(0..2)]);
                Route {
                    index: RuleIndex {
                        rule: 0,
                        path: rng.u32(0..3),
                    },
                    ..from(&source, mk_route(kind, &path, &format!("route-{i}")))
                }
            })
            .collect();
        let (matcher, errors) =
            Matcher::compile(&mk_table(vec![mk_host(HostPattern::Any, routes.clone())]));
        assert!(errors.is_empty(), "round {round}: {errors:?}");
        for _ in 0..60 {
            let request = random_path(&mut rng, 4);
            let found = match matcher.find("", &request) {
                Some(Target::Route { route, .. }) => Some(route),
                _ => None,
            };
            let expected = reference_find(&routes, &request);
            // Equal-precedence duplicates may resolve to either index; compare the keys.
            let key = |i: Option<usize>| {
                i.and_then(|i| routes.get(i))
                    .map(|r| super::super::precedence(r, false))
            };
            assert_eq!(
                key(found),
                key(expected),
                "round {round}: {request} in {routes:#?}"
            );
        }
    }
}

#[test]
fn arbitrary_rule_and_request_paths_never_panic() {
    const PIECES: [&str; 12] = [
        "/", "//", "{", "}", "{*x}", "{y}", "a", ".", "..", "%2F", "*", "",
    ];
    let mut rng = fastrand::Rng::with_seed(7);
    let random = |rng: &mut fastrand::Rng| -> String {
        (0..rng.usize(0..6))
            .map(|_| PIECES[rng.usize(0..PIECES.len())])
            .collect()
    };
    for _ in 0..300 {
        let routes = (0..rng.usize(0..6))
            .map(|_| {
                let kind = [Exact, Prefix, ImplementationSpecific][rng.usize(0..3)];
                mk_route(kind, &random(&mut rng), "r")
            })
            .collect::<Vec<_>>();
        let table = mk_table(vec![
            mk_host(HostPattern::Any, routes.clone()),
            mk_regex_host(mk_exact("regex"), routes),
        ]);
        let (matcher, _errors) = Matcher::compile(&table);
        for _ in 0..30 {
            let path = random(&mut rng);
            let _ = matcher.find("", &path);
            let _ = matcher.find("regex", &path);
        }
    }
}
