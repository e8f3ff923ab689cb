//! Ingress annotations under `wicket.dev/` and `nginx.ingress.kubernetes.io/`: same names,
//! same value grammar, ours wins when both are set.
//!
//! Supported keys are parsed into [`Annotations`]; `*-snippet` keys are refused; any other
//! key under either prefix is reported as unsupported. The `hsts*` keys exist only under
//! `wicket.dev/` (ingress-nginx configures HSTS globally, not per Ingress). Every problem is an [`Issue`] and the
//! offending annotation is ignored, never the Ingress.

use std::collections::BTreeMap;

use super::tls::SecretRef;
use crate::issue::{Issue, ObjectRef, Reason};

/// Our annotation prefix.
pub const WICKET_PREFIX: &str = "wicket.dev/";
/// The ingress-nginx annotation prefix, read for compatibility.
pub const NGINX_PREFIX: &str = "nginx.ingress.kubernetes.io/";

/// The annotation name of `key` under either prefix (`rewrite-target` for both
/// `wicket.dev/rewrite-target` and `nginx.ingress.kubernetes.io/rewrite-target`).
pub fn name_of(key: &str) -> Option<&str> {
    key.strip_prefix(WICKET_PREFIX)
        .or_else(|| key.strip_prefix(NGINX_PREFIX))
}

const REWRITE_TARGET: &str = "rewrite-target";
const USE_REGEX: &str = "use-regex";
const APP_ROOT: &str = "app-root";
const SSL_REDIRECT: &str = "ssl-redirect";
const FORCE_SSL_REDIRECT: &str = "force-ssl-redirect";
const BACKEND_PROTOCOL: &str = "backend-protocol";
const PROXY_SSL_VERIFY: &str = "proxy-ssl-verify";
/// The annotation naming the `kubernetes.io/tls` Secret with the CA (`ca.crt`) for
/// upstream TLS verification.
pub const PROXY_SSL_SECRET: &str = "proxy-ssl-secret";
const PROXY_SSL_NAME: &str = "proxy-ssl-name";
const HSTS: &str = "hsts";
const HSTS_MAX_AGE: &str = "hsts-max-age";
const HSTS_INCLUDE_SUBDOMAINS: &str = "hsts-include-subdomains";
const HSTS_PRELOAD: &str = "hsts-preload";

/// Annotation names (without prefix) understood under both prefixes.
const SUPPORTED: [&str; 9] = [
    REWRITE_TARGET,
    USE_REGEX,
    APP_ROOT,
    SSL_REDIRECT,
    FORCE_SSL_REDIRECT,
    BACKEND_PROTOCOL,
    PROXY_SSL_VERIFY,
    PROXY_SSL_SECRET,
    PROXY_SSL_NAME,
];

/// Annotation names understood only under [`WICKET_PREFIX`]: ingress-nginx sets HSTS in
/// its ConfigMap, not per Ingress, so these have no `nginx.ingress.kubernetes.io/` form.
const WICKET_ONLY: [&str; 4] = [HSTS, HSTS_MAX_AGE, HSTS_INCLUDE_SUBDOMAINS, HSTS_PRELOAD];

/// ingress-nginx `backend-protocol` values that wicket does not speak.
const UNSUPPORTED_PROTOCOLS: [&str; 3] = ["AUTO_HTTP", "AJP", "FCGI"];

/// The protocol spoken to the backends of an Ingress (`backend-protocol`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendProtocol {
    #[default]
    Http,
    Https,
    Grpc,
    Grpcs,
}

/// The parsed, valid annotations of one Ingress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotations {
    /// `rewrite-target`, as written.
    pub rewrite_target: Option<String>,
    /// `use-regex`.
    pub use_regex: bool,
    /// `app-root`, as written.
    pub app_root: Option<String>,
    /// `ssl-redirect` (default true): redirect plain HTTP on hosts with TLS.
    pub ssl_redirect: bool,
    /// `force-ssl-redirect`: redirect plain HTTP even on hosts without TLS on wicket.
    pub force_ssl_redirect: bool,
    /// `backend-protocol`.
    pub backend_protocol: BackendProtocol,
    /// `proxy-ssl-verify` (`on` / `off`, default off).
    pub proxy_ssl_verify: bool,
    /// `proxy-ssl-secret` (`namespace/name`): the `kubernetes.io/tls` Secret whose `ca.crt`
    /// verifies backends (a Secret of another type is reported and its CA not used).
    pub proxy_ssl_secret: Option<Keyed<SecretRef>>,
    /// `proxy-ssl-name`: the name sent as SNI to, and verified on, backends.
    pub proxy_ssl_name: Option<String>,
    /// `wicket.dev/hsts`: `Some(false)` turns HSTS off for this Ingress's routes.
    pub hsts: Option<bool>,
    /// `wicket.dev/hsts-max-age`, in seconds.
    pub hsts_max_age: Option<u64>,
    /// `wicket.dev/hsts-include-subdomains`.
    pub hsts_include_subdomains: Option<bool>,
    /// `wicket.dev/hsts-preload`.
    pub hsts_preload: Option<bool>,
}

