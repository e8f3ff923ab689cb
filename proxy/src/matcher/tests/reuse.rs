//! `Matcher::compile_reusing`: unchanged hosts share their compiled routes with the
//! previous version, changed ones are compiled again, and the answers and errors are the
//! same as a fresh compile.

use std::sync::Arc;

use super::*;
use crate::matcher::RegexCache;

fn paths_of(matcher: &Matcher, host: &HostPattern) -> Arc<super::super::CompiledPaths> {
    let index = matcher.hosts.get(host).expect("host is compiled");
    matcher.compiled[index].paths.clone()
}

fn two_hosts(api_path: &str) -> RouteTable {
    mk_table(vec![
        mk_regex_host(
            mk_exact("regex"),
            vec![
                mk_route(ImplementationSpecific, "/(unclosed", "bad"),
                mk_route(ImplementationSpecific, "/v[0-9]+", "versioned"),
            ],
        ),
        mk_host(mk_exact("plain"), vec![mk_route(Prefix, api_path, "api")]),
    ])
}

#[test]
fn unchanged_hosts_are_shared_and_changed_ones_recompiled() {
    let mut cache = RegexCache::default();
    let first = two_hosts("/api");
    let (old, old_errors) = Matcher::compile_reusing(&first, None, &mut cache);
    cache.commit();
    assert_eq!(old_errors.len(), 1, "{old_errors:?}");

    let second = two_hosts("/other");
    let (new, errors) = Matcher::compile_reusing(&second, Some((&first, &old)), &mut cache);
    cache.commit();

    assert_eq!(
        errors, old_errors,
        "errors of a reused host are reported again"
    );
    assert_eq!(errors, Matcher::compile(&second).1);
    let regex = mk_exact("regex");
    let plain = mk_exact("plain");
    assert!(Arc::ptr_eq(
        &paths_of(&old, &regex),
        &paths_of(&new, &regex)
    ));
    assert!(!Arc::ptr_eq(
        &paths_of(&old, &plain),
        &paths_of(&new, &plain)
    ));
    assert_eq!(
        new.reused().collect::<Vec<_>>(),
        [(0, 0)],
        "only the regex host (vhost 0 in both versions) was taken over"
    );
    assert_eq!(
        new.find("regex", "/V2/x"),
        Some(Target::Route { vhost: 0, route: 1 })
    );
    assert_eq!(
        new.find("plain", "/other/1"),
        Some(Target::Route { vhost: 1, route: 0 })
    );
    assert_eq!(new.find("plain", "/api/1"), None);
    // The reused host's valid regex stays cached; the invalid one never is.
    assert_eq!(cache.len(), 1);
}

#[test]
fn a_host_moved_to_another_index_is_reused_with_its_new_index() {
    let first = two_hosts("/api");
    let (old, _) = Matcher::compile(&first);
    let mut moved = first.clone();
    moved.virtual_hosts.reverse();
    let (new, _) =
        Matcher::compile_reusing(&moved, Some((&first, &old)), &mut RegexCache::default());
    assert!(Arc::ptr_eq(
        &paths_of(&old, &mk_exact("plain")),
        &paths_of(&new, &mk_exact("plain"))
    ));
    assert_eq!(
        new.find("plain", "/api"),
        Some(Target::Route { vhost: 0, route: 0 })
    );
}

#[test]
fn regex_cache_drops_patterns_no_longer_used() {
    let mut cache = RegexCache::default();
    let first = cache.get("^/a").expect("valid");
    assert!(cache.get("^/(").is_err());
    cache.commit();
    assert_eq!(cache.len(), 1);
    let again = cache.get("^/a").expect("valid");
    assert_eq!(again.as_str(), first.as_str());
    assert!(again.is_match("/A"), "patterns are case-insensitive");
    cache.commit();
    assert_eq!(cache.len(), 1);
    cache.commit();
    assert!(cache.is_empty());
}
