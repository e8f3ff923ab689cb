//! wicket's data plane: the routing table model, its matcher, and the HTTP reverse proxy.
//!
//! ```text
//! RouteTable ──► TableHandle::publish() ──► Active { table, matcher, compiled routes, SNI index }
//!                                                   │ load() once per request / per handshake
//! listener ──► [tls: SNI → certificate] ──► server (hyper-util auto) ──► service: authority
//!   → normalize → matcher → https redirect / rewrite → balance → upstream (h1/h2, TCP/TLS)
//! ```
//!
//! This crate knows nothing of Kubernetes; `controller` adapts Ingress objects to [`table`].

pub mod access_log;
pub mod authority;
pub mod balance;
pub mod config;
pub mod drain;
pub mod error;
pub mod handle;
pub mod headers;
pub mod matcher;
pub mod metrics;
pub mod normalize;
pub mod rewrite;
pub mod server;
pub mod service;
pub mod table;
pub mod telemetry;
pub mod tls;
pub mod upstream;

pub use drain::{Drain, DrainReport};
pub use error::ProxyError;
pub use handle::{Active, PublishOutcome, TableHandle};
pub use matcher::{Matcher, TableError, Target};
pub use table::RouteTable;
pub use telemetry::Telemetry;
