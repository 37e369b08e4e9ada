//! The real binary under cargo-lambda's Runtime API emulator, against moto
//! and the Slack receiver, with the shared sample event.

use std::path::Path;
use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};
use toilkit_tests::runtime_api::assert_bad_configuration_reported;
use toilkit_tests::{LambdaEmulator, ResultBus};

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_config-triage"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sample_event_is_notified_once_then_resolved_through_sqs() {
    let fx = Fixture::new().await;
    let bus = ResultBus::create(fx.setup.moto, &fx.setup.sdk).await;
    let mut env = fx.setup.moto.env();
    env.extend(fx.setup.env.iter().cloned());
    env.push((
        "SEVERITY_RULES".into(),
        r#"[{"rule":"restricted-*","severity":"critical"}]"#.into(),
    ));
    env.push(("RESULT_EVENT_BUS".into(), bus.name.clone()));
    let mut lambda = LambdaEmulator::start(binary(), &env);

    let sample: Value = serde_json::from_str(&toilkit_tests::workspace::sample(
        "config-compliance-change.json",
    ))
    .unwrap();
    let report = lambda.invoke(&sample).expect_response();
    assert_eq!(report["function"], "config-triage");
    assert_eq!(
        report["applied"][0]["action"], "notify_violation",
        "{report:#}"
    );
    assert_eq!(report["applied"][0]["detail"]["severity"], "critical");
    let messages = texts(&fx.setup.slack, "default");
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].contains("CRITICAL Config violation: restricted-ssh on sg-0123456789abcdef0"),
        "{}",
        messages[0]
    );
    assert!(messages[0].contains("Port 22 is open to 0.0.0.0/0"));
    assert!(messages[0].contains("111122223333 / ap-northeast-1"));

    // EventBridge retried the same event: nothing new is said.
    let again = lambda.invoke(&sample).expect_response();
    assert!(again["applied"].as_array().unwrap().is_empty());
    assert_eq!(again["counters"]["stale_or_duplicate"], 1);
    assert_eq!(texts(&fx.setup.slack, "default").len(), 1);

    // The fix arrives through SQS.
    let mut fixed = sample.clone();
    fixed["detail"]["newEvaluationResult"]["complianceType"] = json!("COMPLIANT");
    fixed["detail"]["newEvaluationResult"]["evaluationResultIdentifier"]["orderingTimestamp"] =
        json!("2023-11-15T08:00:00.000Z");
    fixed["detail"]["oldEvaluationResult"]["complianceType"] = json!("NON_COMPLIANT");
    let batch = sqs_batch(&[("059f36b4-87a3-44ab-83d2-661975830a7d", fixed.to_string())]);
    let response = lambda.invoke(&batch).expect_response();
    assert_eq!(response, json!({"batchItemFailures": []}));
    let messages = texts(&fx.setup.slack, "default");
    assert_eq!(messages.len(), 2);
    assert!(
        messages[1].contains("Resolved: restricted-ssh"),
        "{}",
        messages[1]
    );

    let log = lambda.log();
    assert!(log.contains("toilkit_report"), "{log}");
    assert!(
        !log.contains("xoxSECRET"),
        "the webhook never reaches the log"
    );

    // Each run's result event says what it knows of the violation, under
    // the same key: open and critical, then closed. The retried delivery
    // names nothing: a stale or repeated evaluation is not the resource's
    // state now.
    let events = bus.events().await;
    assert_eq!(events.len(), 3, "{events:#?}");
    assert_eq!(events[1]["detail"]["items_total"], 0, "{}", events[1]);
    let items: Vec<Value> = [&events[0], &events[2]]
        .iter()
        .map(|e| {
            assert_eq!(e["detail"]["schema_version"], 1);
            assert_eq!(e["detail"]["items_total"], 1, "{e}");
            e["detail"]["items"][0].clone()
        })
        .collect();
    let key =
        "111122223333/ap-northeast-1/restricted-ssh/AWS::EC2::SecurityGroup/sg-0123456789abcdef0";
    for item in &items {
        assert_eq!(item["kind"], "violation");
        assert_eq!(item["key"], key, "{item}");
    }
    assert_eq!(items[0]["state"], "open");
    assert_eq!(items[0]["fields"]["severity"], "critical", "{}", items[0]);
    assert_eq!(items[1]["state"], "closed");
    assert_eq!(items[1]["fields"]["status"], "COMPLIANT");
}

#[test]
fn a_bad_configuration_fails_init_with_the_readme_text_and_reports_it_to_the_runtime_api() {
    // Init reads no AWS, so no emulator is needed: only the Runtime API.
    assert_bad_configuration_reported(
        Path::new(env!("CARGO_BIN_EXE_config-triage")),
        &[("RENOTIFY_HOURS", "often")],
        &["STATE_TABLE", "RENOTIFY_HOURS"],
    );
}

/// A failed invocation says what failed in its `errorType`, which is what
/// Lambda's metrics, a dead-letter record and a person see first.
#[tokio::test(flavor = "multi_thread")]
async fn a_slack_outage_fails_the_invocation_with_its_own_error_type() {
    let fx = Fixture::new().await;
    let mut env = fx.setup.moto.env();
    env.extend(fx.setup.env.iter().cloned());
    fx.setup
        .slack
        .script(std::iter::repeat_n(toilkit_tests::Reply::Status(500), 50));
    let mut lambda = LambdaEmulator::start(binary(), &env);
    let sample: Value = serde_json::from_str(&toilkit_tests::workspace::sample(
        "config-compliance-change.json",
    ))
    .unwrap();
    let error = lambda.invoke(&sample).expect_error();
    assert!(error.contains("SlackDeliveryFailed"), "{error}");
    assert!(error.contains("HTTP 500"), "the cause is kept: {error}");
    assert!(!error.contains("alloc::boxed::Box"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_typo_inside_an_exemption_tag_stops_init_naming_the_variable() {
    let fx = Fixture::new().await;
    let mut env = fx.setup.moto.env();
    env.extend(fx.setup.env.iter().cloned());
    // "vaule": once read as a key-only match that exempted every resource
    // with the key, whatever its value.
    env.push((
        "EXEMPTIONS".into(),
        r#"[{"tag": {"key": "data-class", "vaule": "public"}, "reason": "open data"}]"#.into(),
    ));
    let mut lambda = LambdaEmulator::start(binary(), &env);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while lambda.function_running() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!lambda.function_running(), "init must fail");
    let log = lambda.log();
    // How init errors are printed is not this test's concern (the
    // Display form is checked in triage.rs): the variable and the field are.
    assert!(log.contains("EXEMPTIONS"), "the variable is named:\n{log}");
    assert!(
        log.contains("unknown field `vaule`"),
        "and the field:\n{log}"
    );
}
