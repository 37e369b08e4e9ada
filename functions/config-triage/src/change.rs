//! The "Config Rules Compliance Change" event, read into what triage needs.

use std::fmt;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::Error;
use crate::resource::ResourceRef;

pub const DETAIL_TYPE: &str = "Config Rules Compliance Change";

/// A resource's compliance with a rule, as Config names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Compliance {
    Compliant,
    NonCompliant,
    NotApplicable,
    InsufficientData,
}

impl Compliance {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "COMPLIANT" => Some(Self::Compliant),
            "NON_COMPLIANT" => Some(Self::NonCompliant),
            "NOT_APPLICABLE" => Some(Self::NotApplicable),
            "INSUFFICIENT_DATA" => Some(Self::InsufficientData),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compliant => "COMPLIANT",
            Self::NonCompliant => "NON_COMPLIANT",
            Self::NotApplicable => "NOT_APPLICABLE",
            Self::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

impl fmt::Display for Compliance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule's evaluation of one resource changed.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplianceChange {
    pub account: String,
    pub region: String,
    pub rule: String,
    pub resource_type: String,
    pub resource_id: String,
    pub new: Compliance,
    /// Absent on a resource's first evaluation.
    pub old: Option<Compliance>,
    pub annotation: Option<String>,
    /// When the evaluated change happened; orders deliveries of one resource.
    pub at: OffsetDateTime,
}

impl ComplianceChange {
    /// The state-table key: one item per rule, resource, account and region.
    pub fn key(&self) -> String {
        state_key(
            &self.account,
            &self.region,
            &self.rule,
            &self.resource_type,
            &self.resource_id,
        )
    }

    /// The resource, as [`crate::resource`] looks it up.
    pub fn resource_ref(&self) -> ResourceRef {
        ResourceRef {
            account: self.account.clone(),
            region: self.region.clone(),
            resource_type: self.resource_type.clone(),
            resource_id: self.resource_id.clone(),
        }
    }

    /// How the resource is named in reports.
    pub fn target(&self) -> String {
        format!(
            "{} {} ({})",
            self.resource_type, self.resource_id, self.rule
        )
    }
}

pub fn state_key(account: &str, region: &str, rule: &str, kind: &str, id: &str) -> String {
    format!("{account}/{region}/{rule}/{kind}/{id}")
}

/// Whether `event` is an EventBridge compliance-change event at all.
pub fn is_compliance_change(event: &Value) -> bool {
    event.get("detail-type").and_then(Value::as_str) == Some(DETAIL_TYPE)
}

/// The event's `detail` as Config sends it. Every field is optional here,
/// so that [`parse`] names a missing one in its own words.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Detail {
    pub resource_id: Option<String>,
    pub resource_type: Option<String>,
    pub config_rule_name: Option<String>,
    pub aws_account_id: Option<String>,
    pub aws_region: Option<String>,
    pub notification_creation_time: Option<String>,
    pub new_evaluation_result: Option<EvaluationResult>,
    pub old_evaluation_result: Option<EvaluationResult>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationResult {
    pub evaluation_result_identifier: Option<Identifier>,
    pub compliance_type: Option<String>,
    pub result_recorded_time: Option<String>,
    pub annotation: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identifier {
    pub evaluation_result_qualifier: Option<Qualifier>,
    pub ordering_timestamp: Option<String>,
}

/// Where Config repeats the rule and the resource inside the result.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Qualifier {
    pub config_rule_name: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
}

/// Reads a compliance change; the error names the missing or bad field.
pub fn parse(event: &Value) -> Result<ComplianceChange, Error> {
    let detail_type = event.get("detail-type").and_then(Value::as_str);
    if detail_type != Some(DETAIL_TYPE) {
        return Err(Error::UnsupportedEvent(format!(
            "detail-type is {}, expected {DETAIL_TYPE:?}",
            detail_type.map_or("missing".to_owned(), |d| format!("{d:?}"))
        )));
    }
    if event.get("detail").is_none() {
        return Err(bad("detail is missing"));
    }
    let event = EventBridgeEvent::<Detail>::deserialize(event)
        .map_err(|e| Error::BadEvent(format!("not an EventBridge event of Config's shape: {e}")))?;
    from_event(&event)
}

