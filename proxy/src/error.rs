//! `ProxyError` and the one place an error becomes an HTTP status.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};

use crate::authority::HostError;
use crate::headers::X_REQUEST_ID;
use crate::normalize::PathError;
use crate::upstream::ProxyBody;

/// Everything that can go wrong while proxying one request.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The request has no usable routing host (missing, empty, duplicated or invalid).
    #[error("bad host: {0}")]
    BadHost(#[from] HostError),
    /// The request path cannot be normalised.
    #[error("bad path: {0}")]
    BadPath(#[from] PathError),
    /// The message framing is ambiguous (e.g. Content-Length with Transfer-Encoding).
    #[error("ambiguous message framing")]
    BadFraming,
    /// No route, host default or listener default matches the request.
    #[error("no route")]
    NoRoute,
    /// The route's backend could not be resolved; `reason` is for logs only.
    #[error("backend unavailable: {reason}")]
    Unavailable { reason: String },
    /// The backend exists but has no endpoints.
    #[error("no endpoints for {backend}")]
    NoEndpoints { backend: String },
    /// Every connection attempt failed before any request byte was sent.
    #[error("could not connect to an upstream endpoint: {0}")]
    Connect(std::io::Error),
    /// The upstream connection failed while sending or receiving.
    #[error("upstream failed: {0}")]
    Upstream(#[from] hyper::Error),
    /// The upstream answered with something the proxy cannot pass on.
    #[error("bad upstream response: {0}")]
    BadResponse(&'static str),
    /// The response head did not arrive within the response timeout.
    #[error("upstream response timed out")]
    UpstreamTimeout,
    /// The proxy produced something it cannot send (e.g. a rewrite yielded an invalid URI).
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl ProxyError {
    /// The status code the client receives for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::BadHost(_) | ProxyError::BadPath(_) | ProxyError::BadFraming => {
                StatusCode::BAD_REQUEST
            }
            ProxyError::NoRoute => StatusCode::NOT_FOUND,
            ProxyError::Unavailable { .. } | ProxyError::NoEndpoints { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProxyError::Connect(_) | ProxyError::Upstream(_) | ProxyError::BadResponse(_) => {
                StatusCode::BAD_GATEWAY
            }
            ProxyError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Short words for the client; details stay in the logs.
    fn summary(&self) -> &'static str {
        match self {
            ProxyError::BadHost(_) => "bad host",
            ProxyError::BadPath(_) => "bad path",
            ProxyError::BadFraming => "bad framing",
            ProxyError::NoRoute => "no route",
            ProxyError::Unavailable { .. } | ProxyError::NoEndpoints { .. } => {
                "service unavailable"
            }
            ProxyError::Connect(_) | ProxyError::Upstream(_) | ProxyError::BadResponse(_) => {
                "bad gateway"
            }
            ProxyError::UpstreamTimeout => "gateway timeout",
            ProxyError::Internal(_) => "internal error",
        }
    }

    /// A short `text/plain` response such as `404 no route\n`, carrying `request_id`.
    pub fn into_response(self, request_id: Option<HeaderValue>) -> Response<ProxyBody> {
        let status = self.status();
        let body = format!("{} {}\n", status.as_u16(), self.summary());
        let mut response = Response::new(ProxyBody::full(Bytes::from(body)));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if let Some(id) = request_id {
            headers.insert(X_REQUEST_ID, id);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn plain_text_body_names_the_status() {
        let response = ProxyError::NoRoute.into_response(Some(HeaderValue::from_static("abc")));
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[X_REQUEST_ID], "abc");
        let body = response.into_body().collect().await.map(|b| b.to_bytes());
        assert_eq!(body.ok(), Some(Bytes::from_static(b"404 no route\n")));
    }

    #[test]
    fn statuses() {
        assert_eq!(ProxyError::UpstreamTimeout.status(), 504);
        assert_eq!(ProxyError::Internal("x").status(), 500);
        assert_eq!(ProxyError::BadFraming.status(), 400);
        let unavailable = ProxyError::Unavailable { reason: "x".into() };
        assert_eq!(unavailable.status(), 503);
    }
}