impl Default for Annotations {
    /// What an Ingress without annotations gets: notably `ssl-redirect: "true"`.
    fn default() -> Self {
        Self {
            rewrite_target: None,
            use_regex: false,
            app_root: None,
            ssl_redirect: true,
            force_ssl_redirect: false,
            backend_protocol: BackendProtocol::Http,
            proxy_ssl_verify: false,
            proxy_ssl_secret: None,
            proxy_ssl_name: None,
            hsts: None,
            hsts_max_age: None,
            hsts_include_subdomains: None,
            hsts_preload: None,
        }
    }
}

/// A value and the full annotation key it was read from (for Issues about it later).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyed<T> {
    pub key: String,
    pub value: T,
}

/// Why a value was not taken.
enum Refusal {
    /// Outside the grammar: [`Reason::InvalidAnnotation`].
    Invalid(&'static str),
    /// A valid ingress-nginx value that wicket does not implement:
    /// [`Reason::UnsupportedAnnotation`].
    Unsupported(&'static str),
}

impl From<&'static str> for Refusal {
    fn from(why: &'static str) -> Self {
        Self::Invalid(why)
    }
}

impl Annotations {
    /// Parses the annotations of `object`, pushing an Issue for each refused, invalid or
    /// unsupported key.
    pub fn parse(
        annotations: Option<&BTreeMap<String, String>>,
        object: &ObjectRef,
        issues: &mut Vec<Issue>,
    ) -> Self {
        let mut parsed = Self::default();
        let Some(annotations) = annotations else {
            return parsed;
        };
        let issue = |reason, key: &str, message: String| {
            Issue::new(
                reason,
                object.clone(),
                Some(format!("metadata.annotations[{key}]")),
                message,
            )
        };
        // Winner per name: ours over ingress-nginx's.
        let mut chosen: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
        for (key, value) in annotations {
            let (name, ours) = if let Some(name) = key.strip_prefix(WICKET_PREFIX) {
                (name, true)
            } else if let Some(name) = key.strip_prefix(NGINX_PREFIX) {
                (name, false)
            } else {
                continue;
            };
            let supported = SUPPORTED.contains(&name) || (ours && WICKET_ONLY.contains(&name));
            if name.ends_with("-snippet") {
                issues.push(issue(
                    Reason::SnippetRefused,
                    key,
                    format!(
                        "{key} is refused: snippets inject raw proxy configuration, which wicket does not have; the annotation is ignored"
                    ),
                ));
            } else if !supported {
                let hint = if WICKET_ONLY.contains(&name) {
                    format!(" (use {WICKET_PREFIX}{name})")
                } else {
                    String::new()
                };
                issues.push(issue(
                    Reason::UnsupportedAnnotation,
                    key,
                    format!("{key} is not supported{hint}; the annotation is ignored"),
                ));
            } else if ours || !chosen.contains_key(name) {
                chosen.insert(name, (key.as_str(), value.as_str()));
            }
        }
        for (name, (key, value)) in chosen {
            if let Err(refusal) = parsed.set(name, key, value) {
                issues.push(match refusal {
                    Refusal::Invalid(why) => issue(
                        Reason::InvalidAnnotation,
                        key,
                        format!("{key}: value {value:?} {why}; the annotation is ignored"),
                    ),
                    Refusal::Unsupported(why) => issue(
                        Reason::UnsupportedAnnotation,
                        key,
                        format!("{key}: value {value:?} {why}"),
                    ),
                });
            }
        }
        parsed
    }

