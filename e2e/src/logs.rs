//! The stderr lines of a child process, and what the harness reads out of them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::{Instant, sleep};

use crate::error::{Error, Result};

/// The stderr lines a child has written so far (ANSI colour codes removed).
#[derive(Clone, Debug, Default)]
pub struct Logs(Arc<Mutex<LogState>>);

#[derive(Debug, Default)]
struct LogState {
    lines: Vec<String>,
    closed: bool,
}

impl Logs {
    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.state().lines.clone()
    }

    /// The first line so far that satisfies `pred`.
    pub fn find(&self, pred: impl Fn(&str) -> bool) -> Option<String> {
        self.state().lines.iter().find(|line| pred(line)).cloned()
    }

    /// The first `Some` that `f` returns for a line so far.
    pub fn find_map<T>(&self, f: impl Fn(&str) -> Option<T>) -> Option<T> {
        self.state().lines.iter().find_map(|line| f(line))
    }

    /// Whether the child closed its stderr (normally: it exited).
    pub fn closed(&self) -> bool {
        self.state().closed
    }

    /// Every line so far, one per line, for error messages.
    pub fn text(&self) -> String {
        self.state().lines.join("\n")
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn push(&self, line: String) {
        self.state().lines.push(line);
    }

    pub(crate) fn close(&self) {
        self.state().closed = true;
    }
}

/// Extracts the address from a `listening listener="<listener>" addr=<ip:port>` log line.
pub fn parse_listen(line: &str, listener: &str) -> Option<SocketAddr> {
    if !line.contains("listening") {
        return None;
    }
    let quoted = format!("listener=\"{listener}\"");
    let bare = format!("listener={listener}");
    let mut named = false;
    let mut addr = None;
    for token in line.split_whitespace() {
        if token == quoted || token == bare {
            named = true;
        } else if let Some(value) = token.strip_prefix("addr=") {
            addr = value.trim_matches(|c| c == '"' || c == ',').parse().ok();
        }
    }
    if named { addr } else { None }
}

/// Removes ANSI escape sequences (`ESC [ … final-byte`).
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

/// Waits (with a deadline) until `cond` holds for the child's logs.
pub async fn wait_for_log(
    logs: &Logs,
    timeout: Duration,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> Result<String> {
    let start = Instant::now();
    loop {
        if let Some(line) = logs.find(&pred) {
            return Ok(line);
        }
        if start.elapsed() >= timeout {
            return Err(Error::Timeout {
                what: what.to_owned(),
                after: timeout,
                last: format!("stderr so far:\n{}", logs.text()),
            });
        }
        sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listen_lines() {
        let line = r#"2026-05-01T10:00:00.000Z  INFO wicket: listening listener="http" addr=127.0.0.1:41234"#;
        assert_eq!(parse_listen(line, "http"), "127.0.0.1:41234".parse().ok());
        assert_eq!(parse_listen(line, "admin"), None);
        let quoted = r#"INFO listening listener="admin" addr="127.0.0.1:9""#;
        assert_eq!(parse_listen(quoted, "admin"), "127.0.0.1:9".parse().ok());
        assert_eq!(
            parse_listen(r#"bound listener="http" addr=127.0.0.1:1"#, "http"),
            None
        );
    }

    #[test]
    fn strips_colour_codes() {
        let coloured = "\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m listening \u{1b}[3mlistener\u{1b}[0m\u{1b}[2m=\u{1b}[0m\"http\"";
        assert_eq!(
            strip_ansi(coloured),
            "2026  INFO listening listener=\"http\""
        );
    }
}
