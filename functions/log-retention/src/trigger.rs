//! What invoked the function: the schedule, an operator, or a new log group.

use std::collections::HashMap;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::input::{EventKind, classify};

use crate::api::Pace;
use crate::error::Error;

/// Where a sweep that stopped early carries on: every region before
/// `region` (in the configured order) is done; in `region`, listing starts at
/// `next_token` (`None`: its first page), no sooner than `pace` allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resume {
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Where the rate cap stood when the run stopped; a resume point
    /// written before the pace was handed on has none.
    #[serde(default, skip_serializing_if = "Pace::is_empty")]
    pub pace: Pace,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// The whole policy over every group, then S3 pruning.
    Sweep {
        /// Overrides `DRY_RUN` for this run.
        dry_run: Option<bool>,
        resume: Option<Resume>,
        /// The sweep state machine's execution this invocation belongs to:
        /// it sweeps only if no older execution is running.
        execution: Option<String>,
    },
    /// CloudTrail saw `CreateLogGroup`: the policy for that one group now.
    NewGroup {
        region: String,
        name: String,
        /// The tags the creation request carried (`requestParameters.tags`).
        tags: HashMap<String, String>,
    },
    /// A CloudTrail event for a call that failed: there is no new group.
    FailedCall { name: String, error: String },
}

/// The manual invocation: `{}`, `{"dry_run": true}`, `{"resume": {...}}`;
/// the state machine adds `{"execution": "<its execution ARN>"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manual {
    dry_run: Option<bool>,
    resume: Option<Resume>,
    execution: Option<String>,
}

pub fn parse(payload: &Value) -> Result<Trigger, Error> {
    // What the sweep state machine sends is read as such whatever else it
    // holds: an execution started with an event as its input must fail on
    // the event's fields, not sweep as a schedule without the one-at-a-time
    // check.
    let kind = match payload.get("execution") {
        Some(_) => EventKind::Manual,
        None => classify(payload),
    };
    match kind {
        EventKind::Manual => {
            let manual: Manual = serde_json::from_value(payload.clone()).map_err(|e| {
                Error::Event(format!(
                    "a manual invocation takes {{\"dry_run\": true|false}} and/or {{\"resume\": {{\"region\": ..., \"next_token\": ...}}}} (and, from the sweep state machine, {{\"execution\": ...}}): {e}"
                ))
            })?;
            Ok(Trigger::Sweep {
                dry_run: manual.dry_run,
                resume: manual.resume,
                execution: manual.execution,
            })
        }
        kind if kind.is_schedule() => Ok(Trigger::Sweep {
            dry_run: None,
            resume: None,
            execution: None,
        }),
        EventKind::EventBridge {
            source,
            detail_type,
        } if source == "aws.logs" && detail_type == "AWS API Call via CloudTrail" => {
            new_group(payload)
        }
        other => Err(Error::Event(format!(
            "expected a schedule, a manual {{\"dry_run\": true}} or the CloudTrail CreateLogGroup event, got {other:?}"
        ))),
    }
}

/// The part of a CloudTrail event's `detail` that says which call was made,
/// where, with what, and whether it failed.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiCall {
    pub event_name: Option<String>,
    pub aws_region: Option<String>,
    pub error_code: Option<String>,
    pub request_parameters: Option<CreateLogGroup>,
}

/// `CreateLogGroup`'s request parameters.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateLogGroup {
    pub log_group_name: Option<String>,
    /// Any JSON: only the keys decide an exemption, so a value of an
    /// unexpected type still counts.
    pub tags: Option<Value>,
}

