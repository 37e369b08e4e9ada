//! The AWS Config compliance change parser (`config_triage::change::parse`).
//!
//! First byte even: the rest is the event's JSON as it arrives. Odd: the
//! rest, split on NUL, replaces string fields of a real "Config Rules
//! Compliance Change" event, so the parser's own checks (compliance values,
//! resource types, ARNs, times) are reached with hostile text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const FIELDS: &[&[&str]] = &[
    &["account"],
    &["region"],
    &["time"],
    &["detail", "resourceId"],
    &["detail", "resourceType"],
    &["detail", "configRuleName"],
    &["detail", "configRuleARN"],
    &["detail", "awsAccountId"],
    &["detail", "awsRegion"],
    &["detail", "newEvaluationResult", "complianceType"],
    &["detail", "oldEvaluationResult", "complianceType"],
    &["detail", "newEvaluationResult", "resultRecordedTime"],
    &["detail", "newEvaluationResult", "annotation"],
    &["detail", "newEvaluationResult", "evaluationResultIdentifier", "orderingTimestamp"],
];

fn sample() -> Value {
    serde_json::from_str(include_str!("../seeds/config_event/sample.json")).unwrap_or_else(|_| json!({}))
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let event = if mode % 2 == 0 {
        match serde_json::from_slice::<Value>(rest) {
            Ok(event) => event,
            Err(_) => return,
        }
    } else {
        let mut event = sample();
        for (i, part) in rest.split(|b| *b == 0).enumerate() {
            let path = FIELDS[(i + usize::from(mode >> 1)) % FIELDS.len()];
            let mut at = &mut event;
            for key in path {
                at = &mut at[*key];
            }
            *at = Value::String(String::from_utf8_lossy(part).into_owned());
        }
        event
    };
    let _ = config_triage::change::is_compliance_change(&event);
    if let Ok(change) = config_triage::change::parse(&event) {
        let _ = change.key();
        let _ = change.target();
        let _ = config_triage::resource::derive_arn(&config_triage::resource::ResourceRef {
            account: change.account.clone(),
            region: change.region.clone(),
            resource_type: change.resource_type.clone(),
            resource_id: change.resource_id.clone(),
        });
    }
});
