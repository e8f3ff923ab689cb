//! wicket's control plane: reads Kubernetes objects, translates them into a
//! [`proxy::RouteTable`], and publishes it to the proxy.
//!
//! ```text
//!  IngressClass ◄── Ingress ──► Service ──► EndpointSlice (label kubernetes.io/service-name)
//!                      │
//!                      └─ tls ──► Secret (kubernetes.io/tls)
//!
//!  source (--manifests DIR, or the Kubernetes API) ──► Snapshot ──► translate() ──► (RouteTable, Vec<Issue>) ──► TableHandle::publish()
//! ```

pub mod issue;
pub mod manifest;
pub mod snapshot;
pub mod translate;

pub mod admin;
pub mod args;
pub mod check;
pub mod debug;
pub mod demo;
pub mod echo;
pub mod error;
pub mod events;
pub mod leader;
pub mod listen;
pub mod logging;
pub mod metrics;
pub mod reconcile;
pub mod serve;
pub mod source;
pub mod status;
