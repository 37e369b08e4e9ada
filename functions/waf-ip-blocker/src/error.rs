//! What can go wrong, with the resource it went wrong on, and the error
//! that caused it kept as its `source`.

/// A cause of any type, kept whole so the Lambda diagnostic and the logs
/// can show its chain. A sentence (`&str`, `String`) converts into one.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unsupported event: {0}")]
    UnsupportedEvent(String),
    #[error("{0}")]
    Subscription(#[from] shared::input::SubscriptionError),
    #[error("could not read s3://{bucket}/{key}: {source}")]
    ReadObject {
        bucket: String,
        key: String,
        #[source]
        source: Cause,
    },
    #[error("stopped before the Lambda deadline while reading {what}; nothing from it was counted")]
    OutOfTime { what: String },
    #[error("DynamoDB table {table}: {operation} failed: {source}")]
    Ledger {
        table: String,
        operation: &'static str,
        #[source]
        source: Cause,
    },
    #[error(
        "DynamoDB table {table}: window item {pk} is full (400 KB): its counters count each delivery alone until the window ends: {source}"
    )]
    WindowItemFull {
        table: String,
        pk: String,
        #[source]
        source: Cause,
    },
    #[error("IP set {arn}: {operation} failed: {source}")]
    IpSet {
        arn: String,
        operation: &'static str,
        #[source]
        source: Cause,
    },
    #[error("the Slack summary was not delivered: {0}")]
    Slack(#[source] Cause),
    #[error("{failed} change(s) failed; see the report's \"failed\" list: {first}")]
    Incomplete { failed: u64, first: String },
}

impl Error {
    /// The `errorType` Lambda reports for this error: its own kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::UnsupportedEvent(_) => "UnsupportedEvent",
            Self::Subscription(_) => "Subscription",
            Self::ReadObject { .. } => "ReadObject",
            Self::OutOfTime { .. } => "OutOfTime",
            Self::Ledger { .. } => "Ledger",
            Self::WindowItemFull { .. } => "WindowItemFull",
            Self::IpSet { .. } => "IpSet",
            Self::Slack(_) => "SlackDeliveryFailed",
            Self::Incomplete { .. } => "Incomplete",
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(error: Error) -> Self {
        shared::runtime::diagnostic(error.kind(), &error)
    }
}
