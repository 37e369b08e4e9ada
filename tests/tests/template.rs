//! The distribution, checked offline the way a security reviewer and an
//! operator would: `template.yaml` lints and transforms, uses only resource
//! types the Serverless Application Repository accepts, grants least
//! privilege, wires every trigger, dead letter and alarm, and can take every
//! documented setting (`cargo xtask gen --check` keeps the parameters, the
//! README tables and the Terraform module equal to the settings each function
//! declares). The Terraform module has its own file, terraform.rs.
//!
//! The tools come from the project's venvs (`cargo xtask setup`):
//! cfn-lint, the SAM translator and parliament through
//! `tools/python/template_tool.py`, checkov from `.venv-checkov`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

mod distribution;
use distribution::*;

// ---------------------------------------------------------------------------
// Lint and transform
// ---------------------------------------------------------------------------

#[test]
fn cfn_lint_passes_on_the_template() {
    let output = Command::new(require_tool("cfn-lint"))
        .arg(template_path())
        .current_dir(root())
        .output()
        .expect("cfn-lint runs");
    assert!(
        output.status.success(),
        "cfn-lint found problems in template.yaml:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_sam_transform_yields_every_function_with_its_wiring() {
    let out = translated();
    let functions = of_type(out, "AWS::Lambda::Function");
    assert_eq!(
        functions.len(),
        FUNCTIONS.len(),
        "one Lambda function per toilkit function"
    );
    for (name, stem) in FUNCTIONS {
        let id = format!("{stem}Function");
        let function = &resources(out)[&id];
        assert_eq!(function["Type"], "AWS::Lambda::Function", "{id}");
        assert_eq!(function["Properties"]["Runtime"], "provided.al2023", "{id}");
        assert_eq!(function["Properties"]["Handler"], "bootstrap", "{id}");
        assert_eq!(
            function["Condition"],
            format!("{stem}Enabled"),
            "{id} must sit behind its Enable{stem} condition"
        );
        assert!(
            function["Properties"]["Architectures"].is_array(),
            "{id} states its architecture"
        );
        // Its own log group, with retention, is where its logs go.
        let log_group_id = referenced(&function["Properties"]["LoggingConfig"]["LogGroup"])
            .unwrap_or_else(|| panic!("{id} logs to a log group of the stack"));
        let log_group = &resources(out)[log_group_id];
        assert_eq!(log_group["Type"], "AWS::Logs::LogGroup");
        assert!(
            !log_group["Properties"]["RetentionInDays"].is_null(),
            "{log_group_id} has a retention"
        );
        assert_eq!(
            log_group["Properties"]["LogGroupName"]["Fn::Sub"],
            format!("/aws/lambda/${{NamePrefix}}-{name}")
        );
        // Its role is its own.
        let role_id = referenced(&function["Properties"]["Role"]).expect("an explicit role");
        assert_eq!(resources(out)[role_id]["Type"], "AWS::IAM::Role");
        assert_eq!(
            resources(out)[role_id]["Condition"],
            format!("{stem}Enabled")
        );
    }
    let machine = &resources(out)["MaintenanceWindowStateMachine"];
    assert_eq!(machine["Type"], "AWS::StepFunctions::StateMachine");
    assert_eq!(machine["Condition"], "MaintenanceSwitchEnabled");
    let tables = of_type(out, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 3, "WAF ledger, Config state, idempotency");
    for (id, table) in tables {
        let p = &table["Properties"];
        assert_eq!(p["TimeToLiveSpecification"]["Enabled"], true, "{id} TTL");
        assert_eq!(
            p["TimeToLiveSpecification"]["AttributeName"], "expires_at",
            "{id}: the functions write expires_at"
        );
        assert_eq!(
            p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true,
            "{id} PITR"
        );
        assert_eq!(
            p["KeySchema"],
            json!([{"AttributeName": "pk", "KeyType": "HASH"}]),
            "{id}"
        );
    }
}

#[test]
fn every_function_has_a_dead_letter_destination_and_alarms() {
    let out = translated();
    let alarms = of_type(out, "AWS::CloudWatch::Alarm");
    let alarmed = |namespace: &str, target: &str| {
        alarms.iter().any(|(_, a)| {
            let p = &a["Properties"];
            p["Namespace"] == namespace
                && p["Dimensions"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|d| referenced(&d["Value"]) == Some(target)))
                && p["AlarmActions"]["Fn::If"][0] == "HasAlarmTopic"
                && p["AlarmActions"]["Fn::If"][1] == json!([{"Ref": "AlarmTopicArn"}])
        })
    };
    for (_, stem) in FUNCTIONS {
        let function = format!("{stem}Function");
        let config = of_type(out, "AWS::Lambda::EventInvokeConfig")
            .into_iter()
            .find(|(_, c)| referenced(&c["Properties"]["FunctionName"]) == Some(function.as_str()))
            .unwrap_or_else(|| panic!("{function} has an asynchronous invocation config"))
            .1;
        let destination = &config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"];
        let queue = referenced(destination)
            .unwrap_or_else(|| panic!("{function}: failed events go to a queue of the stack"));
        assert_eq!(
            resources(out)[queue]["Type"],
            "AWS::SQS::Queue",
            "{function}"
        );
        assert!(
            alarmed("AWS/Lambda", &function),
            "{function}: an errors alarm to the optional topic"
        );
        assert!(
            alarmed("AWS/SQS", queue),
            "{queue}: a dead-letter depth alarm to the optional topic"
        );
        // The role may write there: the destination uses the function's role.
        let role = referenced(&resources(out)[&function]["Properties"]["Role"]).unwrap();
        let granted = statements(&resources(out)[role]).into_iter().any(|s| {
            actions(s).contains(&"sqs:SendMessage".to_owned())
                && strings(&s["Resource"])
                    .iter()
                    .any(|r| referenced(r) == Some(queue))
        });
        assert!(granted, "{role} may send to {queue}");
    }
    assert!(
        alarmed("AWS/States", "MaintenanceWindowStateMachine"),
        "a failed maintenance window raises an alarm"
    );
    // The compliance-change queue redrives to a dead-letter queue as well.
    let redrive = &resources(out)["ConfigTriageQueue"]["Properties"]["RedrivePolicy"];
    assert!(referenced(&redrive["deadLetterTargetArn"]).is_some());
}

