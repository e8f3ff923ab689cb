//! TLS: `spec.tls` → SNI certificate bindings from `kubernetes.io/tls` Secrets, which hosts
//! count as TLS hosts (HTTPS redirect, HSTS), the default certificate, and CA bundles for
//! upstream verification (`ca.crt` of a `kubernetes.io/tls` Secret).
//!
//! ```text
//! Ingress (oldest first) ─► spec.tls[i] ─► hosts (empty → the Ingress's rule hosts) ─► TLS hosts
//!                                      └─► secretName ─► Secret (same namespace, kubernetes.io/tls,
//!                                          tls.crt + tls.key accepted by the proxy) ─► TlsBinding
//! problem ─► Issue naming the Secret; the host keeps TLS with the default certificate
//! ```

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet},
    fmt,
};

use k8s_openapi::api::{core::v1::Secret, networking::v1::Ingress};
use proxy::table::{Certificate, HostPattern, Hsts, Source, TlsBinding};

use super::{namespace_of, validate};
use crate::{
    issue::{Issue, ObjectKind, ObjectRef, Reason},
    snapshot::Snapshot,
};

/// `type` of a Secret holding a certificate and its key.
pub const SECRET_TYPE_TLS: &str = "kubernetes.io/tls";
/// Key of the PEM certificate chain in a TLS Secret.
pub const TLS_CERT_KEY: &str = "tls.crt";
/// Key of the PEM private key in a TLS Secret.
pub const TLS_PRIVATE_KEY_KEY: &str = "tls.key";
/// Key of a PEM CA bundle in the `kubernetes.io/tls` Secret named by `proxy-ssl-secret`.
pub const CA_CERT_KEY: &str = "ca.crt";

/// TLS settings of the whole controller (flags), as opposed to per-Ingress annotations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// HSTS for the routes of TLS hosts (`--hsts`, `--hsts-max-age`, …); `None` → off
    /// unless an Ingress turns it on with `wicket.dev/hsts: "true"`.
    pub hsts: Option<Hsts>,
    /// `--default-ssl-certificate`: the certificate for unknown or missing SNI.
    pub default_ssl_certificate: Option<SecretRef>,
}

impl Default for TlsSettings {
    /// ingress-nginx's defaults: HSTS on, `max-age=31536000; includeSubDomains`.
    fn default() -> Self {
        Self {
            hsts: Some(Hsts::default()),
            default_ssl_certificate: None,
        }
    }
}

/// A Secret named by `namespace/name`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretRef {
    pub namespace: String,
    pub name: String,
}

impl SecretRef {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// `namespace/name`, both non-empty, nothing else; `None` otherwise.
    pub fn parse(text: &str) -> Option<Self> {
        let (namespace, name) = text.split_once('/')?;
        let part =
            |s: &str| !s.is_empty() && !s.contains('/') && !s.chars().any(char::is_whitespace);
        (part(namespace) && part(name)).then(|| Self::new(namespace, name))
    }

    fn object(&self) -> ObjectRef {
        ObjectRef::new(ObjectKind::Secret, &self.namespace, &self.name)
    }
}

impl fmt::Display for SecretRef {
    /// `namespace/name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Why a Secret could not be used: the Issue reason and what to say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretProblem {
    pub reason: Reason,
    /// Starts with `secret namespace/name`.
    pub message: String,
}

/// The snapshot's Secrets by `(namespace, name)`, with each certificate checked at most
/// once per translation, and parsed again only when its Secret object changed.
pub struct Secrets<'a> {
    by_key: BTreeMap<(&'a str, &'a str), &'a Secret>,
    checked: RefCell<BTreeMap<SecretRef, Result<Certificate, SecretProblem>>>,
    /// Whether the certificate and key of a Secret parse, by the Secret's address: those
    /// known before, and those found now.
    parsed: KeyChecks,
    parsed_now: RefCell<KeyChecks>,
}

/// The outcome of parsing a Secret's certificate and key, by the Secret's address. Valid
/// only while those Secret objects are alive.
pub(super) type KeyChecks = super::memo::ByAddress<Result<(), String>>;

impl<'a> Secrets<'a> {
    pub fn new(snapshot: &'a Snapshot) -> Self {
        Self::reusing(snapshot, KeyChecks::default())
    }

