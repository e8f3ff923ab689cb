//! Validation of rule hosts and paths, as the Kubernetes API server does it.

use proxy::table::{HostPattern, PathKind};

/// Longest DNS-1123 subdomain.
const MAX_HOST_LEN: usize = 253;

/// The host pattern of a rule's `host` field. Empty or absent → [`HostPattern::Any`];
/// `*.foo.com` → `Wildcard("foo.com")`; anything else must be a DNS-1123 subdomain (compared
/// lower-case) and not an IP address.
pub fn host_pattern(host: Option<&str>) -> Result<HostPattern, String> {
    let Some(host) = host.filter(|h| !h.is_empty()) else {
        return Ok(HostPattern::Any);
    };
    let lower = host.to_ascii_lowercase();
    if let Some(suffix) = lower.strip_prefix("*.") {
        return if is_dns1123_subdomain(suffix) && lower.len() <= MAX_HOST_LEN {
            Ok(HostPattern::Wildcard(suffix.to_owned()))
        } else {
            Err(format!(
                "host {host:?} is not a wildcard DNS-1123 subdomain ('*' must be the whole first label)"
            ))
        };
    }
    if is_ip_address(&lower) {
        return Err(format!(
            "host {host:?} must be a DNS name, not an IP address"
        ));
    }
    if !is_dns1123_subdomain(&lower) {
        return Err(format!(
            "host {host:?} is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253 characters)"
        ));
    }
    Ok(HostPattern::Exact(lower))
}

/// A host pattern as written in an Ingress, quoted: `"a.example"`, `"*.example"`.
pub fn host_label(host: &HostPattern) -> String {
    match host {
        HostPattern::Exact(h) => format!("{h:?}"),
        HostPattern::Wildcard(suffix) => format!("\"*.{suffix}\""),
        HostPattern::Any => "\"\" (any host)".to_owned(),
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`, at most 253 bytes.
fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_HOST_LEN
        && s.split('.').all(|label| {
            let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
            let bytes = label.as_bytes();
            match (bytes.first(), bytes.last()) {
                (Some(&first), Some(&last)) => {
                    alnum(first) && alnum(last) && bytes.iter().all(|&b| alnum(b) || b == b'-')
                }
                _ => false,
            }
        })
}

/// A dotted-quad IPv4 address (leading zeros allowed, as Go's sloppy parser does) or
/// anything that parses as an IPv6 address.
fn is_ip_address(s: &str) -> bool {
    let quad = s.split('.').count() == 4
        && s.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && part.parse::<u16>().is_ok_and(|n| n <= 255)
        });
    quad || s.parse::<std::net::Ipv6Addr>().is_ok()
}

/// The `pathType` of a path.
pub fn path_kind(path_type: &str) -> Result<PathKind, String> {
    match path_type {
        "Exact" => Ok(PathKind::Exact),
        "Prefix" => Ok(PathKind::Prefix),
        "ImplementationSpecific" => Ok(PathKind::ImplementationSpecific),
        "" => Err("pathType must be specified".to_owned()),
        other => Err(format!(
            "pathType {other:?} is not one of Exact, Prefix, ImplementationSpecific"
        )),
    }
}

const INVALID_SEQUENCES: [&str; 5] = ["//", "/./", "/../", "%2f", "%2F"];
const INVALID_SUFFIXES: [&str; 2] = ["/..", "/."];

/// Kubernetes path validation: `Exact` and `Prefix` paths are absolute and free of `//`,
/// dot segments and encoded slashes; `ImplementationSpecific` paths are empty or absolute.
pub fn path(kind: PathKind, path: &str) -> Result<(), String> {
    match kind {
        PathKind::ImplementationSpecific if path.is_empty() || path.starts_with('/') => Ok(()),
        PathKind::ImplementationSpecific => {
            Err(format!("path {path:?} must be empty or start with '/'"))
        }
        PathKind::Exact | PathKind::Prefix => {
            if !path.starts_with('/') {
                return Err(format!("path {path:?} must be an absolute path"));
            }
            if let Some(seq) = INVALID_SEQUENCES.iter().find(|s| path.contains(*s)) {
                return Err(format!("path {path:?} must not contain {seq:?}"));
            }
            if let Some(suffix) = INVALID_SUFFIXES.iter().find(|s| path.ends_with(*s)) {
                return Err(format!("path {path:?} must not end with {suffix:?}"));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let exact = |h: &str| HostPattern::Exact(h.to_owned());
        assert_eq!(host_pattern(None), Ok(HostPattern::Any));
        assert_eq!(host_pattern(Some("")), Ok(HostPattern::Any));
        assert_eq!(host_pattern(Some("Foo.Bar.com")), Ok(exact("foo.bar.com")));
        assert_eq!(host_pattern(Some("a-1.b")), Ok(exact("a-1.b")));
        assert_eq!(host_pattern(Some("1.2.3.999")), Ok(exact("1.2.3.999")));
        assert_eq!(
            host_pattern(Some("*.foo.com")),
            Ok(HostPattern::Wildcard("foo.com".to_owned()))
        );
        for bad in [
            "*",
            "*.",
            "foo.*.com",
            "a*.foo.com",
            "foo.com.",
            ".foo",
            "-a.com",
            "a-.com",
            "a_b.com",
            "a..b",
            "foo.com:80",
            "1.2.3.4",
            "010.1.1.1",
            "::1",
            "[::1]",
            "é.com",
            "a b",
        ] {
            assert!(host_pattern(Some(bad)).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}.com", "a".repeat(250));
        assert!(host_pattern(Some(&long)).is_err());
    }

    #[test]
    fn paths() {
        use PathKind::*;
        for ok in ["/", "/foo", "/foo/", "/a.b/c..d", "/%2e"] {
            assert_eq!(path(Exact, ok), Ok(()), "{ok}");
            assert_eq!(path(Prefix, ok), Ok(()), "{ok}");
        }
        for bad in [
            "", "foo", "//", "/a//b", "/a/./b", "/a/../b", "/a%2fb", "/a%2Fb", "/a/..", "/a/.",
        ] {
            assert!(path(Exact, bad).is_err(), "{bad:?}");
            assert!(path(Prefix, bad).is_err(), "{bad:?}");
        }
        for ok in ["", "/", "/something(/|$)(.*)", "//", "/a/.."] {
            assert_eq!(path(ImplementationSpecific, ok), Ok(()), "{ok}");
        }
        assert!(path(ImplementationSpecific, "foo").is_err());
    }

    #[test]
    fn path_kinds() {
        assert_eq!(path_kind("Prefix"), Ok(PathKind::Prefix));
        assert!(path_kind("").is_err());
        assert!(path_kind("prefix").is_err());
    }
}
