//! The real binary under the Lambda Runtime API emulator: a result event
//! stored in moto, and a bad configuration (a result bus among it)
//! reported whole.

use std::path::Path;

use toilkit_tests::LambdaEmulator;
use toilkit_tests::lambda::Invocation;
use toilkit_tests::runtime_api::assert_bad_configuration_reported;

use crate::common::{ACCOUNT_A, Event, Fixture, ago, state};

const BINARY: &str = env!("CARGO_BIN_EXE_hub-collector");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_stores_a_report_and_answers_with_what_it_did() {
    let f = Fixture::new().await;
    let mut env = f.moto.env();
    env.extend(f.env.clone());
    let event = Event::new(ACCOUNT_A, "log-retention", 1, &ago(3))
        .open(
            "log_group",
            "eu-west-1:/aws/lambda/api",
            serde_json::json!({"retention_days": 14}),
        )
        .json();
    let (invocation, log) = tokio::task::spawn_blocking(move || {
        let mut lambda = LambdaEmulator::start(Path::new(BINARY), &env);
        let invocation = lambda.invoke(&event);
        (invocation, lambda.log())
    })
    .await
    .unwrap();
    let response = match invocation {
        Invocation::Response(v) => v,
        Invocation::Error(e) => panic!("invocation failed: {e}\n{log}"),
    };
    assert_eq!(response["function"], "hub-collector");
    assert_eq!(response["counters"]["reports_stored"], 1, "{response}");
    assert_eq!(
        response["applied"][0]["action"], "store_history",
        "{response}"
    );
    assert!(
        log.contains("toilkit_report"),
        "one JSON report line: {log}"
    );
    let current = state(&f).currents().await.unwrap().remove(0);
    assert_eq!(current.source.function, "log-retention");
}

#[test]
fn a_bad_configuration_is_reported_whole() {
    assert_bad_configuration_reported(
        Path::new(BINARY),
        &[
            ("FAILURES_ALERT", "0"),
            ("EXPECTED_INTERVALS", "[1]"),
            // Its own reports on the bus it listens on would run it again.
            ("RESULT_EVENT_BUS", "default"),
        ],
        &[
            "STATE_TABLE",
            "HISTORY_BUCKET",
            "DASHBOARD_BUCKET",
            "FAILURES_ALERT",
            "EXPECTED_INTERVALS",
            "RESULT_EVENT_BUS",
        ],
    );
}
