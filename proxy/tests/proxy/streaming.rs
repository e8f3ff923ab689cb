//! Large bodies are streamed through in both directions and arrive intact.

use bytes::Bytes;
use futures_util::stream;
use http::Request;
use http_body::Frame;
use http_body_util::StreamBody;

use crate::support::*;

const CHUNK: usize = 64 * 1024;
const CHUNKS: usize = 256; // 16 MiB

fn chunk(i: usize) -> Bytes {
    let seed = (i as u8).wrapping_mul(31);
    Bytes::from(
        (0..CHUNK)
            .map(|j| seed.wrapping_add(j as u8))
            .collect::<Vec<u8>>(),
    )
}

#[tokio::test]
async fn sixteen_mib_both_ways() {
    let app = EchoBackend::start("app").await;
    let proxy = Proxy::start(single(backend("default-app-80", &[app.addr]))).await;

    // Chunked upload (no Content-Length), echoed back by the backend as it arrives.
    let frames = stream::iter((0..CHUNKS).map(|i| Ok::<_, std::io::Error>(Frame::data(chunk(i)))));
    let req = Request::post("/upload")
        .header("host", "a.example")
        .header("x-test-mode", "stream")
        .body(StreamBody::new(frames))
        .expect("request");
    let reply = send(proxy.addr, req).await.expect("send");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), CHUNK * CHUNKS);
    for (i, got) in reply.body.chunks(CHUNK).enumerate() {
        assert!(got == chunk(i).as_ref(), "chunk {i} differs");
    }
    proxy.stop().await;
}
