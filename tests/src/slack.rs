//! A real HTTP receiver standing in for Slack's incoming webhooks.
//!
//! It records every POST and answers from a script (429 with `Retry-After`,
//! 5xx, 404...) before falling back to Slack's `200 ok`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ok,
    /// 429 with `Retry-After: secs`.
    RateLimited {
        retry_after_secs: u64,
    },
    /// Any other status, with Slack-like text.
    Status(u16),
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub body: serde_json::Value,
    pub status: u16,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    script: VecDeque<Reply>,
}

/// The receiver; it stops when dropped.
pub struct SlackReceiver {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SlackReceiver {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let server_state = state.clone();
        // Its own runtime, so it serves whatever runtime (or none) the test uses.
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("receiver runtime");
            runtime.block_on(serve(server_state, addr_tx, shutdown_rx));
        });
        let addr = addr_rx.recv().expect("receiver bound");
        Self {
            addr,
            state,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    /// A webhook URL on this receiver; the last path part looks like the
    /// secret token real webhooks carry, so tests can search logs for it.
    pub fn webhook_url(&self, channel: &str) -> String {
        format!(
            "http://{}/services/T0TOILKIT/B0{channel}/xoxSECRETtoken{channel}",
            self.addr
        )
    }

    /// Stores the webhook URL of `channel` as the Secrets Manager secret
    /// `name`, as an operator would, and returns the secret's ARN: functions
    /// under test then fetch it through the real secret path.
    pub async fn store_webhook_secret(
        &self,
        sdk: &aws_types::SdkConfig,
        name: &str,
        channel: &str,
    ) -> String {
        aws_sdk_secretsmanager::Client::new(sdk)
            .create_secret()
            .name(name)
            .secret_string(self.webhook_url(channel))
            .send()
            .await
            .unwrap_or_else(|e| panic!("secret {name} not created: {e}"))
            .arn
            .expect("a created secret has an ARN")
    }

    /// Answers the next requests with `replies`, then `200 ok` again.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    /// Every request, answered or refused.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The bodies answered with 200: what a channel would show.
    pub fn delivered(&self) -> Vec<serde_json::Value> {
        self.received()
            .into_iter()
            .filter(|r| r.status == 200)
            .map(|r| r.body)
            .collect()
    }

    /// Delivered bodies for one webhook channel.
    pub fn delivered_to(&self, channel: &str) -> Vec<serde_json::Value> {
        let marker = format!("/B0{channel}/");
        self.received()
            .into_iter()
            .filter(|r| r.status == 200 && r.path.contains(&marker))
            .map(|r| r.body)
            .collect()
    }
}

impl Drop for SlackReceiver {
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
    state: Arc<Mutex<State>>,
    addr_tx: std::sync::mpsc::Sender<SocketAddr>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    addr_tx
        .send(listener.local_addr().expect("bound address"))
        .expect("starter waits");
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        }
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let bytes = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
    });
    let reply = state
        .lock()
        .unwrap()
        .script
        .pop_front()
        .unwrap_or(Reply::Ok);
    let mut response = Response::builder();
    let (status, text) = match reply {
        Reply::Ok => (200, "ok"),
        Reply::RateLimited { retry_after_secs } => {
            response = response.header("Retry-After", retry_after_secs.to_string());
            (429, "rate_limited")
        }
        Reply::Status(404) => (404, "no_service"),
        Reply::Status(400) => (400, "invalid_payload"),
        Reply::Status(code) => (code, "server_error"),
    };
    state
        .lock()
        .unwrap()
        .received
        .push(Received { path, body, status });
    Ok(response
        .status(StatusCode::from_u16(status).expect("scripted status is valid"))
        .body(Full::new(Bytes::from_static(text.as_bytes())))
        .expect("static response"))
}
