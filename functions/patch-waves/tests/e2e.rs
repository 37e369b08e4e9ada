//! The real binary under the Lambda Runtime API emulator: the scheduled
//! report over EC2 in moto and the Systems Manager stand-in, the state in
//! moto's DynamoDB, the webhook in moto's Secrets Manager, Slack on
//! loopback, the result event on a bus.

use std::path::Path;

use serde_json::json;
use toilkit_tests::lambda::Invocation;
use toilkit_tests::runtime_api::assert_bad_configuration_reported;
use toilkit_tests::{LambdaEmulator, ResultBus};

use crate::common::{BASE_IMAGE, Fixture};

const BINARY: &str = env!("CARGO_BIN_EXE_patch-waves");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reports_the_fleet_posts_the_digest_and_publishes_the_items() {
    let f = Fixture::new("ap-northeast-3").await;
    let unmanaged = f
        .launch(
            1,
            BASE_IMAGE,
            &[("owner", "web"), ("Name", "web-1")],
            None,
            None,
        )
        .await
        .remove(0);
    let bus = ResultBus::create(f.moto, &f.sdk).await;
    let mut env = f.moto.env();
    env.extend(f.env.clone());
    env.push(("AWS_ENDPOINT_URL".into(), f.ssm.url()));
    env.push(("AWS_REGION".into(), f.region.clone()));
    env.push(("AWS_DEFAULT_REGION".into(), f.region.clone()));
    env.push(("RESULT_EVENT_BUS".into(), bus.name.clone()));
    let schedule = json!({
        "version": "0", "id": "sched-1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-12-07T06:00:00Z", "region": f.region,
        "resources": [], "detail": {}
    });
    let (invocation, log) = tokio::task::spawn_blocking(move || {
        let mut lambda = LambdaEmulator::start(Path::new(BINARY), &env);
        let invocation = lambda.invoke(&schedule);
        (invocation, lambda.log())
    })
    .await
    .unwrap();
    let response = match invocation {
        Invocation::Response(v) => v,
        Invocation::Error(e) => panic!("invocation failed: {e}\n{log}"),
    };
    assert_eq!(response["function"], "patch-waves");
    assert_eq!(response["counters"]["unmanaged"], 1, "{response}");
    assert_eq!(
        response["applied"][0]["action"], "post_digest",
        "{response}"
    );
    assert_eq!(response["details"]["schedule_event"], "sched-1");
    let texts = f.texts("ops");
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("web-1"), "{}", texts[0]);
    assert!(
        !log.contains(&f.slack.webhook_url("ops")),
        "the webhook URL reached the log"
    );
    assert_eq!(log.matches("\"toilkit_report\"").count(), 1, "{log}");

    let detail = bus.only_detail().await;
    assert_eq!(detail["function"], "patch-waves");
    let items = detail["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{detail}");
    assert_eq!(items[0]["kind"], "patch_finding");
    assert_eq!(items[0]["key"], format!("{unmanaged}/unmanaged"));
    assert_eq!(items[0]["state"], "open");
}

#[test]
fn a_bad_configuration_fails_init_naming_every_variable() {
    assert_bad_configuration_reported(
        Path::new(BINARY),
        &[
            ("SCAN_STALE_DAYS", "0"),
            ("AL2023_LATEST_PARAMETER", "latest"),
        ],
        &[
            "STATE_TABLE",
            "SCAN_STALE_DAYS",
            "AL2023_LATEST_PARAMETER",
            "SLACK_WEBHOOK_SECRET_ARN",
        ],
    );
}
