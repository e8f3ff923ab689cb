//! Host selection: precise > wildcard > host-less, no fall-through, one-label wildcards.

use super::*;

fn three_tiers() -> Compiled {
    Compiled::new(mk_table(vec![
        mk_host(HostPattern::Any, vec![mk_route(Prefix, "/", "any")]),
        mk_host(
            mk_wildcard("bar.com"),
            vec![mk_route(Prefix, "/", "wildcard")],
        ),
        mk_host(
            mk_exact("foo.bar.com"),
            vec![mk_route(Prefix, "/", "precise")],
        ),
    ]))
}

#[test]
fn precise_beats_wildcard_beats_host_less() {
    let compiled = three_tiers();
    assert_eq!(compiled.served("foo.bar.com", "/x"), Some("precise"));
    assert_eq!(compiled.served("baz.bar.com", "/x"), Some("wildcard"));
    assert_eq!(compiled.served("other.com", "/x"), Some("any"));
}

#[test]
fn wildcard_covers_exactly_one_label() {
    let compiled = three_tiers();
    assert_eq!(compiled.served("a.bar.com", "/"), Some("wildcard"));
    assert_eq!(compiled.served("a.b.bar.com", "/"), Some("any"));
    assert_eq!(compiled.served("bar.com", "/"), Some("any"));
    assert_eq!(compiled.served(".bar.com", "/"), Some("any"));
    assert_eq!(compiled.served("xbar.com", "/"), Some("any"));
}

#[test]
fn empty_host_only_matches_host_less_rules() {
    let compiled = three_tiers();
    assert_eq!(compiled.served("", "/"), Some("any"));
    let without_any = Compiled::new(mk_table(vec![
        mk_host(mk_exact(""), vec![mk_route(Prefix, "/", "empty-name")]),
        mk_host(mk_wildcard(""), vec![mk_route(Prefix, "/", "empty-suffix")]),
    ]));
    assert_eq!(without_any.served("", "/"), None);
}

#[test]
fn a_host_with_a_virtual_host_never_falls_through_to_host_less_rules() {
    let vhosts = || {
        vec![
            mk_host(HostPattern::Any, vec![mk_route(Prefix, "/", "any")]),
            mk_host(mk_exact("a.com"), vec![mk_route(Prefix, "/x", "a-x")]),
            mk_host(mk_wildcard("w.com"), vec![mk_route(Exact, "/x", "w-x")]),
        ]
    };
    let compiled = Compiled::new(mk_table(vhosts()));
    assert_eq!(compiled.served("a.com", "/x/1"), Some("a-x"));
    assert_eq!(compiled.served("a.com", "/y"), None);
    assert_eq!(compiled.served("b.w.com", "/y"), None);

    let mut table = mk_table(vhosts());
    table.default_backend = Some(mk_fallback("listener"));
    let compiled = Compiled::new(table);
    assert_eq!(compiled.served("a.com", "/y"), Some("listener"));
    assert_eq!(compiled.served("b.w.com", "/y"), Some("listener"));
}

#[test]
fn a_precise_host_never_falls_through_to_a_wildcard() {
    let compiled = Compiled::new(mk_table(vec![
        mk_host(
            mk_wildcard("bar.com"),
            vec![mk_route(Prefix, "/", "wildcard")],
        ),
        mk_host(
            mk_exact("foo.bar.com"),
            vec![mk_route(Exact, "/only", "precise")],
        ),
    ]));
    assert_eq!(compiled.served("foo.bar.com", "/only"), Some("precise"));
    assert_eq!(compiled.served("foo.bar.com", "/other"), None);
}

#[test]
fn default_backends_in_order_host_then_listener_then_404() {
    let table = || {
        mk_table(vec![
            with_default(
                mk_host(mk_exact("d.com"), vec![mk_route(Prefix, "/app", "app")]),
                "host-default",
            ),
            mk_host(mk_exact("n.com"), vec![mk_route(Prefix, "/app", "app")]),
        ])
    };
    let compiled = Compiled::new(table());
    assert_eq!(compiled.served("d.com", "/app/x"), Some("app"));
    assert_eq!(compiled.served("d.com", "/other"), Some("host-default"));
    assert_eq!(compiled.served("n.com", "/other"), None);
    assert_eq!(compiled.served("unknown.com", "/app"), None);

    let mut with_listener = table();
    with_listener.default_backend = Some(mk_fallback("listener"));
    let compiled = Compiled::new(with_listener);
    assert_eq!(compiled.served("d.com", "/other"), Some("host-default"));
    assert_eq!(compiled.served("n.com", "/other"), Some("listener"));
    assert_eq!(compiled.served("unknown.com", "/app"), Some("listener"));
    assert_eq!(compiled.served("", "/"), Some("listener"));
}

#[test]
fn targets_are_indexes_into_the_table() {
    let table = mk_table(vec![
        mk_host(mk_exact("a.com"), vec![mk_route(Prefix, "/", "a")]),
        with_default(
            mk_host(
                mk_exact("b.com"),
                vec![mk_route(Exact, "/x", "x"), mk_route(Exact, "/y", "y")],
            ),
            "b-default",
        ),
    ]);
    let (matcher, errors) = Matcher::compile(&table);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        matcher.find("b.com", "/y"),
        Some(Target::Route { vhost: 1, route: 1 })
    );
    assert_eq!(
        matcher.find("b.com", "/z"),
        Some(Target::HostDefault { vhost: 1 })
    );
    assert_eq!(
        matcher.find("a.com", "/z"),
        Some(Target::Route { vhost: 0, route: 0 })
    );
    assert_eq!(matcher.find("c.com", "/z"), None);
}

#[test]
fn duplicate_host_pattern_is_reported_and_the_first_serves() {
    let table = mk_table(vec![
        mk_host(mk_exact("a.com"), vec![mk_route(Prefix, "/", "first")]),
        mk_host(mk_wildcard("a.com"), vec![mk_route(Prefix, "/", "wild")]),
        mk_host(mk_exact("a.com"), vec![mk_route(Prefix, "/", "second")]),
    ]);
    let (matcher, errors) = Matcher::compile(&table);
    assert_eq!(
        errors,
        vec![TableError::DuplicateHost {
            host: "a.com".to_owned()
        }]
    );
    assert_eq!(
        matcher.find("a.com", "/"),
        Some(Target::Route { vhost: 0, route: 0 })
    );
    assert_eq!(
        matcher.find("x.a.com", "/"),
        Some(Target::Route { vhost: 1, route: 0 })
    );
}

#[test]
fn empty_table_is_404() {
    let (matcher, errors) = Matcher::compile(&RouteTable::default());
    assert!(errors.is_empty());
    assert_eq!(matcher.find("a.com", "/"), None);
    assert_eq!(matcher.find("", "/"), None);
}

#[test]
fn matcher_is_shareable() {
    fn assert_send_sync_debug<T: Send + Sync + std::fmt::Debug>() {}
    assert_send_sync_debug::<Matcher>();
}
