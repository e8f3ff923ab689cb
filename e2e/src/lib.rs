//! Black-box test support: starts the real `wicket` binary and its backends.
//!
//! ```text
//!  Testbed ─┬─ Wicket (child: wicket serve …, stderr collected, ports parsed, /readyz awaited)
//!           ├─ Cluster ─┬─ ManifestDir: bundle → NAME.yaml, backends on loopback
//!           │           └─ ApiCluster: API server double + netns pods, or a real cluster
//!           │              (E2E_KUBECONFIG) through kubectl + Pods
//!           └─ HttpClient (pooled) / get_fresh (one connection) / curl_get
//!  scenario::* — the behaviour list, generic over Cluster; scenario_tests! instantiates it
//!  scenario::kube::* — what only the Kubernetes API mode has (status, election, watches)
//! ```

pub mod apicluster;
pub mod apiserver;
pub mod backend;
pub mod binary;
pub mod client;
pub mod cluster;
pub mod curl;
pub mod echo;
pub mod error;
pub mod grpc;
pub mod kubectl;
pub mod logs;
pub mod manifest;
pub mod netns;
pub mod process;
pub mod scenario;
pub mod testbed;
pub mod tls;
pub mod wait;
pub mod wicket;

pub use apicluster::ApiCluster;
pub use backend::{Backend, Upstream};
pub use client::{HttpClient, Reply};
pub use cluster::{Cluster, ManifestDir, write_atomic};
pub use echo::{Echo, EchoReply};
pub use error::{Error, Result};
pub use testbed::Testbed;
pub use wait::{poll_until, wait_until};
pub use wicket::Wicket;