#[test]
fn every_trigger_is_wired_to_its_function() {
    let t = template();
    let rule = |id: &str| &resources(t)[id]["Properties"];
    assert_eq!(
        rule("LogRetentionCreateLogGroupRule")["EventPattern"],
        json!({
            "source": ["aws.logs"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {"eventSource": ["logs.amazonaws.com"], "eventName": ["CreateLogGroup"]}
        })
    );
    assert_eq!(
        rule("ConfigTriageComplianceChangeRule")["EventPattern"],
        json!({"source": ["aws.config"], "detail-type": ["Config Rules Compliance Change"]})
    );
    assert_eq!(
        rule("WafIpBlockerObjectCreatedRule")["EventPattern"]["detail-type"],
        json!(["Object Created"])
    );
    for (id, parameter) in [
        ("WafIpBlockerScheduleRule", "WafSchedule"),
        ("ConfigTriageDigestRule", "ConfigTriageDigestSchedule"),
        ("LogRetentionScheduleRule", "LogRetentionSchedule"),
    ] {
        assert_eq!(
            rule(id)["ScheduleExpression"],
            json!({"Ref": parameter}),
            "{id}"
        );
    }
    // Every rule that targets a function has a permission for exactly that
    // rule; every subscription filter has one for its log group.
    let permissions = of_type(t, "AWS::Lambda::Permission");
    for (id, r) in of_type(t, "AWS::Events::Rule") {
        for target in r["Properties"]["Targets"].as_array().unwrap() {
            let function = referenced(&target["Arn"]).unwrap();
            // A function of the stack; not a bus given as a parameter.
            if resources(t)
                .get(function)
                .is_none_or(|r| r["Type"] != "AWS::Serverless::Function")
            {
                continue;
            }
            let allowed = permissions.iter().any(|(_, p)| {
                referenced(&p["Properties"]["FunctionName"]) == Some(function)
                    && referenced(&p["Properties"]["SourceArn"]) == Some(id.as_str())
                    && p["Condition"] == r["Condition"]
            });
            assert!(
                allowed,
                "{id} may invoke {function}, under the same condition"
            );
        }
    }
    for (id, filter) in of_type(t, "AWS::Logs::SubscriptionFilter") {
        let depends = filter["DependsOn"]
            .as_str()
            .expect("waits for its permission");
        assert_eq!(
            resources(t)[depends]["Properties"]["Principal"],
            "logs.amazonaws.com",
            "{id}"
        );
    }
    let sqs = &resources(t)["ConfigTriageFunction"]["Properties"]["Events"]["ComplianceChanges"];
    assert_eq!(sqs["Type"], "SQS");
    assert_eq!(
        sqs["Properties"]["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
}

#[test]
fn the_state_machine_definition_and_its_substitutions_agree() {
    let t = template();
    let machine = &resources(t)["MaintenanceWindowStateMachine"]["Properties"];
    let uri = machine["DefinitionUri"]
        .as_str()
        .expect("a DefinitionUri file");
    assert_eq!(uri, "statemachines/maintenance-window.asl.json");
    let path = root().join(uri);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} (written by maintenance-switch): {e}", path.display()));
    let definition: Value = serde_json::from_str(&text).expect("the ASL is JSON");
    assert!(definition["StartAt"].is_string() && definition["States"].is_object());
    let used: BTreeSet<String> = regex_lite_placeholders(&text);
    let given: BTreeSet<String> = machine["DefinitionSubstitutions"]
        .as_object()
        .expect("DefinitionSubstitutions")
        .keys()
        .cloned()
        .collect();
    assert!(
        used.contains("MaintenanceSwitchFunctionArn"),
        "the ASL invokes the function through ${{MaintenanceSwitchFunctionArn}}"
    );
    let missing: Vec<_> = used.difference(&given).collect();
    assert!(
        missing.is_empty(),
        "the ASL uses substitutions the template does not give: {missing:?}"
    );
    // The translated machine names the function it invokes.
    let out = &resources(translated())["MaintenanceWindowStateMachine"]["Properties"];
    assert_eq!(
        out["DefinitionSubstitutions"]["MaintenanceSwitchFunctionArn"],
        json!({"Fn::GetAtt": ["MaintenanceSwitchFunction", "Arn"]})
    );
}

/// The `${Name}` placeholders of an ASL text.
fn regex_lite_placeholders(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        rest = &rest[start + 2..];
        if let Some(end) = rest.find('}') {
            let name = &rest[..end];
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                found.insert(name.to_owned());
            }
            rest = &rest[end..];
        }
    }
    found
}

