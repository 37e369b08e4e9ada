//! What can go wrong, and with which resource.

use shared::secret::SecretError;
use shared::slack::SlackError;

/// What a call failed on, kept as the error's source: an SDK error (through
/// `shared::aws::cause`, so it displays what the service said) or a sentence.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the event is not a usable Config compliance change: {0}")]
    BadEvent(String),
    #[error("config-triage does not handle this event: {0}")]
    UnsupportedEvent(String),
    #[error("could not read the exemptions from SSM parameter {parameter}: {source}")]
    ExemptionsParameter {
        parameter: String,
        #[source]
        source: Cause,
    },
    #[error("state table {table}: {operation} failed for {key}: {source}")]
    State {
        table: String,
        operation: &'static str,
        key: String,
        #[source]
        source: Cause,
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
    /// Some parts of the digest reached Slack and the rest did not. A
    /// scheduled digest stays claimed, so a retry does not post the
    /// delivered parts again: the missing ones are named here for people to
    /// look up. Without a claim (a manual run, or a claim that could not be
    /// written) a retry posts the whole digest again, and the message says so.
    #[error(
        "the digest reached Slack only in part (route {route}): {delivered} of {parts} part(s) delivered, {missing} NOT delivered (or not confirmed by Slack); {}: {source}",
        retry_note(*.claimed)
    )]
    DigestPartlyPosted {
        route: String,
        delivered: usize,
        parts: usize,
        missing: String,
        /// Whether this run holds the digest's claim.
        claimed: bool,
        #[source]
        source: SlackError,
    },
    #[error("SNS topic {topic} did not accept the critical alert for {target}: {source}")]
    Sns {
        topic: String,
        target: String,
        #[source]
        source: Cause,
    },
    #[error("AWS Config {operation} failed{context}: {source}")]
    Config {
        operation: &'static str,
        context: String,
        #[source]
        source: Cause,
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
            Self::DigestPartlyPosted { .. } => "DigestPartlyPosted",
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

/// What a retry of a digest posted in part does.
fn retry_note(claimed: bool) -> &'static str {
    if claimed {
        "it is not posted again, so that no part shows twice"
    } else {
        "no claim holds it (a manual run, or the claim could not be written), so a retry posts it whole again"
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::Error;

    #[test]
    fn a_failed_call_keeps_the_sdk_error_and_names_what_the_service_said() {
        let sdk = aws_sdk_dynamodb::error::ErrorMetadata::builder()
            .code("ResourceNotFoundException")
            .message("Requested resource not found")
            .build();
        let error = Error::State {
            table: "triage-state".into(),
            operation: "GetItem",
            key: "rule#resource".into(),
            source: shared::aws::cause(sdk),
        };
        let text = error.to_string();
        assert!(
            text.starts_with("state table triage-state: GetItem failed for rule#resource: "),
            "{text}"
        );
        assert!(text.contains("Requested resource not found"), "{text}");
        assert!(!text.contains("service error"), "{text}");
        let cause = error.source().expect("the cause is kept as the source");
        let sdk = cause.source().expect("the SDK error itself is reachable");
        assert!(
            sdk.to_string().contains("ResourceNotFoundException"),
            "{sdk}"
        );
    }
}
