//! The access log: one line per request, formatted and written off the request path by a
//! background writer thread.
//!
//! ```text
//! request end ─► Record (no formatting) ─try_send─► bounded channel ─► writer thread
//!                 full? drop it, count wicket_access_log_dropped_total      │ every ~100 ms
//!                                                                          ▼ (and at flush/close)
//!                                        text (nginx "upstreaminfo") or JSON ─► buffered sink
//! ```
//!
//! The writer never blocks a request: it wakes on a timer, not per line. Every value that
//! comes from the client is escaped (`"`, `\`, control and non-ASCII bytes as `\xHH` in
//! the text form; JSON escaping in the JSON form), so no header can forge a line.

use std::fmt::Write as _;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method, Uri, Version};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::mpsc;

use crate::metrics::RouteSeries;

/// How often the writer writes what it has.
const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Lines that may wait for the writer before new ones are dropped.
const CAPACITY: usize = 16 * 1024;

/// `--access-log-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AccessLogFormat {
    /// nginx `upstreaminfo` order, as ingress-nginx logs.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
    /// No access log.
    Off,
}

/// What is known about one finished request; formatted by the writer, not the request.
#[derive(Debug)]
pub struct Record {
    /// The client address.
    pub remote_addr: SocketAddr,
    /// When the response ended.
    pub time: SystemTime,
    pub method: Method,
    /// The request target as received.
    pub uri: Uri,
    pub version: Version,
    /// The status sent to the client.
    pub status: u16,
    /// Response body bytes sent.
    pub bytes_sent: u64,
    pub referer: Option<HeaderValue>,
    pub user_agent: Option<HeaderValue>,
    /// Request head plus body bytes received.
    pub request_length: u64,
    /// From the request head to the end of the response.
    pub request_time: Duration,
    /// The matched route's labels and upstream name; `None` when nothing matched.
    pub route: Option<Arc<RouteSeries>>,
    /// The endpoint that answered.
    pub upstream_addr: Option<SocketAddr>,
    pub upstream_status: Option<u16>,
    /// From sending upstream to the response head.
    pub upstream_response_time: Option<Duration>,
    /// Upstream response body bytes passed on (absent when no upstream answered).
    pub upstream_response_length: Option<u64>,
    pub request_id: HeaderValue,
}

/// The handle requests log through; cheap to clone.
#[derive(Clone, Debug)]
pub struct AccessLog {
    inner: Option<Arc<Shared>>,
}

#[derive(Debug)]
struct Shared {
    lines: mpsc::Sender<Record>,
    dropped: Counter,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    thread: std::thread::Thread,
    closing: Arc<AtomicBool>,
}

impl AccessLog {
    /// No access log: [`AccessLog::log`] does nothing.
    pub fn off() -> AccessLog {
        AccessLog { inner: None }
    }

    /// Logs to standard output in `format`; `dropped` counts lines lost to a full channel.
    pub fn stdout(format: AccessLogFormat, dropped: Counter) -> std::io::Result<AccessLog> {
        AccessLog::start(format, std::io::stdout(), dropped)
    }

    /// Logs to `sink` in `format` from a new writer thread (none for `Off`).
    pub fn start(
        format: AccessLogFormat,
        sink: impl Write + Send + 'static,
        dropped: Counter,
    ) -> std::io::Result<AccessLog> {
        AccessLog::start_bounded(format, sink, dropped, CAPACITY)
    }

