//! `Issue`: a problem found in the input, reported (log line, later an Event) but never fatal.
//!
//! An Issue names the object and the field it is about, a machine-readable [`Reason`] and a
//! human message. Issues are plain ordered values so that callers can sort, deduplicate and
//! compare them across rebuilds.

use std::fmt;

/// How bad an [`Issue`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Part of the object's configuration was refused and is not served.
    Error,
    /// The object is served, but degraded or not as written (e.g. a 503 until a Service exists).
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "Error",
            Self::Warning => "Warning",
        })
    }
}

/// The kinds of object an [`Issue`] can be about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    Ingress,
    IngressClass,
    Service,
    EndpointSlice,
    Secret,
}

impl ObjectKind {
    /// The Kubernetes `kind`, e.g. `Ingress`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ingress => "Ingress",
            Self::IngressClass => "IngressClass",
            Self::Service => "Service",
            Self::EndpointSlice => "EndpointSlice",
            Self::Secret => "Secret",
        }
    }

    /// The Kubernetes `apiVersion` of this kind, e.g. `networking.k8s.io/v1`.
    pub fn api_version(self) -> &'static str {
        match self {
            Self::Ingress | Self::IngressClass => "networking.k8s.io/v1",
            Self::Service | Self::Secret => "v1",
            Self::EndpointSlice => "discovery.k8s.io/v1",
        }
    }
}

/// The object an [`Issue`] is about. `namespace` is empty for cluster-scoped kinds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub kind: ObjectKind,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: ObjectKind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectRef {
    /// `ingress default/web`, or `ingressclass wicket` for cluster-scoped objects.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.as_str().to_ascii_lowercase();
        if self.namespace.is_empty() {
            write!(f, "{kind} {}", self.name)
        } else {
            write!(f, "{kind} {}/{}", self.namespace, self.name)
        }
    }
}

/// Why an [`Issue`] was raised; stable, CamelCase, usable as an Event `reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// A backend names a Service that does not exist.
    MissingService,
    /// A backend names a port the Service does not have.
    ServicePortNotFound,
    /// A backend's Service port has no usable endpoint.
    NoEndpoints,
    /// A `resource` backend (only Service backends are supported).
    ResourceBackend,
    /// A backend names a Service of type ExternalName (not supported).
    ExternalNameService,
    /// A backend is malformed (no service, no port, or both port number and name).
    InvalidBackend,
    /// An Ingress with neither rules nor a default backend.
    EmptySpec,
    /// An EndpointSlice whose addressType is not IPv4 or IPv6.
    UnsupportedAddressType,
    /// An EndpointSlice address that is not an IP address.
    InvalidEndpointAddress,
    /// An EndpointSlice without the `kubernetes.io/service-name` label.
    SliceWithoutServiceLabel,
    /// A rule host that is neither a DNS-1123 subdomain nor a `*.` wildcard of one.
    InvalidHost,
    /// A path that Kubernetes validation rejects, or a missing/unknown pathType.
    InvalidPath,
    /// A path of a host in regex mode that does not compile as a regex.
    InvalidRegex,
    /// A supported annotation with a value outside its grammar.
    InvalidAnnotation,
    /// An annotation under a recognised prefix that is not supported.
    UnsupportedAnnotation,
    /// A `*-snippet` annotation: raw configuration injection is refused.
    SnippetRefused,
    /// A second default backend for the listener or a host; the oldest wins.
    DuplicateDefaultBackend,
    /// The same (host, path, pathType) defined twice; the oldest wins.
    PathConflict,
    /// A Secret named by an Ingress or a flag does not exist.
    MissingSecret,
    /// A Secret of the wrong type, without the expected keys, or whose certificate and
    /// key the proxy cannot use.
    InvalidSecret,
    /// A TLS host bound to a certificate by an older Ingress; the oldest wins.
    TlsHostConflict,
}

