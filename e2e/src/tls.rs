//! Test PKI and TLS clients: a CA and leaves made with rcgen, `kubernetes.io/tls` Secrets
//! and `tls`/annotation additions for rendered Ingresses, rustls handshakes that report
//! which certificate the server chose, HTTPS requests over them, and a TLS terminator that
//! puts a plain backend behind TLS.
//!
//! ```text
//! TestCa ─ leaf(hosts) ─► Leaf { cert_pem, key_pem, der } ─► tls_secret() ─► Secret YAML
//! handshake(addr, sni) ─► (stream, Seen { leaf DER, ALPN }) ─► https_get(stream, host, path)
//! TlsTerminator(leaf) ─► TLS on loopback ─► copy ─► plain backend
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use http::header::HOST;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SignatureAlgorithm,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::client::Reply;
use crate::error::{Error, Result};
use crate::manifest::NAMESPACE;
use crate::wait::REQUEST;

/// Key algorithms for leaves.
pub use rcgen::{PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519};

/// The crypto provider of every client and server here.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn pki_error(what: &str, e: rcgen::Error) -> Error {
    Error::Unexpected {
        what: what.to_owned(),
        detail: e.to_string(),
    }
}

/// A certificate authority that signs leaves for the tests.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
    der: CertificateDer<'static>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

/// A certificate (signed by a [`TestCa`] or self-signed) and its private key.
#[derive(Clone, Debug)]
pub struct Leaf {
    /// The chain as PEM: the leaf only.
    pub cert_pem: String,
    /// The private key as PKCS#8 PEM.
    pub key_pem: String,
    /// The leaf as DER, to compare with what a server presented.
    pub der: CertificateDer<'static>,
}

impl TestCa {
    /// A new CA (ECDSA P-256) with common name `name`.
    pub fn new(name: &str) -> Result<Self> {
        let key = KeyPair::generate().map_err(|e| pki_error("generating a CA key", e))?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params
            .self_signed(&key)
            .map_err(|e| pki_error("self-signing the CA", e))?;
        Ok(Self {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate as PEM (for `curl --cacert` or a `ca.crt`).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A root store trusting only this CA.
    pub fn roots(&self) -> Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        roots
            .add(self.der.clone())
            .map_err(|e| Error::client("adding the test CA to a root store", e))?;
        Ok(roots)
    }

    /// A leaf for `hosts` (DNS names, `*.` wildcards allowed) with an ECDSA P-256 key.
    pub fn leaf(&self, hosts: &[&str]) -> Result<Leaf> {
        self.leaf_with(hosts, &PKCS_ECDSA_P256_SHA256)
    }

    /// A leaf for `hosts` with a key of algorithm `alg`.
    pub fn leaf_with(&self, hosts: &[&str], alg: &'static SignatureAlgorithm) -> Result<Leaf> {
        let key = KeyPair::generate_for(alg).map_err(|e| pki_error("generating a leaf key", e))?;
        let params = leaf_params(hosts)?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| pki_error("signing a leaf", e))?;
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        })
    }
}

fn leaf_params(hosts: &[&str]) -> Result<CertificateParams> {
    let names: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
    let mut params = CertificateParams::new(names).map_err(|e| pki_error("leaf parameters", e))?;
    if let Some(first) = hosts.first() {
        params.distinguished_name.push(DnType::CommonName, *first);
    }
    Ok(params)
}

/// A self-signed leaf for `hosts`, trusted by no [`TestCa`].
pub fn self_signed(hosts: &[&str]) -> Result<Leaf> {
    let key = KeyPair::generate().map_err(|e| pki_error("generating a key", e))?;
    let cert = leaf_params(hosts)?
        .self_signed(&key)
        .map_err(|e| pki_error("self-signing a leaf", e))?;
    Ok(Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().clone(),
    })
}

