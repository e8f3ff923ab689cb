//! TLS end to end: SNI certificates (exact, wildcard, unknown, none), HTTPS redirects and
//! HSTS, certificate rotation under an open connection, broken Secrets, HTTP/2 by ALPN,
//! gRPC to an HTTP/2 cleartext backend, and HTTPS backends with and without verification.
//!
//! Certificates are made in the test ([`crate::tls::TestCa`]); clients are rustls (which
//! reports the certificate the server chose), tonic, and the real `curl`.

use std::net::SocketAddr;
use std::path::Path;

use http::StatusCode;
use http::header::{LOCATION, STRICT_TRANSPORT_SECURITY};
use serde_json::Value;
use tokio::process::Command;
use tonic::Code;

use crate::client::bounded;
use crate::cluster::Cluster;
use crate::echo::Echo;
use crate::error::{Error, Result};
use crate::grpc::{FAIL, GrpcClient, GrpcServer, Note};
use crate::logs::wait_for_log;
use crate::manifest::{Ingress, PathType, Rule, backend_objects};
use crate::testbed::Testbed;
use crate::tls::{
    HttpsConnection, Leaf, PKCS_ECDSA_P384_SHA384, PKCS_ED25519, Seen, TestCa, TlsTerminator,
    Trust, ca_secret, handshake, https_get, raw_tls_secret, self_signed, tls_secret,
    with_annotations, with_tls,
};
use crate::wait::{CONVERGE, REQUEST, poll_until};

/// `ingress-nginx`'s default `Strict-Transport-Security`.
const DEFAULT_HSTS: &str = "max-age=31536000; includeSubDomains";

/// The proxy's HTTPS listener.
fn https<C: Cluster>(tb: &Testbed<C>) -> SocketAddr {
    tb.wicket.https_addr()
}

/// Polls until an HTTPS request for `host` presents `leaf` (verified against `ca`) and is
/// answered by the echo called `backend`.
async fn wait_for_certificate<C: Cluster>(
    tb: &Testbed<C>,
    ca: &TestCa,
    host: &str,
    leaf: &Leaf,
    backend: &str,
) -> Result<Seen> {
    let what = format!("https://{host}/ to present its certificate and reach {backend}");
    poll_until(CONVERGE, &what, async || {
        let (seen, reply) = https_get(https(tb), host, "/", Trust::Ca(ca))
            .await
            .map_err(|e| e.to_string())?;
        if !seen.is(leaf) {
            return Err("another certificate".to_owned());
        }
        match reply.backend() {
            Ok(name) if name == backend => Ok(seen),
            Ok(name) => Err(format!("served by {name}")),
            Err(other) => Err(other),
        }
    })
    .await
}

/// What a handshake with SNI `sni` (or none) presents, whoever signed it.
async fn presented<C: Cluster>(tb: &Testbed<C>, sni: Option<&str>) -> Result<Seen> {
    handshake(https(tb), sni, Trust::Anything, &[])
        .await
        .map(|(_, seen)| seen)
}

fn hsts(reply: &crate::Reply) -> Option<&str> {
    reply
        .headers
        .get(STRICT_TRANSPORT_SECURITY)
        .and_then(|v| v.to_str().ok())
}

