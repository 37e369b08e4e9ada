//! What can go wrong in one invocation, and with which resource; each
//! error keeps the one that caused it as its `source`.

use shared::input::SubscriptionError;
use shared::secret::SecretError;
use shared::slack::SlackError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "rds-audit-notifier takes CloudWatch Logs subscription events ({{\"awslogs\": {{\"data\": \"...\"}}}}) from RDS log groups; this event is {0}"
    )]
    UnexpectedEvent(String),

    #[error(transparent)]
    Decode(#[from] SubscriptionError),

    #[error("the Slack webhook could not be read, so no alert was posted: {0}")]
    Webhook(#[from] SecretError),

    #[error("no Slack webhook is configured (SLACK_WEBHOOK_SECRET_ARN or SLACK_WEBHOOK_PARAMETER)")]
    NoWebhook,

    #[error(
        "Slack delivery for {log_group} failed at message part {part} of {instance}: {delivered} of {pending} pending part(s) delivered in this attempt; the invocation fails so Lambda retries it: {source}"
    )]
    Delivery {
        log_group: String,
        instance: String,
        part: String,
        delivered: usize,
        pending: usize,
        // Boxed: every `Result` of this crate carries the error, and Slack's
        // is several times the size of the others.
        #[source]
        source: Box<SlackError>,
    },

    /// A failed call to the idempotency table. It never fails the
    /// invocation: without the record a retry may post a part twice, which
    /// beats losing it.
    #[error("idempotency table {table}: could not {action} record {key}: {source}")]
    Ledger {
        table: String,
        action: &'static str,
        key: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// The `errorType` Lambda reports for this error: its own kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnexpectedEvent(_) => "UnexpectedEvent",
            Self::Decode(_) => "Decode",
            Self::Webhook(_) => "Webhook",
            Self::NoWebhook => "NoWebhook",
            Self::Delivery { .. } => "SlackDeliveryFailed",
            Self::Ledger { .. } => "Ledger",
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        shared::runtime::diagnostic(error.kind(), &error)
    }
}
