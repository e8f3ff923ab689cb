//! The scenario list against `wicket serve --manifests DIR` (backends are loopback
//! `wicket echo` processes), plus what only a manifests directory can show, so these two
//! stay manifests-only: a malformed YAML document inside a file (an API server never stores
//! one), and deleting a file withdrawing its routes.

use std::time::Duration;

use e2e::logs::wait_for_log;
use e2e::manifest::{Ingress, PathType, Rule, backend_objects, join_documents, yaml};
use e2e::{Echo, Error, Testbed};
use http::StatusCode;

e2e::scenario_tests!(Testbed::manifests());

/// Document 2 of `app.yaml` (counting from 0) is broken in the second version.
const BROKEN_INDEX: usize = 2;

const BROKEN_DOCUMENT: &str = "\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: first
    namespace: default
spec: {}
";

fn first_ingress(path: &str) -> String {
    Ingress::new("first")
        .rule(Rule::host("m.example").path(path, PathType::Prefix, "svc"))
        .to_yaml()
}

fn app_yaml(endpoint: &Echo, third: String, fourth: Option<String>) -> String {
    let mut documents: Vec<String> = backend_objects("svc", &[endpoint.addr()])
        .iter()
        .map(yaml)
        .collect();
    documents.push(third);
    documents.extend(fourth);
    join_documents(documents)
}

/// Whether `line` names document `index` of a file (`document=2`, `document #2`, …),
/// counted from 0 or from 1.
fn names_document(line: &str, index: usize) -> bool {
    let wanted = [index.to_string(), (index + 1).to_string()];
    let tokens: Vec<&str> = line
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect();
    tokens.windows(2).any(|pair| match pair {
        [word, number] => {
            word.eq_ignore_ascii_case("document") && wanted.iter().any(|w| w == number)
        }
        _ => false,
    })
}

/// A broken document is reported with its file and index; its last good version keeps
/// serving, the other documents of the same file still count, and fixing it recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_document_keeps_its_last_good_version() -> Result<(), Error> {
    e2e::scenario::run(async {
        let tb = Testbed::manifests().await?;
        let echo_a = Echo::start("echo-a").await?;
        let echo_b = Echo::start("echo-b").await?;
        let mine = |line: &str| {
            line.contains("app.yaml") && (line.contains("ERROR") || line.contains("error"))
        };

        tb.cluster
            .write("app", &app_yaml(&echo_a, first_ingress("/old"), None))?;
        tb.wait_for_backend("m.example", "/old", "echo-a").await?;
        assert_eq!(
            tb.wicket.logs().find(mine),
            None,
            "error reported for a valid file"
        );

        // One edit: new endpoints (document 1), a broken Ingress (2), a new Ingress (3).
        let second = Ingress::new("second").rule(Rule::host("n.example").path(
            "/new",
            PathType::Prefix,
            "svc",
        ));
        tb.cluster.write(
            "app",
            &app_yaml(&echo_b, BROKEN_DOCUMENT.to_owned(), Some(second.to_yaml())),
        )?;
        let converged = e2e::poll_until(
            tb.wicket.converge_timeout(),
            "n.example/new served by echo-b",
            async || {
                let old = tb
                    .get("m.example", "/old")
                    .await
                    .map_err(|e| e.to_string())?;
                assert_eq!(
                    old.status,
                    StatusCode::OK,
                    "the last good version of the broken document: {}",
                    old.describe()
                );
                let new = tb
                    .get("n.example", "/new")
                    .await
                    .map_err(|e| e.to_string())?;
                match new.backend() {
                    Ok(name) if name == "echo-b" => Ok(()),
                    Ok(name) => Err(format!("served by {name}")),
                    Err(other) => Err(other),
                }
            },
        )
        .await;
        converged?;
        for i in 0..20 {
            let old = tb.get("m.example", "/old").await?;
            assert_eq!(
                old.backend(),
                Ok("echo-b".to_owned()),
                "request {i}: old route with the edited endpoints"
            );
        }
        let line = wait_for_log(
            tb.wicket.logs(),
            Duration::from_secs(5),
            "an error naming app.yaml",
            mine,
        )
        .await?;
        assert!(
            names_document(&line, BROKEN_INDEX),
            "the error should name document {BROKEN_INDEX}: {line}"
        );

        // Fixing the document replaces its last good version.
        tb.cluster.write(
            "app",
            &app_yaml(&echo_b, first_ingress("/fixed"), Some(second.to_yaml())),
        )?;
        tb.wait_for_backend("m.example", "/fixed", "echo-b").await?;
        tb.wait_for_status("m.example", "/old", StatusCode::NOT_FOUND)
            .await?;
        let new = tb.get("n.example", "/new").await?;
        assert_eq!(new.backend(), Ok("echo-b".to_owned()));
        Ok(())
    })
    .await
}

/// An IngressClass object in the directory is not needed for `ingressClassName: wicket`,
/// and deleting a file withdraws its routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_file_withdraws_its_routes() -> Result<(), Error> {
    e2e::scenario::run(async {
        let tb = Testbed::manifests().await?;
        let echo = Echo::start("gone-soon").await?;
        tb.apply_echo_services("backends", std::slice::from_ref(&echo))
            .await?;
        let ingress = Ingress::new("temp").rule(Rule::host("temp.example").path(
            "/",
            PathType::Prefix,
            "gone-soon",
        ));
        tb.cluster.write("temp", &ingress.to_yaml())?;
        tb.wait_for_backend("temp.example", "/", "gone-soon")
            .await?;
        tb.cluster.remove("temp")?;
        tb.wait_for_status("temp.example", "/", StatusCode::NOT_FOUND)
            .await?;
        Ok(())
    })
    .await
}

#[test]
fn document_index_tokens() {
    assert!(names_document(
        "ERROR bad manifest file=/tmp/x/app.yaml document=2",
        2
    ));
    assert!(names_document(
        "ERROR app.yaml: document #3: mapping values",
        2
    ));
    assert!(!names_document("ERROR app.yaml: document 5 is invalid", 2));
}