/// `curl --cacert CA --resolve host:PORT:127.0.0.1 https://host:PORT/path`: the status and
/// body. curl verifies the chain and the host name itself.
async fn curl_https(addr: SocketAddr, host: &str, path: &str, ca: &Path) -> Result<(u16, String)> {
    let port = addr.port();
    let url = format!("https://{host}:{port}{path}");
    let what = format!("curl --cacert {} {url}", ca.display());
    let output = bounded(REQUEST, &what, async {
        Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "10"])
            .arg("--cacert")
            .arg(ca)
            .arg("--resolve")
            .arg(format!("{host}:{port}:{}", addr.ip()))
            .args(["--write-out", "\n%{http_code}"])
            .arg(&url)
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => Error::CurlMissing { source },
                _ => Error::Spawn {
                    what: "curl".to_owned(),
                    source,
                },
            })
    })
    .await?;
    if !output.status.success() {
        return Err(Error::Unexpected {
            what: format!("{what} failed ({})", output.status),
            detail: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", stdout.as_str()));
    let status = code.trim().parse().map_err(|_| Error::Unexpected {
        what: format!("{what}: no status code in its output"),
        detail: stdout.clone(),
    })?;
    Ok((status, body.to_owned()))
}

/// One Ingress `name` with `Prefix /` → `service` on every host.
fn ingress(name: &str, hosts: &[&str], service: &str) -> Value {
    hosts
        .iter()
        .fold(Ingress::new(name), |ingress, host| {
            ingress.rule(Rule::host(host).path("/", PathType::Prefix, service))
        })
        .to_value()
}

/// SNI picks the certificate: two hosts with their own certificates (P-256 and Ed25519)
/// and a wildcard (P-384), verified against the test CA by rustls and by curl; unknown SNI
/// and no SNI get the default certificate, which the test CA did not sign; HTTP/2 is
/// negotiated by ALPN; HTTPS responses carry HSTS.
pub async fn sni_certificates<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let ca = TestCa::new("wicket e2e CA")?;
    let a = ca.leaf(&["a.tls.example"])?;
    let b = ca.leaf_with(&["b.tls.example"], &PKCS_ED25519)?;
    let w = ca.leaf_with(&["*.w.tls.example"], &PKCS_ECDSA_P384_SHA384)?;
    let backends = tb.backends(&["tls-app"]).await?;
    tb.apply_echo_services("backends", &backends).await?;
    let site = with_tls(
        ingress(
            "tls-site",
            &["a.tls.example", "b.tls.example", "*.w.tls.example"],
            "tls-app",
        ),
        &[
            (&["a.tls.example"], Some("a-tls")),
            (&["b.tls.example"], Some("b-tls")),
            (&["*.w.tls.example"], Some("w-tls")),
        ],
    );
    let objects = [
        tls_secret("a-tls", &a),
        tls_secret("b-tls", &b),
        tls_secret("w-tls", &w),
        site,
    ];
    tb.apply_objects("site", &objects).await?;
    wait_for_certificate(tb, &ca, "a.tls.example", &a, "tls-app").await?;

    for (host, leaf) in [
        ("a.tls.example", &a),
        ("b.tls.example", &b),
        ("x.w.tls.example", &w),
        ("other.w.tls.example", &w),
    ] {
        let (seen, reply) = https_get(https(tb), host, "/page", Trust::Ca(&ca)).await?;
        assert!(seen.is(leaf), "{host}: presented another certificate");
        assert_eq!(reply.backend(), Ok("tls-app".to_owned()), "{host}");
        assert_eq!(hsts(&reply), Some(DEFAULT_HSTS), "{host}");
        let echoed = reply.echo()?;
        assert_eq!(echoed.host.as_deref(), Some(host), "{host}");
        assert_eq!(echoed.header("x-forwarded-proto"), ["https"], "{host}");
    }

    // curl verifies chain and name against the test CA: each host gets its own certificate.
    let ca_file = tempfile::NamedTempFile::new().map_err(|e| Error::io("CA file", e))?;
    std::fs::write(ca_file.path(), ca.pem()).map_err(|e| Error::io("writing the CA file", e))?;
    for host in ["a.tls.example", "b.tls.example", "x.w.tls.example"] {
        let (status, body) = curl_https(https(tb), host, "/curl", ca_file.path()).await?;
        assert_eq!(status, 200, "curl {host}: {body}");
        assert!(body.contains("\"tls-app\""), "curl {host}: {body}");
    }

    // Unknown SNI, a name the wildcard does not cover, and no SNI: the default certificate.
    for sni in [Some("nobody.example"), Some("deep.x.w.tls.example"), None] {
        let seen = presented(tb, sni).await?;
        assert!(
            ![&a, &b, &w].iter().any(|leaf| seen.is(leaf)),
            "SNI {sni:?} got a host's certificate"
        );
        if let Some(sni) = sni {
            assert!(
                handshake(https(tb), Some(sni), Trust::Ca(&ca), &[])
                    .await
                    .is_err(),
                "SNI {sni}: the default certificate verified against the test CA"
            );
        }
    }

    // ALPN: h2 when offered, and requests work over it.
    let (stream, seen) = handshake(
        https(tb),
        Some("a.tls.example"),
        Trust::Ca(&ca),
        &[b"h2", b"http/1.1"],
    )
    .await?;
    assert_eq!(seen.alpn.as_deref(), Some(&b"h2"[..]));
    let mut h2 = HttpsConnection::new(stream).await?;
    for i in 0..3 {
        let reply = h2.get("a.tls.example", &format!("/h2/{i}")).await?;
        assert_eq!(reply.backend(), Ok("tls-app".to_owned()), "h2 request {i}");
    }
    let (_, seen) = handshake(
        https(tb),
        Some("a.tls.example"),
        Trust::Ca(&ca),
        &[b"http/1.1"],
    )
    .await?;
    assert_eq!(seen.alpn.as_deref(), Some(&b"http/1.1"[..]));
    Ok(())
}

/// Plain HTTP to a TLS host → 308 to https (query kept), except ACME HTTP-01 paths;
/// `ssl-redirect: "false"` serves plain HTTP; `force-ssl-redirect` redirects a host
/// without TLS; `wicket.dev/hsts: "false"` drops HSTS.
pub async fn https_redirect<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let ca = TestCa::new("wicket e2e CA")?;
    let leaf = ca.leaf(&["r.tls.example", "nohsts.tls.example"])?;
    let backends = tb.backends(&["redirect-app"]).await?;
    tb.apply_echo_services("backends", &backends).await?;
    let secure = with_tls(
        ingress("secure", &["r.tls.example"], "redirect-app"),
        &[(&["r.tls.example"], Some("r-tls"))],
    );
    let optional = with_annotations(
        with_tls(
            ingress("optional", &["opt.tls.example"], "redirect-app"),
            &[(&["opt.tls.example"], None)],
        ),
        &[("nginx.ingress.kubernetes.io/ssl-redirect", "false")],
    );
    let forced = with_annotations(
        ingress("forced", &["forced.tls.example"], "redirect-app"),
        &[("nginx.ingress.kubernetes.io/force-ssl-redirect", "true")],
    );
    let no_hsts = with_annotations(
        with_tls(
            ingress("no-hsts", &["nohsts.tls.example"], "redirect-app"),
            &[(&["nohsts.tls.example"], Some("r-tls"))],
        ),
        &[("wicket.dev/hsts", "false")],
    );
    let objects = [
        tls_secret("r-tls", &leaf),
        secure,
        optional,
        forced,
        no_hsts,
    ];
    tb.apply_objects("site", &objects).await?;
    tb.wait_for_status("forced.tls.example", "/", StatusCode::PERMANENT_REDIRECT)
        .await?;
    let reply = tb
        .wait_for_status(
            "r.tls.example",
            "/cart?item=1",
            StatusCode::PERMANENT_REDIRECT,
        )
        .await?;
    assert_eq!(
        reply.headers.get(LOCATION).and_then(|v| v.to_str().ok()),
        Some("https://r.tls.example/cart?item=1")
    );

    // cert-manager's HTTP-01 challenge is answered over plain HTTP.
    let acme = tb
        .get("r.tls.example", "/.well-known/acme-challenge/token-1")
        .await?;
    assert_eq!(acme.backend(), Ok("redirect-app".to_owned()));
    assert_eq!(hsts(&acme), None, "HSTS over plain HTTP");

    let plain = tb.get("opt.tls.example", "/").await?;
    assert_eq!(plain.backend(), Ok("redirect-app".to_owned()));
    let forced = tb.get("forced.tls.example", "/x").await?;
    assert_eq!(
        forced.headers.get(LOCATION).and_then(|v| v.to_str().ok()),
        Some("https://forced.tls.example/x")
    );

    // Following the redirect by hand: HTTPS answers, with HSTS where it is on.
    let seen = wait_for_certificate(tb, &ca, "r.tls.example", &leaf, "redirect-app").await?;
    assert!(seen.is(&leaf));
    let (_, reply) = https_get(https(tb), "r.tls.example", "/cart?item=1", Trust::Ca(&ca)).await?;
    assert_eq!(reply.backend(), Ok("redirect-app".to_owned()));
    assert_eq!(hsts(&reply), Some(DEFAULT_HSTS));
    let (_, reply) = https_get(https(tb), "nohsts.tls.example", "/", Trust::Ca(&ca)).await?;
    assert_eq!(reply.backend(), Ok("redirect-app".to_owned()));
    assert_eq!(hsts(&reply), None, "wicket.dev/hsts: false");
    Ok(())
}

