//! The distribution, checked offline the way a security reviewer and an
//! operator would: `template.yaml` lints and transforms, uses only resource
//! types the Serverless Application Repository accepts, grants least
//! privilege, wires every trigger, dead letter and alarm, and agrees with the
//! configuration tables of the function READMEs; the Terraform module is
//! formatted and passes checkov.
//!
//! The tools come from the project's venvs (`cargo xtask setup`):
//! cfn-lint, the SAM translator and parliament through
//! `tools/python/template_tool.py`, checkov from `.venv-checkov`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};
use toilkit_tests::workspace::{require_tool, root};

/// Each function: its crate, and the stem of its logical ids in the template.
const FUNCTIONS: [(&str, &str); 5] = [
    ("waf-ip-blocker", "WafIpBlocker"),
    ("rds-audit-notifier", "RdsAuditNotifier"),
    ("maintenance-switch", "MaintenanceSwitch"),
    ("config-triage", "ConfigTriage"),
    ("log-retention", "LogRetention"),
];

/// Variables every function understands, documented once in the main README
/// ("Variables every function understands"); a function README may leave
/// them out of its own table.
const SHARED_VARIABLES: [&str; 4] = [
    "DRY_RUN",
    "SLACK_WEBHOOK_SECRET_ARN",
    "SLACK_WEBHOOK_PARAMETER",
    "RESULT_EVENT_BUS",
];

// ---------------------------------------------------------------------------
// Running the tools
// ---------------------------------------------------------------------------

fn run_tool(args: &[&str], stdin: Option<&str>) -> Value {
    let python = require_tool("python");
    let script = root().join("tools/python/template_tool.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    {
        let mut input = child.stdin.take().expect("stdin is piped");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write to the tool");
        }
    }
    let output = child.wait_with_output().expect("tool ran");
    assert!(
        output.status.success(),
        "template_tool.py {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the tool prints JSON")
}

fn template_path() -> PathBuf {
    root().join("template.yaml")
}

/// `template.yaml` as JSON, intrinsics in long form.
fn template() -> &'static Value {
    static TEMPLATE: OnceLock<Value> = OnceLock::new();
    TEMPLATE.get_or_init(|| run_tool(&["decode", &template_path().to_string_lossy()], None))
}

/// The CloudFormation template the SAM transform makes of it, with every
/// function switched on.
fn translated() -> &'static Value {
    static TRANSLATED: OnceLock<Value> = OnceLock::new();
    TRANSLATED.get_or_init(|| {
        let all_on: serde_json::Map<String, Value> = FUNCTIONS
            .iter()
            .map(|(_, stem)| (format!("Enable{stem}"), json!("true")))
            .collect();
        run_tool(
            &[
                "translate",
                &template_path().to_string_lossy(),
                &Value::Object(all_on).to_string(),
            ],
            None,
        )
    })
}

fn resources(template: &Value) -> &serde_json::Map<String, Value> {
    template["Resources"]
        .as_object()
        .expect("the template has Resources")
}

fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    resources(template)
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

/// The logical id a value refers to (`Ref` or `Fn::GetAtt`), if it does.
fn referenced(value: &Value) -> Option<&str> {
    if let Some(name) = value.get("Ref").and_then(Value::as_str) {
        return Some(name);
    }
    value
        .get("Fn::GetAtt")
        .and_then(|a| a.get(0))
        .and_then(Value::as_str)
}

/// Both branches of `Fn::If` (not `AWS::NoValue`), or the value itself.
fn branches(value: &Value) -> Vec<&Value> {
    match value.get("Fn::If").and_then(Value::as_array) {
        Some(parts) if parts.len() == 3 => parts[1..]
            .iter()
            .filter(|v| v.get("Ref").and_then(Value::as_str) != Some("AWS::NoValue"))
            .flat_map(branches)
            .collect(),
        _ => vec![value],
    }
}

