use std::path::Path;

use super::*;

fn examples(set: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/check")
        .join(set)
}

/// The exit code and the report, with file names relative to the example set.
fn run(paths: &[PathBuf], set: &str) -> (u8, String) {
    let findings = check(paths, &TranslateConfig::default()).expect("readable");
    let mut out = Vec::new();
    report(&findings, &mut out).expect("write");
    let text = String::from_utf8(out).expect("utf-8");
    let prefix = format!("{}/", examples(set).display());
    (findings.exit_code(), text.replace(&prefix, ""))
}

#[test]
fn the_good_set_has_no_issues_and_prints_its_table() {
    let (code, text) = run(&[examples("good")], "good");
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        text,
        "\
HOST              PATH      TYPE    BACKEND                     TLS
shop.example.com  /         Prefix  shop-web-80 (2 endpoints)   shop/shop-tls
shop.example.com  /api      Prefix  shop-api-http (1 endpoint)  shop/shop-tls
shop.example.com  /healthz  Exact   shop-api-8080 (1 endpoint)  shop/shop-tls

0 errors, 0 warnings; 3 routes on 1 host
"
    );
}

#[test]
fn the_broken_set_reports_every_problem_with_its_file() {
    let (code, text) = run(&[examples("broken")], "broken");
    assert_eq!(code, 1, "{text}");
    let expected = [
        "syntax.yaml: Error document 1 (line 10): did not find expected ',' or '}' at line 18 column 1, while parsing a flow mapping at line 17 column 12",
        "regex.yaml: Error Ingress shop/search spec.rules[0].http.paths[0].path InvalidRegex: host \"search.example.com\" is in regex mode (use-regex or rewrite-target on one of its Ingresses) and path \"/q/(unclosed\" is not a valid regex: unclosed group; the path is ignored",
        "ingresses.yaml: Error Ingress shop/shop metadata.annotations[nginx.ingress.kubernetes.io/configuration-snippet] SnippetRefused: nginx.ingress.kubernetes.io/configuration-snippet is refused: snippets inject raw proxy configuration, which wicket does not have; the annotation is ignored",
        "ingresses.yaml: Error Ingress shop/shop spec.rules[0].http.paths[2].path InvalidPath: path \"relative/path\" must be an absolute path; the path is ignored",
        "ingresses.yaml: Warning Ingress shop/shop spec.rules[0].http.paths[1].backend MissingService: service shop/cart not found; answering 503",
        "",
        "HOST                PATH    TYPE    BACKEND                           TLS",
        "search.example.com  /ok/.*  Regex   shop-web-80 (1 endpoint)          -",
        "shop.example.com    /       Prefix  shop-web-80 (1 endpoint)          -",
        "shop.example.com    /cart   Prefix  503: service shop/cart not found  -",
        "",
        "4 errors, 1 warning; 3 routes on 2 hosts",
    ];
    assert_eq!(text.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn warnings_alone_exit_0_and_files_can_be_named_one_by_one() {
    let broken = examples("broken");
    let (code, text) = run(
        &[
            broken.join("ingressclass.yaml"),
            examples("good").join("ingresses.yaml"),
        ],
        "good",
    );
    assert_eq!(code, 0, "{text}");
    let first = text.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "ingresses.yaml: Warning Ingress shop/shop spec.rules[0].http.paths[1].backend MissingService: service shop/api not found; answering 503",
        "{text}"
    );
    assert!(
        text.ends_with("0 errors, 3 warnings; 3 routes on 1 host\n"),
        "{text}"
    );
}

#[test]
fn unreadable_paths_are_configuration_errors() {
    let missing = examples("no-such-set");
    let error = check(&[missing], &TranslateConfig::default()).expect_err("missing path");
    assert_eq!(error.exit_code(), 2);
    assert!(error.to_string().starts_with("cannot read "), "{error}");
}

#[test]
fn an_empty_table_is_said_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (code, text) = run(&[tmp.path().to_owned()], "good");
    assert_eq!(
        (code, text.as_str()),
        (
            0,
            "(no routes)\n\n0 errors, 0 warnings; 0 routes on 0 hosts\n"
        )
    );
}
