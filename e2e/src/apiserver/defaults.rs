//! Defaulting the real server applies before validation: Service cluster IPs and ports,
//! Secret `stringData`, EndpointSlice port protocols, Namespace phase and name label.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::meta;
use super::resources::ResourceType;
use super::status::Status;

/// Allocates cluster IPs (10.96.0.0/12) and node ports (30000-32767).
#[derive(Debug)]
pub struct Allocator {
    next_ip: u32,
    next_node_port: u16,
}

impl Default for Allocator {
    fn default() -> Self {
        Self {
            next_ip: 10,
            next_node_port: 30000,
        }
    }
}

impl Allocator {
    fn cluster_ip(&mut self) -> String {
        let n = self.next_ip;
        self.next_ip = self.next_ip.wrapping_add(1) % (1 << 20);
        format!("10.{}.{}.{}", 96 + (n >> 16), (n >> 8) & 0xff, n & 0xff)
    }

    fn node_port(&mut self) -> u16 {
        let p = self.next_node_port;
        self.next_node_port = if p >= 32767 { 30000 } else { p + 1 };
        p
    }
}

fn obj<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    map.entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

/// Fills defaults into `object` (stored shape). `old` is the stored object on updates.
pub fn apply(
    rt: &ResourceType,
    object: &mut Value,
    old: Option<&Value>,
    alloc: &mut Allocator,
) -> Result<(), Status> {
    match (rt.group, rt.kind) {
        ("", "Service") => service(object, old, alloc),
        ("", "Secret") => return secret(object),
        ("", "Namespace") => namespace(object),
        ("discovery.k8s.io", "EndpointSlice") => endpoint_slice(object),
        ("networking.k8s.io", "Ingress") => {
            if let Some(map) = object.as_object_mut()
                && let Some(status) = obj(map, "status")
            {
                status.entry("loadBalancer").or_insert_with(|| json!({}));
            }
        }
        _ => {}
    }
    Ok(())
}

fn service(object: &mut Value, old: Option<&Value>, alloc: &mut Allocator) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    if let Some(status) = obj(map, "status") {
        status.entry("loadBalancer").or_insert_with(|| json!({}));
    }
    let Some(spec) = obj(map, "spec") else { return };
    let service_type = spec
        .entry("type")
        .or_insert_with(|| json!("ClusterIP"))
        .as_str()
        .unwrap_or("ClusterIP")
        .to_owned();
    spec.entry("sessionAffinity")
        .or_insert_with(|| json!("None"));
    if service_type == "ExternalName" {
        return;
    }
    // An update that omits allocated values keeps the old ones.
    if let Some(old_spec) = old.and_then(|o| o.get("spec")) {
        for key in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            if let Some(v) = old_spec.get(key)
                && !spec.contains_key(key)
            {
                spec.insert(key.to_owned(), v.clone());
            }
        }
    }
    let ip = match spec.get("clusterIP").and_then(Value::as_str) {
        Some(ip) if !ip.is_empty() => ip.to_owned(),
        _ => alloc.cluster_ip(),
    };
    spec.insert("clusterIP".to_owned(), json!(ip));
    spec.entry("clusterIPs").or_insert_with(|| json!([ip]));
    spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
    spec.entry("ipFamilyPolicy")
        .or_insert_with(|| json!("SingleStack"));
    spec.entry("internalTrafficPolicy")
        .or_insert_with(|| json!("Cluster"));
    let external = service_type == "NodePort" || service_type == "LoadBalancer";
    if external {
        spec.entry("externalTrafficPolicy")
            .or_insert_with(|| json!("Cluster"));
    }
    if service_type == "LoadBalancer" {
        spec.entry("allocateLoadBalancerNodePorts")
            .or_insert_with(|| json!(true));
    }
    let old_ports = old
        .and_then(|o| o.pointer("/spec/ports"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            port.entry("protocol").or_insert_with(|| json!("TCP"));
            let number = port.get("port").cloned().unwrap_or(Value::Null);
            port.entry("targetPort").or_insert(number.clone());
            if external && !port.contains_key("nodePort") {
                let kept = old_ports
                    .iter()
                    .find(|p| p.get("port") == Some(&number))
                    .and_then(|p| p.get("nodePort").cloned());
                let node_port = kept.unwrap_or_else(|| json!(alloc.node_port()));
                port.insert("nodePort".to_owned(), node_port);
            }
        }
    }
}

fn secret(object: &mut Value) -> Result<(), Status> {
    let Some(map) = object.as_object_mut() else {
        return Ok(());
    };
    map.entry("type").or_insert_with(|| json!("Opaque"));
    if let Some(data) = map.get("data").and_then(Value::as_object) {
        for value in data.values() {
            let text = value.as_str().unwrap_or_default();
            if let Err(e) = STANDARD.decode(text) {
                return Err(Status::bad_request(format!(
                    "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data ({e})"
                )));
            }
        }
    }
    if let Some(Value::Object(string_data)) = map.remove("stringData") {
        let Some(data) = obj(map, "data") else {
            return Ok(());
        };
        for (k, v) in string_data {
            let encoded = STANDARD.encode(v.as_str().unwrap_or_default());
            data.insert(k, Value::String(encoded));
        }
    }
    Ok(())
}

fn namespace(object: &mut Value) {
    let name = meta::name(object).to_owned();
    if let Some(labels) = obj(meta::metadata_mut(object), "labels") {
        labels.insert("kubernetes.io/metadata.name".to_owned(), json!(name));
    }
    let Some(map) = object.as_object_mut() else {
        return;
    };
    if let Some(spec) = obj(map, "spec") {
        spec.entry("finalizers")
            .or_insert_with(|| json!(["kubernetes"]));
    }
    if let Some(status) = obj(map, "status") {
        status.entry("phase").or_insert_with(|| json!("Active"));
    }
}

fn endpoint_slice(object: &mut Value) {
    let Some(ports) = object.get_mut("ports").and_then(Value::as_array_mut) else {
        return;
    };
    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
        port.entry("protocol").or_insert_with(|| json!("TCP"));
        port.entry("name").or_insert_with(|| json!(""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::resources::by_kind;

    #[test]
    fn services_get_an_ip_and_port_defaults() {
        let svc = by_kind("v1", "Service").expect("svc");
        let mut alloc = Allocator::default();
        let mut object = json!({"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}});
        apply(svc, &mut object, None, &mut alloc).expect("defaults");
        assert_eq!(object["spec"]["clusterIP"], "10.96.0.10");
        assert_eq!(object["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(object["spec"]["ports"][0]["protocol"], "TCP");
        assert_eq!(object["spec"]["ports"][0]["nodePort"], 30000);
        assert_eq!(object["status"], json!({"loadBalancer": {}}));
        let mut update = json!({"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}});
        apply(svc, &mut update, Some(&object), &mut alloc).expect("defaults");
        assert_eq!(update["spec"]["clusterIP"], "10.96.0.10");
        assert_eq!(update["spec"]["ports"][0]["nodePort"], 30000);
    }

    #[test]
    fn secrets_merge_string_data() {
        let secret = by_kind("v1", "Secret").expect("secret");
        let mut object = json!({"metadata": {"name": "s"}, "stringData": {"a": "hi"}});
        apply(secret, &mut object, None, &mut Allocator::default()).expect("defaults");
        assert_eq!(
            object,
            json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "aGk="}})
        );
        let mut bad = json!({"metadata": {"name": "s"}, "data": {"a": "!!"}});
        let err = apply(secret, &mut bad, None, &mut Allocator::default()).expect_err("bad base64");
        assert_eq!(err.code, 400);
    }
}
