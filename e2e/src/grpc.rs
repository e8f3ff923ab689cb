//! A gRPC backend (tonic, HTTP/2 cleartext) and its client, with hand-written prost
//! messages so no `protoc` is needed.
//!
//! ```text
//! service wicket.e2e.Echo {
//!   rpc Unary(Note) returns (Note);               // "fail" → NOT_FOUND
//!   rpc ServerStream(Note) returns (stream Note); // `count` notes, then OK (or ABORTED for "fail")
//!   rpc ClientStream(stream Note) returns (Note); // the texts joined with ",", and their count
//! }
//! ```

use std::net::SocketAddr;
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt};
use http::uri::PathAndQuery;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service};
use tonic::server::{
    ClientStreamingService, Grpc, NamedService, ServerStreamingService, UnaryService,
};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status, Streaming};
use tonic_prost::ProstCodec;

use crate::error::{Error, Result};

/// The service's full name.
pub const SERVICE: &str = "wicket.e2e.Echo";
const UNARY: &str = "/wicket.e2e.Echo/Unary";
const SERVER_STREAM: &str = "/wicket.e2e.Echo/ServerStream";
const CLIENT_STREAM: &str = "/wicket.e2e.Echo/ClientStream";

/// The one message type of the service.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Note {
    #[prost(string, tag = "1")]
    pub text: String,
    #[prost(uint32, tag = "2")]
    pub count: u32,
}

impl Note {
    pub fn new(text: &str, count: u32) -> Self {
        Self {
            text: text.to_owned(),
            count,
        }
    }
}

/// The text that makes `Unary` and `ServerStream` fail.
pub const FAIL: &str = "fail";

