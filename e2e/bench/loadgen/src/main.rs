//! Closed-loop HTTPS load where every request opens a new TCP connection and performs a
//! full TLS handshake: session resumption and tickets are off, so the server pays for
//! key exchange and a signature on every request. The client skips certificate and
//! signature verification to spend as little CPU as possible itself.
//!
//! ```text
//! tls-handshake-load -c CONNS -d SECONDS [--timeout SECONDS] https://HOST:PORT/PATH
//! ```
//!
//! Prints one line for the benchmark harness:
//! `LGRESULT requests=N duration_us=N errors=N p50_us=N p99_us=N mean_us=N`
//! (latency = connect + handshake + request + response, in microseconds).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

struct Options {
    conns: usize,
    duration: Duration,
    timeout: Duration,
    addr: SocketAddr,
    host: String,
    path: String,
}

fn usage() -> String {
    "usage: tls-handshake-load -c CONNS -d SECONDS [--timeout SECONDS] https://HOST:PORT/PATH"
        .to_owned()
}

fn parse_args() -> Result<Options, String> {
    let mut conns = 64;
    let mut duration = Duration::from_secs(8);
    let mut timeout = Duration::from_secs(5);
    let mut url = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "-c" => conns = value("-c")?.parse().map_err(|e| format!("-c: {e}"))?,
            "-d" => duration = seconds(&value("-d")?)?,
            "--timeout" => timeout = seconds(&value("--timeout")?)?,
            "-h" | "--help" => return Err(usage()),
            _ if arg.starts_with("https://") => url = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}\n{}", usage())),
        }
    }
    let url = url.ok_or_else(usage)?;
    let rest = url.trim_start_matches("https://");
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let addr: SocketAddr = authority
        .parse()
        .map_err(|e| format!("{authority:?} is not IP:PORT: {e}"))?;
    if conns == 0 {
        return Err("-c must be at least 1".to_owned());
    }
    Ok(Options {
        conns,
        duration,
        timeout,
        addr,
        host: authority.to_owned(),
        path: path.to_owned(),
    })
}

fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text.parse().map_err(|e| format!("{text:?}: {e}"))?;
    Duration::try_from_secs_f64(value).map_err(|e| format!("{text:?}: {e}"))
}

/// Accepts any certificate and signature: the load generator measures the server's work.
#[derive(Debug)]
struct AcceptAnything(Vec<SignatureScheme>);

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
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.clone()
    }
}

fn client_config() -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let schemes = provider
        .signature_verification_algorithms
        .supported_schemes();
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|builder| {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnything(schemes)))
                .with_no_client_auth()
        })
        .unwrap_or_else(|e| panic!("rustls configuration: {e}"));
    config.resumption = Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
}

/// One request on a fresh connection; `Ok` only for a complete `200` response.
async fn one(connector: &TlsConnector, options: &Options, request: &[u8]) -> Result<(), String> {
    let tcp = TcpStream::connect(options.addr)
        .await
        .map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let name = ServerName::IpAddress(options.addr.ip().into());
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(request).await.map_err(|e| e.to_string())?;
    let mut response = Vec::with_capacity(512);
    // `Connection: close`: the response ends when the server closes.
    match tls.read_to_end(&mut response).await {
        Ok(_) => {}
        // A close without close_notify after a complete response still counts.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !response.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    if response.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        Err("not a 200 response".to_owned())
    }
}

async fn worker(connector: TlsConnector, options: Arc<Options>, until: Instant) -> Tally {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        options.path, options.host
    );
    let mut tally = Tally::default();
    while Instant::now() < until {
        let start = Instant::now();
        let result = tokio::time::timeout(
            options.timeout,
            one(&connector, &options, request.as_bytes()),
        )
        .await;
        match result {
            Ok(Ok(())) => {
                let us = start.elapsed().as_micros();
                tally
                    .latencies_us
                    .push(u32::try_from(us).unwrap_or(u32::MAX));
            }
            _ => tally.errors += 1,
        }
    }
    tally
}

fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q / 100.0) * sorted.len() as f64) as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => Arc::new(options),
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let connector = TlsConnector::from(client_config());
    let started = Instant::now();
    let until = started + options.duration;
    let tallies = runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..options.conns {
            tasks.spawn(worker(connector.clone(), options.clone(), until));
        }
        let mut tallies = Vec::new();
        while let Some(result) = tasks.join_next().await {
            if let Ok(tally) = result {
                tallies.push(tally);
            }
        }
        tallies
    });
    let elapsed = started.elapsed();
    let errors: u64 = tallies.iter().map(|t| t.errors).sum();
    let mut latencies: Vec<u32> = tallies.into_iter().flat_map(|t| t.latencies_us).collect();
    latencies.sort_unstable();
    let mean = if latencies.is_empty() {
        0.0
    } else {
        latencies.iter().map(|&v| f64::from(v)).sum::<f64>() / latencies.len() as f64
    };
    println!(
        "LGRESULT requests={} duration_us={} errors={} p50_us={} p99_us={} mean_us={:.1}",
        latencies.len(),
        elapsed.as_micros(),
        errors,
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        mean
    );
    ExitCode::SUCCESS
}