    /// [`Secrets::new`], taking the parse outcome of each Secret in `parsed` as known.
    /// The objects `parsed` names must still be alive.
    pub(super) fn reusing(snapshot: &'a Snapshot, parsed: KeyChecks) -> Self {
        let by_key = snapshot
            .secrets
            .iter()
            .filter_map(|secret| {
                let name = secret.metadata.name.as_deref()?;
                Some(((namespace_of(&secret.metadata), name), &**secret))
            })
            .collect();
        Self {
            by_key,
            checked: RefCell::new(BTreeMap::new()),
            parsed,
            parsed_now: RefCell::new(KeyChecks::default()),
        }
    }

    /// The parse outcomes of the Secrets this translation read (all in its snapshot).
    pub(super) fn into_key_checks(self) -> KeyChecks {
        self.parsed_now.into_inner()
    }

    fn get(&self, secret: &SecretRef) -> Result<&'a Secret, SecretProblem> {
        self.by_key
            .get(&(secret.namespace.as_str(), secret.name.as_str()))
            .copied()
            .ok_or_else(|| SecretProblem {
                reason: Reason::MissingSecret,
                message: format!("secret {secret} not found"),
            })
    }

    /// The certificate and key of a `kubernetes.io/tls` Secret, if the proxy accepts them.
    pub fn certificate(&self, secret: &SecretRef) -> Result<Certificate, SecretProblem> {
        if let Some(done) = self.checked.borrow().get(secret) {
            return done.clone();
        }
        let result = self.check_certificate(secret);
        self.checked
            .borrow_mut()
            .insert(secret.clone(), result.clone());
        result
    }

    fn check_certificate(&self, secret: &SecretRef) -> Result<Certificate, SecretProblem> {
        let object = self.get(secret)?;
        let invalid = |why: String| SecretProblem {
            reason: Reason::InvalidSecret,
            message: format!("secret {secret} {why}"),
        };
        let kind = object.type_.as_deref().unwrap_or_default();
        if kind != SECRET_TYPE_TLS {
            return Err(invalid(format!(
                "is of type {kind:?}, not {SECRET_TYPE_TLS:?}"
            )));
        }
        let chain_pem =
            data(object, TLS_CERT_KEY).ok_or_else(|| invalid(format!("has no {TLS_CERT_KEY}")))?;
        let key_pem = data(object, TLS_PRIVATE_KEY_KEY)
            .ok_or_else(|| invalid(format!("has no {TLS_PRIVATE_KEY_KEY}")))?;
        let address = std::ptr::from_ref(object).addr();
        let parsed = match self.parsed.get(&address) {
            Some(known) => known.clone(),
            None => proxy::tls::certified_key_from_pem(chain_pem, key_pem)
                .map(drop)
                .map_err(|e| e.to_string()),
        };
        self.parsed_now.borrow_mut().insert(address, parsed.clone());
        parsed.map_err(|e| invalid(format!("is not a usable certificate and key: {e}")))?;
        Ok(Certificate {
            source: secret.to_string(),
            chain_pem: chain_pem.to_vec(),
            key_pem: key_pem.to_vec(),
        })
    }

    /// The PEM CA bundle (`ca.crt`) of a `kubernetes.io/tls` Secret (`proxy-ssl-secret`).
    /// Only that type, as in ingress-nginx's examples (`tls.crt`, `tls.key` and `ca.crt`):
    /// Kubernetes mode watches no other type, and manifests mode must agree with it.
    pub fn ca_bundle(&self, secret: &SecretRef) -> Result<Vec<u8>, SecretProblem> {
        let object = self.get(secret)?;
        let kind = object.type_.as_deref().unwrap_or_default();
        if kind != SECRET_TYPE_TLS {
            return Err(SecretProblem {
                reason: Reason::InvalidSecret,
                message: format!(
                    "secret {secret} is of type {kind:?}; a proxy-ssl-secret must be of type {SECRET_TYPE_TLS:?}"
                ),
            });
        }
        let pem = data(object, CA_CERT_KEY).ok_or_else(|| SecretProblem {
            reason: Reason::InvalidSecret,
            message: format!("secret {secret} has no {CA_CERT_KEY}"),
        })?;
        if !contains_pem_certificate(pem) {
            return Err(SecretProblem {
                reason: Reason::InvalidSecret,
                message: format!("secret {secret} {CA_CERT_KEY} holds no PEM certificate"),
            });
        }
        Ok(pem.to_vec())
    }

    /// `--default-ssl-certificate`: the certificate, or an Issue on the Secret and `None`
    /// (the proxy's self-signed certificate).
    pub fn default_certificate(
        &self,
        secret: &SecretRef,
        issues: &mut Vec<Issue>,
    ) -> Option<Certificate> {
        self.certificate(secret)
            .map_err(|problem| {
                issues.push(Issue::new(
                    problem.reason,
                    secret.object(),
                    None,
                    format!(
                        "--default-ssl-certificate: {}; the self-signed default certificate is used",
                        problem.message
                    ),
                ));
            })
            .ok()
    }
}

