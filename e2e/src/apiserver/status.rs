//! `Status` errors with the shapes a kube-apiserver sends, and field errors for 422 Invalid.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::resources::ResourceType;

/// A failed API call: rendered as a `kind: Status` body with the same HTTP code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct Status {
    pub code: u16,
    pub reason: String,
    pub message: String,
    /// `details` as sent (name, group, kind, causes, retryAfterSeconds), if any.
    pub details: Option<Value>,
}

impl Status {
    fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.to_owned(),
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The `Status` object a real server sends for this error.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        });
        if let (Some(details), Some(map)) = (&self.details, body.as_object_mut()) {
            map.insert("details".to_owned(), details.clone());
        }
        if let Some(map) = body.as_object_mut() {
            map.insert("code".to_owned(), json!(self.code));
        }
        body
    }

    /// Parses a `Status` body (as a client would see it).
    pub fn from_json(value: &Value) -> Option<Self> {
        if value.get("kind")?.as_str()? != "Status" {
            return None;
        }
        Some(Self {
            code: u16::try_from(value.get("code")?.as_u64()?).ok()?,
            reason: value
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            message: value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            details: value.get("details").cloned(),
        })
    }

    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", rt.qualified()),
        )
        .with_details(resource_details(rt, name))
    }

    /// Admission's answer for a write into a namespace that does not exist.
    pub fn namespace_not_found(namespace: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("namespaces \"{namespace}\" not found"),
        )
        .with_details(json!({"name": namespace, "kind": "namespaces"}))
    }

    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", rt.qualified()),
        )
        .with_details(resource_details(rt, name))
    }

    /// Optimistic concurrency failure: the object changed since the client read it.
    pub fn conflict(rt: &ResourceType, name: &str) -> Self {
        Self::conflict_because(
            rt,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub fn conflict_because(rt: &ResourceType, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                rt.qualified()
            ),
        )
        .with_details(resource_details(rt, name))
    }

    /// 422 with one cause per field error.
    pub fn invalid(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Self {
        let qualified_kind = if group.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind}.{group}")
        };
        let aggregate = match errors {
            [one] => one.to_string(),
            many => format!(
                "[{}]",
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.kind.reason(), "message": e.body(), "field": e.field}))
            .collect();
        let mut details = Map::new();
        details.insert("name".to_owned(), json!(name));
        if !group.is_empty() {
            details.insert("group".to_owned(), json!(group));
        }
        details.insert("kind".to_owned(), json!(kind));
        details.insert("causes".to_owned(), Value::Array(causes));
        Self::new(
            422,
            "Invalid",
            format!("{qualified_kind} \"{name}\" is invalid: {aggregate}"),
        )
        .with_details(Value::Object(details))
    }

    pub fn invalid_object(rt: &ResourceType, name: &str, errors: &[FieldError]) -> Self {
        Self::invalid(rt.kind, rt.group, name, errors)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 410 Gone: a resourceVersion or continue token older than the retained history.
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
    }

    pub fn path_not_found() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    pub fn unsupported_media_type(content_type: &str, accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
    }

    pub fn too_large_body() -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: limit is 3145728",
        )
    }

    /// A NotOlderThan read for a resourceVersion the store has not reached yet.
    pub fn too_large_resource_version(asked: u64, current: u64) -> Self {
        Self::new(
            504,
            "Timeout",
            format!("Too large resource version: {asked}, current: {current}"),
        )
        .with_details(json!({
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1
        }))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }
}

fn resource_details(rt: &ResourceType, name: &str) -> Value {
    let mut details = Map::new();
    details.insert("name".to_owned(), json!(name));
    if !rt.group.is_empty() {
        details.insert("group".to_owned(), json!(rt.group));
    }
    details.insert("kind".to_owned(), json!(rt.plural));
    Value::Object(details)
}

/// What is wrong with one field, as in `k8s.io/apimachinery/pkg/util/validation/field`.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind {
    Required,
    Invalid(Value),
    NotSupported(Value, Vec<String>),
    Forbidden,
    Duplicate(Value),
    TooMany(usize, usize),
}

impl ErrorKind {
    fn reason(&self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid(_) => "FieldValueInvalid",
            Self::NotSupported(..) => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::Duplicate(_) => "FieldValueDuplicate",
            Self::TooMany(..) => "FieldValueTooMany",
        }
    }
}

