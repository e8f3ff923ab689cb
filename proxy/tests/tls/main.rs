//! The HTTPS listener in-process: SNI certificate selection, key formats, ALPN, TLS
//! versions, resumption, HTTPS redirects and HSTS, TLS and HTTP/2 upstreams, wss.

#[allow(
    dead_code,
    reason = "shared with the plain-HTTP suite; not every helper is used here"
)]
#[path = "../proxy/support.rs"]
mod support;

mod harness;
mod keys;
mod metrics;
mod pki;
mod protocol;
mod redirect;
mod sni;
mod upstream;
