//! Header rules at the proxy boundary: hop-by-hop removal (RFC 9110 §7.6.1), forwarding
//! headers and the request ID.

use bytes::BytesMut;
use http::header::{
    CONNECTION, Entry, HeaderMap, HeaderName, HeaderValue, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
};

/// The request ID sent upstream and returned to the client.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The client chain: the client's value(s) with the peer address appended, as one field.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `http` or `https`, as the client spoke to the proxy.
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// The host as the client sent it.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// The listener's local port.
pub const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
/// The peer address.
pub const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Longest client-supplied request ID that is passed on.
const MAX_REQUEST_ID_LEN: usize = 200;

/// The fixed hop-by-hop names; `Connection` may name more.
const HOP_BY_HOP: [HeaderName; 7] = [
    CONNECTION,
    KEEP_ALIVE,
    PROXY_CONNECTION,
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
];

/// Removes hop-by-hop headers and every header named in `Connection`. One scan over the
/// names; the `Connection` value is parsed only when it names more than `close`/`keep-alive`.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let mut present = 0u8;
    for name in headers.keys() {
        if let Some(bit) = HOP_BY_HOP.iter().position(|hop| hop == name) {
            present |= 1 << bit;
        }
    }
    if present == 0 {
        return;
    }
    if present & 1 != 0 {
        let named = connection_named(headers);
        for name in named {
            headers.remove(name);
        }
    }
    for (bit, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << bit) != 0 {
            headers.remove(name);
        }
    }
}

/// Header names listed in `Connection`, other than `close`, `keep-alive` and the fixed set.
fn connection_named(headers: &HeaderMap) -> Vec<HeaderName> {
    let mut named = Vec::new();
    for value in headers.get_all(CONNECTION) {
        for token in value.as_bytes().split(|&b| b == b',') {
            let token = token.trim_ascii();
            if token.is_empty()
                || token.eq_ignore_ascii_case(b"close")
                || token.eq_ignore_ascii_case(b"keep-alive")
            {
                continue;
            }
            if let Ok(name) = HeaderName::from_bytes(token)
                && !HOP_BY_HOP.contains(&name)
            {
                named.push(name);
            }
        }
    }
    named
}

/// The `Upgrade` value when the request asks to switch protocols
/// (`Connection: upgrade` together with `Upgrade`).
pub fn requested_upgrade(headers: &HeaderMap) -> Option<HeaderValue> {
    let upgrade = headers.get(UPGRADE)?;
    let asks = headers.get_all(CONNECTION).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
    });
    asks.then(|| upgrade.clone())
}

/// True when `TE` lists `trailers` (the client accepts trailer fields).
pub fn accepts_trailers(headers: &HeaderMap) -> bool {
    headers.get_all(TE).iter().any(|value| {
        value.as_bytes().split(|&b| b == b',').any(|token| {
            let name = token.split(|&b| b == b';').next().unwrap_or_default();
            name.trim_ascii().eq_ignore_ascii_case(b"trailers")
        })
    })
}

/// Puts `Connection: upgrade` and `Upgrade` back after [`strip_hop_by_hop`].
pub fn restore_upgrade(headers: &mut HeaderMap, upgrade: HeaderValue) {
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, upgrade);
}

/// Per-connection values of the forwarding headers, computed once at accept.
#[derive(Clone, Debug)]
pub struct Forwarded {
    /// The peer IP (`X-Real-IP`, and appended to `X-Forwarded-For`).
    pub peer_ip: HeaderValue,
    /// The listener's local port (`X-Forwarded-Port`).
    pub local_port: HeaderValue,
    /// `http` or `https` (`X-Forwarded-Proto`).
    pub proto: HeaderValue,
}

