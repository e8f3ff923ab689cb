//! Object metadata helpers: reading and writing `metadata.*`, timestamps, UIDs, generated names.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// A string field of `metadata`, or "" when absent.
pub fn get<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

pub fn name(object: &Value) -> &str {
    get(object, "name")
}

pub fn namespace(object: &Value) -> &str {
    get(object, "namespace")
}

pub fn resource_version(object: &Value) -> &str {
    get(object, "resourceVersion")
}

/// `metadata` as a mutable map, created (and the object turned into a map) when missing.
pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    let Value::Object(map) = object else {
        unreachable!("made an object above")
    };
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    match meta {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

pub fn set(object: &mut Value, field: &str, value: impl Into<Value>) {
    metadata_mut(object).insert(field.to_owned(), value.into());
}

pub fn remove(object: &mut Value, field: &str) -> Option<Value> {
    metadata_mut(object).remove(field)
}

/// Sets a top-level field of an object.
pub fn set_top(object: &mut Value, field: &str, value: Value) {
    if let Value::Object(map) = object {
        map.insert(field.to_owned(), value);
    }
}

pub fn remove_top(object: &mut Value, field: &str) -> Option<Value> {
    object.as_object_mut().and_then(|m| m.remove(field))
}

/// Now, RFC 3339 in UTC with whole seconds (`metav1.Time`).
pub fn now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    rfc3339(secs)
}

/// Formats seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or_default());
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A random version-4 UUID.
pub fn uid() -> String {
    let a = fastrand::u64(..);
    let b = fastrand::u64(..);
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-{:x}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        8 + (b >> 62),
        &hex[17..20],
        &hex[20..32]
    )
}

/// The five characters the real server appends to `generateName`.
pub fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn uids_look_like_uuids() {
        let u = uid();
        assert_eq!(u.len(), 36);
        assert_eq!(u.chars().nth(14), Some('4'));
        assert_ne!(u, uid());
    }

    #[test]
    fn metadata_is_created_on_demand() {
        let mut v = serde_json::json!({"kind": "X"});
        set(&mut v, "name", "a");
        assert_eq!(name(&v), "a");
        assert_eq!(namespace(&v), "");
    }
}
