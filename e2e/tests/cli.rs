//! The command line contract: usage errors exit 2 with one stderr line; SIGTERM exits 0.

use std::ffi::OsStr;
use std::time::Duration;

use e2e::binary::wicket_binary;
use e2e::process::ChildProcess;
use e2e::{Error, HttpClient, ManifestDir, Wicket};
use http::StatusCode;

const EXIT_WITHIN: Duration = Duration::from_secs(30);

/// Runs `wicket ARGS…` to completion; returns the exit code and stderr lines.
async fn run(args: &[&OsStr]) -> Result<(Option<i32>, Vec<String>), Error> {
    let mut child = ChildProcess::spawn("wicket", &wicket_binary()?, args)?;
    let status = child.wait_exit(EXIT_WITHIN).await?;
    Ok((status.code(), child.logs().lines()))
}

fn assert_usage_error(args: &str, (code, stderr): (Option<i32>, Vec<String>)) {
    assert_eq!(
        code,
        Some(2),
        "`wicket {args}` exit code; stderr: {stderr:#?}"
    );
    assert_eq!(
        stderr.len(),
        1,
        "`wicket {args}` should print exactly one stderr line: {stderr:#?}"
    );
    assert!(
        stderr.iter().all(|line| !line.trim().is_empty()),
        "`wicket {args}`: blank reason {stderr:?}"
    );
}

#[tokio::test]
async fn unknown_flag_is_a_one_line_usage_error() -> Result<(), Error> {
    let args = ["serve", "--no-such-flag"].map(OsStr::new);
    assert_usage_error("serve --no-such-flag", run(&args).await?);
    Ok(())
}

#[tokio::test]
async fn invalid_listen_address_is_a_one_line_usage_error() -> Result<(), Error> {
    let dir = ManifestDir::new()?;
    let args = [
        OsStr::new("serve"),
        OsStr::new("--manifests"),
        dir.path().as_os_str(),
    ]
    .into_iter()
    .chain(
        [
            "--http-addr",
            "not-an-address",
            "--admin-addr",
            "127.0.0.1:0",
        ]
        .map(OsStr::new),
    )
    .collect::<Vec<_>>();
    assert_usage_error("serve --http-addr not-an-address", run(&args).await?);
    Ok(())
}

#[tokio::test]
async fn missing_manifests_directory_is_a_one_line_error() -> Result<(), Error> {
    let dir = ManifestDir::new()?;
    let missing = dir.path().join("does-not-exist");
    let args = [
        OsStr::new("serve"),
        OsStr::new("--manifests"),
        missing.as_os_str(),
    ]
    .into_iter()
    .chain(["--http-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"].map(OsStr::new))
    .collect::<Vec<_>>();
    let (code, stderr) = run(&args).await?;
    assert!(
        stderr.iter().any(|line| line.contains("does-not-exist")),
        "the reason should name the directory: {stderr:#?}"
    );
    assert_usage_error("serve --manifests <missing dir>", (code, stderr));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints_then_sigterm_exits_zero() -> Result<(), Error> {
    let dir = ManifestDir::new()?;
    let mut wicket = Wicket::start(dir.path()).await?;
    let admin = wicket.admin_addr();
    let client = HttpClient::new();
    for path in ["/healthz", "/readyz"] {
        let reply = client.get(admin, &admin.to_string(), path).await?;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.describe());
    }
    let status = wicket.terminate(Duration::from_secs(60)).await?;
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status}"
    );
    Ok(())
}
