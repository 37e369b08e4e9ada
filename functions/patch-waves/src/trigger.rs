//! What invoked the function: the report's schedule, or a hand-made
//! `{"action": "report"}`; or the rollout's state machine,
//! `{"action": "rollout", "execution": "<execution ARN>", "input": {"rollout_id"?}}`
//! (the rollout is named by `rollout_id`, else by the execution's name);
//! with `"put_back": true` when the execution failed and its drained
//! instances must go back before it ends.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;
use shared::input::{EventKind, classify};

use crate::config::is_name;
use crate::error::Error;
use crate::rollout::Request;

/// Rollout names are at most this long (they go into command comments).
pub const ROLLOUT_NAME_MAX: usize = 48;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The scheduled report (`event_id` is the schedule event's), or a
    /// report asked for by hand.
    Report { event_id: Option<String> },
    /// One step of a wave rollout.
    Rollout(Request),
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
        EventKind::Manual if payload.get("action").and_then(Value::as_str) == Some("rollout") => {
            rollout(&payload).map(Trigger::Rollout)
        }
        EventKind::EventBridge { detail_type, .. } => Err(Error::UnsupportedEvent(format!(
            "detail-type {detail_type:?}; expected \"Scheduled Event\""
        ))),
        other => Err(Error::UnsupportedEvent(format!(
            "{other:?}; expected the report's schedule or {{\"action\": \"report\"}}"
        ))),
    }
}

fn rollout(payload: &Value) -> Result<Request, Error> {
    let execution = payload
        .get("execution")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            Error::BadEvent(
                "a rollout step names its state machine execution (\"execution\": \"$$.Execution.Id\")"
                    .to_owned(),
            )
        })?;
    // The state machine passes its execution's input whole; by hand, the
    // id may be given at the top.
    let named = payload
        .get("input")
        .and_then(|i| i.get("rollout_id"))
        .or_else(|| payload.get("rollout_id"));
    let rollout = match named {
        None | Some(Value::Null) => execution.rsplit(':').next().unwrap_or_default(),
        Some(Value::String(id)) => id.as_str(),
        Some(other) => {
            return Err(Error::BadEvent(format!(
                "rollout_id {other} is not a string"
            )));
        }
    };
    if !is_name(rollout, ROLLOUT_NAME_MAX) {
        return Err(Error::BadEvent(format!(
            "rollout {rollout:?} is not a rollout name (letters, digits, - and _, at most {ROLLOUT_NAME_MAX}): name the execution so, or give rollout_id"
        )));
    }
    let put_back = match payload.get("put_back") {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(other) => {
            return Err(Error::BadEvent(format!(
                "put_back {other} is not true or false"
            )));
        }
    };
    Ok(Request {
        rollout: rollout.to_owned(),
        execution: execution.to_owned(),
        put_back,
    })
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
    fn a_rollout_step_is_named_by_its_rollout_id_or_its_execution() {
        let exec = "arn:aws:states:eu-west-1:111122223333:execution:toilkit-patch-waves:dec-2026";
        assert_eq!(
            parse(json!({"action": "rollout", "execution": exec})).unwrap(),
            Trigger::Rollout(Request {
                rollout: "dec-2026".into(),
                execution: exec.into(),
                put_back: false,
            })
        );
        let Trigger::Rollout(named) =
            parse(json!({"action": "rollout", "execution": exec, "rollout_id": "r2"})).unwrap()
        else {
            panic!("a rollout")
        };
        assert_eq!(named.rollout, "r2");
        let Trigger::Rollout(from_input) =
            parse(json!({"action": "rollout", "execution": exec, "input": {"rollout_id": "r3"}}))
                .unwrap()
        else {
            panic!("a rollout")
        };
        assert_eq!(from_input.rollout, "r3");
        for bad in [
            json!({"action": "rollout"}),
            json!({"action": "rollout", "execution": exec, "rollout_id": "a#b"}),
            json!({"action": "rollout", "execution": exec, "rollout_id": 7}),
            json!({"action": "rollout", "execution": exec, "rollout_id": "x".repeat(49)}),
        ] {
            let error = parse(bad.clone()).unwrap_err();
            assert_eq!(error.kind(), "BadEvent", "{bad}");
        }
    }

    #[test]
    fn anything_else_is_refused_saying_what_arrived() {
        let error = parse(json!({"action": "patch"})).unwrap_err();
        assert_eq!(error.kind(), "UnsupportedEvent");
        assert!(error.to_string().contains("action"), "{error}");
    }
}
