//! What every function's fault-injection tests share: the transient failures
//! AWS answers with, as HTTP responses the real SDK deserializes and
//! classifies (so its retry policy decides, as in production), a script of
//! how many of the next calls fail and how, an HTTP transport a test can
//! put itself in, and an SDK clock that never waits.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::config::{AsyncSleep, Sleep};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_types::SdkConfig;
use aws_types::sdk_config::{StalledStreamProtectionConfig, TimeSource, TimeoutConfig};

/// One injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 400 `ThrottlingException` (JSON protocols: WAF, DynamoDB, Logs...).
    Throttled,
    /// 500 `InternalFailure`.
    Internal,
    /// 503 `ServiceUnavailable`.
    Unavailable,
}

impl Fault {
    /// The response AWS sends for it, in the awsJson protocol.
    pub fn response(self) -> HttpResponse {
        match self {
            Fault::Throttled => error(400, "ThrottlingException", "Rate exceeded"),
            Fault::Internal => error(500, "InternalFailure", "We encountered an internal error."),
            Fault::Unavailable => error(503, "ServiceUnavailable", "Service unavailable"),
        }
    }
}

/// An awsJson 1.0/1.1 error response of type `kind`.
pub fn error(status: u16, kind: &str, message: &str) -> HttpResponse {
    let body = serde_json::json!({"__type": kind, "message": message}).to_string();
    let mut response = HttpResponse::new(
        StatusCode::try_from(status).expect("valid status"),
        SdkBody::from(body),
    );
    response
        .headers_mut()
        .insert("x-amzn-errortype", kind.to_owned());
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.1".to_owned());
    response
}

/// A 200 awsJson response with `body`.
pub fn ok(body: serde_json::Value) -> HttpResponse {
    let mut response = HttpResponse::new(
        StatusCode::try_from(200).expect("valid status"),
        SdkBody::from(body.to_string()),
    );
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.1".to_owned());
    response
}

/// The failures the next calls meet, in order; then calls succeed.
#[derive(Debug, Clone, Default)]
pub struct Script(Arc<Mutex<VecDeque<Fault>>>);

impl Script {
    pub fn push(&self, fault: Fault, times: usize) {
        let mut queue = self.0.lock().unwrap();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    /// The fault for the call being made now, if any.
    pub fn next(&self) -> Option<Fault> {
        self.0.lock().unwrap().pop_front()
    }

    pub fn left(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// What a [`transport`] does with one request, given the connectors of the
/// clients it wraps.
type Call<const N: usize> =
    dyn Fn(HttpRequest, &[SharedHttpConnector; N]) -> HttpConnectorFuture + Send + Sync;

/// An HTTP client that hands every request to `call`, with the connectors
/// of `inner` (aws-smithy-mocks' client, the emulator's) to send it on: the
/// test decides there what reaches which, and can record the request, act
/// before it is sent, or hold its answer back.
pub fn transport<const N: usize>(
    inner: [SharedHttpClient; N],
    call: impl Fn(HttpRequest, &[SharedHttpConnector; N]) -> HttpConnectorFuture + Send + Sync + 'static,
) -> SharedHttpClient {
    SharedHttpClient::new(Transport {
        inner,
        call: Arc::new(call),
    })
}

struct Transport<const N: usize> {
    inner: [SharedHttpClient; N],
    call: Arc<Call<N>>,
}

impl<const N: usize> std::fmt::Debug for Transport<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<const N: usize> HttpClient for Transport<N> {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            inner: self
                .inner
                .each_ref()
                .map(|client| client.http_connector(settings, components)),
            call: self.call.clone(),
        })
    }
}

struct Connector<const N: usize> {
    inner: [SharedHttpConnector; N],
    call: Arc<Call<N>>,
}

impl<const N: usize> std::fmt::Debug for Connector<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<const N: usize> HttpConnector for Connector<N> {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        (self.call)(request, &self.inner)
    }
}

/// toilkit's retry policy (adaptive, [`shared::aws::MAX_ATTEMPTS`]
/// attempts) with backoffs shortened so a storm takes milliseconds.
pub fn fast_retry() -> aws_smithy_types::retry::RetryConfig {
    shared::aws::retry_config()
        .with_initial_backoff(Duration::from_millis(2))
        .with_max_backoff(Duration::from_millis(20))
}

/// The SDK configuration a function builds in production
/// (`shared::aws::builder`), with test credentials and no endpoint: a
/// mocked client built from it keeps the real time source, sleep and retry
/// machinery.
pub async fn sdk_config() -> aws_types::SdkConfig {
    shared::aws::builder()
        .region(aws_types::region::Region::new("us-east-1"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("testing", "testing", None, None, "faults"),
            ),
        )
        .build()
}

/// An SDK clock that moves forward by each sleep instead of waiting, so the
/// SDK backs off and (adaptive retry) slows down after throttling exactly as
/// in production, in no time.
#[derive(Debug, Clone)]
pub struct VirtualClock(Arc<Mutex<SystemTime>>);

impl VirtualClock {
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(SystemTime::now())))
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl TimeSource for VirtualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

impl AsyncSleep for VirtualClock {
    fn sleep(&self, duration: Duration) -> Sleep {
        *self.0.lock().unwrap() += duration;
        Sleep::new(std::future::ready(()))
    }
}

/// `sdk` with [`fast_retry`] on a clock of its own ([`VirtualClock`]).
/// No SDK timeout (nor the stalled-stream check, a throughput timeout) can
/// work on a clock that moves only when the SDK sleeps, so both are off: a
/// hang is one a test makes on purpose, and the function's own deadline
/// (real time) is what it meets.
pub fn on_virtual_clock(sdk: &SdkConfig) -> SdkConfig {
    let clock = VirtualClock::new();
    sdk.to_builder()
        .retry_config(fast_retry())
        .time_source(clock.clone())
        .sleep_impl(clock)
        .timeout_config(TimeoutConfig::disabled())
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build()
}