/// Replacing a Secret's certificate reaches new handshakes while a keep-alive connection
/// opened before the change keeps working.
pub async fn certificate_rotation<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let ca = TestCa::new("wicket e2e CA")?;
    let first = ca.leaf(&["rot.tls.example"])?;
    let second = ca.leaf(&["rot.tls.example"])?;
    let backends = tb.backends(&["rot-app"]).await?;
    tb.apply_echo_services("backends", &backends).await?;
    let site = with_tls(
        ingress("rotating", &["rot.tls.example"], "rot-app"),
        &[(&["rot.tls.example"], Some("rot-tls"))],
    );
    tb.apply_objects("site", &[tls_secret("rot-tls", &first), site.clone()])
        .await?;
    wait_for_certificate(tb, &ca, "rot.tls.example", &first, "rot-app").await?;

    let (stream, seen) = handshake(
        https(tb),
        Some("rot.tls.example"),
        Trust::Ca(&ca),
        &[b"http/1.1"],
    )
    .await?;
    assert!(seen.is(&first));
    let mut open = HttpsConnection::new(stream).await?;
    let before = open.get("rot.tls.example", "/before").await?;
    assert_eq!(before.backend(), Ok("rot-app".to_owned()));

    tb.apply_objects("site", &[tls_secret("rot-tls", &second), site])
        .await?;
    wait_for_certificate(tb, &ca, "rot.tls.example", &second, "rot-app").await?;
    for i in 0..3 {
        let reply = open.get("rot.tls.example", &format!("/after/{i}")).await?;
        assert_eq!(
            reply.backend(),
            Ok("rot-app".to_owned()),
            "request {i} on the connection opened before the rotation"
        );
    }
    Ok(())
}