impl Forwarded {
    /// Values for a connection from `peer` accepted on `local`.
    pub fn new(peer: std::net::SocketAddr, local: std::net::SocketAddr, tls: bool) -> Self {
        let peer_ip = HeaderValue::try_from(peer.ip().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
        Forwarded {
            peer_ip,
            local_port: HeaderValue::from(local.port()),
            proto: HeaderValue::from_static(if tls { "https" } else { "http" }),
        }
    }

    /// Sets `X-Forwarded-*` and `X-Real-IP`. `host` is the host as the client sent it.
    pub fn apply(&self, headers: &mut HeaderMap, host: Option<&HeaderValue>) {
        match headers.entry(X_FORWARDED_FOR) {
            Entry::Vacant(entry) => {
                entry.insert(self.peer_ip.clone());
            }
            Entry::Occupied(mut entry) => {
                let mut joined = BytesMut::new();
                for value in entry.iter() {
                    let value = value.as_bytes().trim_ascii();
                    if !value.is_empty() {
                        joined.extend_from_slice(value);
                        joined.extend_from_slice(b", ");
                    }
                }
                joined.extend_from_slice(self.peer_ip.as_bytes());
                let value = HeaderValue::from_maybe_shared(joined.freeze())
                    .unwrap_or_else(|_| self.peer_ip.clone());
                entry.insert(value);
            }
        }
        headers.insert(X_FORWARDED_PROTO, self.proto.clone());
        match host {
            Some(host) => headers.insert(X_FORWARDED_HOST, host.clone()),
            None => headers.remove(X_FORWARDED_HOST),
        };
        headers.insert(X_FORWARDED_PORT, self.local_port.clone());
        headers.insert(X_REAL_IP, self.peer_ip.clone());
    }
}

/// The request ID: the client's `X-Request-ID` when valid (1–200 visible ASCII
/// characters), else a new one of 32 hex digits, which is then set on `headers`.
pub fn request_id(headers: &mut HeaderMap) -> HeaderValue {
    if let Some(id) = headers.get(X_REQUEST_ID)
        && valid_request_id(id.as_bytes())
        && headers.get_all(X_REQUEST_ID).iter().nth(1).is_none()
    {
        return id.clone();
    }
    let id = new_request_id();
    headers.insert(X_REQUEST_ID, id.clone());
    id
}

fn valid_request_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN && id.iter().all(|b| b.is_ascii_graphic())
}

fn new_request_id() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bits = fastrand::u128(..);
    let mut out = [0u8; 32];
    for digit in out.iter_mut().rev() {
        *digit = HEX[(bits & 0xf) as usize];
        bits >>= 4;
    }
    HeaderValue::from_bytes(&out).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_in_te() {
        let mut headers = HeaderMap::new();
        assert!(!accepts_trailers(&headers));
        headers.insert(TE, HeaderValue::from_static("gzip, Trailers;q=1"));
        assert!(accepts_trailers(&headers));
        headers.insert(TE, HeaderValue::from_static("gzip"));
        assert!(!accepts_trailers(&headers));
    }

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        headers
    }

    #[test]
    fn strips_fixed_and_connection_named_headers() {
        let mut headers = map(&[
            ("connection", "close, X-Secret, keep-alive"),
            ("connection", "x-other"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-sum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-secret", "1"),
            ("x-other", "2"),
            ("x-kept", "3"),
            ("host", "a.example"),
        ]);
        strip_hop_by_hop(&mut headers);
        let names: Vec<&str> = headers.keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["x-kept", "host"]);
    }

    #[test]
    fn leaves_ordinary_headers_alone() {
        let mut headers = map(&[("host", "a"), ("accept", "*/*")]);
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 2);
    }

    #[test]
    fn upgrade_needs_both_headers() {
        let asks = map(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket"),
        ]);
        assert_eq!(
            requested_upgrade(&asks),
            Some(HeaderValue::from_static("websocket"))
        );
        assert_eq!(requested_upgrade(&map(&[("upgrade", "websocket")])), None);
        assert_eq!(requested_upgrade(&map(&[("connection", "upgrade")])), None);
    }

    #[test]
    fn forwarded_for_is_one_field_with_the_peer_last() {
        let fwd = Forwarded::new(
            "10.0.0.7:5555".parse().unwrap_or_else(|_| unreachable!()),
            "127.0.0.1:8080".parse().unwrap_or_else(|_| unreachable!()),
            false,
        );
        let mut headers = map(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "2.2.2.2, 3.3.3.3"),
            ("x-real-ip", "spoofed"),
        ]);
        fwd.apply(
            &mut headers,
            Some(&HeaderValue::from_static("a.example:8080")),
        );
        let xff: Vec<_> = headers.get_all(X_FORWARDED_FOR).iter().collect();
        assert_eq!(xff, ["1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.7"]);
        assert_eq!(headers[X_REAL_IP], "10.0.0.7");
        assert_eq!(headers[X_FORWARDED_PORT], "8080");
        assert_eq!(headers[X_FORWARDED_PROTO], "http");
        assert_eq!(headers[X_FORWARDED_HOST], "a.example:8080");

        let mut fresh = HeaderMap::new();
        fwd.apply(&mut fresh, None);
        assert_eq!(fresh[X_FORWARDED_FOR], "10.0.0.7");
    }

    #[test]
    fn request_id_kept_when_valid_else_generated() {
        let mut headers = map(&[("x-request-id", "abc-123")]);
        assert_eq!(request_id(&mut headers), "abc-123");

        let mut headers = map(&[("x-request-id", "has space")]);
        let id = request_id(&mut headers);
        assert_eq!(id.len(), 32);
        assert!(id.as_bytes().iter().all(u8::is_ascii_hexdigit));
        assert_eq!(headers[X_REQUEST_ID], id);

        let mut empty = HeaderMap::new();
        let first = request_id(&mut empty);
        let mut empty = HeaderMap::new();
        assert_ne!(first, request_id(&mut empty));
    }
}
