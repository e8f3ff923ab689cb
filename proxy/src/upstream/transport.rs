//! How one backend's endpoints are spoken to (`backend-protocol`): HTTP/1.1 or HTTP/2,
//! over TCP or TLS. Built once per endpoint pool, at publish.

use std::io;
use std::net::SocketAddr;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::table::{UpstreamProtocol, UpstreamTls};
use crate::tls::{self, ALPN_H2, ALPN_HTTP11, TlsError};

/// The wire protocol towards an endpoint.
#[derive(Clone)]
pub(crate) enum Transport {
    /// HTTP/1.1 over TCP, pooled keep-alive connections.
    Http1,
    /// HTTP/1.1 over TLS, pooled keep-alive connections.
    Http1Tls(TlsTarget),
    /// HTTP/2 prior knowledge over TCP, one multiplexed connection.
    Http2,
    /// HTTP/2 over TLS (ALPN `h2`), one multiplexed connection.
    Http2Tls(TlsTarget),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Http1 => "http1",
            Transport::Http1Tls(_) => "http1+tls",
            Transport::Http2 => "http2",
            Transport::Http2Tls(_) => "http2+tls",
        })
    }
}

/// TLS towards a backend: the client configuration and the fixed SNI name, if any.
#[derive(Clone)]
pub(crate) struct TlsTarget {
    connector: TlsConnector,
    /// `proxy-ssl-name`; `None` → the request host.
    server_name: Option<ServerName<'static>>,
}

impl Transport {
    /// The transport for `protocol`; fails when its TLS settings are unusable.
    pub(crate) fn new(protocol: &UpstreamProtocol) -> Result<Self, TlsError> {
        Ok(match protocol {
            UpstreamProtocol::Http => Transport::Http1,
            UpstreamProtocol::Https(tls) => Transport::Http1Tls(TlsTarget::new(tls, ALPN_HTTP11)?),
            UpstreamProtocol::Grpc => Transport::Http2,
            UpstreamProtocol::Grpcs(tls) => Transport::Http2Tls(TlsTarget::new(tls, ALPN_H2)?),
        })
    }

    /// True for HTTP/2 transports.
    pub(crate) fn is_http2(&self) -> bool {
        matches!(self, Transport::Http2 | Transport::Http2Tls(_))
    }

    /// The TLS settings, for TLS transports.
    pub(crate) fn tls(&self) -> Option<&TlsTarget> {
        match self {
            Transport::Http1Tls(tls) | Transport::Http2Tls(tls) => Some(tls),
            Transport::Http1 | Transport::Http2 => None,
        }
    }

    /// True when a connection is bound to the request host (TLS with the host as SNI), so
    /// that pooled connections must only be reused for the same host.
    pub(crate) fn per_host(&self) -> bool {
        self.tls().is_some_and(|tls| tls.server_name.is_none())
    }

    /// `http` or `https`, for the URI of HTTP/2 requests.
    pub(crate) fn scheme(&self) -> http::uri::Scheme {
        match self.tls() {
            Some(_) => http::uri::Scheme::HTTPS,
            None => http::uri::Scheme::HTTP,
        }
    }
}

impl TlsTarget {
    fn new(settings: &UpstreamTls, alpn: &[u8]) -> Result<Self, TlsError> {
        let config = tls::client_config(settings, &[alpn])?;
        let server_name = match &settings.server_name {
            None => None,
            Some(name) => Some(
                ServerName::try_from(name.clone())
                    .map_err(|_| TlsError::InvalidServerName(name.clone()))?,
            ),
        };
        Ok(TlsTarget {
            connector: TlsConnector::from(config),
            server_name,
        })
    }

    /// Runs the TLS handshake on `stream`. The SNI (and verified) name is the configured
    /// one, else `host`, else the endpoint address.
    pub(crate) async fn connect(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
        host: Option<&str>,
    ) -> io::Result<TlsStream<TcpStream>> {
        let name = match (&self.server_name, host) {
            (Some(name), _) => name.clone(),
            (None, Some(host)) => ServerName::try_from(host.to_owned())
                .unwrap_or_else(|_| ServerName::IpAddress(addr.ip().into())),
            (None, None) => ServerName::IpAddress(addr.ip().into()),
        };
        self.connector.connect(name, stream).await
    }
}
