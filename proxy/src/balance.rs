//! Round-robin balancing: one cursor per `Backend::name`, kept across table swaps.
//!
//! The [`CursorRegistry`] is touched only at publish time; requests use the
//! [`RoundRobin`] resolved into the compiled table, so the hot path is one `fetch_add`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A round-robin cursor shared by every table version that names the same backend.
#[derive(Clone, Debug, Default)]
pub struct RoundRobin {
    cursor: Arc<AtomicUsize>,
}

impl RoundRobin {
    /// The position to start at among `len` endpoints (`len > 0`), advancing the cursor.
    pub fn next(&self, len: usize) -> usize {
        self.cursor.fetch_add(1, Ordering::Relaxed) % len.max(1)
    }
}

/// Cursors by backend name. [`resolve`](Self::resolve) during a publish, then
/// [`commit`](Self::commit) to drop every cursor the new table no longer names.
#[derive(Debug, Default)]
pub struct CursorRegistry {
    current: HashMap<String, RoundRobin>,
    next: HashMap<String, RoundRobin>,
}

impl CursorRegistry {
    /// The cursor for `backend`, the same one earlier tables used when it existed.
    pub fn resolve(&mut self, backend: &str) -> RoundRobin {
        if let Some(found) = self.next.get(backend) {
            return found.clone();
        }
        let cursor = self.current.remove(backend).unwrap_or_default();
        self.next.insert(backend.to_owned(), cursor.clone());
        cursor
    }

    /// Ends a publish: cursors not resolved since the last commit are dropped.
    pub fn commit(&mut self) {
        let size = self.next.len();
        self.current = std::mem::replace(&mut self.next, HashMap::with_capacity(size));
    }

    /// How many backends currently have a cursor.
    pub fn len(&self) -> usize {
        self.current.len()
    }

    /// True when no backend has a cursor.
    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_through_all_positions() {
        let rr = RoundRobin::default();
        let seen: Vec<usize> = (0..6).map(|_| rr.next(3)).collect();
        assert_eq!(seen, [0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn cursor_survives_commit_and_unused_ones_are_pruned() {
        let mut registry = CursorRegistry::default();
        let a = registry.resolve("ns-a-80");
        let _b = registry.resolve("ns-b-80");
        registry.commit();
        assert_eq!(registry.len(), 2);
        a.next(3);

        let a_again = registry.resolve("ns-a-80");
        registry.commit();
        assert_eq!(registry.len(), 1);
        assert_eq!(a_again.next(3), 1, "the cursor kept its position");
    }

    #[test]
    fn resolving_twice_in_one_publish_shares_the_cursor() {
        let mut registry = CursorRegistry::default();
        let first = registry.resolve("x");
        let second = registry.resolve("x");
        first.next(2);
        assert_eq!(second.next(2), 1);
    }
}
