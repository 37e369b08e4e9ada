//! What the fault-injection tests share: the transient failures AWS answers
//! with, as HTTP responses the real SDK deserializes and classifies (so its
//! retry policy decides, as in production), and a script of how many of the
//! next calls fail and how.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

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
