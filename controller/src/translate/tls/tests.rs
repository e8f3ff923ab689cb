use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::ByteString;

use super::*;

fn exact(h: &str) -> HostPattern {
    HostPattern::Exact(h.to_owned())
}

fn wildcard(s: &str) -> HostPattern {
    HostPattern::Wildcard(s.to_owned())
}

/// A self-signed certificate for `host` and its PKCS#8 key, as PEM.
fn pair(host: &str) -> (String, String) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec![host.to_owned()]).expect("rcgen");
    (cert.pem(), signing_key.serialize_pem())
}

fn secret(name: &str, kind: &str, data: &[(&str, &str)]) -> Arc<Secret> {
    let mut s = Secret::default();
    s.metadata.name = Some(name.to_owned());
    s.metadata.namespace = Some("apps".to_owned());
    s.type_ = Some(kind.to_owned());
    s.data = Some(
        data.iter()
            .map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec())))
            .collect::<BTreeMap<_, _>>(),
    );
    Arc::new(s)
}

#[test]
fn secret_refs_parse_namespace_slash_name_only() {
    assert_eq!(
        SecretRef::parse("apps/ca"),
        Some(SecretRef::new("apps", "ca"))
    );
    for bad in ["ca", "/ca", "apps/", "a/b/c", "apps/c a", ""] {
        assert_eq!(SecretRef::parse(bad), None, "{bad:?}");
    }
    assert_eq!(SecretRef::new("apps", "ca").to_string(), "apps/ca");
}

#[test]
fn tls_hosts_cover_their_hosts_and_one_label_below_wildcards() {
    let hosts = TlsHosts([exact("a.example"), wildcard("w.example")].into());
    assert!(hosts.covers(&exact("a.example")));
    assert!(hosts.covers(&wildcard("w.example")));
    assert!(hosts.covers(&exact("x.w.example")));
    assert!(!hosts.covers(&exact("w.example")));
    assert!(!hosts.covers(&exact("y.x.w.example")));
    assert!(!hosts.covers(&exact("b.example")));
    assert!(!hosts.covers(&wildcard("a.example")));
    assert!(!hosts.covers(&HostPattern::Any));
}

#[test]
fn certificates_are_checked_with_the_proxy_and_cached() {
    let (cert, key) = pair("a.example");
    let (_, other_key) = pair("b.example");
    let snapshot = Snapshot {
        secrets: vec![
            secret(
                "good",
                SECRET_TYPE_TLS,
                &[(TLS_CERT_KEY, &cert), (TLS_PRIVATE_KEY_KEY, &key)],
            ),
            secret(
                "mismatch",
                SECRET_TYPE_TLS,
                &[(TLS_CERT_KEY, &cert), (TLS_PRIVATE_KEY_KEY, &other_key)],
            ),
            secret(
                "opaque",
                "Opaque",
                &[(TLS_CERT_KEY, &cert), (TLS_PRIVATE_KEY_KEY, &key)],
            ),
            secret(
                "empty-key",
                SECRET_TYPE_TLS,
                &[(TLS_CERT_KEY, &cert), (TLS_PRIVATE_KEY_KEY, "")],
            ),
        ],
        ..Snapshot::default()
    };
    let secrets = Secrets::new(&snapshot);
    let good = secrets
        .certificate(&SecretRef::new("apps", "good"))
        .expect("valid pair");
    assert_eq!(good.source, "apps/good");
    assert_eq!(good.chain_pem, cert.as_bytes());
    assert_eq!(good.key_pem, key.as_bytes());
    assert_eq!(
        secrets.certificate(&SecretRef::new("apps", "good")),
        Ok(good)
    );

    let problem = |name: &str| {
        secrets
            .certificate(&SecretRef::new("apps", name))
            .expect_err(name)
    };
    assert_eq!(
        problem("missing"),
        SecretProblem {
            reason: Reason::MissingSecret,
            message: "secret apps/missing not found".to_owned()
        }
    );
    assert_eq!(
        problem("mismatch").message,
        "secret apps/mismatch is not a usable certificate and key: the private key does not match the certificate"
    );
    assert_eq!(
        problem("opaque").message,
        "secret apps/opaque is of type \"Opaque\", not \"kubernetes.io/tls\""
    );
    assert_eq!(
        problem("empty-key").message,
        "secret apps/empty-key has no tls.key"
    );
    assert_eq!(problem("mismatch").reason, Reason::InvalidSecret);
    // A Secret in another namespace is another Secret.
    assert_eq!(
        secrets
            .certificate(&SecretRef::new("default", "good"))
            .map_err(|p| p.reason),
        Err(Reason::MissingSecret)
    );
}

