//! The real binary under cargo-lambda's Runtime API emulator, invoked with
//! an S3 notification for a WAF log object in moto.

use std::path::Path;

use crate::common::*;
use toilkit_tests::lambda::Invocation;
use toilkit_tests::runtime_api::assert_bad_configuration_reported;
use toilkit_tests::slack::assert_markup_escaped;
use toilkit_tests::{LambdaEmulator, Moto, ResultBus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_blocks_a_flood_from_an_s3_event() {
    let fx = Fixture::new().await;
    let ts = window_ms(300);
    let mut lines = flood(ts, "203.0.113.99", 40);
    lines.extend(flood(ts, "2001:db8::99", 40));
    lines.extend(flood(ts, "198.51.100.3", 3));
    lines.push("garbage".into());
    fx.put_log("AWSLogs/123456789012/WAFLogs/e2e.log.gz", &lines, true)
        .await;

    let bus = ResultBus::create(Moto::shared(), &fx.sdk).await;
    let mut env = Moto::shared().env();
    env.extend(fx.env(&[
        ("THRESHOLD", "40"),
        ("BLOCK_MINUTES", "60"),
        ("RESULT_EVENT_BUS", &bus.name),
        ("RESULT_LABEL", "shop-prod"),
    ]));
    let event = fx.notification("AWSLogs/123456789012/WAFLogs/e2e.log.gz");
    let (response, log) = tokio::task::spawn_blocking(move || {
        let mut lambda = LambdaEmulator::start(
            std::path::Path::new(env!("CARGO_BIN_EXE_waf-ip-blocker")),
            &env,
        );
        let response = lambda.invoke(&event);
        (response, lambda.log())
    })
    .await
    .unwrap();
    let report = match response {
        Invocation::Response(v) => v,
        Invocation::Error(e) => panic!("invocation failed: {e}\n{log}"),
    };
    assert_eq!(report["function"], "waf-ip-blocker");
    assert_eq!(report["counters"]["new_blocks"], 2, "{report}");
    assert_eq!(report["counters"]["lines_malformed"], 1);
    assert_eq!(report["counters"]["ipset_writes"], 2);
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.99/32"]);
    assert_eq!(fx.set(&fx.v6_arn).await.0, ["2001:db8::99/128"]);
    assert!(
        log.contains("\"toilkit_report\""),
        "the report is logged once: {log}"
    );

    // The result event names the run and carries both blocks, each under
    // its network, with its expiry.
    let detail = bus.only_detail().await;
    let envelope: shared::envelope::Envelope =
        serde_json::from_value(detail.clone()).expect("an envelope");
    assert_eq!(envelope.function, "waf-ip-blocker");
    assert_eq!(envelope.label.as_deref(), Some("shop-prod"));
    assert_eq!(
        envelope.run_id.as_ref(),
        report["request_id"].as_str().map(str::to_owned).as_ref()
    );
    // cargo-lambda's emulator gives no account in the function ARN
    // (shared's runtime tests read a real one).
    assert_eq!(envelope.region.as_deref(), Some("us-east-1"));
    assert_eq!(envelope.outcome, shared::envelope::Outcome::Ok);
    assert_eq!(envelope.counters["new_blocks"], 2);
    let mut keys: Vec<&str> = envelope.items.iter().map(|i| i.key.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["2001:db8::99/128", "203.0.113.99/32"], "{detail}");
    for item in &envelope.items {
        assert_eq!(item.kind, "blocked_address");
        assert_eq!(item.state, shared::envelope::ItemState::Open);
        assert!(item.fields["expires_at"].is_string(), "{detail}");
    }
    assert_eq!(envelope.items_total, 2);
    assert_eq!(envelope.items_omitted, 0);
}

#[test]
fn a_bad_configuration_fails_init_with_the_readme_text_and_reports_it_to_the_runtime_api() {
    // Init reads no AWS, so no emulator is needed: only the Runtime API.
    assert_bad_configuration_reported(
        Path::new(env!("CARGO_BIN_EXE_waf-ip-blocker")),
        &[("THRESHOLD", "many")],
        &["LEDGER_TABLE", "IPSET_V4_ARN", "THRESHOLD"],
    );
}

/// Runs the binary once on a flood in `key`, posting to `slack`'s "waf"
/// channel; returns the invocation.
async fn flood_with_slack(key: &str, slack: &toilkit_tests::SlackReceiver) -> Invocation {
    let fx = Fixture::new().await;
    let ts = window_ms(300);
    fx.put_log(key, &flood(ts, "203.0.113.77", 40), true).await;
    let secret = slack.webhook_secret(&fx.sdk, "waf").await;
    let mut env = Moto::shared().env();
    env.extend(fx.env(&[
        ("THRESHOLD", "40"),
        ("SLACK_WEBHOOK_SECRET_ARN", secret.as_str()),
    ]));
    let event = fx.notification(key);
    tokio::task::spawn_blocking(move || {
        let mut lambda =
            LambdaEmulator::start(Path::new(env!("CARGO_BIN_EXE_waf-ip-blocker")), &env);
        lambda.invoke(&event)
    })
    .await
    .unwrap()
}

/// Where a block was seen (an S3 key, which any writer of the log bucket
/// chooses) is shown in Slack as text, never as a mention or a link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_object_key_reaches_slack_escaped() {
    let slack = toilkit_tests::SlackReceiver::start();
    let key = "AWSLogs/<!channel>/<https://evil.example|click here>.log.gz";
    let report = flood_with_slack(key, &slack).await.expect_response();
    assert_eq!(report["counters"]["slack_messages"], 1, "{report}");
    let delivered = slack.delivered_to("waf");
    assert_eq!(delivered.len(), 1);
    let text = delivered[0].to_string();
    assert_markup_escaped(
        &text,
        &["&lt;!channel&gt;/&lt;https://evil.example|click here&gt;"],
    );
}

