//! Lint and transform: cfn-lint passes, and the SAM transform yields every
//! function with its triggers, dead-letter destination, alarms and state
//! machine.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::{Value, json};
use toilkit_tests::tool;

use crate::distribution::*;

use super::iam::{actions, statements};

#[test]
fn cfn_lint_passes_on_the_template() {
    tool::succeed(
        Command::new(require_tool("cfn-lint"))
            .arg(template_path())
            .current_dir(root()),
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
    for (id, condition) in STATE_MACHINES.map(|(id, _, condition)| (id, condition)) {
        let machine = &resources(out)[id];
        assert_eq!(machine["Type"], "AWS::StepFunctions::StateMachine", "{id}");
        assert_eq!(machine["Condition"], condition, "{id}");
    }
    let tables = of_type(out, "AWS::DynamoDB::Table");
    assert_eq!(
        tables.len(),
        5,
        "WAF ledger, Config state, idempotency, access-denied state, patch-waves state"
    );
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
    for (machine, _, _) in STATE_MACHINES {
        assert!(
            alarmed("AWS/States", machine),
            "a failed execution of {machine} raises an alarm"
        );
    }
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
    // log-retention's schedule starts the sweep state machine, with a role
    // that may start only that.
    let sweep = &rule("LogRetentionScheduleRule")["Targets"][0];
    assert_eq!(
        referenced(&sweep["Arn"]),
        Some("LogRetentionSweepStateMachine")
    );
    let role = referenced(&sweep["RoleArn"]).expect("the target's role");
    let starts: Vec<&Value> = statements(&resources(t)[role])
        .into_iter()
        .filter(|s| actions(s).contains(&"states:StartExecution".to_owned()))
        .collect();
    assert_eq!(starts.len(), 1, "{role}");
    assert_eq!(
        referenced(&starts[0]["Resource"]),
        Some("LogRetentionSweepStateMachine")
    );
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

/// Every state machine of the template: its id, its definition file and the
/// function it invokes, and the condition it is deployed under.
const STATE_MACHINES: [(&str, (&str, &str), &str); 4] = [
    (
        "MaintenanceWindowStateMachine",
        (
            "statemachines/maintenance-window.asl.json",
            "MaintenanceSwitch",
        ),
        "MaintenanceSwitchEnabled",
    ),
    (
        "LogRetentionSweepStateMachine",
        ("statemachines/log-retention-sweep.asl.json", "LogRetention"),
        "LogRetentionEnabled",
    ),
    (
        "WafBackfillStateMachine",
        ("statemachines/waf-backfill.asl.json", "WafIpBlocker"),
        "WafBackfillEnabled",
    ),
    (
        "PatchWavesRolloutStateMachine",
        ("statemachines/patch-waves-rollout.asl.json", "PatchWaves"),
        "PatchWavesRolloutEnabled",
    ),
];

#[test]
fn each_state_machine_definition_and_its_substitutions_agree() {
    let t = template();
    let declared: BTreeSet<&str> = of_type(t, "AWS::Serverless::StateMachine")
        .into_iter()
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(
        declared,
        STATE_MACHINES.iter().map(|(id, _, _)| *id).collect(),
        "every state machine is checked here"
    );
    for (id, (file, stem), _) in STATE_MACHINES {
        let machine = &resources(t)[id]["Properties"];
        let uri = machine["DefinitionUri"]
            .as_str()
            .expect("a DefinitionUri file");
        assert_eq!(uri, file);
        let path = root().join(uri);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let definition: Value = serde_json::from_str(&text).expect("the ASL is JSON");
        assert!(definition["StartAt"].is_string() && definition["States"].is_object());
        let used: BTreeSet<String> = regex_lite_placeholders(&text);
        let given: BTreeSet<String> = machine["DefinitionSubstitutions"]
            .as_object()
            .expect("DefinitionSubstitutions")
            .keys()
            .cloned()
            .collect();
        let function_arn = format!("{stem}FunctionArn");
        assert!(
            used.contains(&function_arn),
            "{file} invokes the function through ${{{function_arn}}}"
        );
        let missing: Vec<_> = used.difference(&given).collect();
        assert!(
            missing.is_empty(),
            "{file} uses substitutions the template does not give: {missing:?}"
        );
        // The translated machine names the function it invokes.
        let out = &resources(translated())[id]["Properties"];
        assert_eq!(
            out["DefinitionSubstitutions"][&function_arn],
            json!({"Fn::GetAtt": [format!("{stem}Function"), "Arn"]})
        );
    }
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

#[test]
fn the_waf_backfill_state_machine_is_behind_the_blocker_and_its_log_bucket() {
    let t = template();
    let conditions = &t["Conditions"]["WafBackfillEnabled"]["Fn::And"];
    assert_eq!(
        *conditions,
        json!([{"Condition": "WafIpBlockerEnabled"}, {"Condition": "HasWafLogBucket"}])
    );
    let machine = &resources(t)["WafBackfillStateMachine"];
    assert_eq!(machine["Condition"], "WafBackfillEnabled");
    let properties = &machine["Properties"];
    let uri = properties["DefinitionUri"]
        .as_str()
        .expect("a DefinitionUri file");
    assert_eq!(uri, "statemachines/waf-backfill.asl.json");
    let text = std::fs::read_to_string(root().join(uri)).unwrap();
    let used = regex_lite_placeholders(&text);
    let given: BTreeSet<String> = properties["DefinitionSubstitutions"]
        .as_object()
        .expect("DefinitionSubstitutions")
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        used, given,
        "the ASL's placeholders and the template's substitutions"
    );
    assert_eq!(
        t["Outputs"]["WafBackfillStateMachineArn"]["Condition"],
        "WafBackfillEnabled"
    );

    let out = translated();
    let machine = &resources(out)["WafBackfillStateMachine"];
    assert_eq!(machine["Type"], "AWS::StepFunctions::StateMachine");
    assert_eq!(
        machine["Properties"]["DefinitionSubstitutions"]["WafIpBlockerFunctionArn"],
        json!({"Fn::GetAtt": ["WafIpBlockerFunction", "Arn"]})
    );
    // Its role: invoke the blocker, list the log bucket, run its own
    // batches (a Distributed Map's children are executions of the machine
    // itself); nothing else.
    let role = referenced(&machine["Properties"]["RoleArn"]).expect("its own role");
    assert_eq!(resources(out)[role]["Condition"], "WafBackfillEnabled");
    let mut granted: Vec<String> = statements(&resources(out)[role])
        .into_iter()
        .flat_map(actions)
        .collect();
    granted.sort();
    assert_eq!(
        granted,
        [
            "lambda:InvokeFunction",
            "s3:ListBucket",
            "states:DescribeExecution",
            "states:StartExecution",
            "states:StopExecution"
        ]
    );
}
