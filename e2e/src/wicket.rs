//! The `wicket serve` process under test.

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use http::StatusCode;

use crate::binary::wicket_binary;
use crate::client::HttpClient;
use crate::error::{Error, Result};
use crate::logs::Logs;
use crate::process::ChildProcess;
use crate::wait::{CONVERGE, poll_until};

/// How long `wicket serve` may take to bind its listeners and publish its first table.
const STARTUP: Duration = Duration::from_secs(30);

/// A running `wicket serve`, stopped (SIGTERM, then SIGKILL) when dropped.
#[derive(Debug)]
pub struct Wicket {
    process: ChildProcess,
    http: SocketAddr,
    https: SocketAddr,
    admin: SocketAddr,
}

impl Wicket {
    /// `wicket serve --manifests DIR` on loopback ports chosen by the kernel; returns once
    /// `/readyz` answers 200.
    pub async fn start(manifests: &Path) -> Result<Self> {
        let mut args: Vec<OsString> = vec!["serve".into(), "--manifests".into()];
        args.push(manifests.into());
        Self::start_with(&args).await
    }

    /// `wicket ARGS… --http-addr 127.0.0.1:0 --https-addr 127.0.0.1:0 --admin-addr
    /// 127.0.0.1:0`; returns once `/readyz` answers 200.
    pub async fn start_with(args: &[OsString]) -> Result<Self> {
        let binary = wicket_binary()?;
        let mut argv: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        // Tests stop wicket often: no load balancer needs the default 5 s to notice.
        if !args.iter().any(|a| a == "--shutdown-delay") {
            argv.extend(["--shutdown-delay", "0s"].map(OsStr::new));
        }
        argv.extend(
            [
                "--http-addr",
                "127.0.0.1:0",
                "--https-addr",
                "127.0.0.1:0",
                "--admin-addr",
                "127.0.0.1:0",
            ]
            .map(OsStr::new),
        );
        let mut process = ChildProcess::spawn("wicket serve", &binary, &argv)?;
        let http = process.listen_addr("http", STARTUP).await?;
        let https = process.listen_addr("https", STARTUP).await?;
        let admin = process.listen_addr("admin", STARTUP).await?;
        let mut wicket = Self {
            process,
            http,
            https,
            admin,
        };
        wicket.wait_ready().await?;
        Ok(wicket)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let client = HttpClient::new();
        let url_host = self.admin.to_string();
        let admin = self.admin;
        let process = &mut self.process;
        let ready = poll_until(STARTUP, "wicket /readyz to answer 200", async || {
            if let Ok(Some(_)) = process.try_exit() {
                return Ok(false);
            }
            match client.get(admin, &url_host, "/readyz").await {
                Ok(reply) if reply.status == StatusCode::OK => Ok(true),
                Ok(reply) => Err(format!("/readyz answered {}", reply.status)),
                Err(e) => Err(e.to_string()),
            }
        })
        .await?;
        if ready {
            Ok(())
        } else {
            Err(self.process.exited_error("answering /readyz"))
        }
    }

    /// The plain-HTTP proxy listener.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// The HTTPS proxy listener.
    pub fn https_addr(&self) -> SocketAddr {
        self.https
    }

    /// The admin listener (`/healthz`, `/readyz`, `/metrics`).
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Everything written to stderr so far.
    pub fn logs(&self) -> &Logs {
        self.process.logs()
    }

    /// Peak resident set size (`VmHWM` of `/proc/PID/status`) in bytes.
    pub fn peak_rss_bytes(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).map_err(|e| Error::io(path.clone(), e))?;
        parse_vm_hwm(&status).ok_or_else(|| Error::Unexpected {
            what: format!("reading VmHWM from {path}"),
            detail: status,
        })
    }

    /// Everything written to stdout so far (the access log).
    pub fn stdout(&self) -> &Logs {
        self.process.stdout()
    }

    /// Sends SIGTERM without waiting.
    pub fn sigterm(&self) -> Result<()> {
        self.process.sigterm()
    }

    /// Waits up to `timeout` for the process to exit (after [`Self::sigterm`]).
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        self.process.wait_exit(timeout).await
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit status.
    pub async fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus> {
        self.process.terminate(timeout).await
    }

    /// Sends SIGKILL (a crash: no Lease release, no cleanup) and waits up to `timeout`.
    pub async fn kill(&mut self, timeout: Duration) -> Result<ExitStatus> {
        self.process.kill(timeout).await
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.process.try_exit(), Ok(None))
    }

    /// The timeout scenarios use to wait for this instance to converge on a change.
    pub fn converge_timeout(&self) -> Duration {
        CONVERGE
    }
}

/// `VmHWM:     12345 kB` → bytes.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut fields = line.split_whitespace().skip(1);
    let value: u64 = fields.next()?.parse().ok()?;
    match fields.next()? {
        "kB" => value.checked_mul(1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_peak_rss() {
        let status = "Name:\twicket\nVmPeak:\t  900 kB\nVmHWM:\t   20480 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(20480 * 1024));
        assert_eq!(parse_vm_hwm("Name:\twicket\n"), None);
    }
}
