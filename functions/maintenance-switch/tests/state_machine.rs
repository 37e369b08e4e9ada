//! The window state machine: valid ASL, and the paths it takes in moto's
//! Step Functions executor with scripted Lambda results.

use std::path::PathBuf;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};
use toilkit_tests::{step_functions, workspace};

fn definition_path() -> PathBuf {
    workspace::root().join("statemachines/maintenance-window.asl.json")
}

#[test]
fn the_definition_passes_asl_validator() {
    step_functions::assert_valid_asl(&definition_path());
}

#[test]
fn the_function_and_topic_are_template_substitutions() {
    let text = std::fs::read_to_string(definition_path()).unwrap();
    let asl: Value = serde_json::from_str(&text).unwrap();
    let states = asl["States"].as_object().unwrap();
    let lambda_tasks: Vec<(&String, &Value)> = states
        .iter()
        .filter(|(_, s)| s["Resource"] == "arn:aws:states:::lambda:invoke")
        .collect();
    assert_eq!(
        lambda_tasks.len(),
        7,
        "enable, disable, clean-up and four notifications"
    );
    for (name, state) in lambda_tasks {
        assert_eq!(
            state["Parameters"]["FunctionName"], "${MaintenanceSwitchFunctionArn}",
            "{name}"
        );
        let retried = state["Retry"][0]["ErrorEquals"].to_string();
        assert!(
            retried.contains("Throttled") && retried.contains("Lambda.TooManyRequestsException"),
            "{name}"
        );
    }
    assert_eq!(
        states["Defaults"]["Parameters"]["topic"],
        "${NotifyTopicArn}"
    );
    assert_eq!(states["Enable"]["Catch"][0]["Next"], "CleanUp");
}

/// Every state entered, in order, and every task's parameters.
async fn path_taken(sfn: &Client, execution: &str) -> (ExecutionStatus, Vec<String>, Vec<Value>) {
    let taken = step_functions::path_taken(sfn, execution).await;
    (taken.status, taken.states, taken.tasks)
}

async fn create_machine(sfn: &Client, name: &str, topic: &str) -> String {
    step_functions::create_machine(
        sfn,
        name,
        &definition_path(),
        &[
            ("MaintenanceSwitchFunctionArn", crate::common::FUNCTION_ARN),
            ("NotifyTopicArn", topic),
        ],
    )
    .await
}

