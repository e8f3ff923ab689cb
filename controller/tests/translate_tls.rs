//! `translate` of TLS (`spec.tls`, Secrets, the default certificate), HTTPS redirects,
//! HSTS and `backend-protocol`, from YAML fixtures: the exact table and the exact Issues.

mod common;

use common::{brief, full, load, render, run};
use controller::{
    issue::Reason,
    snapshot::Snapshot,
    translate::{
        TranslateConfig,
        tls::{SecretRef, TlsSettings},
        translate,
    },
};
use proxy::table::{HostPattern, Hsts};

fn translate_with_tls(
    snapshot: &Snapshot,
    config: &TranslateConfig,
    tls: &TlsSettings,
) -> (proxy::RouteTable, Vec<controller::issue::Issue>) {
    let config = TranslateConfig {
        tls: tls.clone(),
        ..config.clone()
    };
    translate(snapshot, &config)
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.strip_prefix("    ").unwrap_or(l).to_owned())
        .collect()
}

#[test]
fn tls_sni() {
    let (table, issues) = run("tls-sni");
    assert_eq!(
        render(&table),
        lines(
            r#"
    tls default/a-rsa "a.example" "e.example"
    tls default/b-p256 "b.example" "c.example"
    tls default/d-ed25519 "d.example"
    host "a.example"
      Prefix "/" -> forward default-tls-web-80 [10.0.1.1:8080] https-redirect hsts=31536000+sub (default/tls-shop@1609459200 0.0)
      Prefix "/newer" -> forward default-tls-web-80 [10.0.1.1:8080] https-redirect hsts=31536000+sub (default/tls-newer@1640995200 0.0)
    host "b.example"
      Prefix "/" -> forward default-tls-web-80 [10.0.1.1:8080] https-redirect hsts=31536000+sub (default/tls-shop@1609459200 1.0)
    host "d.example"
      Prefix "/" -> forward default-tls-web-80 [10.0.1.1:8080] https-redirect hsts=31536000+sub (default/tls-shop@1609459200 2.0)
    host "e.example"
      Prefix "/" -> forward default-tls-web-80 [10.0.1.1:8080] https-redirect hsts=31536000+sub (default/tls-implicit-hosts@1622505600 0.0)
    host "nosecret.example"
      Prefix "/" -> forward default-tls-web-80 [10.0.1.1:8080] https-redirect hsts=31536000+sub (default/tls-shop@1609459200 3.0)
    host "plain.example"
      Prefix "/" -> forward default-tls-web-80 [10.0.1.1:8080] (default/tls-shop@1609459200 4.0)
    host *any*
      Prefix "/any" -> forward default-tls-web-80 [10.0.1.1:8080] (default/tls-implicit-hosts@1622505600 1.0)
    "#
        )
    );
    assert_eq!(
        full(&issues),
        lines(
            r#"
    Warning ingress default/tls-newer spec.tls[0].secretName: host "a.example" already has the certificate of secret default/a-rsa, bound by ingress default/tls-shop; the oldest wins and secret default/d-ed25519 is not used for it
    Warning ingress default/tls-shop spec.tls[2].secretName: host "c.example" already has the certificate of secret default/b-p256, bound earlier in this Ingress; the oldest wins and secret default/c-p384 is not used for it
    "#
        )
    );
    // The certificate is carried as written in the Secret, key type by key type.
    let pem_kinds: Vec<(&str, bool)> = table
        .tls
        .iter()
        .map(|b| {
            let key = String::from_utf8_lossy(&b.certificate.key_pem);
            let chain = String::from_utf8_lossy(&b.certificate.chain_pem);
            let kind = key.lines().next().unwrap_or_default().to_owned();
            (
                match kind.as_str() {
                    "-----BEGIN RSA PRIVATE KEY-----" => "pkcs1",
                    "-----BEGIN EC PRIVATE KEY-----" => "sec1",
                    "-----BEGIN PRIVATE KEY-----" => "pkcs8",
                    _ => "other",
                },
                chain.starts_with("-----BEGIN CERTIFICATE-----"),
            )
        })
        .collect();
    assert_eq!(
        pem_kinds,
        vec![("pkcs1", true), ("sec1", true), ("pkcs8", true)]
    );
}

