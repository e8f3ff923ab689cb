//! The routing host of a request: absolute-form authority, else `Host`/`:authority`.
//!
//! ```text
//! URI authority?  (absolute-form in HTTP/1.1, :authority in HTTP/2; hyper puts both in the URI)
//!   yes → route by it; Host must still be one valid field in HTTP/1.1 (RFC 9112 §3.2),
//!         and in HTTP/2 an extra Host must name the same host (RFC 9113 §8.3.1)
//!   no  → exactly one valid Host (RFC 9110 §7.2); HTTP/1.0 may omit it → ""
//! ```
//!
//! Anything ambiguous is an error, answered with 400, so a backend never sees a host
//! other than the one the request was routed by.

use std::borrow::Cow;

use http::{HeaderMap, Version, header::HOST};

/// Why a request has no usable host (→ 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("missing Host header")]
    Missing,
    #[error("more than one Host header")]
    Duplicate,
    #[error("empty Host header")]
    Empty,
    #[error("invalid host")]
    Invalid,
    #[error("userinfo in the request authority")]
    UserInfo,
    #[error("Host header differs from :authority")]
    Mismatch,
}

/// The normalised routing host (ASCII lower-case, without port and one trailing dot).
/// `Ok("")` only for an HTTP/1.0 request without `Host`.
pub fn routing_host<B>(req: &http::Request<B>) -> Result<Cow<'_, str>, HostError> {
    let field = host_field(req.headers())?;
    let version = req.version();
    let Some(authority) = req.uri().authority() else {
        return match field {
            Some(field) => parse_authority(field),
            None if version <= Version::HTTP_10 => Ok(Cow::Borrowed("")),
            None => Err(HostError::Missing),
        };
    };
    let authority = authority.as_str();
    if authority.contains('@') {
        return Err(HostError::UserInfo);
    }
    let host = parse_authority(authority)?;
    match field {
        Some(field) => {
            let named = parse_authority(field)?;
            if version >= Version::HTTP_2 && named != host {
                return Err(HostError::Mismatch);
            }
        }
        None if version == Version::HTTP_11 => return Err(HostError::Missing),
        None => {}
    }
    Ok(host)
}

/// The single `Host` field value, `None` when absent.
fn host_field(headers: &HeaderMap) -> Result<Option<&str>, HostError> {
    let mut values = headers.get_all(HOST).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(HostError::Duplicate);
    }
    if value.is_empty() {
        return Err(HostError::Empty);
    }
    value.to_str().map(Some).map_err(|_| HostError::Invalid)
}

/// `host [":" port]` where host is a reg-name of unreserved characters (which covers DNS
/// names and IPv4), or an `[IPv6]` literal; port is digits only.
fn parse_authority(authority: &str) -> Result<Cow<'_, str>, HostError> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']').ok_or(HostError::Invalid)?;
        let (literal, rest) = authority.split_at(end + 1);
        let inner = literal
            .get(1..literal.len() - 1)
            .ok_or(HostError::Invalid)?;
        inner
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| HostError::Invalid)?;
        let port = match rest {
            "" => None,
            _ => Some(rest.strip_prefix(':').ok_or(HostError::Invalid)?),
        };
        (literal, port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if port.is_some_and(|p| !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(HostError::Invalid);
    }
    let host = if host.starts_with('[') {
        host
    } else {
        let host = host.strip_suffix('.').unwrap_or(host);
        if host.is_empty() || !host.bytes().all(is_reg_name_byte) {
            return Err(HostError::Invalid);
        }
        host
    };
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Ok(Cow::Owned(host.to_ascii_lowercase()))
    } else {
        Ok(Cow::Borrowed(host))
    }
}

