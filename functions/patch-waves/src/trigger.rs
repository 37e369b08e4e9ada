//! What invoked the function: the report's schedule, or a hand-made
//! `{"action": "report"}`. The wave rollout (issue 17, part 2) will add its
//! state machine's requests here.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;
use shared::input::{EventKind, classify};

use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The scheduled report (`event_id` is the schedule event's), or a
    /// report asked for by hand.
    Report { event_id: Option<String> },
}

pub fn parse(payload: Value) -> Result<Trigger, Error> {
    let kind = classify(&payload);
    match &kind {
        _ if kind.is_schedule() => {
            let schedule = EventBridgeEvent::<Value>::deserialize(&payload)
                .map_err(|e| Error::BadEvent(format!("the report's schedule event: {e}")))?;
            Ok(Trigger::Report {
                event_id: schedule.id,
            })
        }
        EventKind::Manual if payload.get("action").and_then(Value::as_str) == Some("report") => {
            Ok(Trigger::Report { event_id: None })
        }
        EventKind::EventBridge { detail_type, .. } => Err(Error::UnsupportedEvent(format!(
            "detail-type {detail_type:?}; expected \"Scheduled Event\""
        ))),
        other => Err(Error::UnsupportedEvent(format!(
            "{other:?}; expected the report's schedule or {{\"action\": \"report\"}}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_schedule_and_a_manual_request_ask_for_the_report() {
        let schedule = json!({"version": "0", "id": "e1", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "111122223333", "time": "2026-12-07T06:00:00Z",
            "region": "eu-west-1", "resources": [], "detail": {}});
        assert_eq!(
            parse(schedule).unwrap(),
            Trigger::Report {
                event_id: Some("e1".into())
            }
        );
        assert_eq!(
            parse(json!({"action": "report"})).unwrap(),
            Trigger::Report { event_id: None }
        );
    }

    #[test]
    fn anything_else_is_refused_saying_what_arrived() {
        let error = parse(json!({"action": "patch"})).unwrap_err();
        assert_eq!(error.kind(), "UnsupportedEvent");
        assert!(error.to_string().contains("action"), "{error}");
    }
}
