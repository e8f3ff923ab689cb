//! Request-path normalisation (RFC 3986 §6.2) before matching.
//!
//! ```text
//! /a/%2e%2E/b%7e//c/./%2f  ──decode unreserved, upper-case hex──►  /a/../b~//c/./%2F
//!                          ──collapse '//', remove dot segments──►  /b~/c/%2F
//! ```
//!
//! The normalised path is both what the matcher sees and what goes upstream, so a backend
//! never receives a path that routes differently from how the proxy routed it.

use std::borrow::Cow;

/// Why a request path cannot be routed (→ 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("request path must start with '/'")]
    NotAbsolute,
    #[error("request path has an invalid percent-escape at byte {at}")]
    InvalidEscape { at: usize },
}

/// Normalises a request path (no query): percent-decoding of unreserved characters,
/// upper-case hex in the remaining escapes, `//` collapsing and dot-segment removal
/// (`..` above the root is dropped). Borrows when nothing changes.
pub fn normalize_path(path: &str) -> Result<Cow<'_, str>, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if is_normal(path)? {
        return Ok(Cow::Borrowed(path));
    }
    let decoded = decode_escapes(path)?;
    Ok(Cow::Owned(remove_dot_segments(&decoded)))
}

/// Scans `path` once: `Ok(true)` when it is already normal, an error on a bad escape.
fn is_normal(path: &str) -> Result<bool, PathError> {
    let bytes = path.as_bytes();
    let mut normal = true;
    let mut segment_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let (decoded, lower) = escape_at(bytes, i)?;
                if is_unreserved(decoded) || lower {
                    normal = false;
                }
                i += 3;
                continue;
            }
            b'/' => {
                if i > 0 && is_dot_or_empty(&bytes[segment_start..i]) {
                    normal = false;
                }
                segment_start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    // The last segment may be empty (a trailing slash is kept) but not a dot segment.
    let last = &bytes[segment_start..];
    if last == b"." || last == b".." {
        normal = false;
    }
    Ok(normal)
}

/// An empty, `.` or `..` segment between two slashes (the first byte is the leading '/').
fn is_dot_or_empty(segment: &[u8]) -> bool {
    segment.is_empty() || segment == b"." || segment == b".."
}

/// Decodes `%XY` at `bytes[at]`: the byte value and whether any hex digit was lower-case.
fn escape_at(bytes: &[u8], at: usize) -> Result<(u8, bool), PathError> {
    let invalid = PathError::InvalidEscape { at };
    let hi = bytes.get(at + 1).copied().ok_or(invalid.clone())?;
    let lo = bytes.get(at + 2).copied().ok_or(invalid.clone())?;
    let value = (hex(hi).ok_or(invalid.clone())? << 4) | hex(lo).ok_or(invalid)?;
    Ok((value, hi.is_ascii_lowercase() || lo.is_ascii_lowercase()))
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~".
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Decodes escapes of unreserved characters and upper-cases the hex of the others.
fn decode_escapes(path: &str) -> Result<Cow<'_, str>, PathError> {
    if !path.contains('%') {
        return Ok(Cow::Borrowed(path));
    }
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            i += 1;
            continue;
        }
        // '%' is ASCII, so `copied..i` lies on character boundaries.
        out.push_str(path.get(copied..i).unwrap_or_default());
        let (value, _) = escape_at(bytes, i)?;
        if is_unreserved(value) {
            out.push(char::from(value));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(value >> 4)]));
            out.push(char::from(HEX[usize::from(value & 0xf)]));
        }
        i += 3;
        copied = i;
    }
    out.push_str(path.get(copied..).unwrap_or_default());
    Ok(Cow::Owned(out))
}