/// A Secret whose key does not match its certificate: an Issue naming it in the log, the
/// default certificate for its host (still served, still redirected), and the other host
/// of the same Ingress unaffected.
pub async fn broken_secret<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let ca = TestCa::new("wicket e2e CA")?;
    let good = ca.leaf(&["good.tls.example"])?;
    let other = ca.leaf(&["bad.tls.example"])?;
    let bad_cert = ca.leaf(&["bad.tls.example"])?;
    let backends = tb.backends(&["broken-app"]).await?;
    tb.apply_echo_services("backends", &backends).await?;
    let site = with_tls(
        ingress(
            "mixed-tls",
            &["good.tls.example", "bad.tls.example"],
            "broken-app",
        ),
        &[
            (&["good.tls.example"], Some("good-tls")),
            (&["bad.tls.example"], Some("mismatched-tls")),
        ],
    );
    let objects = [
        tls_secret("good-tls", &good),
        raw_tls_secret(
            "mismatched-tls",
            bad_cert.cert_pem.as_bytes(),
            other.key_pem.as_bytes(),
        ),
        site,
    ];
    tb.apply_objects("site", &objects).await?;
    wait_for_certificate(tb, &ca, "good.tls.example", &good, "broken-app").await?;
    let secret = format!("secret {}/mismatched-tls", tb.cluster.namespace());
    let line = wait_for_log(
        tb.wicket.logs(),
        CONVERGE,
        &format!("an Issue about {secret}"),
        |line| line.contains(&secret) && line.contains("does not match"),
    )
    .await?;
    assert!(line.contains("mixed-tls"), "{line}");

    let seen = presented(tb, Some("bad.tls.example")).await?;
    assert!(!seen.is(&bad_cert) && !seen.is(&good) && !seen.is(&other));
    assert!(
        handshake(https(tb), Some("bad.tls.example"), Trust::Ca(&ca), &[])
            .await
            .is_err()
    );
    let (_, reply) = https_get(https(tb), "bad.tls.example", "/", Trust::Anything).await?;
    assert_eq!(reply.backend(), Ok("broken-app".to_owned()));
    let plain = tb.get("bad.tls.example", "/").await?;
    assert_eq!(plain.status, StatusCode::PERMANENT_REDIRECT);
    let (seen, reply) = https_get(https(tb), "good.tls.example", "/", Trust::Ca(&ca)).await?;
    assert!(seen.is(&good));
    assert_eq!(reply.backend(), Ok("broken-app".to_owned()));
    Ok(())
}

// The two scenarios below test the upstream side: their backends are servers in this
// process on loopback (a tonic server; a TLS terminator in front of an echo) that record
// what wicket sent them, which only a manifests directory may point at, since an API
// server rejects loopback EndpointSlice addresses. They run in manifests mode only (see
// `upstream_scenario_tests!`).