fn base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// A `kubernetes.io/tls` Secret holding `leaf`.
pub fn tls_secret(name: &str, leaf: &Leaf) -> Value {
    raw_tls_secret(name, leaf.cert_pem.as_bytes(), leaf.key_pem.as_bytes())
}

/// A `kubernetes.io/tls` Secret with arbitrary `tls.crt` and `tls.key` bytes.
pub fn raw_tls_secret(name: &str, cert: &[u8], key: &[u8]) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": { "name": name, "namespace": NAMESPACE },
        "type": "kubernetes.io/tls",
        "data": { "tls.crt": base64(cert), "tls.key": base64(key) },
    })
}

/// A `kubernetes.io/tls` Secret holding `leaf` and, as `ca.crt`, `ca_pem` (for
/// `proxy-ssl-secret`, which reads only `ca.crt` and only from that type of Secret).
pub fn ca_secret(name: &str, leaf: &Leaf, ca_pem: &str) -> Value {
    let mut secret = tls_secret(name, leaf);
    secret["data"]["ca.crt"] = json!(base64(ca_pem.as_bytes()));
    secret
}

/// Adds `spec.tls` entries (`hosts`, optional `secretName`) to a rendered Ingress.
pub fn with_tls(mut ingress: Value, entries: &[(&[&str], Option<&str>)]) -> Value {
    let tls: Vec<Value> = entries
        .iter()
        .map(|(hosts, secret)| match secret {
            Some(secret) => json!({ "hosts": hosts, "secretName": secret }),
            None => json!({ "hosts": hosts }),
        })
        .collect();
    ingress["spec"]["tls"] = Value::Array(tls);
    ingress
}

/// Adds annotations to a rendered object.
pub fn with_annotations(mut object: Value, annotations: &[(&str, &str)]) -> Value {
    for (key, value) in annotations {
        object["metadata"]["annotations"][*key] = json!(value);
    }
    object
}

/// Accepts any server certificate: for looking at what a server presents.
#[derive(Debug)]
struct AcceptAnything(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Who a TLS client trusts.
#[derive(Clone, Copy, Debug)]
pub enum Trust<'a> {
    /// Only certificates for the SNI name chained to this CA.
    Ca(&'a TestCa),
    /// Anything (to see which certificate the server picks).
    Anything,
}

/// What the client saw in a handshake.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The leaf the server presented.
    pub leaf: CertificateDer<'static>,
    /// The negotiated ALPN protocol.
    pub alpn: Option<Vec<u8>>,
}

impl Seen {
    /// Whether the server presented `leaf`.
    pub fn is(&self, leaf: &Leaf) -> bool {
        self.leaf == leaf.der
    }
}

fn client_config(trust: Trust<'_>, alpn: &[&[u8]]) -> Result<ClientConfig> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::client("TLS client protocol versions", e))?;
    let mut config = match trust {
        Trust::Ca(ca) => builder.with_root_certificates(ca.roots()?),
        Trust::Anything => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider))),
    }
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// A TLS handshake with `addr`. `sni: None` sends no SNI at all (the server name is the
/// IP address, which rustls never sends). `alpn` lists the protocols offered.
pub async fn handshake(
    addr: SocketAddr,
    sni: Option<&str>,
    trust: Trust<'_>,
    alpn: &[&[u8]],
) -> Result<(TlsStream<TcpStream>, Seen)> {
    let what = format!("TLS handshake with {addr} (SNI {sni:?})");
    let name = match sni {
        Some(sni) => ServerName::try_from(sni.to_owned()).map_err(|e| Error::client(&what, e))?,
        None => ServerName::IpAddress(addr.ip().into()),
    };
    let connector = TlsConnector::from(Arc::new(client_config(trust, alpn)?));
    let stream = crate::client::bounded(REQUEST, &what, async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| Error::io(what.clone(), e))?;
        connector
            .connect(name, tcp)
            .await
            .map_err(|e| Error::io(what.clone(), e))
    })
    .await?;
    let (_, connection) = stream.get_ref();
    let leaf = connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| c.clone().into_owned())
        .ok_or_else(|| Error::Unexpected {
            what: what.clone(),
            detail: "the server presented no certificate".to_owned(),
        })?;
    let alpn = connection.alpn_protocol().map(<[u8]>::to_vec);
    Ok((stream, Seen { leaf, alpn }))
}

