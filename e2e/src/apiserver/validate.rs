//! Validation as the real server does it, per kind: metadata (names, labels), EndpointSlice
//! addresses (no loopback/link-local/unspecified), Ingress rules and backends, Services,
//! Secrets, Leases, Events. Errors are field errors that become a 422 Invalid.

use std::collections::HashSet;
use std::net::IpAddr;

use serde_json::Value;

use super::meta;
use super::resources::{NameRule, ResourceType};
use super::status::FieldError;

const SUBDOMAIN_FMT: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_FMT: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_FMT: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const WILDCARD_FMT: &str = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_VALUE_FMT: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const QUALIFIED_NAME_FMT: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const CONFIG_KEY_FMT: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn label_shape(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| is_lower_alnum(c) || c == '-')
        && s.starts_with(is_lower_alnum)
        && s.ends_with(is_lower_alnum)
}

pub fn dns1123_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    if !label_shape(s) {
        errs.push(LABEL_FMT.to_owned());
    }
    errs
}

pub fn dns1123_subdomain_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push("must be no more than 253 characters".to_owned());
    }
    if !s.split('.').all(label_shape) {
        errs.push(SUBDOMAIN_FMT.to_owned());
    }
    errs
}

pub fn dns1035_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    if !label_shape(s) || !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        errs.push(DNS1035_FMT.to_owned());
    }
    errs
}

fn wildcard_subdomain_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push("must be no more than 253 characters".to_owned());
    }
    match s.strip_prefix("*.") {
        Some(rest) if rest.split('.').all(label_shape) => {}
        _ => errs.push(WILDCARD_FMT.to_owned()),
    }
    errs
}

fn path_segment_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s == "." || s == ".." {
        errs.push(format!("may not be '{s}'"));
    }
    for bad in ["/", "%"] {
        if s.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

fn qualified_name_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// `IsQualifiedName`: `[prefix/]name` as label and annotation keys are.
pub fn label_key_errors(key: &str) -> Vec<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let mut errs = Vec::new();
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_owned());
    } else if !qualified_name_part(name) {
        errs.push(QUALIFIED_NAME_FMT.to_owned());
    }
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            errs.push("prefix part must be non-empty".to_owned());
        } else {
            errs.extend(
                dns1123_subdomain_errors(prefix)
                    .into_iter()
                    .map(|m| format!("prefix part {m}")),
            );
        }
    }
    errs
}

pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_owned());
    }
    if !value.is_empty() && !qualified_name_part(value) {
        errs.push(LABEL_VALUE_FMT.to_owned());
    }
    errs
}

fn port_name_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push("must be no more than 15 characters".to_owned());
    }
    if !name.chars().all(|c| is_lower_alnum(c) || c == '-') {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_owned(),
        );
    }
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_owned());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".to_owned());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_owned());
    }
    errs
}

fn port_number_ok(n: i64) -> bool {
    (1..=65535).contains(&n)
}

const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";

