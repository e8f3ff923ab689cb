//! `Snapshot`: one consistent view of every object `translate` reads.

use std::sync::Arc;

use k8s_openapi::api::{
    core::v1::{Secret, Service},
    discovery::v1::EndpointSlice,
    networking::v1::{Ingress, IngressClass},
};

use crate::manifest::{self, ManifestErrors, Object};

/// Every object of the kinds wicket reads, as one consistent set. Order carries no meaning:
/// `translate` gives the same result for any permutation. Objects are shared with the
/// source that holds them, so taking a snapshot copies no object.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub ingresses: Vec<Arc<Ingress>>,
    pub classes: Vec<Arc<IngressClass>>,
    pub services: Vec<Arc<Service>>,
    pub slices: Vec<Arc<EndpointSlice>>,
    pub secrets: Vec<Arc<Secret>>,
}

impl Snapshot {
    /// Adds one object to its vector; [`Object::Other`] is ignored. No de-duplication.
    pub fn insert(&mut self, object: Object) {
        match object {
            Object::Ingress(o) => self.ingresses.push(o),
            Object::IngressClass(o) => self.classes.push(o),
            Object::Service(o) => self.services.push(o),
            Object::EndpointSlice(o) => self.slices.push(o),
            Object::Secret(o) => self.secrets.push(o),
            Object::Other { .. } => {}
        }
    }

    /// Every object of a (multi-document) YAML text; fails if any document is unreadable.
    pub fn from_yaml(text: &str) -> Result<Self, ManifestErrors> {
        let mut snapshot = Self::default();
        let mut errors = Vec::new();
        for result in manifest::parse_documents(text) {
            match result {
                Ok(object) => snapshot.insert(object),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(snapshot)
        } else {
            Err(ManifestErrors(errors))
        }
    }
}
