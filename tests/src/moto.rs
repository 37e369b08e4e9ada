//! `moto_server` on loopback: a real emulator of the AWS wire protocols.
//!
//! [`Moto::shared`] is one server per test process (or the one named by
//! `TOILKIT_MOTO_ENDPOINT`, which `cargo xtask test` starts once for the whole
//! run); tests isolate themselves with [`Moto::unique`] names. A test that
//! needs a whole account to itself (a sweep over every log group) takes a
//! [`Moto::dedicated`] server, stopped when it is dropped.

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_config::Region;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::SdkConfig;

use crate::process::{ChildGuard, free_port, wait_for_port};
use crate::workspace;

pub const REGION: &str = "us-east-1";
pub const ACCOUNT_ID: &str = "123456789012";
const ACCESS_KEY: &str = "testing";
const SECRET_KEY: &str = "testing";

/// A running emulator.
#[derive(Debug)]
pub struct Moto {
    endpoint: String,
    guard: Option<ChildGuard>,
}

static SHARED: OnceLock<Moto> = OnceLock::new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

impl Moto {
    /// The process-wide server, started on first use.
    pub fn shared() -> &'static Moto {
        SHARED.get_or_init(|| {
            if let Ok(endpoint) = std::env::var("TOILKIT_MOTO_ENDPOINT") {
                return Moto {
                    endpoint,
                    guard: None,
                };
            }
            // The parent-death signal is tied to the spawning thread, so the
            // shared server is spawned from a thread that lives as long as
            // the test process does; when the process ends, so does moto.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("moto-owner".into())
                .spawn(move || {
                    let moto = Moto::dedicated();
                    tx.send(moto.endpoint.clone()).expect("test thread waits");
                    let _keep = moto;
                    loop {
                        std::thread::park();
                    }
                })
                .expect("spawn moto owner thread");
            let endpoint = rx.recv().expect("moto started");
            Moto {
                endpoint,
                guard: None,
            }
        })
    }

    /// A server of its own, stopped on drop.
    pub fn dedicated() -> Moto {
        let port = free_port();
        let mut command = Command::new(workspace::require_tool("moto_server"));
        command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut guard = ChildGuard::spawn("moto_server", command).expect("moto_server starts");
        wait_for_port(port, &mut guard, Duration::from_secs(60)).expect("moto_server listens");
        Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            guard: Some(guard),
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether this handle owns the server process.
    pub fn owns_process(&self) -> bool {
        self.guard.is_some()
    }

    /// SDK configuration pointing at this server, with toilkit's own retry
    /// and timeout policy, in [`REGION`].
    pub async fn sdk_config(&self) -> SdkConfig {
        self.sdk_config_in(REGION).await
    }

    pub async fn sdk_config_in(&self, region: &str) -> SdkConfig {
        shared::aws::builder()
            .endpoint_url(&self.endpoint)
            .region(Region::new(region.to_owned()))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "moto",
            )))
            .build()
    }

    /// Environment for a function binary run against this server.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// A name no other test in this run uses: `prefix-<pid>-<n>`.
    pub fn unique(&self, prefix: &str) -> String {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}-{}-{n}", std::process::id())
    }

    /// POSTs to moto's own API (`/moto-api/...`).
    pub async fn api(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let response = shared::https::client_builder()
            .build()
            .expect("an HTTP client with default settings builds")
            .post(format!("{}{path}", self.endpoint))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("moto API {path}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "moto API {path} answered {status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }

    /// Forgets every resource. Only for a dedicated server: the shared one
    /// serves parallel tests.
    pub async fn reset(&self) {
        assert!(self.owns_process(), "reset only a dedicated moto server");
        self.api("/moto-api/reset", serde_json::json!({})).await;
    }
}
