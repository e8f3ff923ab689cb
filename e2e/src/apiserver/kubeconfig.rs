//! Writing a kubeconfig that points a client (kubectl, kube-rs) at the server as one user.

use std::io;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::path::{Path, PathBuf};

/// The kubeconfig text for `user` (bearer `token`) on the server at `url`; `ca_pem` is the CA
/// that signed the server's certificate (for `https://` URLs).
pub fn render(url: &str, ca_pem: Option<&str>, user: &str, token: &str) -> String {
    let ca = ca_pem.map_or_else(String::new, |pem| {
        format!("\n    certificate-authority-data: {}", STANDARD.encode(pem))
    });
    let user_yaml = yaml_string(user);
    let context = yaml_string(&format!("{user}@wicket-e2e"));
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: wicket-e2e
  cluster:
    server: {url}{ca}
contexts:
- name: {context}
  context:
    cluster: wicket-e2e
    user: {user_yaml}
    namespace: default
current-context: {context}
users:
- name: {user_yaml}
  user:
    token: {token}
preferences: {{}}
",
        url = yaml_string(url),
        token = yaml_string(token),
    )
}

fn yaml_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Writes `kubeconfig-{user}.yaml` into `dir` and returns its path. An `https://` URL gets
/// the process-wide CA of the double ([`super::tls`]).
pub fn write(dir: &Path, url: &str, user: &str, token: &str) -> io::Result<PathBuf> {
    let ca = if url.starts_with("https://") {
        Some(
            super::tls::identity()
                .map_err(io::Error::other)?
                .ca_pem
                .as_str(),
        )
    } else {
        None
    };
    let file: String = user
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("kubeconfig-{file}.yaml"));
    std::fs::write(&path, render(url, ca, user, token))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_parseable_yaml() {
        let text = render("https://127.0.0.1:1234", Some("PEM"), "replica-a", "tok.1");
        let doc: serde_json::Value = serde_yaml_ng::from_str(&text).expect("yaml");
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:1234"
        );
        assert_eq!(
            doc["clusters"][0]["cluster"]["certificate-authority-data"],
            "UEVN"
        );
        assert_eq!(doc["users"][0]["user"]["token"], "tok.1");
        assert_eq!(doc["current-context"], "replica-a@wicket-e2e");
        let plain = render("http://127.0.0.1:1234", None, "u", "t");
        let doc: serde_json::Value = serde_yaml_ng::from_str(&plain).expect("yaml");
        assert!(
            doc["clusters"][0]["cluster"]
                .get("certificate-authority-data")
                .is_none()
        );
    }
}