// ---------------------------------------------------------------------------
// Serverless Application Repository
// ---------------------------------------------------------------------------

fn sar_supported() -> BTreeSet<String> {
    let path = root().join("tests/template-support/sar-supported-resources.txt");
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn only_resource_types_the_repository_supports() {
    let supported = sar_supported();
    for (label, t) in [
        ("template.yaml", template()),
        ("after the SAM transform", translated()),
    ] {
        let unsupported: BTreeSet<&str> = resources(t)
            .values()
            .filter_map(|r| r["Type"].as_str())
            .filter(|kind| !supported.contains(*kind))
            .collect();
        assert!(
            unsupported.is_empty(),
            "{label} uses resource types the Serverless Application Repository does not support: {unsupported:?}"
        );
    }
}

#[test]
fn the_repository_metadata_is_complete() {
    let app = &template()["Metadata"]["AWS::ServerlessRepo::Application"];
    for field in [
        "Name",
        "Description",
        "Author",
        "SpdxLicenseId",
        "LicenseUrl",
        "ReadmeUrl",
        "Labels",
        "SemanticVersion",
        "SourceCodeUrl",
    ] {
        assert!(
            !app[field].is_null(),
            "AWS::ServerlessRepo::Application lacks {field}"
        );
    }
    assert_eq!(app["SpdxLicenseId"], "Apache-2.0");
    let license = std::fs::read_to_string(root().join(app["LicenseUrl"].as_str().unwrap()))
        .expect("LicenseUrl names a file of the repository");
    assert!(license.contains("Apache License") && license.contains("Version 2.0, January 2004"));
    assert!(
        root().join(app["ReadmeUrl"].as_str().unwrap()).is_file(),
        "ReadmeUrl names a file of the repository"
    );
    // SAR's limits: description 1-256 characters, 1-10 labels of 1-127
    // characters from [a-zA-Z0-9+\-_:\/@].
    let description = app["Description"].as_str().unwrap();
    assert!(
        (1..=256).contains(&description.len()),
        "Description is {} characters",
        description.len()
    );
    let labels = app["Labels"].as_array().unwrap();
    assert!((1..=10).contains(&labels.len()));
    for label in labels {
        let label = label.as_str().unwrap();
        assert!(
            (1..=127).contains(&label.len())
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-_:/@".contains(c)),
            "label {label:?}"
        );
    }
    // The application version is the crates' version.
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let workspace_version = manifest
        .lines()
        .skip_while(|l| l.trim() != "[workspace.package]")
        .find_map(|l| l.trim().strip_prefix("version = "))
        .map(|v| v.trim_matches('"').to_owned())
        .expect("[workspace.package] version");
    assert_eq!(app["SemanticVersion"], workspace_version.as_str());
}

#[test]
fn functions_build_with_cargo_lambda_behind_their_own_switch() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
    for field in ["Architectures", "MemorySize", "Timeout"] {
        assert!(!globals[field].is_null(), "Globals.Function.{field}");
    }
    let serverless = of_type(t, "AWS::Serverless::Function");
    assert_eq!(serverless.len(), FUNCTIONS.len());
    for (name, stem) in FUNCTIONS {
        let function = &resources(t)[&format!("{stem}Function")];
        assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda");
        assert_eq!(function["Metadata"]["BuildProperties"]["Binary"], name);
        assert!(
            root()
                .join("functions")
                .join(name)
                .join("Cargo.toml")
                .is_file(),
            "{name} is a crate of the workspace"
        );
        let parameter = &t["Parameters"][format!("Enable{stem}")];
        assert_eq!(parameter["AllowedValues"], json!(["true", "false"]));
        assert_eq!(
            t["Conditions"][format!("{stem}Enabled")],
            json!({"Fn::Equals": [{"Ref": format!("Enable{stem}")}, "true"]})
        );
        // Everything of the function goes with its switch.
        for (id, resource) in resources(t) {
            if id.starts_with(stem)
                && resource["Type"] != "AWS::CloudFormation::WaitConditionHandle"
            {
                let condition = resource["Condition"].as_str().unwrap_or_default();
                assert!(
                    !condition.is_empty(),
                    "{id} has no condition: it would outlive Enable{stem}=false"
                );
            }
        }
    }
}

