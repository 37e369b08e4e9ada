//! What can go wrong in one invocation.
//!
//! A malformed CloudTrail record is not an error: it is counted and skipped,
//! and the rest of the delivery goes on. What fails an invocation is an event
//! that is not one of the function's triggers, or one whose envelope cannot
//! be read at all.

use shared::secret::SecretError;
use shared::slack::SlackError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("access-denied-triage does not handle this event: {0}")]
    UnsupportedEvent(String),
    #[error("the event could not be read: {0}")]
    BadEvent(String),
    #[error("state table {table}: {operation} failed for {key}: {source}")]
    State {
        table: String,
        operation: &'static str,
        key: String,
        #[source]
        source: Cause,
    },
    #[error("could not read the Slack webhook of route {route}: {source}")]
    Webhook {
        route: String,
        #[source]
        source: SecretError,
    },
    #[error("Slack did not accept the alert {key} (route {route}): {source}")]
    Slack {
        key: String,
        route: String,
        #[source]
        source: SlackError,
    },
    #[error("SNS did not accept the page for {key} on {topic}: {source}")]
    Sns {
        topic: String,
        key: String,
        #[source]
        source: Cause,
    },
    /// Stopped before the deadline with alerts still to send: the claims of
    /// those not sent were never taken, so the retry sends them.
    #[error("stopped before the deadline with {left} alert(s) not yet sent; the retry sends them")]
    Deadline { left: usize },
    /// Some alerts went out and others did not; the ones that did stay
    /// claimed, so the retry sends only the rest.
    #[error("{failed} of {total} alert(s) could not be sent; the retry sends them. First: {first}")]
    Partly {
        failed: usize,
        total: usize,
        #[source]
        first: Box<Error>,
    },
}

/// What a call failed on, kept as the error's source: an SDK error (through
/// `shared::aws::cause`, so it displays what the service said) or a sentence.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

impl Error {
    /// The `errorType` Lambda reports for this error: its own kind, which a
    /// retry policy, an alarm or a person can match on.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnsupportedEvent(_) => "UnsupportedEvent",
            Self::BadEvent(_) => "BadEvent",
            Self::State { .. } => "State",
            Self::Webhook { .. } => "Webhook",
            Self::Slack { .. } => "SlackDeliveryFailed",
            Self::Sns { .. } => "Sns",
            Self::Deadline { .. } => "Deadline",
            Self::Partly { .. } => "AlertsPartlySent",
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        shared::runtime::diagnostic(error.kind(), &error)
    }
}
