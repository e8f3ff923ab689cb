//! The registry of resource types the server knows: names, scope, verbs, subresources.

/// How `metadata.name` is validated for a kind (the real server picks one per kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain: most kinds.
    Subdomain,
    /// RFC 1123 label: Namespaces.
    Label,
    /// RFC 1035 label: Services.
    Dns1035,
    /// Any path segment (no `/`, `%`, `.`, `..`): RBAC kinds.
    PathSegment,
}

/// One served resource type.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceType {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    /// A `status` subresource exists: writes to the main resource keep the stored status and
    /// writes to `/status` keep everything else.
    pub has_status: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub verbs: &'static [&'static str],
    /// The server maintains `metadata.generation` (bumped when anything outside metadata and
    /// status changes).
    pub generation: bool,
    /// PUT to a missing name creates it (`AllowCreateOnUpdate` in the real strategy).
    pub create_on_update: bool,
    pub name_rule: NameRule,
    /// Objects of types with the same storage key are the same objects seen through different
    /// API versions (core `events` and `events.k8s.io` `events`).
    pub storage: &'static str,
}

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const NAMESPACE_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
/// Verbs of every `status` subresource.
pub const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

const fn rt(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    storage: &'static str,
) -> ResourceType {
    ResourceType {
        group,
        version,
        kind,
        plural,
        singular,
        namespaced: true,
        has_status: false,
        short_names: &[],
        categories: &[],
        verbs: VERBS,
        generation: false,
        create_on_update: false,
        name_rule: NameRule::Subdomain,
        storage,
    }
}

/// Every served type. Discovery lists them in this order.
pub static REGISTRY: &[ResourceType] = &[
    ResourceType {
        namespaced: false,
        has_status: true,
        short_names: &["ns"],
        verbs: NAMESPACE_VERBS,
        name_rule: NameRule::Label,
        ..rt(
            "",
            "v1",
            "Namespace",
            "namespaces",
            "namespace",
            "namespaces",
        )
    },
    ResourceType {
        has_status: true,
        short_names: &["svc"],
        categories: &["all"],
        name_rule: NameRule::Dns1035,
        ..rt("", "v1", "Service", "services", "service", "services")
    },
    rt("", "v1", "Secret", "secrets", "secret", "secrets"),
    ResourceType {
        short_names: &["cm"],
        ..rt(
            "",
            "v1",
            "ConfigMap",
            "configmaps",
            "configmap",
            "configmaps",
        )
    },
    ResourceType {
        short_names: &["sa"],
        ..rt(
            "",
            "v1",
            "ServiceAccount",
            "serviceaccounts",
            "serviceaccount",
            "serviceaccounts",
        )
    },
    ResourceType {
        short_names: &["ev"],
        create_on_update: true,
        ..rt("", "v1", "Event", "events", "event", "events")
    },
    ResourceType {
        has_status: true,
        short_names: &["ing"],
        generation: true,
        ..rt(
            "networking.k8s.io",
            "v1",
            "Ingress",
            "ingresses",
            "ingress",
            "ingresses.networking.k8s.io",
        )
    },
    ResourceType {
        namespaced: false,
        generation: true,
        ..rt(
            "networking.k8s.io",
            "v1",
            "IngressClass",
            "ingressclasses",
            "ingressclass",
            "ingressclasses.networking.k8s.io",
        )
    },
    ResourceType {
        generation: true,
        ..rt(
            "discovery.k8s.io",
            "v1",
            "EndpointSlice",
            "endpointslices",
            "endpointslice",
            "endpointslices.discovery.k8s.io",
        )
    },
    ResourceType {
        create_on_update: true,
        ..rt(
            "coordination.k8s.io",
            "v1",
            "Lease",
            "leases",
            "lease",
            "leases.coordination.k8s.io",
        )
    },
    ResourceType {
        short_names: &["ev"],
        create_on_update: true,
        ..rt("events.k8s.io", "v1", "Event", "events", "event", "events")
    },
    ResourceType {
        namespaced: false,
        create_on_update: true,
        name_rule: NameRule::PathSegment,
        ..rt(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            "clusterroles",
            "clusterrole",
            "clusterroles.rbac.authorization.k8s.io",
        )
    },
    ResourceType {
        namespaced: false,
        create_on_update: true,
        name_rule: NameRule::PathSegment,
        ..rt(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            "clusterrolebinding",
            "clusterrolebindings.rbac.authorization.k8s.io",
        )
    },
    ResourceType {
        create_on_update: true,
        name_rule: NameRule::PathSegment,
        ..rt(
            "rbac.authorization.k8s.io",
            "v1",
            "Role",
            "roles",
            "role",
            "roles.rbac.authorization.k8s.io",
        )
    },
    ResourceType {
        create_on_update: true,
        name_rule: NameRule::PathSegment,
        ..rt(
            "rbac.authorization.k8s.io",
            "v1",
            "RoleBinding",
            "rolebindings",
            "rolebinding",
            "rolebindings.rbac.authorization.k8s.io",
        )
    },
    ResourceType {
        has_status: true,
        short_names: &["deploy"],
        categories: &["all"],
        generation: true,
        ..rt(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            "deployment",
            "deployments.apps",
        )
    },
    ResourceType {
        has_status: true,
        short_names: &["pdb"],
        generation: true,
        create_on_update: true,
        ..rt(
            "policy",
            "v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            "poddisruptionbudget",
            "poddisruptionbudgets.policy",
        )
    },
];

