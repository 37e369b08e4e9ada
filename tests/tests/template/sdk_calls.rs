//! IAM covers what the code calls: every SDK call of a function is granted
//! to its role, and parliament finds nothing in the resolved policies.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::distribution::*;

use super::iam::{actions, statements};

/// `crate::operation` → IAM action, from the `[crate]` sections of
/// sdk-calls.txt.
fn sdk_calls() -> BTreeMap<String, String> {
    let mut calls = BTreeMap::new();
    let mut service = None;
    for line in std::fs::read_to_string(root().join("tests/template-support/sdk-calls.txt"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            assert!(
                name.starts_with("aws_sdk_"),
                "sdk-calls.txt: [{name}] is not an SDK crate"
            );
            service = Some(name.to_owned());
            continue;
        }
        let (call, action) = line.split_once('|').expect("operation | action");
        let service = service.as_deref().unwrap_or_else(|| {
            panic!("sdk-calls.txt: {line:?} comes before any [aws_sdk_...] section")
        });
        let key = format!("{service}::{}", call.trim());
        assert!(
            calls
                .insert(key.clone(), action.trim().to_owned())
                .is_none(),
            "sdk-calls.txt lists {key} twice"
        );
    }
    calls
}

/// The `.operation()` calls of the list found in the `.rs` files under
/// `dir`, counted only in a file that uses the operation's SDK crate (so
/// `describe_tags` of ELB is not taken for another service's).
fn calls_in(dir: &Path, known: &BTreeMap<String, String>, found: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            calls_in(&path, known, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for key in known.keys() {
                let (service, call) = key.split_once("::").unwrap();
                if text.contains(service) && text.contains(&format!(".{call}()")) {
                    found.entry(key.clone()).or_insert_with(|| {
                        path.strip_prefix(root()).unwrap().display().to_string()
                    });
                }
            }
        }
    }
}

#[test]
fn sdk_calls_lists_no_operation_that_no_code_calls() {
    // A dead line would let a later call of that operation pass unexamined
    // against a grant nobody reviewed.
    let known = sdk_calls();
    let mut found = BTreeMap::new();
    for (name, _) in FUNCTIONS.iter().copied().chain(super::hub::functions()) {
        calls_in(
            &root().join("functions").join(name).join("src"),
            &known,
            &mut found,
        );
    }
    calls_in(&root().join("shared/src"), &known, &mut found);
    let dead: Vec<&String> = known.keys().filter(|k| !found.contains_key(*k)).collect();
    assert!(
        dead.is_empty(),
        "tests/template-support/sdk-calls.txt lists operations no function or shared/ calls: {dead:?}"
    );
}

