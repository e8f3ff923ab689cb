//! SNI → certificate, compiled once per published table.
//!
//! ```text
//! RouteTable.tls ──► CertCache (parse once per distinct chain+key, kept across publishes)
//!                ──► SniIndex { exact, wildcard (one label), default }
//! handshake: SNI ─► exact ─► wildcard (SNI minus first label) ─► default ─► self-signed
//! ```

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use rustls::sign::CertifiedKey;

use super::pem::{TlsError, shared_key_from_pem};
use super::self_signed::self_signed;
use crate::matcher::TableError;
use crate::table::{Certificate, HostPattern, RouteTable};

/// Certificates by SNI name for one table version.
#[derive(Debug, Default)]
pub struct SniIndex {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Keyed by the suffix after `*.`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    /// `table.default_certificate` when it parsed; `None` → the self-signed one.
    default: Option<Arc<CertifiedKey>>,
}

impl SniIndex {
    /// Compiles the table's TLS bindings. A certificate that cannot be used is reported
    /// and its hosts get the default certificate; the first binding of a host wins.
    pub(crate) fn compile(
        table: &RouteTable,
        cache: &mut CertCache,
        errors: &mut Vec<TableError>,
    ) -> SniIndex {
        let mut index = SniIndex::default();
        for binding in &table.tls {
            let Some(key) = cache.resolve(&binding.certificate, &binding.hosts, errors) else {
                continue;
            };
            for host in &binding.hosts {
                let (map, name) = match host {
                    HostPattern::Exact(name) => (&mut index.exact, name),
                    HostPattern::Wildcard(suffix) => (&mut index.wildcard, suffix),
                    HostPattern::Any => continue,
                };
                if let Entry::Vacant(slot) = map.entry(name.clone()) {
                    slot.insert(key.clone());
                }
            }
        }
        if let Some(default) = &table.default_certificate {
            index.default = cache.resolve(default, &[], errors);
        }
        if index.default.is_none()
            && let Err(err) = self_signed()
        {
            tracing::error!(error = %err, "no default certificate");
        }
        index
    }

    /// The certificate for a handshake with SNI `name` (`None`: no SNI sent).
    pub fn resolve(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        self.lookup(name)
            .or_else(|| self.default.clone())
            .or_else(|| self_signed().ok())
    }

    /// The bound certificate for `name`, without the default.
    fn lookup(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let name = name?;
        let name = name.strip_suffix('.').unwrap_or(name);
        let lowered;
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = name.to_ascii_lowercase();
            lowered.as_str()
        } else {
            name
        };
        if let Some(key) = self.exact.get(name) {
            return Some(key.clone());
        }
        let (label, suffix) = name.split_once('.')?;
        if label.is_empty() || suffix.is_empty() {
            return None;
        }
        self.wildcard.get(suffix).cloned()
    }
}

/// Parsed certificates by content, kept across publishes so that an unchanged Secret is
/// not parsed again. [`resolve`](Self::resolve) during a publish, then
/// [`commit`](Self::commit) to forget certificates the new table no longer names.
#[derive(Debug, Default)]
pub struct CertCache {
    current: HashMap<CacheKey, Result<Arc<CertifiedKey>, TlsError>>,
    next: HashMap<CacheKey, Result<Arc<CertifiedKey>, TlsError>>,
}

type CacheKey = (Vec<u8>, Vec<u8>);

impl CertCache {
    /// The parsed `certificate`; `None` (and a [`TableError`] naming its source and
    /// `hosts`) when it cannot be used.
    pub(crate) fn resolve(
        &mut self,
        certificate: &Certificate,
        hosts: &[HostPattern],
        errors: &mut Vec<TableError>,
    ) -> Option<Arc<CertifiedKey>> {
        let parsed = self.parse(certificate);
        match parsed {
            Ok(key) => Some(key),
            Err(err) => {
                errors.push(TableError::InvalidCertificate {
                    source_key: certificate.source.clone(),
                    hosts: hosts.iter().map(crate::matcher::display_host).collect(),
                    reason: err.to_string(),
                });
                None
            }
        }
    }

    fn parse(&mut self, certificate: &Certificate) -> Result<Arc<CertifiedKey>, TlsError> {
        let key = (certificate.chain_pem.clone(), certificate.key_pem.clone());
        if let Some(found) = self.next.get(&key) {
            return found.clone();
        }
        let parsed = match self.current.remove(&key) {
            Some(parsed) => parsed,
            None => shared_key_from_pem(&certificate.chain_pem, &certificate.key_pem),
        };
        self.next.insert(key, parsed.clone());
        parsed
    }

