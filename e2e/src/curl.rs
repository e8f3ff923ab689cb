//! Runs the real `curl` client against the proxy.

use std::net::SocketAddr;

use tokio::process::Command;

use crate::client::bounded;
use crate::error::{Error, Result};
use crate::wait::REQUEST;

/// What curl received.
#[derive(Clone, Debug)]
pub struct CurlReply {
    pub status: u16,
    pub body: String,
}

/// `curl -H 'Host: host' http://addr/path`.
pub async fn curl_get(addr: SocketAddr, host: &str, path: &str) -> Result<CurlReply> {
    let url = format!("http://{addr}{path}");
    let what = format!("curl -H 'Host: {host}' {url}");
    let output = bounded(REQUEST, &what, async {
        Command::new("curl")
            .args([
                "--silent",
                "--show-error",
                "--max-time",
                "10",
                "--write-out",
                "\n%{http_code}",
            ])
            .arg("-H")
            .arg(format!("Host: {host}"))
            .arg(&url)
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => Error::CurlMissing { source },
                _ => Error::Spawn {
                    what: "curl".to_owned(),
                    source,
                },
            })
    })
    .await?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(Error::Unexpected {
            what: format!("{what} failed ({})", output.status),
            detail: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", stdout.as_str()));
    let status = code.trim().parse().map_err(|_| Error::Unexpected {
        what: format!("{what}: no status code in its output"),
        detail: stdout.clone(),
    })?;
    Ok(CurlReply {
        status,
        body: body.to_owned(),
    })
}