/// One field error: `field: <body>` where body is e.g. `Invalid value: "x": detail`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub kind: ErrorKind,
    pub detail: String,
}

impl FieldError {
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            kind: ErrorKind::Required,
            detail: detail.into(),
        }
    }

    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            kind: ErrorKind::Invalid(value.into()),
            detail: detail.into(),
        }
    }

    pub fn not_supported(
        field: impl Into<String>,
        value: impl Into<Value>,
        supported: &[&str],
    ) -> Self {
        Self {
            field: field.into(),
            kind: ErrorKind::NotSupported(
                value.into(),
                supported.iter().map(|s| (*s).to_owned()).collect(),
            ),
            detail: String::new(),
        }
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            kind: ErrorKind::Forbidden,
            detail: detail.into(),
        }
    }

    pub fn duplicate(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self {
            field: field.into(),
            kind: ErrorKind::Duplicate(value.into()),
            detail: String::new(),
        }
    }

    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> Self {
        Self {
            field: field.into(),
            kind: ErrorKind::TooMany(actual, max),
            detail: String::new(),
        }
    }

    pub fn immutable(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self::invalid(field, value, "field is immutable")
    }

    /// The message without the field path (a cause's `message`).
    pub fn body(&self) -> String {
        let mut out = match &self.kind {
            ErrorKind::Required => "Required value".to_owned(),
            ErrorKind::Invalid(value) => format!("Invalid value: {}", render(value)),
            ErrorKind::NotSupported(value, supported) => {
                let mut s = format!("Unsupported value: {}", render(value));
                if !supported.is_empty() {
                    let list: Vec<String> = supported.iter().map(|v| format!("\"{v}\"")).collect();
                    let _ = write!(s, ": supported values: {}", list.join(", "));
                }
                s
            }
            ErrorKind::Forbidden => "Forbidden".to_owned(),
            ErrorKind::Duplicate(value) => format!("Duplicate value: {}", render(value)),
            ErrorKind::TooMany(actual, max) => {
                format!("Too many: {actual}: must have at most {max} items")
            }
        };
        if !self.detail.is_empty() {
            let _ = write!(out, ": {}", self.detail);
        }
        out
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

fn render(value: &Value) -> String {
    match value {
        Value::String(_) => value.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::resources;

    #[test]
    fn not_found_has_the_real_shape() {
        let rt = resources::by_kind("networking.k8s.io/v1", "Ingress").expect("ingress registered");
        let body = Status::not_found(rt, "x").to_json();
        assert_eq!(
            body,
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                "message":"ingresses.networking.k8s.io \"x\" not found","reason":"NotFound",
                "details":{"name":"x","group":"networking.k8s.io","kind":"ingresses"},"code":404})
        );
    }

    #[test]
    fn core_kinds_have_no_group_in_messages() {
        let rt = resources::by_kind("v1", "Service").expect("service registered");
        let status = Status::already_exists(rt, "web");
        assert_eq!(status.message, "services \"web\" already exists");
        assert_eq!(
            status.details,
            Some(json!({"name": "web", "kind": "services"}))
        );
    }

    #[test]
    fn invalid_aggregates_several_errors() {
        let errors = [
            FieldError::invalid("a", "1.2.3.4", "bad"),
            FieldError::required("b", ""),
        ];
        let status = Status::invalid("EndpointSlice", "discovery.k8s.io", "s", &errors);
        assert_eq!(
            status.message,
            "EndpointSlice.discovery.k8s.io \"s\" is invalid: [a: Invalid value: \"1.2.3.4\": bad, b: Required value]"
        );
        let causes = status
            .details
            .as_ref()
            .and_then(|d| d.get("causes"))
            .cloned();
        assert_eq!(
            causes,
            Some(json!([
                {"reason":"FieldValueInvalid","message":"Invalid value: \"1.2.3.4\": bad","field":"a"},
                {"reason":"FieldValueRequired","message":"Required value","field":"b"}
            ]))
        );
    }

    #[test]
    fn round_trips_through_json() {
        let status = Status::expired("too old resource version: 1 (5)");
        assert_eq!(Status::from_json(&status.to_json()), Some(status));
    }
}