    fn start_bounded(
        format: AccessLogFormat,
        sink: impl Write + Send + 'static,
        dropped: Counter,
        capacity: usize,
    ) -> std::io::Result<AccessLog> {
        if format == AccessLogFormat::Off {
            return Ok(AccessLog::off());
        }
        let (lines, received) = mpsc::channel(capacity.max(1));
        let closing = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            format,
            received,
            sink: std::io::BufWriter::with_capacity(64 * 1024, sink),
            closing: closing.clone(),
            line: String::with_capacity(512),
        };
        let writer = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || writer.run())?;
        Ok(AccessLog {
            inner: Some(Arc::new(Shared {
                lines,
                dropped,
                thread: writer.thread().clone(),
                writer: Mutex::new(Some(writer)),
                closing,
            })),
        })
    }

    /// True unless the log is off.
    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// Queues one line; drops (and counts) it when the writer is behind. Never blocks.
    pub fn log(&self, record: Record) {
        let Some(shared) = &self.inner else {
            return;
        };
        if shared.lines.try_send(record).is_err() {
            shared.dropped.inc();
        }
    }

    /// Asks the writer to write what it has now rather than at its next tick.
    pub fn flush(&self) {
        if let Some(shared) = &self.inner {
            shared.thread.unpark();
        }
    }

    /// Writes every queued line, flushes the sink and stops the writer. Blocks until the
    /// writer is done; later lines are dropped.
    pub fn close(&self) {
        let Some(shared) = &self.inner else {
            return;
        };
        shared.closing.store(true, Ordering::Release);
        shared.thread.unpark();
        let writer = shared
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(writer) = writer
            && writer.join().is_err()
        {
            tracing::warn!("the access log writer panicked");
        }
    }
}

struct Writer<W: Write> {
    format: AccessLogFormat,
    received: mpsc::Receiver<Record>,
    sink: std::io::BufWriter<W>,
    closing: Arc<AtomicBool>,
    line: String,
}

impl<W: Write> Writer<W> {
    fn run(mut self) {
        loop {
            std::thread::park_timeout(FLUSH_INTERVAL);
            let closing = self.closing.load(Ordering::Acquire);
            let open = self.write_queued();
            if let Err(err) = self.sink.flush() {
                tracing::debug!(error = %err, "access log flush failed");
            }
            if closing || !open {
                self.received.close();
                self.write_queued();
                let _ = self.sink.flush();
                return;
            }
        }
    }

