//! `Snapshot`: one consistent view of every object `translate` reads.

use k8s_openapi::api::{
    core::v1::{Secret, Service},
    discovery::v1::EndpointSlice,
    networking::v1::{Ingress, IngressClass},
};

/// Every object of the kinds wicket reads, as one consistent set. Order carries no meaning:
/// `translate` gives the same result for any permutation.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub ingresses: Vec<Ingress>,
    pub classes: Vec<IngressClass>,
    pub services: Vec<Service>,
    pub slices: Vec<EndpointSlice>,
    pub secrets: Vec<Secret>,
}
