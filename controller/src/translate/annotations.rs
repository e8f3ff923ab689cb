//! Ingress annotations under `wicket.dev/` and `nginx.ingress.kubernetes.io/`: same names,
//! same value grammar, ours wins when both are set.
//!
//! Supported keys are parsed into [`Annotations`]; `*-snippet` keys are refused; any other
//! key under either prefix is reported as unsupported. Every problem is an [`Issue`] and the
//! offending annotation is ignored, never the Ingress.

use std::collections::BTreeMap;

use crate::issue::{Issue, ObjectRef, Reason};

/// Our annotation prefix.
pub const WICKET_PREFIX: &str = "wicket.dev/";
/// The ingress-nginx annotation prefix, read for compatibility.
pub const NGINX_PREFIX: &str = "nginx.ingress.kubernetes.io/";

const REWRITE_TARGET: &str = "rewrite-target";
const USE_REGEX: &str = "use-regex";
const APP_ROOT: &str = "app-root";

/// Annotation names (without prefix) that are understood.
const SUPPORTED: [&str; 3] = [REWRITE_TARGET, USE_REGEX, APP_ROOT];

/// The parsed, valid annotations of one Ingress.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Annotations {
    /// `rewrite-target`, as written.
    pub rewrite_target: Option<String>,
    /// `use-regex`.
    pub use_regex: bool,
    /// `app-root`, as written.
    pub app_root: Option<String>,
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
            if name.ends_with("-snippet") {
                issues.push(issue(
                    Reason::SnippetRefused,
                    key,
                    format!(
                        "{key} is refused: snippets inject raw proxy configuration, which wicket does not have; the annotation is ignored"
                    ),
                ));
            } else if !SUPPORTED.contains(&name) {
                issues.push(issue(
                    Reason::UnsupportedAnnotation,
                    key,
                    format!("{key} is not supported; the annotation is ignored"),
                ));
            } else if ours || !chosen.contains_key(name) {
                chosen.insert(name, (key.as_str(), value.as_str()));
            }
        }
        for (name, (key, value)) in chosen {
            let result = match name {
                REWRITE_TARGET => {
                    rewrite_target(value).map(|v| parsed.rewrite_target = Some(v.to_owned()))
                }
                USE_REGEX => parse_bool(value).map(|v| parsed.use_regex = v),
                APP_ROOT => app_root(value).map(|v| parsed.app_root = Some(v.to_owned())),
                _ => Ok(()),
            };
            if let Err(why) = result {
                issues.push(issue(
                    Reason::InvalidAnnotation,
                    key,
                    format!("{key}: value {value:?} {why}; the annotation is ignored"),
                ));
            }
        }
        parsed
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
}
