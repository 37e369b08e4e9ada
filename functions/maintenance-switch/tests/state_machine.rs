//! The window state machine: valid ASL, and the paths it takes in moto's
//! Step Functions executor with scripted Lambda results.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use serde_json::{Value, json};
use toilkit_tests::{Moto, workspace};

fn definition_path() -> PathBuf {
    workspace::root().join("statemachines/maintenance-window.asl.json")
}

#[test]
fn the_definition_passes_asl_validator() {
    let validator = workspace::root().join("tools/node/node_modules/.bin/asl-validator");
    assert!(
        validator.exists(),
        "{} is missing: run cargo xtask setup",
        validator.display()
    );
    let output = Command::new(&validator)
        .arg("--json-path")
        .arg(definition_path())
        .output()
        .expect("asl-validator runs");
    assert!(
        output.status.success(),
        "asl-validator rejected the state machine:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_function_arn_is_the_template_substitution() {
    let text = std::fs::read_to_string(definition_path()).unwrap();
    let asl: Value = serde_json::from_str(&text).unwrap();
    let tasks: Vec<&str> = ["Enable", "Disable", "CleanUp"]
        .iter()
        .map(|s| {
            asl["States"][s]["Parameters"]["FunctionName"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(tasks, ["${MaintenanceSwitchFunctionArn}"; 3]);
    assert_eq!(asl["States"]["Enable"]["Catch"][0]["Next"], "CleanUp");
    let retried = asl["States"]["Enable"]["Retry"][0]["ErrorEquals"].to_string();
    assert!(retried.contains("Throttled") && retried.contains("Lambda.TooManyRequestsException"));
}

/// Every state entered, in order.
async fn path_taken(sfn: &Client, execution: &str) -> (ExecutionStatus, Vec<String>, Vec<Value>) {
    let started = Instant::now();
    let status = loop {
        let out = sfn
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await
            .unwrap();
        if *out.status() != ExecutionStatus::Running {
            break out.status().clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "execution still running after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let history = sfn
        .get_execution_history()
        .execution_arn(execution)
        .max_results(1000)
        .send()
        .await
        .unwrap();
    let mut states = Vec::new();
    let mut payloads = Vec::new();
    for event in history.events() {
        if let Some(d) = event.state_entered_event_details() {
            states.push(d.name().to_owned());
        }
        if *event.r#type() == HistoryEventType::TaskScheduled
            && let Some(d) = event.task_scheduled_event_details()
        {
            let params: Value = serde_json::from_str(d.parameters()).unwrap();
            payloads.push(params);
        }
    }
    (status, states, payloads)
}

async fn queue_lambda_results(moto: &Moto, results: &[String]) {
    moto.api(
        "/moto-api/static/lambda-simple/response",
        json!({"results": results, "region": "us-east-1"}),
    )
    .await;
}

/// The report the function returns, as the state machine sees it.
fn report(action: &str) -> String {
    json!({"function": "maintenance-switch", "dry_run": false, "stopped_early": false,
           "planned": [], "applied": [], "skipped": [], "failed": [],
           "counters": {}, "details": {"action": action}})
    .to_string()
}

#[tokio::test]
async fn the_window_runs_its_path_in_the_executor() {
    // The executor is switched on for the whole server: a server of its own.
    let moto = Moto::dedicated();
    moto.api(
        "/moto-api/config",
        json!({"stepfunctions": {"execute_state_machine": true}, "lambda": {"use_docker": false}}),
    )
    .await;
    let sdk = moto.sdk_config().await;
    let sfn = Client::new(&sdk);
    let topic = aws_sdk_sns::Client::new(&sdk)
        .create_topic()
        .name("maintenance")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    let definition = std::fs::read_to_string(definition_path())
        .unwrap()
        .replace("${MaintenanceSwitchFunctionArn}", common::FUNCTION_ARN);
    let machine = sfn
        .create_state_machine()
        .name("maintenance-window")
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/maintenance-window")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/1/2";
    // Times in the past: the Wait states pass at once.
    let input = |window: &str, notify: bool| {
        let mut i = json!({"window_id": window, "listener_arns": [listener],
                           "mode": "fixed-response", "status_code": 503,
                           "start_at": "2026-01-01T00:00:00Z", "end_at": "2026-01-01T01:00:00Z"});
        if notify {
            i["notify_topic_arn"] = json!(topic);
        }
        i.to_string()
    };

    // The happy path, with notifications.
    queue_lambda_results(&moto, &[report("enable"), report("disable")]).await;
    let run = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name("ok-window")
        .input(input("ok-window", true))
        .send()
        .await
        .unwrap();
    let (status, states, payloads) = path_taken(&sfn, run.execution_arn()).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{states:?}");
    assert_eq!(
        states,
        [
            "WaitForStart",
            "Enable",
            "NotifyStart?",
            "NotifyStarted",
            "WaitForEnd",
            "Disable",
            "NotifyEnd?",
            "NotifyEnded",
            "Done"
        ]
    );
    let actions: Vec<&Value> = payloads
        .iter()
        .filter_map(|p| p.get("Payload").map(|p| &p["action"]))
        .collect();
    assert_eq!(actions, [&json!("enable"), &json!("disable")]);
    let enable = &payloads[0]["Payload"];
    assert_eq!(enable["window"]["window_id"], "ok-window", "{enable}");
    assert_eq!(enable["window"]["listener_arns"][0], listener);
    assert_eq!(payloads[0]["FunctionName"], common::FUNCTION_ARN);

    // Without a topic there is no notification.
    queue_lambda_results(&moto, &[report("enable"), report("disable")]).await;
    let run = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name("quiet-window")
        .input(input("quiet-window", false))
        .send()
        .await
        .unwrap();
    let (status, states, _) = path_taken(&sfn, run.execution_arn()).await;
    assert_eq!(status, ExecutionStatus::Succeeded);
    assert_eq!(
        states,
        [
            "WaitForStart",
            "Enable",
            "NotifyStart?",
            "WaitForEnd",
            "Disable",
            "NotifyEnd?",
            "Done"
        ]
    );

    // Enable fails: caught, cleaned up with a disable, then the execution
    // fails. moto's simple Lambda can fail an invocation only through a
    // response over Lambda's 6 MB limit (a real Lambda function error).
    let too_large = "x".repeat(6_100_000);
    queue_lambda_results(&moto, &[too_large, report("disable")]).await;
    let run = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name("failed-window")
        .input(input("failed-window", true))
        .send()
        .await
        .unwrap();
    let (status, states, payloads) = path_taken(&sfn, run.execution_arn()).await;
    assert_eq!(status, ExecutionStatus::Failed, "{states:?}");
    assert_eq!(
        states,
        [
            "WaitForStart",
            "Enable",
            "CleanUp",
            "NotifyEnableFailed?",
            "NotifyEnableFailed",
            "EnableFailed"
        ]
    );
    let actions: Vec<&Value> = payloads
        .iter()
        .filter_map(|p| p.get("Payload").map(|p| &p["action"]))
        .collect();
    assert_eq!(actions, [&json!("enable"), &json!("disable")]);
    let out = sfn
        .describe_execution()
        .execution_arn(run.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(out.error(), Some("MaintenanceEnableFailed"));
}
