//! Manifest parsing: multi-document streams, broken documents, lists, unknown kinds.

use controller::{
    manifest::{DocError, Object, parse_documents},
    snapshot::Snapshot,
};

fn kinds(results: &[Result<Object, DocError>]) -> Vec<String> {
    results
        .iter()
        .map(|r| match r {
            Ok(Object::Ingress(_)) => "Ingress".to_owned(),
            Ok(Object::IngressClass(_)) => "IngressClass".to_owned(),
            Ok(Object::Service(_)) => "Service".to_owned(),
            Ok(Object::EndpointSlice(_)) => "EndpointSlice".to_owned(),
            Ok(Object::Secret(_)) => "Secret".to_owned(),
            Ok(Object::Other { api_version, kind }) => format!("Other {api_version} {kind}"),
            Err(e) => format!("Err {} line {}", e.index, e.line),
        })
        .collect()
}

const MULTI: &str = r#"# leading comment
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: wicket}
spec: {controller: wicket.dev/ingress-controller}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules:
    - host: a.example
---
# only a comment: no entry, but it counts as document 2
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: []
---
apiVersion: v1
kind: Secret
metadata: {name: tls}
type: kubernetes.io/tls
data: {tls.crt: Y2VydA==}
stringData: {tls.key: key}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
---
apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: ancient}
"#;

#[test]
fn multi_document_dispatch_on_api_version_and_kind() {
    let results = parse_documents(MULTI);
    assert_eq!(
        kinds(&results),
        [
            "IngressClass",
            "Ingress",
            "Service",
            "EndpointSlice",
            "Secret",
            "Other v1 ConfigMap",
            "Other extensions/v1beta1 Ingress",
        ]
    );
    let keys: Vec<_> = results
        .iter()
        .map(|r| r.as_ref().ok().and_then(Object::key))
        .collect();
    let key = |k: &'static str, ns: &str, n: &str| Some((k, ns.to_owned(), n.to_owned()));
    assert_eq!(
        keys,
        [
            key("IngressClass", "", "wicket"),
            // Namespaced objects without a namespace land in `default`.
            key("Ingress", "default", "web"),
            key("Service", "shop", "web"),
            key("EndpointSlice", "default", "web-1"),
            key("Secret", "default", "tls"),
            None,
            None,
        ]
    );
}

#[test]
fn secret_string_data_is_merged_into_data() {
    let results = parse_documents(MULTI);
    let secret = results
        .iter()
        .find_map(|r| match r {
            Ok(Object::Secret(s)) => Some(s),
            _ => None,
        })
        .expect("secret parsed");
    let data = secret.data.as_ref().expect("data");
    assert_eq!(
        data.get("tls.crt").map(|b| b.0.as_slice()),
        Some(&b"cert"[..])
    );
    assert_eq!(
        data.get("tls.key").map(|b| b.0.as_slice()),
        Some(&b"key"[..])
    );
    assert!(secret.string_data.is_none());
}

#[test]
fn a_broken_document_leaves_the_others() {
    let text = "\
apiVersion: v1
kind: Service
metadata: {name: first}
---
apiVersion: v1
kind: Service
metadata: {name: [unclosed
---
apiVersion: v1
kind: Service
metadata: {name: third}
";
    let results = parse_documents(text);
    assert_eq!(kinds(&results), ["Service", "Err 1 line 4", "Service"]);
    let Err(error) = &results[1] else {
        panic!("document 1 must fail");
    };
    // Parser positions are lines of the whole text.
    assert!(error.message.contains("line 7"), "{error}");
    assert!(
        error.to_string().starts_with("document 1 (line 4): "),
        "{error}"
    );
    let names: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().and_then(Object::key))
        .map(|(_, _, name)| name)
        .collect();
    assert_eq!(names, ["first", "third"]);
}

#[test]
fn a_document_of_the_wrong_shape_is_an_error_with_its_position() {
    let text = "\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules: not-a-list
---
just a string
---
kind: Service
metadata: {name: no-api-version}
---
apiVersion: v1
kind: Service
metadata: {name: fine}
";
    let results = parse_documents(text);
    assert_eq!(
        kinds(&results),
        ["Err 0 line 1", "Err 1 line 7", "Err 2 line 9", "Service"]
    );
    let messages: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.message.clone()))
        .collect();
    assert!(messages[0].contains("line 6"), "{}", messages[0]);
    assert!(messages[1].contains("not a mapping"), "{}", messages[1]);
    assert!(
        messages[2].contains("apiVersion is missing"),
        "{}",
        messages[2]
    );
}

#[test]
fn list_kinds_are_flattened() {
    let text = r#"
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata: {name: a}
  - apiVersion: v1
    kind: Service
    metadata: {name: b}
    spec: {ports: "not a list"}
  - apiVersion: networking.k8s.io/v1
    kind: IngressClass
    metadata: {name: c}
---
apiVersion: networking.k8s.io/v1
kind: IngressList
items:
  - metadata: {name: d}
---
apiVersion: v1
kind: List
items: {}
"#;
    let results = parse_documents(text);
    assert_eq!(
        kinds(&results),
        [
            "Service",
            "Err 0 line 1",
            "IngressClass",
            "Ingress",
            "Err 2 line 20"
        ]
    );
    let Err(error) = &results[1] else {
        panic!("items[1] must fail");
    };
    assert!(error.message.starts_with("items[1]: "), "{error}");
}

#[test]
fn empty_streams_and_documents_give_no_entries() {
    assert!(parse_documents("").is_empty());
    assert!(parse_documents("# nothing\n\n").is_empty());
    assert!(parse_documents("---\n---\n# c\n---\n").is_empty());
    // A byte-order mark does not hide the first separator.
    let results =
        parse_documents("\u{feff}---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\n");
    assert_eq!(kinds(&results), ["Secret"]);
    // Empty documents still count for the index of later ones.
    let results = parse_documents("---\n---\nfoo: [\n");
    assert_eq!(kinds(&results), ["Err 1 line 2"]);
}

#[test]
fn separators_need_a_line_of_their_own() {
    let text = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
data:
  note: |
    ---- not a separator
    --x not either
--- # a separator with a comment
apiVersion: v1
kind: ConfigMap
metadata: {name: b}
...
";
    assert_eq!(
        kinds(&parse_documents(text)),
        ["Other v1 ConfigMap", "Other v1 ConfigMap"]
    );
}

#[test]
fn snapshot_from_yaml() {
    let snapshot = Snapshot::from_yaml(MULTI).expect("valid stream");
    assert_eq!(
        (
            snapshot.classes.len(),
            snapshot.ingresses.len(),
            snapshot.services.len(),
            snapshot.slices.len(),
            snapshot.secrets.len()
        ),
        (1, 1, 1, 1, 1)
    );
    let errors = Snapshot::from_yaml("a: [\n---\nkind: X\n").expect_err("two broken documents");
    assert_eq!(errors.0.iter().map(|e| e.index).collect::<Vec<_>>(), [0, 1]);
    assert!(
        errors.to_string().contains("document 1 (line 2)"),
        "{errors}"
    );
}
