//! Black-box test support: starts the real `wicket` binary and its backends.
//!
//! ```text
//!  Testbed ─┬─ Wicket (child: wicket serve …, stderr collected, ports parsed, /readyz awaited)
//!           ├─ Cluster (ManifestDir: bundle → NAME.yaml, written atomically)
//!           └─ HttpClient (pooled) / get_fresh (one connection) / curl_get
//!  scenario::* — the behaviour list, generic over Cluster; scenario_tests! instantiates it
//! ```

pub mod binary;
pub mod client;
pub mod cluster;
pub mod curl;
pub mod echo;
pub mod error;
pub mod logs;
pub mod manifest;
pub mod process;
pub mod scenario;
pub mod testbed;
pub mod wait;
pub mod wicket;

pub use client::{HttpClient, Reply};
pub use cluster::{Cluster, ManifestDir, write_atomic};
pub use echo::{Echo, EchoReply};
pub use error::{Error, Result};
pub use testbed::Testbed;
pub use wait::{poll_until, wait_until};
pub use wicket::Wicket;
