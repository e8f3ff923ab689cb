//! Shutdown: stop accepting at once, let in-flight requests finish.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use tokio::net::TcpStream;

use crate::support::*;

#[tokio::test]
async fn shutdown_stops_accepting_and_drains_in_flight_requests() {
    let mut app = EchoBackend::start("app").await;
    let proxy = Proxy::start(single(backend("default-app-80", &[app.addr]))).await;
    let addr = proxy.addr;

    let in_flight = tokio::spawn(async move {
        let req = Request::get("/")
            .header("host", "a.example")
            .header("x-test-mode", "gate")
            .body(Empty::<Bytes>::new())
            .expect("request");
        send(addr, req).await.expect("send")
    });
    within(app.arrived.recv())
        .await
        .expect("request reached the backend");

    let stopping = tokio::spawn(proxy.stop());
    within(async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        !stopping.is_finished(),
        "shutdown waits for the in-flight request"
    );

    app.gate.notify_one();
    assert_eq!(within(in_flight).await.expect("join").seen().backend, "app");
    within(stopping).await.expect("stop");
}
