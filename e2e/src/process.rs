//! A child process whose stdout and stderr are collected line by line, and which is stopped
//! when dropped.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::logs::{Logs, parse_listen, strip_ansi};
use crate::wait::poll_until;

/// How long a dropped child gets between SIGTERM and SIGKILL.
const DROP_GRACE: Duration = Duration::from_secs(3);

/// A running child process with its stderr lines collected by a reader thread.
#[derive(Debug)]
pub struct ChildProcess {
    what: String,
    child: Child,
    logs: Logs,
    stdout: Logs,
    exit: Option<ExitStatus>,
}

impl ChildProcess {
    /// Starts `program args…` with stdin closed and stdout and stderr collected.
    /// `NO_COLOR` is set so log lines are plain text; `RUST_LOG` and `WICKET_*` settings of
    /// the test's environment are not passed on, so only the arguments configure it.
    pub fn spawn(what: &str, program: &Path, args: &[&OsStr]) -> Result<Self> {
        let mut command = Command::new(program);
        for (name, _) in std::env::vars_os() {
            if name == "RUST_LOG" || name.to_string_lossy().starts_with("WICKET_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| Error::Spawn {
                what: what.to_owned(),
                source,
            })?;
        let stdout = Logs::default();
        if let Some(out) = child.stdout.take() {
            let sink = stdout.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    match line {
                        Ok(line) => sink.push(line),
                        Err(_) => break,
                    }
                }
                sink.close();
            });
        } else {
            stdout.close();
        }
        let logs = Logs::default();
        if let Some(stderr) = child.stderr.take() {
            let sink = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    match line {
                        Ok(line) => sink.push(strip_ansi(&line)),
                        Err(_) => break,
                    }
                }
                sink.close();
            });
        } else {
            logs.close();
        }
        Ok(Self {
            what: what.to_owned(),
            child,
            logs,
            stdout,
            exit: None,
        })
    }

    /// The operating-system process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The collected stderr.
    pub fn logs(&self) -> &Logs {
        &self.logs
    }

    /// The collected stdout (e.g. access log lines).
    pub fn stdout(&self) -> &Logs {
        &self.stdout
    }

    /// The exit status, if the child has exited.
    pub fn try_exit(&mut self) -> Result<Option<ExitStatus>> {
        if self.exit.is_none() {
            self.exit = self
                .child
                .try_wait()
                .map_err(|e| Error::io(format!("cannot poll {}", self.what), e))?;
        }
        Ok(self.exit)
    }

    /// Waits for the line `listening listener="<listener>" addr=…` and returns the address.
    pub async fn listen_addr(&mut self, listener: &str, timeout: Duration) -> Result<SocketAddr> {
        // A plain loop rather than `poll_until`: its future stays `Send` for trait methods.
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(addr) = self.logs.find_map(|line| parse_listen(line, listener)) {
                return Ok(addr);
            }
            if matches!(self.try_exit(), Ok(Some(_))) && self.logs.closed() {
                return Err(self.exited_error(&format!("logging its {listener} listener address")));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("{} to log its {listener} listener address", self.what),
                    after: timeout,
                    last: self.logs.text(),
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The error describing that the child exited while `waiting_for` something.
    pub fn exited_error(&mut self, waiting_for: &str) -> Error {
        let status = match self.try_exit() {
            Ok(Some(status)) => status.to_string(),
            _ => "still running".to_owned(),
        };
        Error::Exited {
            what: self.what.clone(),
            status,
            waiting_for: waiting_for.to_owned(),
            stderr: self.logs.text(),
        }
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) -> Result<()> {
        let pid = i32::try_from(self.child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
            .ok_or_else(|| Error::Unexpected {
                what: format!("cannot signal {}", self.what),
                detail: format!("invalid pid {}", self.child.id()),
            })?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            .map_err(|e| Error::io(format!("cannot send SIGTERM to {}", self.what), e.into()))
    }

    /// Waits up to `timeout` for the child to exit and for its stderr to be fully read.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let what = format!("{} to exit", self.what);
        poll_until(timeout, &what, async || match self.try_exit() {
            Ok(Some(status)) if self.logs.closed() => Ok(status),
            Ok(Some(_)) => Err("exited; stderr not yet fully read".to_owned()),
            Ok(None) => Err("still running".to_owned()),
            Err(e) => Err(e.to_string()),
        })
        .await
    }

    /// Sends SIGKILL (no chance to clean up, like a crashed or OOM-killed process) and
    /// waits up to `timeout` for it to be gone.
    pub async fn kill(&mut self, timeout: Duration) -> Result<ExitStatus> {
        if self.try_exit()?.is_none() {
            self.child
                .kill()
                .map_err(|e| Error::io(format!("cannot send SIGKILL to {}", self.what), e))?;
        }
        self.wait_exit(timeout).await
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit status.
    pub async fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus> {
        if self.try_exit()?.is_none() {
            self.sigterm()?;
        }
        self.wait_exit(timeout).await
    }

    fn stop_blocking(&mut self) {
        if !matches!(self.try_exit(), Ok(None)) {
            return;
        }
        if self.sigterm().is_ok() {
            let deadline = std::time::Instant::now() + DROP_GRACE;
            while std::time::Instant::now() < deadline {
                if !matches!(self.try_exit(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildProcess {
    /// Stops the child (SIGTERM, then SIGKILL after a grace period) and prints its stderr,
    /// which the test runner shows only when the test fails.
    #[allow(
        clippy::print_stderr,
        reason = "the test runner captures it; shown on failure"
    )]
    fn drop(&mut self) {
        self.stop_blocking();
        let lines = self.logs.lines();
        if !lines.is_empty() {
            eprintln!("---- stderr of {} ----", self.what);
            for line in lines {
                eprintln!("{line}");
            }
        }
    }
}
