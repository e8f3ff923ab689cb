//! The `wicket` binary's command-line contract: one-line usage errors with exit code 2,
//! `WICKET_*` environment fallbacks, and exit code 0 after SIGTERM.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

const WICKET: &str = env!("CARGO_BIN_EXE_wicket");

/// Runs wicket to completion with `env` set; returns (exit code, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = Command::new(WICKET)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .output()
        .expect("run wicket");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_one_line_usage_error(code: Option<i32>, stderr: &str, needle: &str) {
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "stderr: {stderr:?}");
    assert!(stderr.starts_with("wicket: "), "stderr: {stderr:?}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
}

#[test]
fn bad_flags_and_env_values_are_one_line_with_exit_code_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_str().expect("utf-8 temp path");
    let (code, stderr) = run(&["serve", "--manifests", dir, "--nope"], &[]);
    assert_one_line_usage_error(code, &stderr, "'--nope'");
    let (code, stderr) = run(
        &["serve", "--manifests", dir],
        &[("WICKET_HTTP_ADDR", "nowhere")],
    );
    assert_one_line_usage_error(code, &stderr, "--http-addr");
    let missing = tmp.path().join("missing");
    let missing = missing.to_str().expect("utf-8 temp path");
    // Without --manifests: Kubernetes mode, and a kubeconfig that cannot be loaded.
    let (code, stderr) = run(&["serve", "--kubeconfig", missing], &[]);
    assert_one_line_usage_error(code, &stderr, "cannot load Kubernetes client configuration");
    let (code, stderr) = run(&["serve"], &[("KUBECONFIG", missing)]);
    assert_one_line_usage_error(code, &stderr, missing);
    let (code, stderr) = run(&["serve"], &[("WICKET_MANIFESTS", missing)]);
    assert_one_line_usage_error(code, &stderr, "cannot read manifests directory");
}

#[test]
fn help_and_version_exit_0() {
    let output = Command::new(WICKET)
        .arg("--version")
        .output()
        .expect("run wicket");
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("wicket "));
    let output = Command::new(WICKET)
        .args(["serve", "--help"])
        .output()
        .expect("run wicket");
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("WICKET_HTTP_ADDR"));
}

#[test]
fn serve_takes_its_settings_from_the_environment_and_stops_cleanly_on_sigterm() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(WICKET)
        .arg("serve")
        .env("WICKET_MANIFESTS", tmp.path())
        .env("WICKET_HTTP_ADDR", "127.0.0.1:0")
        .env("WICKET_ADMIN_ADDR", "127.0.0.1:0")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wicket");
    let stderr = child.stderr.take().expect("stderr");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let wanted = [
        "listening listener=\"http\" addr=127.0.0.1:",
        "listening listener=\"admin\" addr=127.0.0.1:",
        "table published generation=1",
    ];
    while !wanted
        .iter()
        .all(|w| seen.iter().any(|l: &String| l.contains(w)))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("startup lines missing; saw {seen:#?}");
            }
        }
    }
    let port_zero = seen.iter().any(|l| l.contains("addr=127.0.0.1:0"));
    assert!(!port_zero, "the real port is logged: {seen:#?}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(killed.is_ok_and(|s| s.success()));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("wicket did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0));
}

/// Runs `wicket check` on an example set; returns (exit code, stdout, stderr).
fn check(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(WICKET)
        .arg("check")
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env_remove("RUST_LOG")
        .output()
        .expect("run wicket check");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_exits_0_for_good_manifests_1_for_errors_and_2_for_unreadable_paths() {
    let (code, stdout, stderr) = check(&["examples/check/good"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.ends_with("0 errors, 0 warnings; 3 routes on 1 host\n"),
        "{stdout}"
    );
    let (code, stdout, stderr) = check(&["examples/check/broken"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("examples/check/broken/syntax.yaml: Error document 1 (line 10): "),
        "{stdout}"
    );
    let (code, stdout, stderr) = check(&["examples/check/none"]);
    assert_one_line_usage_error(code, &stderr, "cannot read examples/check/none");
    assert_eq!(stdout, "");
    let (code, _, stderr) = check(&[]);
    assert_one_line_usage_error(code, &stderr, "PATH");
}