/// A running gRPC backend on loopback; stops when dropped.
#[derive(Debug)]
pub struct GrpcServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl GrpcServer {
    /// Starts the backend on a port chosen by the kernel; `name` prefixes every answer.
    pub async fn start(name: &str) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::io("binding the gRPC backend", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the gRPC backend's address", e))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let service = EchoService {
            name: name.to_owned(),
        };
        tokio::spawn(async move {
            let incoming = TcpListenerStream::new(listener);
            let _ = tonic::transport::Server::builder()
                .serve_with_incoming_shutdown(service, incoming, async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            stop: Some(stop),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Routes the three methods; anything else is `UNIMPLEMENTED`.
#[derive(Clone, Debug)]
struct EchoService {
    name: String,
}

impl NamedService for EchoService {
    const NAME: &'static str = SERVICE;
}

impl Service<http::Request<Body>> for EchoService {
    type Response = http::Response<Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let name = self.name.clone();
        Box::pin(async move {
            let mut grpc = Grpc::new(ProstCodec::<Note, Note>::default());
            let response = match request.uri().path() {
                UNARY => grpc.unary(Unary(name), request).await,
                SERVER_STREAM => grpc.server_streaming(ServerStream(name), request).await,
                CLIENT_STREAM => grpc.client_streaming(ClientStream(name), request).await,
                other => Status::unimplemented(format!("no method {other}")).into_http(),
            };
            Ok(response)
        })
    }
}

struct Unary(String);

impl UnaryService<Note> for Unary {
    type Response = Note;
    type Future = BoxFuture<Response<Note>, Status>;

    fn call(&mut self, request: Request<Note>) -> Self::Future {
        let name = self.0.clone();
        Box::pin(async move {
            let note = request.into_inner();
            if note.text == FAIL {
                return Err(Status::not_found(format!("{name}: nothing called {FAIL}")));
            }
            Ok(Response::new(Note::new(
                &format!("{name}: {}", note.text),
                note.count,
            )))
        })
    }
}

type NoteStream = std::pin::Pin<Box<dyn Stream<Item = Result<Note, Status>> + Send>>;

struct ServerStream(String);

impl ServerStreamingService<Note> for ServerStream {
    type Response = Note;
    type ResponseStream = NoteStream;
    type Future = BoxFuture<Response<NoteStream>, Status>;

    fn call(&mut self, request: Request<Note>) -> Self::Future {
        let name = self.0.clone();
        Box::pin(async move {
            let note = request.into_inner();
            let fail = note.text == FAIL;
            let notes = (0..note.count)
                .map(move |i| Ok(Note::new(&format!("{name}: {} #{i}", note.text), i)));
            let end = fail.then(|| Err(Status::aborted("failed after the last note")));
            let stream: NoteStream = Box::pin(futures_util::stream::iter(notes.chain(end)));
            Ok(Response::new(stream))
        })
    }
}

struct ClientStream(String);

impl ClientStreamingService<Note> for ClientStream {
    type Response = Note;
    type Future = BoxFuture<Response<Note>, Status>;

    fn call(&mut self, request: Request<Streaming<Note>>) -> Self::Future {
        let name = self.0.clone();
        Box::pin(async move {
            let mut stream = request.into_inner();
            let mut texts = Vec::new();
            while let Some(note) = stream.next().await {
                texts.push(note?.text);
            }
            let count = u32::try_from(texts.len()).unwrap_or(u32::MAX);
            Ok(Response::new(Note::new(
                &format!("{name}: {}", texts.join(",")),
                count,
            )))
        })
    }
}

/// A client of the service over HTTP/2 cleartext to `addr`, with `:authority` `authority`.
#[derive(Clone, Debug)]
pub struct GrpcClient {
    grpc: tonic::client::Grpc<Channel>,
}

impl GrpcClient {
    /// Connects (prior-knowledge HTTP/2) to `addr`, sending `authority` as `:authority`.
    pub async fn connect(addr: SocketAddr, authority: &str) -> Result<Self> {
        let what = format!("connecting a gRPC client to {addr} for {authority}");
        let origin = format!("http://{authority}")
            .parse()
            .map_err(|e| Error::client(&what, e))?;
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| Error::client(&what, e))?
            .origin(origin)
            .connect()
            .await
            .map_err(|e| Error::client(&what, e))?;
        Ok(Self {
            grpc: tonic::client::Grpc::new(channel),
        })
    }

    async fn ready(&mut self) -> Result<(), Status> {
        self.grpc
            .ready()
            .await
            .map_err(|e| Status::unavailable(format!("channel not ready: {e}")))
    }

    pub async fn unary(&mut self, note: Note) -> Result<Note, Status> {
        self.ready().await?;
        let response = self
            .grpc
            .unary(
                Request::new(note),
                PathAndQuery::from_static(UNARY),
                ProstCodec::<Note, Note>::default(),
            )
            .await?;
        Ok(response.into_inner())
    }

    /// Every note of the server stream, then the status that ended it (`Ok` when the
    /// stream ended with `grpc-status: 0`).
    pub async fn server_stream(
        &mut self,
        note: Note,
    ) -> Result<(Vec<Note>, Result<(), Status>), Status> {
        self.ready().await?;
        let mut stream = self
            .grpc
            .server_streaming(
                Request::new(note),
                PathAndQuery::from_static(SERVER_STREAM),
                ProstCodec::<Note, Note>::default(),
            )
            .await?
            .into_inner();
        let mut notes = Vec::new();
        loop {
            match stream.message().await {
                Ok(Some(note)) => notes.push(note),
                Ok(None) => return Ok((notes, Ok(()))),
                Err(status) => return Ok((notes, Err(status))),
            }
        }
    }

    pub async fn client_stream(&mut self, notes: Vec<Note>) -> Result<Note, Status> {
        self.ready().await?;
        let response = self
            .grpc
            .client_streaming(
                Request::new(futures_util::stream::iter(notes)),
                PathAndQuery::from_static(CLIENT_STREAM),
                ProstCodec::<Note, Note>::default(),
            )
            .await?;
        Ok(response.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    /// The backend and client speak to each other directly, without wicket.
    #[tokio::test]
    async fn direct_calls() -> Result<()> {
        let server = GrpcServer::start("g").await?;
        let mut client = GrpcClient::connect(server.addr(), "grpc.example").await?;
        let reply = client
            .unary(Note::new("hi", 7))
            .await
            .map_err(|s| s.to_string());
        assert_eq!(reply, Ok(Note::new("g: hi", 7)));
        let failed = client.unary(Note::new(FAIL, 0)).await.map_err(|s| s.code());
        assert_eq!(failed, Err(Code::NotFound));
        let (notes, end) =
            client
                .server_stream(Note::new("s", 3))
                .await
                .map_err(|s| Error::Unexpected {
                    what: "server stream".into(),
                    detail: s.to_string(),
                })?;
        assert_eq!(
            notes.iter().map(|n| n.count).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(end.map_err(|s| s.code()), Ok(()));
        let (notes, end) = client
            .server_stream(Note::new(FAIL, 2))
            .await
            .map_err(|s| Error::Unexpected {
                what: "server stream".into(),
                detail: s.to_string(),
            })?;
        assert_eq!(notes.len(), 2);
        assert_eq!(end.map_err(|s| s.code()), Err(Code::Aborted));
        let joined = client
            .client_stream(vec![Note::new("a", 0), Note::new("b", 0)])
            .await
            .map_err(|s| s.to_string());
        assert_eq!(joined, Ok(Note::new("g: a,b", 2)));
        Ok(())
    }
}