#[test]
fn tls_key_types_are_all_accepted() {
    // P-384 (PKCS#8) loses c.example to the older binding in tls-sni; bind it alone here.
    let mut snapshot = load("tls-sni");
    snapshot
        .ingresses
        .retain(|i| i.metadata.name.as_deref() == Some("tls-shop"));
    for ingress in &mut snapshot.ingresses {
        let ingress = std::sync::Arc::make_mut(ingress);
        if let Some(tls) = ingress.spec.as_mut().and_then(|s| s.tls.as_mut()) {
            tls.retain(|t| t.secret_name.as_deref() == Some("c-p384"));
        }
    }
    let (table, issues) = translate_with_tls(
        &snapshot,
        &TranslateConfig::default(),
        &TlsSettings::default(),
    );
    assert!(issues.is_empty(), "{issues:?}");
    let bound: Vec<(String, Vec<HostPattern>)> = table
        .tls
        .iter()
        .map(|b| (b.certificate.source.clone(), b.hosts.clone()))
        .collect();
    assert_eq!(
        bound,
        vec![(
            "default/c-p384".to_owned(),
            vec![HostPattern::Exact("c.example".to_owned())]
        )]
    );
}

#[test]
fn tls_broken_secret() {
    let (table, issues) = run("tls-broken-secret");
    assert_eq!(
        render(&table),
        lines(
            r#"
    tls default/good "good.example"
    host "good.example"
      Prefix "/" -> forward default-tls-broken-web-80 [10.0.2.1:8080] https-redirect hsts=31536000+sub (default/tls-broken 1.0)
    host "missing.example"
      Prefix "/" -> forward default-tls-broken-web-80 [10.0.2.1:8080] https-redirect hsts=31536000+sub (default/tls-broken 0.0)
    "#
        )
    );
    assert_eq!(
        full(&issues),
        lines(
            r#"
    Error ingress default/tls-broken spec.tls[5].hosts[1]: host "a_b.example" is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253 characters); the TLS host is ignored
    Error ingress default/tls-broken spec.tls[5].hosts[2]: an empty host cannot have TLS; the TLS host is ignored
    Warning ingress default/tls-broken spec.tls[0].secretName: secret default/ghost not found; host "missing.example" is served with the default certificate
    Warning ingress default/tls-broken spec.tls[1].secretName: secret default/not-pem is not a usable certificate and key: the certificate is not PEM: no PEM section found; host "notpem.example" is served with the default certificate
    Warning ingress default/tls-broken spec.tls[2].secretName: secret default/mismatch is not a usable certificate and key: the private key does not match the certificate; host "mismatch.example" is served with the default certificate
    Warning ingress default/tls-broken spec.tls[3].secretName: secret default/opaque is of type "Opaque", not "kubernetes.io/tls"; host "opaque.example" is served with the default certificate
    Warning ingress default/tls-broken spec.tls[4].secretName: secret default/no-key has no tls.key; host "nokey.example" is served with the default certificate
    "#
        )
    );
    assert_eq!(
        brief(&issues)[2..],
        lines(
            "
    Warning MissingSecret ingress default/tls-broken spec.tls[0].secretName
    Warning InvalidSecret ingress default/tls-broken spec.tls[1].secretName
    Warning InvalidSecret ingress default/tls-broken spec.tls[2].secretName
    Warning InvalidSecret ingress default/tls-broken spec.tls[3].secretName
    Warning InvalidSecret ingress default/tls-broken spec.tls[4].secretName
    "
        )
    );
}

