//! The TLS scenario list against `wicket serve --manifests DIR`: SNI certificates, HTTPS
//! redirects and HSTS, certificate rotation, broken Secrets (these four also run in
//! `tests/kubernetes.rs`), and gRPC and HTTPS backends, whose loopback test servers only a
//! manifests directory may point at.

use e2e::Testbed;

e2e::tls_scenario_tests!(Testbed::manifests());

e2e::upstream_scenario_tests!(Testbed::manifests());
