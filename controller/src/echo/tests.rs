//! The echo server in-process on 127.0.0.1:0, driven by hyper and tungstenite clients.

use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;
use tokio::{net::TcpStream, sync::oneshot, task::JoinHandle};
use tokio_tungstenite::tungstenite::Message;

use super::*;

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ControllerError>>,
}

impl Running {
    async fn start(name: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let name = name.to_owned();
        let task = tokio::spawn(async move {
            serve(listener, &name, async {
                let _ = stopped.await;
            })
            .await
        });
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = (&mut self.task).await.expect("echo task");
        assert!(result.is_ok(), "{result:?}");
    }
}

async fn http1(addr: SocketAddr, req: Request<Full<Bytes>>) -> (Response<Incoming>, Bytes) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let response = sender.send_request(req).await.expect("response");
    split(response).await
}

async fn split(response: Response<Incoming>) -> (Response<Incoming>, Bytes) {
    let (parts, mut body) = response.into_parts();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("body frame").into_data() {
            bytes.extend_from_slice(&data);
        }
    }
    (Response::from_parts(parts, body), Bytes::from(bytes))
}

fn json(bytes: &Bytes) -> Value {
    serde_json::from_slice(bytes).expect("JSON body")
}

#[tokio::test]
async fn describes_an_http1_request() {
    let server = Running::start("alpha").await;
    let req = Request::post("/some/path?x=1&y=two")
        .header("host", "app.example.com")
        .header("x-multi", "a")
        .header("x-multi", "b")
        .body(Full::new(Bytes::from_static(b"hello world")))
        .expect("request");
    let (response, body) = http1(server.addr, req).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get(NAME_HEADER).map(|v| v.as_bytes()),
        Some(&b"alpha"[..])
    );
    let v = json(&body);
    assert_eq!(v["name"], "alpha");
    assert_eq!(v["listen"], server.addr.to_string());
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path"], "/some/path");
    assert_eq!(v["query"], "x=1&y=two");
    assert_eq!(v["host"], "app.example.com");
    assert_eq!(v["version"], "HTTP/1.1");
    assert_eq!(v["headers"]["x-multi"], serde_json::json!(["a", "b"]));
    assert_eq!(v["body_bytes"], 11);
    server.stop().await;
}

#[tokio::test]
async fn no_query_is_null_and_status_is_steerable() {
    let server = Running::start("echo").await;
    let req = Request::get("/")
        .header("host", "h")
        .body(Full::default())
        .expect("request");
    let (_, body) = http1(server.addr, req).await;
    assert_eq!(json(&body)["query"], Value::Null);

    let req = Request::get("/x?echo-status=418&echo-delay-ms=1")
        .header("host", "h")
        .body(Full::default())
        .expect("request");
    let (response, body) = http1(server.addr, req).await;
    assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(json(&body)["path"], "/x");

    let req = Request::get("/?echo-status=abc")
        .header("host", "h")
        .body(Full::default());
    let (response, _) = http1(server.addr, req.expect("request")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    server.stop().await;
}

#[tokio::test]
async fn streams_the_requested_number_of_bytes() {
    let server = Running::start("echo").await;
    let len = CHUNK_LEN * 3 + 7;
    let req = Request::get(format!("/?echo-bytes={len}"))
        .header("host", "h")
        .body(Full::default())
        .expect("request");
    let (response, body) = http1(server.addr, req).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get(header::CONTENT_LENGTH)
            .map(|v| v.as_bytes().to_vec()),
        Some(len.to_string().into_bytes())
    );
    assert_eq!(body.len(), len);
    assert!(body.iter().all(|b| *b == b'x'));
    server.stop().await;
}

#[tokio::test]
async fn answers_h2c_with_the_authority_as_host() {
    let server = Running::start("h2").await;
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let req = Request::get("http://api.example.com/v2?q")
        .body(Full::<Bytes>::default())
        .expect("request");
    let (response, body) = split(sender.send_request(req).await.expect("response")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let v = json(&body);
    assert_eq!(v["version"], "HTTP/2.0");
    assert_eq!(v["host"], "api.example.com");
    assert_eq!(v["query"], "q");
    drop(sender);
    server.stop().await;
}

#[tokio::test]
async fn echoes_websocket_messages() {
    let server = Running::start("ws").await;
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let url = format!("ws://{}/socket", server.addr);
    let (mut ws, response) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("websocket handshake");
    assert_eq!(
        response.headers().get(NAME_HEADER).map(|v| v.as_bytes()),
        Some(&b"ws"[..])
    );
    ws.send(Message::text("ping me")).await.expect("send text");
    assert_eq!(
        ws.next().await.and_then(Result::ok),
        Some(Message::text("ping me"))
    );
    ws.send(Message::binary(vec![1u8, 2, 3]))
        .await
        .expect("send binary");
    assert_eq!(
        ws.next().await.and_then(Result::ok),
        Some(Message::binary(vec![1u8, 2, 3]))
    );
    ws.close(None).await.expect("close");
    while ws.next().await.is_some() {}
    server.stop().await;
}

#[test]
fn params_parse_and_reject() {
    assert_eq!(Params::parse(None), Ok(Params::default()));
    let p = Params::parse(Some("a=b&echo-bytes=10&echo-delay-ms=5&echo-status=503"));
    assert_eq!(
        p,
        Ok(Params {
            status: Some(StatusCode::SERVICE_UNAVAILABLE),
            bytes: Some(10),
            delay: Some(Duration::from_millis(5)),
        })
    );
    assert!(Params::parse(Some("echo-status=99")).is_err());
    assert!(Params::parse(Some("echo-status=101")).is_err());
    assert!(Params::parse(Some("echo-bytes=-1")).is_err());
    assert!(Params::parse(Some("echo-delay-ms=x")).is_err());
}