#[test]
fn ca_bundles_need_a_pem_certificate_in_a_tls_secret() {
    let (ca, _) = pair("ca.example");
    let (cert, key) = pair("client.example");
    // tls.crt, tls.key and ca.crt, as ingress-nginx's examples have them.
    let tls = |ca_pem: &str| {
        vec![
            (TLS_CERT_KEY, cert.clone()),
            (TLS_PRIVATE_KEY_KEY, key.clone()),
            (CA_CERT_KEY, ca_pem.to_owned()),
        ]
    };
    let with = |name: &str, kind: &str, data: &[(&str, String)]| {
        let data: Vec<(&str, &str)> = data.iter().map(|(k, v)| (*k, v.as_str())).collect();
        secret(name, kind, &data)
    };
    let good = tls(&ca);
    let snapshot = Snapshot {
        secrets: vec![
            with("ca", SECRET_TYPE_TLS, &good),
            with("not-pem", SECRET_TYPE_TLS, &tls("hello")),
            with("none", SECRET_TYPE_TLS, &good[..2]),
            // The right CA, in a Secret of a type Kubernetes mode never watches.
            with("opaque", "Opaque", &[(CA_CERT_KEY, ca.clone())]),
            with("opaque-full", "Opaque", &good),
            secret("untyped", "", &[(CA_CERT_KEY, &ca)]),
        ],
        ..Snapshot::default()
    };
    let secrets = Secrets::new(&snapshot);
    assert_eq!(
        secrets.ca_bundle(&SecretRef::new("apps", "ca")),
        Ok(ca.into_bytes())
    );
    let problem = |name: &str| {
        secrets
            .ca_bundle(&SecretRef::new("apps", name))
            .expect_err(name)
    };
    assert_eq!(
        problem("not-pem"),
        SecretProblem {
            reason: Reason::InvalidSecret,
            message: "secret apps/not-pem ca.crt holds no PEM certificate".to_owned()
        }
    );
    assert_eq!(
        problem("none"),
        SecretProblem {
            reason: Reason::InvalidSecret,
            message: "secret apps/none has no ca.crt".to_owned()
        }
    );
    assert_eq!(
        problem("opaque"),
        SecretProblem {
            reason: Reason::InvalidSecret,
            message: "secret apps/opaque is of type \"Opaque\"; a proxy-ssl-secret must be of type \"kubernetes.io/tls\"".to_owned()
        }
    );
    assert_eq!(problem("opaque-full").reason, Reason::InvalidSecret);
    assert_eq!(
        problem("untyped").message,
        "secret apps/untyped is of type \"\"; a proxy-ssl-secret must be of type \"kubernetes.io/tls\""
    );
    assert_eq!(problem("ghost").reason, Reason::MissingSecret);
}

#[test]
fn default_certificate_problems_are_issues_on_the_secret() {
    let snapshot = Snapshot::default();
    let secrets = Secrets::new(&snapshot);
    let mut issues = Vec::new();
    let got = secrets.default_certificate(&SecretRef::new("kube-system", "fallback"), &mut issues);
    assert_eq!(got, None);
    assert_eq!(
        issues.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![
            "Warning secret kube-system/fallback: --default-ssl-certificate: secret kube-system/fallback not found; the self-signed default certificate is used"
        ]
    );
    assert_eq!(issues[0].reason, Reason::MissingSecret);
}

#[test]
fn hsts_follows_settings_then_annotations() {
    let on = TlsSettings::default();
    let off = TlsSettings {
        hsts: None,
        ..TlsSettings::default()
    };
    assert_eq!(
        hsts_policy(&on, None, None, None, None),
        Some(Hsts::default())
    );
    assert_eq!(hsts_policy(&on, Some(false), Some(5), None, None), None);
    assert_eq!(hsts_policy(&off, None, Some(5), None, None), None);
    assert_eq!(
        hsts_policy(&off, Some(true), Some(5), None, Some(true)),
        Some(Hsts {
            max_age_seconds: 5,
            include_subdomains: true,
            preload: true,
        })
    );
    let custom = TlsSettings {
        hsts: Some(Hsts {
            max_age_seconds: 60,
            include_subdomains: false,
            preload: true,
        }),
        ..TlsSettings::default()
    };
    assert_eq!(
        hsts_policy(&custom, None, None, Some(true), None),
        Some(Hsts {
            max_age_seconds: 60,
            include_subdomains: true,
            preload: true,
        })
    );
}

#[test]
fn referenced_secrets_are_tls_secrets_and_the_upstream_ca() {
    let yaml = r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: apps
  annotations:
    nginx.ingress.kubernetes.io/proxy-ssl-secret: infra/ca
    wicket.dev/proxy-ssl-secret: not-a-ref
spec:
  tls:
    - {hosts: [a.example], secretName: a-tls}
    - {hosts: [b.example], secretName: a-tls}
    - {hosts: [c.example]}
"#;
    let snapshot = Snapshot::from_yaml(yaml).expect("parses");
    assert_eq!(
        referenced_secrets(&snapshot.ingresses[0]),
        vec![
            SecretRef::new("apps", "a-tls"),
            SecretRef::new("infra", "ca")
        ]
    );
}
