//! Recognising what invoked a function.
//!
//! Functions take the raw JSON event and ask [`classify`] what it is, so one
//! function can serve an S3 trigger, an EventBridge rule and a schedule, and
//! an event of an unexpected shape fails with an error that says what arrived.

use aws_lambda_events::cloudwatch_logs::{LogData, LogsEvent};
use serde_json::Value;

/// The kinds of events toilkit functions receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `{"awslogs": {"data": "..."}}`: a CloudWatch Logs subscription.
    LogsSubscription,
    /// `{"Records": [{"eventSource": "aws:s3", ...}]}`: an S3 notification.
    S3Notification,
    /// `{"Records": [{"eventSource": "aws:sqs", ...}]}`: an SQS batch.
    SqsBatch,
    /// An EventBridge event; `Scheduled Event` is the schedule.
    EventBridge { source: String, detail_type: String },
    /// Anything else: a hand-made invocation (`{"dry_run": true}`, `{"action": ...}`).
    Manual,
}

impl EventKind {
    pub fn is_schedule(&self) -> bool {
        matches!(self, Self::EventBridge { detail_type, .. } if detail_type == "Scheduled Event")
    }
}

/// Says what kind of event `event` is.
pub fn classify(event: &Value) -> EventKind {
    if event.get("awslogs").is_some() {
        return EventKind::LogsSubscription;
    }
    if let Some(source) = event
        .get("Records")
        .and_then(|r| r.get(0))
        .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")))
        .and_then(Value::as_str)
    {
        match source {
            "aws:s3" => return EventKind::S3Notification,
            "aws:sqs" => return EventKind::SqsBatch,
            _ => {}
        }
    }
    if let (Some(source), Some(detail_type)) = (
        event.get("source").and_then(Value::as_str),
        event.get("detail-type").and_then(Value::as_str),
    ) {
        return EventKind::EventBridge {
            source: source.to_owned(),
            detail_type: detail_type.to_owned(),
        };
    }
    EventKind::Manual
}

#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error(
        "the CloudWatch Logs subscription payload could not be decoded (awslogs.data must be base64 of gzip of JSON): {0}"
    )]
    Decode(serde_json::Error),
}

/// Decodes a CloudWatch Logs subscription event (base64, gzip, JSON).
pub fn decode_logs_subscription(event: Value) -> Result<LogData, SubscriptionError> {
    serde_json::from_value::<LogsEvent>(event)
        .map(|e| e.aws_logs.data)
        .map_err(SubscriptionError::Decode)
}

/// CloudWatch Logs sends a `CONTROL_MESSAGE` to check that the destination is
/// reachable; it carries no log lines.
pub fn is_control_message(data: &LogData) -> bool {
    data.message_type == "CONTROL_MESSAGE"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_are_recognised() {
        assert_eq!(
            classify(&json!({"awslogs": {"data": "x"}})),
            EventKind::LogsSubscription
        );
        assert_eq!(
            classify(&json!({"Records": [{"eventSource": "aws:s3"}]})),
            EventKind::S3Notification
        );
        assert_eq!(
            classify(&json!({"Records": [{"eventSource": "aws:sqs"}]})),
            EventKind::SqsBatch
        );
        let scheduled =
            classify(&json!({"source": "aws.events", "detail-type": "Scheduled Event"}));
        assert!(scheduled.is_schedule());
        assert_eq!(classify(&json!({"dry_run": true})), EventKind::Manual);
    }

    #[test]
    fn a_bad_payload_names_the_expected_encoding() {
        let err =
            decode_logs_subscription(json!({"awslogs": {"data": "not base64!"}})).unwrap_err();
        assert!(err.to_string().contains("base64 of gzip"), "{err}");
    }
}
