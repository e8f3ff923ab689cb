//! The admin listener: `/healthz` (alive) and `/readyz` (serving a published table).

use std::{
    convert::Infallible,
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode, header, service::service_fn};
use proxy::TableHandle;
use tokio::net::TcpListener;

use crate::listen;

/// What `/readyz` reports: ready once a table is published and the listeners are up, and
/// not ready again from the moment shutdown begins.
#[derive(Debug)]
pub struct Readiness {
    handle: Arc<TableHandle>,
    listening: AtomicBool,
    draining: AtomicBool,
}

impl Readiness {
    pub fn new(handle: Arc<TableHandle>) -> Self {
        Self {
            handle,
            listening: AtomicBool::new(false),
            draining: AtomicBool::new(false),
        }
    }

    /// Every listener is bound and serving.
    pub fn set_listening(&self) {
        self.listening.store(true, Ordering::SeqCst);
    }

    /// Shutdown has begun: fail `/readyz` so that load balancers stop sending traffic.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.listening.load(Ordering::SeqCst)
            && !self.draining.load(Ordering::SeqCst)
            && self.handle.generation() > 0
    }
}

/// Serves the admin endpoints on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    readiness: Arc<Readiness>,
    shutdown: impl Future<Output = ()>,
) {
    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
        let response = route(&readiness, req.method(), req.uri().path());
        async move { Ok::<_, Infallible>(response) }
    });
    listen::serve("admin", listener, service, shutdown).await;
}

/// The admin router: one arm per endpoint.
pub fn route(readiness: &Readiness, method: &Method, path: &str) -> Response<Full<Bytes>> {
    if method != Method::GET && method != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    match path {
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" if readiness.is_ready() => text(StatusCode::OK, "ok\n"),
        "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use proxy::RouteTable;

    use super::*;

    fn status(readiness: &Readiness, path: &str) -> StatusCode {
        route(readiness, &Method::GET, path).status()
    }

    #[test]
    fn ready_after_listening_and_the_first_publish_until_draining() {
        let handle = Arc::new(TableHandle::new());
        let readiness = Readiness::new(handle.clone());
        assert_eq!(status(&readiness, "/healthz"), StatusCode::OK);
        assert_eq!(
            status(&readiness, "/readyz"),
            StatusCode::SERVICE_UNAVAILABLE
        );
        readiness.set_listening();
        assert_eq!(
            status(&readiness, "/readyz"),
            StatusCode::SERVICE_UNAVAILABLE
        );
        handle.publish(RouteTable::default());
        assert_eq!(status(&readiness, "/readyz"), StatusCode::OK);
        readiness.set_draining();
        assert_eq!(
            status(&readiness, "/readyz"),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(status(&readiness, "/healthz"), StatusCode::OK);
    }

    #[test]
    fn unknown_paths_and_methods_are_refused() {
        let readiness = Readiness::new(Arc::new(TableHandle::new()));
        assert_eq!(status(&readiness, "/"), StatusCode::NOT_FOUND);
        assert_eq!(status(&readiness, "/healthz/x"), StatusCode::NOT_FOUND);
        let post = route(&readiness, &Method::POST, "/healthz").status();
        assert_eq!(post, StatusCode::METHOD_NOT_ALLOWED);
    }
}