/// A failed invocation says what failed in its `errorType`, not the Rust
/// type of a boxed error; and its result event says `failed`, so the
/// central account sees a failure, not silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsupported_event_fails_the_invocation_with_its_own_error_type() {
    let fx = Fixture::new().await;
    let bus = ResultBus::create(Moto::shared(), &fx.sdk).await;
    let mut env = Moto::shared().env();
    env.extend(fx.env(&[("RESULT_EVENT_BUS", &bus.name)]));
    let error = tokio::task::spawn_blocking(move || {
        let mut lambda =
            LambdaEmulator::start(Path::new(env!("CARGO_BIN_EXE_waf-ip-blocker")), &env);
        lambda.invoke(&serde_json::json!({"hello": "world"}))
    })
    .await
    .unwrap()
    .expect_error();
    assert!(error.contains("Error: UnsupportedEvent"), "{error}");
    assert!(!error.contains("alloc::boxed::Box"), "{error}");

    let said = bus.only_failure("waf-ip-blocker").await;
    assert!(said.contains("unsupported event"), "{said}");
}

/// A ledger table that cannot be read (deleted, or a typo in the stack)
/// fails every delivery; each failure is a `failed` result event naming the
/// table, which is what a collector's repeated-failure alarm counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_ledger_table_is_a_failed_result_event() {
    let fx = Fixture::new().await;
    let key = "AWSLogs/123456789012/WAFLogs/no-ledger.log.gz";
    fx.put_log(key, &flood(window_ms(300), "203.0.113.51", 40), true)
        .await;
    let bus = ResultBus::create(Moto::shared(), &fx.sdk).await;
    let mut env = Moto::shared().env();
    env.extend(fx.env(&[("RESULT_EVENT_BUS", &bus.name)]));
    let missing = format!("{}-deleted", fx.table);
    for (name, value) in env.iter_mut() {
        if name == "LEDGER_TABLE" {
            *value = missing.clone();
        }
    }
    let event = fx.notification(key);
    let error = tokio::task::spawn_blocking(move || {
        let mut lambda =
            LambdaEmulator::start(Path::new(env!("CARGO_BIN_EXE_waf-ip-blocker")), &env);
        lambda.invoke(&event)
    })
    .await
    .unwrap()
    .expect_error();
    assert!(
        error.contains(&missing),
        "the error names the table: {error}"
    );
    assert!(fx.set(&fx.v4_arn).await.0.is_empty(), "nothing was blocked");

    let said = bus.only_failure("waf-ip-blocker").await;
    assert!(said.contains(&missing), "the event names the table: {said}");
}
