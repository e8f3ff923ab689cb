//! ingress-nginx `rewrite-target`: whole-path replacement with `$n` captures.
//!
//! ingress-nginx emits `rewrite "(?i)<path>" <target> break;`: the route path is an
//! unanchored, case-insensitive regex; when it matches, the whole path becomes `target`
//! with `$0`…`$9` replaced by the captures. The query string is kept by the caller.

use regex::Regex;

use crate::matcher::{RegexCache, TableError};

/// A compiled `rewrite-target` for one route.
#[derive(Debug, Clone)]
pub struct Rewrite {
    regex: Regex,
    template: Vec<Piece>,
}

/// One part of a target template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    /// `$n`: capture group `n` (0 = the whole match); empty when it did not participate.
    Group(usize),
}

impl Rewrite {
    /// Compiles the rewrite of `route_path` (as written in the Ingress) to `target`.
    /// An empty route path means `/`.
    pub fn compile(route_path: &str, target: &str) -> Result<Rewrite, TableError> {
        Rewrite::compile_cached(route_path, target, &mut RegexCache::default())
    }

    /// [`compile`](Self::compile), taking the route regex from `cache`.
    pub fn compile_cached(
        route_path: &str,
        target: &str,
        cache: &mut RegexCache,
    ) -> Result<Rewrite, TableError> {
        let pattern = if route_path.is_empty() {
            "/"
        } else {
            route_path
        };
        let regex = cache
            .get(pattern)
            .map_err(|err| TableError::InvalidRewrite {
                path: route_path.to_owned(),
                target: target.to_owned(),
                reason: err.to_string(),
            })?;
        Ok(Rewrite {
            regex,
            template: parse_template(target),
        })
    }

    /// The upstream path (without query) for the normalised request `path`;
    /// `None` when the route regex does not match (the path is then sent unchanged).
    pub fn apply(&self, path: &str) -> Option<String> {
        let captures = self.regex.captures(path)?;
        let mut out = String::with_capacity(path.len());
        for piece in &self.template {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Group(n) => out.push_str(captures.get(*n).map_or("", |m| m.as_str())),
            }
        }
        if !out.starts_with('/') {
            out.insert(0, '/');
        }
        Some(out)
    }
}

/// Splits `target` at `$<digit>`; a `$` not followed by a digit is literal.
fn parse_template(target: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = target.chars().peekable();
    while let Some(c) = chars.next() {
        let group = match (c, chars.peek().and_then(|d| d.to_digit(10))) {
            ('$', Some(n)) => n,
            _ => {
                literal.push(c);
                continue;
            }
        };
        chars.next();
        if !literal.is_empty() {
            pieces.push(Piece::Literal(std::mem::take(&mut literal)));
        }
        pieces.push(Piece::Group(group as usize));
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(route_path: &str, target: &str, path: &str) -> Option<String> {
        Rewrite::compile(route_path, target)
            .expect("valid rewrite")
            .apply(path)
    }

    // mission-anchors §2.3: `/something(/|$)(.*)`, use-regex, rewrite-target `/$2`.
    const SOMETHING: &str = "/something(/|$)(.*)";

    #[test]
    fn rewrite_bar_com_something_becomes_root() {
        assert_eq!(
            rewrite(SOMETHING, "/$2", "/something").as_deref(),
            Some("/")
        );
    }

    #[test]
    fn rewrite_bar_com_something_slash_becomes_root() {
        assert_eq!(
            rewrite(SOMETHING, "/$2", "/something/").as_deref(),
            Some("/")
        );
    }

    #[test]
    fn rewrite_bar_com_something_new_becomes_new() {
        assert_eq!(
            rewrite(SOMETHING, "/$2", "/something/new").as_deref(),
            Some("/new")
        );
    }

    #[test]
    fn rewrite_is_case_insensitive() {
        assert_eq!(
            rewrite(SOMETHING, "/$2", "/SOMETHING/new").as_deref(),
            Some("/new")
        );
    }

    #[test]
    fn something_else_does_not_match() {
        assert_eq!(rewrite(SOMETHING, "/$2", "/somethingelse"), None);
    }

    #[test]
    fn rewrite_target_root_replaces_the_whole_path() {
        assert_eq!(rewrite("/foo", "/", "/foo/bar").as_deref(), Some("/"));
        assert_eq!(rewrite("/foo", "/", "/foo").as_deref(), Some("/"));
    }

    #[test]
    fn rewrite_target_implies_a_case_insensitive_regex() {
        assert_eq!(
            rewrite("/[abc]", "/uuid", "/ABCdef").as_deref(),
            Some("/uuid")
        );
    }

    #[test]
    fn regex_is_unanchored() {
        assert_eq!(
            rewrite("/foo", "/x$0", "/bar/foo/baz").as_deref(),
            Some("/x/foo")
        );
        assert_eq!(rewrite("/foo", "/x", "/bar"), None);
    }

    #[test]
    fn dollar_zero_is_the_whole_match() {
        assert_eq!(rewrite("/a(b)", "$0-$1", "/ab").as_deref(), Some("/ab-b"));
    }

    #[test]
    fn missing_and_unmatched_groups_are_empty() {
        assert_eq!(
            rewrite("/a(x)?(b)", "/$1|$2|$7", "/ab").as_deref(),
            Some("/|b|")
        );
    }

    #[test]
    fn dollar_without_digit_is_literal() {
        assert_eq!(rewrite("/a", "/$x/$/a$", "/a").as_deref(), Some("/$x/$/a$"));
    }

    #[test]
    fn only_one_digit_is_a_group() {
        assert_eq!(rewrite("/(a)", "/$10", "/a").as_deref(), Some("/a0"));
    }

    #[test]
    fn result_gets_a_leading_slash() {
        assert_eq!(
            rewrite(SOMETHING, "$2", "/something/new").as_deref(),
            Some("/new")
        );
        assert_eq!(rewrite(SOMETHING, "$2", "/something").as_deref(), Some("/"));
    }

    #[test]
    fn empty_route_path_means_root() {
        assert_eq!(rewrite("", "/app$0", "/x").as_deref(), Some("/app/"));
    }

    #[test]
    fn invalid_regex_is_a_table_error() {
        let err = Rewrite::compile("/(", "/$1").map(|_| ());
        assert!(
            matches!(&err, Err(TableError::InvalidRewrite { path, .. }) if path == "/("),
            "{err:?}"
        );
    }
}
