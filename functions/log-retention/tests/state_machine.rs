//! The sweep's state machine: valid ASL, and the paths it takes in moto's
//! Step Functions executor with scripted reports. (The executor cannot run
//! the real binary; the benchmark drives the same loop with it.)

use std::path::PathBuf;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};
use toilkit_tests::step_functions::{self, Taken};
use toilkit_tests::{Moto, workspace};

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:log-retention";

fn definition_path() -> PathBuf {
    workspace::root().join("statemachines/log-retention-sweep.asl.json")
}

/// A report as the function returns it: stopped at `resume`, or finished.
fn report(resume: Option<Value>, errors: u64) -> String {
    report_with(
        resume,
        errors,
        json!({"regions": {"us-east-1": "complete"}, "api_calls": {}}),
    )
}

fn report_with(resume: Option<Value>, errors: u64, mut details: Value) -> String {
    if let Some(resume) = resume {
        details["resume"] = resume;
    }
    json!({
        "function": "log-retention", "dry_run": false,
        "stopped_early": details.get("resume").is_some(),
        "planned": [], "applied": [], "skipped": [],
        "failed": (0..errors).map(|i| json!({"target": format!("/g/{i}"), "action": "set_retention", "error": "AccessDenied"})).collect::<Vec<_>>(),
        "counters": {"errors": errors, "groups_scanned": 50},
        "details": details,
    })
    .to_string()
}

fn resume_at(token: &str) -> Value {
    json!({"region": "us-east-1", "next_token": token, "pace": {"DescribeLogGroups": 1_790_000_000_000_i64}})
}

async fn start(sfn: &Client, machine: &str, name: &str, input: Value) -> String {
    sfn.start_execution()
        .state_machine_arn(machine)
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned()
}

/// What the function was given, invocation by invocation.
fn payloads(taken: &Taken) -> Vec<Value> {
    taken
        .tasks
        .iter()
        .filter(|t| t["FunctionName"] == FUNCTION_ARN)
        .map(|t| t["Payload"].clone())
        .collect()
}

const LOOP: [&str; 4] = ["Sweep", "Count", "CarryOn?", "CarryOn"];
const HEAD: [&str; 2] = ["Input", "Settings"];

fn path(invocations: usize, end: &[&str]) -> Vec<String> {
    let mut path: Vec<&str> = HEAD.to_vec();
    for _ in 1..invocations {
        path.extend(LOOP);
    }
    path.extend(["Sweep", "Count", "CarryOn?"]);
    path.extend(end);
    path.into_iter().map(str::to_owned).collect()
}

#[test]
fn the_definition_passes_asl_validator() {
    step_functions::assert_valid_asl(&definition_path());
}

async fn machine(moto: &Moto, name: &str) -> (Client, String) {
    let sfn = Client::new(&moto.sdk_config().await);
    let arn = step_functions::create_machine(
        &sfn,
        name,
        &definition_path(),
        &[("LogRetentionFunctionArn", FUNCTION_ARN)],
    )
    .await;
    (sfn, arn)
}

