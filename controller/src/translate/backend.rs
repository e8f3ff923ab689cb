//! Backend resolution: Ingress backend → Service port → EndpointSlices → pod endpoints.
//!
//! ```text
//! service.port.number ─► Service spec.ports[].port ─┐
//! service.port.name   ─► Service spec.ports[].name ─┴─► port name ─► EndpointSlice ports[].name
//!                                                          ─► (address, target port) of ready endpoints
//! ```

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
};

use k8s_openapi::api::{
    core::v1::{Service, ServicePort},
    discovery::v1::{Endpoint, EndpointSlice},
    networking::v1::IngressBackend,
};
use proxy::table::{Action, Backend};

use super::namespace_of;
use crate::{
    issue::{Issue, ObjectKind, ObjectRef, Reason},
    snapshot::Snapshot,
};

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Services and EndpointSlices indexed by `(namespace, service name)`.
pub struct Backends<'a> {
    services: HashMap<(&'a str, &'a str), &'a Service>,
    slices: HashMap<(&'a str, &'a str), Vec<&'a EndpointSlice>>,
}

/// How a backend names its Service port.
enum PortRef<'a> {
    Number(i32),
    Name(&'a str),
}

impl<'a> Backends<'a> {
    /// Indexes the snapshot; EndpointSlices without the service-name label are reported
    /// and ignored.
    pub fn new(snapshot: &'a Snapshot, issues: &mut Vec<Issue>) -> Self {
        let mut services = HashMap::with_capacity(snapshot.services.len());
        for service in &snapshot.services {
            if let Some(name) = service.metadata.name.as_deref() {
                services.insert((namespace_of(&service.metadata), name), &**service);
            }
        }
        let mut slices: HashMap<_, Vec<_>> = HashMap::with_capacity(snapshot.slices.len());
        for slice in &snapshot.slices {
            let namespace = namespace_of(&slice.metadata);
            let label = slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                .filter(|s| !s.is_empty());
            match label {
                Some(service) => slices
                    .entry((namespace, service.as_str()))
                    .or_default()
                    .push(&**slice),
                None => issues.push(Issue::new(
                    Reason::SliceWithoutServiceLabel,
                    slice_ref(slice),
                    Some(format!("metadata.labels[{SERVICE_NAME_LABEL}]")),
                    format!("EndpointSlice has no {SERVICE_NAME_LABEL} label; it is ignored"),
                )),
            }
        }
        Self { services, slices }
    }

