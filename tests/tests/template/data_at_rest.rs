//! The data at rest: what it holds, how long, encrypted how, and who may
//! read it.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::distribution::*;

use super::iam::actions;

const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// The resources of one deployment: every function on, plus `extra`.
fn deployment(extra: Value) -> Value {
    let mut parameters = json!({"SlackWebhookParameter": "/toilkit/slack-webhook"});
    for (_, stem) in FUNCTIONS {
        parameters[format!("Enable{stem}")] = json!("true");
    }
    parameters
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    run_tool(
        &[
            "resolve",
            &template_path().to_string_lossy(),
            &parameters.to_string(),
        ],
        None,
    )
}

fn role_statements<'a>(deployment: &'a Value, role: &str) -> Vec<&'a Value> {
    deployment["Resources"][role]["Properties"]["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap())
        .collect()
}

#[test]
fn dead_letters_are_kept_four_days_at_most_and_encrypted() {
    // A dead letter is the whole raw event (an audit statement before
    // redaction, a WAF log record): it stays only as long as it takes to see
    // the alarm and look.
    for (key, d) in [
        (None, deployment(json!({}))),
        (Some(KEY), deployment(json!({"KmsKeyArn": KEY}))),
    ] {
        let resources = d["Resources"].as_object().unwrap();
        let queues: Vec<_> = resources
            .iter()
            .filter(|(_, r)| r["Type"] == "AWS::SQS::Queue")
            .collect();
        assert_eq!(
            queues.len(),
            FUNCTIONS.len() + 1,
            "five dead-letter queues and the Config queue"
        );
        for (id, queue) in queues {
            let p = &queue["Properties"];
            if id.ends_with("DeadLetterQueue") {
                assert!(
                    p["MessageRetentionPeriod"]
                        .as_u64()
                        .is_some_and(|s| s <= 4 * 86_400),
                    "{id} keeps raw events for {}",
                    p["MessageRetentionPeriod"]
                );
            }
            match key {
                Some(key) => {
                    assert_eq!(p["KmsMasterKeyId"], key, "{id} uses the customer key");
                    assert!(
                        p["SqsManagedSseEnabled"].is_null(),
                        "{id}: one kind of encryption"
                    );
                }
                None => {
                    assert!(p["KmsMasterKeyId"].is_null(), "{id}");
                    assert_eq!(p["SqsManagedSseEnabled"], true, "{id} is encrypted");
                }
            }
        }
        for (id, table) in resources
            .iter()
            .filter(|(_, r)| r["Type"] == "AWS::DynamoDB::Table")
        {
            let expected = match key {
                Some(key) => json!({"SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": key}),
                None => json!({"SSEEnabled": true}),
            };
            assert_eq!(table["Properties"]["SSESpecification"], expected, "{id}");
        }
        let groups: Vec<_> = resources
            .iter()
            .filter(|(_, r)| r["Type"] == "AWS::Logs::LogGroup")
            .collect();
        assert_eq!(groups.len(), FUNCTIONS.len());
        for (id, group) in groups {
            assert_eq!(
                group["Properties"]["KmsKeyId"],
                key.map_or(Value::Null, |k| json!(k)),
                "{id}"
            );
        }
        // Each function may use the key for its dead-letter queue, and only
        // when there is one.
        for (_, stem) in FUNCTIONS {
            let uses_key = role_statements(&d, &format!("{stem}Role"))
                .into_iter()
                .any(|s| {
                    s["Resource"] == json!(KEY)
                        && actions(s).contains(&"kms:GenerateDataKey".to_owned())
                        && actions(s).contains(&"kms:Decrypt".to_owned())
                });
            assert_eq!(uses_key, key.is_some(), "{stem}Role and the key");
        }
    }
}

#[test]
fn tables_outlive_their_function_being_switched_off() {
    for (id, table) in of_type(template(), "AWS::DynamoDB::Table") {
        assert_eq!(table["DeletionPolicy"], "Retain", "{id}");
        assert_eq!(table["UpdateReplacePolicy"], "Retain", "{id}");
    }
}

