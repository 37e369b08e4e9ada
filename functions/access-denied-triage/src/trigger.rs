//! What invoked the function: one denied call from EventBridge, a CloudWatch
//! Logs delivery of a trail's records, or the digest's schedule.
//!
//! Both record paths end as one [`Batch`]: the records that parsed, and how
//! many did not. A malformed record never fails the invocation (the rest of
//! the delivery still matters); an event of another kind does.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;
use shared::input::{EventKind, classify, decode_logs_subscription, is_control_message};

use crate::error::Error;
use crate::record::Record;

/// The `detail-type` CloudTrail gives every API call it sends to EventBridge.
pub const DETAIL_TYPE: &str = "AWS API Call via CloudTrail";

/// Where the records came from; the report says it, since the two paths see
/// different things (EventBridge lacks read-only calls unless its rule asks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    EventBridge,
    Logs,
}

impl Path {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EventBridge => "eventbridge",
            Self::Logs => "logs",
        }
    }
}

#[derive(Debug)]
pub struct Batch {
    pub path: Path,
    pub records: Vec<Record>,
    pub malformed: u64,
    /// Why the first malformed record was refused, for the report.
    pub first_problem: Option<String>,
}

impl Batch {
    fn new(path: Path) -> Self {
        Self {
            path,
            records: Vec::new(),
            malformed: 0,
            first_problem: None,
        }
    }

    fn malformed(&mut self, why: String) {
        self.malformed += 1;
        self.first_problem.get_or_insert(why);
    }
}

#[derive(Debug)]
pub enum Trigger {
    Records(Batch),
    /// The digest, on its schedule (`event_id` is the schedule event's, which
    /// Lambda's retries keep), or `{"action": "digest"}`.
    Digest {
        event_id: Option<String>,
    },
}

pub fn parse(payload: Value) -> Result<Trigger, Error> {
    let kind = classify(&payload);
    match &kind {
        EventKind::LogsSubscription => logs(payload).map(Trigger::Records),
        EventKind::EventBridge { detail_type, .. } if detail_type == DETAIL_TYPE => {
            eventbridge(payload).map(Trigger::Records)
        }
        _ if kind.is_schedule() => {
            let schedule = EventBridgeEvent::<Value>::deserialize(&payload)
                .map_err(|e| Error::BadEvent(format!("the digest's schedule event: {e}")))?;
            Ok(Trigger::Digest {
                event_id: schedule.id,
            })
        }
        _ if payload.get("action").and_then(Value::as_str) == Some("digest") => {
            Ok(Trigger::Digest { event_id: None })
        }
        EventKind::EventBridge { detail_type, .. } => Err(Error::UnsupportedEvent(format!(
            "detail-type {detail_type:?}; expected {DETAIL_TYPE:?} or \"Scheduled Event\""
        ))),
        other => Err(Error::UnsupportedEvent(format!(
            "{other:?}; expected an EventBridge {DETAIL_TYPE:?} event, a CloudWatch Logs subscription of a CloudTrail log group, a schedule, or {{\"action\": \"digest\"}}"
        ))),
    }
}

/// One record: the event's `detail`.
fn eventbridge(payload: Value) -> Result<Batch, Error> {
    let event = EventBridgeEvent::<Value>::deserialize(payload)
        .map_err(|e| Error::BadEvent(format!("{DETAIL_TYPE} event: {e}")))?;
    // Only AWS may put events whose source starts with `aws.`: anyone with
    // events:PutEvents could otherwise forge denials, or teach the function
    // their key as a known one.
    let source = event.source.as_str();
    if !source.starts_with("aws.") {
        return Err(Error::UnsupportedEvent(format!(
            "a {DETAIL_TYPE:?} event from source {source:?}, not from AWS (aws.*): refused as forged"
        )));
    }
    let mut batch = Batch::new(Path::EventBridge);
    match Record::deserialize(event.detail) {
        Ok(record) => batch.records.push(record),
        Err(e) => batch.malformed(format!("event {}: {e}", event.id.unwrap_or_default())),
    }
    Ok(batch)
}