impl ResourceType {
    /// `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural` or `plural.group`, as error messages name the resource.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// `/api/v1` or `/apis/group/version`.
    pub fn base_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// The URL path of one object (or of the collection when `name` is empty).
    pub fn path(&self, namespace: &str, name: &str) -> String {
        let mut path = self.base_path();
        if self.namespaced {
            path.push_str("/namespaces/");
            path.push_str(namespace);
        }
        path.push('/');
        path.push_str(self.plural);
        if !name.is_empty() {
            path.push('/');
            path.push_str(name);
        }
        path
    }
}

/// The type served at `group/version/plural`.
pub fn by_path(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    REGISTRY
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The type of an object with this `apiVersion` and `kind`.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    let (group, version) = split_api_version(api_version);
    REGISTRY
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// `v1` → (``, `v1`); `apps/v1` → (`apps`, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// The distinct `(group, version)` pairs, core first, in registry order.
pub fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = Vec::new();
    for r in REGISTRY {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_types_by_path_and_kind() {
        let ing = by_path("networking.k8s.io", "v1", "ingresses").expect("ingresses");
        assert_eq!(ing.kind, "Ingress");
        assert_eq!(by_kind("networking.k8s.io/v1", "Ingress"), Some(ing));
        assert_eq!(by_kind("v1", "Service").map(|r| r.plural), Some("services"));
        assert!(by_path("", "v1", "pods").is_none());
    }

    #[test]
    fn both_event_apis_share_storage() {
        let core = by_kind("v1", "Event").expect("core events");
        let new = by_kind("events.k8s.io/v1", "Event").expect("events.k8s.io");
        assert_eq!(core.storage, new.storage);
    }

    #[test]
    fn paths_follow_scope() {
        let ing = by_kind("networking.k8s.io/v1", "Ingress").expect("ingress");
        assert_eq!(
            ing.path("default", "x"),
            "/apis/networking.k8s.io/v1/namespaces/default/ingresses/x"
        );
        let class = by_kind("networking.k8s.io/v1", "IngressClass").expect("class");
        assert_eq!(
            class.path("", "c"),
            "/apis/networking.k8s.io/v1/ingressclasses/c"
        );
        let svc = by_kind("v1", "Service").expect("svc");
        assert_eq!(svc.path("ns", ""), "/api/v1/namespaces/ns/services");
    }

    #[test]
    fn storage_keys_are_unique_except_events() {
        for (i, a) in REGISTRY.iter().enumerate() {
            for b in REGISTRY.iter().skip(i + 1) {
                if a.storage == b.storage {
                    assert_eq!(a.plural, "events");
                }
            }
        }
    }
}
