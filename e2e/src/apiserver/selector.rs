//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!`exists, `>`, `<`) and field
//! selectors (`=`, `==`, `!=` on the fields each kind supports), as `labels.Parse` and the
//! per-kind field label conversions accept them.

use serde_json::Value;

use super::resources::ResourceType;
use super::validate::{label_key_errors, label_value_errors};

#[derive(Debug, Clone, PartialEq)]
enum LabelOp {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    GreaterThan(i64),
    LessThan(i64),
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    requirements: Vec<(String, LabelOp)>,
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                if text.trim().is_empty() {
                    continue;
                }
                return Err("found ',', expected: identifier".to_owned());
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(Self { requirements })
    }

    pub fn matches(&self, object: &Value) -> bool {
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object);
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.requirements.iter().all(|(key, op)| match op {
            LabelOp::Equals(v) => label(key) == Some(v.as_str()),
            LabelOp::NotEquals(v) => label(key) != Some(v.as_str()),
            LabelOp::In(vs) => label(key).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelOp::NotIn(vs) => label(key).is_none_or(|l| vs.iter().all(|v| v != l)),
            LabelOp::Exists => label(key).is_some(),
            LabelOp::DoesNotExist => label(key).is_none(),
            LabelOp::GreaterThan(n) => label(key)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l > *n),
            LabelOp::LessThan(n) => label(key)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l < *n),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0_i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_requirement(part: &str) -> Result<(String, LabelOp), String> {
    if let Some(key) = part.strip_prefix('!') {
        let key = key.trim();
        check_key(key)?;
        return Ok((key.to_owned(), LabelOp::DoesNotExist));
    }
    let end = part
        .find(|c: char| c.is_whitespace() || "=!<>(".contains(c))
        .unwrap_or(part.len());
    let (key, rest) = part.split_at(end);
    check_key(key)?;
    let rest = rest.trim_start();
    let key = key.to_owned();
    if rest.is_empty() {
        return Ok((key, LabelOp::Exists));
    }
    for (token, build) in [
        ("==", LabelOp::Equals as fn(String) -> LabelOp),
        ("!=", LabelOp::NotEquals),
        ("=", LabelOp::Equals),
    ] {
        if let Some(value) = rest.strip_prefix(token) {
            let value = value.trim();
            check_value(value)?;
            return Ok((key, build(value.to_owned())));
        }
    }
    for (token, greater) in [(">", true), ("<", false)] {
        if let Some(value) = rest.strip_prefix(token) {
            let value = value.trim();
            let n = value.parse::<i64>().map_err(|_| {
                format!("for 'Gt', 'Lt' operators, the value must be an integer: {value}")
            })?;
            let op = if greater {
                LabelOp::GreaterThan(n)
            } else {
                LabelOp::LessThan(n)
            };
            return Ok((key, op));
        }
    }
    for (word, notin) in [("notin", true), ("in", false)] {
        if let Some(after) = rest.strip_prefix(word) {
            let after = after.trim_start();
            let Some(inner) = after
                .strip_prefix('(')
                .and_then(|a| a.trim_end().strip_suffix(')'))
            else {
                return Err(format!("found '{after}', expected: '('"));
            };
            let mut values = Vec::new();
            for v in inner.split(',') {
                let v = v.trim();
                check_value(v)?;
                values.push(v.to_owned());
            }
            let op = if notin {
                LabelOp::NotIn(values)
            } else {
                LabelOp::In(values)
            };
            return Ok((key, op));
        }
    }
    Err(format!(
        "found '{rest}', expected: in, notin, =, ==, !=, gt, lt"
    ))
}

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("found '', expected: identifier".to_owned());
    }
    match label_key_errors(key).first() {
        Some(msg) => Err(format!("key: Invalid value: \"{key}\": {msg}")),
        None => Ok(()),
    }
}

fn check_value(value: &str) -> Result<(), String> {
    match label_value_errors(value).first() {
        Some(msg) => Err(format!("values[0]: Invalid value: \"{value}\": {msg}")),
        None => Ok(()),
    }
}

/// A parsed field selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {
    /// (field path as stored, value, negated)
    requirements: Vec<(String, String, bool)>,
}

impl FieldSelector {
    /// Parses and checks the fields against what `rt` supports; the error is the reason text
    /// a real server gives (`field label not supported: x`).
    pub fn parse(text: &str, rt: &ResourceType) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_unescaped(text, ',') {
            if part.trim().is_empty() {
                continue;
            }
            let (field, value, negated) = if let Some((f, v)) = split_op(&part, "!=") {
                (f, v, true)
            } else if let Some((f, v)) = split_op(&part, "==") {
                (f, v, false)
            } else if let Some((f, v)) = split_op(&part, "=") {
                (f, v, false)
            } else {
                return Err(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                ));
            };
            let stored = stored_field(rt, field.trim())?;
            requirements.push((stored, unescape(&value), negated));
        }
        Ok(Self { requirements })
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.requirements.iter().all(|(field, value, negated)| {
            let actual = field_value(object, field);
            (actual == *value) != *negated
        })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

