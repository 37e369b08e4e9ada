//! The one loopback HTTP server the stand-ins are built on (Slack, the
//! Runtime API's init phase, AWS Config, the Serverless Application
//! Repository of the Terraform tests): it binds a free port on
//! 127.0.0.1, hands every request, read whole, to a handler, and stops when
//! dropped.
//!
//! It serves from a thread with a runtime of its own, so it answers whatever
//! runtime the test uses, or none, and a test that blocks its own runtime
//! does not block the server.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderMap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A request as the handler sees it: the body already read.
#[derive(Debug)]
pub struct Request {
    pub method: Method,
    pub path: String,
    /// What follows the `?`, still percent-encoded; empty without one.
    pub query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON, or as a JSON string when it is not JSON, so a
    /// malformed post is still recorded as it came.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&self.body).into_owned())
        })
    }
}

pub type Response = hyper::Response<Full<Bytes>>;

/// A response with `status`, `headers` and `body`.
pub fn response(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response {
    let mut builder =
        hyper::Response::builder().status(StatusCode::from_u16(status).expect("a valid status"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Full::new(body.into()))
        .expect("a valid response")
}

/// A running server; it stops when dropped.
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Serves every request with `handler` until dropped.
    pub fn start<H, F>(handler: H) -> Self
    where
        H: Fn(Request) -> F + Send + Sync + 'static,
        F: Future<Output = Response> + Send + 'static,
    {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let handler = Arc::new(handler);
        let thread = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("loopback server runtime")
                .block_on(serve(handler, addr_tx, shutdown_rx));
        });
        let addr = addr_rx.recv().expect("loopback server bound");
        Self {
            addr,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve<H, F>(
    handler: Arc<H>,
    addr_tx: std::sync::mpsc::Sender<SocketAddr>,
    mut shutdown: oneshot::Receiver<()>,
) where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    addr_tx
        .send(listener.local_addr().expect("bound address"))
        .expect("the starter waits for the address");
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let handler = handler.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| answer(handler.clone(), req));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        }
    }
}

async fn answer<H, F>(
    handler: Arc<H>,
    req: hyper::Request<Incoming>,
) -> Result<Response, Infallible>
where
    H: Fn(Request) -> F,
    F: Future<Output = Response>,
{
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Ok(handler(Request {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body,
    })
    .await)
}
