//! What the benchmark tools share: flag parsing, the first-200 probe, percentiles.

// Each example uses a different part of this module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use e2e::HttpClient;
use http::StatusCode;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `--name VALUE` flags with defaults; anything else is an error naming the usage.
pub struct Flags {
    args: Vec<String>,
    usage: &'static str,
}

impl Flags {
    pub fn from_env(usage: &'static str) -> Result<Self, BoxError> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.iter().any(|a| a == "-h" || a == "--help") {
            return Err(usage.into());
        }
        Ok(Self { args, usage })
    }

    /// The value after `--name`, parsed; `default` when the flag is absent.
    pub fn get<T: std::str::FromStr>(&mut self, name: &str, default: T) -> Result<T, BoxError>
    where
        T::Err: std::fmt::Display,
    {
        let flag = format!("--{name}");
        let Some(at) = self.args.iter().position(|a| *a == flag) else {
            return Ok(default);
        };
        let value = self
            .args
            .get(at + 1)
            .ok_or_else(|| format!("{flag} needs a value\n{}", self.usage))?
            .clone();
        self.args.drain(at..at + 2);
        value
            .parse()
            .map_err(|e| format!("{flag} {value:?}: {e}\n{}", self.usage).into())
    }

    /// Fails on flags that no `get` consumed.
    pub fn finish(self) -> Result<(), BoxError> {
        match self.args.first() {
            None => Ok(()),
            Some(extra) => Err(format!("unexpected argument {extra:?}\n{}", self.usage).into()),
        }
    }
}

/// Sends `GET /` with `Host: host` to `proxy` in a tight loop until it answers 200; the
/// time from `since` to that answer. Errors other than a non-200 status end the wait.
pub async fn first_ok(
    client: &HttpClient,
    proxy: SocketAddr,
    host: &str,
    since: Instant,
    timeout: Duration,
) -> Result<Duration, BoxError> {
    loop {
        let reply = client.get(proxy, host, "/").await?;
        if reply.status == StatusCode::OK {
            return Ok(since.elapsed());
        }
        if since.elapsed() > timeout {
            return Err(format!(
                "http://{host}/ still answers {} after {timeout:?}",
                reply.status
            )
            .into());
        }
    }
}

/// The `q`-th percentile (nearest rank) of `sorted`, which must not be empty.
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((q / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len()) - 1)
        .copied()
        .unwrap_or_default()
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `VmHWM` and `VmRSS` of a process, in KiB.
pub fn memory_kib(pid: u32) -> Result<(u64, u64), BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok((field("VmHWM:")?, field("VmRSS:")?))
}
