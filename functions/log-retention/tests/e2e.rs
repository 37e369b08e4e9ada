//! The real binary under cargo-lambda's Runtime API emulator, against moto:
//! a scheduled sweep, a CloudTrail CreateLogGroup event, and a configuration
//! that must stop the function at init.

use std::path::Path;

use serde_json::Value;
use toilkit_tests::runtime_api::assert_bad_configuration_reported;
use toilkit_tests::{LambdaEmulator, Moto, ResultBus};

/// A region of the shared emulator that no other test sweeps.
const REGION: &str = "eu-west-2";

fn env(moto: &Moto, vars: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .filter(|(k, _)| k != "AWS_REGION" && k != "AWS_DEFAULT_REGION")
        .collect();
    env.push(("AWS_REGION".into(), REGION.into()));
    env.push(("AWS_DEFAULT_REGION".into(), REGION.into()));
    env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env
}

async fn retention(logs: &aws_sdk_cloudwatchlogs::Client, name: &str) -> Option<i32> {
    logs.describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .unwrap()
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
        .unwrap_or_else(|| panic!("{name} exists"))
        .retention_in_days()
}

#[tokio::test]
async fn the_binary_sweeps_on_schedule_and_acts_on_a_new_log_group() {
    let moto = Moto::shared();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&moto.sdk_config_in(REGION).await);
    for (name, days) in [
        ("/e2e/app", None),
        ("/e2e/set", Some(90)),
        ("/e2e/audit", None),
    ] {
        logs.create_log_group()
            .log_group_name(name)
            .send()
            .await
            .unwrap();
        if let Some(days) = days {
            logs.put_retention_policy()
                .log_group_name(name)
                .retention_in_days(days)
                .send()
                .await
                .unwrap();
        }
    }
    let mut lambda = LambdaEmulator::start(
        Path::new(env!("CARGO_BIN_EXE_log-retention")),
        &env(
            moto,
            &[
                ("RETENTION_DAYS", "30"),
                (
                    "RETENTION_RULES",
                    r#"[{"prefix": "/e2e/audit", "keep": true}, {"prefix": "/aws/lambda/", "days": 14}]"#,
                ),
            ],
        ),
    );

    let scheduled: Value =
        serde_json::from_str(&toilkit_tests::workspace::sample("scheduled-event.json")).unwrap();
    let report = lambda.invoke(&scheduled).expect_response();
    assert_eq!(report["function"], "log-retention");
    assert_eq!(report["counters"]["groups_scanned"], 3, "{report}");
    assert_eq!(report["counters"]["groups_changed"], 1, "{report}");
    assert_eq!(report["applied"][0]["target"], "/e2e/app");
    assert_eq!(
        report["applied"][0]["detail"],
        serde_json::json!({"before": null, "after": 30})
    );
    assert_eq!(retention(&logs, "/e2e/app").await, Some(30));
    assert_eq!(retention(&logs, "/e2e/set").await, Some(90));
    assert_eq!(retention(&logs, "/e2e/audit").await, None);

    logs.create_log_group()
        .log_group_name("/aws/lambda/e2e-new")
        .send()
        .await
        .unwrap();
    let mut created: Value =
        serde_json::from_str(include_str!("fixtures/create-log-group.json")).unwrap();
    created["region"] = REGION.into();
    created["detail"]["awsRegion"] = REGION.into();
    created["detail"]["requestParameters"]["logGroupName"] = "/aws/lambda/e2e-new".into();
    let report = lambda.invoke(&created).expect_response();
    assert_eq!(report["counters"]["groups_scanned"], 1, "{report}");
    assert_eq!(report["applied"][0]["target"], "/aws/lambda/e2e-new");
    assert_eq!(retention(&logs, "/aws/lambda/e2e-new").await, Some(14));

    let log = lambda.log();
    assert_eq!(log.matches("\"toilkit_report\"").count(), 2, "{log}");
    // The report names its invocation, in the response and in the log line.
    let id = report["request_id"].as_str().unwrap_or_default();
    assert!(
        !id.is_empty(),
        "the report carries the request id: {report}"
    );
    assert!(log.contains(&format!("\"request_id\":\"{id}\"")), "{log}");
    assert!(log.contains("\"_aws\""), "EMF metrics are logged: {log}");

    let bad = lambda
        .invoke(&serde_json::json!({"dryrun": true}))
        .expect_error();
    assert!(bad.contains("unknown field"), "{bad}");
}

