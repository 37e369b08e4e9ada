//! What can go wrong, with the resource it went wrong on.

use crate::ipset::IpSetRef;

#[derive(Debug, thiserror::Error)]
pub enum BlockerError {
    #[error("unsupported event: {0}")]
    UnsupportedEvent(String),
    #[error("{0}")]
    Subscription(#[from] shared::input::SubscriptionError),
    #[error("could not read s3://{bucket}/{key}: {message}")]
    ReadObject {
        bucket: String,
        key: String,
        message: String,
    },
    #[error("stopped before the Lambda deadline while reading {what}; nothing from it was counted")]
    OutOfTime { what: String },
    #[error("DynamoDB table {table}: {operation} failed: {message}")]
    Ledger {
        table: String,
        operation: String,
        message: String,
    },
    #[error("IP set {arn}: {operation} failed: {message}")]
    IpSet {
        arn: String,
        operation: String,
        message: String,
    },
    #[error("the Slack summary was not delivered: {0}")]
    Slack(String),
    #[error("{failed} change(s) failed; see the report's \"failed\" list: {first}")]
    Incomplete { failed: u64, first: String },
}

impl BlockerError {
    pub fn ipset(set: &IpSetRef, operation: &str, message: impl std::fmt::Display) -> Self {
        Self::IpSet {
            arn: set.arn.clone(),
            operation: operation.to_owned(),
            message: message.to_string(),
        }
    }
}

impl BlockerError {
    /// The `errorType` Lambda reports for this error: its own kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnsupportedEvent(_) => "UnsupportedEvent",
            Self::Subscription(_) => "Subscription",
            Self::ReadObject { .. } => "ReadObject",
            Self::OutOfTime { .. } => "OutOfTime",
            Self::Ledger { .. } => "Ledger",
            Self::IpSet { .. } => "IpSet",
            Self::Slack(_) => "SlackDeliveryFailed",
            Self::Incomplete { .. } => "Incomplete",
        }
    }
}

impl From<BlockerError> for lambda_runtime::Diagnostic {
    fn from(error: BlockerError) -> Self {
        shared::runtime::diagnostic(error.kind(), &error)
    }
}