#[test]
fn every_aws_call_of_a_function_is_granted_to_its_role() {
    let known = sdk_calls();
    let mut missing = Vec::new();
    let product = FUNCTIONS.iter().map(|&f| (f, translated()));
    let hub = super::hub::functions().map(|f| (f, super::hub::hub_translated()));
    for ((name, stem), out) in product.chain(hub) {
        let function = &resources(out)[&format!("{stem}Function")];
        let role = referenced(&function["Properties"]["Role"]).unwrap();
        let granted: BTreeSet<String> = statements(&resources(out)[role])
            .into_iter()
            .flat_map(actions)
            .collect();
        let mut found = BTreeMap::new();
        calls_in(
            &root().join("functions").join(name).join("src"),
            &known,
            &mut found,
        );
        assert!(
            !found.is_empty(),
            "{name} calls no AWS operation of sdk-calls.txt?"
        );
        for (call, file) in found {
            // `a + b`: the call needs each of them (a transaction's writes).
            for action in known[&call].split('+').map(str::trim) {
                if !granted.contains(action) {
                    missing.push(format!(
                        "{name}: {file} calls {call}, but {role} does not grant {action}"
                    ));
                }
            }
        }
        // The shared clients a function's configuration turns on.
        let environment = &function["Properties"]["Environment"]["Variables"];
        for (variable, action) in [
            ("SLACK_WEBHOOK_SECRET_ARN", "secretsmanager:GetSecretValue"),
            ("SLACK_WEBHOOK_PARAMETER", "ssm:GetParameter"),
            ("RESULT_EVENT_BUS", "events:PutEvents"),
        ] {
            if !environment[variable].is_null() && !granted.contains(action) {
                missing.push(format!(
                    "{name}: {variable} is set, but {role} does not grant {action}"
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "permissions the code needs and the template lacks:\n  - {}",
        missing.join("\n  - ")
    );
}

/// Parameters that switch every function and every optional grant on, so
/// each policy statement is resolved to concrete ARNs.
const SAMPLE_PARAMETERS: &str = r#"{
  "EnableWafIpBlocker": "true", "EnableRdsAuditNotifier": "true", "EnableMaintenanceSwitch": "true",
  "EnableConfigTriage": "true", "EnableLogRetention": "true", "EnableAccessDeniedTriage": "true",
  "EnablePatchWaves": "true", "PatchWavesRouteSecretPrefix": "toilkit/routes/",
  "SlackWebhookSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:toilkit/slack-AbC123",
  "SlackWebhookParameter": "/toilkit/slack-webhook",
  "ResultEventBus": "arn:aws:events:eu-west-1:999999999999:event-bus/toilkit-results",
  "WafIpSetV4Arn": "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/blocked-v4/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
  "WafIpSetV6Arn": "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/blocked-v6/a1b2c3d4-5678-90ab-cdef-EXAMPLE22222",
  "WafLogBucketName": "aws-waf-logs-shop", "WafLogKeyPrefix": "AWSLogs/", "WafLogGroupName": "aws-waf-logs-shop",
  "RdsAuditLogGroupName": "/aws/rds/cluster/shop/audit",
  "MaintenanceNotifyTopicArn": "arn:aws:sns:eu-west-1:123456789012:maintenance",
  "ConfigTriageExemptionsParameter": "/toilkit/config-triage/exemptions",
  "ConfigTriageCriticalTopicArn": "arn:aws:sns:eu-west-1:123456789012:oncall",
  "ConfigTriageAggregatorName": "org",
  "LogRetentionPruneBuckets": ["app-logs-a", "app-logs-b"],
  "AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:alarms",
  "KmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
  "ConfigTriageRouteSecretPrefix": "toilkit/routes/",
  "AccessDeniedTriageCriticalTopicArn": "arn:aws:sns:eu-west-1:123456789012:oncall",
  "AccessDeniedTriageRouteSecretPrefix": "toilkit/routes/",
  "AccessDeniedTriageTrailLogGroupName": "aws-cloudtrail-logs-org",
  "LogRetentionRegions": "eu-west-1,us-east-1"
}"#;

fn parliament_findings(template: &Path) -> BTreeMap<String, Value> {
    let report = run_tool(
        &[
            "iam-findings",
            &template.to_string_lossy(),
            SAMPLE_PARAMETERS,
        ],
        None,
    );
    report
        .as_object()
        .unwrap()
        .iter()
        .map(|(policy, r)| (policy.clone(), r["findings"].clone()))
        .collect()
}

#[test]
fn parliament_finds_nothing_in_the_resolved_policies() {
    let findings = parliament_findings(&template_path());
    assert!(
        findings.len() > FUNCTIONS.len(),
        "every role's policy was analysed: {:?}",
        findings.keys()
    );
    let flagged: Vec<String> = findings
        .iter()
        .filter(|(_, f)| f.as_array().is_some_and(|f| !f.is_empty()))
        .map(|(policy, f)| format!("{policy}: {f}"))
        .collect();
    assert!(
        flagged.is_empty(),
        "parliament:\n  {}",
        flagged.join("\n  ")
    );
}

#[test]
fn parliament_catches_a_grant_on_the_wrong_kind_of_resource() {
    // The control for the test above: the same analysis must notice an
    // object permission granted on a bucket.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(template_path()).unwrap();
    let broken = text.replacen(
        "s3:::${WafLogBucketName}/${WafLogKeyPrefix}*",
        "s3:::${WafLogBucketName}",
        1,
    );
    assert_ne!(
        broken, text,
        "the WAF log object grant is where this test expects it"
    );
    std::fs::write(dir.path().join("template.yaml"), broken).unwrap();
    copy_tree(
        &root().join("statemachines"),
        &dir.path().join("statemachines"),
    );
    let findings = parliament_findings(&dir.path().join("template.yaml"));
    let waf = findings["WafIpBlockerRole/waf-ip-blocker"].to_string();
    assert!(
        waf.contains("RESOURCE_MISMATCH") && waf.contains("s3:GetObject"),
        "parliament should flag s3:GetObject on a bucket ARN: {waf}"
    );
}