/// gRPC through wicket to a tonic backend (`backend-protocol: GRPC`, HTTP/2 cleartext):
/// unary, server and client streaming, and error statuses in trailers.
pub async fn grpc_backend<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let server = GrpcServer::start("grpc-app").await?;
    let mut objects = backend_objects("grpc-app", &[server.addr()]);
    objects.push(with_annotations(
        ingress("grpc", &["grpc.tls.example"], "grpc-app"),
        &[("nginx.ingress.kubernetes.io/backend-protocol", "GRPC")],
    ));
    tb.apply_objects("grpc", &objects).await?;
    let mut client = GrpcClient::connect(tb.proxy(), "grpc.tls.example").await?;
    let reply = poll_until(CONVERGE, "a unary gRPC call through wicket", async || {
        client
            .unary(Note::new("hello", 1))
            .await
            .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
    })
    .await?;
    assert_eq!(reply, Note::new("grpc-app: hello", 1));

    let failed = client.unary(Note::new(FAIL, 0)).await;
    let status = failed.err().map(|s| (s.code(), s.message().to_owned()));
    assert_eq!(
        status,
        Some((Code::NotFound, format!("grpc-app: nothing called {FAIL}")))
    );

    let grpc_error = |s: tonic::Status| Error::Unexpected {
        what: "a gRPC stream through wicket".to_owned(),
        detail: format!("{:?}: {}", s.code(), s.message()),
    };
    let (notes, end) = client
        .server_stream(Note::new("s", 5))
        .await
        .map_err(grpc_error)?;
    let counts: Vec<u32> = notes.iter().map(|n| n.count).collect();
    assert_eq!(counts, vec![0, 1, 2, 3, 4]);
    assert_eq!(end.map_err(|s| s.code()), Ok(()));

    // The status after the last message travels in HTTP/2 trailers.
    let (notes, end) = client
        .server_stream(Note::new(FAIL, 2))
        .await
        .map_err(grpc_error)?;
    assert_eq!(notes.len(), 2);
    assert_eq!(
        end.map_err(|s| (s.code(), s.message().to_owned())),
        Err((Code::Aborted, "failed after the last note".to_owned()))
    );

    let notes: Vec<Note> = (0..4).map(|i| Note::new(&format!("n{i}"), i)).collect();
    let joined = client.client_stream(notes).await.map_err(grpc_error)?;
    assert_eq!(joined, Note::new("grpc-app: n0,n1,n2,n3", 4));
    Ok(())
}

/// `backend-protocol: HTTPS` to a TLS backend: without verification (the default), with
/// `proxy-ssl-verify` against the right CA and `proxy-ssl-name`, and 502 with the wrong CA.
pub async fn https_backend<C: Cluster>(tb: &Testbed<C>) -> Result<()> {
    let ca = TestCa::new("backend CA")?;
    let wrong_ca = TestCa::new("someone else's CA")?;
    let leaf = ca.leaf(&["backend.internal"])?;
    let echo = Echo::start("secure-app").await?;
    let terminator = TlsTerminator::start(&leaf, echo.addr()).await?;
    let mut objects = backend_objects("secure-app", &[terminator.addr()]);
    // The CAs travel as ca.crt of kubernetes.io/tls Secrets (the only type wicket reads),
    // beside a pair of their own that upstream verification does not use.
    let pair = self_signed(&["client.internal"])?;
    objects.push(ca_secret("backend-ca", &pair, ca.pem()));
    objects.push(ca_secret("wrong-ca", &pair, wrong_ca.pem()));
    objects.push(with_annotations(
        ingress("upstream-tls", &["up.tls.example"], "secure-app"),
        &[("nginx.ingress.kubernetes.io/backend-protocol", "HTTPS")],
    ));
    objects.push(with_annotations(
        ingress("upstream-verified", &["verified.tls.example"], "secure-app"),
        &[
            ("nginx.ingress.kubernetes.io/backend-protocol", "HTTPS"),
            ("nginx.ingress.kubernetes.io/proxy-ssl-verify", "on"),
            (
                "nginx.ingress.kubernetes.io/proxy-ssl-secret",
                "default/backend-ca",
            ),
            (
                "nginx.ingress.kubernetes.io/proxy-ssl-name",
                "backend.internal",
            ),
        ],
    ));
    objects.push(with_annotations(
        ingress(
            "upstream-untrusted",
            &["untrusted.tls.example"],
            "secure-app",
        ),
        &[
            ("wicket.dev/backend-protocol", "HTTPS"),
            ("wicket.dev/proxy-ssl-verify", "on"),
            ("wicket.dev/proxy-ssl-secret", "default/wrong-ca"),
            ("wicket.dev/proxy-ssl-name", "backend.internal"),
        ],
    ));
    tb.apply_objects("secure", &objects).await?;

    let reply = tb
        .wait_for_backend("up.tls.example", "/x", "secure-app")
        .await?;
    assert_eq!(reply.echo()?.path, "/x");
    assert!(
        !terminator.server_names().is_empty(),
        "the backend saw no TLS handshake"
    );
    tb.wait_for_backend("verified.tls.example", "/", "secure-app")
        .await?;
    assert!(
        terminator
            .server_names()
            .contains(&Some("backend.internal".to_owned())),
        "proxy-ssl-name was not sent as SNI: {:?}",
        terminator.server_names()
    );
    tb.wait_for_status("untrusted.tls.example", "/", StatusCode::BAD_GATEWAY)
        .await?;
    Ok(())
}
