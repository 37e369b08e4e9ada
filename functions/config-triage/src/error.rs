//! What can go wrong, and with which resource.

use shared::secret::SecretError;
use shared::slack::SlackError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the event is not a usable Config compliance change: {0}")]
    BadEvent(String),
    #[error("config-triage does not handle this event: {0}")]
    UnsupportedEvent(String),
    #[error("could not read the exemptions from SSM parameter {parameter}: {message}")]
    ExemptionsParameter { parameter: String, message: String },
    #[error("state table {table}: {operation} failed for {key}: {message}")]
    State {
        table: String,
        operation: &'static str,
        key: String,
        message: String,
    },
    #[error("state of {key} kept changing under concurrent deliveries; retry later")]
    Contended { key: String },
    #[error("could not read the webhook for route {route}: {source}")]
    Webhook {
        route: String,
        #[source]
        source: SecretError,
    },
    #[error("Slack did not accept the notification for {target} (route {route}): {source}")]
    Slack {
        target: String,
        route: String,
        #[source]
        source: SlackError,
    },
    #[error("SNS topic {topic} did not accept the critical alert for {target}: {message}")]
    Sns {
        topic: String,
        target: String,
        message: String,
    },
    #[error("AWS Config {operation} failed{context}: {message}")]
    Config {
        operation: &'static str,
        context: String,
        message: String,
    },
}

impl Error {
    /// The `errorType` Lambda reports for this error: its own kind, which a
    /// retry policy, an alarm or a person can match on.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadEvent(_) => "BadEvent",
            Self::UnsupportedEvent(_) => "UnsupportedEvent",
            Self::ExemptionsParameter { .. } => "ExemptionsParameter",
            Self::State { .. } => "State",
            Self::Contended { .. } => "Contended",
            Self::Webhook { .. } => "Webhook",
            Self::Slack { .. } => "SlackDeliveryFailed",
            Self::Sns { .. } => "Sns",
            Self::Config { .. } => "Config",
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        shared::runtime::diagnostic(error.kind(), &error)
    }
}
/// The full error chain of an SDK error, as one line.
pub fn sdk_message<E: std::error::Error>(error: E) -> String {
    aws_smithy_types::error::display::DisplayErrorContext(error).to_string()
}
