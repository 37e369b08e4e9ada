//! The one place that builds the SDK configuration and clients.
//!
//! Every function gets the same retry policy (adaptive, bounded attempts),
//! the same timeouts and the same HTTPS client, and honours
//! `AWS_ENDPOINT_URL`, which is how the demo and the tests point the real SDK
//! at the local emulator.
//!
//! The configuration is built from what Lambda gives a function: its region
//! and its role's credentials, in environment variables. `aws_config`'s
//! loader would also look in profile files, IMDS, the ECS endpoint and STS
//! web identity, none of which exist in a Lambda sandbox; its code for them
//! (an STS client among it) is a fifth of every binary.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
use aws_types::region::Region;
use aws_types::sdk_config::Builder;

/// Attempts per call, the first included. Adaptive retry also slows the
/// client down when the service throttles, which matters more than attempts.
pub const MAX_ATTEMPTS: u32 = 5;

/// The retry policy every client uses.
pub fn retry_config() -> RetryConfig {
    RetryConfig::adaptive()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(5))
}

/// Connect and operation timeouts: short enough that a hung call cannot eat
/// the invocation's whole budget.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(60))
        .build()
}

/// Toilkit's policy (HTTPS client, retries, timeouts, runtime) without a
/// region, credentials or endpoint; tests add theirs.
pub fn builder() -> Builder {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(crate::https::sdk_http_client())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .sleep_impl(SharedAsyncSleep::new(TokioSleep::new()))
        .time_source(SharedTimeSource::new(SystemTimeSource::new()))
        .identity_cache(IdentityCache::lazy().build())
}

/// The configuration from the Lambda environment, once per cold start:
/// `AWS_REGION` (or `AWS_DEFAULT_REGION`), the role's credentials
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, read
/// when a client first signs), and `AWS_ENDPOINT_URL` if set.
pub fn load() -> SdkConfig {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"));
    let mut builder = builder().credentials_provider(SharedCredentialsProvider::new(
        EnvironmentVariableCredentialsProvider::new(),
    ));
    builder.set_region(region.map(Region::new));
    builder.set_endpoint_url(var("AWS_ENDPOINT_URL"));
    builder.build()
}

/// An S3 client; path-style addressing when the endpoint is overridden,
/// because emulators do not serve virtual-hosted bucket names.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// An AWS SDK error kept as the `#[source]` of a function's own error.
///
/// The SDK's `Display` says only "service error"; this one says what the
/// service said (the whole context), so a message that quotes it loses
/// nothing, and the SDK error itself stays reachable as the source.
#[derive(Debug)]
pub struct SdkErrorContext(Box<dyn std::error::Error + Send + Sync>);

/// Boxes an SDK error (any operation's) as a cause that displays its whole
/// context.
pub fn cause(
    error: impl std::error::Error + Send + Sync + 'static,
) -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(SdkErrorContext(Box::new(error)))
}

impl std::fmt::Display for SdkErrorContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let context = aws_smithy_types::error::display::DisplayErrorContext(&*self.0);
        write!(f, "{context}")
    }
}

impl std::error::Error for SdkErrorContext {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error;
    use std::fmt;

    /// Shaped like an SDK error: a bare `Display`, the detail in its source.
    #[derive(Debug)]
    struct ServiceError(std::io::Error);

    impl fmt::Display for ServiceError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("service error")
        }
    }

    impl Error for ServiceError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_says_what_the_service_said_and_keeps_the_error() {
        let cause = super::cause(ServiceError(std::io::Error::other(
            "ThrottlingException: Rate exceeded",
        )));
        let text = cause.to_string();
        assert!(
            text.starts_with("service error: ThrottlingException: Rate exceeded"),
            "{text}"
        );
        let kept = cause.source().expect("the SDK error is the source");
        assert_eq!(kept.to_string(), "service error");
    }
}
