//! What can go wrong in one invocation.
//!
//! A report is all or nothing up to the digests: an AWS read that fails
//! fails the invocation (a report missing a page of instances would tell
//! owners their findings were fixed). A digest that cannot be delivered
//! fails only its owner's part: the others are sent and their state
//! written, and the invocation then fails naming it.

use shared::secret::SecretError;
use shared::slack::SlackError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("patch-waves does not handle this event: {0}")]
    UnsupportedEvent(String),
    #[error("the event could not be read: {0}")]
    BadEvent(String),
    #[error("{operation} failed for {target}: {source}")]
    Aws {
        operation: &'static str,
        target: String,
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
    #[error("could not read the Slack webhook of route {route}: {source}")]
    Webhook {
        route: String,
        #[source]
        source: SecretError,
    },
    #[error("Slack did not accept the digest of {owner} (route {route}): {source}")]
    Slack {
        owner: String,
        route: String,
        #[source]
        source: SlackError,
    },
    /// Another invocation moved the wave on between this one's read and
    /// its write; this one acted on nothing it read. Step Functions retries.
    #[error(
        "wave {wave} of rollout {rollout} was moved on by another invocation; this one stopped without acting"
    )]
    Conflict { rollout: String, wave: String },
    /// Another execution of the same rollout is running its wave; this one
    /// touches nothing (the state machine ends it without putting back).
    #[error(
        "wave {wave} of rollout {rollout} is being run by execution {owner}, which is still running; this execution touched nothing"
    )]
    Busy {
        rollout: String,
        wave: String,
        owner: String,
    },
    /// Putting drained instances back failed; the wave stays in its restore
    /// step and the next invocation tries again (leaving must make progress).
    #[error("could not put {targets} target(s) back into target group {target_group}: {source}")]
    Restore {
        target_group: String,
        targets: usize,
        #[source]
        source: Cause,
    },
    /// Some digests went out and others did not; the state of those not
    /// sent was not written, so the next report tells their owners again.
    #[error(
        "{failed} of {total} digest(s) could not be sent; the next report sends them. First: {first}"
    )]
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
    /// The `errorType` Lambda reports for this error.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnsupportedEvent(_) => "UnsupportedEvent",
            Self::BadEvent(_) => "BadEvent",
            Self::Aws { .. } => "AwsCallFailed",
            Self::State { .. } => "State",
            Self::Webhook { .. } => "Webhook",
            Self::Slack { .. } => "SlackDeliveryFailed",
            Self::Partly { .. } => "DigestsPartlySent",
            Self::Conflict { .. } => "Conflict",
            Self::Busy { .. } => "RolloutBusy",
            Self::Restore { .. } => "RestoreFailed",
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        shared::runtime::diagnostic(error.kind(), &error)
    }
}