/// RFC 3986 §5.2.4 on an absolute path, also collapsing empty segments. A trailing
/// slash (including one left by a final `.` or `..`) is kept.
fn remove_dot_segments(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let rest = path.strip_prefix('/').unwrap_or(path);
    let mut segments = rest.split('/').peekable();
    let mut trailing_slash = false;
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        match segment {
            "" | "." => trailing_slash = last,
            ".." => {
                let keep = out.rfind('/').unwrap_or(0);
                out.truncate(keep);
                trailing_slash = last;
            }
            _ => {
                out.push('/');
                out.push_str(segment);
                trailing_slash = false;
            }
        }
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(path: &str) -> Result<String, PathError> {
        normalize_path(path).map(Cow::into_owned)
    }

    #[test]
    fn dot_segments_are_removed() {
        assert_eq!(norm("/a/./b").as_deref(), Ok("/a/b"));
        assert_eq!(norm("/a/../b").as_deref(), Ok("/b"));
        assert_eq!(norm("/ip/abc/../../uuid").as_deref(), Ok("/uuid"));
        assert_eq!(norm("/a/b/..").as_deref(), Ok("/a/"));
        assert_eq!(norm("/a/b/.").as_deref(), Ok("/a/b/"));
        assert_eq!(norm("/a/..").as_deref(), Ok("/"));
        assert_eq!(norm("/.").as_deref(), Ok("/"));
        assert_eq!(norm("/..").as_deref(), Ok("/"));
    }

    #[test]
    fn dot_dot_above_the_root_is_dropped() {
        assert_eq!(norm("/../a").as_deref(), Ok("/a"));
        assert_eq!(norm("/../../a/../../b").as_deref(), Ok("/b"));
    }

    #[test]
    fn slash_runs_collapse() {
        assert_eq!(norm("//a///b").as_deref(), Ok("/a/b"));
        assert_eq!(norm("////uuid").as_deref(), Ok("/uuid"));
        assert_eq!(norm("/a//").as_deref(), Ok("/a/"));
        assert_eq!(norm("//").as_deref(), Ok("/"));
    }

    #[test]
    fn dots_inside_names_are_kept() {
        assert_eq!(norm("/a.b/..c/.d./...").as_deref(), Ok("/a.b/..c/.d./..."));
        assert!(matches!(
            normalize_path("/a.b/..c/..."),
            Ok(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn encoded_dots_are_decoded_then_removed() {
        assert_eq!(norm("/a/%2e%2E/b").as_deref(), Ok("/b"));
        assert_eq!(norm("/a/%2E/b").as_deref(), Ok("/a/b"));
        assert_eq!(
            norm("/%2e%2e/%2e%2e/etc/passwd").as_deref(),
            Ok("/etc/passwd")
        );
    }

    #[test]
    fn unreserved_escapes_are_decoded() {
        assert_eq!(norm("/%41%7a%30%2D%5f%7E").as_deref(), Ok("/Az0-_~"));
    }

    #[test]
    fn reserved_escapes_are_kept_with_upper_case_hex() {
        assert_eq!(norm("/a%2fb").as_deref(), Ok("/a%2Fb"));
        assert_eq!(norm("/a%2Fb").as_deref(), Ok("/a%2Fb"));
        assert_eq!(norm("/%e2%82%ac").as_deref(), Ok("/%E2%82%AC"));
        assert_eq!(norm("/a%2f..").as_deref(), Ok("/a%2F.."));
    }

    #[test]
    fn bad_escapes_are_errors() {
        assert_eq!(norm("/a%zz"), Err(PathError::InvalidEscape { at: 2 }));
        assert_eq!(norm("/a%2"), Err(PathError::InvalidEscape { at: 2 }));
        assert_eq!(norm("/a%"), Err(PathError::InvalidEscape { at: 2 }));
        assert_eq!(norm("/%g0/"), Err(PathError::InvalidEscape { at: 1 }));
        // Also when the rest of the path would need rewriting.
        assert_eq!(norm("/a/../%x1"), Err(PathError::InvalidEscape { at: 6 }));
    }

    #[test]
    fn relative_paths_are_errors() {
        assert_eq!(norm(""), Err(PathError::NotAbsolute));
        assert_eq!(norm("a/b"), Err(PathError::NotAbsolute));
        assert_eq!(norm("*"), Err(PathError::NotAbsolute));
    }

    #[test]
    fn normal_paths_are_borrowed() {
        for path in [
            "/",
            "/a",
            "/a/",
            "/a/b.c",
            "/a%2Fb",
            "/%E2%82%AC",
            "/x?not-a-query",
        ] {
            let normalized = normalize_path(path);
            assert!(
                matches!(normalized, Ok(Cow::Borrowed(p)) if p == path),
                "{path}: {normalized:?}"
            );
        }
    }

    #[test]
    fn changed_paths_are_owned() {
        for path in ["/a/./b", "//a", "/%7e", "/%2f", "/a/.."] {
            assert!(matches!(normalize_path(path), Ok(Cow::Owned(_))), "{path}");
        }
    }

    #[test]
    fn non_ascii_is_kept() {
        assert_eq!(norm("/é/./ü//%41").as_deref(), Ok("/é/ü/A"));
    }

    #[test]
    fn normalisation_is_idempotent_and_never_panics() {
        const PIECES: [&str; 14] = [
            "/", "//", ".", "..", "a", "%2e", "%2E", "%2f", "%41", "%", "%z", "%4", "é", "~",
        ];
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..5000 {
            let path: String = (0..rng.usize(0..8))
                .map(|_| PIECES[rng.usize(0..PIECES.len())])
                .collect();
            let Ok(once) = normalize_path(&path) else {
                continue;
            };
            assert!(once.starts_with('/'), "{path:?} → {once:?}");
            assert!(!once.contains("//"), "{path:?} → {once:?}");
            let segments: Vec<&str> = once.split('/').collect();
            assert!(
                !segments.contains(&".") && !segments.contains(&".."),
                "{path:?} → {once:?}"
            );
            let twice = normalize_path(&once);
            assert!(
                matches!(&twice, Ok(Cow::Borrowed(p)) if *p == once),
                "{path:?} → {once:?} → {twice:?}"
            );
        }
    }
}
