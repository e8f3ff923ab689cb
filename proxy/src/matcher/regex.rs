//! ingress-nginx regex mode: every path of the host is `~* "^<path>"`, longest first.

use std::collections::HashMap;

use ::regex::{Regex, RegexBuilder};

use super::{TableError, by_precedence, rule_path};
use crate::table::Route;

/// Upper bound for one compiled regex (and its lazy DFA cache); a larger one is refused.
const SIZE_LIMIT: usize = 1 << 20;

/// Compiles `source` (a manifest pattern behind `(?i)`) with the size limits used for
/// every regex that comes from a manifest.
fn build(source: &str) -> Result<Regex, ::regex::Error> {
    RegexBuilder::new(source)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
}

/// Compiled manifest regexes by pattern, kept across publishes so that a pattern the
/// previous table already used is not compiled again. [`get`](Self::get) during a
/// publish, then [`commit`](Self::commit) to drop every pattern the new table no longer uses.
#[derive(Debug, Default)]
pub struct RegexCache {
    current: HashMap<String, Regex>,
    next: HashMap<String, Regex>,
}

impl RegexCache {
    /// `pattern` compiled case-insensitively (`(?i)` prefix), at most once while it stays
    /// in use; an invalid pattern is not cached.
    pub(crate) fn get(&mut self, pattern: &str) -> Result<Regex, ::regex::Error> {
        let source = format!("(?i){pattern}");
        if let Some(found) = self.next.get(&source) {
            return Ok(found.clone());
        }
        let regex = match self.current.remove(&source) {
            Some(found) => found,
            None => build(&source)?,
        };
        self.next.insert(source, regex.clone());
        Ok(regex)
    }

    /// Keeps `regex` (made by [`get`](Self::get)) cached through the next commit.
    fn keep(&mut self, regex: &Regex) {
        if !self.next.contains_key(regex.as_str()) {
            let source = regex.as_str().to_owned();
            self.current.remove(&source);
            self.next.insert(source, regex.clone());
        }
    }

    /// Ends a publish: patterns not requested since the last commit are dropped.
    pub fn commit(&mut self) {
        self.current = std::mem::take(&mut self.next);
    }

    /// How many patterns are cached.
    pub fn len(&self) -> usize {
        self.current.len()
    }

    /// True when no pattern is cached.
    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}

/// The routes of one regex-mode host, in the order they are tried.
#[derive(Debug)]
pub(super) struct RegexRoutes {
    routes: Vec<(Regex, usize)>,
}

impl RegexRoutes {
    /// Routes sorted by descending path length, then oldest Ingress, then rule index;
    /// a path that is not a valid regex is reported and skipped.
    pub(super) fn compile(
        routes: &[Route],
        cache: &mut RegexCache,
        errors: &mut Vec<TableError>,
    ) -> Self {
        let mut compiled = Vec::with_capacity(routes.len());
        for index in by_precedence(routes, true) {
            let Some(route) = routes.get(index) else {
                continue;
            };
            let path = rule_path(&route.path);
            match cache.get(&format!("^{path}")) {
                Ok(regex) => compiled.push((regex, index)),
                Err(err) => errors.push(TableError::InvalidRegex {
                    path: route.path.path.clone(),
                    source_key: route.source.key(),
                    reason: err.to_string(),
                }),
            }
        }
        RegexRoutes { routes: compiled }
    }

    /// Keeps this host's regexes in `cache` when the host is reused unchanged.
    pub(super) fn keep_cached(&self, cache: &mut RegexCache) {
        for (regex, _) in &self.routes {
            cache.keep(regex);
        }
    }

    /// The first route whose regex matches `path`.
    pub(super) fn find(&self, path: &str) -> Option<usize> {
        self.routes
            .iter()
            .find(|(regex, _)| regex.is_match(path))
            .map(|&(_, index)| index)
    }
}