fn strings(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        other => branches(other)
            .into_iter()
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().flat_map(strings).collect(),
                v => vec![v],
            })
            .collect(),
    }
}

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
            if resources(t)[function]["Type"] != "AWS::Serverless::Function" {
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
                ["lambda.amazonaws.com", "states.amazonaws.com"].contains(&service),
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

#[derive(Debug)]
struct Row {
    variable: String,
    required: bool,
    default: String,
    example: String,
}

/// The `## Configuration` table of a function README.
fn configuration_table(readme: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(readme).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (each function documents its configuration)",
            readme.display()
        )
    });
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with("Configuration"))
        .unwrap_or_else(|| panic!("{} has no \"## Configuration\" section", readme.display()));
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.trim_start().starts_with('|')) {
        let cells = table_cells(line);
        if cells.len() < 5 || cells[0] == "Variable" || cells[0].starts_with("---") {
            continue;
        }
        let Some(variable) = cells[0].strip_prefix('`').and_then(|c| c.strip_suffix('`')) else {
            panic!(
                "{}: the variable cell {:?} is not `NAME`",
                readme.display(),
                cells[0]
            );
        };
        rows.push(Row {
            variable: variable.to_owned(),
            required: cells[1].eq_ignore_ascii_case("yes"),
            default: cells[2].clone(),
            example: cells[3].clone(),
        });
    }
    assert!(
        !rows.is_empty(),
        "{}: the configuration table is empty",
        readme.display()
    );
    rows
}

/// The cells of a Markdown table row; `\|` is a literal bar.
fn table_cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = line.trim().trim_start_matches('|').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cell).trim().to_owned()),
            c => cell.push(c),
        }
    }
    if !cell.trim().is_empty() {
        cells.push(cell.trim().to_owned());
    }
    cells
}

/// A backticked literal (`` `100` ``), or None for "—" and prose, which mean
/// the function's own default applies when the variable is empty.
fn literal(cell: &str) -> Option<&str> {
    cell.strip_prefix('`')
        .and_then(|c| c.strip_suffix('`'))
        .filter(|c| !c.contains('`'))
}

/// Whether `value` is one the parameter accepts.
fn accepts(parameter: &Value, value: &str) -> Result<(), String> {
    if let Some(allowed) = parameter["AllowedValues"].as_array() {
        let ok = allowed.iter().any(|a| match a {
            Value::String(s) => s == value,
            other => value.parse::<Value>().is_ok_and(|v| v == *other),
        });
        if !ok {
            return Err(format!(
                "{value:?} is not one of {parameter}",
                parameter = parameter["AllowedValues"]
            ));
        }
    }
    if parameter["Type"] == "Number" {
        let n: f64 = value
            .parse()
            .map_err(|_| format!("{value:?} is not a number"))?;
        let bound = |key: &str| {
            parameter[key]
                .as_f64()
                .or_else(|| parameter[key].as_str()?.parse().ok())
        };
        if bound("MinValue").is_some_and(|min| n < min)
            || bound("MaxValue").is_some_and(|max| n > max)
        {
            return Err(format!("{value} is outside the parameter's range"));
        }
    }
    if let Some(pattern) = parameter["AllowedPattern"].as_str() {
        // CloudFormation's patterns are Java regular expressions; the ones
        // the template uses mean the same in Rust's syntax.
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 28)
            .build()
            .map_err(|e| format!("pattern {pattern:?}: {e}"))?;
        let items: Vec<&str> = if parameter["Type"] == "CommaDelimitedList" {
            value.split(',').collect()
        } else {
            vec![value]
        };
        if let Some(bad) = items.iter().find(|v| !re.is_match(v)) {
            return Err(format!("{bad:?} does not match {pattern:?}"));
        }
    }
    Ok(())
}

