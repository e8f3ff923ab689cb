//! Host → virtual host lookup: exact name, then one-label wildcard, then host-less.

use std::collections::HashMap;

use crate::table::HostPattern;

/// Virtual hosts by pattern; values are indexes chosen by the caller.
#[derive(Debug, Default)]
pub(super) struct HostIndex {
    exact: HashMap<String, usize>,
    /// Keyed by the suffix after `*.`.
    wildcard: HashMap<String, usize>,
    any: Option<usize>,
}

impl HostIndex {
    /// Adds `pattern`; `false` (and no change) when it is already present.
    pub(super) fn insert(&mut self, pattern: &HostPattern, value: usize) -> bool {
        let slot = match pattern {
            HostPattern::Exact(name) => self.exact.entry(name.clone()),
            HostPattern::Wildcard(suffix) => self.wildcard.entry(suffix.clone()),
            HostPattern::Any => {
                let fresh = self.any.is_none();
                self.any.get_or_insert(value);
                return fresh;
            }
        };
        match slot {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(value);
                true
            }
        }
    }

    /// The value stored for exactly `pattern`.
    pub(super) fn get(&self, pattern: &HostPattern) -> Option<usize> {
        match pattern {
            HostPattern::Exact(name) => self.exact.get(name).copied(),
            HostPattern::Wildcard(suffix) => self.wildcard.get(suffix).copied(),
            HostPattern::Any => self.any,
        }
    }

    /// The virtual host for a normalised request host. An empty host (HTTP/1.0 without
    /// `Host`) only matches the host-less virtual host.
    pub(super) fn find(&self, host: &str) -> Option<usize> {
        if host.is_empty() {
            return self.any;
        }
        if let Some(&value) = self.exact.get(host) {
            return Some(value);
        }
        if let Some((label, suffix)) = host.split_once('.')
            && !label.is_empty()
            && !suffix.is_empty()
            && let Some(&value) = self.wildcard.get(suffix)
        {
            return Some(value);
        }
        self.any
    }
}

/// A pattern as written in an Ingress, for messages.
pub(super) fn display(pattern: &HostPattern) -> String {
    match pattern {
        HostPattern::Exact(name) => name.clone(),
        HostPattern::Wildcard(suffix) => format!("*.{suffix}"),
        HostPattern::Any => "(any host)".to_owned(),
    }
}
