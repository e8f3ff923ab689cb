//! ingress-nginx regex mode: every path of the host is `~* "^<path>"`, longest first.

use ::regex::{Regex, RegexBuilder};

use super::{TableError, by_precedence, rule_path};
use crate::table::Route;

/// Upper bound for one compiled regex (and its lazy DFA cache); a larger one is refused.
const SIZE_LIMIT: usize = 1 << 20;

/// Compiles `pattern` case-insensitively (`(?i)` prefix) with the size limits used for
/// every regex that comes from a manifest.
pub(crate) fn case_insensitive(pattern: &str) -> Result<Regex, ::regex::Error> {
    RegexBuilder::new(&format!("(?i){pattern}"))
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .build()
}

/// The routes of one regex-mode host, in the order they are tried.
#[derive(Debug)]
pub(super) struct RegexRoutes {
    routes: Vec<(Regex, usize)>,
}

impl RegexRoutes {
    /// Routes sorted by descending path length, then oldest Ingress, then rule index;
    /// a path that is not a valid regex is reported and skipped.
    pub(super) fn compile(routes: &[Route], errors: &mut Vec<TableError>) -> Self {
        let mut compiled = Vec::with_capacity(routes.len());
        for index in by_precedence(routes, true) {
            let Some(route) = routes.get(index) else {
                continue;
            };
            let path = rule_path(&route.path);
            match case_insensitive(&format!("^{path}")) {
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

    /// The first route whose regex matches `path`.
    pub(super) fn find(&self, path: &str) -> Option<usize> {
        self.routes
            .iter()
            .find(|(regex, _)| regex.is_match(path))
            .map(|&(_, index)| index)
    }
}
