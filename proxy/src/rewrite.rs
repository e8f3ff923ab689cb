//! ingress-nginx `rewrite-target`: whole-path replacement with `$n` captures.

use crate::matcher::TableError;

/// A compiled `rewrite-target` for one route.
#[derive(Debug, Clone)]
pub struct Rewrite {}

impl Rewrite {
    /// Compiles the rewrite of `route_path` (as written in the Ingress) to `target`.
    pub fn compile(_route_path: &str, _target: &str) -> Result<Rewrite, TableError> {
        Ok(Rewrite {})
    }

    /// The upstream path (without query) for the normalised request `path`;
    /// `None` when the route regex does not match (the path is then sent unchanged).
    pub fn apply(&self, _path: &str) -> Option<String> {
        None
    }
}
