//! IngressClass ownership: which Ingresses are ours to serve.
//!
//! ```text
//! spec.ingressClassName ─► IngressClass.spec.controller == our controller name
//! (else) kubernetes.io/ingress.class annotation ─► our class name, or one of our classes
//! (neither) ─► one of our IngressClasses is the default class, or --watch-ingress-without-class
//! ```

use std::borrow::Borrow;

use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

use super::TranslateConfig;

/// The legacy class annotation, still honoured when the field is absent.
pub const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
/// Marks an IngressClass as the cluster default.
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// Whether `ingress` is served by this controller. The field wins over the annotation.
/// When no IngressClass named `config.ingress_class` exists at all (e.g. a manifest set
/// without one), an Ingress naming that class by field is ours as well.
pub fn is_owned<C: Borrow<IngressClass>>(
    ingress: &Ingress,
    classes: &[C],
    config: &TranslateConfig,
) -> bool {
    let classes = || classes.iter().map(Borrow::<IngressClass>::borrow);
    let ours = |name: &str| {
        classes().any(|c| c.metadata.name.as_deref() == Some(name) && is_our_class(c, config))
    };
    let field = ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref())
        .filter(|n| !n.is_empty());
    if let Some(name) = field {
        return ours(name)
            || (name == config.ingress_class
                && !classes().any(|c| c.metadata.name.as_deref() == Some(name)));
    }
    let annotation = ingress
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(LEGACY_CLASS_ANNOTATION))
        .map(String::as_str)
        .filter(|n| !n.is_empty());
    if let Some(name) = annotation {
        return name == config.ingress_class || ours(name);
    }
    config.watch_ingress_without_class
        || classes().any(|c| is_our_class(c, config) && is_default_class(c))
}

fn is_our_class(class: &IngressClass, config: &TranslateConfig) -> bool {
    class.spec.as_ref().and_then(|s| s.controller.as_deref())
        == Some(config.controller_name.as_str())
}

fn is_default_class(class: &IngressClass) -> bool {
    class
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
        .is_some_and(|v| v == "true")
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{
        api::networking::v1::{IngressClassSpec, IngressSpec},
        apimachinery::pkg::apis::meta::v1::ObjectMeta,
    };

    use super::*;

    fn class(name: &str, controller: &str, default: bool) -> IngressClass {
        let annotations = default.then(|| {
            [(DEFAULT_CLASS_ANNOTATION.to_owned(), "true".to_owned())]
                .into_iter()
                .collect()
        });
        IngressClass {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                annotations,
                ..Default::default()
            },
            spec: Some(IngressClassSpec {
                controller: Some(controller.to_owned()),
                parameters: None,
            }),
        }
    }

    fn ingress(field: Option<&str>, annotation: Option<&str>) -> Ingress {
        Ingress {
            metadata: ObjectMeta {
                name: Some("web".to_owned()),
                annotations: annotation.map(|a| {
                    [(LEGACY_CLASS_ANNOTATION.to_owned(), a.to_owned())]
                        .into_iter()
                        .collect()
                }),
                ..Default::default()
            },
            spec: Some(IngressSpec {
                ingress_class_name: field.map(str::to_owned),
                ..Default::default()
            }),
            status: None,
        }
    }

    const OURS: &str = "wicket.dev/ingress-controller";

    #[test]
    fn field_names_a_class_of_ours() {
        let config = TranslateConfig::default();
        let classes = [
            class("edge", OURS, false),
            class("nginx", "k8s.io/ingress-nginx", false),
        ];
        assert!(is_owned(&ingress(Some("edge"), None), &classes, &config));
        assert!(!is_owned(&ingress(Some("nginx"), None), &classes, &config));
        assert!(!is_owned(
            &ingress(Some("missing"), None),
            &classes,
            &config
        ));
    }

    #[test]
    fn field_naming_our_class_counts_only_when_no_such_class_exists() {
        let config = TranslateConfig::default();
        assert!(is_owned::<IngressClass>(
            &ingress(Some("wicket"), None),
            &[],
            &config
        ));
        let foreign = [class("wicket", "example.com/other", false)];
        assert!(!is_owned(&ingress(Some("wicket"), None), &foreign, &config));
    }

    #[test]
    fn field_wins_over_annotation() {
        let config = TranslateConfig::default();
        let classes = [
            class("wicket", OURS, false),
            class("nginx", "k8s.io/ingress-nginx", false),
        ];
        assert!(!is_owned(
            &ingress(Some("nginx"), Some("wicket")),
            &classes,
            &config
        ));
        assert!(is_owned(
            &ingress(Some("wicket"), Some("nginx")),
            &classes,
            &config
        ));
    }

    #[test]
    fn legacy_annotation() {
        let config = TranslateConfig::default();
        let classes = [class("edge", OURS, false)];
        assert!(is_owned(&ingress(None, Some("wicket")), &classes, &config));
        assert!(is_owned(&ingress(None, Some("edge")), &classes, &config));
        assert!(!is_owned(&ingress(None, Some("nginx")), &classes, &config));
    }

    #[test]
    fn no_class_needs_default_class_or_flag() {
        let config = TranslateConfig::default();
        let plain = ingress(None, None);
        assert!(!is_owned(&plain, &[class("wicket", OURS, false)], &config));
        assert!(is_owned(&plain, &[class("wicket", OURS, true)], &config));
        assert!(!is_owned(
            &plain,
            &[class("nginx", "k8s.io/ingress-nginx", true)],
            &config
        ));
        let watch = TranslateConfig {
            watch_ingress_without_class: true,
            ..TranslateConfig::default()
        };
        assert!(is_owned::<IngressClass>(&plain, &[], &watch));
        // An empty field or annotation counts as absent.
        assert!(is_owned::<IngressClass>(
            &ingress(Some(""), Some("")),
            &[],
            &watch
        ));
    }
}
