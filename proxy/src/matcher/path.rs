//! `Exact` and `Prefix` paths of a non-regex host, as one `matchit` tree.
//!
//! ```text
//! Exact  /foo       →  "/foo"
//! Prefix /foo[/]    →  "/foo"  "/foo/"  "/foo/{*rest}"      (the catch-all needs a non-empty rest)
//! Prefix /          →  "/"  "/{*rest}"
//! ```
//!
//! Routes are registered best first, so the first route to claim a pattern is the one
//! that pattern serves. For a normalised request path (no `//`) the tree's own choice is
//! then the precedence winner: a static pattern equal to the path comes from a rule at
//! least `len(path) - 1` long, while a catch-all `q/{*rest}` with a non-empty rest comes
//! from a rule at most `len(q) + 1 < len(path)` long, and the deepest catch-all (which
//! matchit tries first) belongs to the longest rule.

use matchit::Router;

use super::{TableError, by_precedence, rule_path};
use crate::table::{PathKind, Route};

/// The compiled paths of one host; values are route indexes.
#[derive(Debug, Default)]
pub(super) struct PathRouter {
    router: Router<usize>,
}

impl PathRouter {
    /// Registers every route, best first. A route whose patterns cannot be inserted is
    /// reported and skipped as a whole.
    pub(super) fn compile(routes: &[Route], errors: &mut Vec<TableError>) -> Self {
        let mut router = Router::new();
        let mut claimed = std::collections::HashSet::new();
        for index in by_precedence(routes, false) {
            let Some(route) = routes.get(index) else {
                continue;
            };
            let path = rule_path(&route.path);
            let invalid = |reason: String| TableError::InvalidPath {
                path: route.path.path.clone(),
                source_key: route.source.key(),
                reason,
            };
            if !path.starts_with('/') {
                errors.push(invalid("a path must start with '/'".to_owned()));
                continue;
            }
            let mut inserted = Vec::new();
            let mut failure = None;
            for pattern in patterns(route.path.kind, path) {
                if claimed.contains(&pattern) {
                    continue;
                }
                match router.insert(pattern.clone(), index) {
                    Ok(()) => inserted.push(pattern),
                    Err(err) => {
                        failure = Some(err);
                        break;
                    }
                }
            }
            match failure {
                None => claimed.extend(inserted),
                Some(err) => {
                    for pattern in inserted {
                        router.remove(pattern);
                    }
                    errors.push(invalid(err.to_string()));
                }
            }
        }
        PathRouter { router }
    }

    /// The route serving the normalised request `path`.
    pub(super) fn find(&self, path: &str) -> Option<usize> {
        self.router.at(path).ok().map(|found| *found.value)
    }
}

/// The matchit patterns of one rule (see the module docs), with `{` and `}` escaped.
fn patterns(kind: PathKind, path: &str) -> Vec<String> {
    let escaped = path.replace('{', "{{").replace('}', "}}");
    match kind {
        PathKind::Exact => vec![escaped],
        PathKind::Prefix | PathKind::ImplementationSpecific if escaped == "/" => {
            vec![escaped, "/{*rest}".to_owned()]
        }
        PathKind::Prefix | PathKind::ImplementationSpecific => {
            let trimmed = escaped.strip_suffix('/').unwrap_or(&escaped);
            vec![
                trimmed.to_owned(),
                format!("{trimmed}/"),
                format!("{trimmed}/{{*rest}}"),
            ]
        }
    }
}