#[tokio::test]
async fn one_execution_carries_each_resume_point_to_the_next_invocation() {
    let moto = step_functions::executor().await;
    let (sfn, machine) = machine(&moto, "log-retention-sweep").await;

    // Three invocations: two stop at their deadline, the third finishes.
    step_functions::queue_lambda_results(
        &moto,
        &[
            report(Some(resume_at("page-2")), 0),
            report(Some(resume_at("page-3")), 0),
            report(None, 0),
        ],
    )
    .await;
    let execution = start(&sfn, &machine, "sweep-1", json!({"dry_run": true})).await;
    let taken = step_functions::path_taken(&sfn, &execution).await;

    assert_eq!(taken.status, ExecutionStatus::Succeeded, "{taken:?}");
    assert_eq!(taken.states, path(3, &["Done"]));
    let given = payloads(&taken);
    assert_eq!(
        given[0],
        json!({"dry_run": true, "resume": null, "execution": execution})
    );
    // Each invocation gets the last one's resume point, pace included, the
    // execution's dry_run, and the execution (the one-at-a-time check).
    assert_eq!(
        given[1],
        json!({"dry_run": true, "resume": resume_at("page-2"), "execution": execution})
    );
    assert_eq!(
        given[2],
        json!({"dry_run": true, "resume": resume_at("page-3"), "execution": execution})
    );
    let output = taken.output.unwrap();
    assert_eq!(output["invocations"], 3);
    assert_eq!(output["errors"], 0);
    assert_eq!(output["report"]["stopped_early"], false);

    // A misspelt setting reaches the function, which refuses it, rather
    // than being dropped into a sweep for real.
    step_functions::queue_lambda_results(&moto, &[report(None, 0)]).await;
    let execution = start(&sfn, &machine, "typo", json!({"dryrun": true})).await;
    let taken = step_functions::path_taken(&sfn, &execution).await;
    assert_eq!(
        payloads(&taken)[0],
        json!({"dry_run": null, "dryrun": true, "resume": null, "execution": execution})
    );
    let refused = log_retention::trigger::parse(&payloads(&taken)[0])
        .unwrap_err()
        .to_string();
    assert!(refused.contains("unknown field `dryrun`"), "{refused}");
}

#[tokio::test]
async fn errors_end_the_execution_failed_once_every_group_is_visited() {
    let moto = step_functions::executor().await;
    let (sfn, machine) = machine(&moto, "log-retention-errors").await;

    // Errors in the first invocation do not stop the sweep; the execution
    // fails at the end, so that the alarm on failed executions fires.
    step_functions::queue_lambda_results(
        &moto,
        &[report(Some(resume_at("page-2")), 2), report(None, 1)],
    )
    .await;
    let execution = start(&sfn, &machine, "with-errors", json!({})).await;
    let taken = step_functions::path_taken(&sfn, &execution).await;

    assert_eq!(taken.status, ExecutionStatus::Failed);
    assert_eq!(taken.states, path(2, &["FinishedWithErrors"]));
    let (error, cause) = taken.error.unwrap();
    assert_eq!(error, "SweepHadErrors");
    assert!(
        cause.starts_with("2 invocation(s), 3 error(s) in all"),
        "{cause}"
    );
    assert!(cause.contains("AccessDenied"), "{cause}");

    // A function that fails outright (moto's scripted Lambda fails only
    // through a response over Lambda's 6 MB limit) stops the sweep with
    // that error.
    step_functions::queue_lambda_results(&moto, &["x".repeat(6_100_000)]).await;
    let execution = start(&sfn, &machine, "function-fails", json!({})).await;
    let taken = step_functions::path_taken(&sfn, &execution).await;
    assert_eq!(taken.status, ExecutionStatus::Failed);
    assert_eq!(
        taken.states,
        [&HEAD[..], &["Sweep", "InvocationFailed"]].concat()
    );
    assert!(taken.error.unwrap().0.contains("ResponseSizeTooLarge"));
}

/// The function refuses to sweep while an older execution runs
/// (tests/sweep.rs checks that against moto's executions); the execution
/// then ends failed, having invoked it once.
#[tokio::test]
async fn an_execution_the_function_refuses_ends_at_already_running() {
    let moto = step_functions::executor().await;
    let (sfn, machine) = machine(&moto, "log-retention-once").await;
    let older = machine.replace(":stateMachine:", ":execution:") + ":first";
    step_functions::queue_lambda_results(
        &moto,
        &[report_with(None, 0, json!({"already_running": older}))],
    )
    .await;

    let execution = start(&sfn, &machine, "second", json!({})).await;
    let taken = step_functions::path_taken(&sfn, &execution).await;

    assert_eq!(taken.status, ExecutionStatus::Failed);
    assert_eq!(taken.states, path(1, &["AlreadyRunning"]));
    assert_eq!(taken.error.unwrap().0, "AlreadyRunning");
}
