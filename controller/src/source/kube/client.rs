//! The Kubernetes client: `--kubeconfig` (or `KUBECONFIG`, a `:`-separated list that is
//! merged), else the in-cluster service account, else `~/.kube/config`.

use std::ffi::OsStr;

use kube::{
    Client, Config,
    config::{KubeConfigOptions, Kubeconfig},
};

use crate::error::ControllerError;

/// Loads the configuration and builds a client; nothing is sent to the API server yet.
pub async fn connect(kubeconfig: Option<&OsStr>) -> Result<Client, ControllerError> {
    let config = load(kubeconfig).await?;
    Client::try_from(config).map_err(|e| fail(e.to_string()))
}

/// The client configuration, from the first of: the given kubeconfig file(s), the
/// in-cluster environment, `~/.kube/config`.
pub async fn load(kubeconfig: Option<&OsStr>) -> Result<Config, ControllerError> {
    if let Some(paths) = kubeconfig.filter(|p| !p.is_empty()) {
        let mut merged = Kubeconfig::default();
        for path in std::env::split_paths(paths).filter(|p| !p.as_os_str().is_empty()) {
            let file = Kubeconfig::read_from(&path)
                .map_err(|e| fail(format!("{}: {}", path.display(), e)))?;
            merged = merged.merge(file).map_err(|e| fail(e.to_string()))?;
        }
        return Config::from_custom_kubeconfig(merged, &KubeConfigOptions::default())
            .await
            .map_err(|e| fail(e.to_string()));
    }
    match Config::incluster() {
        Ok(config) => Ok(config),
        Err(in_cluster) => Config::from_kubeconfig(&KubeConfigOptions::default())
            .await
            .map_err(|kubeconfig| {
                fail(format!(
                    "not in a cluster ({in_cluster}) and no usable ~/.kube/config ({kubeconfig})"
                ))
            }),
    }
}

/// A configuration error on one line.
fn fail(reason: String) -> ControllerError {
    ControllerError::KubeConfig(reason.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn kubeconfig(server: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        write!(
            file,
            "apiVersion: v1\nkind: Config\ncurrent-context: test\n\
             clusters: [{{name: test, cluster: {{server: '{server}'}}}}]\n\
             users: [{{name: test, user: {{token: secret-token}}}}]\n\
             contexts: [{{name: test, context: {{cluster: test, user: test, namespace: apps}}}}]\n"
        )
        .expect("write kubeconfig");
        file
    }

    #[tokio::test]
    async fn an_explicit_kubeconfig_is_honoured() {
        let file = kubeconfig("http://127.0.0.1:6443");
        let config = load(Some(file.path().as_os_str())).await.expect("loads");
        assert_eq!(config.cluster_url.to_string(), "http://127.0.0.1:6443/");
        assert_eq!(config.default_namespace, "apps");
        assert!(Client::try_from(config).is_ok());
    }

    #[tokio::test]
    async fn a_missing_kubeconfig_is_a_one_line_configuration_error() {
        let error = load(Some(OsStr::new("/nonexistent/kubeconfig")))
            .await
            .expect_err("must fail");
        assert_eq!(error.exit_code(), 2);
        let message = error.to_string();
        assert!(message.contains("/nonexistent/kubeconfig"), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }
}
