//! Request → route lookup, compiled once per published table (DESIGN.md "Semantics").

use crate::table::RouteTable;

/// Where a request goes, as indexes into the [`RouteTable`] it was compiled from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `table.virtual_hosts[vhost].routes[route]`.
    Route { vhost: usize, route: usize },
    /// `table.virtual_hosts[vhost].default_backend`.
    HostDefault { vhost: usize },
    /// `table.default_backend`.
    ListenerDefault,
}

/// A table entry the matcher could not use; the entry is skipped, the rest still serves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("invalid path regex {path:?} from {source_key}: {reason}")]
    InvalidRegex {
        path: String,
        source_key: String,
        reason: String,
    },
}

/// Compiled matcher for one table version.
#[derive(Debug, Default)]
pub struct Matcher {}

impl Matcher {
    /// Compiles `table`; entries that cannot be used are reported and skipped.
    pub fn compile(_table: &RouteTable) -> (Matcher, Vec<TableError>) {
        (Matcher {}, Vec::new())
    }

    /// Finds the target for a request. `host` is already normalised by
    /// [`crate::authority`] (ASCII lower-case, no port, no trailing dot) and `path` by
    /// [`crate::normalize`]. `None` → 404.
    pub fn find(&self, _host: &str, _path: &str) -> Option<Target> {
        None
    }
}
