//! Conversion between the stored shape of an object and the shape one API version serves.
//! Only Events differ: core `v1` Events are stored; `events.k8s.io/v1` renames fields.

use serde_json::{Map, Value};

use super::resources::ResourceType;

/// (events.k8s.io/v1 name, core v1 name)
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
];

fn is_new_event(rt: &ResourceType) -> bool {
    rt.group == "events.k8s.io"
}

fn rename(object: &mut Value, pairs: impl Iterator<Item = (&'static str, &'static str)>) {
    let Value::Object(map) = object else { return };
    let mut moved = Map::new();
    for (from, to) in pairs {
        if let Some(v) = map.remove(from) {
            moved.insert(to.to_owned(), v);
        }
    }
    map.extend(moved);
}

/// The stored shape of an object received through `rt`.
pub fn to_storage(rt: &ResourceType, mut object: Value) -> Value {
    if is_new_event(rt) {
        rename(&mut object, EVENT_FIELDS.iter().copied());
        set_type(&mut object, "v1", "Event");
    } else {
        set_type(&mut object, &rt.api_version(), rt.kind);
    }
    object
}

/// The shape `rt` serves for a stored object (with `apiVersion` and `kind`).
pub fn to_external(rt: &ResourceType, stored: &Value) -> Value {
    let mut object = stored.clone();
    if is_new_event(rt) {
        rename(&mut object, EVENT_FIELDS.iter().map(|(a, b)| (*b, *a)));
        if let Value::Object(map) = &mut object {
            map.entry("eventTime").or_insert(Value::Null);
        }
    } else if rt.storage == "events"
        && let Value::Object(map) = &mut object
    {
        map.entry("involvedObject")
            .or_insert_with(|| Value::Object(Map::new()));
    }
    set_type(&mut object, &rt.api_version(), rt.kind);
    object
}

fn set_type(object: &mut Value, api_version: &str, kind: &str) {
    if let Value::Object(map) = object {
        // `kind` then `apiVersion` first, as the real server orders them.
        let rest = std::mem::take(map);
        map.insert("kind".to_owned(), Value::String(kind.to_owned()));
        map.insert(
            "apiVersion".to_owned(),
            Value::String(api_version.to_owned()),
        );
        for (k, v) in rest {
            if k != "kind" && k != "apiVersion" {
                map.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::resources::by_kind;
    use serde_json::json;

    #[test]
    fn events_round_trip_between_versions() {
        let new = by_kind("events.k8s.io/v1", "Event").expect("events.k8s.io");
        let core = by_kind("v1", "Event").expect("core");
        let sent = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "Ingress", "name": "i"}, "note": "hello", "reportingController": "wicket.dev/c",
            "eventTime": "2024-01-01T00:00:00.000000Z"});
        let stored = to_storage(new, sent.clone());
        assert_eq!(stored["message"], "hello");
        assert_eq!(stored["involvedObject"]["kind"], "Ingress");
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(to_external(new, &stored), sent);
        let as_core = to_external(core, &stored);
        assert_eq!(as_core["reportingComponent"], "wicket.dev/c");
        assert_eq!(as_core["apiVersion"], "v1");
    }
}