    /// Writes every queued record; false once every sender is gone.
    fn write_queued(&mut self) -> bool {
        loop {
            match self.received.try_recv() {
                Ok(record) => {
                    self.line.clear();
                    match self.format {
                        AccessLogFormat::Json => json_line(&record, &mut self.line),
                        _ => text_line(&record, &mut self.line),
                    }
                    self.line.push('\n');
                    if let Err(err) = self.sink.write_all(self.line.as_bytes()) {
                        tracing::debug!(error = %err, "access log write failed");
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => return true,
                Err(mpsc::error::TryRecvError::Disconnected) => return false,
            }
        }
    }
}

/// `$time_local`: `22/Nov/2026:14:10:41 +0000` (UTC).
fn time_local(time: SystemTime) -> String {
    jiff::Timestamp::try_from(time)
        .map(|ts| ts.strftime("%d/%b/%Y:%H:%M:%S +0000").to_string())
        .unwrap_or_else(|_| "-".to_owned())
}

/// ISO 8601 UTC with milliseconds, for JSON.
fn time_iso(time: SystemTime) -> String {
    jiff::Timestamp::try_from(time)
        .map(|ts| ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// Appends `bytes`, escaping `"`, `\`, control and non-ASCII bytes as `\xHH` (as nginx).
fn escaped(out: &mut String, bytes: &[u8]) {
    for &byte in bytes {
        match byte {
            b'"' | b'\\' | 0..=0x1f | 0x7f.. => {
                let _ = write!(out, "\\x{byte:02X}");
            }
            _ => out.push(char::from(byte)),
        }
    }
}

/// Appends `value` escaped, or `-` when absent or empty.
fn escaped_or_dash(out: &mut String, value: Option<&[u8]>) {
    match value {
        Some(bytes) if !bytes.is_empty() => escaped(out, bytes),
        _ => out.push('-'),
    }
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "-",
    }
}

/// The request target as logged: path and query (the authority of an absolute-form
/// target is the host, logged by neither form).
fn target(uri: &Uri) -> &str {
    uri.path_and_query().map_or("/", |pq| pq.as_str())
}

/// Appends seconds with millisecond resolution, as nginx prints times.
fn seconds(out: &mut String, duration: Duration) {
    let _ = write!(
        out,
        "{}.{:03}",
        duration.as_secs(),
        duration.subsec_millis()
    );
}

/// `$remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer"
/// "$http_user_agent" $request_length $request_time [$proxy_upstream_name] []
/// $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id`
pub fn text_line(record: &Record, out: &mut String) {
    let _ = write!(
        out,
        "{} - - [{}] \"",
        record.remote_addr.ip(),
        time_local(record.time)
    );
    escaped(out, record.method.as_str().as_bytes());
    out.push(' ');
    escaped(out, target(&record.uri).as_bytes());
    out.push(' ');
    out.push_str(protocol(record.version));
    let _ = write!(out, "\" {} {} \"", record.status, record.bytes_sent);
    escaped_or_dash(out, record.referer.as_ref().map(HeaderValue::as_bytes));
    out.push_str("\" \"");
    escaped_or_dash(out, record.user_agent.as_ref().map(HeaderValue::as_bytes));
    let _ = write!(out, "\" {} ", record.request_length);
    seconds(out, record.request_time);
    out.push_str(" [");
    let upstream_name = record.route.as_ref().map(|r| r.upstream_name.as_bytes());
    escaped_or_dash(out, upstream_name);
    out.push_str("] [] ");
    match record.upstream_addr {
        Some(addr) => {
            let _ = write!(out, "{addr}");
        }
        None => out.push('-'),
    }
    out.push(' ');
    match record.upstream_response_length {
        Some(length) => {
            let _ = write!(out, "{length}");
        }
        None => out.push('-'),
    }
    out.push(' ');
    match record.upstream_response_time {
        Some(time) => seconds(out, time),
        None => out.push('-'),
    }
    out.push(' ');
    match record.upstream_status {
        Some(status) => {
            let _ = write!(out, "{status}");
        }
        None => out.push('-'),
    }
    out.push(' ');
    escaped_or_dash(out, Some(record.request_id.as_bytes()));
}

#[derive(serde::Serialize)]
struct JsonLine<'a> {
    remote_addr: String,
    time: String,
    method: &'a str,
    path: &'a str,
    protocol: &'static str,
    status: u16,
    bytes_sent: u64,
    referer: Option<std::borrow::Cow<'a, str>>,
    user_agent: Option<std::borrow::Cow<'a, str>>,
    request_length: u64,
    request_time: f64,
    upstream_name: Option<&'a str>,
    upstream_addr: Option<String>,
    upstream_status: Option<u16>,
    upstream_response_time: Option<f64>,
    upstream_response_length: Option<u64>,
    request_id: std::borrow::Cow<'a, str>,
    namespace: Option<&'a str>,
    ingress: Option<&'a str>,
    service: Option<&'a str>,
}

/// One JSON object with the text form's fields by name (absent values are `null`).
pub fn json_line(record: &Record, out: &mut String) {
    let header = |value: &'_ Option<HeaderValue>| {
        value
            .as_ref()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned().into())
    };
    let route = record.route.as_deref();
    let line = JsonLine {
        remote_addr: record.remote_addr.ip().to_string(),
        time: time_iso(record.time),
        method: record.method.as_str(),
        path: target(&record.uri),
        protocol: protocol(record.version),
        status: record.status,
        bytes_sent: record.bytes_sent,
        referer: header(&record.referer),
        user_agent: header(&record.user_agent),
        request_length: record.request_length,
        request_time: record.request_time.as_secs_f64(),
        upstream_name: route.map(|r| &*r.upstream_name).filter(|s| !s.is_empty()),
        upstream_addr: record.upstream_addr.map(|addr| addr.to_string()),
        upstream_status: record.upstream_status,
        upstream_response_time: record.upstream_response_time.map(|t| t.as_secs_f64()),
        upstream_response_length: record.upstream_response_length,
        request_id: String::from_utf8_lossy(record.request_id.as_bytes()),
        namespace: route
            .map(|r| &*r.labels.namespace)
            .filter(|s| !s.is_empty()),
        ingress: route.map(|r| &*r.labels.ingress).filter(|s| !s.is_empty()),
        service: route.map(|r| &*r.labels.service).filter(|s| !s.is_empty()),
    };
    match serde_json::to_string(&line) {
        Ok(json) => out.push_str(&json),
        Err(err) => {
            let _ = write!(out, "{{\"error\":\"{err}\"}}");
        }
    }
}

#[cfg(test)]
mod tests;
