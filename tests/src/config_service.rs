//! A stand-in for AWS Config's compliance API, which moto does not have:
//! a loopback server that answers, in the AWS JSON 1.1 protocol, from a list
//! of open (non-compliant) violations. The demo and the config-triage tests
//! read the account's compliance from it through the real SDK.
//!
//! It serves DescribeComplianceByConfigRule and
//! GetComplianceDetailsByConfigRule two results a page (so a reader has to
//! follow `NextToken`), and GetComplianceDetailsByResource. It knows only
//! non-compliant results, so a request that does not ask for exactly those
//! is refused, and the caller's error names it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::loopback::{self, Server};

/// How many results a page holds.
const PAGE: usize = 2;

/// One open violation: `rule` finds `resource_id` non-compliant.
#[derive(Debug, Clone)]
pub struct Violation {
    pub rule: String,
    pub resource_type: String,
    pub resource_id: String,
    /// When Config last evaluated it, in epoch seconds.
    pub evaluated: f64,
    pub annotation: String,
}

impl Violation {
    pub fn new(
        rule: &str,
        resource_type: &str,
        resource_id: &str,
        evaluated: f64,
        annotation: &str,
    ) -> Self {
        Self {
            rule: rule.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id: resource_id.to_owned(),
            evaluated,
            annotation: annotation.to_owned(),
        }
    }

    /// The violation as an `EvaluationResult`.
    pub fn evaluation(&self) -> Value {
        evaluation(
            &self.rule,
            &self.resource_type,
            &self.resource_id,
            self.evaluated,
            &self.annotation,
        )
    }
}

/// An `EvaluationResult` as GetComplianceDetailsByConfigRule returns it.
pub fn evaluation(rule: &str, kind: &str, id: &str, ordering: f64, annotation: &str) -> Value {
    json!({
        "EvaluationResultIdentifier": {
            "EvaluationResultQualifier": {
                "ConfigRuleName": rule,
                "ResourceType": kind,
                "ResourceId": id,
                "EvaluationMode": "DETECTIVE"
            },
            "OrderingTimestamp": ordering,
            "ResourceEvaluationId": format!("{id}-eval")
        },
        "ComplianceType": "NON_COMPLIANT",
        "ResultRecordedTime": ordering + 20.0,
        "ConfigRuleInvokedTime": ordering + 10.0,
        "Annotation": annotation
    })
}

/// A `ComplianceByConfigRule` entry as DescribeComplianceByConfigRule
/// returns it.
pub fn rule_compliance(rule: &str, compliance: &str, count: usize) -> Value {
    json!({
        "ConfigRuleName": rule,
        "Compliance": {
            "ComplianceType": compliance,
            "ComplianceContributorCount": {"CappedCount": count, "CapExceeded": false}
        }
    })
}

/// The running stand-in; it stops when dropped.
pub struct ConfigService {
    server: Server,
    calls: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl ConfigService {
    /// Serves `open` until dropped.
    pub fn start(open: Vec<Violation>) -> Self {
        let calls = Arc::new(Mutex::new(BTreeMap::new()));
        let counted = calls.clone();
        let server = Server::start(move |req| {
            let operation = req
                .header("x-amz-target")
                .and_then(|t| t.rsplit('.').next())
                .unwrap_or_default()
                .to_owned();
            *counted
                .lock()
                .unwrap()
                .entry(operation.clone())
                .or_insert(0) += 1;
            let (status, body) = answer(&open, &operation, &req.json());
            let reply = loopback::response(
                status,
                &[("Content-Type", "application/x-amz-json-1.1")],
                body.to_string(),
            );
            async move { reply }
        });
        Self { server, calls }
    }

    /// `sdk` pointed at the stand-in, for an `aws_sdk_config::Client`.
    pub fn sdk_config(&self, sdk: &aws_types::SdkConfig) -> aws_types::SdkConfig {
        sdk.to_builder().endpoint_url(self.server.url()).build()
    }

    /// How many requests of `operation` (e.g. `DescribeComplianceByConfigRule`)
    /// it answered.
    pub fn calls(&self, operation: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// How many requests it answered in all.
    pub fn all_calls(&self) -> usize {
        self.calls.lock().unwrap().values().sum()
    }
}

fn answer(open: &[Violation], operation: &str, request: &Value) -> (u16, Value) {
    if request["ComplianceTypes"] != json!(["NON_COMPLIANT"]) {
        return refuse(
            "ValidationException",
            &format!(
                "the stand-in knows only NON_COMPLIANT results; asked for {}",
                request["ComplianceTypes"]
            ),
        );
    }
    let start: usize = request["NextToken"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    match operation {
        "DescribeComplianceByConfigRule" => {
            let mut rules: Vec<&str> = open.iter().map(|o| o.rule.as_str()).collect();
            rules.sort();
            rules.dedup();
            let entries = rules
                .iter()
                .map(|r| {
                    rule_compliance(
                        r,
                        "NON_COMPLIANT",
                        open.iter().filter(|o| o.rule == *r).count(),
                    )
                })
                .collect();
            (200, page("ComplianceByConfigRules", entries, start))
        }
        "GetComplianceDetailsByConfigRule" => {
            let rule = request["ConfigRuleName"].as_str().unwrap_or_default();
            let results = open
                .iter()
                .filter(|o| o.rule == rule)
                .map(Violation::evaluation)
                .collect();
            (200, page("EvaluationResults", results, start))
        }
        "GetComplianceDetailsByResource" => {
            let results: Vec<Value> = open
                .iter()
                .filter(|o| {
                    request["ResourceId"] == o.resource_id.as_str()
                        && request["ResourceType"] == o.resource_type.as_str()
                })
                .map(Violation::evaluation)
                .collect();
            (200, json!({"EvaluationResults": results}))
        }
        other => refuse(
            "UnknownOperationException",
            &format!("the stand-in does not serve {other:?}"),
        ),
    }
}

/// The page of `items` from `start`, with the token of the next one.
fn page(key: &str, items: Vec<Value>, start: usize) -> Value {
    let end = (start + PAGE).min(items.len());
    let mut body = json!({ key: items.get(start..end).unwrap_or_default() });
    if end < items.len() {
        body["NextToken"] = json!(end.to_string());
    }
    body
}

fn refuse(kind: &str, message: &str) -> (u16, Value) {
    (400, json!({"__type": kind, "message": message}))
}
