use serde_json::json;

use super::*;

fn rt(api_version: &str, kind: &str) -> &'static ResourceType {
    resources::by_kind(api_version, kind).expect("registered")
}

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": name}})
}

fn all() -> ListQuery<'static> {
    static LABELS: std::sync::LazyLock<LabelSelector> =
        std::sync::LazyLock::new(LabelSelector::default);
    static FIELDS: std::sync::LazyLock<FieldSelector> =
        std::sync::LazyLock::new(FieldSelector::default);
    ListQuery {
        namespace: None,
        labels: &LABELS,
        fields: &FIELDS,
        rv: ListRv::Latest,
        limit: None,
        continue_token: None,
    }
}

#[test]
fn every_write_bumps_the_global_resource_version() {
    let state = State::new();
    let cms = rt("v1", "ConfigMap");
    let before = state.current_rv();
    let a = state
        .create(cms, "default", cm("a"), false, false)
        .expect("create");
    assert_eq!(meta::resource_version(&a), (before + 1).to_string());
    let mut changed = a.clone();
    changed["data"]["k"] = json!("z");
    let (b, _) = state
        .update(cms, "default", "a", changed, Part::Main, false, false)
        .expect("update");
    assert_eq!(meta::resource_version(&b), (before + 2).to_string());
    assert_eq!(meta::get(&b, "uid"), meta::get(&a, "uid"));
}

#[test]
fn unchanged_updates_do_not_write() {
    let state = State::new();
    let cms = rt("v1", "ConfigMap");
    let a = state
        .create(cms, "default", cm("a"), false, false)
        .expect("create");
    let rv = state.current_rv();
    let (same, _) = state
        .update(cms, "default", "a", a.clone(), Part::Main, false, false)
        .expect("update");
    assert_eq!(state.current_rv(), rv);
    assert_eq!(same, a);
}

#[test]
fn stale_resource_versions_conflict() {
    let state = State::new();
    let cms = rt("v1", "ConfigMap");
    let a = state
        .create(cms, "default", cm("a"), false, false)
        .expect("create");
    let mut first = a.clone();
    first["data"]["k"] = json!("1");
    state
        .update(cms, "default", "a", first, Part::Main, false, false)
        .expect("first update");
    let mut second = a;
    second["data"]["k"] = json!("2");
    let err = state
        .update(cms, "default", "a", second, Part::Main, false, false)
        .expect_err("stale");
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
}

#[test]
fn exact_lists_see_the_past_until_compaction() {
    let state = State::new();
    let cms = rt("v1", "ConfigMap");
    state
        .create(cms, "default", cm("a"), false, false)
        .expect("a");
    let then = state.current_rv();
    state
        .create(cms, "default", cm("b"), false, false)
        .expect("b");
    state
        .delete(cms, "default", "a", &Preconditions::default(), false)
        .expect("delete a");
    let query = ListQuery {
        rv: ListRv::Exact(then),
        ..all()
    };
    let past = state.list_now(cms, &query).expect("exact list");
    let names: Vec<&str> = past["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(meta::name)
        .collect();
    assert_eq!(names, ["a"]);
    assert_eq!(past["metadata"]["resourceVersion"], then.to_string());
    state.compact();
    let err = state.list_now(cms, &query).expect_err("compacted");
    assert_eq!(err.code, 410);
}

#[test]
fn pages_are_consistent_snapshots() {
    let state = State::new();
    let cms = rt("v1", "ConfigMap");
    for name in ["a", "b", "c"] {
        state
            .create(cms, "default", cm(name), false, false)
            .expect("create");
    }
    let first = state
        .list_now(
            cms,
            &ListQuery {
                limit: Some(2),
                ..all()
            },
        )
        .expect("page 1");
    assert_eq!(first["metadata"]["remainingItemCount"], 1);
    let token = first["metadata"]["continue"]
        .as_str()
        .expect("token")
        .to_owned();
    state
        .create(cms, "default", cm("d"), false, false)
        .expect("late create");
    let second = state
        .list_now(
            cms,
            &ListQuery {
                limit: Some(2),
                continue_token: Some(&token),
                ..all()
            },
        )
        .expect("page 2");
    let names: Vec<&str> = second["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(meta::name)
        .collect();
    assert_eq!(names, ["c"]);
    assert!(second["metadata"].get("continue").is_none());
}

#[test]
fn history_limit_expires_old_watch_starts() {
    let state = State::new();
    let cms = rt("v1", "ConfigMap");
    let start = state.current_rv();
    state.set_history_limit(2);
    for name in ["a", "b", "c"] {
        state
            .create(cms, "default", cm(name), false, false)
            .expect("create");
    }
    let err = state
        .watch(cms, None, WatchFrom::After(start))
        .expect_err("too old");
    assert_eq!(
        err.message,
        format!("too old resource version: {start} ({})", start + 1)
    );
    let ok = state
        .watch(cms, None, WatchFrom::After(start + 1))
        .expect("retained");
    assert_eq!(ok.replay.len(), 2);
}

#[test]
fn finalizers_hold_deletion() {
    let state = State::new();
    let cms = rt("v1", "ConfigMap");
    let mut body = cm("f");
    body["metadata"]["finalizers"] = json!(["example.com/hold"]);
    state
        .create(cms, "default", body, false, false)
        .expect("create");
    let (marked, gone) = state
        .delete(cms, "default", "f", &Preconditions::default(), false)
        .expect("delete");
    assert!(!gone);
    assert!(!meta::get(&marked, "deletionTimestamp").is_empty());
    let mut released = marked;
    released["metadata"]["finalizers"] = json!([]);
    state
        .update(cms, "default", "f", released, Part::Main, false, false)
        .expect("release");
    assert!(state.get(cms, "default", "f").is_err());
}

#[test]
fn missing_namespaces_are_not_found() {
    let state = State::new();
    let err = state
        .create(rt("v1", "ConfigMap"), "nope", cm("a"), false, false)
        .expect_err("no namespace");
    assert_eq!(err.message, "namespaces \"nope\" not found");
    assert_eq!(err.code, 404);
}
