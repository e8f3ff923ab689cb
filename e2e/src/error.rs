//! The harness's error type: everything that can go wrong while setting up or driving a test.

use std::path::PathBuf;
use std::time::Duration;

/// A boxed error from a client library (hyper, tungstenite, serde).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a harness step failed. Assertion failures are panics in the scenarios; this type is
/// for the machinery around them (processes, files, sockets, timeouts).
///
/// `Debug` prints the message: a test returning `Err` shows it that way.
#[derive(thiserror::Error)]
pub enum Error {
    #[error(
        "the wicket binary is missing at {}: run `cargo build -p controller --bin wicket` \
         (`cargo test --workspace` builds it) or point WICKET_BIN at it",
        path.display()
    )]
    BinaryMissing { path: PathBuf },

    #[error("`curl` could not be run ({source}); install curl (`.ci/run` installs it)")]
    CurlMissing { source: std::io::Error },

    #[error("cannot start {what}: {source}")]
    Spawn {
        what: String,
        source: std::io::Error,
    },

    #[error("{what} exited ({status}) before {waiting_for}; its stderr:\n{stderr}")]
    Exited {
        what: String,
        status: String,
        waiting_for: String,
        stderr: String,
    },

    #[error("timed out after {after:?} waiting for {what}; last observed: {last}")]
    Timeout {
        what: String,
        after: Duration,
        last: String,
    },

    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },

    #[error("{what}: {source}")]
    Client { what: String, source: BoxError },

    #[error("{what}: {detail}")]
    Unexpected { what: String, detail: String },
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn client(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Client {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// The harness's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