#[test]
fn tls_wildcard() {
    let (table, issues) = run("tls-wildcard");
    assert_eq!(
        render(&table),
        lines(
            r#"
    tls default/wild "*.wild.example"
    host "app.wild.example"
      Prefix "/" -> forward default-tls-wild-web-80 [10.0.3.1:8080] https-redirect hsts=31536000+sub (default/tls-wild 1.0)
    host "deep.app.wild.example"
      Prefix "/" -> forward default-tls-wild-web-80 [10.0.3.1:8080] (default/tls-wild 2.0)
    host "wild.example"
      Prefix "/" -> forward default-tls-wild-web-80 [10.0.3.1:8080] (default/tls-wild 3.0)
    host "*.wild.example"
      Prefix "/" -> forward default-tls-wild-web-80 [10.0.3.1:8080] https-redirect hsts=31536000+sub (default/tls-wild 0.0)
    "#
        )
    );
    assert!(issues.is_empty(), "{issues:?}");
}

#[test]
fn ssl_redirect() {
    let (table, issues) = run("ssl-redirect");
    assert_eq!(
        render(&table),
        lines(
            r#"
    host "custom.example"
      Prefix "/" -> forward default-redirect-web-80 [10.0.4.1:8080] https-redirect hsts=600+preload (default/redirect-hsts-custom@1622505600 0.0)
    host "nohsts.example"
      Prefix "/" -> forward default-redirect-web-80 [10.0.4.1:8080] https-redirect (default/redirect-hsts-off@1619827200 0.0)
    host "offloaded.example"
      Prefix "/" -> forward default-redirect-web-80 [10.0.4.1:8080] https-redirect (default/redirect-forced@1617235200 0.0)
    host "optional.example"
      Prefix "/" -> forward default-redirect-web-80 [10.0.4.1:8080] hsts=31536000+sub (default/redirect-off@1614556800 0.0)
    host "secure.example"
      Prefix "/" -> forward default-redirect-web-80 [10.0.4.1:8080] https-redirect hsts=31536000+sub (default/redirect-tls@1609459200 0.0)
      Exact "/.well-known/acme-challenge/token" -> forward default-redirect-web-80 [10.0.4.1:8080] https-redirect hsts=31536000+sub (default/redirect-tls@1609459200 0.1)
      Prefix "/shared" -> forward default-redirect-web-80 [10.0.4.1:8080] https-redirect hsts=31536000+sub (default/redirect-shared@1612137600 0.0)
    "#
        )
    );
    assert_eq!(
        full(&issues),
        lines(
            r#"
    Error ingress default/redirect-hsts-custom metadata.annotations[wicket.dev/ssl-redirect]: wicket.dev/ssl-redirect: value "maybe" is not a boolean ("true" or "false"); the annotation is ignored
    Warning ingress default/redirect-hsts-off metadata.annotations[nginx.ingress.kubernetes.io/hsts]: nginx.ingress.kubernetes.io/hsts is not supported (use wicket.dev/hsts); the annotation is ignored
    "#
        )
    );
}

#[test]
fn tls_default_backend_has_the_https_policy_of_its_host() {
    let (table, issues) = run("tls-default-backend");
    assert_eq!(
        render(&table),
        lines(
            r#"
    default -> forward default-site-default-80 [10.0.6.2:8080] (default/tls-catch-all@1614556800)
    host "offloaded.example"
      default -> forward default-site-default-80 [10.0.6.2:8080] https-redirect (default/tls-forced@1612137600)
      Prefix "/api" -> forward default-site-web-80 [10.0.6.1:8080] https-redirect (default/tls-forced@1612137600 0.0)
    host "plain.example"
      default -> forward default-site-default-80 [10.0.6.2:8080] (default/tls-site@1609459200)
      Prefix "/api" -> forward default-site-web-80 [10.0.6.1:8080] app-root=/app (default/tls-site@1609459200 2.0)
    host "shop.example"
      default -> forward default-site-default-80 [10.0.6.2:8080] https-redirect hsts=31536000+sub (default/tls-site@1609459200)
      Prefix "/api" -> forward default-site-web-80 [10.0.6.1:8080] app-root=/app https-redirect hsts=31536000+sub (default/tls-site@1609459200 0.0)
    host "www.shop.example"
      default -> forward default-site-default-80 [10.0.6.2:8080] https-redirect hsts=31536000+sub (default/tls-site@1609459200)
    "#
        )
    );
    assert_eq!(full(&issues), Vec::<String>::new());
}