/// Reads a compliance change from the typed event.
pub fn from_event(event: &EventBridgeEvent<Detail>) -> Result<ComplianceChange, Error> {
    let detail = &event.detail;
    let new_result = detail
        .new_evaluation_result
        .as_ref()
        .ok_or_else(|| bad("detail.newEvaluationResult is missing"))?;
    let identifier = new_result.evaluation_result_identifier.as_ref();
    let qualifier = identifier.and_then(|i| i.evaluation_result_qualifier.as_ref());
    // The detail's own field wins, even empty; the qualifier's only stands
    // in when the detail has none.
    let field = |own: &Option<String>, qualified: Option<&Option<String>>| -> Option<String> {
        match own {
            Some(value) => Some(value.clone()),
            None => qualified.and_then(Clone::clone),
        }
        .filter(|s| !s.is_empty())
    };
    let required = |name: &str, own: &Option<String>, qualified: Option<&Option<String>>| {
        field(own, qualified).ok_or_else(|| bad(&format!("detail.{name} is missing")))
    };
    let new_text = new_result
        .compliance_type
        .as_deref()
        .ok_or_else(|| bad("detail.newEvaluationResult.complianceType is missing"))?;
    let new = Compliance::parse(new_text).ok_or_else(|| {
        bad(&format!(
            "complianceType {new_text:?} is not a Config compliance type"
        ))
    })?;
    let old = detail
        .old_evaluation_result
        .as_ref()
        .and_then(|r| r.compliance_type.as_deref())
        .and_then(Compliance::parse);
    let event_time = event.time.map(|t| t.to_rfc3339());
    let at = identifier
        .and_then(|i| i.ordering_timestamp.as_deref())
        .or(new_result.result_recorded_time.as_deref())
        .or(detail.notification_creation_time.as_deref())
        .or(event_time.as_deref())
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .ok_or_else(|| bad("no parsable orderingTimestamp, resultRecordedTime or time"))?;
    let account = field(&detail.aws_account_id, None)
        .or_else(|| event.account.clone())
        .ok_or_else(|| bad("detail.awsAccountId is missing"))?;
    let region = field(&detail.aws_region, None)
        .or_else(|| event.region.clone())
        .ok_or_else(|| bad("detail.awsRegion is missing"))?;
    Ok(ComplianceChange {
        account,
        region,
        rule: required(
            "configRuleName",
            &detail.config_rule_name,
            qualifier.map(|q| &q.config_rule_name),
        )?,
        resource_type: required(
            "resourceType",
            &detail.resource_type,
            qualifier.map(|q| &q.resource_type),
        )?,
        resource_id: required(
            "resourceId",
            &detail.resource_id,
            qualifier.map(|q| &q.resource_id),
        )?,
        new,
        old,
        annotation: new_result.annotation.clone(),
        at,
    })
}

fn bad(what: &str) -> Error {
    Error::BadEvent(what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        serde_json::from_str(&toilkit_tests::workspace::sample(
            "config-compliance-change.json",
        ))
        .unwrap()
    }

    #[test]
    fn the_sample_event_is_read() {
        let change = parse(&sample()).unwrap();
        assert_eq!(change.rule, "restricted-ssh");
        assert_eq!(change.resource_type, "AWS::EC2::SecurityGroup");
        assert_eq!(change.resource_id, "sg-0123456789abcdef0");
        assert_eq!(change.account, "111122223333");
        assert_eq!(change.region, "ap-northeast-1");
        assert_eq!(change.new, Compliance::NonCompliant);
        assert_eq!(change.old, Some(Compliance::Compliant));
        assert_eq!(
            change.annotation.as_deref(),
            Some("Port 22 is open to 0.0.0.0/0")
        );
        assert_eq!(
            change.at,
            OffsetDateTime::parse("2023-11-14T22:29:41.201Z", &Rfc3339).unwrap()
        );
    }

    #[test]
    fn a_first_evaluation_has_no_old_result() {
        let mut event = sample();
        event["detail"]
            .as_object_mut()
            .unwrap()
            .remove("oldEvaluationResult");
        assert_eq!(parse(&event).unwrap().old, None);
    }

    #[test]
    fn bad_events_name_what_is_wrong() {
        let mut event = sample();
        event["detail"]["newEvaluationResult"]["complianceType"] = json!("BROKEN");
        assert!(parse(&event).unwrap_err().to_string().contains("BROKEN"));
        let mut event = sample();
        event["detail"]
            .as_object_mut()
            .unwrap()
            .remove("resourceId");
        event["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]
            ["evaluationResultQualifier"]
            .as_object_mut()
            .unwrap()
            .remove("resourceId");
        assert!(
            parse(&event)
                .unwrap_err()
                .to_string()
                .contains("resourceId")
        );
        let err =
            parse(&json!({"detail-type": "Scheduled Event", "source": "aws.events"})).unwrap_err();
        assert!(matches!(err, Error::UnsupportedEvent(_)), "{err}");
    }
}