/// A trail's log group holds one record per log event.
fn logs(payload: Value) -> Result<Batch, Error> {
    let data = decode_logs_subscription(payload).map_err(|e| Error::BadEvent(e.to_string()))?;
    let mut batch = Batch::new(Path::Logs);
    if is_control_message(&data) {
        return Ok(batch);
    }
    batch.records.reserve(data.log_events.len());
    for event in &data.log_events {
        match Record::parse(&event.message) {
            Ok(record) => batch.records.push(record),
            Err(e) => batch.malformed(format!("log event {} of {}: {e}", event.id, data.log_group)),
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn api_call(detail: Value) -> Value {
        json!({"version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
            "detail-type": DETAIL_TYPE, "source": "aws.iam", "account": "111122223333",
            "time": "2026-12-06T09:00:00Z", "region": "us-east-1", "resources": [],
            "detail": detail})
    }

    #[test]
    fn an_api_call_event_not_from_aws_is_refused_as_forged() {
        let mut event = api_call(fixture("root"));
        event["source"] = json!("my.app");
        let Err(error) = parse(event) else {
            panic!("a forged event was accepted");
        };
        assert_eq!(error.kind(), "UnsupportedEvent");
        assert!(error.to_string().contains("\"my.app\""), "{error}");
    }

    #[test]
    fn an_eventbridge_api_call_is_one_record() {
        let Ok(Trigger::Records(batch)) = parse(api_call(fixture("leaked-key"))) else {
            panic!("a CloudTrail API call");
        };
        assert_eq!(batch.path, Path::EventBridge);
        assert_eq!(batch.records.len(), 1);
        assert_eq!(batch.records[0].action(), "iam:ListUsers");
        assert_eq!(batch.malformed, 0);
    }

    #[test]
    fn a_malformed_detail_is_counted_not_an_error() {
        let Ok(Trigger::Records(batch)) = parse(api_call(json!({"eventName": "ListUsers"}))) else {
            panic!("still a batch");
        };
        assert!(batch.records.is_empty());
        assert_eq!(batch.malformed, 1);
        let why = batch.first_problem.unwrap();
        assert!(
            why.contains("7bf73129") && why.contains("eventTime"),
            "{why}"
        );
    }

    #[test]
    fn a_logs_delivery_keeps_every_good_record_and_counts_the_bad() {
        let messages = [
            fixture("assumed-role-ci").to_string(),
            "{\"eventVersion\": \"1.11\", \"truncated".to_owned(),
            fixture("not-denied").to_string(),
        ];
        let events: Vec<Value> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"id": format!("3795{i}"), "timestamp": 1_796_547_600_000_i64, "message": m}))
            .collect();
        let document = toilkit_tests::logs_subscription::document(
            "aws-cloudtrail-logs-111122223333-org",
            "111122223333_CloudTrail_eu-west-1",
            events,
        );
        let Ok(Trigger::Records(batch)) = parse(toilkit_tests::logs_subscription::event(&document))
        else {
            panic!("a logs delivery");
        };
        assert_eq!(batch.path, Path::Logs);
        assert_eq!(batch.records.len(), 2);
        assert_eq!(batch.malformed, 1);
        assert!(batch.first_problem.unwrap().contains("log event 37951"));
    }

    #[test]
    fn the_schedule_is_the_digest() {
        let schedule = json!({"version": "0", "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
            "detail-type": "Scheduled Event", "source": "aws.events", "account": "111122223333",
            "time": "2026-12-07T08:00:00Z", "region": "eu-west-1", "resources": [], "detail": {}});
        let Ok(Trigger::Digest { event_id }) = parse(schedule) else {
            panic!("the digest");
        };
        assert_eq!(
            event_id.as_deref(),
            Some("89d1a02d-5ec7-412e-82f5-13505f849b41")
        );
        assert!(matches!(
            parse(json!({"action": "digest"})),
            Ok(Trigger::Digest { event_id: None })
        ));
    }

    #[test]
    fn another_kind_of_event_is_refused_saying_what_it_was() {
        let err = parse(json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}}))
            .unwrap_err();
        assert_eq!(err.kind(), "UnsupportedEvent");
        assert!(
            err.to_string()
                .contains("EC2 Instance State-change Notification"),
            "{err}"
        );
        let err = parse(json!({"Records": [{"eventSource": "aws:s3"}]})).unwrap_err();
        assert!(err.to_string().contains("S3Notification"), "{err}");
        let err = parse(json!({"awslogs": {"data": "not base64!"}})).unwrap_err();
        assert_eq!(err.kind(), "BadEvent");
    }
}
