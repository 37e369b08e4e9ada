//! Recognising what invoked a function.
//!
//! Functions take the raw JSON event and ask [`classify`] what it is, so one
//! function can serve an S3 trigger, an EventBridge rule and a schedule, and
//! an event of an unexpected shape fails with an error that says what arrived.

use aws_lambda_events::cloudwatch_logs::LogData;
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
///
/// `awslogs.data` is decoded here rather than through `LogsEvent`'s own
/// deserializer: that one reads its keys as borrowed strings, which an
/// already-parsed `Value` cannot lend, so it rejects every event handed to it
/// that way. Going from the string to `LogData` also skips building a
/// `Value` of the (up to megabytes of) payload.
pub fn decode_logs_subscription(event: Value) -> Result<LogData, SubscriptionError> {
    use base64::Engine as _;
    use serde::de::Error as _;

    let data = event
        .get("awslogs")
        .and_then(|logs| logs.get("data"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            SubscriptionError::Decode(serde_json::Error::custom(
                "awslogs.data is missing or not a string",
            ))
        })?;
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| SubscriptionError::Decode(serde_json::Error::custom(e)))?;
    // Inflated whole, then parsed from the slice: `from_reader` reads byte by
    // byte through `io::Read` and runs several times slower. A delivery is at
    // most a few megabytes decoded.
    let mut json = Vec::with_capacity(compressed.len().saturating_mul(8));
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(compressed.as_slice()),
        &mut json,
    )
    .map_err(|e| SubscriptionError::Decode(serde_json::Error::io(e)))?;
    serde_json::from_slice(&json).map_err(SubscriptionError::Decode)
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

    fn subscription(decoded: &Value) -> Value {
        use base64::Engine as _;
        use std::io::Write as _;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(decoded.to_string().as_bytes()).unwrap();
        let data = base64::engine::general_purpose::STANDARD.encode(gzip.finish().unwrap());
        json!({"awslogs": {"data": data}})
    }

    #[test]
    fn a_real_subscription_payload_decodes() {
        let decoded = json!({
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": "/aws/rds/instance/db-1/audit",
            "logStream": "db-1.audit.log.0",
            "subscriptionFilters": ["toilkit"],
            "logEvents": [
                {"id": "1", "timestamp": 1700000000000_i64, "message": "20231114 22:13:20,db-1,admin,10.0.0.1,1,2,QUERY,app,'DROP TABLE t',0"}
            ]
        });
        let data = decode_logs_subscription(subscription(&decoded)).unwrap();
        assert_eq!(data.log_group, "/aws/rds/instance/db-1/audit");
        assert_eq!(data.log_events.len(), 1);
        assert!(data.log_events[0].message.contains("DROP TABLE t"));
        assert!(!is_control_message(&data));
    }

    #[test]
    fn a_payload_that_is_not_gzip_or_not_log_data_is_an_error_not_a_panic() {
        use base64::Engine as _;
        let plain = base64::engine::general_purpose::STANDARD.encode("{}");
        for event in [
            json!({"awslogs": {}}),
            json!({"awslogs": {"data": 7}}),
            json!({"awslogs": {"data": plain}}),
            subscription(&json!({"messageType": "DATA_MESSAGE"})),
            subscription(&json!([1, 2, 3])),
        ] {
            let err = decode_logs_subscription(event.clone()).unwrap_err();
            assert!(err.to_string().contains("base64 of gzip"), "{event}: {err}");
        }
    }

    #[test]
    fn a_bad_payload_names_the_expected_encoding() {
        let err =
            decode_logs_subscription(json!({"awslogs": {"data": "not base64!"}})).unwrap_err();
        assert!(err.to_string().contains("base64 of gzip"), "{err}");
    }
}