/// An HTTP/1.1 (or, with `h2`, HTTP/2) connection over an established TLS stream.
pub struct HttpsConnection {
    sender: Sender,
    _driver: JoinHandle<()>,
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Empty<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Empty<Bytes>>),
}

impl std::fmt::Debug for HttpsConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let version = match self.sender {
            Sender::H1(_) => "HTTP/1.1",
            Sender::H2(_) => "HTTP/2",
        };
        f.debug_struct("HttpsConnection")
            .field("version", &version)
            .finish()
    }
}

impl HttpsConnection {
    /// Starts HTTP on `stream`: HTTP/2 when ALPN chose `h2`, else HTTP/1.1.
    pub async fn new(stream: TlsStream<TcpStream>) -> Result<Self> {
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        let io = TokioIo::new(stream);
        if h2 {
            let (sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(|e| Error::client("HTTP/2 handshake over TLS", e))?;
            let driver = tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(Self {
                sender: Sender::H2(sender),
                _driver: driver,
            })
        } else {
            let (sender, connection) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|e| Error::client("HTTP/1.1 handshake over TLS", e))?;
            let driver = tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(Self {
                sender: Sender::H1(sender),
                _driver: driver,
            })
        }
    }

    /// `GET https://host/path` on this connection.
    pub async fn get(&mut self, host: &str, path: &str) -> Result<Reply> {
        let what = format!("GET https://{host}{path}");
        let uri = format!("https://{host}{path}");
        let mut request = Request::get(&uri);
        if let Sender::H1(_) = self.sender {
            request = request.header(HOST, host);
        }
        let request = request
            .body(Empty::new())
            .map_err(|e| Error::client(&what, e))?;
        crate::client::bounded(REQUEST, &what, async {
            let response = match &mut self.sender {
                Sender::H1(sender) => {
                    sender.ready().await.map_err(|e| Error::client(&what, e))?;
                    sender.send_request(request).await
                }
                Sender::H2(sender) => {
                    sender.ready().await.map_err(|e| Error::client(&what, e))?;
                    sender.send_request(request).await
                }
            }
            .map_err(|e| Error::client(&what, e))?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| Error::client(&what, e))?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        })
        .await
    }
}

/// One request on a fresh TLS connection with SNI `host`, trusting `trust`.
pub async fn https_get(
    addr: SocketAddr,
    host: &str,
    path: &str,
    trust: Trust<'_>,
) -> Result<(Seen, Reply)> {
    let (stream, seen) = handshake(addr, Some(host), trust, &[b"http/1.1"]).await?;
    let mut connection = HttpsConnection::new(stream).await?;
    let reply = connection.get(host, path).await?;
    Ok((seen, reply))
}

/// Whether `status` is a successful answer.
pub fn is_ok(status: StatusCode) -> bool {
    status == StatusCode::OK
}

/// A TLS server on loopback that forwards every accepted connection, decrypted, to a plain
/// backend: puts `wicket echo` behind TLS. Records the SNI of every handshake.
#[derive(Debug)]
pub struct TlsTerminator {
    addr: SocketAddr,
    sni: Arc<Mutex<Vec<Option<String>>>>,
    task: JoinHandle<()>,
}

