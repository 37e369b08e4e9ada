//! The rollout state machine: valid ASL, and the paths it takes in moto's
//! Step Functions executor with the function's answers scripted.

use std::path::PathBuf;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};
use toilkit_tests::{step_functions, workspace};

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:toilkit-patch-waves";

fn definition_path() -> PathBuf {
    workspace::root().join("statemachines/patch-waves-rollout.asl.json")
}

#[test]
fn the_definition_passes_asl_validator() {
    step_functions::assert_valid_asl(&definition_path());
}

#[test]
fn putting_instances_back_is_retried_longest() {
    let asl: Value =
        serde_json::from_str(&std::fs::read_to_string(definition_path()).unwrap()).unwrap();
    let advance = &asl["States"]["Advance"];
    assert_eq!(
        advance["Parameters"]["FunctionName"],
        "${PatchWavesFunctionArn}"
    );
    let restore = advance["Retry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ErrorEquals"] == json!(["RestoreFailed"]))
        .expect("RestoreFailed is retried");
    assert!(restore["MaxAttempts"].as_u64().unwrap() >= 10);
    // A call that fails past its retries puts the wave's targets back
    // before the execution ends, unless another execution owns the wave.
    let catches = advance["Catch"].as_array().unwrap();
    assert_eq!(catches[0]["ErrorEquals"], json!(["RolloutBusy"]));
    assert_eq!(catches[0]["Next"], "Busy");
    assert_eq!(catches.last().unwrap()["Next"], "PutBack");
    let put_back = &asl["States"]["PutBack"];
    assert_eq!(put_back["Parameters"]["Payload"]["put_back"], true);
    assert_eq!(
        put_back["Parameters"]["FunctionName"],
        "${PatchWavesFunctionArn}"
    );
    assert_eq!(put_back["Next"], "Failed");
    assert!(put_back["Retry"][1]["MaxAttempts"].as_u64().unwrap() >= 10);
}

/// The function's answer to one step, as the state machine reads it.
fn answer(status: &str, wait: i64) -> String {
    json!({"function": "patch-waves", "rollout": {
        "id": "dec", "status": status, "wait_seconds": wait}})
    .to_string()
}

#[tokio::test]
async fn the_rollout_loops_until_the_function_says_done_stopped_or_frozen() {
    let moto = step_functions::executor().await;
    let sdk = moto.sdk_config().await;
    let sfn = Client::new(&sdk);
    let machine = step_functions::create_machine(
        &sfn,
        "patch-waves-rollout",
        &definition_path(),
        &[("PatchWavesFunctionArn", FUNCTION_ARN)],
    )
    .await;
    let run = |name: &'static str, input: Value| {
        let start = sfn
            .start_execution()
            .state_machine_arn(&machine)
            .name(name)
            .input(input.to_string());
        async move { start.send().await.unwrap().execution_arn().to_owned() }
    };

    step_functions::queue_lambda_results(
        &moto,
        &[
            answer("working", 0),
            answer("working", 1),
            answer("done", 0),
        ],
    )
    .await;
    let execution = run("dec", json!({})).await;
    let taken = step_functions::path_taken(&sfn, &execution).await;
    assert_eq!(taken.status, ExecutionStatus::Succeeded, "{taken:?}");
    assert_eq!(
        taken.states,
        [
            "Advance", "Where?", "Wait", "Advance", "Where?", "Wait", "Advance", "Where?", "Done"
        ]
    );
    let payload = &taken.tasks[0]["Payload"];
    assert_eq!(payload["action"], "rollout");
    assert_eq!(payload["execution"], json!(execution));
    assert_eq!(payload["input"], json!({}));

    step_functions::queue_lambda_results(&moto, &[answer("working", 0), answer("stopped", 0)])
        .await;
    let execution = run("jan", json!({"rollout_id": "dec"})).await;
    let taken = step_functions::path_taken(&sfn, &execution).await;
    assert_eq!(taken.status, ExecutionStatus::Failed);
    assert_eq!(taken.states.last().unwrap(), "Stopped");
    assert_eq!(taken.error.unwrap().0, "RolloutStopped");
    assert_eq!(taken.tasks[0]["Payload"]["input"]["rollout_id"], "dec");

    step_functions::queue_lambda_results(&moto, &[answer("frozen", 0)]).await;
    let execution = run("xmas", json!({})).await;
    let taken = step_functions::path_taken(&sfn, &execution).await;
    assert_eq!(taken.states, ["Advance", "Where?", "Frozen"]);
    assert_eq!(taken.error.unwrap().0, "RolloutFrozen");
}
