//! `deploy/`: every document is valid against the Kubernetes 1.33 schemas (strict), applies
//! with `kubectl apply --dry-run=client`, and the files agree with each other and with the
//! binary's contract (ports, Lease name, publish Service, controller name, drain time).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use e2e::apiserver::ApiServer;
use serde::Deserialize;
use serde_json::{Value, json};

/// The Kubernetes version whose schemas the manifests must satisfy.
const KUBERNETES_VERSION: &str = "1.33.0";
const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

fn deploy_dir() -> PathBuf {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR"));
    e2e.parent().unwrap_or(e2e).join("deploy")
}

/// The YAML files of `deploy/`, in the order `kubectl apply -f deploy/` reads them.
fn manifest_files() -> Vec<PathBuf> {
    let dir = deploy_dir();
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml" || ext == "json")
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in {}", dir.display());
    files
}

/// One parsed document and the file it came from.
#[derive(Debug)]
struct Document {
    file: String,
    object: Value,
}

impl Document {
    fn kind(&self) -> &str {
        self.object["kind"].as_str().unwrap_or_default()
    }

    fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }
}

fn documents() -> Vec<Document> {
    let mut documents = Vec::new();
    for path in manifest_files() {
        let file = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let object = Value::deserialize(document)
                .unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"));
            if !object.is_null() {
                documents.push(Document {
                    file: file.clone(),
                    object,
                });
            }
        }
    }
    documents
}

fn find<'a>(documents: &'a [Document], kind: &str, name: &str) -> &'a Value {
    documents
        .iter()
        .find(|d| d.kind() == kind && d.name() == name)
        .map(|d| &d.object)
        .unwrap_or_else(|| panic!("deploy/ has no {kind} {name}"))
}

/// Runs a tool to completion with a deadline; `None` when it is not installed.
async fn run_tool(program: &str, args: &[&str]) -> Option<Output> {
    let mut command = tokio::process::Command::new(program);
    command.args(args).kill_on_drop(true);
    run_command(command, program).await
}

