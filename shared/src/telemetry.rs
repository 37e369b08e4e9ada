//! Logging set-up, shared so every function logs the same way.

/// Installs the runtime's subscriber: it honours `AWS_LAMBDA_LOG_FORMAT=JSON`
/// and `AWS_LAMBDA_LOG_LEVEL`, and tags lines with the request id.
pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}
