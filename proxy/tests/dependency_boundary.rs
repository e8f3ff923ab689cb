//! The data plane must not know Kubernetes: no `kube*` or `k8s-openapi` crate may appear
//! anywhere in `proxy`'s dependency tree (normal, build or dev), not even transitively.
//!
//! The check walks the workspace `Cargo.lock`, which lists every package with the
//! dependencies it may use under any feature set; it is therefore a superset of any real
//! build of `proxy`, and an absence here is an absence everywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `name` → the names of its dependencies, read from the `[[package]]` entries of Cargo.lock.
fn lock_graph(lock: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_deps = false;
    for line in lock.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            current = None;
            in_deps = false;
        } else if let Some(name) = line.strip_prefix("name = ") {
            let name = name.trim_matches('"').to_owned();
            graph.entry(name.clone()).or_default();
            current = Some(name);
        } else if line == "dependencies = [" {
            in_deps = true;
        } else if in_deps && line == "]" {
            in_deps = false;
        } else if in_deps {
            // Entries look like `"name"`, `"name version"` or `"name version (source)"`.
            let dep = line.trim_end_matches(',').trim_matches('"');
            let dep = dep.split_whitespace().next().unwrap_or_default().to_owned();
            if let Some(pkg) = &current {
                graph.entry(pkg.clone()).or_default().insert(dep);
            }
        }
    }
    graph
}

fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![root.to_owned()];
    while let Some(name) = stack.pop() {
        if seen.insert(name.clone()) {
            stack.extend(graph.get(&name).into_iter().flatten().cloned());
        }
    }
    seen
}

fn is_kubernetes(name: &str) -> bool {
    name == "kube" || name.starts_with("kube-") || name.starts_with("k8s-openapi")
}

#[test]
fn proxy_has_no_kubernetes_dependency() {
    let lock_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    let lock = std::fs::read_to_string(&lock_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", lock_path.display()));
    let graph = lock_graph(&lock);
    assert!(
        graph.contains_key("proxy"),
        "Cargo.lock has no `proxy` package"
    );
    // The check must be able to see Kubernetes crates at all: the controller uses them.
    assert!(
        reachable(&graph, "controller")
            .iter()
            .any(|n| is_kubernetes(n)),
        "the controller should reach k8s-openapi; the lock parser is broken"
    );
    let offenders: Vec<_> = reachable(&graph, "proxy")
        .into_iter()
        .filter(|n| is_kubernetes(n))
        .collect();
    assert!(offenders.is_empty(), "proxy depends on {offenders:?}");
}

#[test]
fn lock_parser_follows_transitive_edges() {
    let lock = r#"
[[package]]
name = "a"
version = "1.0.0"
dependencies = [
 "b",
]

[[package]]
name = "b"
version = "1.0.0"
dependencies = [
 "kube-core 2.0.0",
]

[[package]]
name = "kube-core"
version = "2.0.0"
"#;
    let graph = lock_graph(lock);
    let reach = reachable(&graph, "a");
    assert!(reach.contains("kube-core"), "{reach:?}");
    assert!(is_kubernetes("kube-core") && is_kubernetes("k8s-openapi") && is_kubernetes("kube"));
    assert!(!is_kubernetes("hyper") && !is_kubernetes("kubectl-like"));
}