    /// What a request for `backend` (of an Ingress in `namespace`) is answered with. Every
    /// problem is reported on `object` at `field()` (only formatted when there is one); an
    /// unresolvable backend answers 503.
    pub fn resolve(
        &self,
        namespace: &str,
        backend: &IngressBackend,
        object: &ObjectRef,
        field: &dyn Fn() -> String,
        issues: &mut Vec<Issue>,
    ) -> Action {
        let unavailable = |issues: &mut Vec<Issue>, reason: Reason, message: String| {
            issues.push(Issue::new(
                reason,
                object.clone(),
                Some(field()),
                format!("{message}; answering 503"),
            ));
            Action::Unavailable { reason: message }
        };
        if let Some(resource) = &backend.resource {
            return unavailable(
                issues,
                Reason::ResourceBackend,
                format!(
                    "resource backend {}/{} is not supported (only Service backends are)",
                    resource.kind, resource.name
                ),
            );
        }
        let Some(service_ref) = &backend.service else {
            return unavailable(
                issues,
                Reason::InvalidBackend,
                "backend names neither a service nor a resource".to_owned(),
            );
        };
        let port = service_ref.port.as_ref();
        let number = port.and_then(|p| p.number);
        let name = port
            .and_then(|p| p.name.as_deref())
            .filter(|n| !n.is_empty());
        let port_ref = match (number, name) {
            (Some(n), None) => PortRef::Number(n),
            (None, Some(n)) => PortRef::Name(n),
            (Some(_), Some(_)) => {
                return unavailable(
                    issues,
                    Reason::InvalidBackend,
                    "backend sets both port name and port number".to_owned(),
                );
            }
            (None, None) => {
                return unavailable(
                    issues,
                    Reason::InvalidBackend,
                    "backend needs a port name or port number".to_owned(),
                );
            }
        };
        let service_name = service_ref.name.as_str();
        let Some(service) = self.services.get(&(namespace, service_name)) else {
            return unavailable(
                issues,
                Reason::MissingService,
                format!("service {namespace}/{service_name} not found"),
            );
        };
        let spec = service.spec.as_ref();
        if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
            return unavailable(
                issues,
                Reason::ExternalNameService,
                format!(
                    "service {namespace}/{service_name} is of type ExternalName, which is not supported"
                ),
            );
        }
        let ports = spec.and_then(|s| s.ports.as_deref()).unwrap_or_default();
        let (found, written) = match port_ref {
            PortRef::Number(n) => (ports.iter().find(|p| p.port == n), n.to_string()),
            PortRef::Name(n) => (
                ports.iter().find(|p| p.name.as_deref() == Some(n)),
                n.to_owned(),
            ),
        };
        let Some(service_port) = found else {
            return unavailable(
                issues,
                Reason::ServicePortNotFound,
                format!("service {namespace}/{service_name} has no port {written}"),
            );
        };
        let endpoints = self.endpoints(namespace, service_name, service_port, issues);
        if endpoints.is_empty() {
            issues.push(Issue::new(
                Reason::NoEndpoints,
                object.clone(),
                Some(field()),
                format!(
                    "service {namespace}/{service_name} port {written} has no ready endpoints; answering 503"
                ),
            ));
        }
        Action::Forward(Backend {
            name: format!("{namespace}-{service_name}-{written}"),
            service: service_name.to_owned(),
            endpoints,
            protocol: Default::default(),
        })
    }

    /// Appends the addresses of the objects that [`resolve`](Self::resolve) reads for a
    /// backend on Service `namespace/service`: the Service (0 when there is none) and its
    /// EndpointSlices. Equal addresses mean equal inputs only while the objects of both
    /// snapshots compared are alive.
    pub fn inputs(&self, namespace: &str, service: &str, out: &mut Vec<usize>) {
        let key = (namespace, service);
        out.push(
            self.services
                .get(&key)
                .map_or(0, |service| std::ptr::from_ref(*service).addr()),
        );
        for slice in self.slices.get(&key).into_iter().flatten() {
            out.push(std::ptr::from_ref(*slice).addr());
        }
    }

    /// Ready endpoints of one Service port; when there are none, the serving and
    /// terminating ones. Sorted, without duplicates.
    fn endpoints(
        &self,
        namespace: &str,
        service: &str,
        port: &ServicePort,
        issues: &mut Vec<Issue>,
    ) -> Vec<SocketAddr> {
        let port_name = port.name.as_deref().unwrap_or_default();
        let mut ready = Vec::new();
        let mut terminating = Vec::new();
        let slices = self
            .slices
            .get(&(namespace, service))
            .map(Vec::as_slice)
            .unwrap_or_default();
        for slice in slices {
            if !matches!(slice.address_type.as_str(), "IPv4" | "IPv6") {
                issues.push(Issue::new(
                    Reason::UnsupportedAddressType,
                    slice_ref(slice),
                    Some("addressType".to_owned()),
                    format!(
                        "addressType {:?} is not supported (only IPv4 and IPv6); the slice is ignored",
                        slice.address_type
                    ),
                ));
                continue;
            }
            let target = slice
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref().unwrap_or_default() == port_name)
                .and_then(|p| p.port)
                .and_then(|p| u16::try_from(p).ok());
            let Some(target) = target else {
                continue;
            };
            for (i, endpoint) in slice.endpoints.iter().enumerate() {
                let list = match condition(endpoint) {
                    Condition::Ready => &mut ready,
                    Condition::Terminating => &mut terminating,
                    Condition::Unusable => continue,
                };
                for address in &endpoint.addresses {
                    match address.parse::<IpAddr>() {
                        Ok(ip) => list.push(SocketAddr::new(ip, target)),
                        Err(_) => issues.push(Issue::new(
                            Reason::InvalidEndpointAddress,
                            slice_ref(slice),
                            Some(format!("endpoints[{i}].addresses")),
                            format!("{address:?} is not an IP address; it is ignored"),
                        )),
                    }
                }
            }
        }
        let mut chosen = if ready.is_empty() { terminating } else { ready };
        chosen.sort_unstable();
        chosen.dedup();
        chosen
    }
}

enum Condition {
    Ready,
    /// Not ready, but still serving while it terminates: used only when nothing is ready.
    Terminating,
    Unusable,
}

/// Unset `ready` and `serving` mean true; unset `terminating` means false.
fn condition(endpoint: &Endpoint) -> Condition {
    let conditions = endpoint.conditions.as_ref();
    let ready = conditions.and_then(|c| c.ready).unwrap_or(true);
    let serving = conditions.and_then(|c| c.serving).unwrap_or(true);
    let terminating = conditions.and_then(|c| c.terminating).unwrap_or(false);
    if ready {
        Condition::Ready
    } else if serving && terminating {
        Condition::Terminating
    } else {
        Condition::Unusable
    }
}

fn slice_ref(slice: &EndpointSlice) -> ObjectRef {
    ObjectRef::new(
        ObjectKind::EndpointSlice,
        namespace_of(&slice.metadata),
        slice.metadata.name.clone().unwrap_or_default(),
    )
}