#[test]
fn config_triage_reads_only_the_route_secrets_the_operator_names() {
    let secret_reads = |d: &Value| -> Vec<Value> {
        role_statements(d, "ConfigTriageRole")
            .into_iter()
            .filter(|s| {
                let a = actions(s);
                a.contains(&"secretsmanager:GetSecretValue".to_owned())
                    || a.contains(&"ssm:GetParameter".to_owned())
            })
            .map(|s| s["Resource"].clone())
            .collect()
    };
    // No prefix: the Slack webhook parameter, nothing under toilkit/.
    assert_eq!(
        secret_reads(&deployment(json!({}))),
        vec![json!(
            "arn:aws:ssm:eu-west-1:123456789012:parameter/toilkit/slack-webhook"
        )]
    );
    let with_routes: BTreeSet<String> = secret_reads(&deployment(json!({
        "ConfigTriageRoutes": "{\"payments\": \"toilkit/routes/payments\"}",
        "ConfigTriageRouteSecretPrefix": "toilkit/routes/"
    })))
    .iter()
    .map(Value::to_string)
    .collect();
    let expected: BTreeSet<String> = [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:toilkit/routes/*",
        "arn:aws:ssm:eu-west-1:123456789012:parameter/toilkit/routes/*",
        "arn:aws:ssm:eu-west-1:123456789012:parameter/toilkit/slack-webhook",
    ]
    .iter()
    .map(|r| json!(r).to_string())
    .collect();
    assert_eq!(with_routes, expected);
}

#[test]
fn log_retention_changes_groups_only_in_its_regions() {
    // Both the retention changes and, when deletion is on, the deletions.
    let changes = |extra: Value| -> Vec<Value> {
        let mut parameters = json!({"LogRetentionDeleteEmptyAfterDays": "30"});
        parameters
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let found: Vec<Value> = role_statements(&deployment(parameters), "LogRetentionRole")
            .into_iter()
            .filter(|s| {
                let granted = actions(s);
                ["logs:PutRetentionPolicy", "logs:DeleteLogGroup"]
                    .iter()
                    .any(|a| granted.contains(&(*a).to_owned()))
            })
            .cloned()
            .collect();
        assert_eq!(found.len(), 2, "a statement to change, one to delete");
        found
    };
    for own in changes(json!({})) {
        assert_eq!(
            own["Condition"],
            json!({"StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}}),
            "no REGIONS: the stack's own Region only"
        );
    }
    for listed in changes(json!({"LogRetentionRegions": "eu-west-1,us-east-1"})) {
        assert_eq!(
            listed["Condition"],
            json!({"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}})
        );
    }
}

#[test]
fn maintenance_switch_may_change_no_load_balancer_until_one_is_named() {
    let names = &template()["Parameters"]["MaintenanceLoadBalancerNames"];
    assert_eq!(
        names["Default"], "",
        "the default must not be every ALB (\"*\")"
    );
}

#[test]
fn result_events_reach_the_central_bus_through_a_rule_and_role_of_the_account() {
    let central = "arn:aws:events:eu-west-1:999999999999:event-bus/toilkit-results";
    let none = deployment(json!({"ResultEventBus": "toilkit-results"}));
    assert!(
        none["Resources"].get("ResultEventForwardRule").is_none()
            && none["Resources"].get("ResultEventForwardRole").is_none(),
        "no central bus, no forwarding"
    );
    let d = deployment(json!({
        "ResultEventBus": "toilkit-results",
        "ResultEventForwardBusArn": central
    }));
    let rule = &d["Resources"]["ResultEventForwardRule"]["Properties"];
    assert_eq!(
        rule["EventBusName"], "toilkit-results",
        "the rule listens on the bus of this account the functions publish to"
    );
    assert_eq!(rule["EventPattern"], json!({"source": ["toilkit"]}));
    assert_eq!(rule["State"], "ENABLED");
    let targets = rule["Targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0]["Arn"], central);
    assert!(
        targets[0]["RoleArn"]
            .as_str()
            .is_some_and(|r| r.contains("ResultEventForwardRole")),
        "the target sends with the forwarding role: {}",
        targets[0]
    );
    let role = &d["Resources"]["ResultEventForwardRole"]["Properties"];
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"],
        json!({"Service": "events.amazonaws.com"})
    );
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"],
        json!({"StringEquals": {"aws:SourceAccount": "123456789012"}})
    );
    let statements = role_statements(&d, "ResultEventForwardRole");
    assert_eq!(statements.len(), 1);
    assert_eq!(actions(statements[0]), vec!["events:PutEvents".to_owned()]);
    assert_eq!(statements[0]["Resource"], central, "only the central bus");
    // Forwarding without the local bus is refused before anything is created.
    let rule = &template()["Rules"]["ForwardingNeedsTheLocalBus"];
    assert_eq!(
        rule["RuleCondition"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "ResultEventForwardBusArn"}, ""]}]})
    );
    assert_eq!(
        rule["Assertions"][0]["Assert"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "ResultEventBus"}, ""]}]})
    );
}