#[test]
fn readme_configuration_tables_match_the_template() {
    let t = template();
    let globals = t["Globals"]["Function"]["Environment"]["Variables"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut problems = Vec::new();
    for (name, stem) in FUNCTIONS {
        let readme = root().join("functions").join(name).join("README.md");
        if !readme.is_file() {
            problems.push(format!(
                "{name}: functions/{name}/README.md is missing (each function documents its configuration)"
            ));
            continue;
        }
        let rows = configuration_table(&readme);
        let mut environment = globals.clone();
        environment.extend(
            resources(t)[&format!("{stem}Function")]["Properties"]["Environment"]["Variables"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let documented: BTreeSet<&str> = rows.iter().map(|r| r.variable.as_str()).collect();
        for variable in environment.keys() {
            if !documented.contains(variable.as_str())
                && !SHARED_VARIABLES.contains(&variable.as_str())
            {
                problems.push(format!(
                    "{name}: the template sets {variable}, which its README does not document"
                ));
            }
        }
        for row in &rows {
            let Some(value) = environment.get(&row.variable) else {
                problems.push(format!(
                    "{name}: README documents {}, which the template does not set",
                    row.variable
                ));
                continue;
            };
            // Set from a resource of the stack (a table, the state machine):
            // nothing for the operator to choose.
            let Some(parameter_name) = value
                .get("Ref")
                .and_then(Value::as_str)
                .filter(|p| t["Parameters"].get(*p).is_some())
            else {
                continue;
            };
            let parameter = &t["Parameters"][parameter_name];
            let template_default = match &parameter["Default"] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            match literal(&row.default) {
                Some(default) if default != template_default => problems.push(format!(
                    "{name}: {} defaults to `{default}` in the README but to {template_default:?} in parameter {parameter_name}",
                    row.variable
                )),
                None if !row.required && !template_default.is_empty() => problems.push(format!(
                    "{name}: {} has no literal default in the README ({:?}), but parameter {parameter_name} defaults to {template_default:?}; \
                     give the README default as `{template_default}` or leave the parameter empty",
                    row.variable, row.default
                )),
                _ => {}
            }
            if let Some(example) = literal(&row.example)
                && let Err(why) = accepts(parameter, example)
            {
                problems.push(format!(
                    "{name}: the README example for {} cannot be deployed: parameter {parameter_name} rejects it: {why}",
                    row.variable
                ));
            }
            if let Some(default) = literal(&row.default)
                && let Err(why) = accepts(parameter, default)
            {
                problems.push(format!(
                    "{name}: the README default for {} is rejected by parameter {parameter_name}: {why}",
                    row.variable
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "README and template.yaml disagree:\n  - {}",
        problems.join("\n  - ")
    );
}

#[test]
fn parameter_descriptions_name_the_variable_they_set() {
    // An operator reading the console or SAR's form sees the parameter; the
    // README speaks of the variable. Each description names it.
    let t = template();
    for (_, stem) in FUNCTIONS {
        let environment =
            &resources(t)[&format!("{stem}Function")]["Properties"]["Environment"]["Variables"];
        for (variable, value) in environment.as_object().unwrap() {
            if let Some(parameter) = value.get("Ref").and_then(Value::as_str)
                && let Some(p) = t["Parameters"].get(parameter)
            {
                let description = p["Description"].as_str().unwrap();
                assert!(
                    description.contains(variable.as_str()),
                    "parameter {parameter} sets {variable}; its description must say so"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Terraform
// ---------------------------------------------------------------------------

fn terraform_dir() -> PathBuf {
    root().join("deploy/terraform")
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|candidate| candidate.is_file())
    })
}

#[test]
fn terraform_is_formatted() {
    let Some(terraform) = which("terraform") else {
        eprintln!(
            "SKIPPED terraform_is_formatted: no terraform binary on PATH (the machine image normally has one)"
        );
        return;
    };
    let output = Command::new(terraform)
        .args(["fmt", "-check", "-recursive", "-diff"])
        .current_dir(terraform_dir())
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .output()
        .expect("terraform runs");
    assert!(
        output.status.success(),
        "terraform fmt -check found unformatted files (run `terraform fmt -recursive deploy/terraform`):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn checkov_passes_on_the_terraform_module() {
    let checkov = root().join(".venv-checkov/bin/checkov");
    assert!(
        checkov.exists(),
        "{} is missing: run `cargo xtask setup` (or `cargo xtask test`, which runs it)",
        checkov.display()
    );
    let output = Command::new(&checkov)
        .args(["--directory", "."])
        .args([
            "--framework",
            "terraform",
            "--skip-download",
            "--quiet",
            "--compact",
        ])
        .args(["--output", "json"])
        .current_dir(terraform_dir())
        .env("BC_SKIP_MAPPING", "TRUE")
        .env("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
        .output()
        .expect("checkov runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let summary = &report["summary"];
    let failed: Vec<String> = report["results"]["failed_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            format!(
                "{} {} ({}:{})",
                c["check_id"], c["resource"], c["file_path"], c["file_line_range"]
            )
        })
        .collect();
    assert!(
        failed.is_empty() && summary["failed"] == 0,
        "checkov failed checks (fix them, or skip each with `#checkov:skip=ID:why` on the resource):\n  {}",
        failed.join("\n  ")
    );
    assert!(
        summary["passed"].as_u64().unwrap_or(0) > 0,
        "checkov passed no check at all; is it reading deploy/terraform? {summary}"
    );
    // Every skip says why.
    for skipped in report["results"]["skipped_checks"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let why = skipped["check_result"]["suppress_comment"]
            .as_str()
            .unwrap_or_default();
        assert!(
            why.len() >= 10,
            "checkov skip of {} on {} has no reason",
            skipped["check_id"],
            skipped["resource"]
        );
    }
}

#[test]
fn terraform_module_parameters_exist_in_the_template() {
    // The module passes parameters by name; a typo would be rejected by SAR
    // only at deploy time. The template's parameter names are PascalCase,
    // Terraform's own arguments snake_case: every PascalCase key the module
    // assigns must be a template parameter.
    let main = std::fs::read_to_string(terraform_dir().join("modules/toilkit/main.tf"))
        .expect("deploy/terraform/modules/toilkit/main.tf");
    let parameters = template()["Parameters"].as_object().unwrap();
    let mut named = BTreeSet::new();
    for line in main.lines() {
        let Some((key, _)) = line.trim().split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.starts_with(|c: char| c.is_ascii_uppercase())
            && key.chars().all(|c| c.is_ascii_alphanumeric())
        {
            assert!(
                parameters.contains_key(key),
                "the Terraform module sets {key}, which template.yaml does not declare"
            );
            named.insert(key.to_owned());
        }
    }
    for (_, stem) in FUNCTIONS {
        assert!(
            named.contains(&format!("Enable{stem}")),
            "the module switches {stem} on and off"
        );
    }
    // Every setting of the template can be reached from Terraform.
    let unreachable: Vec<&String> = parameters.keys().filter(|p| !named.contains(*p)).collect();
    assert!(
        unreachable
            .iter()
            .all(|p| ["RdsAuditLogGroupName"].contains(&p.as_str())),
        "template parameters the Terraform module cannot set: {unreachable:?}"
    );
}

/// Where the machine keeps the AWS provider for offline `terraform init`
/// (`TOILKIT_TF_PLUGIN_MIRROR` overrides it).
fn provider_mirror() -> Option<PathBuf> {
    let mirror = std::env::var_os("TOILKIT_TF_PLUGIN_MIRROR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/tf-plugins"));
    mirror
        .join("registry.terraform.io/hashicorp/aws")
        .is_dir()
        .then_some(mirror)
}

/// A copy of `deploy/terraform` in a temporary directory (so `init` leaves
/// nothing in the repository), with a CLI config that installs the provider
/// from the local mirror only.
struct TerraformSandbox {
    dir: tempfile::TempDir,
    terraform: PathBuf,
}

impl TerraformSandbox {
    fn new(test: &str) -> Option<Self> {
        let Some(terraform) = which("terraform") else {
            eprintln!("SKIPPED {test}: no terraform binary on PATH");
            return None;
        };
        let Some(mirror) = provider_mirror() else {
            eprintln!(
                "SKIPPED {test}: no offline copy of the hashicorp/aws provider (/opt/tf-plugins or TOILKIT_TF_PLUGIN_MIRROR); \
                 terraform init cannot download one here"
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&terraform_dir(), &dir.path().join("terraform"));
        std::fs::write(
            dir.path().join("cli.tfrc"),
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n    include = [\"registry.terraform.io/hashicorp/*\"]\n  }}\n  direct {{\n    exclude = [\"registry.terraform.io/hashicorp/*\"]\n  }}\n}}\n",
                mirror.display()
            ),
        )
        .unwrap();
        Some(Self { dir, terraform })
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join("terraform").join(relative)
    }

    fn run(&self, folder: &str, args: &[&str]) -> std::process::Output {
        Command::new(&self.terraform)
            .args(args)
            .arg("-no-color")
            .current_dir(self.path(folder))
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join("cli.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("terraform runs")
    }

    fn ok(&self, folder: &str, args: &[&str]) -> String {
        let output = self.run(folder, args);
        assert!(
            output.status.success(),
            "terraform {} in {folder}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A root configuration calling the module, with a provider that needs no
    /// credentials and no network (plan only).
    fn root_calling_module(&self, folder: &str, module_arguments: &str) {
        let dir = self.path(folder);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("main.tf"),
            format!(
                r#"provider "aws" {{
  region                      = "eu-west-1"
  access_key                  = "offline"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}}

module "toilkit" {{
  source           = "../modules/toilkit"
  application_id   = "arn:aws:serverlessrepo:eu-west-1:111122223333:applications/toilkit"
  semantic_version = "0.1.0"
{module_arguments}
}}
"#
            ),
        )
        .unwrap();
        self.ok(folder, &["init", "-backend=false", "-input=false"]);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".terraform" || name == ".terraform.lock.hcl" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

#[test]
fn the_example_root_configuration_is_valid() {
    let Some(sandbox) = TerraformSandbox::new("the_example_root_configuration_is_valid") else {
        return;
    };
    sandbox.ok(
        "examples/product-account",
        &["init", "-backend=false", "-input=false"],
    );
    sandbox.ok("examples/product-account", &["validate"]);
}

#[test]
fn the_module_passes_parameters_the_template_accepts() {
    let Some(sandbox) = TerraformSandbox::new("the_module_passes_parameters_the_template_accepts")
    else {
        return;
    };
    sandbox.root_calling_module(
        "plan-root",
        r#"
  name            = "shop"
  slack_webhook   = { parameter = "/toilkit/slack-webhook" }
  alarm_topic_arn = "arn:aws:sns:eu-west-1:444455556666:oncall"
  waf_ip_blocker = {
    enabled          = true
    ipset_v4_arn     = "arn:aws:wafv2:eu-west-1:444455556666:regional/ipset/blocked-v4/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
    log_bucket_name  = "aws-waf-logs-shop-444455556666"
    log_key_prefix   = "AWSLogs/"
    threshold        = 300
    count_actions    = ["BLOCK", "COUNT"]
    uri_rules        = [{ path = "/login", threshold = 20 }, { path = "/static/*", ignore = true }]
    allow_cidrs      = ["203.0.113.0/24", "2001:db8::/32"]
    client_ip_header = "X-Forwarded-For"
    dry_run          = true
  }
  rds_audit_notifier = {
    enabled         = true
    log_group_names = ["/aws/rds/cluster/shop-prod/audit"]
    alert_on        = ["ddl", "account"]
    ignore_users    = ["rdsadmin", "monitor"]
  }
  maintenance_switch = {
    enabled             = true
    load_balancer_names = "shop-*"
    default_status_code = 503
  }
  config_triage = {
    enabled        = true
    severity_rules = [{ rule = "*-public-*", severity = "critical" }]
    exemptions     = [{ tag = { key = "toilkit:exempt" }, reason = "reviewed" }, { rule = "s3-*", expires = "2026-12-31" }]
    routes         = { payments = "toilkit/payments-webhook" }
    renotify_hours = 12
  }
  log_retention = {
    enabled                 = true
    retention_days          = 30
    rules                   = [{ prefix = "/aws/lambda/", days = 14 }, { prefix = "/audit/", keep = true }]
    delete_empty_after_days = 90
    s3_prune                = [{ bucket = "app-logs-a", prefix = "app/", days = 90 }, { bucket = "app-logs-b", days = 30 }, { bucket = "app-logs-a", prefix = "web/", days = 7 }]
    regions                 = ["eu-west-1", "us-east-1"]
  }
"#,
    );
    sandbox.ok(
        "plan-root",
        &[
            "plan",
            "-refresh=false",
            "-input=false",
            "-lock=false",
            "-out=plan.bin",
        ],
    );
    let plan: Value =
        serde_json::from_str(&sandbox.ok("plan-root", &["show", "-json", "plan.bin"]))
            .expect("terraform show -json");
    let changes = plan["resource_changes"].as_array().unwrap();
    let stack = changes
        .iter()
        .find(|c| c["type"] == "aws_serverlessapplicationrepository_cloudformation_stack")
        .expect("the module deploys the application")["change"]["after"]
        .clone();
    assert_eq!(stack["name"], "shop");
    assert_eq!(stack["semantic_version"], "0.1.0");
    let capabilities: BTreeSet<&str> = stack["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        capabilities,
        BTreeSet::from(["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]),
        "roles without custom names and resource policies, nothing more"
    );
    let parameters = stack["parameters"].as_object().expect("planned parameters");
    let declared = template()["Parameters"].as_object().unwrap();
    for (name, value) in parameters {
        let parameter = declared.get(name).unwrap_or_else(|| {
            panic!("the module sets {name}, which template.yaml does not declare")
        });
        let value = value.as_str().expect("SAR parameters are strings");
        if let Err(why) = accepts(parameter, value) {
            panic!("the module sets {name} = {value:?}, which the template rejects: {why}");
        }
    }
    for (_, stem) in FUNCTIONS {
        assert_eq!(parameters[&format!("Enable{stem}")], "true");
    }
    // Settings arrive in the shapes the functions parse.
    assert_eq!(parameters["NamePrefix"], "shop");
    assert_eq!(parameters["WafCountActions"], "BLOCK,COUNT");
    assert_eq!(parameters["WafAllowCidrs"], "203.0.113.0/24,2001:db8::/32");
    assert_eq!(parameters["WafThreshold"], "300");
    assert_eq!(parameters["WafDryRun"], "true");
    let uri_rules: Value =
        serde_json::from_str(parameters["WafUriRules"].as_str().unwrap()).unwrap();
    assert_eq!(
        uri_rules,
        json!([{"path": "/login", "threshold": 20}, {"path": "/static/*", "ignore": true}]),
        "JSON settings carry no null attributes"
    );
    let rules: Value =
        serde_json::from_str(parameters["LogRetentionRules"].as_str().unwrap()).unwrap();
    assert_eq!(
        rules,
        json!([{"prefix": "/aws/lambda/", "days": 14}, {"prefix": "/audit/", "keep": true}])
    );
    assert_eq!(
        parameters["LogRetentionPruneBuckets"], "app-logs-a,app-logs-b",
        "the function may prune exactly the buckets of s3_prune"
    );
    assert_eq!(parameters["LogRetentionRegions"], "eu-west-1,us-east-1");
    assert_eq!(parameters["RdsIgnoreUsers"], "rdsadmin,monitor");
    // An unset setting is left to the template's default, not passed as "".
    assert!(!parameters.contains_key("WafWindowSeconds"));
    assert!(!parameters.contains_key("ResultEventBus"));
    // One subscription filter per RDS log group.
    let filters: Vec<&Value> = changes
        .iter()
        .filter(|c| c["type"] == "aws_cloudwatch_log_subscription_filter")
        .collect();
    assert_eq!(filters.len(), 1);
    assert_eq!(
        filters[0]["change"]["after"]["log_group_name"],
        "/aws/rds/cluster/shop-prod/audit"
    );
}

#[test]
fn the_module_rejects_bad_settings_before_anything_is_deployed() {
    let Some(sandbox) =
        TerraformSandbox::new("the_module_rejects_bad_settings_before_anything_is_deployed")
    else {
        return;
    };
    sandbox.root_calling_module(
        "bad-root",
        r#"
  log_retention  = { enabled = true, retention_days = 45 }
  waf_ip_blocker = { enabled = true }
"#,
    );
    let output = sandbox.run(
        "bad-root",
        &["plan", "-refresh=false", "-input=false", "-lock=false"],
    );
    // Terraform wraps its messages; compare them as one line.
    let text = String::from_utf8_lossy(&output.stderr)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        !output.status.success(),
        "a plan with bad settings must fail"
    );
    assert!(
        text.contains("must be CloudWatch Logs retention values"),
        "retention_days = 45 is named: {text}"
    );
    assert!(
        text.contains("waf_ip_blocker needs IP sets"),
        "missing IP sets are named: {text}"
    );
}

// ---------------------------------------------------------------------------
// IAM covers what the code calls
// ---------------------------------------------------------------------------

fn sdk_calls() -> BTreeMap<String, String> {
    std::fs::read_to_string(root().join("tests/template-support/sdk-calls.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (call, action) = l.split_once('|').expect("operation | action");
            (call.trim().to_owned(), action.trim().to_owned())
        })
        .collect()
}

/// The `.operation()` calls of the list found in a crate's `src/`.
fn calls_in(dir: &Path, known: &BTreeMap<String, String>, found: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            calls_in(&path, known, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for call in known.keys() {
                if text.contains(&format!(".{call}()")) {
                    found.entry(call.clone()).or_insert_with(|| {
                        path.strip_prefix(root()).unwrap().display().to_string()
                    });
                }
            }
        }
    }
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
  "AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:alarms"
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