    /// Sets the field of annotation `name` from `value`; on error the field is unchanged.
    fn set(&mut self, name: &str, key: &str, value: &str) -> Result<(), Refusal> {
        match name {
            REWRITE_TARGET => self.rewrite_target = Some(rewrite_target(value)?.to_owned()),
            USE_REGEX => self.use_regex = parse_bool(value)?,
            APP_ROOT => self.app_root = Some(app_root(value)?.to_owned()),
            SSL_REDIRECT => self.ssl_redirect = parse_bool(value)?,
            FORCE_SSL_REDIRECT => self.force_ssl_redirect = parse_bool(value)?,
            BACKEND_PROTOCOL => self.backend_protocol = backend_protocol(value)?,
            PROXY_SSL_VERIFY => self.proxy_ssl_verify = on_off(value)?,
            PROXY_SSL_SECRET => {
                let secret = SecretRef::parse(value).ok_or("is not of the form namespace/name")?;
                self.proxy_ssl_secret = Some(Keyed {
                    key: key.to_owned(),
                    value: secret,
                });
            }
            PROXY_SSL_NAME => self.proxy_ssl_name = Some(server_name(value)?),
            HSTS => self.hsts = Some(parse_bool(value)?),
            HSTS_MAX_AGE => {
                self.hsts_max_age = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| "is not a whole number of seconds")?,
                );
            }
            HSTS_INCLUDE_SUBDOMAINS => self.hsts_include_subdomains = Some(parse_bool(value)?),
            HSTS_PRELOAD => self.hsts_preload = Some(parse_bool(value)?),
            _ => {}
        }
        Ok(())
    }
}

/// Go's `strconv.ParseBool`, which ingress-nginx uses for boolean annotations.
fn parse_bool(value: &str) -> Result<bool, &'static str> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err("is not a boolean (\"true\" or \"false\")"),
    }
}

fn has_space_or_control(value: &str) -> bool {
    value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A path template: non-empty, no whitespace or control characters.
fn rewrite_target(value: &str) -> Result<&str, &'static str> {
    if value.is_empty() {
        Err("is empty")
    } else if has_space_or_control(value) {
        Err("contains whitespace or control characters")
    } else {
        Ok(value)
    }
}

/// An absolute path on the same host: starts with `/`, no whitespace, control
/// characters or scheme.
fn app_root(value: &str) -> Result<&str, &'static str> {
    if !value.starts_with('/') {
        Err("must start with '/'")
    } else if has_space_or_control(value) {
        Err("contains whitespace or control characters")
    } else if value.contains("://") || value.starts_with("//") {
        Err("must be a path, not a URL")
    } else {
        Ok(value)
    }
}

/// `HTTP`, `HTTPS`, `GRPC` or `GRPCS`, in any case (ingress-nginx upper-cases the value).
fn backend_protocol(value: &str) -> Result<BackendProtocol, Refusal> {
    let upper = value.trim().to_ascii_uppercase();
    match upper.as_str() {
        "HTTP" => Ok(BackendProtocol::Http),
        "HTTPS" => Ok(BackendProtocol::Https),
        "GRPC" => Ok(BackendProtocol::Grpc),
        "GRPCS" => Ok(BackendProtocol::Grpcs),
        other if UNSUPPORTED_PROTOCOLS.contains(&other) => Err(Refusal::Unsupported(
            "is not supported (only HTTP, HTTPS, GRPC and GRPCS are); HTTP is used",
        )),
        _ => Err(Refusal::Invalid("is not one of HTTP, HTTPS, GRPC, GRPCS")),
    }
}

/// ingress-nginx's `on` / `off`.
fn on_off(value: &str) -> Result<bool, &'static str> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err("is not \"on\" or \"off\""),
    }
}