#[test]
fn every_parameter_is_described_and_constrained() {
    let parameters = template()["Parameters"].as_object().unwrap();
    for (name, p) in parameters {
        let description = p["Description"].as_str().unwrap_or_default();
        assert!(description.len() >= 10, "{name} needs a description");
        let constrained = match p["Type"].as_str().unwrap() {
            "Number" => {
                !p["AllowedValues"].is_null()
                    || !p["MinValue"].is_null()
                    || !p["MaxValue"].is_null()
            }
            _ => !p["AllowedValues"].is_null() || !p["AllowedPattern"].is_null(),
        };
        assert!(
            constrained,
            "{name} needs AllowedValues, AllowedPattern or a range"
        );
    }
}

// ---------------------------------------------------------------------------
// IAM: least privilege
// ---------------------------------------------------------------------------

/// Every statement of a role's inline policies, both sides of each `Fn::If`.
fn statements(role: &Value) -> Vec<&Value> {
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

fn actions(statement: &Value) -> Vec<String> {
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

// ---------------------------------------------------------------------------
// One source of truth for configuration
// ---------------------------------------------------------------------------

/// Each function's settings, as declared in its `src/config.rs`.
fn settings() -> [(&'static str, &'static [shared::config::Setting]); 5] {
    [
        ("waf-ip-blocker", waf_ip_blocker::config::SETTINGS),
        ("rds-audit-notifier", rds_audit_notifier::config::SETTINGS),
        ("maintenance-switch", maintenance_switch::config::SETTINGS),
        ("config-triage", config_triage::config::SETTINGS),
        ("log-retention", log_retention::config::SETTINGS),
    ]
}

/// `cargo xtask gen` writes each parameter from its setting, so they agree
/// by construction; what it cannot see is whether the constraint it copied
/// admits the values the README documents. Each must deploy.
#[test]
fn every_documented_example_and_default_is_accepted_by_its_parameter() {
    let t = template();
    let mut problems = Vec::new();
    for (function, settings) in settings() {
        for setting in settings {
            let parameter_name = match &setting.source {
                shared::config::Source::Parameter(p) => p.name,
                shared::config::Source::SharedParameter(name) => name,
                _ => continue,
            };
            let parameter = &t["Parameters"][parameter_name];
            if parameter.is_null() {
                problems.push(format!(
                    "{function}: {} is set from parameter {parameter_name}, which template.yaml lacks",
                    setting.name
                ));
                continue;
            }
            let values = [
                ("example", Some(setting.example)),
                ("default", setting.default),
            ];
            for (what, value) in values {
                if let Some(value) = value
                    && let Err(why) = accepts(parameter, value)
                {
                    problems.push(format!(
                        "{function}: the {what} of {} cannot be deployed: parameter {parameter_name} rejects it: {why}",
                        setting.name
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "settings the template cannot take:\n  - {}",
        problems.join("\n  - ")
    );
}

/// The variables every function shares are set in the template from the
/// shared parameters, in each function that reads them.
#[test]
fn every_function_gets_the_shared_settings_it_declares() {
    let t = template();
    for ((function, settings), (name, stem)) in settings().into_iter().zip(FUNCTIONS) {
        assert_eq!(function, name);
        let environment =
            &resources(t)[&format!("{stem}Function")]["Properties"]["Environment"]["Variables"];
        for setting in settings {
            if let shared::config::Source::SharedParameter(parameter) = setting.source {
                assert_eq!(
                    environment[setting.name]["Ref"], parameter,
                    "{function}: {} comes from parameter {parameter}",
                    setting.name
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// IAM covers what the code calls
// ---------------------------------------------------------------------------

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
    for (name, _) in FUNCTIONS {
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
    let out = translated();
    let known = sdk_calls();
    let mut missing = Vec::new();
    for (name, stem) in FUNCTIONS {
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
            let action = &known[&call];
            if !granted.contains(action) {
                missing.push(format!(
                    "{name}: {file} calls {call}, but {role} does not grant {action}"
                ));
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
  "EnableConfigTriage": "true", "EnableLogRetention": "true",
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

// ---------------------------------------------------------------------------
// What the data at rest holds, and who may read it
// ---------------------------------------------------------------------------

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
    let manage = |d: &Value| -> Value {
        role_statements(d, "LogRetentionRole")
            .into_iter()
            .find(|s| actions(s).contains(&"logs:DeleteLogGroup".to_owned()))
            .expect("a statement grants logs:DeleteLogGroup")
            .clone()
    };
    let own = manage(&deployment(json!({})));
    assert_eq!(
        own["Condition"],
        json!({"StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}}),
        "no REGIONS: the stack's own Region only"
    );
    let listed = manage(&deployment(
        json!({"LogRetentionRegions": "eu-west-1,us-east-1"}),
    ));
    assert_eq!(
        listed["Condition"],
        json!({"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}})
    );
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

// ---------------------------------------------------------------------------
// Deploying to an organization: the StackSets template
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_stackset_template_has_no_transform_lints_and_creates_with_every_function_on() {
    let stackset = run_tool(&["stackset", &template_path().to_string_lossy()], None);
    assert!(
        stackset.get("Transform").is_none(),
        "service-managed StackSets reject transforms"
    );
    for (id, r) in resources(&stackset) {
        assert!(
            !r["Type"].as_str().unwrap().starts_with("AWS::Serverless::"),
            "{id} is still a SAM resource"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stackset.template.json");
    std::fs::write(&path, stackset.to_string()).unwrap();
    let lint = Command::new(require_tool("cfn-lint"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "cfn-lint on the StackSets template:\n{}",
        String::from_utf8_lossy(&lint.stdout)
    );
    // Created in moto's CloudFormation, every function on, code from the
    // bucket of the Region.
    let moto = toilkit_tests::Moto::dedicated();
    let config = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket("toilkit-code")
        .send()
        .await
        .unwrap();
    for (name, _) in FUNCTIONS {
        s3.put_object()
            .bucket("toilkit-code")
            .key(format!("toilkit/0.1.0/{name}/bootstrap.zip"))
            .body(b"bootstrap".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let mut pairs: Vec<(String, String)> = vec![
        ("Action".into(), "CreateStack".into()),
        ("StackName".into(), "toilkit-stackset-instance".into()),
        ("TemplateBody".into(), stackset.to_string()),
        ("Capabilities.member.1".into(), "CAPABILITY_IAM".into()),
    ];
    let mut parameters = vec![
        ("CodeS3Bucket", "toilkit-code".to_owned()),
        ("SlackWebhookParameter", "/toilkit/slack-webhook".to_owned()),
        ("MaintenanceLoadBalancerNames", "shop-*".to_owned()),
        (
            "WafIpSetV4Arn",
            "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/blocked-v4/a1b2c3d4".to_owned(),
        ),
    ];
    for (_, stem) in FUNCTIONS {
        parameters.push((
            Box::leak(format!("Enable{stem}").into_boxed_str()),
            "true".to_owned(),
        ));
    }
    for (i, (k, v)) in parameters.into_iter().enumerate() {
        pairs.push((
            format!("Parameters.member.{}.ParameterKey", i + 1),
            k.to_owned(),
        ));
        pairs.push((format!("Parameters.member.{}.ParameterValue", i + 1), v));
    }
    let (status, xml) = cloudformation(moto.endpoint(), &pairs);
    assert_eq!(status, 200, "CreateStack: {xml}");
    let (_, described) = cloudformation(
        moto.endpoint(),
        &[
            ("Action", "DescribeStacks"),
            ("StackName", "toilkit-stackset-instance"),
        ],
    );
    assert_eq!(
        xml_value(&described, "StackStatus"),
        Some("CREATE_COMPLETE"),
        "{described}"
    );
    let (_, listed) = cloudformation(
        moto.endpoint(),
        &[
            ("Action", "ListStackResources"),
            ("StackName", "toilkit-stackset-instance"),
        ],
    );
    for (_, stem) in FUNCTIONS {
        let id = format!("<LogicalResourceId>{stem}Function</LogicalResourceId>");
        assert!(listed.contains(&id), "{stem}Function was created");
    }
    assert!(
        listed.contains("<LogicalResourceId>MaintenanceWindowStateMachine</LogicalResourceId>"),
        "the state machine was created from its inline definition"
    );
}

/// The longest value, in bytes, that CloudFormation lets a parameter take:
/// from AllowedValues, a Number's bounds, or MaxLength and AllowedPattern.
/// A pattern that admits characters outside ASCII counts 4 bytes (UTF-8's
/// longest) for each character MaxLength allows. `None`: unbounded.
fn worst_parameter_bytes(parameter: &Value) -> Option<usize> {
    if let Some(values) = parameter["AllowedValues"].as_array() {
        return values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string().len(), str::len))
            .max();
    }
    if parameter["Type"] == "Number" {
        // The functions take whole numbers; the longest is a bound's digits.
        let digits = |key: &str| parameter[key].as_i64().map(|n| n.to_string().len());
        return Some(digits("MaxValue")?.max(digits("MinValue").unwrap_or(1)));
    }
    let max_length = parameter["MaxLength"]
        .as_u64()
        .or_else(|| parameter["MaxLength"].as_str()?.parse().ok())
        .map(|n| n as usize);
    let Some(pattern) = parameter["AllowedPattern"].as_str() else {
        return max_length.map(|n| n * 4);
    };
    // Java's `\s` and `\x..` are ASCII, as in regex-syntax without Unicode;
    // a pattern that could then match non-UTF-8 bytes admits non-ASCII.
    let ascii = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .build()
        .parse(pattern)
        .ok();
    match ascii {
        Some(hir) => match (hir.properties().maximum_len(), max_length) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
        None => max_length.map(|n| n * 4),
    }
}

/// The longest a `Fn::Sub` string can become: pseudo parameters at their
/// longest (partition "aws-us-gov" and Regions well under these), template
/// parameters at theirs.
fn worst_sub_bytes(template: &Value, text: &str) -> Option<usize> {
    let mut total = 0;
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        total += start;
        let end = rest[start..].find('}')? + start;
        total += match &rest[start + 2..end] {
            "AWS::Partition" => 16,
            "AWS::Region" => 20,
            "AWS::AccountId" => 12,
            name => worst_parameter_bytes(&template["Parameters"][name])?,
        };
        rest = &rest[end + 1..];
    }
    Some(total + rest.len())
}

#[test]
fn no_function_environment_can_exceed_the_4_kb_lambda_allows() {
    // Lambda: "The total size of all environment variables doesn't exceed
    // 4 KB" (names and values). CloudFormation cannot add lengths up, so each
    // parameter's MaxLength is chosen for this sum to stay under it whatever
    // an operator sets.
    let t = template();
    let mut problems = Vec::new();
    let mut sizes = Vec::new();
    for (id, function) in of_type(t, "AWS::Serverless::Function") {
        let variables = function["Properties"]["Environment"]["Variables"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut total = 0;
        for (name, value) in &variables {
            let worst = if let Some(text) = value.as_str() {
                Some(text.len())
            } else if let Some(name) = value.get("Ref").and_then(Value::as_str) {
                match t["Parameters"].get(name) {
                    Some(parameter) => worst_parameter_bytes(parameter),
                    // A table's generated name: DynamoDB allows 255.
                    None => Some(255),
                }
            } else if let Some(text) = value.get("Fn::Sub").and_then(Value::as_str) {
                worst_sub_bytes(t, text)
            } else {
                None
            };
            match worst {
                Some(bytes) => total += name.len() + bytes,
                None => problems.push(format!(
                    "{id}: {name} = {value} has no bound (give its parameter a MaxLength, AllowedValues or MaxValue)"
                )),
            }
        }
        sizes.push(format!("{id}: {total} bytes"));
        if total > 4096 {
            problems.push(format!(
                "{id}: its variables can reach {total} bytes, above Lambda's 4096"
            ));
        }
    }
    assert_eq!(sizes.len(), 5, "every function counted: {sizes:?}");
    assert!(
        problems.is_empty(),
        "{}\n  - {}",
        sizes.join(", "),
        problems.join("\n  - ")
    );
    eprintln!("worst-case environments: {}", sizes.join(", "));
}