/// A non-empty value of `data[key]`.
fn data<'s>(secret: &'s Secret, key: &str) -> Option<&'s [u8]> {
    secret
        .data
        .as_ref()?
        .get(key)
        .map(|bytes| bytes.0.as_slice())
        .filter(|bytes| !bytes.is_empty())
}

fn contains_pem_certificate(pem: &[u8]) -> bool {
    const MARKER: &[u8] = b"-----BEGIN CERTIFICATE-----";
    pem.windows(MARKER.len()).any(|w| w == MARKER)
}

/// The hosts listed under some owned Ingress's `spec.tls`, whether or not a certificate
/// could be bound to them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsHosts(BTreeSet<HostPattern>);

impl TlsHosts {
    /// Whether requests for rule host `host` are served with TLS: the host is listed, or
    /// it is an exact host that a listed wildcard covers (one label). [`HostPattern::Any`]
    /// never is: TLS does not work on the default rule.
    pub fn covers(&self, host: &HostPattern) -> bool {
        if self.0.contains(host) {
            return true;
        }
        match host {
            HostPattern::Exact(name) => name.split_once('.').is_some_and(|(label, suffix)| {
                !label.is_empty() && self.0.contains(&HostPattern::Wildcard(suffix.to_owned()))
            }),
            HostPattern::Wildcard(_) | HostPattern::Any => false,
        }
    }
}

/// The certificates chosen for the HTTPS listener and the TLS hosts.
#[derive(Debug, Default)]
pub struct TlsTable {
    pub bindings: Vec<TlsBinding>,
    pub hosts: TlsHosts,
}

/// Accumulates the `spec.tls` of every owned Ingress, oldest first.
pub struct TlsBuilder<'a> {
    secrets: &'a Secrets<'a>,
    hosts: BTreeSet<HostPattern>,
    /// Which Secret (and which Ingress) holds each host's SNI binding.
    owner: BTreeMap<HostPattern, (SecretRef, Source)>,
    /// Valid certificates and the hosts bound to them.
    certificates: BTreeMap<SecretRef, (Certificate, BTreeSet<HostPattern>)>,
}

impl<'a> TlsBuilder<'a> {
    pub fn new(secrets: &'a Secrets<'a>) -> Self {
        Self {
            secrets,
            hosts: BTreeSet::new(),
            owner: BTreeMap::new(),
            certificates: BTreeMap::new(),
        }
    }

    /// Adds the `spec.tls` of one owned Ingress. Ingresses must be added oldest first.
    pub fn add(&mut self, source: &Source, ingress: &Ingress, issues: &mut Vec<Issue>) {
        let Some(spec) = &ingress.spec else { return };
        let object = ObjectRef::new(ObjectKind::Ingress, &source.namespace, &source.name);
        for (i, entry) in spec.tls.iter().flatten().enumerate() {
            let listed = entry.hosts.as_deref().unwrap_or_default();
            let hosts = if listed.is_empty() {
                rule_hosts(ingress)
            } else {
                self.listed_hosts(listed, i, &object, issues)
            };
            self.hosts.extend(hosts.iter().cloned());
            let Some(name) = entry.secret_name.as_deref().filter(|n| !n.is_empty()) else {
                continue;
            };
            let secret = SecretRef::new(&source.namespace, name);
            let certificate = match self.secrets.certificate(&secret) {
                Ok(certificate) => certificate,
                Err(problem) => {
                    if !hosts.is_empty() {
                        issues.push(Issue::new(
                            problem.reason,
                            object.clone(),
                            Some(format!("spec.tls[{i}].secretName")),
                            format!(
                                "{}; {} served with the default certificate",
                                problem.message,
                                host_list(&hosts)
                            ),
                        ));
                    }
                    continue;
                }
            };
            for host in hosts {
                match self.owner.get(&host) {
                    None => {
                        self.owner
                            .insert(host.clone(), (secret.clone(), source.clone()));
                        self.certificates
                            .entry(secret.clone())
                            .or_insert_with(|| (certificate.clone(), BTreeSet::new()))
                            .1
                            .insert(host);
                    }
                    Some((held, _)) if *held == secret => {}
                    Some((held, by)) => {
                        let by = if by == source {
                            "earlier in this Ingress".to_owned()
                        } else {
                            format!("by ingress {}", by.key())
                        };
                        issues.push(Issue::new(
                            Reason::TlsHostConflict,
                            object.clone(),
                            Some(format!("spec.tls[{i}].secretName")),
                            format!(
                                "host {} already has the certificate of secret {held}, bound {by}; the oldest wins and secret {secret} is not used for it",
                                validate::host_label(&host)
                            ),
                        ));
                    }
                }
            }
        }
    }