/// `ValidateNonSpecialIP` (used for endpoint addresses).
pub fn endpoint_ip_errors(field: &str, address: &str) -> Vec<FieldError> {
    let Ok(ip) = address.parse::<IpAddr>() else {
        return vec![FieldError::invalid(
            field,
            address,
            "must be a valid IP address",
        )];
    };
    let mut errs = Vec::new();
    if ip.is_unspecified() {
        errs.push(FieldError::invalid(
            field,
            address,
            format!("may not be unspecified ({address})"),
        ));
    }
    let mapped = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    let (loopback, link_local, link_local_multicast) = match mapped {
        IpAddr::V4(v4) => (
            v4.is_loopback(),
            v4.is_link_local(),
            v4.octets()[..3] == [224, 0, 0],
        ),
        IpAddr::V6(v6) => (
            v6.is_loopback(),
            v6.segments()[0] & 0xffc0 == 0xfe80,
            v6.segments()[0] & 0xff0f == 0xff02,
        ),
    };
    if loopback {
        errs.push(FieldError::invalid(
            field,
            address,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    if link_local {
        errs.push(FieldError::invalid(
            field,
            address,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if link_local_multicast {
        errs.push(FieldError::invalid(
            field,
            address,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
    errs
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn array_at<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn push_msgs(errs: &mut Vec<FieldError>, field: &str, value: &str, msgs: Vec<String>) {
    errs.extend(
        msgs.into_iter()
            .map(|m| FieldError::invalid(field, value, m)),
    );
}

/// `ValidateObjectMeta` for a new object (name rule, labels, annotations).
fn object_meta(rt: &ResourceType, object: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = meta::name(object);
    if name.is_empty() {
        errs.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        let msgs = match rt.name_rule {
            NameRule::Subdomain => dns1123_subdomain_errors(name),
            NameRule::Label => dns1123_label_errors(name),
            NameRule::Dns1035 => dns1035_label_errors(name),
            NameRule::PathSegment => path_segment_errors(name),
        };
        push_msgs(&mut errs, "metadata.name", name, msgs);
    }
    if rt.namespaced {
        let ns = meta::namespace(object);
        if ns.is_empty() {
            errs.push(FieldError::required("metadata.namespace", ""));
        } else {
            push_msgs(
                &mut errs,
                "metadata.namespace",
                ns,
                dns1123_label_errors(ns),
            );
        }
    }
    if let Some(labels) = object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
    {
        for (k, v) in labels {
            push_msgs(&mut errs, "metadata.labels", k, label_key_errors(k));
            match v.as_str() {
                Some(s) => push_msgs(&mut errs, "metadata.labels", s, label_value_errors(s)),
                None => errs.push(FieldError::invalid(
                    "metadata.labels",
                    v.clone(),
                    "must be a string",
                )),
            }
        }
    }
    if let Some(annotations) = object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    {
        let mut total = 0;
        for (k, v) in annotations {
            push_msgs(&mut errs, "metadata.annotations", k, label_key_errors(k));
            total += k.len() + v.as_str().map_or(0, str::len);
        }
        if total > 256 * 1024 {
            errs.push(FieldError {
                field: "metadata.annotations".to_owned(),
                kind: super::status::ErrorKind::Forbidden,
                detail: format!("may not be more than 262144 bytes (got {total})"),
            });
        }
    }
    errs
}

/// Everything checked when an object is created.
pub fn validate_create(rt: &ResourceType, object: &Value) -> Vec<FieldError> {
    let mut errs = object_meta(rt, object);
    errs.extend(kind_rules(rt, object));
    errs
}

/// Everything checked when `new` replaces `old`.
pub fn validate_update(rt: &ResourceType, new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = object_meta(rt, new);
    let (new_uid, old_uid) = (meta::get(new, "uid"), meta::get(old, "uid"));
    if new_uid != old_uid {
        errs.push(FieldError::immutable("metadata.uid", new_uid));
    }
    errs.extend(kind_rules(rt, new));
    errs.extend(immutable_rules(rt, new, old));
    errs
}

fn kind_rules(rt: &ResourceType, object: &Value) -> Vec<FieldError> {
    match (rt.group, rt.kind) {
        ("discovery.k8s.io", "EndpointSlice") => endpoint_slice(object),
        ("networking.k8s.io", "Ingress") => {
            let mut errs = ingress(object);
            errs.extend(load_balancer_status(object));
            errs
        }
        ("networking.k8s.io", "IngressClass") => ingress_class(object),
        ("", "Service") => {
            let mut errs = service(object);
            errs.extend(load_balancer_status(object));
            errs
        }
        ("", "Secret") => secret(object),
        ("", "ConfigMap") => config_keys(object, "data"),
        ("coordination.k8s.io", "Lease") => lease(object),
        ("", "Event") => event(object, false),
        ("events.k8s.io", "Event") => event(object, true),
        _ => Vec::new(),
    }
}

fn immutable_rules(rt: &ResourceType, new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let same = |pointer: &str| new.pointer(pointer) == old.pointer(pointer);
    let mut immutable = |pointer: &str, field: &str| {
        if !same(pointer) {
            errs.push(FieldError::immutable(
                field,
                new.pointer(pointer).cloned().unwrap_or(Value::Null),
            ));
        }
    };
    match (rt.group, rt.kind) {
        ("discovery.k8s.io", "EndpointSlice") => immutable("/addressType", "addressType"),
        ("networking.k8s.io", "IngressClass") => immutable("/spec/controller", "spec.controller"),
        ("", "Secret") | ("", "ConfigMap") => {
            if rt.kind == "Secret" {
                immutable("/type", "type");
            }
            if old.get("immutable") == Some(&Value::Bool(true)) {
                let forbid = "field is immutable when `immutable` is set";
                if !same("/data") {
                    errs.push(FieldError::forbidden("data", forbid));
                }
                if !same("/binaryData") && rt.kind == "ConfigMap" {
                    errs.push(FieldError::forbidden("binaryData", forbid));
                }
                if !same("/immutable") {
                    errs.push(FieldError::forbidden("immutable", forbid));
                }
            }
        }
        ("events.k8s.io", "Event") => {
            for (pointer, field) in [
                ("/involvedObject", "involvedObject"),
                ("/reason", "reason"),
                ("/message", "message"),
                ("/source", "source"),
                ("/firstTimestamp", "firstTimestamp"),
                ("/lastTimestamp", "lastTimestamp"),
                ("/count", "count"),
                ("/type", "type"),
                ("/eventTime", "eventTime"),
                ("/action", "action"),
                ("/related", "related"),
                ("/reportingComponent", "reportingController"),
                ("/reportingInstance", "reportingInstance"),
            ] {
                immutable(pointer, field);
            }
        }
        _ => {}
    }
    errs
}

/// `pkg/apis/discovery/validation`: addresses must be valid for the addressType and not special.
fn endpoint_slice(object: &Value) -> Vec<FieldError> {
    const TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];
    let mut errs = Vec::new();
    let address_type = str_at(object, "/addressType").unwrap_or_default();
    if address_type.is_empty() {
        errs.push(FieldError::required("addressType", ""));
    } else if !TYPES.contains(&address_type) {
        errs.push(FieldError::not_supported(
            "addressType",
            address_type,
            TYPES,
        ));
    }
    let endpoints = array_at(object, "/endpoints");
    if endpoints.len() > 1000 {
        errs.push(FieldError::too_many("endpoints", endpoints.len(), 1000));
        return errs;
    }
    for (i, endpoint) in endpoints.iter().enumerate() {
        let addresses_path = format!("endpoints[{i}].addresses");
        let addresses = array_at(endpoint, "/addresses");
        if addresses.is_empty() {
            errs.push(FieldError::required(
                &addresses_path,
                "must contain at least 1 address",
            ));
        } else if addresses.len() > 100 {
            errs.push(FieldError::too_many(&addresses_path, addresses.len(), 100));
        }
        for (j, address) in addresses.iter().enumerate() {
            let field = format!("{addresses_path}[{j}]");
            let address = address.as_str().unwrap_or_default();
            match address_type {
                "IPv4" => {
                    if !matches!(address.parse::<IpAddr>(), Ok(IpAddr::V4(_))) {
                        errs.push(FieldError::invalid(
                            &field,
                            address,
                            "must be a valid IPv4 address",
                        ));
                    }
                    errs.extend(endpoint_ip_errors(&field, address));
                }
                "IPv6" => {
                    if !matches!(address.parse::<IpAddr>(), Ok(IpAddr::V6(_))) {
                        errs.push(FieldError::invalid(
                            &field,
                            address,
                            "must be a valid IPv6 address",
                        ));
                    }
                    errs.extend(endpoint_ip_errors(&field, address));
                }
                "FQDN" => {
                    let mut msgs = dns1123_subdomain_errors(address);
                    if !address.contains('.') && msgs.is_empty() {
                        msgs.push(
                            "should be a domain with at least two segments separated by dots"
                                .to_owned(),
                        );
                    }
                    push_msgs(&mut errs, &field, address, msgs);
                }
                _ => {}
            }
        }
        if let Some(hostname) = str_at(endpoint, "/hostname") {
            push_msgs(
                &mut errs,
                &format!("endpoints[{i}].hostname"),
                hostname,
                dns1123_label_errors(hostname),
            );
        }
    }
    let mut names = HashSet::new();
    for (i, port) in array_at(object, "/ports").iter().enumerate() {
        let name = str_at(port, "/name").unwrap_or_default();
        if !name.is_empty() {
            push_msgs(
                &mut errs,
                &format!("ports[{i}].name"),
                name,
                dns1123_label_errors(name),
            );
        }
        if !names.insert(name.to_owned()) {
            errs.push(FieldError::duplicate(format!("ports[{i}].name"), name));
        }
        match str_at(port, "/protocol") {
            None => errs.push(FieldError::required(format!("ports[{i}].protocol"), "")),
            Some(p) if !["SCTP", "TCP", "UDP"].contains(&p) => {
                errs.push(FieldError::not_supported(
                    format!("ports[{i}].protocol"),
                    p,
                    &["SCTP", "TCP", "UDP"],
                ))
            }
            Some(_) => {}
        }
        if let Some(n) = port.get("port").and_then(Value::as_i64)
            && !port_number_ok(n)
        {
            errs.push(FieldError::invalid(
                format!("ports[{i}].port"),
                n,
                PORT_RANGE,
            ));
        }
    }
    errs
}

/// `pkg/apis/networking/validation` for Ingress: rules, paths, backends, TLS hosts.
fn ingress(object: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = object.get("spec").cloned().unwrap_or(Value::Null);
    let rules = array_at(&spec, "/rules");
    let default_backend = spec.get("defaultBackend");
    if rules.is_empty() && default_backend.is_none() {
        errs.push(FieldError::invalid(
            "spec",
            Value::Array(Vec::new()),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(backend) = default_backend {
        errs.extend(ingress_backend(backend, "spec.defaultBackend"));
    }
    for (i, rule) in rules.iter().enumerate() {
        let base = format!("spec.rules[{i}]");
        if let Some(host) = str_at(rule, "/host").filter(|h| !h.is_empty()) {
            let field = format!("{base}.host");
            if host.parse::<IpAddr>().is_ok() {
                errs.push(FieldError::invalid(
                    &field,
                    host,
                    "must be a DNS name, not an IP address",
                ));
            }
            let msgs = if host.contains('*') {
                wildcard_subdomain_errors(host)
            } else {
                dns1123_subdomain_errors(host)
            };
            push_msgs(&mut errs, &field, host, msgs);
        }
        let Some(http) = rule.get("http") else {
            continue;
        };
        let paths = array_at(http, "/paths");
        if paths.is_empty() {
            errs.push(FieldError::required(format!("{base}.http.paths"), ""));
        }
        for (j, path) in paths.iter().enumerate() {
            errs.extend(ingress_path(path, &format!("{base}.http.paths[{j}]")));
        }
    }
    for (i, tls) in array_at(&spec, "/tls").iter().enumerate() {
        for (j, host) in array_at(tls, "/hosts").iter().enumerate() {
            let host = host.as_str().unwrap_or_default();
            let msgs = if host.contains('*') {
                wildcard_subdomain_errors(host)
            } else {
                dns1123_subdomain_errors(host)
            };
            push_msgs(&mut errs, &format!("spec.tls[{i}].hosts[{j}]"), host, msgs);
        }
        if let Some(secret) = str_at(tls, "/secretName").filter(|s| !s.is_empty()) {
            push_msgs(
                &mut errs,
                &format!("spec.tls[{i}].secretName"),
                secret,
                dns1123_subdomain_errors(secret),
            );
        }
    }
    if let Some(class) = str_at(&spec, "/ingressClassName") {
        push_msgs(
            &mut errs,
            "spec.ingressClassName",
            class,
            dns1123_subdomain_errors(class),
        );
    }
    errs
}

fn ingress_path(path: &Value, base: &str) -> Vec<FieldError> {
    const TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];
    let mut errs = Vec::new();
    let Some(path_type) = str_at(path, "/pathType") else {
        errs.push(FieldError::required(
            format!("{base}.pathType"),
            "pathType must be specified",
        ));
        return errs;
    };
    let p = str_at(path, "/path").unwrap_or_default();
    let field = format!("{base}.path");
    match path_type {
        "Exact" | "Prefix" => {
            if !p.starts_with('/') {
                errs.push(FieldError::invalid(&field, p, "must be an absolute path"));
            }
            if !p.is_empty() {
                for seq in ["//", "/./", "/../", "%2f", "%2F"] {
                    if p.contains(seq) {
                        errs.push(FieldError::invalid(
                            &field,
                            p,
                            format!("must not contain '{seq}'"),
                        ));
                    }
                }
                for suffix in ["/..", "/."] {
                    if p.ends_with(suffix) {
                        errs.push(FieldError::invalid(
                            &field,
                            p,
                            format!("cannot end with '{suffix}'"),
                        ));
                    }
                }
            }
        }
        "ImplementationSpecific" => {
            if !p.is_empty() && !p.starts_with('/') {
                errs.push(FieldError::invalid(&field, p, "must be an absolute path"));
            }
        }
        other => errs.push(FieldError::not_supported(
            format!("{base}.pathType"),
            other,
            TYPES,
        )),
    }
    match path.get("backend") {
        Some(backend) => errs.extend(ingress_backend(backend, &format!("{base}.backend"))),
        None => errs.push(FieldError::invalid(
            format!("{base}.backend"),
            "",
            "resource or service backend is required",
        )),
    }
    errs
}

fn ingress_backend(backend: &Value, base: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let service = backend.get("service");
    match (backend.get("resource"), service) {
        (Some(_), Some(_)) => {
            errs.push(FieldError::invalid(
                base,
                "",
                "cannot set both resource and service backends",
            ));
        }
        (Some(resource), None) => {
            for key in ["kind", "name"] {
                if str_at(resource, &format!("/{key}"))
                    .unwrap_or_default()
                    .is_empty()
                {
                    errs.push(FieldError::required(format!("{base}.resource.{key}"), ""));
                }
            }
        }
        (None, Some(service)) => {
            let name = str_at(service, "/name").unwrap_or_default();
            if name.is_empty() {
                errs.push(FieldError::required(format!("{base}.service.name"), ""));
            } else {
                push_msgs(
                    &mut errs,
                    &format!("{base}.service.name"),
                    name,
                    dns1035_label_errors(name),
                );
            }
            let port_name = str_at(service, "/port/name").unwrap_or_default();
            let port_number = service
                .pointer("/port/number")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            match (port_name.is_empty(), port_number == 0) {
                (false, false) => errs.push(FieldError::invalid(
                    base,
                    "",
                    "cannot set both port name & port number",
                )),
                (false, true) => push_msgs(
                    &mut errs,
                    &format!("{base}.service.port.name"),
                    port_name,
                    port_name_errors(port_name),
                ),
                (true, false) => {
                    if !port_number_ok(port_number) {
                        errs.push(FieldError::invalid(
                            format!("{base}.service.port.number"),
                            port_number,
                            PORT_RANGE,
                        ));
                    }
                }
                (true, true) => errs.push(FieldError::required(
                    base,
                    "port name or number is required",
                )),
            }
        }
        (None, None) => errs.push(FieldError::invalid(
            base,
            "",
            "resource or service backend is required",
        )),
    }
    errs
}

/// `status.loadBalancer.ingress[]`: `ip` must be an IP, `hostname` a DNS name (not an IP).
fn load_balancer_status(object: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, entry) in array_at(object, "/status/loadBalancer/ingress")
        .iter()
        .enumerate()
    {
        let base = format!("status.loadBalancer.ingress[{i}]");
        if let Some(ip) = str_at(entry, "/ip").filter(|s| !s.is_empty())
            && ip.parse::<IpAddr>().is_err()
        {
            errs.push(FieldError::invalid(
                format!("{base}.ip"),
                ip,
                "must be a valid IP address",
            ));
        }
        if let Some(host) = str_at(entry, "/hostname").filter(|s| !s.is_empty()) {
            let field = format!("{base}.hostname");
            push_msgs(&mut errs, &field, host, dns1123_subdomain_errors(host));
            if host.parse::<IpAddr>().is_ok() {
                errs.push(FieldError::invalid(
                    &field,
                    host,
                    "must be a DNS name, not an IP address",
                ));
            }
        }
    }
    errs
}

fn ingress_class(object: &Value) -> Vec<FieldError> {
    let controller = str_at(object, "/spec/controller").unwrap_or_default();
    if controller.is_empty() {
        return vec![FieldError::required("spec.controller", "")];
    }
    let mut errs = Vec::new();
    if controller.len() > 250 {
        errs.push(FieldError::invalid(
            "spec.controller",
            controller,
            "must be no more than 250 characters",
        ));
    }
    match controller.split_once('/') {
        Some((domain, _)) if dns1123_subdomain_errors(domain).is_empty() => {}
        _ => errs.push(FieldError::invalid(
            "spec.controller",
            controller,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        )),
    }
    errs
}

fn service(object: &Value) -> Vec<FieldError> {
    const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    let mut errs = Vec::new();
    let service_type = str_at(object, "/spec/type").unwrap_or("ClusterIP");
    if !TYPES.contains(&service_type) {
        errs.push(FieldError::not_supported("spec.type", service_type, TYPES));
    }
    let headless = str_at(object, "/spec/clusterIP") == Some("None");
    let ports = array_at(object, "/spec/ports");
    if ports.is_empty() && service_type != "ExternalName" && !headless {
        errs.push(FieldError::required("spec.ports", ""));
    }
    let mut names = HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let name = str_at(port, "/name").unwrap_or_default();
        if ports.len() > 1 && name.is_empty() {
            errs.push(FieldError::required(format!("spec.ports[{i}].name"), ""));
        } else if !name.is_empty() {
            push_msgs(
                &mut errs,
                &format!("spec.ports[{i}].name"),
                name,
                dns1123_label_errors(name),
            );
            if !names.insert(name.to_owned()) {
                errs.push(FieldError::duplicate(format!("spec.ports[{i}].name"), name));
            }
        }
        let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !port_number_ok(number) {
            errs.push(FieldError::invalid(
                format!("spec.ports[{i}].port"),
                number,
                PORT_RANGE,
            ));
        }
        match port.get("targetPort") {
            Some(Value::Number(n)) if !n.as_i64().is_some_and(port_number_ok) => {
                errs.push(FieldError::invalid(
                    format!("spec.ports[{i}].targetPort"),
                    n.clone(),
                    PORT_RANGE,
                ));
            }
            Some(Value::String(s)) => push_msgs(
                &mut errs,
                &format!("spec.ports[{i}].targetPort"),
                s,
                port_name_errors(s),
            ),
            _ => {}
        }
    }
    errs
}

fn config_keys(object: &Value, field: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(data) = object.get(field).and_then(Value::as_object) {
        for key in data.keys() {
            let ok = !key.is_empty()
                && key.len() <= 253
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
                && key != "."
                && key != ".."
                && !key.starts_with("..");
            if !ok {
                errs.push(FieldError::invalid(
                    format!("{field}[{key}]"),
                    key.as_str(),
                    CONFIG_KEY_FMT,
                ));
            }
        }
    }
    errs
}

fn secret(object: &Value) -> Vec<FieldError> {
    let mut errs = config_keys(object, "data");
    let data = object.get("data").and_then(Value::as_object);
    let has = |key: &str| data.is_some_and(|d| d.contains_key(key));
    match str_at(object, "/type").unwrap_or("Opaque") {
        "kubernetes.io/tls" => {
            for key in ["tls.crt", "tls.key"] {
                if !has(key) {
                    errs.push(FieldError::required(format!("data[{key}]"), ""));
                }
            }
        }
        "kubernetes.io/service-account-token"
            if object
                .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                .is_none() =>
        {
            errs.push(FieldError::required(
                "metadata.annotations[kubernetes.io/service-account.name]",
                "",
            ));
        }
        _ => {}
    }
    errs
}

fn lease(object: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(d) = object
        .pointer("/spec/leaseDurationSeconds")
        .and_then(Value::as_i64)
        && d <= 0
    {
        errs.push(FieldError::invalid(
            "spec.leaseDurationSeconds",
            d,
            "must be greater than 0",
        ));
    }
    if let Some(t) = object
        .pointer("/spec/leaseTransitions")
        .and_then(Value::as_i64)
        && t < 0
    {
        errs.push(FieldError::invalid(
            "spec.leaseTransitions",
            t,
            "must be greater than or equal to 0",
        ));
    }
    errs
}

/// Event validation; `object` is in the stored (core v1) shape. `strict` for events.k8s.io.
fn event(object: &Value, strict: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let ns = meta::namespace(object);
    let involved_ns = str_at(object, "/involvedObject/namespace").unwrap_or_default();
    let has_event_time = object.get("eventTime").is_some_and(|t| !t.is_null());
    let mismatch = || {
        FieldError::invalid(
            "involvedObject.namespace",
            involved_ns,
            "does not match event.namespace",
        )
    };
    if !has_event_time {
        if involved_ns.is_empty() {
            if !ns.is_empty() && ns != "default" {
                errs.push(mismatch());
            }
        } else if ns != involved_ns {
            errs.push(mismatch());
        }
    } else {
        if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
            errs.push(mismatch());
        }
        let controller_field = if strict {
            "reportingController"
        } else {
            "reportingComponent"
        };
        let controller = str_at(object, "/reportingComponent").unwrap_or_default();
        if controller.is_empty() {
            errs.push(FieldError::required(controller_field, ""));
        } else {
            push_msgs(
                &mut errs,
                controller_field,
                controller,
                label_key_errors(controller),
            );
        }
        let instance = str_at(object, "/reportingInstance").unwrap_or_default();
        if instance.is_empty() {
            errs.push(FieldError::required("reportingInstance", ""));
        } else if instance.len() > 128 {
            errs.push(FieldError::invalid(
                "reportingInstance",
                "",
                "can have at most 128 characters",
            ));
        }
        for (field, limit) in [("action", 128), ("reason", 128)] {
            let value = str_at(object, &format!("/{field}")).unwrap_or_default();
            if value.is_empty() {
                errs.push(FieldError::required(field, ""));
            } else if value.len() > limit {
                errs.push(FieldError::invalid(
                    field,
                    "",
                    format!("can have at most {limit} characters"),
                ));
            }
        }
        if str_at(object, "/message").unwrap_or_default().len() > 1024 {
            errs.push(FieldError::invalid(
                "message",
                "",
                "can have at most 1024 characters",
            ));
        }
    }
    if !strict {
        return errs;
    }
    if let Some(series) = object.get("series").filter(|s| !s.is_null()) {
        if series.get("count").and_then(Value::as_i64).unwrap_or(0) < 2 {
            errs.push(FieldError::invalid(
                "series.count",
                "",
                "should be at least 2",
            ));
        }
        if series.get("lastObservedTime").is_none_or(Value::is_null) {
            errs.push(FieldError::required("series.lastObservedTime", ""));
        }
    }
    if !has_event_time {
        errs.push(FieldError::required("eventTime", ""));
    }
    let event_type = str_at(object, "/type").unwrap_or_default();
    if event_type != "Normal" && event_type != "Warning" {
        errs.push(FieldError::invalid(
            "type",
            "",
            format!("has invalid value: {event_type}"),
        ));
    }
    for field in ["firstTimestamp", "lastTimestamp"] {
        if object.get(field).is_some_and(|v| !v.is_null()) {
            errs.push(FieldError::invalid(field, "", "needs to be unset"));
        }
    }
    if object.get("count").and_then(Value::as_i64).unwrap_or(0) != 0 {
        errs.push(FieldError::invalid("count", "", "needs to be unset"));
    }
    let source_set = ["/source/component", "/source/host"]
        .iter()
        .any(|p| str_at(object, p).is_some_and(|s| !s.is_empty()));
    if source_set {
        errs.push(FieldError::invalid("source", "", "needs to be unset"));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::resources::by_kind;
    use serde_json::json;

    fn slice(addresses: Value, address_type: &str) -> Value {
        json!({"metadata": {"name": "s", "namespace": "default"}, "addressType": address_type,
            "endpoints": [{"addresses": addresses}], "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]})
    }

    fn slice_errors(addresses: Value, address_type: &str) -> Vec<String> {
        let rt = by_kind("discovery.k8s.io/v1", "EndpointSlice").expect("registered");
        validate_create(rt, &slice(addresses, address_type))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn loopback_endpoints_are_rejected_with_the_real_message() {
        assert_eq!(
            slice_errors(json!(["127.0.0.1"]), "IPv4"),
            [
                "endpoints[0].addresses[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"
            ]
        );
        assert_eq!(
            slice_errors(json!(["::1"]), "IPv6"),
            [
                "endpoints[0].addresses[0]: Invalid value: \"::1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"
            ]
        );
    }

    #[test]
    fn special_addresses_are_rejected() {
        assert!(slice_errors(json!(["169.254.1.1"]), "IPv4")[0].contains("link-local range"));
        assert!(slice_errors(json!(["224.0.0.5"]), "IPv4")[0].contains("link-local multicast"));
        assert!(
            slice_errors(json!(["0.0.0.0"]), "IPv4")[0]
                .contains("may not be unspecified (0.0.0.0)")
        );
        assert!(slice_errors(json!(["fe80::1"]), "IPv6")[0].contains("link-local range"));
        assert!(
            slice_errors(json!(["10.0.0.1"]), "IPv6")[0].contains("must be a valid IPv6 address")
        );
        assert!(slice_errors(json!(["nope"]), "IPv4")[0].contains("must be a valid IPv4 address"));
    }

    #[test]
    fn ordinary_pod_addresses_pass() {
        assert!(slice_errors(json!(["10.244.1.7", "192.168.3.4"]), "IPv4").is_empty());
        assert!(slice_errors(json!(["fd00::5"]), "IPv6").is_empty());
        assert!(slice_errors(json!(["backend.example.com"]), "FQDN").is_empty());
    }

    #[test]
    fn names_follow_the_kind_rule() {
        let ing = by_kind("networking.k8s.io/v1", "Ingress").expect("ingress");
        let errs = validate_create(
            ing,
            &json!({"metadata": {"name": "Bad_Name", "namespace": "default"},
            "spec": {"defaultBackend": {"service": {"name": "a", "port": {"number": 80}}}}}),
        );
        assert_eq!(errs.len(), 1);
        assert!(errs[0].to_string().starts_with(
            "metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"
        ));
        let role = by_kind("rbac.authorization.k8s.io/v1", "ClusterRole").expect("role");
        assert!(validate_create(role, &json!({"metadata": {"name": "system:wicket"}})).is_empty());
        let svc = by_kind("v1", "Service").expect("svc");
        let errs = validate_create(
            svc,
            &json!({"metadata": {"name": "1abc", "namespace": "default"},
            "spec": {"ports": [{"port": 80}]}}),
        );
        assert!(errs[0].to_string().contains("DNS-1035"), "{errs:?}");
    }

    #[test]
    fn ingress_paths_need_a_type_and_an_absolute_path() {
        let ing = by_kind("networking.k8s.io/v1", "Ingress").expect("ingress");
        let object = json!({"metadata": {"name": "i", "namespace": "default"}, "spec": {"rules": [
        {"host": "a.example.com", "http": {"paths": [
            {"path": "/", "backend": {"service": {"name": "a", "port": {"number": 80}}}},
            {"path": "x", "pathType": "Prefix", "backend": {"service": {"name": "a", "port": {"name": "http", "number": 80}}}}
        ]}}]}});
        let errs: Vec<String> = validate_create(ing, &object)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errs,
            [
                "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
                "spec.rules[0].http.paths[1].path: Invalid value: \"x\": must be an absolute path",
                "spec.rules[0].http.paths[1].backend: Invalid value: \"\": cannot set both port name & port number",
            ]
        );
    }

    #[test]
    fn ingress_hosts_may_be_wildcards_but_not_ips() {
        let ing = by_kind("networking.k8s.io/v1", "Ingress").expect("ingress");
        let with_host = |host: &str| json!({"metadata": {"name": "i", "namespace": "default"}, "spec": {"rules": [{"host": host}]}});
        assert!(validate_create(ing, &with_host("*.example.com")).is_empty());
        assert!(!validate_create(ing, &with_host("10.0.0.1")).is_empty());
        assert!(!validate_create(ing, &with_host("a.*.com")).is_empty());
    }

    #[test]
    fn load_balancer_status_entries_are_checked() {
        let ing = by_kind("networking.k8s.io/v1", "Ingress").expect("ingress");
        let with_status = |entry: Value| {
            json!({"metadata": {"name": "i", "namespace": "default"},
                "spec": {"defaultBackend": {"service": {"name": "a", "port": {"number": 80}}}},
                "status": {"loadBalancer": {"ingress": [entry]}}})
        };
        assert!(validate_create(ing, &with_status(json!({"ip": "192.0.2.1"}))).is_empty());
        assert!(
            validate_create(ing, &with_status(json!({"hostname": "lb.example.com"}))).is_empty()
        );
        let errs = validate_create(ing, &with_status(json!({"ip": "lb.example.com"})));
        assert_eq!(
            errs[0].to_string(),
            "status.loadBalancer.ingress[0].ip: Invalid value: \"lb.example.com\": must be a valid IP address"
        );
        let errs = validate_create(ing, &with_status(json!({"hostname": "192.0.2.1"})));
        assert!(
            errs[0]
                .to_string()
                .ends_with("must be a DNS name, not an IP address"),
            "{errs:?}"
        );
    }

    #[test]
    fn tls_secrets_need_both_keys() {
        let secret = by_kind("v1", "Secret").expect("secret");
        let errs = validate_create(
            secret,
            &json!({"metadata": {"name": "t", "namespace": "default"},
            "type": "kubernetes.io/tls", "data": {"tls.crt": ""}}),
        );
        assert_eq!(errs, [FieldError::required("data[tls.key]", "")]);
    }

    #[test]
    fn strict_events_need_reporting_fields() {
        let ev = by_kind("events.k8s.io/v1", "Event").expect("events");
        let errs: Vec<String> = validate_create(ev, &json!({"metadata": {"name": "e.1", "namespace": "default"},
            "eventTime": "2024-01-01T00:00:00.000000Z", "type": "Normal", "involvedObject": {"namespace": "default"}}))
            .iter().map(|e| e.field.clone()).collect();
        assert_eq!(
            errs,
            [
                "reportingController",
                "reportingInstance",
                "action",
                "reason"
            ]
        );
    }

    #[test]
    fn label_keys_and_values() {
        assert!(label_key_errors("app.kubernetes.io/name").is_empty());
        assert!(!label_key_errors("bad key").is_empty());
        assert!(!label_key_errors("/x").is_empty());
        assert!(label_value_errors("").is_empty());
        assert!(!label_value_errors("-x").is_empty());
    }
}