impl TlsTerminator {
    /// Serves `leaf` on a kernel-chosen loopback port, forwarding to `backend`.
    pub async fn start(leaf: &Leaf, backend: SocketAddr) -> Result<Self> {
        let chain = vec![leaf.der.clone()];
        let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes())
            .map_err(|e| Error::client("reading the terminator's key", e))?;
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::client("TLS server protocol versions", e))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| Error::client("TLS terminator certificate", e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::io("binding the TLS terminator", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the TLS terminator's address", e))?;
        let sni = Arc::new(Mutex::new(Vec::new()));
        let seen = sni.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let name = tls.get_ref().1.server_name().map(str::to_owned);
                    if let Ok(mut seen) = seen.lock() {
                        seen.push(name);
                    }
                    if let Ok(mut plain) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                });
            }
        });
        Ok(Self { addr, sni, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The SNI of every completed handshake so far (`None`: no SNI sent).
    pub fn server_names(&self) -> Vec<Option<String>> {
        self.sni.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Drop for TlsTerminator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn plain_http_server() -> Result<(SocketAddr, JoinHandle<()>)> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::io("bind", e))?;
        let addr = listener.local_addr().map_err(|e| Error::io("addr", e))?;
        let task = tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = [0u8; 1024];
                    let _ = tcp.read(&mut buf).await;
                    let _ = tcp
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                });
            }
        });
        Ok((addr, task))
    }

    /// The PKI, the verifying and the non-verifying client, and the terminator agree.
    #[tokio::test]
    async fn terminator_serves_a_ca_signed_leaf() -> Result<()> {
        let ca = TestCa::new("e2e test CA")?;
        let leaf = ca.leaf_with(&["backend.test"], &PKCS_ED25519)?;
        let (backend, server) = plain_http_server().await?;
        let terminator = TlsTerminator::start(&leaf, backend).await?;

        let (seen, reply) =
            https_get(terminator.addr(), "backend.test", "/", Trust::Ca(&ca)).await?;
        assert!(seen.is(&leaf));
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(&reply.body[..], b"ok");
        assert_eq!(seen.alpn.as_deref(), Some(&b"http/1.1"[..]));

        // Another CA does not verify it; a wrong name does not either.
        let other = TestCa::new("other CA")?;
        assert!(
            handshake(
                terminator.addr(),
                Some("backend.test"),
                Trust::Ca(&other),
                &[]
            )
            .await
            .is_err()
        );
        assert!(
            handshake(terminator.addr(), Some("other.test"), Trust::Ca(&ca), &[])
                .await
                .is_err()
        );
        // Without SNI, only the accept-anything client gets through.
        let (_, seen) = handshake(terminator.addr(), None, Trust::Anything, &[]).await?;
        assert!(seen.is(&leaf));
        // The server side finishes its handshake after the client's: wait for both records.
        let names = crate::poll_until(REQUEST, "two recorded handshakes", async || {
            let names = terminator.server_names();
            if names.len() >= 2 {
                Ok(names)
            } else {
                Err(format!("{names:?}"))
            }
        })
        .await?;
        assert_eq!(names, vec![Some("backend.test".to_owned()), None]);
        server.abort();
        Ok(())
    }

    #[test]
    fn secrets_and_tls_entries_render() -> Result<()> {
        let leaf = self_signed(&["a.example"])?;
        let secret = tls_secret("a-tls", &leaf);
        assert_eq!(secret["type"], "kubernetes.io/tls");
        let crt = secret["data"]["tls.crt"].as_str().unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(crt)
            .map_err(|e| Error::client("base64", e))?;
        assert_eq!(decoded, leaf.cert_pem.as_bytes());
        let ingress = with_annotations(
            with_tls(
                json!({ "metadata": { "name": "x" }, "spec": {} }),
                &[(&["a.example"], Some("a-tls")), (&["b.example"], None)],
            ),
            &[("wicket.dev/hsts", "false")],
        );
        assert_eq!(ingress["spec"]["tls"][0]["secretName"], "a-tls");
        assert_eq!(ingress["spec"]["tls"][1].get("secretName"), None);
        assert_eq!(
            ingress["metadata"]["annotations"]["wicket.dev/hsts"],
            "false"
        );
        Ok(())
    }
}
