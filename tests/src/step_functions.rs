//! State machines run in moto's Step Functions executor: the definition as
//! deployed, Lambda's answers scripted, and the path an execution took read
//! back from its history.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use serde_json::{Value, json};

use crate::{Moto, workspace};

/// `asl-validator` (tools/node, installed by `cargo xtask setup`) accepts the
/// definition, or the test fails with what it said.
pub fn assert_valid_asl(definition: &Path) {
    let validator = workspace::root().join("tools/node/node_modules/.bin/asl-validator");
    assert!(
        validator.exists(),
        "{} is missing: run cargo xtask setup",
        validator.display()
    );
    let output = Command::new(&validator)
        .arg("--json-path")
        .arg(definition)
        .output()
        .expect("asl-validator runs");
    assert!(
        output.status.success(),
        "asl-validator rejected {}:\n{}{}",
        definition.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A moto server of its own (the executor is switched on for the whole
/// server) that runs executions, with Lambda answering from a script.
pub async fn executor() -> Moto {
    let moto = Moto::dedicated();
    moto.api(
        "/moto-api/config",
        json!({"stepfunctions": {"execute_state_machine": true}, "lambda": {"use_docker": false}}),
    )
    .await;
    moto
}

/// The next Lambda invocations answer these payloads, in order.
pub async fn queue_lambda_results(moto: &Moto, results: &[String]) {
    moto.api(
        "/moto-api/static/lambda-simple/response",
        json!({"results": results, "region": "us-east-1"}),
    )
    .await;
}

/// A state machine of `definition` with its template substitutions made.
pub async fn create_machine(
    sfn: &Client,
    name: &str,
    definition: &Path,
    substitutions: &[(&str, &str)],
) -> String {
    let mut text = std::fs::read_to_string(definition).expect("definition readable");
    for (name, value) in substitutions {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    sfn.create_state_machine()
        .name(name)
        .definition(text)
        .role_arn(format!("arn:aws:iam::123456789012:role/{name}"))
        .send()
        .await
        .expect("create state machine")
        .state_machine_arn()
        .to_owned()
}

/// How an execution went, as its history tells it.
#[derive(Debug)]
pub struct Taken {
    pub status: ExecutionStatus,
    /// Every state entered, in order.
    pub states: Vec<String>,
    /// The parameters of every task scheduled, in order.
    pub tasks: Vec<Value>,
    /// The execution's output, when it succeeded.
    pub output: Option<Value>,
    /// The error and cause, when it failed.
    pub error: Option<(String, String)>,
}

/// Waits (two minutes at most: a Distributed Map's batches run one after
/// another in the emulator) for the execution to end and reads its history.
pub async fn path_taken(sfn: &Client, execution: &str) -> Taken {
    let started = Instant::now();
    let described = loop {
        let out = sfn
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await
            .expect("describe execution");
        if *out.status() != ExecutionStatus::Running {
            break out;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "execution still running after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut states = Vec::new();
    let mut tasks = Vec::new();
    let mut error = None;
    let mut token = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(execution)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .expect("execution history");
        for event in page.events() {
            if let Some(d) = event.state_entered_event_details() {
                states.push(d.name().to_owned());
            }
            if *event.r#type() == HistoryEventType::TaskScheduled
                && let Some(d) = event.task_scheduled_event_details()
            {
                tasks.push(serde_json::from_str(d.parameters()).expect("task parameters"));
            }
            if let Some(d) = event.execution_failed_event_details() {
                error = Some((
                    d.error().unwrap_or_default().to_owned(),
                    d.cause().unwrap_or_default().to_owned(),
                ));
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Taken {
        status: described.status().clone(),
        states,
        tasks,
        output: described
            .output()
            .map(|o| serde_json::from_str(o).expect("execution output")),
        error,
    }
}