/// The result event of a sweep, as the central bus receives it: each group
/// whose retention the sweep set, keyed by Region and name.
#[tokio::test]
async fn the_binary_publishes_the_groups_it_changed_to_the_result_bus() {
    // A region of its own: the bus delivers to a log group there, which
    // the sweep sees too (and leaves alone, by rule).
    const REGION: &str = "us-west-2";
    let moto = Moto::shared();
    let sdk = moto.sdk_config_in(REGION).await;
    let bus = ResultBus::create(moto, &sdk).await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    logs.create_log_group()
        .log_group_name("/e2e/events/app")
        .send()
        .await
        .unwrap();
    let mut env = env(
        moto,
        &[
            ("RETENTION_DAYS", "30"),
            (
                "RETENTION_RULES",
                r#"[{"prefix": "/toilkit-tests/", "keep": true}]"#,
            ),
            ("RESULT_EVENT_BUS", &bus.name),
            ("RESULT_LABEL", "shop-prod"),
        ],
    );
    for (k, v) in env.iter_mut() {
        if k == "AWS_REGION" || k == "AWS_DEFAULT_REGION" {
            *v = REGION.to_owned();
        }
    }
    let mut lambda = LambdaEmulator::start(Path::new(env!("CARGO_BIN_EXE_log-retention")), &env);
    let scheduled: Value =
        serde_json::from_str(&toilkit_tests::workspace::sample("scheduled-event.json")).unwrap();
    let report = lambda.invoke(&scheduled).expect_response();
    assert_eq!(report["counters"]["groups_changed"], 1, "{report}");

    let detail = bus.only_detail().await;
    assert_eq!(detail["function"], "log-retention");
    assert_eq!(detail["label"], "shop-prod");
    assert_eq!(detail["region"], REGION);
    assert_eq!(detail["outcome"], "ok");
    assert_eq!(detail["run_id"], report["request_id"]);
    assert_eq!(detail["counters"], report["counters"]);
    assert_eq!(
        detail["items"],
        serde_json::json!([{"kind": "log_group", "key": "us-west-2:/e2e/events/app", "state": "open",
                            "fields": {"retention_days": 30, "change": "set_retention"}}])
    );
}

#[test]
fn an_invalid_retention_fails_init_with_the_readme_text_and_reports_it_to_the_runtime_api() {
    // Init reads no AWS, so no emulator is needed: only the Runtime API.
    assert_bad_configuration_reported(
        Path::new(env!("CARGO_BIN_EXE_log-retention")),
        &[("RETENTION_DAYS", "31"), ("MAX_API_RPS", "fast")],
        &["RETENTION_DAYS", "MAX_API_RPS"],
    );
}

/// A failed invocation says what failed in its `errorType`; and its result
/// event says `failed`, so the central account sees a failure, not silence.
#[tokio::test]
async fn an_unrecognised_event_fails_the_invocation_with_its_own_error_type() {
    // A Region of its own, for the bus's capture group (see above).
    const REGION: &str = "ap-southeast-3";
    let moto = Moto::shared();
    let sdk = moto.sdk_config_in(REGION).await;
    let bus = ResultBus::create(moto, &sdk).await;
    let mut env = env(
        moto,
        &[("RETENTION_DAYS", "14"), ("RESULT_EVENT_BUS", &bus.name)],
    );
    for (k, v) in env.iter_mut() {
        if k == "AWS_REGION" || k == "AWS_DEFAULT_REGION" {
            *v = REGION.to_owned();
        }
    }
    let mut lambda = LambdaEmulator::start(Path::new(env!("CARGO_BIN_EXE_log-retention")), &env);
    let error = lambda
        .invoke(&serde_json::json!({"dryrun": true}))
        .expect_error();
    assert!(error.contains("Error: UnrecognisedEvent"), "{error}");
    assert!(error.contains("unknown field"), "{error}");
    assert!(!error.contains("alloc::boxed::Box"), "{error}");

    let said = bus.only_failure("log-retention").await;
    assert!(said.contains("unknown field"), "{said}");
}
