//! The real binary under cargo-lambda's Runtime API emulator, invoked with a
//! real subscription payload (base64 of gzip), posting to the Slack receiver
//! through a webhook stored in moto's Secrets Manager, with the idempotency
//! table in moto's DynamoDB.

use std::path::Path;

use crate::common::{Fixture, subscription};
use toilkit_tests::lambda::Invocation;
use toilkit_tests::runtime_api::assert_bad_configuration_reported;
use toilkit_tests::slack::assert_markup_escaped;
use toilkit_tests::{LambdaEmulator, Moto, ResultBus};

const BINARY: &str = env!("CARGO_BIN_EXE_rds-audit-notifier");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_posts_redacted_alerts_once() {
    let mut f = Fixture::new().await;
    f.idempotency_table().await;
    let bus = ResultBus::create(Moto::shared(), &f.setup.sdk).await;
    let mut env = Moto::shared().env();
    env.extend(f.setup.env.clone());
    env.push(("RESULT_EVENT_BUS".into(), bus.name.clone()));
    let event = subscription(
        "/aws/rds/instance/orders-db/audit",
        &[
            "20231114 22:13:20,ip-10-0-1-23,admin,10.0.2.15,3051,0,CONNECT,,,0",
            r"20231114 22:13:25,ip-10-0-1-23,admin,10.0.2.15,3051,152312,QUERY,appdb,'CREATE USER \'etl\'@\'%\' IDENTIFIED BY \'Tr0ub4dor,\\\'3\'',0",
            "20231114 22:13:26,ip-10-0-1-23,admin,10.0.2.15,3051,152313,QUERY,appdb,'DROP TABLE staging_orders',0",
            "20231114 22:14:02,ip-10-0-1-23,mallory,198.51.100.23,3052,0,FAILED_CONNECT,,,1045",
            r"20231114 22:14:03,ip-10-0-1-23,admin,10.0.2.15,3051,152314,QUERY,appdb,'CREATE TABLE fed (a int) ENGINE=FEDERATED CONNECTION=\'mysql://etl:Fake-Uri-Pw@db.example.test:3306/app/t\'',0",
            // Not a record: it may be the rest of one, and holds no hint word.
            "not an audit line Fake-Stray-Pw",
        ],
    );
    let (first, second, log) = tokio::task::spawn_blocking(move || {
        let mut lambda = LambdaEmulator::start(Path::new(BINARY), &env);
        let first = lambda.invoke(&event);
        // Lambda's asynchronous retry of the same event.
        let second = lambda.invoke(&event);
        (first, second, lambda.log())
    })
    .await
    .unwrap();
    let first = match first {
        Invocation::Response(v) => v,
        Invocation::Error(e) => panic!("invocation failed: {e}\n{log}"),
    };
    assert_eq!(first["function"], "rds-audit-notifier");
    assert_eq!(first["counters"]["alerts"], 4, "{first}");
    assert_eq!(first["counters"]["unparsed"], 1, "{first}");
    assert_eq!(first["counters"]["messages_delivered"], 1, "{first}");
    // Masked whole, and how long it is.
    assert_eq!(first["details"]["unparsed_examples"][0]["line"], "***");
    assert_eq!(first["details"]["unparsed_examples"][0]["chars"], 31);

    let second = second.expect_response();
    assert_eq!(
        second["counters"]["messages_already_delivered"], 1,
        "{second}"
    );
    assert_eq!(
        second["counters"]["messages_delivered"],
        serde_json::Value::Null,
        "{second}"
    );

    let delivered = f.delivered_texts();
    assert_eq!(delivered.len(), 1, "the retry posted nothing");
    let text = &delivered[0];
    for needle in [
        "RDS audit: orders-db: 4 events",
        "mysql://etl:***@db.example.test:3306/app/t",
        // `\'` in the password: its end depends on NO_BACKSLASH_ESCAPES.
        "CREATE USER 'etl'@'%' IDENTIFIED BY ***",
        "DROP TABLE staging_orders",
        "Failed login · access denied (error 1045)",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    for leak in ["Tr0ub4dor", "xoxSECRET", "Fake-Uri-Pw", "Fake-Stray-Pw"] {
        assert!(!text.contains(leak), "{leak} reached Slack");
        assert!(!log.contains(leak), "{leak} reached the log: {log}");
        assert!(
            !first.to_string().contains(leak),
            "{leak} reached the response"
        );
    }
    assert_eq!(
        log.matches("\"toilkit_report\"").count(),
        2,
        "one report line per invocation: {log}"
    );

    // Each result event lists the batch's four alerts by category, under
    // keys the retry repeats, so a collector counts each alert once; the
    // statements stay out of it.
    let events = bus.events().await;
    assert_eq!(events.len(), 2, "{events:#?}");
    let items = |n: usize| events[n]["detail"]["items"].as_array().unwrap().clone();
    assert_eq!(items(0), items(1), "the retry names the same alerts");
    let alerts = items(0);
    assert_eq!(alerts.len(), 4, "{alerts:#?}");
    let mut keys: Vec<&str> = alerts.iter().map(|a| a["key"].as_str().unwrap()).collect();
    keys.dedup();
    assert_eq!(keys.len(), 4, "one key per alert: {keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("orders-db/")), "{keys:?}");
    let categories: Vec<&serde_json::Value> =
        alerts.iter().map(|a| &a["fields"]["categories"]).collect();
    assert!(
        categories
            .iter()
            .all(|c| c.as_array().is_some_and(|c| !c.is_empty())),
        "{categories:?}"
    );
    assert_eq!(
        alerts[2]["fields"]["categories"],
        serde_json::json!(["failed_login"]),
        "{alerts:#?}"
    );
    assert_eq!(alerts[2]["fields"]["user"], "mallory");
    let text = events[0].to_string();
    for leak in ["Tr0ub4dor", "Fake-Uri-Pw", "IDENTIFIED BY"] {
        assert!(!text.contains(leak), "{leak} reached the result event");
    }
}

#[test]
fn a_bad_configuration_fails_init_with_the_readme_text_and_reports_it_to_the_runtime_api() {
    // Init reads no AWS, so no emulator is needed: only the Runtime API.
    assert_bad_configuration_reported(
        Path::new(BINARY),
        &[("ALERT_ON", "ddl,everything"), ("MATCH_REGEX", "(")],
        &["ALERT_ON", "MATCH_REGEX"],
    );
}

/// A user name and SQL text come from whoever connects to the database; in
/// Slack they stay text, never a mention or a link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_user_names_and_sql_reach_slack_escaped() {
    let mut f = Fixture::new().await;
    f.idempotency_table().await;
    let mut env = Moto::shared().env();
    env.extend(f.setup.env.clone());
    let event = subscription(
        "/aws/rds/instance/orders-db/audit",
        &[
            "20231114 22:14:02,ip-10-0-1-23,<!channel>,198.51.100.23,3052,0,FAILED_CONNECT,,,1045",
            "20231114 22:14:05,ip-10-0-1-23,admin,10.0.2.15,3051,152314,QUERY,appdb,'DROP TABLE `<https://evil.example|click here>`',0",
        ],
    );
    let response = tokio::task::spawn_blocking(move || {
        let mut lambda = LambdaEmulator::start(Path::new(BINARY), &env);
        lambda.invoke(&event)
    })
    .await
    .unwrap();
    let report = response.expect_response();
    assert_eq!(report["counters"]["alerts"], 2, "{report}");
    let delivered = f.delivered_texts();
    assert_eq!(delivered.len(), 1);
    let text = &delivered[0];
    assert_markup_escaped(
        text,
        &[
            "&lt;!channel&gt;",
            "&lt;https://evil.example|click here&gt;",
        ],
    );
}

/// A failed invocation says what failed in its `errorType`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_outage_fails_the_invocation_with_its_own_error_type() {
    let mut f = Fixture::new().await;
    f.idempotency_table().await;
    f.setup
        .slack
        .script(std::iter::repeat_n(toilkit_tests::Reply::Status(500), 50));
    let mut env = Moto::shared().env();
    env.extend(f.setup.env.clone());
    let event = subscription(
        "/aws/rds/instance/orders-db/audit",
        &[
            "20231114 22:13:26,ip-10-0-1-23,admin,10.0.2.15,3051,152313,QUERY,appdb,'DROP TABLE staging_orders',0",
        ],
    );
    let response = tokio::task::spawn_blocking(move || {
        let mut lambda = LambdaEmulator::start(Path::new(BINARY), &env);
        lambda.invoke(&event)
    })
    .await
    .unwrap();
    let error = response.expect_error();
    assert!(error.contains("SlackDeliveryFailed"), "{error}");
    assert!(error.contains("HTTP 500"), "the cause is kept: {error}");
    assert!(!error.contains("alloc::boxed::Box"), "{error}");
}

/// An event it cannot read fails the invocation, and its result event says
/// `failed` with the reason, so the central account sees a failure, not
/// silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_event_is_a_failed_result_event() {
    let f = Fixture::new().await;
    let bus = ResultBus::create(Moto::shared(), &f.setup.sdk).await;
    let mut env = Moto::shared().env();
    env.extend(f.setup.env.clone());
    env.push(("RESULT_EVENT_BUS".to_owned(), bus.name.clone()));
    let error = tokio::task::spawn_blocking(move || {
        let mut lambda = LambdaEmulator::start(Path::new(BINARY), &env);
        lambda.invoke(&serde_json::json!({"awslogs": {"data": "not base64!"}}))
    })
    .await
    .unwrap()
    .expect_error();

    assert!(error.contains("Error: Decode"), "{error}");
    let said = bus.only_failure("rds-audit-notifier").await;
    assert!(said.contains("could not be decoded"), "{said}");
}