fn split_op(part: &str, op: &str) -> Option<(String, String)> {
    let (f, v) = part.split_once(op)?;
    Some((f.to_owned(), v.to_owned()))
}

/// Splits on `sep` not preceded by a backslash (field selector values escape `,` and `=`).
fn split_unescaped(text: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            if let Some(last) = parts.last_mut() {
                last.push('\\');
                last.push(c);
            }
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(String::new());
        } else if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
}

fn unescape(value: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in value.chars() {
        if !escaped && c == '\\' {
            escaped = true;
        } else {
            out.push(c);
            escaped = false;
        }
    }
    out
}

const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

/// The stored field a selector field names for `rt`, or the real server's refusal.
fn stored_field(rt: &ResourceType, field: &str) -> Result<String, String> {
    if field == "metadata.name" || field == "metadata.namespace" {
        return Ok(field.to_owned());
    }
    let supported = match (rt.group, rt.kind) {
        ("", "Secret") => field == "type",
        ("", "Namespace") => field == "status.phase",
        ("", "Service") => field == "spec.clusterIP" || field == "spec.type",
        ("", "Event") => EVENT_FIELDS.contains(&field),
        ("events.k8s.io", "Event") => {
            let core = match field {
                "reportingController" => "reportingComponent".to_owned(),
                "deprecatedSource" => "source".to_owned(),
                other => match other.strip_prefix("regarding.") {
                    Some(rest) => format!("involvedObject.{rest}"),
                    None => other.to_owned(),
                },
            };
            return if EVENT_FIELDS.contains(&core.as_str()) {
                Ok(core)
            } else {
                Err(format!("field label not supported: {field}"))
            };
        }
        _ => {
            return Err(format!(
                "\"{field}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
            ));
        }
    };
    if supported {
        Ok(field.to_owned())
    } else {
        Err(format!("field label not supported: {field}"))
    }
}

fn field_value(object: &Value, field: &str) -> String {
    let path = if field == "source" {
        "/source/component".to_owned()
    } else {
        format!("/{}", field.replace('.', "/"))
    };
    match object.pointer(&path) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::resources::by_kind;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "a", "namespace": "ns", "labels": labels}, "type": "Opaque"})
    }

    #[test]
    fn equality_and_inequality() {
        let s = LabelSelector::parse("app=web,tier!=db").expect("parses");
        assert!(s.matches(&obj(json!({"app": "web"}))));
        assert!(!s.matches(&obj(json!({"app": "web", "tier": "db"}))));
        assert!(!s.matches(&obj(json!({"app": "api"}))));
        let s = LabelSelector::parse("app==web").expect("parses");
        assert!(s.matches(&obj(json!({"app": "web"}))));
    }

    #[test]
    fn sets_and_existence() {
        let s = LabelSelector::parse("env in (prod, staging),tier notin (db),team,!legacy")
            .expect("parses");
        assert!(s.matches(&obj(json!({"env": "prod", "team": "x"}))));
        assert!(!s.matches(&obj(json!({"env": "dev", "team": "x"}))));
        assert!(!s.matches(&obj(json!({"env": "prod", "team": "x", "tier": "db"}))));
        assert!(!s.matches(&obj(json!({"env": "prod"}))));
        assert!(!s.matches(&obj(json!({"env": "prod", "team": "x", "legacy": ""}))));
    }

    #[test]
    fn numeric_comparisons() {
        let s = LabelSelector::parse("gen>2").expect("parses");
        assert!(s.matches(&obj(json!({"gen": "3"}))));
        assert!(!s.matches(&obj(json!({"gen": "2"}))));
        assert!(LabelSelector::parse("gen>x").is_err());
    }

    #[test]
    fn rejects_garbage() {
        assert!(LabelSelector::parse("a b").is_err());
        assert!(LabelSelector::parse("app=a b").is_err());
        assert!(LabelSelector::parse("in (x").is_err());
        assert!(LabelSelector::parse("").expect("empty ok").is_empty());
    }

    #[test]
    fn field_selectors_follow_the_kind() {
        let secret = by_kind("v1", "Secret").expect("secret");
        let s = FieldSelector::parse("metadata.name=a,type!=kubernetes.io/tls", secret)
            .expect("parses");
        assert!(s.matches(&obj(json!({}))));
        let err = FieldSelector::parse("spec.x=1", secret).expect_err("unsupported");
        assert_eq!(err, "field label not supported: spec.x");
        let ing = by_kind("networking.k8s.io/v1", "Ingress").expect("ingress");
        let err = FieldSelector::parse("spec.ingressClassName=x", ing).expect_err("unsupported");
        assert!(err.contains("is not a known field selector"), "{err}");
    }

    #[test]
    fn field_values_may_escape_commas() {
        let cm = by_kind("v1", "ConfigMap").expect("cm");
        let s = FieldSelector::parse("metadata.name=a\\,b", cm).expect("parses");
        assert!(s.matches(&json!({"metadata": {"name": "a,b"}})));
    }
}
