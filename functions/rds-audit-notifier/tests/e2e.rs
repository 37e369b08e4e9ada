//! The real binary under cargo-lambda's Runtime API emulator, invoked with a
//! real subscription payload (base64 of gzip), posting to the Slack receiver
//! through a webhook stored in moto's Secrets Manager, with the idempotency
//! table in moto's DynamoDB.

mod common;

use std::path::Path;

use common::{Fixture, subscription};
use toilkit_tests::lambda::Invocation;
use toilkit_tests::{LambdaEmulator, Moto};

const BINARY: &str = env!("CARGO_BIN_EXE_rds-audit-notifier");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_posts_redacted_alerts_once() {
    let mut f = Fixture::new().await;
    f.idempotency_table().await;
    let mut env = Moto::shared().env();
    env.extend(f.env.clone());
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
        "CREATE USER 'etl'@'%' IDENTIFIED BY '***'",
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_stops_the_binary_with_every_problem_named() {
    let mut env = Moto::shared().env();
    env.push(("ALERT_ON".into(), "ddl,everything".into()));
    env.push(("MATCH_REGEX".into(), "(".into()));
    let (running, log) = tokio::task::spawn_blocking(move || {
        let mut lambda = LambdaEmulator::start(Path::new(BINARY), &env);
        // No invocation: nothing would poll for it once init has failed.
        let started = std::time::Instant::now();
        while lambda.function_running() && started.elapsed() < std::time::Duration::from_secs(30) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        (lambda.function_running(), lambda.log())
    })
    .await
    .unwrap();
    assert!(!running, "init must fail");
    for name in ["ALERT_ON", "MATCH_REGEX", "SLACK_WEBHOOK_SECRET_ARN"] {
        assert!(log.contains(name), "{name} not named in: {log}");
    }
}
