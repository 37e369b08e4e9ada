//! What can go wrong in one invocation.
//!
//! A malformed CloudTrail record is not an error: it is counted and skipped,
//! and the rest of the delivery goes on. What fails an invocation is an event
//! that is not one of the function's triggers, or one whose envelope cannot
//! be read at all.

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
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        shared::runtime::diagnostic(error.kind(), &error)
    }
}
