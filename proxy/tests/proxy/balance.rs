//! Round-robin, and balancer and pool state across table swaps.

use std::collections::BTreeSet;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Empty;
use proxy::table::{Action, PathKind};

use crate::support::*;

#[tokio::test]
async fn round_robin_reaches_every_endpoint() {
    let backends = [
        EchoBackend::start("b0").await,
        EchoBackend::start("b1").await,
        EchoBackend::start("b2").await,
    ];
    let addrs: Vec<_> = backends.iter().map(|b| b.addr).collect();
    let proxy = Proxy::start(single(backend("default-app-80", &addrs))).await;
    let mut order = Vec::new();
    for _ in 0..6 {
        order.push(get(proxy.addr, "a.example", "/").await.seen().backend);
    }
    let distinct: BTreeSet<_> = order.iter().cloned().collect();
    assert_eq!(distinct.len(), 3, "{order:?}");
    assert_eq!(order[..3], order[3..], "strict rotation: {order:?}");
    proxy.stop().await;
}

#[tokio::test]
async fn cursor_and_connections_survive_a_publish() {
    let backends = [
        EchoBackend::start("b0").await,
        EchoBackend::start("b1").await,
        EchoBackend::start("b2").await,
    ];
    let addrs: Vec<_> = backends.iter().map(|b| b.addr).collect();
    let app = || backend("default-app-80", &addrs);
    let proxy = Proxy::start(single(app())).await;

    let first = get(proxy.addr, "a.example", "/").await.seen();
    let second = get(proxy.addr, "a.example", "/").await.seen();

    // A different table naming the same backend and endpoints.
    proxy.publish(table(vec![
        vhost("a.example", vec![route("/", PathKind::Prefix, app())]),
        vhost("b.example", vec![route("/", PathKind::Prefix, app())]),
    ]));

    let third = get(proxy.addr, "b.example", "/").await.seen();
    let names: BTreeSet<_> = [&first.backend, &second.backend, &third.backend]
        .into_iter()
        .collect();
    assert_eq!(names.len(), 3, "the rotation continued after the swap");

    let fourth = get(proxy.addr, "a.example", "/").await.seen();
    assert_eq!(fourth.backend, first.backend);
    assert_eq!(
        fourth.conn, first.conn,
        "the pooled upstream connection was reused"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn in_flight_request_finishes_on_the_table_it_loaded() {
    let mut old = EchoBackend::start("old").await;
    let proxy = Proxy::start(single(backend("default-old-80", &[old.addr]))).await;

    let addr = proxy.addr;
    let in_flight = tokio::spawn(async move {
        let req = Request::get("/slow")
            .header("host", "a.example")
            .header("x-test-mode", "gate")
            .body(Empty::<Bytes>::new())
            .expect("request");
        send(addr, req).await.expect("send")
    });
    within(old.arrived.recv())
        .await
        .expect("request reached the backend");

    proxy.publish(single(Action::Unavailable {
        reason: "removed".into(),
    }));
    assert_eq!(
        get(proxy.addr, "a.example", "/").await.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "new requests use the new table"
    );

    old.gate.notify_one();
    let reply = within(in_flight).await.expect("join");
    assert_eq!(reply.seen().backend, "old");
    proxy.stop().await;
}
