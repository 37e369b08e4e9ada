//! What invoked the function: compliance changes (from an EventBridge rule,
//! or queued in SQS), the digest's schedule, or an operator's action.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::SqsEvent;
use serde::Deserialize;
use serde_json::Value;
use shared::input::{EventKind, classify};

use crate::change::{self, ComplianceChange};
use crate::error::Error;

#[derive(Debug)]
pub enum Trigger {
    /// Compliance changes queued in SQS, each record on its own.
    Batch(SqsEvent),
    /// One compliance change, straight from an EventBridge rule.
    Change(Box<ComplianceChange>),
    /// The digest: on its schedule (`event_id` is the schedule event's,
    /// which Lambda's retries keep), or `{"action": "digest"}` (none: a
    /// manual digest is always posted).
    Digest { event_id: Option<String> },
    /// `{"action": "announce_held"}`: the notifications a digest held back.
    AnnounceHeld,
}

/// Recognises the payload and reads it into its typed event; an event of
/// another kind is refused with what it was and what is expected.
pub fn parse(payload: &Value) -> Result<Trigger, Error> {
    let kind = classify(payload);
    let action = payload.get("action").and_then(Value::as_str);
    match &kind {
        EventKind::SqsBatch => SqsEvent::deserialize(payload)
            .map(Trigger::Batch)
            .map_err(|e| Error::BadEvent(format!("SQS batch: {e}"))),
        EventKind::EventBridge { .. } if change::is_compliance_change(payload) => {
            change::parse(payload).map(|c| Trigger::Change(Box::new(c)))
        }
        _ if action == Some("announce_held") => Ok(Trigger::AnnounceHeld),
        _ if kind.is_schedule() => {
            let schedule = EventBridgeEvent::<Value>::deserialize(payload)
                .map_err(|e| Error::BadEvent(format!("the digest's schedule event: {e}")))?;
            Ok(Trigger::Digest {
                event_id: schedule.id,
            })
        }
        _ if action == Some("digest") => Ok(Trigger::Digest { event_id: None }),
        EventKind::EventBridge { detail_type, .. } => Err(Error::UnsupportedEvent(format!(
            "detail-type {detail_type:?}; expected {:?} or \"Scheduled Event\"",
            change::DETAIL_TYPE
        ))),
        other => Err(Error::UnsupportedEvent(format!(
            "{other:?}; expected a Config compliance change (directly or through SQS), a schedule, or {{\"action\": \"digest\"}}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample(name: &str) -> Value {
        serde_json::from_str(&toilkit_tests::workspace::sample(name)).unwrap()
    }

    #[test]
    fn each_kind_of_invocation_is_recognised() {
        let change = sample("config-compliance-change.json");
        assert!(matches!(parse(&change), Ok(Trigger::Change(c)) if c.rule == "restricted-ssh"));
        let Ok(Trigger::Digest { event_id }) = parse(&sample("scheduled-event.json")) else {
            panic!("the schedule is the digest");
        };
        assert_eq!(
            event_id.as_deref(),
            Some("89d1a02d-5ec7-412e-82f5-13505f849b41")
        );
        assert!(matches!(
            parse(&json!({"action": "digest"})),
            Ok(Trigger::Digest { event_id: None })
        ));
        assert!(matches!(
            parse(&json!({"action": "announce_held"})),
            Ok(Trigger::AnnounceHeld)
        ));
        let batch = json!({"Records": [{"messageId": "m-1", "eventSource": "aws:sqs",
            "body": change.to_string()}]});
        let Ok(Trigger::Batch(batch)) = parse(&batch) else {
            panic!("an SQS batch");
        };
        assert_eq!(batch.records[0].message_id.as_deref(), Some("m-1"));
    }

    #[test]
    fn anything_else_is_refused_with_what_it_was() {
        let err = parse(&json!({"source": "aws.ec2",
            "detail-type": "EC2 Instance State-change Notification", "detail": {}}))
        .unwrap_err();
        assert_eq!(err.kind(), "UnsupportedEvent");
        assert!(
            err.to_string()
                .contains("EC2 Instance State-change Notification"),
            "{err}"
        );
        let err = parse(&json!({"action": "reboot"})).unwrap_err();
        assert!(
            err.to_string().contains("{\"action\": \"digest\"}"),
            "{err}"
        );
    }
}
