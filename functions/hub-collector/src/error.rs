//! What can go wrong in one invocation.
//!
//! A report the hub cannot store fails the invocation, so that Lambda (or
//! EventBridge's retry of the target) delivers it again and, at last,
//! dead-letters it: a report is never dropped in silence. An event that is
//! not a report at all is stored under `rejected/` and counted instead,
//! since no retry can make it readable.

use shared::secret::SecretError;
use shared::slack::SlackError;

pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The invocation's payload is not one the collector handles.
    #[error("hub-collector does not handle this event: {0}")]
    UnsupportedEvent(String),

    /// A state table call failed after the SDK's retries.
    #[error("state table {table}: {operation} failed for {key}: {source}")]
    State {
        table: String,
        operation: &'static str,
        key: String,
        #[source]
        source: Cause,
    },

    /// An S3 call failed after the SDK's retries.
    #[error("bucket {bucket}: {operation} failed for {key}: {source}")]
    Bucket {
        bucket: String,
        operation: &'static str,
        key: String,
        #[source]
        source: Cause,
    },

    /// A stored record is not what this collector writes.
    #[error("state table {table}: {key} could not be read: {source}")]
    Corrupt {
        table: String,
        key: String,
        #[source]
        source: serde_json::Error,
    },

    /// Reports of one source kept racing for its current record.
    #[error(
        "{key}: the current record changed under this report {rounds} times; retrying the event"
    )]
    Conflict { key: String, rounds: usize },

    #[error("the Slack webhook could not be read: {0}")]
    Webhook(#[from] SecretError),

    #[error("the heartbeat's Slack message was not delivered: {0}")]
    Slack(#[from] SlackError),
}

impl Error {
    /// The `errorType` Lambda reports for this error: its own kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnsupportedEvent(_) => "UnsupportedEvent",
            Self::State { .. } => "State",
            Self::Bucket { .. } => "Bucket",
            Self::Corrupt { .. } => "CorruptState",
            Self::Conflict { .. } => "Conflict",
            Self::Webhook(_) => "Webhook",
            Self::Slack(_) => "SlackDeliveryFailed",
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        shared::runtime::diagnostic(error.kind(), &error)
    }
}
