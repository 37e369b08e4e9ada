//! The one place that loads the SDK configuration and builds clients.
//!
//! Every function gets the same retry policy (adaptive, bounded attempts) and
//! the same timeouts, and honours `AWS_ENDPOINT_URL` and the per-service
//! `AWS_ENDPOINT_URL_<SERVICE>` variables, which is how the demo and the tests
//! point the real SDK at the local emulator.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};

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

/// A loader with toilkit's retry and timeout policy; tests add an endpoint
/// and credentials to it.
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
}

/// Loads the configuration from the Lambda environment, once per cold start.
pub async fn load() -> SdkConfig {
    loader().load().await
}

/// An S3 client; path-style addressing when the endpoint is overridden,
/// because emulators do not serve virtual-hosted bucket names.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let overridden =
        sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(overridden)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
