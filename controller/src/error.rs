//! `ControllerError`: everything that stops the `wicket` binary, and its exit code.

use std::{io, net::SocketAddr, path::PathBuf};

/// A failure that ends a `wicket` command. Problems in the input objects are never
/// `ControllerError`s: they become [`crate::issue::Issue`]s and the process keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// Bad command-line input (a flag, an environment variable, or a missing argument).
    #[error("{0}")]
    Usage(String),
    /// The `--manifests` directory cannot be read at start.
    #[error("cannot read manifests directory {}: {source}", path.display())]
    ManifestsDir { path: PathBuf, source: io::Error },
    /// The file watcher on the `--manifests` directory could not be set up.
    #[error("cannot watch manifests directory {}: {source}", path.display())]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
    /// No usable Kubernetes client configuration (kubeconfig or in-cluster).
    #[error("cannot load Kubernetes client configuration: {0}")]
    KubeConfig(String),
    /// A path given to `wicket check` cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    CheckPath { path: PathBuf, source: io::Error },
    /// A listener could not bind its address.
    #[error("cannot listen on {addr} ({listener}): {source}")]
    Bind {
        listener: &'static str,
        addr: SocketAddr,
        source: io::Error,
    },
    /// A listener stopped with an error while serving.
    #[error("{listener} listener failed: {source}")]
    Serve {
        listener: &'static str,
        source: io::Error,
    },
    /// A task that must run for the life of the process ended (a bug).
    #[error("{0} stopped unexpectedly")]
    Stopped(&'static str),
    /// The async runtime or a signal handler could not be set up.
    #[error("cannot start: {0}")]
    Runtime(io::Error),
}

impl ControllerError {
    /// The process exit code: 2 for usage and configuration errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_)
            | Self::ManifestsDir { .. }
            | Self::Watch { .. }
            | Self::KubeConfig(_)
            | Self::CheckPath { .. } => 2,
            Self::Bind { .. } | Self::Serve { .. } | Self::Stopped(_) | Self::Runtime(_) => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_and_configuration_errors_exit_with_2() {
        let usage = ControllerError::Usage("unexpected argument '--nope' found".into());
        let dir = ControllerError::ManifestsDir {
            path: "/nowhere".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        };
        assert_eq!(usage.exit_code(), 2);
        assert_eq!(dir.exit_code(), 2);
        assert!(!dir.to_string().contains('\n'));
        assert!(
            dir.to_string()
                .starts_with("cannot read manifests directory /nowhere: ")
        );
    }

    #[test]
    fn runtime_failures_exit_with_1() {
        let bind = ControllerError::Bind {
            listener: "http",
            addr: SocketAddr::from(([127, 0, 0, 1], 80)),
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        assert_eq!(bind.exit_code(), 1);
    }
}