async fn run_command(mut command: tokio::process::Command, what: &str) -> Option<Output> {
    let output = tokio::time::timeout(TOOL_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {TOOL_TIMEOUT:?}"));
    match output {
        Ok(output) => Some(output),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("cannot run {what}: {e}"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn every_document_is_valid_against_the_kubernetes_schemas_in_strict_mode() {
    let files: Vec<String> = manifest_files()
        .iter()
        .map(|path| path.to_string_lossy().into_owned())
        .collect();
    let mut args = vec![
        "-m",
        "kubernetes_validate",
        "--strict",
        "--kubernetes-version",
        KUBERNETES_VERSION,
    ];
    args.extend(files.iter().map(String::as_str));
    let output = run_tool("python3", &args).await.unwrap_or_else(|| {
        panic!("python3 is missing: `.ci/run` installs it with kubernetes-validate")
    });
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert!(
        !stderr.contains("No module named kubernetes_validate"),
        "kubernetes-validate is missing: `pip install kubernetes-validate==1.33.1` \
         (`.ci/run` installs it)"
    );
    assert!(
        output.status.success(),
        "kubernetes-validate --strict rejected deploy/ ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // Each document must have been checked, not skipped (e.g. for an unknown kind).
    let report = format!("{stdout}\n{stderr}");
    for document in documents() {
        let resource = format!("{}/{}", document.kind().to_lowercase(), document.name());
        let passed = report.lines().any(|line| {
            line.contains(&document.file)
                && line.contains("passed")
                && line.contains(&format!("resource {resource} "))
        });
        assert!(
            passed,
            "no pass reported for {resource} in {}:\n{report}",
            document.file
        );
    }
}

#[tokio::test]
async fn kubectl_apply_dry_run_accepts_every_manifest() {
    // kubectl talks HTTPS to the double, trusting the CA its kubeconfig carries.
    let server = ApiServer::start().await;
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = server.kubeconfig(home.path(), "deploy-check");
    let cache = home.path().join("kube-cache");
    let mut command = tokio::process::Command::new("kubectl");
    command
        .env_remove("KUBECONFIG")
        .env("HOME", home.path())
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--cache-dir")
        .arg(&cache)
        // The test double serves no /openapi; the schemas are checked by kubernetes-validate.
        .args(["apply", "--dry-run=client", "--validate=false", "-f"])
        .arg(deploy_dir())
        .kill_on_drop(true);
    let output = run_command(command, "kubectl")
        .await
        .unwrap_or_else(|| panic!("kubectl is missing: `.ci/run` installs it"));
    let stdout = text(&output.stdout);
    let stderr = text(&output.stderr);
    assert!(
        output.status.success(),
        "kubectl apply --dry-run=client -f deploy/ failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let documents = documents();
    let applied: Vec<&str> = stdout
        .lines()
        .filter(|line| line.ends_with("(dry run)"))
        .collect();
    assert_eq!(applied.len(), documents.len(), "{stdout}");
    for document in &documents {
        let kind = document.kind().to_lowercase();
        let name = format!("/{} ", document.name());
        assert!(
            applied
                .iter()
                .any(|line| line.starts_with(&kind) && line.contains(&name)),
            "kubectl did not apply {} {}:\n{stdout}",
            document.kind(),
            document.name()
        );
    }
    assert!(
        server.writes().is_empty(),
        "a client-side dry run must not write: {:?}",
        server.writes()
    );
}

#[test]
fn the_namespace_is_applied_first_and_everything_else_lives_in_it() {
    let documents = documents();
    let first = documents.first().expect("deploy/ has documents");
    assert_eq!((first.kind(), first.name()), ("Namespace", "wicket"));
    let cluster_scoped = [
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "IngressClass",
    ];
    for document in &documents {
        let namespace = document.object["metadata"]["namespace"].as_str();
        if cluster_scoped.contains(&document.kind()) {
            assert_eq!(namespace, None, "{} {}", document.kind(), document.name());
        } else {
            assert_eq!(
                namespace,
                Some("wicket"),
                "{} {} in {}",
                document.kind(),
                document.name(),
                document.file
            );
        }
    }
}

#[test]
fn the_cluster_role_grants_exactly_what_the_controller_uses() {
    let documents = documents();
    let role = find(&documents, "ClusterRole", "wicket");
    let mut granted: Vec<(String, String, String)> = Vec::new();
    for rule in role["rules"].as_array().expect("rules") {
        assert!(rule.get("resourceNames").is_none(), "{rule}");
        for group in rule["apiGroups"].as_array().expect("apiGroups") {
            for resource in rule["resources"].as_array().expect("resources") {
                for verb in rule["verbs"].as_array().expect("verbs") {
                    let [g, r, v] = [group, resource, verb].map(|s| s.as_str().unwrap_or("?"));
                    granted.push((g.to_owned(), r.to_owned(), v.to_owned()));
                }
            }
        }
    }
    granted.sort();
    let mut expected: Vec<(String, String, String)> = Vec::new();
    let read = [
        ("networking.k8s.io", "ingresses"),
        ("networking.k8s.io", "ingressclasses"),
        ("", "services"),
        ("discovery.k8s.io", "endpointslices"),
        ("", "secrets"),
    ];
    let writes = [
        ("networking.k8s.io", "ingresses/status", "update"),
        ("networking.k8s.io", "ingresses/status", "patch"),
        ("", "events", "create"),
        ("", "events", "patch"),
        ("events.k8s.io", "events", "create"),
        ("events.k8s.io", "events", "patch"),
    ];
    for (group, resource) in read {
        for verb in ["get", "list", "watch"] {
            expected.push((group.to_owned(), resource.to_owned(), verb.to_owned()));
        }
    }
    for (group, resource, verb) in writes {
        expected.push((group.to_owned(), resource.to_owned(), verb.to_owned()));
    }
    expected.sort();
    assert_eq!(granted, expected);

    let binding = find(&documents, "ClusterRoleBinding", "wicket");
    assert_eq!(binding["roleRef"]["name"], "wicket");
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "wicket", "namespace": "wicket"}])
    );
}

/// The value following `flag` in the container's args.
fn arg_after<'a>(args: &'a [Value], flag: &str) -> &'a str {
    let position = args
        .iter()
        .position(|arg| arg == flag)
        .unwrap_or_else(|| panic!("the container args lack {flag}: {args:?}"));
    args.get(position + 1)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{flag} has no value: {args:?}"))
}

