//! AWS's own findings, forwarded to the hub the same way as toilkit's
//! reports (GuardDuty, Security Hub, Health), read into the same shape: each
//! event is one report of a source named after the service, with one item.
//!
//! Formats, from each service's EventBridge reference:
//! - GuardDuty, `GuardDuty Finding`: `detail.id`, `type`, `severity` (a
//!   number, 1 to 8.9), `title`, `updatedAt`, `service.archived`;
//! - Security Hub (ASFF), `Security Hub Findings - Imported`:
//!   `detail.findings[]` with `Id`, `Severity.Label`, `Title`, `UpdatedAt`,
//!   `Workflow.Status`, `RecordState`;
//! - Health, `AWS Health Event`: `detail.eventArn`, `service`,
//!   `eventTypeCode`, `eventTypeCategory`, `statusCode`, `startTime`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use shared::envelope::{Item, ItemState, Outcome};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::plan::{Received, Rejected, sender};
use crate::record::Source;

/// The `source` of each service's events, and the function name the hub
/// keeps them under.
pub const SOURCES: &[(&str, &str)] = &[
    ("aws.guardduty", "guardduty"),
    ("aws.securityhub", "security-hub"),
    ("aws.health", "health"),
];

/// The hub's function name for an event `source`, if it reads it.
pub fn function_of(source: &str) -> Option<&'static str> {
    SOURCES.iter().find(|(s, _)| *s == source).map(|(_, f)| *f)
}

/// Reads one service event as a report.
///
/// It is filed under the account the finding names, where that is one
/// account: a delegated administrator receives its members' findings under
/// its own `account`. Only AWS can put an event of an `aws.*` source, so the
/// account a finding names is AWS's word, as `account` is.
pub fn receive(event: &Value, function: &'static str) -> Result<Received, Rejected> {
    let (event_id, id, sent_by) = sender(event)?;
    let reject = |why: String| Rejected {
        event_id: event_id.clone(),
        why,
    };
    let region = event
        .get("region")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    let at = event
        .get("time")
        .and_then(Value::as_str)
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .ok_or_else(|| reject("the event has no valid `time`".into()))?;
    let detail = event
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or_else(|| reject("the event has no `detail` object".into()))?;
    let mut items = match function {
        "guardduty" => vec![
            guardduty(detail).ok_or_else(|| reject("a GuardDuty finding without `id`".into()))?,
        ],
        "security-hub" => security_hub(detail),
        _ => {
            vec![health(detail).ok_or_else(|| reject("a Health event without `eventArn`".into()))?]
        }
    };
    if items.is_empty() {
        return Err(reject("a Security Hub event without findings".into()));
    }
    let mut counters = BTreeMap::new();
    counters.insert("findings".to_owned(), items.len() as u64);
    // Gathered in a delegated administrator account: filed under the
    // account the service names, the gathering one kept on each item as
    // data (a flag would mark every such event as suspect input).
    let account = match owner(detail, function) {
        Some(owner) if owner != sent_by => {
            for item in &mut items {
                item.fields.insert("gathered_by".to_owned(), json!(sent_by));
            }
            owner.to_owned()
        }
        _ => sent_by,
    };
    Ok(Received {
        run_id: id.clone(),
        event_id: id,
        source: Source {
            account,
            region,
            function: function.to_owned(),
        },
        label: None,
        started_at: at,
        ended_at: at,
        outcome: Outcome::Ok,
        reason: None,
        dry_run: false,
        counters,
        schema_version: crate::plan::KNOWN_SCHEMA,
        unknown_schema: false,
        items,
        items_omitted: 0,
        flags: Vec::new(),
    })
}

/// The one account the event's findings belong to, as the service names it
/// (GuardDuty `accountId`, ASFF `AwsAccountId`, Health's organizational
/// view `affectedAccount`).
fn owner<'a>(detail: &'a Value, function: &str) -> Option<&'a str> {
    let account = |a: Option<&'a str>| a.filter(|a| shared::envelope::is_account_id(a));
    match function {
        "guardduty" => account(text(detail, &["accountId"])),
        "security-hub" => {
            let mut owners = detail
                .get("findings")?
                .as_array()?
                .iter()
                .map(|f| account(text(f, &["AwsAccountId"])));
            let first = owners.next()??;
            owners.all(|o| o == Some(first)).then_some(first)
        }
        _ => account(text(detail, &["affectedAccount"])),
    }
}

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