impl Reason {
    /// The reason as a CamelCase word, e.g. `MissingService`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingService => "MissingService",
            Self::ServicePortNotFound => "ServicePortNotFound",
            Self::NoEndpoints => "NoEndpoints",
            Self::ResourceBackend => "ResourceBackend",
            Self::ExternalNameService => "ExternalNameService",
            Self::InvalidBackend => "InvalidBackend",
            Self::EmptySpec => "EmptySpec",
            Self::UnsupportedAddressType => "UnsupportedAddressType",
            Self::InvalidEndpointAddress => "InvalidEndpointAddress",
            Self::SliceWithoutServiceLabel => "SliceWithoutServiceLabel",
            Self::InvalidHost => "InvalidHost",
            Self::InvalidPath => "InvalidPath",
            Self::InvalidRegex => "InvalidRegex",
            Self::InvalidAnnotation => "InvalidAnnotation",
            Self::UnsupportedAnnotation => "UnsupportedAnnotation",
            Self::SnippetRefused => "SnippetRefused",
            Self::DuplicateDefaultBackend => "DuplicateDefaultBackend",
            Self::PathConflict => "PathConflict",
            Self::MissingSecret => "MissingSecret",
            Self::InvalidSecret => "InvalidSecret",
            Self::TlsHostConflict => "TlsHostConflict",
        }
    }

    /// The severity every Issue of this reason carries: `Error` when configuration is
    /// refused, `Warning` when it is served degraded or differently from what was written.
    pub fn severity(self) -> Severity {
        match self {
            Self::InvalidBackend
            | Self::EmptySpec
            | Self::InvalidHost
            | Self::InvalidPath
            | Self::InvalidRegex
            | Self::InvalidAnnotation
            | Self::SnippetRefused => Severity::Error,
            Self::MissingService
            | Self::ServicePortNotFound
            | Self::NoEndpoints
            | Self::ResourceBackend
            | Self::ExternalNameService
            | Self::UnsupportedAddressType
            | Self::InvalidEndpointAddress
            | Self::SliceWithoutServiceLabel
            | Self::UnsupportedAnnotation
            | Self::DuplicateDefaultBackend
            | Self::PathConflict
            | Self::MissingSecret
            | Self::InvalidSecret
            | Self::TlsHostConflict => Severity::Warning,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem in the input. Never fatal: the offending piece is dropped or answered with 503.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Issue {
    pub severity: Severity,
    pub object: ObjectRef,
    /// The field path inside the object, e.g. `spec.rules[0].host`; `None` for the whole object.
    pub field: Option<String>,
    pub reason: Reason,
    pub message: String,
}

impl Issue {
    /// An Issue with the severity of its `reason`.
    pub fn new(
        reason: Reason,
        object: ObjectRef,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: reason.severity(),
            object,
            field,
            reason,
            message: message.into(),
        }
    }
}

impl fmt::Display for Issue {
    /// One line: `Warning ingress default/web spec.rules[0].host: <message>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.severity, self.object)?;
        if let Some(field) = &self.field {
            write!(f, " {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_with_field() {
        let issue = Issue::new(
            Reason::InvalidHost,
            ObjectRef::new(ObjectKind::Ingress, "default", "web"),
            Some("spec.rules[0].host".to_owned()),
            "host \"a_b\" is not a DNS-1123 subdomain",
        );
        assert_eq!(
            issue.to_string(),
            "Error ingress default/web spec.rules[0].host: host \"a_b\" is not a DNS-1123 subdomain"
        );
    }

    #[test]
    fn display_without_field_and_cluster_scoped() {
        let issue = Issue::new(
            Reason::PathConflict,
            ObjectRef::new(ObjectKind::IngressClass, "", "wicket"),
            None,
            "m",
        );
        assert_eq!(issue.to_string(), "Warning ingressclass wicket: m");
    }

    #[test]
    fn severity_follows_reason() {
        assert_eq!(Reason::SnippetRefused.severity(), Severity::Error);
        assert_eq!(Reason::UnsupportedAnnotation.severity(), Severity::Warning);
        assert_eq!(Reason::NoEndpoints.severity(), Severity::Warning);
    }
}