    /// The valid hosts of `spec.tls[i].hosts`; the others are reported.
    fn listed_hosts(
        &self,
        listed: &[String],
        i: usize,
        object: &ObjectRef,
        issues: &mut Vec<Issue>,
    ) -> Vec<HostPattern> {
        let mut hosts = Vec::with_capacity(listed.len());
        for (j, host) in listed.iter().enumerate() {
            let pattern = if host.is_empty() {
                Err("an empty host cannot have TLS".to_owned())
            } else {
                validate::host_pattern(Some(host))
            };
            match pattern {
                Ok(pattern) => hosts.push(pattern),
                Err(message) => issues.push(Issue::new(
                    Reason::InvalidHost,
                    object.clone(),
                    Some(format!("spec.tls[{i}].hosts[{j}]")),
                    format!("{message}; the TLS host is ignored"),
                )),
            }
        }
        hosts
    }

    /// Bindings sorted by Secret, each with its hosts sorted.
    pub fn finish(self) -> TlsTable {
        let bindings = self
            .certificates
            .into_values()
            .map(|(certificate, hosts)| TlsBinding {
                hosts: hosts.into_iter().collect(),
                certificate,
            })
            .collect();
        TlsTable {
            bindings,
            hosts: TlsHosts(self.hosts),
        }
    }
}

/// The valid, non-empty rule hosts of an Ingress: what a `tls` entry without `hosts`
/// covers. (The API documents an empty list as "the wildcard host setting for the
/// loadbalancer controller"; for wicket that is the hosts the Ingress itself serves.)
/// Invalid hosts are reported by the rules, not here.
fn rule_hosts(ingress: &Ingress) -> Vec<HostPattern> {
    let rules = ingress.spec.iter().flat_map(|s| s.rules.iter().flatten());
    let hosts: BTreeSet<HostPattern> = rules
        .filter_map(|rule| validate::host_pattern(rule.host.as_deref()).ok())
        .filter(|host| *host != HostPattern::Any)
        .collect();
    hosts.into_iter().collect()
}

/// `host "a.example" is` / `hosts "a.example", "*.b.example" are`.
fn host_list(hosts: &[HostPattern]) -> String {
    let labels: Vec<String> = hosts.iter().map(validate::host_label).collect();
    match labels.as_slice() {
        [one] => format!("host {one} is"),
        _ => format!("hosts {} are", labels.join(", ")),
    }
}

/// The HSTS policy of one Ingress's routes on TLS hosts: the controller's setting,
/// turned on or off and adjusted by the `wicket.dev/hsts*` annotations.
pub fn hsts_policy(
    settings: &TlsSettings,
    enabled: Option<bool>,
    max_age: Option<u64>,
    include_subdomains: Option<bool>,
    preload: Option<bool>,
) -> Option<Hsts> {
    if !enabled.unwrap_or(settings.hsts.is_some()) {
        return None;
    }
    let base = settings.hsts.clone().unwrap_or_default();
    Some(Hsts {
        max_age_seconds: max_age.unwrap_or(base.max_age_seconds),
        include_subdomains: include_subdomains.unwrap_or(base.include_subdomains),
        preload: preload.unwrap_or(base.preload),
    })
}

/// Every Secret an Ingress reads: `spec.tls[].secretName` and the `proxy-ssl-secret`
/// annotation (either prefix). For deciding which Secret events matter.
pub fn referenced_secrets(ingress: &Ingress) -> Vec<SecretRef> {
    let namespace = namespace_of(&ingress.metadata);
    let mut secrets: Vec<SecretRef> = ingress
        .spec
        .iter()
        .flat_map(|s| s.tls.iter().flatten())
        .filter_map(|t| t.secret_name.as_deref().filter(|n| !n.is_empty()))
        .map(|name| SecretRef::new(namespace, name))
        .collect();
    let annotations = ingress.metadata.annotations.iter().flatten();
    secrets.extend(annotations.filter_map(|(key, value)| {
        (super::annotations::name_of(key)? == super::annotations::PROXY_SSL_SECRET)
            .then(|| SecretRef::parse(value))
            .flatten()
    }));
    secrets.sort();
    secrets.dedup();
    secrets
}

#[cfg(test)]
mod tests;
