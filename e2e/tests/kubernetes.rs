//! The scenario list and the TLS scenarios whose input comes from the source (Secrets,
//! Ingress `tls` sections) against `wicket serve --kubeconfig …`: an in-memory API server
//! double over HTTPS, backends in network-namespace pods (these tests need root; without it
//! they fail saying so), plus what only this mode has (status, leader election, API
//! outages).
//!
//! With `E2E_KUBECONFIG=path` the same scenarios run against that real cluster instead:
//! objects are applied with `kubectl --kubeconfig` (server-side), backends are Pods of
//! `E2E_ECHO_IMAGE`, and wicket runs locally, so this host must reach pod IPs. The
//! scenarios that need the double's write log are skipped with a printed reason.

use e2e::Testbed;

e2e::scenario_tests!(Testbed::kubernetes());

e2e::tls_scenario_tests!(Testbed::kubernetes());

e2e::kube_scenario_tests!();
