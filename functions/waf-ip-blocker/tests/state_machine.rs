//! The backfill state machine: valid ASL, wired to the function by template
//! substitution, and the paths it takes in moto's Step Functions executor
//! (a Distributed Map over objects in a moto bucket, scripted Lambda
//! results).

use std::path::PathBuf;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};
use toilkit_tests::{step_functions, workspace};

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:waf-ip-blocker";

fn definition_path() -> PathBuf {
    workspace::root().join("statemachines/waf-backfill.asl.json")
}

fn definition() -> Value {
    serde_json::from_str(&std::fs::read_to_string(definition_path()).unwrap()).unwrap()
}

#[test]
fn the_definition_passes_asl_validator() {
    step_functions::assert_valid_asl(&definition_path());
}

#[test]
fn batches_are_bounded_and_retried_and_the_function_is_a_substitution() {
    let asl = definition();
    let map = &asl["States"]["CountBatches"];
    assert_eq!(
        map["ItemProcessor"]["ProcessorConfig"]["Mode"],
        "DISTRIBUTED"
    );
    assert_eq!(
        map["ItemReader"]["Resource"],
        "arn:aws:states:::s3:listObjectsV2"
    );
    assert_eq!(map["ItemBatcher"]["MaxItemsPerBatch"], 20);
    assert_eq!(map["MaxConcurrency"], 4);
    // No failure tolerated: left at the default, 0 (moto's grammar
    // refuses an explicit integer 0).
    assert!(map.get("ToleratedFailurePercentage").is_none());
    assert!(map.get("ToleratedFailureCount").is_none());
    // The batch input is exactly what the function reads as a batch.
    let batch_input = map["ItemBatcher"]["BatchInput"].as_object().unwrap();
    let mut keys: Vec<&str> = batch_input.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["bucket.$", "dry_run.$", "run.$"]);
    let count = &map["ItemProcessor"]["States"]["CountBatch"];
    let finish = &asl["States"]["Finish"];
    for task in [count, finish] {
        assert_eq!(
            task["Parameters"]["FunctionName"],
            "${WafIpBlockerFunctionArn}"
        );
        let retried = task["Retry"][0]["ErrorEquals"].to_string();
        assert!(
            retried.contains("Throttled") && retried.contains("Lambda.TooManyRequestsException"),
            "{task}"
        );
        assert!(!retried.contains("States.ALL"), "{task}");
    }
    // The map's results are dropped: a month of batches would pass Step
    // Functions' 256 KB limit.
    assert!(map["ResultPath"].is_null() && map.get("ResultPath").is_some());
}

/// The definition as moto's executor can run it, changed in two places
/// only:
/// - its ASL grammar (moto 5.2.5) has no `ItemBatcher`: each listed object
///   becomes a batch of one, built by an `ItemSelector` in the shape the
///   batcher gives (`{"BatchInput": ..., "Items": [...]}`), so the task
///   sends the function the same payload shape;
/// - moto cannot list a map run's child executions, so the map keeps its
///   children's Lambda results (`$.batches`) instead of dropping them, to
///   show what each batch was sent.
fn for_moto() -> String {
    let mut asl = definition();
    let map = asl["States"]["CountBatches"].as_object_mut().unwrap();
    let batcher = map.remove("ItemBatcher").unwrap();
    map.insert(
        "ItemSelector".into(),
        json!({"BatchInput": batcher["BatchInput"], "Items.$": "States.Array($$.Map.Item.Value)"}),
    );
    map.insert("ResultPath".into(), json!("$.batches"));
    map["ItemProcessor"]["States"]["CountBatch"]
        .as_object_mut()
        .unwrap()
        .remove("ResultSelector");
    asl.to_string()
        .replace("${WafIpBlockerFunctionArn}", FUNCTION_ARN)
}

