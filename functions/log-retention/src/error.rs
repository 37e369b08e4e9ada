//! What can go wrong, and with which resource.

use shared::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The invocation's payload is not one this function understands.
    #[error("unrecognised event: {0}")]
    Event(String),

    /// An AWS call failed after the SDK's retries.
    #[error("{operation} on {target} failed: {message}")]
    Aws {
        operation: &'static str,
        target: String,
        /// The service's error code (`ThrottlingException`...), when it sent one.
        code: Option<String>,
        message: String,
    },

    /// The CreateLogGroup trigger could not apply the policy; the invocation
    /// fails so that Lambda retries the event.
    #[error("the policy could not be applied to new log group {name}: {message}")]
    NewGroup { name: String, message: String },

    /// No new call may start: the invocation's deadline (less its margin) is near.
    #[error("{operation} on {target} not attempted: the invocation's deadline is near")]
    Deadline {
        operation: &'static str,
        target: String,
    },

    /// The call was sent but the deadline came before its answer: it may
    /// or may not have taken effect.
    #[error(
        "{operation} on {target} was sent but not answered before the invocation's deadline; it may have taken effect"
    )]
    Unanswered {
        operation: &'static str,
        target: String,
    },
}

impl Error {
    pub fn is_deadline(&self) -> bool {
        matches!(self, Self::Deadline { .. } | Self::Unanswered { .. })
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Aws { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

impl Error {
    /// The `errorType` Lambda reports for this error: its own kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Config(_) => "InvalidConfiguration",
            Self::Event(_) => "UnrecognisedEvent",
            Self::Aws { .. } => "Aws",
            Self::NewGroup { .. } => "NewGroup",
            Self::Deadline { .. } | Self::Unanswered { .. } => "Deadline",
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        shared::runtime::diagnostic(error.kind(), &error)
    }
}
