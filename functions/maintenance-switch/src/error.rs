//! What can go wrong, and with which resource.
//!
//! Each variant is also the `errorType` Lambda reports (see the
//! `From<Error> for Diagnostic` below), so the state machine can retry
//! `Throttled` and catch the rest by name.

use aws_sdk_elasticloadbalancingv2::error::{DisplayErrorContext, ProvideErrorMetadata};
use lambda_runtime::Diagnostic;

/// The SDK error behind a failed call, kept whole (see `shared::aws::cause`)
/// so the logs can show its chain; the message quotes only what the service
/// said.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Every problem found in the request, reported together; nothing was changed.
    #[error("invalid request, nothing was changed: {}", .0.join("; "))]
    InvalidRequest(Vec<String>),

    #[error("listener(s) not found, nothing was changed: {}", .0.join(", "))]
    ListenersNotFound(Vec<String>),

    #[error("maintenance target group {0} not found, nothing was changed")]
    TargetGroupNotFound(String),

    /// The plan for some listener cannot be carried out (another window is
    /// on, no free priorities); nothing was changed.
    #[error("refused, nothing was changed: {}", .0.join("; "))]
    Refused(Vec<String>),

    #[error("{operation} on {resource} was throttled: {message}")]
    Throttled {
        operation: &'static str,
        resource: String,
        message: String,
        #[source]
        source: Cause,
    },

    #[error("{operation} on {resource} failed: {code}: {message}")]
    Aws {
        operation: &'static str,
        resource: String,
        code: String,
        message: String,
        #[source]
        source: Cause,
    },

    /// Enable failed on some listener; `summary` says what was rolled back
    /// and what, if anything, is left.
    #[error("enabling maintenance window {window_id} failed: {summary}")]
    EnableFailed { window_id: String, summary: String },

    #[error("disabling maintenance failed: {summary}")]
    DisableFailed { summary: String },

    /// The window's execution is no longer running (cancelled, or over):
    /// enable does not switch it on, or undoes what it switched; `summary`
    /// says exactly what state the listeners are in.
    #[error(
        "window {window_id} was cancelled or is over (its execution {execution_arn} is {status}), so enable must not leave it on: {summary}"
    )]
    Cancelled {
        window_id: String,
        execution_arn: String,
        status: String,
        summary: String,
    },

    #[error(
        "window {window_id} is already scheduled (execution {execution_arn}, status {status}); cancel it first or use another window_id"
    )]
    AlreadyScheduled {
        window_id: String,
        execution_arn: String,
        status: String,
    },

    #[error(
        "window {0} is not scheduled and no listener_arns were given, so there is nothing to cancel"
    )]
    NotScheduled(String),

    #[error("the Slack notification was not delivered: {0}")]
    Notify(#[source] shared::slack::SlackError),

    #[error("the Slack notification was not delivered: the Slack webhook could not be read: {0}")]
    NotifyWebhook(#[source] shared::secret::SecretError),

    #[error(
        "MAINTENANCE_STATE_MACHINE_ARN is not set: the schedule, cancel and windows actions need the maintenance window state machine"
    )]
    NoStateMachine,
}

impl Error {
    /// Wraps an SDK error, naming the operation and the resource.
    pub fn aws<E>(operation: &'static str, resource: impl Into<String>, err: E) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = err.code().unwrap_or("Unknown").to_owned();
        // Without a service message (a connection failure, a timeout) the
        // cause is only in the error's source chain.
        let message = err
            .message()
            .map(str::to_owned)
            .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
        let resource = resource.into();
        let source = shared::aws::cause(err);
        if is_throttling(&code) {
            Self::Throttled {
                operation,
                resource,
                message,
                source,
            }
        } else {
            Self::Aws {
                operation,
                resource,
                code,
                message,
                source,
            }
        }
    }

    /// The short name Step Functions matches in `Retry` and `Catch`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "InvalidRequest",
            Self::ListenersNotFound(_) => "ListenersNotFound",
            Self::TargetGroupNotFound(_) => "TargetGroupNotFound",
            Self::Refused(_) => "Refused",
            Self::Throttled { .. } => "Throttled",
            Self::Aws { .. } => "AwsError",
            Self::EnableFailed { .. } => "EnableFailed",
            Self::DisableFailed { .. } => "DisableFailed",
            Self::Cancelled { .. } => "Cancelled",
            Self::AlreadyScheduled { .. } => "AlreadyScheduled",
            Self::NotScheduled(_) => "NotScheduled",
            Self::Notify(_) | Self::NotifyWebhook(_) => "NotifyFailed",
            Self::NoStateMachine => "NoStateMachine",
        }
    }
}

fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "ThrottledException"
    )
}

impl From<Error> for Diagnostic {
    fn from(error: Error) -> Self {
        shared::runtime::diagnostic(error.kind(), &error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_codes_become_the_retryable_kind() {
        use aws_sdk_elasticloadbalancingv2::error::ErrorMetadata;
        let meta = |code: &str| {
            ErrorMetadata::builder()
                .code(code)
                .message("Rate exceeded")
                .build()
        };
        let e = Error::aws("CreateRule", "arn:listener", meta("Throttling"));
        assert_eq!(e.kind(), "Throttled");
        let e = Error::aws("SetRulePriorities", "arn:rule", meta("PriorityInUse"));
        assert_eq!(e.kind(), "AwsError");
        assert_eq!(
            e.to_string(),
            "SetRulePriorities on arn:rule failed: PriorityInUse: Rate exceeded"
        );
    }

    #[test]
    fn a_failed_call_keeps_the_sdk_error_and_quotes_the_service() {
        use aws_sdk_elasticloadbalancingv2::error::ErrorMetadata;
        use std::error::Error as _;
        let sdk = ErrorMetadata::builder()
            .code("ListenerNotFound")
            .message("One or more listeners not found")
            .build();
        let e = Error::aws("DescribeListeners", "arn:listener", sdk);
        assert_eq!(
            e.to_string(),
            "DescribeListeners on arn:listener failed: ListenerNotFound: One or more listeners not found"
        );
        let source = e.source().expect("the SDK error is kept as the source");
        assert!(
            source
                .to_string()
                .contains("One or more listeners not found"),
            "{source}"
        );
        let sdk = source.source().expect("the SDK error itself is reachable");
        assert!(sdk.to_string().contains("ListenerNotFound"), "{sdk}");
    }

    #[test]
    fn diagnostics_carry_the_kind_step_functions_matches() {
        let d: Diagnostic = Error::Throttled {
            operation: "CreateRule",
            resource: "arn:listener".into(),
            message: "Rate exceeded".into(),
            source: "Rate exceeded".into(),
        }
        .into();
        assert_eq!(d.error_type, "Throttled");
        assert!(d.error_message.contains("CreateRule on arn:listener"));
        let d: Diagnostic = Error::InvalidRequest(vec!["a".into(), "b".into()]).into();
        assert_eq!(d.error_type, "InvalidRequest");
        assert_eq!(
            d.error_message,
            "invalid request, nothing was changed: a; b"
        );
    }
}
