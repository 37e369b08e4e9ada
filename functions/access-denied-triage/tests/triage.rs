//! A CloudWatch Logs delivery of a trail's records, through the public
//! entry point: what the report tells an operator.

use access_denied_triage::plan::Facts;
use access_denied_triage::{Config, process};
use serde_json::{Value, json};
use shared::config::Env;
use time::macros::datetime;

fn record(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // One line per log event, as CloudTrail writes to CloudWatch Logs.
    serde_json::from_str::<Value>(&text).unwrap().to_string()
}

fn config() -> Config {
    let mut env = Env::from_pairs([
        ("STATE_TABLE", "t"),
        ("SLACK_WEBHOOK_PARAMETER", "/toilkit/slack"),
        (
            "RULES",
            r#"[{"principal":"app","action":"s3:GetObject","reason":"reads through the endpoint are being moved"}]"#,
        ),
    ]);
    let config = Config::from_env(&mut env);
    env.finish().unwrap();
    config
}

fn delivery(names: &[&str]) -> Value {
    let events = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            json!({"id": format!("{i}"), "timestamp": 1_796_547_600_000_i64 + i as i64, "message": record(name)})
        })
        .collect();
    toilkit_tests::logs_subscription::event(&toilkit_tests::logs_subscription::document(
        "aws-cloudtrail-logs-111122223333",
        "111122223333_CloudTrail_eu-west-1",
        events,
    ))
}

#[test]
fn a_delivery_is_triaged_noise_counted_and_the_worst_first() {
    let payload = delivery(&[
        "not-denied",
        "console-internal",
        "scanner-access-analyzer",
        "vpc-endpoint",
        "assumed-role-ci",
        "leaked-key",
    ]);
    let report = process(
        payload,
        &config(),
        &Facts::default(),
        datetime!(2026-12-06 09:30 UTC),
    )
    .unwrap();
    assert_eq!(report.counter("records"), 6);
    assert_eq!(report.counter("dropped_not_denied"), 1);
    assert_eq!(report.counter("dropped_console_internal"), 1);
    assert_eq!(report.counter("dropped_scanner"), 1);
    assert_eq!(report.counter("dropped_operator_rule"), 1);
    assert_eq!(report.counter("groups"), 2);
    assert_eq!(report.planned[0].action, "page", "the leaked key first");
    assert!(
        report.planned[0]
            .reason
            .starts_with("IAM user svc-reporting denied 1 time"),
        "{}",
        report.planned[0].reason
    );
    assert_eq!(report.planned[1].action, "alert");
    assert!(
        report.planned[1].reason.contains("explicit deny in a SCP"),
        "{}",
        report.planned[1].reason
    );
    assert_eq!(report.details["path"], "logs");
    assert_eq!(
        report.details["expected"],
        json!({"principal app, action s3:GetObject (reads through the endpoint are being moved)": 1})
    );
}

#[test]
fn a_malformed_record_is_counted_and_the_rest_goes_on() {
    let document = json!({"messageType": "DATA_MESSAGE", "owner": "111122223333",
    "logGroup": "trail", "logStream": "s", "subscriptionFilters": ["f"],
    "logEvents": [
        {"id": "1", "timestamp": 1, "message": "{\"eventVersion\":"},
        {"id": "2", "timestamp": 2, "message": record("assumed-role-ci")}
    ]});
    let payload = toilkit_tests::logs_subscription::event(&document);
    let report = process(
        payload,
        &config(),
        &Facts::default(),
        datetime!(2026-12-06 09:30 UTC),
    )
    .unwrap();
    assert_eq!(report.counter("malformed"), 1);
    assert_eq!(report.counter("groups"), 1);
    assert!(
        report.details["first_malformed"]
            .as_str()
            .unwrap()
            .contains("log event 1 of trail")
    );
}

#[test]
fn another_kind_of_event_fails_the_invocation() {
    let err = process(
        json!({"Records": [{"eventSource": "aws:sqs"}]}),
        &config(),
        &Facts::default(),
        datetime!(2026-12-06 09:30 UTC),
    )
    .unwrap_err();
    assert_eq!(err.kind(), "UnsupportedEvent");
}