#[test]
fn ssl_redirect_with_hsts_off_by_flag() {
    let settings = TlsSettings {
        hsts: None,
        ..TlsSettings::default()
    };
    let (table, _) = translate_with_tls(
        &load("ssl-redirect"),
        &TranslateConfig::default(),
        &settings,
    );
    let hsts: Vec<(String, Option<Hsts>)> = table
        .virtual_hosts
        .iter()
        .flat_map(|v| v.routes.iter().map(move |r| (v, r)))
        .map(|(v, r)| {
            (
                format!("{:?} {}", v.host, r.path.path),
                r.policy.hsts.clone(),
            )
        })
        .filter(|(_, hsts)| hsts.is_some())
        .collect();
    // With the flag off, HSTS needs `wicket.dev/hsts: "true"`, which no Ingress of the
    // fixture sets (setting only max-age or preload does not turn it on).
    assert_eq!(hsts, Vec::new());
}

#[test]
fn backend_protocol() {
    let (table, issues) = run("backend-protocol");
    assert_eq!(
        render(&table),
        lines(
            r#"
    host "empty-ca.example"
      Prefix "/" -> forward default-proto-web-80 [10.0.5.1:8443] https() (default/proto-https-empty-ca 0.0)
    host "fcgi.example"
      Prefix "/" -> forward default-proto-web-80 [10.0.5.1:8443] (default/proto-refused 0.0)
    host "grpc.example"
      default -> forward default-proto-web-80 [10.0.5.1:8443] grpc (default/proto-grpc)
      Prefix "/" -> forward default-proto-web-80 [10.0.5.1:8443] grpc (default/proto-grpc 0.0)
    host "grpcs.example"
      Prefix "/" -> forward default-proto-web-80 [10.0.5.1:8443] grpcs(verify) (default/proto-grpcs-no-ca 0.0)
    host "https.example"
      Prefix "/" -> forward default-proto-web-80 [10.0.5.1:8443] https() (default/proto-https 0.0)
    host "opaque-ca.example"
      Prefix "/" -> forward default-proto-web-80 [10.0.5.1:8443] https(verify) (default/proto-https-opaque-ca 0.0)
    host "soap.example"
      Prefix "/" -> forward default-proto-web-80 [10.0.5.1:8443] (default/proto-unknown 0.0)
    host "verify.example"
      Prefix "/" -> forward default-proto-web-80 [10.0.5.1:8443] https(verify ca name=internal.svc) (default/proto-https-verify 0.0)
    "#
        )
    );
    assert_eq!(
        full(&issues),
        lines(
            r#"
    Error ingress default/proto-refused metadata.annotations[wicket.dev/proxy-ssl-name]: wicket.dev/proxy-ssl-name: value "bad name" is not a server name (letters, digits, '-', '.' and ':' only); the annotation is ignored
    Error ingress default/proto-refused metadata.annotations[wicket.dev/proxy-ssl-secret]: wicket.dev/proxy-ssl-secret: value "upstream-ca" is not of the form namespace/name; the annotation is ignored
    Error ingress default/proto-refused metadata.annotations[wicket.dev/proxy-ssl-verify]: wicket.dev/proxy-ssl-verify: value "yes" is not "on" or "off"; the annotation is ignored
    Error ingress default/proto-unknown metadata.annotations[wicket.dev/backend-protocol]: wicket.dev/backend-protocol: value "SOAP" is not one of HTTP, HTTPS, GRPC, GRPCS; the annotation is ignored
    Warning ingress default/proto-grpcs-no-ca metadata.annotations[nginx.ingress.kubernetes.io/proxy-ssl-secret]: secret default/ghost-ca not found; backends cannot be verified and answer 502
    Warning ingress default/proto-https-empty-ca metadata.annotations[nginx.ingress.kubernetes.io/proxy-ssl-secret]: secret default/not-a-ca ca.crt holds no PEM certificate; it is not used while proxy-ssl-verify is off
    Warning ingress default/proto-https-opaque-ca metadata.annotations[nginx.ingress.kubernetes.io/proxy-ssl-secret]: secret default/opaque-ca is of type "Opaque"; a proxy-ssl-secret must be of type "kubernetes.io/tls"; backends cannot be verified and answer 502
    Warning ingress default/proto-refused metadata.annotations[nginx.ingress.kubernetes.io/backend-protocol]: nginx.ingress.kubernetes.io/backend-protocol: value "FCGI" is not supported (only HTTP, HTTPS, GRPC and GRPCS are); HTTP is used
    "#
        )
    );
    // A CA in a Secret of another type than kubernetes.io/tls is an invalid Secret, as
    // for a missing or empty ca.crt.
    let ca_reasons: Vec<(&str, Reason)> = issues
        .iter()
        .filter(|i| i.message.starts_with("secret "))
        .map(|i| (i.object.name.as_str(), i.reason))
        .collect();
    assert_eq!(
        ca_reasons,
        vec![
            ("proto-grpcs-no-ca", Reason::MissingSecret),
            ("proto-https-empty-ca", Reason::InvalidSecret),
            ("proto-https-opaque-ca", Reason::InvalidSecret),
        ]
    );
    // The CA bundle is the Secret's ca.crt, byte for byte.
    let verify = table
        .virtual_hosts
        .iter()
        .find(|v| v.host == HostPattern::Exact("verify.example".to_owned()))
        .and_then(|v| v.routes.first());
    let ca = match verify.map(|r| &r.action) {
        Some(proxy::table::Action::Forward(backend)) => match &backend.protocol {
            proxy::table::UpstreamProtocol::Https(tls) => tls.ca_pem.clone(),
            other => panic!("verify.example speaks {other:?}"),
        },
        other => panic!("verify.example: {other:?}"),
    };
    let ca = String::from_utf8(ca.unwrap_or_default()).unwrap_or_default();
    assert!(
        ca.starts_with("-----BEGIN CERTIFICATE-----")
            && ca.ends_with("-----END CERTIFICATE-----\n"),
        "{ca}"
    );
}