/// A DNS name or IP address to send as SNI: non-empty, at most 253 bytes, letters,
/// digits, `-`, `.`, `:` only; compared lower-case.
fn server_name(value: &str) -> Result<String, &'static str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':');
    if value.is_empty() || value.len() > 253 {
        Err("is not a server name (1 to 253 characters)")
    } else if !value.chars().all(allowed) {
        Err("is not a server name (letters, digits, '-', '.' and ':' only)")
    } else {
        Ok(value.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use crate::issue::{ObjectKind, Severity};

    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> (Annotations, Vec<(Reason, String)>) {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let object = ObjectRef::new(ObjectKind::Ingress, "default", "web");
        let mut issues = Vec::new();
        let parsed = Annotations::parse(Some(&map), &object, &mut issues);
        let issues = issues
            .into_iter()
            .map(|i| (i.reason, i.field.unwrap_or_default()))
            .collect();
        (parsed, issues)
    }

    #[test]
    fn both_prefixes_ours_wins() {
        let (a, issues) = parse(&[
            ("nginx.ingress.kubernetes.io/rewrite-target", "/$2"),
            ("wicket.dev/rewrite-target", "/$1"),
            ("nginx.ingress.kubernetes.io/use-regex", "true"),
            ("nginx.ingress.kubernetes.io/app-root", "/app1"),
        ]);
        assert_eq!(
            a,
            Annotations {
                rewrite_target: Some("/$1".to_owned()),
                use_regex: true,
                app_root: Some("/app1".to_owned()),
                ..Annotations::default()
            }
        );
        assert!(issues.is_empty(), "{issues:?}");
    }

    #[test]
    fn other_prefixes_are_ignored() {
        let (a, issues) = parse(&[
            ("kubernetes.io/ingress.class", "wicket"),
            ("example.com/use-regex", "true"),
        ]);
        assert_eq!(a, Annotations::default());
        assert!(issues.is_empty());
    }

    #[test]
    fn use_regex_grammar() {
        assert!(parse(&[("wicket.dev/use-regex", "True")]).0.use_regex);
        assert!(!parse(&[("wicket.dev/use-regex", "false")]).0.use_regex);
        let (a, issues) = parse(&[("wicket.dev/use-regex", "yes")]);
        assert!(!a.use_regex);
        assert_eq!(
            issues,
            vec![(
                Reason::InvalidAnnotation,
                "metadata.annotations[wicket.dev/use-regex]".to_owned()
            )]
        );
    }

    #[test]
    fn invalid_values_are_ignored_with_an_issue() {
        for (key, value) in [
            ("nginx.ingress.kubernetes.io/rewrite-target", "/a b"),
            (
                "nginx.ingress.kubernetes.io/rewrite-target",
                "/a\nproxy_pass x;",
            ),
            ("nginx.ingress.kubernetes.io/rewrite-target", ""),
            ("nginx.ingress.kubernetes.io/app-root", "app"),
            ("nginx.ingress.kubernetes.io/app-root", "/http://evil"),
            ("nginx.ingress.kubernetes.io/app-root", "//evil.com"),
            ("nginx.ingress.kubernetes.io/app-root", "/a\tb"),
        ] {
            let (a, issues) = parse(&[(key, value)]);
            assert_eq!(a, Annotations::default(), "{value:?}");
            assert_eq!(issues.len(), 1, "{value:?}");
            assert_eq!(issues[0].0, Reason::InvalidAnnotation);
        }
    }

    #[test]
    fn invalid_ours_does_not_fall_back_to_nginx() {
        let (a, issues) = parse(&[
            ("wicket.dev/use-regex", "maybe"),
            ("nginx.ingress.kubernetes.io/use-regex", "true"),
        ]);
        assert!(!a.use_regex);
        assert_eq!(issues.len(), 1);
    }

    #[test]
    fn snippets_are_refused_and_unknown_keys_reported() {
        let map: BTreeMap<String, String> = [
            (
                "nginx.ingress.kubernetes.io/configuration-snippet",
                "more_set_headers x;",
            ),
            ("wicket.dev/server-snippet", "x"),
            ("nginx.ingress.kubernetes.io/my-custom-snippet", "x"),
            ("nginx.ingress.kubernetes.io/proxy-body-size", "8m"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let object = ObjectRef::new(ObjectKind::Ingress, "default", "web");
        let mut issues = Vec::new();
        let a = Annotations::parse(Some(&map), &object, &mut issues);
        assert_eq!(a, Annotations::default());
        let got: Vec<(Severity, Reason)> = issues.iter().map(|i| (i.severity, i.reason)).collect();
        assert_eq!(
            got,
            vec![
                (Severity::Error, Reason::SnippetRefused),
                (Severity::Error, Reason::SnippetRefused),
                (Severity::Warning, Reason::UnsupportedAnnotation),
                (Severity::Error, Reason::SnippetRefused),
            ]
        );
    }

    #[test]
    fn tls_annotations() {
        let (a, issues) = parse(&[
            ("nginx.ingress.kubernetes.io/ssl-redirect", "false"),
            ("nginx.ingress.kubernetes.io/force-ssl-redirect", "true"),
            ("nginx.ingress.kubernetes.io/backend-protocol", "grpcs"),
            ("nginx.ingress.kubernetes.io/proxy-ssl-verify", "on"),
            ("nginx.ingress.kubernetes.io/proxy-ssl-secret", "infra/ca"),
            ("wicket.dev/proxy-ssl-name", "Backend.Internal"),
            ("wicket.dev/hsts", "true"),
            ("wicket.dev/hsts-max-age", "600"),
            ("wicket.dev/hsts-include-subdomains", "false"),
            ("wicket.dev/hsts-preload", "1"),
        ]);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(
            a,
            Annotations {
                ssl_redirect: false,
                force_ssl_redirect: true,
                backend_protocol: BackendProtocol::Grpcs,
                proxy_ssl_verify: true,
                proxy_ssl_secret: Some(Keyed {
                    key: "nginx.ingress.kubernetes.io/proxy-ssl-secret".to_owned(),
                    value: SecretRef::new("infra", "ca"),
                }),
                proxy_ssl_name: Some("backend.internal".to_owned()),
                hsts: Some(true),
                hsts_max_age: Some(600),
                hsts_include_subdomains: Some(false),
                hsts_preload: Some(true),
                ..Annotations::default()
            }
        );
        assert!(Annotations::default().ssl_redirect);
    }

    #[test]
    fn backend_protocol_values() {
        let protocol = |value: &str| {
            let (a, issues) = parse(&[("wicket.dev/backend-protocol", value)]);
            (a.backend_protocol, issues.first().map(|i| i.0))
        };
        assert_eq!(protocol("HTTP"), (BackendProtocol::Http, None));
        assert_eq!(protocol("https"), (BackendProtocol::Https, None));
        assert_eq!(protocol("Grpc"), (BackendProtocol::Grpc, None));
        assert_eq!(protocol("GRPCS"), (BackendProtocol::Grpcs, None));
        for unsupported in ["AUTO_HTTP", "fcgi", "AJP"] {
            assert_eq!(
                protocol(unsupported),
                (BackendProtocol::Http, Some(Reason::UnsupportedAnnotation)),
                "{unsupported}"
            );
        }
        assert_eq!(
            protocol("SOAP"),
            (BackendProtocol::Http, Some(Reason::InvalidAnnotation))
        );
    }

    #[test]
    fn invalid_tls_values_are_ignored_with_an_issue() {
        for (key, value) in [
            ("nginx.ingress.kubernetes.io/proxy-ssl-verify", "true"),
            (
                "nginx.ingress.kubernetes.io/proxy-ssl-secret",
                "just-a-name",
            ),
            ("nginx.ingress.kubernetes.io/proxy-ssl-name", "a b"),
            ("nginx.ingress.kubernetes.io/proxy-ssl-name", ""),
            ("nginx.ingress.kubernetes.io/ssl-redirect", "yes"),
            ("wicket.dev/hsts-max-age", "-1"),
            ("wicket.dev/hsts-max-age", "1y"),
        ] {
            let (a, issues) = parse(&[(key, value)]);
            assert_eq!(a, Annotations::default(), "{key}: {value:?}");
            assert_eq!(
                issues,
                vec![(
                    Reason::InvalidAnnotation,
                    format!("metadata.annotations[{key}]")
                )],
                "{key}: {value:?}"
            );
        }
    }

    #[test]
    fn hsts_annotations_exist_only_under_our_prefix() {
        let (a, issues) = parse(&[
            ("nginx.ingress.kubernetes.io/hsts", "false"),
            ("nginx.ingress.kubernetes.io/hsts-max-age", "5"),
        ]);
        assert_eq!(a, Annotations::default());
        assert_eq!(
            issues,
            vec![
                (
                    Reason::UnsupportedAnnotation,
                    "metadata.annotations[nginx.ingress.kubernetes.io/hsts]".to_owned()
                ),
                (
                    Reason::UnsupportedAnnotation,
                    "metadata.annotations[nginx.ingress.kubernetes.io/hsts-max-age]".to_owned()
                ),
            ]
        );
    }
}