fn fields(pairs: &[(&str, Option<Value>)]) -> Map<String, Value> {
    pairs
        .iter()
        .filter_map(|(k, v)| {
            v.clone()
                .filter(|v| !v.is_null())
                .map(|v| ((*k).to_owned(), v))
        })
        .collect()
}

/// GuardDuty's numeric severity, in the words its console uses.
fn guardduty_severity(severity: f64) -> &'static str {
    match severity {
        s if s >= 9.0 => "CRITICAL",
        s if s >= 7.0 => "HIGH",
        s if s >= 4.0 => "MEDIUM",
        _ => "LOW",
    }
}

fn guardduty(detail: &Value) -> Option<Item> {
    let id = text(detail, &["id"])?;
    let archived = detail
        .get("service")
        .and_then(|s| s.get("archived"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let severity = detail.get("severity").and_then(Value::as_f64);
    Some(Item {
        kind: "finding".to_owned(),
        key: id.to_owned(),
        state: if archived {
            ItemState::Closed
        } else {
            ItemState::Open
        },
        fields: fields(&[
            ("severity", severity.map(|s| json!(guardduty_severity(s)))),
            ("title", text(detail, &["title"]).map(|t| json!(t))),
            ("type", text(detail, &["type"]).map(|t| json!(t))),
            ("since", text(detail, &["createdAt"]).map(|t| json!(t))),
            ("updated", text(detail, &["updatedAt"]).map(|t| json!(t))),
        ]),
    })
}

fn security_hub(detail: &Value) -> Vec<Item> {
    let Some(findings) = detail.get("findings").and_then(Value::as_array) else {
        return Vec::new();
    };
    findings
        .iter()
        .filter_map(|finding| {
            let id = text(finding, &["Id"])?;
            let resolved = matches!(
                text(finding, &["Workflow", "Status"]),
                Some("RESOLVED" | "SUPPRESSED")
            ) || text(finding, &["RecordState"]) == Some("ARCHIVED");
            Some(Item {
                kind: "finding".to_owned(),
                key: id.to_owned(),
                state: if resolved {
                    ItemState::Closed
                } else {
                    ItemState::Open
                },
                fields: fields(&[
                    (
                        "severity",
                        text(finding, &["Severity", "Label"]).map(|s| json!(s)),
                    ),
                    ("title", text(finding, &["Title"]).map(|t| json!(t))),
                    ("since", text(finding, &["CreatedAt"]).map(|t| json!(t))),
                    ("updated", text(finding, &["UpdatedAt"]).map(|t| json!(t))),
                ]),
            })
        })
        .collect()
}

fn health(detail: &Value) -> Option<Item> {
    let arn = text(detail, &["eventArn"])?;
    let closed = text(detail, &["statusCode"]) == Some("closed");
    Some(Item {
        kind: "health_event".to_owned(),
        key: arn.to_owned(),
        state: if closed {
            ItemState::Closed
        } else {
            ItemState::Open
        },
        fields: fields(&[
            ("service", text(detail, &["service"]).map(|s| json!(s))),
            ("type", text(detail, &["eventTypeCode"]).map(|t| json!(t))),
            (
                "category",
                text(detail, &["eventTypeCategory"]).map(|c| json!(c)),
            ),
            ("status", text(detail, &["statusCode"]).map(|s| json!(s))),
            ("since", text(detail, &["startTime"]).map(|t| json!(t))),
        ]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(source: &str, detail_type: &str, detail: Value) -> Value {
        json!({
            "version": "0", "id": "e-1", "detail-type": detail_type, "source": source,
            "account": "333333333333", "time": "2026-12-07T06:00:00Z", "region": "eu-west-1",
            "resources": [], "detail": detail
        })
    }

    #[test]
    fn a_guardduty_finding_is_one_open_item_and_an_archived_one_closes_it() {
        let detail = json!({"id": "f1", "type": "Recon:EC2/PortProbeUnprotectedPort", "severity": 7.5,
            "title": "Unprotected port", "createdAt": "2026-12-06T06:00:00Z", "updatedAt": "2026-12-07T06:00:00Z",
            "service": {"archived": false}});
        let received = receive(
            &event("aws.guardduty", "GuardDuty Finding", detail.clone()),
            "guardduty",
        )
        .unwrap();
        assert_eq!(received.source.function, "guardduty");
        assert_eq!(received.source.account, "333333333333");
        let item = &received.items[0];
        assert_eq!(
            (item.kind.as_str(), item.key.as_str(), item.state),
            ("finding", "f1", ItemState::Open)
        );
        assert_eq!(item.fields["severity"], "HIGH");
        let mut archived = detail;
        archived["service"]["archived"] = json!(true);
        let received = receive(
            &event("aws.guardduty", "GuardDuty Finding", archived),
            "guardduty",
        )
        .unwrap();
        assert_eq!(received.items[0].state, ItemState::Closed);
    }

    /// In a delegated administrator account, the members' findings arrive
    /// with the administrator's `account`; each belongs to the account the
    /// finding names. `aws.*` sources cannot be put by anyone but AWS, so
    /// what the finding names is AWS's word.
    #[test]
    fn a_finding_gathered_in_an_administrator_account_is_filed_under_its_own_account() {
        let guardduty = json!({"id": "f1", "accountId": "444455556666", "severity": 5.0,
            "service": {"archived": false}});
        let received = receive(
            &event("aws.guardduty", "GuardDuty Finding", guardduty),
            "guardduty",
        )
        .unwrap();
        assert_eq!(received.source.account, "444455556666");
        assert_eq!(received.items[0].fields["gathered_by"], "333333333333");
        assert!(
            received.flags.is_empty(),
            "not suspect input: {:?}",
            received.flags
        );

        let hub = json!({"findings": [
            {"Id": "arn:f/1", "AwsAccountId": "444455556666", "Workflow": {"Status": "NEW"}},
            {"Id": "arn:f/2", "AwsAccountId": "444455556666", "Workflow": {"Status": "NEW"}}
        ]});
        let received = receive(
            &event("aws.securityhub", "Security Hub Findings - Imported", hub),
            "security-hub",
        )
        .unwrap();
        assert_eq!(received.source.account, "444455556666");

        let health = json!({"eventArn": "arn:aws:health:eu-west-1::event/EC2/x/1",
            "affectedAccount": "444455556666", "statusCode": "open"});
        let received = receive(&event("aws.health", "AWS Health Event", health), "health").unwrap();
        assert_eq!(received.source.account, "444455556666");

        // Findings of two accounts in one event, or an account that is not
        // one, stay with the account that sent them.
        let mixed = json!({"findings": [
            {"Id": "arn:f/1", "AwsAccountId": "444455556666"},
            {"Id": "arn:f/2", "AwsAccountId": "777788889999"}
        ]});
        let received = receive(
            &event("aws.securityhub", "Security Hub Findings - Imported", mixed),
            "security-hub",
        )
        .unwrap();
        assert_eq!(received.source.account, "333333333333");
        assert!(received.flags.is_empty());
        let odd = json!({"id": "f1", "accountId": "4444-5555"});
        let received = receive(
            &event("aws.guardduty", "GuardDuty Finding", odd),
            "guardduty",
        )
        .unwrap();
        assert_eq!(received.source.account, "333333333333");
    }

    #[test]
    fn security_hub_findings_and_health_events_are_read_and_a_shapeless_one_rejected() {
        let detail = json!({"findings": [
            {"Id": "arn:f/1", "Severity": {"Label": "CRITICAL"}, "Title": "Root MFA", "Workflow": {"Status": "NEW"}, "RecordState": "ACTIVE"},
            {"Id": "arn:f/2", "Severity": {"Label": "LOW"}, "Workflow": {"Status": "RESOLVED"}}
        ]});
        let received = receive(
            &event(
                "aws.securityhub",
                "Security Hub Findings - Imported",
                detail,
            ),
            "security-hub",
        )
        .unwrap();
        let states: Vec<_> = received.items.iter().map(|i| i.state).collect();
        assert_eq!(states, [ItemState::Open, ItemState::Closed]);
        assert_eq!(received.counters["findings"], 2);

        let detail = json!({"eventArn": "arn:aws:health:eu-west-1::event/EC2/x/1", "service": "EC2",
            "eventTypeCode": "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "eventTypeCategory": "scheduledChange",
            "statusCode": "upcoming", "startTime": "2026-12-10T00:00:00Z"});
        let received = receive(&event("aws.health", "AWS Health Event", detail), "health").unwrap();
        assert_eq!(received.items[0].kind, "health_event");
        assert_eq!(received.items[0].fields["category"], "scheduledChange");

        let rejected = receive(
            &event(
                "aws.securityhub",
                "Security Hub Findings - Imported",
                json!({}),
            ),
            "security-hub",
        )
        .unwrap_err();
        assert!(
            rejected.why.contains("without findings"),
            "{}",
            rejected.why
        );
    }
}