/// What the function was asked each time: (action, notify event).
fn asked(payloads: &[Value]) -> Vec<(String, String)> {
    payloads
        .iter()
        .filter_map(|p| p.get("Payload"))
        .map(|p| {
            (
                p["action"].as_str().unwrap_or("").to_owned(),
                p["event"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn the_window_runs_its_path_in_the_executor() {
    // The executor is switched on for the whole server: a server of its own.
    let moto = step_functions::executor().await;
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
    // One deployed with a notification topic, one without.
    let machine = create_machine(&sfn, "maintenance-window", &topic).await;
    let quiet_machine = create_machine(&sfn, "maintenance-window-quiet", "").await;
    let listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/1/2";
    // Times in the past: the Wait states pass at once.
    let input = |window: &str, topic: Option<&str>| {
        let mut i = json!({"window_id": window, "listener_arns": [listener],
                           "mode": "fixed-response", "status_code": 503,
                           "start_at": "2026-01-01T00:00:00Z", "end_at": "2026-01-01T01:00:00Z"});
        if let Some(topic) = topic {
            i["notify_topic_arn"] = json!(topic);
        }
        i.to_string()
    };
    let run = |machine: &str, window: &str, topic: Option<&str>| {
        let start = sfn
            .start_execution()
            .state_machine_arn(machine)
            .name(window)
            .input(input(window, topic));
        async move { start.send().await.unwrap().execution_arn().to_owned() }
    };

    // The happy path. With nothing queued, moto's Lambda answers each task
    // with its own payload, which the state machine only passes along.
    let execution = run(&machine, "ok-window", None).await;
    let (status, states, payloads) = path_taken(&sfn, &execution).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{states:?}");
    assert_eq!(
        states,
        [
            "Defaults",
            "TopicFromInput?",
            "CleanUpOnly?",
            "WaitForStart",
            "Enable",
            "StartedSlack",
            "StartedTopic?",
            "StartedSns",
            "WaitForEnd",
            "Disable",
            "EndedSlack",
            "EndedTopic?",
            "EndedSns",
            "Done"
        ]
    );
    assert_eq!(
        asked(&payloads),
        pairs(&[
            ("enable", ""),
            ("notify", "started"),
            ("disable", ""),
            ("notify", "ended")
        ])
    );
    let enable = &payloads[0]["Payload"];
    assert_eq!(enable["window"]["window_id"], "ok-window", "{enable}");
    assert_eq!(enable["window"]["listener_arns"][0], listener);
    assert_eq!(payloads[0]["FunctionName"], crate::common::FUNCTION_ARN);
    // Enable names its own execution, so that a window cancelled while the
    // task is in flight (StopExecution does not stop a running task) is
    // noticed by the enable itself.
    assert_eq!(enable["execution_arn"], json!(execution), "{enable}");
    // Sent again once the execution has ended, the same enable changes
    // nothing and says why.
    let app = crate::common::app(&sdk, None);
    let err = maintenance_switch::handle(crate::common::event(enable.clone()), &app)
        .await
        .expect_err("an enable for an execution no longer running is refused");
    assert_eq!(err.kind(), "Cancelled", "{err}");
    assert!(err.to_string().contains("SUCCEEDED"), "{err}");
    let sns: Vec<&Value> = payloads
        .iter()
        .filter(|p| p.get("TopicArn").is_some())
        .collect();
    assert_eq!(sns.len(), 2);
    assert_eq!(sns[0]["TopicArn"], json!(topic));
    assert_eq!(
        sns[0]["Message"],
        "Maintenance window ok-window is ON. It ends at 2026-01-01T01:00:00Z."
    );

    // Deployed without a topic: Slack only (the function decides whether
    // it has a webhook).
    let execution = run(&quiet_machine, "quiet-window", None).await;
    let (status, states, _) = path_taken(&sfn, &execution).await;
    assert_eq!(status, ExecutionStatus::Succeeded);
    assert_eq!(
        states,
        [
            "Defaults",
            "TopicFromInput?",
            "CleanUpOnly?",
            "WaitForStart",
            "Enable",
            "StartedSlack",
            "StartedTopic?",
            "WaitForEnd",
            "Disable",
            "EndedSlack",
            "EndedTopic?",
            "Done"
        ]
    );
    // A window's own topic.
    let execution = run(&quiet_machine, "own-topic-window", Some(&topic)).await;
    let (status, states, _) = path_taken(&sfn, &execution).await;
    assert_eq!(status, ExecutionStatus::Succeeded);
    assert!(
        states.contains(&"UseInputTopic".to_owned()) && states.contains(&"EndedSns".to_owned()),
        "{states:?}"
    );

    // Enable fails: caught, cleaned up with a disable, notified, then the
    // execution fails. moto's simple Lambda can fail an invocation only
    // through a response over Lambda's 6 MB limit (a real Lambda function
    // error), so that is the scripted result of the Enable task.
    step_functions::queue_lambda_results(&moto, &["x".repeat(6_100_000)]).await;
    let execution = run(&machine, "failed-window", None).await;
    let (status, states, payloads) = path_taken(&sfn, &execution).await;
    assert_eq!(status, ExecutionStatus::Failed, "{states:?}");
    assert_eq!(
        states,
        [
            "Defaults",
            "TopicFromInput?",
            "CleanUpOnly?",
            "WaitForStart",
            "Enable",
            "CleanUp",
            "EnableFailedSlack",
            "EnableFailedTopic?",
            "EnableFailedSns",
            "EnableFailed"
        ]
    );
    assert_eq!(
        asked(&payloads),
        pairs(&[("enable", ""), ("disable", ""), ("notify", "enable_failed")])
    );
    let notify = payloads
        .iter()
        .find(|p| p["Payload"]["event"] == "enable_failed")
        .unwrap();
    assert!(
        notify["Payload"]["error"]["Error"]
            .as_str()
            .unwrap()
            .contains("ResponseSizeTooLarge"),
        "{notify}"
    );
    let out = sfn
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    assert_eq!(out.error(), Some("MaintenanceEnableFailed"));

    // A clean-up execution (enable starts one when a cancelled window
    // could not be rolled back): straight to Disable, which names the
    // window's execution, then the usual notifications. No enable.
    let window_execution = machine.replace(":stateMachine:", ":execution:") + ":cancelled-window";
    let cleanup_input = json!({"window_id": "cancelled-window", "listener_arns": [listener],
        "cleanup_of": window_execution,
        "start_at": "2026-01-01T00:00:00Z", "end_at": "2026-01-01T00:00:00Z"});
    let execution = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name("cancelled-window-cleanup-1")
        .input(cleanup_input.to_string())
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    let (status, states, payloads) = path_taken(&sfn, &execution).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{states:?}");
    assert_eq!(
        states,
        [
            "Defaults",
            "TopicFromInput?",
            "CleanUpOnly?",
            "Disable",
            "EndedSlack",
            "EndedTopic?",
            "EndedSns",
            "Done"
        ]
    );
    assert_eq!(
        asked(&payloads),
        pairs(&[("disable", ""), ("notify", "ended")])
    );
    assert_eq!(
        payloads[0]["Payload"]["window"]["cleanup_of"],
        json!(window_execution)
    );
}
