//! The admin listener: `/healthz` (alive), `/readyz` (serving a published table),
//! `/metrics` (Prometheus/OpenMetrics text) and `/debug/routes` (the table as JSON).

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
use prometheus_client::{encoding::text::encode, registry::Registry};
use proxy::TableHandle;
use tokio::net::TcpListener;

use crate::{debug::TableView, listen};

/// The content type of the exposition prometheus-client writes (OpenMetrics 1.0 text,
/// which Prometheus negotiates and scrapes).
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

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

    /// The table handle whose first publish readiness waits for.
    pub fn handle(&self) -> &Arc<TableHandle> {
        &self.handle
    }

    pub fn is_ready(&self) -> bool {
        self.listening.load(Ordering::SeqCst)
            && !self.draining.load(Ordering::SeqCst)
            && self.handle.generation() > 0
    }
}

/// What the admin endpoints read.
#[derive(Debug)]
pub struct Admin {
    readiness: Arc<Readiness>,
    registry: Arc<Registry>,
}

impl Admin {
    pub fn new(readiness: Arc<Readiness>, registry: Arc<Registry>) -> Self {
        Self {
            readiness,
            registry,
        }
    }

    /// The admin router: one arm per endpoint.
    pub fn route(&self, method: &Method, path: &str) -> Response<Full<Bytes>> {
        if method != Method::GET && method != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        }
        match path {
            "/healthz" => text(StatusCode::OK, "ok\n"),
            "/readyz" if self.readiness.is_ready() => text(StatusCode::OK, "ok\n"),
            "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
            "/metrics" => self.metrics(),
            "/debug/routes" => self.routes(),
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    fn metrics(&self) -> Response<Full<Bytes>> {
        let mut exposition = String::new();
        if encode(&mut exposition, &self.registry).is_err() {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics\n");
        }
        body(
            StatusCode::OK,
            METRICS_CONTENT_TYPE,
            exposition.into_bytes(),
        )
    }

    fn routes(&self) -> Response<Full<Bytes>> {
        let active = self.readiness.handle().load();
        let view = TableView::of(&active.table, active.generation);
        match serde_json::to_vec_pretty(&view) {
            Ok(mut json) => {
                json.push(b'\n');
                body(StatusCode::OK, "application/json", json)
            }
            Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode routes\n"),
        }
    }
}

/// Serves the admin endpoints on `listener` until `shutdown` completes.
pub async fn serve(listener: TcpListener, admin: Arc<Admin>, shutdown: impl Future<Output = ()>) {
    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
        let response = admin.route(req.method(), req.uri().path());
        async move { Ok::<_, Infallible>(response) }
    });
    listen::serve("admin", listener, service, shutdown).await;
}

fn text(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    body(
        status,
        "text/plain; charset=utf-8",
        text.as_bytes().to_vec(),
    )
}

fn body(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use prometheus_client::metrics::counter::Counter;
    use proxy::RouteTable;

    use super::*;

    fn admin() -> (Admin, Arc<Readiness>, Arc<TableHandle>) {
        let handle = Arc::new(TableHandle::new());
        let readiness = Arc::new(Readiness::new(handle.clone()));
        let mut registry = Registry::default();
        let counter = Counter::<u64>::default();
        counter.inc_by(3);
        registry.register("wicket_test_things", "Things", counter);
        (
            Admin::new(readiness.clone(), Arc::new(registry)),
            readiness,
            handle,
        )
    }

    fn status(admin: &Admin, path: &str) -> StatusCode {
        admin.route(&Method::GET, path).status()
    }

    async fn body_of(response: Response<Full<Bytes>>) -> String {
        let bytes = response.into_body().collect().await.map(|b| b.to_bytes());
        String::from_utf8(bytes.unwrap_or_default().to_vec()).unwrap_or_default()
    }

    #[test]
    fn ready_after_listening_and_the_first_publish_until_draining() {
        let (admin, readiness, handle) = admin();
        assert_eq!(status(&admin, "/healthz"), StatusCode::OK);
        assert_eq!(status(&admin, "/readyz"), StatusCode::SERVICE_UNAVAILABLE);
        readiness.set_listening();
        assert_eq!(status(&admin, "/readyz"), StatusCode::SERVICE_UNAVAILABLE);
        handle.publish(RouteTable::default());
        assert_eq!(status(&admin, "/readyz"), StatusCode::OK);
        readiness.set_draining();
        assert_eq!(status(&admin, "/readyz"), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status(&admin, "/healthz"), StatusCode::OK);
    }

    #[test]
    fn unknown_paths_and_methods_are_refused() {
        let (admin, _, _) = admin();
        assert_eq!(status(&admin, "/"), StatusCode::NOT_FOUND);
        assert_eq!(status(&admin, "/healthz/x"), StatusCode::NOT_FOUND);
        let post = admin.route(&Method::POST, "/healthz").status();
        assert_eq!(post, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn metrics_are_the_encoded_registry() {
        let (admin, _, _) = admin();
        let response = admin.route(&Method::GET, "/metrics");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(METRICS_CONTENT_TYPE.as_bytes())
        );
        let text = body_of(response).await;
        assert!(
            text.lines().any(|l| l == "wicket_test_things_total 3"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[tokio::test]
    async fn debug_routes_is_the_current_table_as_json() {
        let (admin, _, handle) = admin();
        handle.publish(RouteTable::default());
        let response = admin.route(&Method::GET, "/debug/routes");
        assert_eq!(response.status(), StatusCode::OK);
        let json: serde_json::Value =
            serde_json::from_str(&body_of(response).await).unwrap_or_default();
        assert_eq!(json["generation"], 1);
        assert_eq!(json["virtual_hosts"], serde_json::json!([]));
    }
}
