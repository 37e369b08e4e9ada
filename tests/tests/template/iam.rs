//! IAM: least privilege in every role, and resource policies that name
//! their source.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::distribution::*;

/// Every statement of a role's inline policies, both sides of each `Fn::If`.
pub(super) fn statements(role: &Value) -> Vec<&Value> {
    let mut found = Vec::new();
    for policy in role["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for statement in policy["PolicyDocument"]["Statement"]
            .as_array()
            .expect("a Statement list")
        {
            found.extend(branches(statement));
        }
    }
    found
}

pub(super) fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
        other => panic!("Action must be literal names, not {other}"),
    }
}

fn wildcard_allow_list() -> BTreeMap<String, String> {
    let path = root().join("tests/template-support/iam-wildcard-actions.txt");
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.splitn(2, '|');
            let action = parts.next().unwrap().trim().to_owned();
            let why = parts.next().unwrap_or_default().trim().to_owned();
            (action, why)
        })
        .collect()
}

#[test]
fn iam_grants_least_privilege() {
    let out = translated();
    let roles = of_type(out, "AWS::IAM::Role");
    assert!(
        roles.len() > FUNCTIONS.len(),
        "a role per function and the state machine"
    );
    for kind in [
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::User",
        "AWS::IAM::Group",
    ] {
        assert!(
            of_type(out, kind).is_empty(),
            "no {kind}: every grant is inline in one role"
        );
    }
    let mut every_action = BTreeSet::new();
    let mut on_star = BTreeMap::<String, Vec<String>>::new();
    for (id, role) in &roles {
        let p = &role["Properties"];
        assert!(
            p["ManagedPolicyArns"].as_array().is_none_or(Vec::is_empty),
            "{id} attaches managed policies; AWSLambdaBasicExecutionRole alone grants logs:* on every log group"
        );
        for trust in p["AssumeRolePolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
        {
            let service = trust["Principal"]["Service"].as_str().unwrap_or_default();
            assert!(
                [
                    "lambda.amazonaws.com",
                    "states.amazonaws.com",
                    "events.amazonaws.com"
                ]
                .contains(&service),
                "{id} may be assumed by {}",
                trust["Principal"]
            );
        }
        assert!(
            p["PermissionsBoundary"]["Fn::If"][0] == "HasPermissionsBoundary",
            "{id} takes the optional permissions boundary"
        );
        for statement in statements(role) {
            let sid = statement["Sid"].as_str().unwrap_or("(no Sid)");
            assert_eq!(statement["Effect"], "Allow", "{id}/{sid}");
            for forbidden in ["NotAction", "NotResource", "NotPrincipal"] {
                assert!(
                    statement[forbidden].is_null(),
                    "{id}/{sid} uses {forbidden}"
                );
            }
            let names = actions(statement);
            for action in &names {
                assert!(
                    !action.contains('*'),
                    "{id}/{sid}: {action} is a wildcard action; name each action"
                );
                every_action.insert(action.clone());
            }
            let resources = strings(&statement["Resource"]);
            assert!(!resources.is_empty(), "{id}/{sid} has no Resource");
            for resource in resources {
                if resource == "*" {
                    on_star
                        .entry(format!("{id}/{sid}"))
                        .or_default()
                        .extend(names.clone());
                } else if let Some(text) = resource.as_str() {
                    panic!(
                        "{id}/{sid}: literal resource {text:?}; build ARNs from the stack's own resources and parameters"
                    );
                }
            }
        }
    }
    // Every action exists, per the AWS Service Authorization Reference.
    let catalogue = run_tool(
        &["iam-actions"],
        Some(&serde_json::to_string(&every_action).unwrap()),
    );
    let unknown: Vec<_> = every_action
        .iter()
        .filter(|a| catalogue[a.as_str()]["known"] != true)
        .collect();
    assert!(
        unknown.is_empty(),
        "IAM actions that do not exist: {unknown:?}"
    );
    // "*" only where the action has no resource-level permissions, and only
    // when it is named in the allow-list and in a comment of the template.
    let allowed = wildcard_allow_list();
    let template_text = std::fs::read_to_string(template_path()).unwrap();
    let comments: String = template_text
        .lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for (statement, names) in &on_star {
        for action in names {
            let types = &catalogue[action.as_str()]["resource_types"];
            assert!(
                types.as_array().is_some_and(Vec::is_empty),
                "{statement}: {action} can be scoped to {types}; do not grant it on \"*\""
            );
            assert!(
                allowed.get(action).is_some_and(|why| !why.is_empty()),
                "{statement}: {action} on \"*\" must be listed, with why, in tests/template-support/iam-wildcard-actions.txt"
            );
            assert!(
                comments.contains(action.as_str()),
                "{statement}: name {action} in a comment above the statement in template.yaml"
            );
        }
    }
    // The allow-list holds nothing the template no longer needs.
    let used: BTreeSet<&String> = on_star.values().flatten().collect();
    let stale: Vec<_> = allowed.keys().filter(|a| !used.contains(a)).collect();
    assert!(
        stale.is_empty(),
        "iam-wildcard-actions.txt lists actions no role grants on \"*\": {stale:?}"
    );
}

#[test]
fn resource_policies_name_their_source() {
    let out = translated();
    for (id, permission) in of_type(out, "AWS::Lambda::Permission") {
        let p = &permission["Properties"];
        let principal = p["Principal"].as_str().unwrap_or_default();
        assert!(
            principal.ends_with(".amazonaws.com"),
            "{id}: only AWS services invoke the functions, not {principal:?}"
        );
        assert_eq!(p["Action"], "lambda:InvokeFunction", "{id}");
        assert!(
            !p["SourceArn"].is_null(),
            "{id}: a SourceArn, so no other rule, bucket or log group can invoke"
        );
        if principal == "s3.amazonaws.com" || principal == "logs.amazonaws.com" {
            assert!(
                !p["SourceAccount"].is_null(),
                "{id}: SourceAccount, since bucket and log group ARNs carry no account"
            );
        }
    }
    for (id, policy) in of_type(out, "AWS::SQS::QueuePolicy") {
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
        {
            assert!(
                statement["Principal"]["Service"].is_string(),
                "{id}: a service principal"
            );
            assert!(
                !statement["Condition"]["ArnEquals"]["aws:SourceArn"].is_null(),
                "{id}: only the stack's own rule may send"
            );
        }
    }
}

/// The statements of `role` in a deployment with `enable` on and
/// `parameters`, its conditions resolved.
fn resolved_statements(enable: &str, role: &str, parameters: Value) -> Vec<Value> {
    let mut all = serde_json::json!({ enable: "true" });
    all.as_object_mut()
        .unwrap()
        .extend(parameters.as_object().unwrap().clone());
    let out = run_tool(
        &[
            "resolve",
            &template_path().to_string_lossy(),
            &all.to_string(),
        ],
        None,
    );
    out["Resources"][role]["Properties"]["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().unwrap())
        .cloned()
        .collect()
}

/// The log-retention role's grants for one deployment of it, resolved.
fn log_retention_actions(parameters: Value) -> BTreeSet<String> {
    resolved_statements("EnableLogRetention", "LogRetentionRole", parameters)
        .iter()
        .flat_map(actions)
        .collect()
}

#[test]
fn log_retention_may_delete_and_search_groups_only_when_deletion_is_on() {
    // What only deleting an empty group needs: the delete itself and the
    // guards read before it (streams, filters, policies, a search for events).
    let deletion_only = [
        "logs:DeleteLogGroup",
        "logs:DescribeLogStreams",
        "logs:DescribeSubscriptionFilters",
        "logs:DescribeMetricFilters",
        "logs:FilterLogEvents",
        "logs:DescribeAccountPolicies",
        "logs:DescribeResourcePolicies",
    ];
    let off = log_retention_actions(serde_json::json!({}));
    let on = log_retention_actions(serde_json::json!({"LogRetentionDeleteEmptyAfterDays": "30"}));
    for action in deletion_only {
        assert!(
            !off.contains(action),
            "LogRetentionDeleteEmptyAfterDays is empty (never delete), yet the role may {action}"
        );
        assert!(
            on.contains(action),
            "deletion is on, yet the role may not {action}"
        );
    }
    for action in [
        "logs:PutRetentionPolicy",
        "logs:DescribeLogGroups",
        "logs:ListTagsForResource",
    ] {
        assert!(
            off.contains(action) && on.contains(action),
            "retention needs {action} either way"
        );
    }
}

/// The patch-waves role's statements for one deployment of it, resolved.
fn patch_waves_statements(parameters: Value) -> Vec<Value> {
    resolved_statements("EnablePatchWaves", "PatchWavesRole", parameters)
}

#[test]
fn patch_waves_may_patch_only_opted_in_instances_and_only_with_the_rollout_on() {
    let acting = [
        "ssm:SendCommand",
        "ec2:CreateSnapshots",
        "ec2:CreateTags",
        "elasticloadbalancing:DeregisterTargets",
        "elasticloadbalancing:RegisterTargets",
    ];
    let report_only = patch_waves_statements(serde_json::json!({}));
    for statement in &report_only {
        for action in actions(statement) {
            assert!(
                !acting.contains(&action.as_str()),
                "the rollout is off, yet the role may {action}"
            );
        }
    }
    let group =
        "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web/0123456789abcdef";
    let rollout = patch_waves_statements(serde_json::json!({
        "EnablePatchWavesRollout": "true",
        "PatchWavesSnapshotBeforePatch": "true",
        "PatchWavesDrainTargetGroups": group,
    }));
    let granting = |action: &str| -> Vec<&Value> {
        rollout
            .iter()
            .filter(|s| actions(s).iter().any(|a| a == action))
            .collect()
    };
    for action in acting {
        assert!(!granting(action).is_empty(), "the rollout needs {action}");
    }
    for statement in granting("ssm:SendCommand") {
        let resource = statement["Resource"].to_string();
        if resource.contains(":document/") {
            assert!(
                resource.ends_with(":document/AWS-RunPatchBaseline\""),
                "one document only: {statement}"
            );
        } else {
            assert!(resource.contains(":instance/*"), "{statement}");
            assert_eq!(
                statement["Condition"]["StringLike"]["ssm:resourceTag/toilkit:patch-wave"], "*",
                "only instances that opt in: {statement}"
            );
        }
    }
    for statement in granting("ec2:CreateSnapshots") {
        if statement["Resource"].to_string().contains(":instance/") {
            assert_eq!(
                statement["Condition"]["StringLike"]["ec2:ResourceTag/toilkit:patch-wave"], "*",
                "{statement}"
            );
        }
    }
    for statement in granting("ec2:CreateTags") {
        assert_eq!(
            statement["Condition"]["StringEquals"]["ec2:CreateAction"], "CreateSnapshots",
            "{statement}"
        );
    }
    for statement in granting("elasticloadbalancing:DeregisterTargets") {
        assert_eq!(
            statement["Resource"],
            serde_json::json!([group]),
            "only the configured target groups"
        );
    }
}