/// What each batch of the execution's map was sent, from the map's output.
async fn batches_sent(sfn: &Client, execution: &str) -> Vec<Value> {
    let history = sfn
        .get_execution_history()
        .execution_arn(execution)
        .max_results(1000)
        .send()
        .await
        .unwrap();
    let exited = history
        .events()
        .iter()
        .find_map(|e| {
            e.state_exited_event_details()
                .filter(|d| d.name() == "CountBatches")
        })
        .expect("the map exited");
    let output: Value = serde_json::from_str(exited.output().unwrap()).unwrap();
    output["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["Payload"].clone())
        .collect()
}

/// Every state entered, in order, and every task's parameters.
async fn path_taken(sfn: &Client, execution: &str) -> (ExecutionStatus, Vec<String>, Vec<Value>) {
    let taken = step_functions::path_taken(sfn, execution).await;
    (taken.status, taken.states, taken.tasks)
}

#[tokio::test]
async fn a_backfill_runs_its_path_in_the_executor() {
    // The executor is switched on for the whole server: a server of its own.
    let moto = step_functions::executor().await;
    let sdk = moto.sdk_config().await;
    let s3 = shared::aws::s3_client(&sdk);
    s3.create_bucket()
        .bucket("aws-waf-logs-shop")
        .send()
        .await
        .unwrap();
    let prefix = "AWSLogs/111122223333/WAFLogs/us-east-1/shop/2026/11/";
    for key in [
        "01/00/00/a.log.gz",
        "01/00/05/b.log.gz",
        "01/00/10/c.log.gz",
    ] {
        s3.put_object()
            .bucket("aws-waf-logs-shop")
            .key(format!("{prefix}{key}"))
            .body(b"{}".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    // Outside the prefix: never listed.
    s3.put_object()
        .bucket("aws-waf-logs-shop")
        .key("AWSLogs/111122223333/WAFLogs/us-east-1/shop/2026/12/01/x.log.gz")
        .body(b"{}".to_vec().into())
        .send()
        .await
        .unwrap();
    let sfn = Client::new(&sdk);
    let machine = sfn
        .create_state_machine()
        .name("waf-backfill")
        .definition(for_moto())
        .role_arn("arn:aws:iam::123456789012:role/waf-backfill")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let start = |name: &str, input: Value| {
        let start = sfn
            .start_execution()
            .state_machine_arn(&machine)
            .name(name)
            .input(input.to_string());
        async move { start.send().await.unwrap().execution_arn().to_owned() }
    };
    let input = |dry_run: bool| json!({"bucket": "aws-waf-logs-shop", "prefix": prefix, "dry_run": dry_run});

    // The whole path. With nothing queued, moto's Lambda answers each
    // task with its own payload: enough for the states to pass it along.
    let execution = start("nov-dry", input(true)).await;
    let (status, states, payloads) = path_taken(&sfn, &execution).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{states:?}");
    assert_eq!(states.first().map(String::as_str), Some("Input?"));
    assert_eq!(
        states.iter().filter(|s| *s == "CountBatches").count(),
        1,
        "{states:?}"
    );
    assert_eq!(states, ["Input?", "CountBatches", "Finish", "Done"]);
    // The map run: one child execution per batch, bounded.
    let runs = sfn
        .list_map_runs()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    assert_eq!(runs.map_runs().len(), 1);
    let run = sfn
        .describe_map_run()
        .map_run_arn(runs.map_runs()[0].map_run_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(run.max_concurrency(), 4);
    let items = run.item_counts().unwrap();
    assert_eq!(
        (items.total(), items.succeeded(), items.failed()),
        (3, 3, 0)
    );
    let batches = batches_sent(&sfn, &execution).await;
    assert_eq!(batches.len(), 3);
    let mut keys = Vec::new();
    for batch in &batches {
        assert_eq!(
            batch["backfill"],
            json!({"bucket": "aws-waf-logs-shop", "run": "nov-dry", "dry_run": true}),
            "{batch}"
        );
        let item = &batch["Items"][0];
        assert!(item["ETag"].is_string(), "{item}");
        keys.push(item["Key"].as_str().unwrap().to_owned());
    }
    keys.sort();
    assert_eq!(
        keys,
        ["a.log.gz", "b.log.gz", "c.log.gz"]
            .iter()
            .zip(["01/00/00/", "01/00/05/", "01/00/10/"])
            .map(|(k, d)| format!("{prefix}{d}{k}"))
            .collect::<Vec<_>>()
    );
    // Each payload the tasks sent is one the function reads.
    assert_eq!(payloads.len(), 1, "the parent's one task is Finish");
    assert_eq!(payloads[0]["FunctionName"], FUNCTION_ARN);
    for payload in batches.iter().chain([&payloads[0]["Payload"]]) {
        waf_ip_blocker::trigger::parse(payload.clone())
            .unwrap_or_else(|e| panic!("{e}: {payload}"));
    }
    assert_eq!(
        payloads[0]["Payload"],
        json!({"backfill_finish": {"bucket": "aws-waf-logs-shop", "run": "nov-dry", "dry_run": true}})
    );

    // An input without dry_run is refused before anything runs.
    let execution = start(
        "no-dry-run",
        json!({"bucket": "aws-waf-logs-shop", "prefix": prefix}),
    )
    .await;
    let (status, states, payloads) = path_taken(&sfn, &execution).await;
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(states, ["Input?", "BadInput"]);
    assert!(payloads.is_empty());

    // The last step fails (moto's simple Lambda fails an invocation only
    // through a response over Lambda's 6 MB limit; the three batches are
    // answered first, in turn): caught, and the execution fails with the
    // task's error. A failed batch would take the same Catch in AWS (no
    // failure tolerated), but moto's map run does not apply the tolerated
    // failure threshold (its map_run_record.py: "TODO: add support for
    // failure toleration fields"): it reports the run as succeeded.
    let small = json!({"counters": {}}).to_string();
    step_functions::queue_lambda_results(
        &moto,
        &[small.clone(), small.clone(), small, "x".repeat(6_100_000)],
    )
    .await;
    let execution = start("nov-live", input(false)).await;
    let (status, states, payloads) = path_taken(&sfn, &execution).await;
    assert_eq!(status, ExecutionStatus::Failed, "{states:?}");
    assert_eq!(states, ["Input?", "CountBatches", "Finish", "Failed"]);
    assert_eq!(
        payloads[0]["Payload"]["backfill_finish"]["dry_run"], false,
        "{payloads:?}"
    );
    let out = sfn
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    assert!(
        out.error()
            .is_some_and(|e| e.contains("ResponseSizeTooLarge")),
        "{out:?}"
    );
}