/// RFC 3986 unreserved characters. Sub-delimiters and percent-escapes are refused: no
/// DNS name uses them, and they would give one host several spellings.
fn is_reg_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn with_hosts(version: Version, hosts: &[&str]) -> Request<()> {
        let mut builder = Request::get("/path").version(version);
        for host in hosts {
            builder = builder.header(HOST, *host);
        }
        builder.body(()).expect("valid test request")
    }

    fn host_of(hosts: &[&str]) -> Result<String, HostError> {
        routing_host(&with_hosts(Version::HTTP_11, hosts)).map(Cow::into_owned)
    }

    #[test]
    fn host_header_is_lower_cased_without_port_and_trailing_dot() {
        assert_eq!(host_of(&["foo.bar.com"]).as_deref(), Ok("foo.bar.com"));
        assert_eq!(host_of(&["Foo.BAR.com"]).as_deref(), Ok("foo.bar.com"));
        assert_eq!(host_of(&["foo.bar.com:8080"]).as_deref(), Ok("foo.bar.com"));
        assert_eq!(host_of(&["foo.bar.com."]).as_deref(), Ok("foo.bar.com"));
        assert_eq!(host_of(&["FOO.bar.com.:80"]).as_deref(), Ok("foo.bar.com"));
        assert_eq!(host_of(&["10.0.0.1:80"]).as_deref(), Ok("10.0.0.1"));
        assert_eq!(host_of(&["[::1]:8443"]).as_deref(), Ok("[::1]"));
        assert_eq!(host_of(&["[FE80::1]"]).as_deref(), Ok("[fe80::1]"));
        assert_eq!(host_of(&["my_host"]).as_deref(), Ok("my_host"));
        assert_eq!(host_of(&["host:"]).as_deref(), Ok("host"));
    }

    #[test]
    fn lower_case_host_is_borrowed() {
        let req = with_hosts(Version::HTTP_11, &["foo.com:80"]);
        assert!(matches!(routing_host(&req), Ok(Cow::Borrowed("foo.com"))));
        let req = with_hosts(Version::HTTP_11, &["Foo.com"]);
        assert!(matches!(routing_host(&req), Ok(Cow::Owned(h)) if h == "foo.com"));
    }

    #[test]
    fn missing_host_is_an_error_except_for_http_1_0() {
        assert_eq!(host_of(&[]), Err(HostError::Missing));
        let req = with_hosts(Version::HTTP_2, &[]);
        assert_eq!(routing_host(&req), Err(HostError::Missing));
        let req = with_hosts(Version::HTTP_10, &[]);
        assert_eq!(routing_host(&req).as_deref(), Ok(""));
    }

    #[test]
    fn duplicate_host_is_an_error() {
        assert_eq!(host_of(&["a.com", "a.com"]), Err(HostError::Duplicate));
        assert_eq!(host_of(&["a.com", "b.com"]), Err(HostError::Duplicate));
    }

    #[test]
    fn empty_host_is_an_error() {
        assert_eq!(host_of(&[""]), Err(HostError::Empty));
    }

    #[test]
    fn invalid_hosts_are_errors() {
        for host in [
            "a b.com",
            "a.com:80:80",
            "a.com:http",
            ":80",
            ".",
            "a.com/x",
            "a.com@b.com",
            "a%2ecom",
            "a,b.com",
            "[::1",
            "[::1]x",
            "[zz::1]",
            "[::1]:8a",
            "é.com",
        ] {
            assert_eq!(host_of(&[host]), Err(HostError::Invalid), "{host:?}");
        }
    }

    #[test]
    fn absolute_form_authority_wins_over_host() {
        let req = Request::get("http://Target.COM:8080/x")
            .header(HOST, "other.com")
            .body(())
            .expect("valid test request");
        assert_eq!(routing_host(&req).as_deref(), Ok("target.com"));
    }

    #[test]
    fn absolute_form_still_needs_one_valid_host_in_http_1_1() {
        let req = |hosts: &[&str]| {
            let mut builder = Request::get("http://target.com/x");
            for host in hosts {
                builder = builder.header(HOST, *host);
            }
            builder.body(()).expect("valid test request")
        };
        assert_eq!(routing_host(&req(&[])), Err(HostError::Missing));
        assert_eq!(routing_host(&req(&["a b"])), Err(HostError::Invalid));
        assert_eq!(routing_host(&req(&[""])), Err(HostError::Empty));
        assert_eq!(routing_host(&req(&["a", "b"])), Err(HostError::Duplicate));
        let http10 = Request::get("http://target.com/x")
            .version(Version::HTTP_10)
            .body(())
            .expect("valid test request");
        assert_eq!(routing_host(&http10).as_deref(), Ok("target.com"));
    }

    #[test]
    fn http2_host_must_name_the_authority_host() {
        let req = |host: &str| {
            Request::get("https://h2.example.com/x")
                .version(Version::HTTP_2)
                .header(HOST, host)
                .body(())
                .expect("valid test request")
        };
        assert_eq!(
            routing_host(&req("H2.example.com:443")).as_deref(),
            Ok("h2.example.com")
        );
        assert_eq!(routing_host(&req("other.com")), Err(HostError::Mismatch));
        assert_eq!(routing_host(&req("a b")), Err(HostError::Invalid));
    }

    #[test]
    fn http2_without_authority_uses_host() {
        let req = Request::get("/x")
            .version(Version::HTTP_2)
            .header(HOST, "Via-Host.com")
            .body(())
            .expect("valid test request");
        assert_eq!(routing_host(&req).as_deref(), Ok("via-host.com"));
    }

    #[test]
    fn non_utf8_host_is_invalid() {
        let value = http::HeaderValue::from_bytes(b"caf\xe9.com").expect("valid header bytes");
        let req = Request::get("/x")
            .header(HOST, value)
            .body(())
            .expect("valid test request");
        assert_eq!(routing_host(&req), Err(HostError::Invalid));
    }

    #[test]
    fn http2_authority_is_used() {
        let req = Request::get("https://h2.example.com/x")
            .version(Version::HTTP_2)
            .body(())
            .expect("valid test request");
        assert_eq!(routing_host(&req).as_deref(), Ok("h2.example.com"));
    }

    #[test]
    fn userinfo_is_refused() {
        let req = Request::get("http://user:pw@target.com/x")
            .body(())
            .expect("valid test request");
        assert_eq!(routing_host(&req), Err(HostError::UserInfo));
    }
}