    /// Ends a publish: certificates not resolved since the last commit are forgotten.
    pub(crate) fn commit(&mut self) {
        self.current = std::mem::take(&mut self.next);
    }

    /// How many distinct certificates are cached.
    pub fn len(&self) -> usize {
        self.current.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handle::TableHandle;
    use crate::table::TlsBinding;

    fn certificate(source: &str, name: &str) -> Certificate {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("certificate");
        Certificate {
            source: source.to_owned(),
            chain_pem: cert.pem().into_bytes(),
            key_pem: key.serialize_pem().into_bytes(),
        }
    }

    fn bound(hosts: Vec<HostPattern>, certificate: Certificate) -> RouteTable {
        RouteTable {
            tls: vec![TlsBinding { hosts, certificate }],
            ..RouteTable::default()
        }
    }

    fn same(a: Option<Arc<CertifiedKey>>, b: &Arc<CertifiedKey>) -> bool {
        a.is_some_and(|a| Arc::ptr_eq(&a, b))
    }

    #[test]
    fn lookup_exact_then_one_label_wildcard_then_default() {
        let mut cache = CertCache::default();
        let mut errors = Vec::new();
        let mut table = bound(
            vec![
                HostPattern::Exact("a.example".into()),
                HostPattern::Wildcard("w.example".into()),
                HostPattern::Any,
            ],
            certificate("ns/a", "a.example"),
        );
        table.default_certificate = Some(certificate("ns/default", "default.example"));
        let index = SniIndex::compile(&table, &mut cache, &mut errors);
        assert_eq!(errors, Vec::new());
        let bound = index.lookup(Some("a.example")).expect("bound");
        let default = index.resolve(None).expect("default");
        assert!(!Arc::ptr_eq(&bound, &default));
        assert!(same(index.resolve(Some("A.Example.")), &bound));
        assert!(same(index.resolve(Some("x.w.example")), &bound));
        assert!(same(index.resolve(Some("w.example")), &default));
        assert!(same(index.resolve(Some("y.x.w.example")), &default));
        assert!(same(index.resolve(Some(".w.example")), &default));
        assert!(same(index.resolve(Some("other.example")), &default));
    }

    #[test]
    fn unchanged_certificates_are_not_parsed_again_and_unused_ones_are_forgotten() {
        let handle = TableHandle::new();
        let cert = certificate("ns/a", "a.example");
        let hosts = vec![HostPattern::Exact("a.example".into())];
        handle.publish(bound(hosts.clone(), cert.clone()));
        let first = handle.load().tls.lookup(Some("a.example")).expect("bound");

        // A different table (another host) with the same Secret content.
        let mut next = bound(hosts, cert);
        next.tls[0]
            .hosts
            .push(HostPattern::Exact("b.example".into()));
        handle.publish(next);
        let active = handle.load();
        assert!(same(active.tls.lookup(Some("a.example")), &first));
        assert!(same(active.tls.lookup(Some("b.example")), &first));

        let mut cache = CertCache::default();
        let mut errors = Vec::new();
        let table = bound(vec![], certificate("ns/x", "x.example"));
        SniIndex::compile(&table, &mut cache, &mut errors);
        cache.commit();
        assert_eq!(cache.len(), 1);
        SniIndex::compile(&RouteTable::default(), &mut cache, &mut errors);
        cache.commit();
        assert!(cache.is_empty());
    }

    #[test]
    fn a_broken_default_certificate_falls_back_to_the_self_signed_one() {
        let mut cache = CertCache::default();
        let mut errors = Vec::new();
        let table = RouteTable {
            default_certificate: Some(Certificate {
                source: "ns/broken".into(),
                chain_pem: b"junk".to_vec(),
                key_pem: b"junk".to_vec(),
            }),
            ..RouteTable::default()
        };
        let index = SniIndex::compile(&table, &mut cache, &mut errors);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("ns/broken"), "{}", errors[0]);
        assert!(
            errors[0].to_string().contains("self-signed"),
            "{}",
            errors[0]
        );
        let served = index.resolve(Some("any.example")).expect("a certificate");
        assert!(Arc::ptr_eq(&served, &self_signed().expect("self-signed")));
    }
}
