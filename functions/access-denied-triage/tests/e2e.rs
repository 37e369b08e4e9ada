//! The real binary under the Lambda Runtime API emulator: a trail's Logs
//! delivery and its retry, the state table in moto's DynamoDB, the webhook in
//! moto's Secrets Manager, Slack on loopback.

use std::path::Path;

use toilkit_tests::lambda::Invocation;
use toilkit_tests::runtime_api::assert_bad_configuration_reported;
use toilkit_tests::{LambdaEmulator, Moto, ResultBus};

use crate::common::{Fixture, delivery, record};

const BINARY: &str = env!("CARGO_BIN_EXE_access-denied-triage");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_alerts_once_and_reports_what_it_dropped() {
    let f = Fixture::new().await;
    let bus = ResultBus::create(Moto::shared(), &f.setup.sdk).await;
    let mut env = Moto::shared().env();
    env.extend(f.setup.env.clone());
    env.push(("RESULT_EVENT_BUS".into(), bus.name.clone()));
    let event = delivery(&[
        record("console-internal", &[]),
        record("aws-service", &[]),
        record("assumed-role-ci", &[]),
    ]);
    let (first, second, log) = tokio::task::spawn_blocking(move || {
        let mut lambda = LambdaEmulator::start(Path::new(BINARY), &env);
        let first = lambda.invoke(&event);
        // Lambda's retry of the same delivery.
        let second = lambda.invoke(&event);
        (first, second, lambda.log())
    })
    .await
    .unwrap();
    let first = match first {
        Invocation::Response(v) => v,
        Invocation::Error(e) => panic!("invocation failed: {e}\n{log}"),
    };
    assert_eq!(first["function"], "access-denied-triage");
    assert_eq!(first["counters"]["records"], 3, "{first}");
    assert_eq!(first["counters"]["dropped_console_internal"], 1, "{first}");
    assert_eq!(first["counters"]["dropped_service_principal"], 1, "{first}");
    assert_eq!(first["applied"][0]["action"], "alert", "{first}");
    let second = second.expect_response();
    assert_eq!(second["applied"], serde_json::json!([]), "{second}");

    let texts = f.texts("security");
    assert_eq!(texts.len(), 1, "the retry posted nothing: {texts:?}");
    assert!(texts[0].contains("role ci-deploy"), "{}", texts[0]);
    assert!(
        !log.contains(&f.setup.slack.webhook_url("security")),
        "the webhook URL reached the log"
    );
    assert_eq!(
        log.matches("\"toilkit_report\"").count(),
        2,
        "one report line per invocation: {log}"
    );

    // Both result events name the one denied call under the same key: sent
    // first, then held as announced; the dropped noise is only counted.
    let events = bus.events().await;
    assert_eq!(events.len(), 2, "{events:#?}");
    let item = |n: usize| {
        let detail = &events[n]["detail"];
        assert_eq!(detail["items_total"], 1, "{detail}");
        assert_eq!(detail["counters"]["dropped_console_internal"], 1);
        detail["items"][0].clone()
    };
    let (sent, held) = (item(0), item(1));
    assert_eq!(sent["kind"], "denied_call");
    assert_eq!(sent["key"], held["key"]);
    assert_eq!(sent["key"], first["applied"][0]["target"]);
    assert!(
        sent["fields"]["who"]
            .as_str()
            .unwrap()
            .contains("ci-deploy"),
        "{sent}"
    );
    assert_eq!(sent["fields"]["decision"], "announce", "{sent}");
    assert_eq!(held["fields"]["decision"], "held", "{held}");
    assert!(held["fields"]["last_announced"].is_string(), "{held}");
}

#[test]
fn a_bad_configuration_fails_init_naming_every_variable() {
    assert_bad_configuration_reported(
        Path::new(BINARY),
        &[
            ("RULES", r#"[{"principle":"ci-*","reason":"typo"}]"#),
            ("RECON_THRESHOLD", "1"),
        ],
        &[
            "STATE_TABLE",
            "RULES",
            "RECON_THRESHOLD",
            "SLACK_WEBHOOK_SECRET_ARN",
        ],
    );
}