fn new_group(payload: &Value) -> Result<Trigger, Error> {
    let event = EventBridgeEvent::<ApiCall>::deserialize(payload).map_err(|e| {
        Error::Event(format!(
            "the CloudTrail CreateLogGroup event is not of EventBridge's shape: {e}"
        ))
    })?;
    let call = &event.detail;
    let event_name = call.event_name.as_deref().unwrap_or_default();
    if event_name != "CreateLogGroup" {
        return Err(Error::Event(format!(
            "a CloudTrail event for {event_name:?}; only CreateLogGroup is handled (check the EventBridge rule's pattern)"
        )));
    }
    let parameters = call.request_parameters.as_ref();
    let name = parameters
        .and_then(|p| p.log_group_name.as_deref())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            Error::Event(
                "CreateLogGroup event without detail.requestParameters.logGroupName".into(),
            )
        })?
        .to_owned();
    if let Some(code) = &call.error_code {
        return Ok(Trigger::FailedCall {
            name,
            error: code.clone(),
        });
    }
    let region = call
        .aws_region
        .clone()
        .or_else(|| event.region.clone())
        .ok_or_else(|| Error::Event("CreateLogGroup event without detail.awsRegion".into()))?;
    let tags = parameters
        .and_then(|p| p.tags.as_ref())
        .and_then(Value::as_object)
        .map(|tags| {
            tags.iter()
                .map(|(k, v)| {
                    let value = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.clone(), value)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Trigger::NewGroup { region, name, tags })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create_event(name: &str) -> Value {
        json!({
            "version": "0", "id": "1", "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.logs", "account": "123456789012", "time": "2026-11-21T09:00:00Z",
            "region": "eu-west-1", "resources": [],
            "detail": {"eventSource": "logs.amazonaws.com", "eventName": "CreateLogGroup",
                       "awsRegion": "eu-west-1", "requestParameters": {"logGroupName": name}}
        })
    }

    #[test]
    fn every_trigger_is_recognised() {
        assert_eq!(
            parse(&json!({"dry_run": true})).unwrap(),
            Trigger::Sweep {
                dry_run: Some(true),
                resume: None,
                execution: None
            }
        );
        let scheduled =
            json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(
            parse(&scheduled).unwrap(),
            Trigger::Sweep {
                dry_run: None,
                resume: None,
                execution: None
            }
        );
        assert_eq!(
            parse(&create_event("/aws/lambda/new")).unwrap(),
            Trigger::NewGroup {
                region: "eu-west-1".into(),
                name: "/aws/lambda/new".into(),
                tags: HashMap::new(),
            }
        );
        let mut tagged = create_event("/aws/lambda/kept");
        tagged["detail"]["requestParameters"]["tags"] = json!({"toilkit:keep": "", "n": 1});
        let Trigger::NewGroup { tags, .. } = parse(&tagged).unwrap() else {
            panic!("a new group")
        };
        assert_eq!(tags["toilkit:keep"], "");
        assert_eq!(tags["n"], "1");
        let resume = json!({"resume": {"region": "us-east-1", "next_token": "abc"}});
        assert!(matches!(
            parse(&resume).unwrap(),
            Trigger::Sweep {
                resume: Some(Resume {
                    next_token: Some(_),
                    ..
                }),
                ..
            }
        ));
    }

    #[test]
    fn an_event_passed_on_by_the_state_machine_is_refused() {
        let mut scheduled =
            json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        scheduled["execution"] = json!("arn:aws:states:eu-west-1:123456789012:execution:m:e");
        let err = parse(&scheduled).unwrap_err().to_string();
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn bad_events_say_what_was_expected() {
        let err = parse(&json!({"dryrun": true})).unwrap_err().to_string();
        assert!(err.contains("unknown field `dryrun`"), "{err}");
        let mut other = create_event("/x");
        other["detail"]["eventName"] = json!("DeleteLogGroup");
        let err = parse(&other).unwrap_err().to_string();
        assert!(err.contains("only CreateLogGroup"), "{err}");
        let mut failed = create_event("/x");
        failed["detail"]["errorCode"] = json!("ResourceAlreadyExistsException");
        assert!(matches!(
            parse(&failed).unwrap(),
            Trigger::FailedCall { .. }
        ));
        let s3 = json!({"Records": [{"eventSource": "aws:s3"}]});
        assert!(
            parse(&s3)
                .unwrap_err()
                .to_string()
                .contains("expected a schedule")
        );
    }
}
