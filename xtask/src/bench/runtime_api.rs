//! A minimal Lambda Runtime API on loopback that timestamps what a function
//! asks of it.
//!
//! Init time is defined as Lambda defines it: from process start until the
//! runtime first asks for an invocation (`GET .../runtime/invocation/next`),
//! which a function only does once its configuration is read and its SDK
//! clients are built. The recorder notes the instant that request arrives and
//! then holds it open, as Lambda does while no event is waiting, so the
//! process sits idle where its idle memory can be read. An event can then be
//! handed out to measure one invocation.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc, oneshot};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";

/// What the function did, in arrival order.
#[derive(Debug)]
pub enum Record {
    /// A request for the next invocation.
    Next(Instant),
    /// An invocation's result.
    Response,
    /// An invocation's (or init's) error.
    Error { body: String },
}

/// The recorder; it stops when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    records: std_mpsc::Receiver<Record>,
    events: mpsc::UnboundedSender<serde_json::Value>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Clone)]
struct Shared {
    records: std_mpsc::Sender<Record>,
    events: Arc<Mutex<mpsc::UnboundedReceiver<serde_json::Value>>>,
}

impl RuntimeApi {
    pub fn start() -> std::io::Result<Self> {
        let (records_tx, records) = std_mpsc::channel();
        let (events, events_rx) = mpsc::unbounded_channel();
        let shared = Shared {
            records: records_tx,
            events: Arc::new(Mutex::new(events_rx)),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        // Its own thread and runtime, so timestamps are taken the moment a
        // request arrives, whatever the measuring thread is doing.
        let thread = std::thread::Builder::new()
            .name("runtime-api".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("recorder runtime");
                runtime.block_on(serve(listener, shared, shutdown_rx));
            })?;
        Ok(Self {
            addr,
            records,
            events,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next thing the function did, if it did something within `timeout`.
    pub fn next_record(&self, timeout: Duration) -> Option<Record> {
        self.records.recv_timeout(timeout).ok()
    }

    /// Answers the function's pending (or next) `next` request with `event`.
    pub fn deliver(&self, event: serde_json::Value) {
        let _ = self.events.send(event);
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    shared: Shared,
    mut shutdown: oneshot::Receiver<()>,
) {
    let listener = TcpListener::from_std(listener).expect("tokio listener");
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(shared.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

async fn handle(
    shared: Shared,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let arrived = Instant::now();
    let path = req.uri().path().to_owned();
    if req.method() == Method::GET && path == NEXT {
        let _ = shared.records.send(Record::Next(arrived));
        // Held until an event is delivered, as Lambda holds it.
        let event = shared.events.lock().await.recv().await;
        let Some(event) = event else {
            return Ok(status(StatusCode::GONE, "recorder stopped"));
        };
        return Ok(invocation(event));
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    let record = if path.ends_with("/response") {
        Record::Response
    } else {
        // `/invocation/<id>/error` and `/init/error` alike.
        Record::Error { body }
    };
    let _ = shared.records.send(record);
    Ok(status(StatusCode::ACCEPTED, "{\"status\":\"OK\"}"))
}

fn status(code: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .body(Full::new(Bytes::from_static(text.as_bytes())))
        .expect("static response")
}

/// The `next` response Lambda sends: the event, and its context in headers.
fn invocation(event: serde_json::Value) -> Response<Full<Bytes>> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let deadline_ms = SystemTime::now()
        .checked_add(Duration::from_secs(60))
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis())
        .unwrap_or_default();
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", format!("bench-{n}"))
        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
        .header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench",
        )
        .header(
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000",
        )
        .body(Full::new(Bytes::from(event.to_string())))
        .expect("invocation response")
}
