//! Logging setup: `tracing` events to stderr, as text or JSON. Stdout stays free for access logs.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::error::ControllerError;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-01-01T00:00:00Z  INFO wicket: listening listener="http" addr=0.0.0.0:8080`
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The filter used: `RUST_LOG` when set, else `level` (e.g. `info` or `info,proxy=debug`).
pub fn filter(rust_log: Option<&str>, level: &str) -> Result<EnvFilter, ControllerError> {
    let (source, directives) = match rust_log {
        Some(value) if !value.trim().is_empty() => ("RUST_LOG", value),
        _ => ("--log-level", level),
    };
    EnvFilter::builder()
        .parse(directives)
        .map_err(|e| ControllerError::Usage(format!("invalid {source} '{directives}': {e}")))
}

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(level: &str, format: LogFormat) -> Result<(), ControllerError> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let filter = filter(rust_log.as_deref(), level)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|e| ControllerError::Usage(format!("cannot set up logging: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_overrides_the_flag() {
        let f = filter(Some("proxy=debug"), "info").map(|f| f.to_string());
        assert_eq!(f.ok().as_deref(), Some("proxy=debug"));
        let f = filter(Some(" "), "warn").map(|f| f.to_string());
        assert_eq!(f.ok().as_deref(), Some("warn"));
    }

    #[test]
    fn a_bad_level_is_a_usage_error_naming_its_source() {
        let err = filter(None, "info,=[")
            .err()
            .map(|e| (e.exit_code(), e.to_string()));
        let (code, message) = err.unwrap_or_default();
        assert_eq!(code, 2);
        assert!(
            message.starts_with("invalid --log-level 'info,=['"),
            "{message}"
        );
    }
}