#[test]
fn default_certificate_from_a_secret() {
    let settings = |name: &str| TlsSettings {
        default_ssl_certificate: Some(SecretRef::new("default", name)),
        ..TlsSettings::default()
    };
    let snapshot = load("tls-broken-secret");
    let config = TranslateConfig::default();

    let (table, issues) = translate_with_tls(&snapshot, &config, &settings("good"));
    assert_eq!(render(&table)[0], "default-certificate default/good");
    assert_eq!(issues.len(), 7, "{issues:?}");

    for (name, expected) in [
        (
            "ghost",
            "Warning secret default/ghost: --default-ssl-certificate: secret default/ghost not found; the self-signed default certificate is used",
        ),
        (
            "mismatch",
            "Warning secret default/mismatch: --default-ssl-certificate: secret default/mismatch is not a usable certificate and key: the private key does not match the certificate; the self-signed default certificate is used",
        ),
    ] {
        let (table, issues) = translate_with_tls(&snapshot, &config, &settings(name));
        assert_eq!(table.default_certificate, None, "{name}");
        let about_secret: Vec<String> = full(&issues)
            .into_iter()
            .filter(|i| i.starts_with("Warning secret "))
            .collect();
        assert_eq!(about_secret, vec![expected.to_owned()], "{name}");
    }
}
