//! PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch
//! and server-side apply. The last two are approximations:
//! - strategic merge patch is applied as a JSON merge patch after dropping `$`-directives
//!   (`$patch`, `$setElementOrder/…`, `$retainKeys`, `$deleteFromPrimitiveList/…`), so lists are
//!   replaced whole rather than merged by their patch merge key;
//! - server-side apply requires `fieldManager`, creates the object when missing, and otherwise
//!   merges the applied configuration into the live object as a JSON merge patch: no managed
//!   fields, no ownership conflicts (`force` is accepted and ignored), lists replaced whole.

use serde_json::Value;

use super::status::{FieldError, Status};

/// The patch formats a real server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

pub const MEDIA_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

impl PatchType {
    /// From a `Content-Type` (parameters ignored).
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        match media {
            "application/json-patch+json" => Some(Self::Json),
            "application/merge-patch+json" => Some(Self::Merge),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// Parses the body of an apply request (YAML or JSON).
pub fn parse_apply(body: &[u8]) -> Result<Value, Status> {
    serde_yaml_ng::from_slice::<Value>(body)
        .map_err(|e| Status::bad_request(format!("error decoding YAML: {e}")))
}

/// Applies `body` to `current` (None: the object does not exist; only apply may create).
pub fn apply(kind: PatchType, current: Option<&Value>, body: &[u8]) -> Result<Value, Status> {
    match kind {
        PatchType::Apply => {
            let applied = parse_apply(body)?;
            if !applied.is_object() {
                return Err(Status::bad_request("apply patch must be an object"));
            }
            Ok(match current {
                None => applied,
                Some(current) => {
                    let mut doc = current.clone();
                    json_patch::merge(&mut doc, &applied);
                    doc
                }
            })
        }
        PatchType::Merge | PatchType::Strategic => {
            let mut patch: Value = serde_json::from_slice(body)
                .map_err(|e| Status::bad_request(format!("error decoding patch: {e}")))?;
            if kind == PatchType::Strategic {
                strip_directives(&mut patch);
            }
            if !patch.is_object() {
                return Err(Status::bad_request("merge patch must be a JSON object"));
            }
            let mut doc = current.cloned().unwrap_or(Value::Null);
            json_patch::merge(&mut doc, &patch);
            Ok(doc)
        }
        PatchType::Json => {
            let patch: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| Status::bad_request(format!("error decoding patch: {e}")))?;
            let mut doc = current.cloned().unwrap_or(Value::Null);
            json_patch::patch(&mut doc, &patch).map_err(|e| {
                Status::invalid(
                    "Patch",
                    "",
                    "",
                    &[FieldError::invalid("", "", e.to_string())],
                )
            })?;
            Ok(doc)
        }
    }
}

fn strip_directives(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !k.starts_with('$'));
            map.values_mut().for_each(strip_directives);
        }
        Value::Array(items) => {
            items.retain(|item| {
                !item
                    .as_object()
                    .is_some_and(|m| m.keys().any(|k| k == "$patch"))
            });
            items.iter_mut().for_each(strip_directives);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let current = json!({"spec": {"a": 1, "b": [1, 2]}, "metadata": {"labels": {"x": "y"}}});
        let out = apply(
            PatchType::Merge,
            Some(&current),
            br#"{"spec": {"a": null, "b": [3]}, "metadata": {"labels": {"z": "w"}}}"#,
        )
        .expect("applies");
        assert_eq!(
            out,
            json!({"spec": {"b": [3]}, "metadata": {"labels": {"x": "y", "z": "w"}}})
        );
    }

    #[test]
    fn json_patch_follows_rfc_6902() {
        let current = json!({"spec": {"rules": [{"host": "a"}]}});
        let out = apply(
            PatchType::Json,
            Some(&current),
            br#"[{"op": "test", "path": "/spec/rules/0/host", "value": "a"},
                 {"op": "replace", "path": "/spec/rules/0/host", "value": "b"}]"#,
        )
        .expect("applies");
        assert_eq!(out, json!({"spec": {"rules": [{"host": "b"}]}}));
        let err = apply(
            PatchType::Json,
            Some(&current),
            br#"[{"op": "test", "path": "/spec/rules/0/host", "value": "zzz"}]"#,
        )
        .expect_err("test fails");
        assert_eq!(err.code, 422);
    }

    #[test]
    fn strategic_merge_drops_directives() {
        let current = json!({"spec": {"ports": [{"port": 80}]}});
        let out = apply(
            PatchType::Strategic,
            Some(&current),
            br#"{"$setElementOrder/ports": [{"port": 81}], "spec": {"ports": [{"port": 81}]}}"#,
        )
        .expect("applies");
        assert_eq!(out, json!({"spec": {"ports": [{"port": 81}]}}));
    }

    #[test]
    fn apply_creates_from_yaml() {
        let out = apply(
            PatchType::Apply,
            None,
            b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
        )
        .expect("applies");
        assert_eq!(out["metadata"]["name"], "c");
        assert_eq!(
            PatchType::from_content_type("application/apply-patch+yaml; charset=utf-8"),
            Some(PatchType::Apply)
        );
        assert_eq!(PatchType::from_content_type("application/json"), None);
    }
}