#[test]
fn the_deployment_is_locked_down_and_agrees_with_the_other_files() {
    let documents = documents();
    let deployment = find(&documents, "Deployment", "wicket");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args = container["args"].as_array().expect("args");

    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(pod["serviceAccountName"], "wicket");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(
        pod["securityContext"]["runAsUser"]
            .as_u64()
            .is_some_and(|uid| uid > 0)
    );
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let security = &container["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert!(security["capabilities"].get("add").is_none());
    assert!(container["resources"]["requests"]["cpu"].is_string());
    assert!(container["resources"]["requests"]["memory"].is_string());
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert!(pod["affinity"]["podAntiAffinity"].is_object());

    // Drain: 5 s shutdown delay + 30 s grace must fit before SIGKILL.
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
    assert!(grace > 5 + 30, "terminationGracePeriodSeconds {grace}");

    let port = |name: &str| {
        container["ports"]
            .as_array()
            .and_then(|ports| ports.iter().find(|p| p["name"] == name))
            .map(|p| p["containerPort"].clone())
            .unwrap_or_else(|| panic!("no container port {name}"))
    };
    assert_eq!(port("http"), 8080);
    assert_eq!(port("https"), 8443);
    assert_eq!(port("admin"), 10254);
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["livenessProbe"]["httpGet"]["port"], "admin");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], "admin");

    let env_from_field = |name: &str| {
        container["env"]
            .as_array()
            .and_then(|env| env.iter().find(|e| e["name"] == name))
            .map(|e| e["valueFrom"]["fieldRef"]["fieldPath"].clone())
    };
    assert_eq!(env_from_field("POD_NAME"), Some(json!("metadata.name")));
    assert_eq!(
        env_from_field("POD_NAMESPACE"),
        Some(json!("metadata.namespace"))
    );

    assert_eq!(args.first(), Some(&json!("serve")));
    let publish = arg_after(args, "--publish-service");
    let service = find(&documents, "Service", "wicket");
    assert_eq!(publish, "wicket/wicket");
    assert_eq!(service["metadata"]["namespace"], "wicket");

    let election_id = arg_after(args, "--election-id");
    let role = find(&documents, "Role", "wicket-leader-election");
    let lease_rules: Vec<&Value> = role["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter(|rule| rule["resources"] == json!(["leases"]))
        .collect();
    assert!(!lease_rules.is_empty());
    for rule in lease_rules {
        assert_eq!(rule["apiGroups"], json!(["coordination.k8s.io"]));
        if let Some(names) = rule.get("resourceNames") {
            assert_eq!(names, &json!([election_id]), "Lease name vs --election-id");
        }
    }
}

#[test]
fn the_service_the_class_and_the_budget_select_and_name_the_right_things() {
    let documents = documents();
    let deployment = find(&documents, "Deployment", "wicket");
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let selects_pods = |selector: &Value| {
        selector
            .as_object()
            .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| &pod_labels[k] == v))
    };

    let service = find(&documents, "Service", "wicket");
    assert_eq!(service["spec"]["type"], "LoadBalancer");
    assert_eq!(service["spec"]["externalTrafficPolicy"], "Local");
    assert!(selects_pods(&service["spec"]["selector"]));
    let mapping: Vec<(Value, Value)> = service["spec"]["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| (p["port"].clone(), p["targetPort"].clone()))
        .collect();
    assert_eq!(
        mapping,
        [(json!(80), json!("http")), (json!(443), json!("https"))]
    );

    let class = find(&documents, "IngressClass", "wicket");
    assert_eq!(class["spec"]["controller"], "wicket.dev/ingress-controller");
    assert!(
        class["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"].is_null(),
        "wicket must not make itself the default class on install"
    );

    let budget = find(&documents, "PodDisruptionBudget", "wicket");
    assert_eq!(budget["spec"]["minAvailable"], 1);
    assert!(selects_pods(&budget["spec"]["selector"]["matchLabels"]));
}
