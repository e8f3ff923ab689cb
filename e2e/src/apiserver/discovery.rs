//! Discovery documents in the legacy (non-aggregated) form: `/version`, `/api`, `/apis`,
//! `/apis/{group}`, `/api/v1` and `/apis/{group}/{version}`.

use serde_json::{Map, Value, json};

use super::resources::{self, REGISTRY, STATUS_VERBS};

/// The Kubernetes version the server claims.
pub const VERSION: (&str, &str) = ("1", "33");

pub fn version() -> Value {
    json!({
        "major": VERSION.0,
        "minor": VERSION.1,
        "gitVersion": format!("v{}.{}.0", VERSION.0, VERSION.1),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api`: the core group's versions.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    })
}

fn group(name: &str) -> Value {
    let versions: Vec<Value> = resources::group_versions()
        .into_iter()
        .filter(|(g, _)| *g == name)
        .map(|(g, v)| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": name, "versions": versions, "preferredVersion": preferred})
}

/// `/apis`: every named group.
pub fn groups() -> Value {
    let mut names: Vec<&str> = Vec::new();
    for (g, _) in resources::group_versions() {
        if !g.is_empty() && !names.contains(&g) {
            names.push(g);
        }
    }
    let groups: Vec<Value> = names.into_iter().map(group).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`, if the group is served.
pub fn group_document(name: &str) -> Option<Value> {
    resources::group_versions()
        .iter()
        .any(|(g, _)| *g == name && !name.is_empty())
        .then(|| {
            let mut doc = group(name);
            if let Value::Object(m) = &mut doc {
                m.insert("kind".to_owned(), json!("APIGroup"));
                m.insert("apiVersion".to_owned(), json!("v1"));
            }
            doc
        })
}

/// `/api/v1` or `/apis/{group}/{version}`, if served.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for r in REGISTRY
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut entry = Map::new();
        entry.insert("name".to_owned(), json!(r.plural));
        entry.insert("singularName".to_owned(), json!(r.singular));
        entry.insert("namespaced".to_owned(), json!(r.namespaced));
        entry.insert("kind".to_owned(), json!(r.kind));
        entry.insert("verbs".to_owned(), json!(r.verbs));
        if !r.short_names.is_empty() {
            entry.insert("shortNames".to_owned(), json!(r.short_names));
        }
        if !r.categories.is_empty() {
            entry.insert("categories".to_owned(), json!(r.categories));
        }
        resources.push(Value::Object(entry));
        if r.has_status {
            resources.push(json!({
                "name": format!("{}/status", r.plural),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": STATUS_VERBS,
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networking_lists_ingresses_and_their_status() {
        let doc = resource_list("networking.k8s.io", "v1").expect("served");
        let names: Vec<&str> = doc["resources"]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert_eq!(names, ["ingresses", "ingresses/status", "ingressclasses"]);
        assert_eq!(doc["resources"][0]["shortNames"], json!(["ing"]));
    }

    #[test]
    fn groups_have_a_preferred_version() {
        let doc = groups();
        let coordination = doc["groups"]
            .as_array()
            .expect("array")
            .iter()
            .find(|g| g["name"] == "coordination.k8s.io")
            .cloned()
            .expect("coordination served");
        assert_eq!(
            coordination["preferredVersion"]["groupVersion"],
            "coordination.k8s.io/v1"
        );
        assert!(group_document("").is_none());
        assert!(resource_list("apps", "v2").is_none());
    }
}
