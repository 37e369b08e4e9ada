//! The trust pass (issue 13) against moto: never block forever, never
//! unblock what this function did not block, never lose or invent an attack.
//! Each test checks what an operator would: the IP sets, the ledger, the
//! Lambda response and the Slack channel.

use crate::common::*;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use shared::Deadline;
use shared::slack::{RetryPolicy, SlackClient};
use toilkit_tests::logs_subscription;
use toilkit_tests::slack::Reply;

fn schedule() -> Value {
    json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
}

/// What DynamoDB's TTL does to the table at time `at`, at its own pace:
/// deletes every item whose `expires_at` has passed.
async fn ttl_sweep(fx: &Fixture, at: i64) -> Vec<String> {
    let mut deleted = Vec::new();
    let page = fx.ddb.scan().table_name(&fx.table).send().await.unwrap();
    for item in page.items() {
        let expired = item
            .get("expires_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|t| t <= at);
        if expired {
            let pk = item["pk"].as_s().unwrap().clone();
            fx.ddb
                .delete_item()
                .table_name(&fx.table)
                .key("pk", AttributeValue::S(pk.clone()))
                .send()
                .await
                .unwrap();
            deleted.push(pk);
        }
    }
    deleted
}

/// A CloudWatch Logs subscription delivery of `lines` (one event each).
fn logs_delivery(lines: &[String], ts: i64, stream: &str) -> Value {
    let events = lines
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": format!("3796{ts}{i:06}"), "timestamp": ts, "message": m}))
        .collect();
    logs_subscription::event(&logs_subscription::document(
        "aws-waf-logs-product-web",
        stream,
        events,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_the_ledger_ttl_outran_is_still_removed_when_it_ends() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "5"), ("BLOCK_MINUTES", "30")]);
    let ts = window_ms(300);
    fx.put_log("ttl.log.gz", &flood(ts, "192.0.2.80", 5), true)
        .await;
    invoke(&app, fx.notification("ttl.log.gz")).await.unwrap();
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["192.0.2.80/32"]);

    // The schedule was switched off for three days; DynamoDB's TTL ran.
    let later = waf_ip_blocker::now() + 3 * 24 * 3600;
    ttl_sweep(&fx, later).await;
    assert!(
        fx.items().await.contains(&"ip#192.0.2.80".to_owned()),
        "the block's ledger item must outlive the block: {:?}",
        fx.items().await
    );
    let report = waf_ip_blocker::run(schedule(), &app, &Deadline::unbounded(), later)
        .await
        .unwrap();
    assert_eq!(targets(&report.applied, "unblock_ip"), ["192.0.2.80"]);
    assert!(
        fx.set(&fx.v4_arn).await.0.is_empty(),
        "the address this function added must leave the set"
    );
    assert!(!fx.items().await.contains(&"ip#192.0.2.80".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_an_operator_had_blocked_stays_when_our_block_ends() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "5"), ("BLOCK_MINUTES", "30")]);
    // An operator blocked .81 by hand before the attack.
    fx.put_set(&fx.v4_arn, &["192.0.2.81/32"]).await;
    let ts = window_ms(300);
    let mut lines = flood(ts, "192.0.2.81", 5);
    lines.extend(flood(ts, "192.0.2.82", 5));
    fx.put_log("pre.log.gz", &lines, true).await;
    let report = invoke(&app, fx.notification("pre.log.gz")).await.unwrap();
    assert_eq!(
        targets(&report.applied, "block_ip"),
        ["192.0.2.81", "192.0.2.82"]
    );
    assert_eq!(
        fx.set(&fx.v4_arn).await.0,
        ["192.0.2.81/32", "192.0.2.82/32"]
    );

    let later = waf_ip_blocker::now() + 31 * 60;
    let report = waf_ip_blocker::run(schedule(), &app, &Deadline::unbounded(), later)
        .await
        .unwrap();
    assert_eq!(
        fx.set(&fx.v4_arn).await.0,
        ["192.0.2.81/32"],
        "the operator's address stays; only ours leaves"
    );
    let items = fx.items().await;
    assert!(
        !items.iter().any(|pk| pk.starts_with("ip#")),
        "both blocks ended: {items:?}"
    );
    let kept = report
        .applied
        .iter()
        .find(|a| a.target == "192.0.2.81")
        .expect("the end of the block is reported");
    assert!(kept.reason.contains("left in the IP set"), "{kept:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_while_storing_counts_leaves_the_object_to_the_retry() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "100")]);
    let ts = window_ms(300);
    fx.put_log("d1.log.gz", &flood(ts, "203.0.113.60", 60), true)
        .await;
    // No time left once the object is read: its window count is not stored.
    let first = waf_ip_blocker::run(
        fx.notification("d1.log.gz"),
        &app,
        &Deadline::after(std::time::Duration::ZERO),
        waf_ip_blocker::now(),
    )
    .await
    .unwrap();
    assert!(
        !first.succeeded(),
        "the invocation must fail so Lambda retries: {first:?}"
    );
    // Lambda retries the same event, with time this time.
    let retry = invoke(&app, fx.notification("d1.log.gz")).await.unwrap();
    assert_eq!(retry.counter("objects_already_counted"), 0, "{retry:?}");
    assert_eq!(retry.counter("requests_counted"), 60);
    // The next object of the window brings it over the threshold.
    fx.put_log("d2.log.gz", &flood(ts + 1000, "203.0.113.60", 60), true)
        .await;
    let second = invoke(&app, fx.notification("d2.log.gz")).await.unwrap();
    assert_eq!(targets(&second.applied, "block_ip"), ["203.0.113.60"]);
    assert_eq!(
        second.planned[0].detail.as_ref().unwrap()["window_count"],
        120
    );
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.60/32"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_unreadable_object_does_not_cost_the_others_in_its_event() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "10")]);
    let ts = window_ms(300);
    fx.put_log("good.log.gz", &flood(ts, "198.51.100.61", 10), true)
        .await;
    // Two records in one notification; the second object is not there yet.
    let mut event = fx.notification("good.log.gz");
    let mut second = event["Records"][0].clone();
    second["s3"]["object"]["key"] = json!("late.log.gz");
    second["s3"]["object"]["eTag"] = json!("etag-late.log.gz");
    event["Records"].as_array_mut().unwrap().push(second);

    let err = invoke(&app, event.clone())
        .await
        .expect_err("the unread object fails the invocation so Lambda retries");
    assert!(err.contains("late.log.gz"), "{err}");
    assert_eq!(
        fx.set(&fx.v4_arn).await.0,
        ["198.51.100.61/32"],
        "the readable object's attacker is blocked"
    );

    // The object arrives; Lambda's retry counts it and not the first again.
    fx.put_log("late.log.gz", &flood(ts, "198.51.100.62", 10), true)
        .await;
    let retry = invoke(&app, event).await.unwrap();
    assert_eq!(retry.counter("objects_already_counted"), 1, "{retry:?}");
    assert_eq!(retry.counter("requests_counted"), 10);
    assert_eq!(
        fx.set(&fx.v4_arn).await.0,
        ["198.51.100.61/32", "198.51.100.62/32"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_logs_delivery_counts_nothing_twice() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "20")]);
    let ts = window_ms(300);
    let delivery = logs_delivery(&flood(ts, "198.51.100.63", 15), ts, "eu-west-1_web_0");
    let first = invoke(&app, delivery.clone()).await.unwrap();
    assert_eq!(first.counter("requests_counted"), 15);
    for _ in 0..2 {
        let retry = invoke(&app, delivery.clone()).await.unwrap();
        assert_eq!(retry.counter("requests_counted"), 0, "{retry:?}");
        assert_eq!(retry.counter("deliveries_already_counted"), 1);
    }
    assert!(
        fx.set(&fx.v4_arn).await.0.is_empty(),
        "15 requests, delivered three times, stay under 20"
    );
    // A different delivery still adds up.
    let next = logs_delivery(&flood(ts + 500, "198.51.100.63", 5), ts, "eu-west-1_web_1");
    let report = invoke(&app, next).await.unwrap();
    assert_eq!(targets(&report.applied, "block_ip"), ["198.51.100.63"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_failure_after_the_blocks_does_not_make_lambda_redo_them() {
    let fx = Fixture::new().await;
    let slack = toilkit_tests::SlackReceiver::start();
    let arn = slack.webhook_secret(&fx.sdk, "sec").await;
    let mut app = fx.app(&[("THRESHOLD", "20"), ("SLACK_WEBHOOK_SECRET_ARN", &arn)]);
    app.notifier.as_mut().unwrap().client = SlackClient::new(RetryPolicy {
        base_backoff: std::time::Duration::from_millis(1),
        max_backoff: std::time::Duration::from_millis(5),
        ..RetryPolicy::default()
    });
    slack.script(std::iter::repeat_n(Reply::Status(503), 10));
    let ts = window_ms(300);
    let mut lines = flood(ts, "198.51.100.64", 20);
    lines.extend(flood(ts, "198.51.100.65", 12));
    let delivery = logs_delivery(&lines, ts, "eu-west-1_web_2");

    let report = invoke(&app, delivery.clone())
        .await
        .expect("the blocks are in place: the invocation succeeds");
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["198.51.100.64/32"]);
    assert!(
        report.failed.iter().any(|f| f.target == "slack"),
        "the report names what failed: {:?}",
        report.failed
    );
    assert!(slack.delivered().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ipv4_mapped_ipv6_client_is_an_ipv4_address() {
    let fx = Fixture::new().await;
    let app = fx.app(&[
        ("THRESHOLD", "5"),
        ("ALLOW_CIDRS", "198.51.100.0/24"),
        ("CLIENT_IP_HEADER", "X-Forwarded-For"),
    ]);
    let ts = window_ms(300);
    let via = |xff: &str| -> Vec<String> {
        flood(ts, "10.0.0.1", 5)
            .into_iter()
            .map(|l| l.replace("198.51.100.250", xff))
            .collect()
    };
    let mut lines = via("::ffff:198.51.100.7");
    lines.extend(via("::ffff:203.0.113.70"));
    fx.put_log("mapped.log.gz", &lines, true).await;
    let report = invoke(&app, fx.notification("mapped.log.gz"))
        .await
        .unwrap();
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.target == "198.51.100.7" && s.reason.contains("ALLOW_CIDRS")),
        "{:?}",
        report.skipped
    );
    assert_eq!(targets(&report.applied, "block_ip"), ["203.0.113.70"]);
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.70/32"]);
    assert!(fx.set(&fx.v6_arn).await.0.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_examples_give_the_line_number_zcat_shows() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "50")]);
    let ts = window_ms(300);
    let mut lines = flood(ts, "192.0.2.90", 2);
    lines.push(String::new()); // 3: blank
    lines.push("x".repeat(waf_ip_blocker::stream::MAX_LINE + 1)); // 4: overlong
    lines.push("   ".into()); // 5: blank
    lines.push("not json".into()); // 6
    lines.extend(flood(ts, "192.0.2.90", 1)); // 7
    lines.push("{\"timestamp\": 1".into()); // 8
    fx.put_log("lines.log.gz", &lines, true).await;
    let report = invoke(&app, fx.notification("lines.log.gz")).await.unwrap();
    let examples = report.details["malformed_examples"].as_array().unwrap();
    let numbers: Vec<u64> = examples
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [4, 6, 8], "{examples:?}");
    assert_eq!(report.counter("lines_overlong"), 1);
    assert_eq!(report.counter("lines_malformed"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_the_ledger_was_half_written_reports_each_block_once() {
    let fx = Fixture::new().await;
    let mut app = fx.app(&[("THRESHOLD", "5")]);
    let stalled = aws_sdk_dynamodb::config::Builder::from(&fx.sdk)
        // The ledger's first BatchWriteItem waits until the run's deadline
        // has passed: the ledger is left half written.
        .interceptor(toilkit_tests::Gate::stall(
            "BatchWriteItem",
            std::time::Duration::from_secs(4),
        ))
        .build();
    app.ledger = waf_ip_blocker::ledger::Ledger::new(
        aws_sdk_dynamodb::Client::from_conf(stalled),
        &fx.table,
    );
    let ts = window_ms(300);
    let attackers: Vec<String> = (1..=30).map(|i| format!("10.1.0.{i}")).collect();
    let lines: Vec<String> = attackers.iter().flat_map(|ip| flood(ts, ip, 5)).collect();
    fx.put_log("half.log.gz", &lines, true).await;

    // The first batch of 25 blocks is written, then the deadline comes.
    let first = waf_ip_blocker::run(
        fx.notification("half.log.gz"),
        &app,
        &Deadline::after(std::time::Duration::from_secs(3)),
        waf_ip_blocker::now(),
    )
    .await
    .unwrap();
    assert_eq!(first.counter("ledger_items_written"), 25, "{first:?}");
    assert!(!first.succeeded(), "the retry must finish it: {first:?}");
    assert!(fx.set(&fx.v4_arn).await.0.is_empty());

    // Lambda's retry blocks all 30, each once, as new blocks.
    let retry = invoke(&app, fx.notification("half.log.gz")).await.unwrap();
    assert_eq!(retry.counter("new_blocks"), 30, "{retry:?}");
    assert_eq!(targets(&retry.applied, "block_ip").len(), 30);
    for block in retry.planned.iter().filter(|a| a.action == "block_ip") {
        assert_eq!(block.detail.as_ref().unwrap()["hits"], 5, "{block:?}");
    }
    assert_eq!(fx.set(&fx.v4_arn).await.0.len(), 30);
}

/// One window item that cannot take the delivery's `ADD` (here: its count
/// is not a number) fails that window only: the delivery's other attacker
/// is blocked, the failure is in `failed` so Lambda retries, and the
/// delivery is not marked counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_window_that_cannot_be_stored_does_not_cost_the_other_attackers() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "5")]);
    let ts = window_ms(300);
    let window = ts / 1000 - (ts / 1000).rem_euclid(300);
    fx.break_window_item(window, "198.51.100.201").await;
    let mut lines = flood(ts, "198.51.100.201", 1);
    lines.extend(flood(ts, "203.0.113.31", 20));
    fx.put_log("broken-window.log.gz", &lines, true).await;
    let report = waf_ip_blocker::run(
        fx.notification("broken-window.log.gz"),
        &app,
        &Deadline::unbounded(),
        waf_ip_blocker::now(),
    )
    .await
    .expect("one window's failure does not fail the whole run");
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.31/32"]);
    assert!(
        report.failed.iter().any(|f| f.action == "count"
            && f.target.contains("broken-window.log.gz")
            && f.error.contains("1 window count")),
        "{:?}",
        report.failed
    );
    assert!(
        !fx.items().await.iter().any(|pk| pk.starts_with("obj#")),
        "not marked counted: the retry finishes it"
    );
}

/// The first attempt blocks one attacker and announces it, but one window
/// count of the delivery could not be stored, so the invocation fails and
/// Lambda retries it. The retry finishes the count; the block it finds is
/// its own earlier attempt's and already in the set, so Slack does not hear
/// of it as newly blocked a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_does_not_announce_again_a_block_its_first_attempt_applied() {
    let fx = Fixture::new().await;
    let slack = toilkit_tests::SlackReceiver::start();
    let arn = slack.webhook_secret(&fx.sdk, "sec").await;
    let app = fx.app(&[("THRESHOLD", "5"), ("SLACK_WEBHOOK_SECRET_ARN", &arn)]);
    let ts = window_ms(300);
    let window = ts / 1000 - (ts / 1000).rem_euclid(300);
    let broken = fx.break_window_item(window, "198.51.100.202").await;
    let mut lines = flood(ts, "198.51.100.202", 1);
    lines.extend(flood(ts, "203.0.113.32", 20));
    fx.put_log("announce-once.log.gz", &lines, true).await;
    let first = invoke(&app, fx.notification("announce-once.log.gz")).await;
    assert!(
        first.is_err(),
        "a window left uncounted fails the invocation"
    );
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.32/32"]);
    // Whatever broke the window item is mended before Lambda's retry.
    fx.ddb
        .delete_item()
        .table_name(&fx.table)
        .key("pk", AttributeValue::S(broken))
        .send()
        .await
        .unwrap();
    invoke(&app, fx.notification("announce-once.log.gz"))
        .await
        .unwrap();
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.32/32"]);
    let announced: Vec<String> = slack
        .delivered_to("sec")
        .iter()
        .map(|m| m.to_string())
        .filter(|text| text.contains("203.0.113.32 blocked"))
        .collect();
    assert_eq!(
        announced.len(),
        1,
        "announced as blocked once: {announced:?}"
    );
}

/// The first run records the block but its `UpdateIPSet` fails (Slack
/// hears "NOT blocked"); the delivery is already counted, so the retry
/// only reconciles. The retry is the run that puts the address in the set,
/// and Slack hears from it that the address is blocked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_that_writes_an_earlier_runs_block_announces_it() {
    let fx = Fixture::new().await;
    let slack = toilkit_tests::SlackReceiver::start();
    let arn = slack.webhook_secret(&fx.sdk, "sec").await;
    let mut app = fx.app(&[("THRESHOLD", "5"), ("SLACK_WEBHOOK_SECRET_ARN", &arn)]);
    let failing = aws_sdk_wafv2::config::Builder::from(&fx.sdk)
        // As a throttled or unreachable WAF would.
        .interceptor(toilkit_tests::Gate::fail(
            ".UpdateIPSet",
            "connection reset (test)",
        ))
        .build();
    for set in &mut app.sets {
        set.client = aws_sdk_wafv2::Client::from_conf(failing.clone());
    }
    let ts = window_ms(300);
    fx.put_log("catchup.log.gz", &flood(ts, "203.0.113.44", 9), true)
        .await;
    let first = invoke(&app, fx.notification("catchup.log.gz")).await;
    assert!(
        first.is_err(),
        "the failed UpdateIPSet fails the invocation"
    );
    assert!(fx.set(&fx.v4_arn).await.0.is_empty());
    let retry = invoke(&app, fx.notification("catchup.log.gz"))
        .await
        .unwrap();
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.44/32"]);
    assert_eq!(targets(&retry.applied, "block_ip"), ["203.0.113.44"]);
    let delivered = slack.delivered_to("sec");
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    let text = delivered[1].to_string();
    assert!(
        text.contains("203.0.113.44 blocked") && text.contains("1 newly blocked"),
        "{text}"
    );
}

/// An operator had blocked the address by hand, so this function recorded
/// its block as `preexisting`. The operator then takes the hand block out.
/// The address attacks again: it must be blocked, as this function's own
/// (and the report must not call blocked what is not in the set).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacker_the_operator_unblocked_by_hand_is_blocked_when_it_attacks_again() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "5"), ("BLOCK_MINUTES", "30")]);
    fx.put_set(&fx.v4_arn, &["192.0.2.91/32"]).await;
    let ts = window_ms(300);
    fx.put_log("p1.log.gz", &flood(ts, "192.0.2.91", 5), true)
        .await;
    invoke(&app, fx.notification("p1.log.gz")).await.unwrap();
    // The operator lifts the hand block.
    fx.put_set(&fx.v4_arn, &[]).await;
    fx.put_log("p2.log.gz", &flood(ts + 1000, "192.0.2.91", 50), true)
        .await;
    let report = invoke(&app, fx.notification("p2.log.gz")).await.unwrap();
    assert_eq!(
        fx.set(&fx.v4_arn).await.0,
        ["192.0.2.91/32"],
        "50 requests over a threshold of 5, yet not blocked; the report claims: {:?}",
        report.applied
    );
}

/// Delivery ids are remembered in a window item only for Lambda's retry
/// horizon. A window item near DynamoDB's item size limit (here: of the
/// old shape, about 12,600 ids in its `by` set, as a day-long window fed
/// every 7 s made it) takes further `ADD`s, and the other attackers of each
/// delivery are blocked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_window_does_not_stop_the_blocking_of_others() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "5")]);
    let ts = window_ms(300);
    let window = ts / 1000 - (ts / 1000).rem_euclid(300);
    let by: Vec<String> = (0..12_650u32).map(|i| format!("{i:032x}")).collect();
    let (pk, counter) = window_counter(
        fx.salt(),
        window,
        300,
        "*",
        "198.51.100.200".parse().unwrap(),
    );
    fx.ddb
        .put_item()
        .table_name(&fx.table)
        .item("pk", AttributeValue::S(pk))
        .item(counter, AttributeValue::N("1".into()))
        .item("by", AttributeValue::Ss(by))
        .item(
            "expires_at",
            AttributeValue::N((window + 300 + 3600).to_string()),
        )
        .send()
        .await
        .unwrap();
    for i in 1..=8 {
        // A regular client (one request) and a new attacker in each object.
        let mut lines = flood(ts + i * 1000, "198.51.100.200", 1);
        let attacker = format!("203.0.113.{i}");
        lines.extend(flood(ts + i * 1000, &attacker, 20));
        let key = format!("busy{i}.log.gz");
        fx.put_log(&key, &lines, true).await;
        let report = invoke(&app, fx.notification(&key)).await;
        assert!(
            report.is_ok()
                && fx
                    .set(&fx.v4_arn)
                    .await
                    .0
                    .contains(&format!("{attacker}/32")),
            "delivery {i}: attacker {attacker} not blocked: {report:?}"
        );
    }
}

/// One S3 event naming the same object twice (a hand-made or replayed
/// event, or a batching source that repeats records) reads it once: 15
/// requests, under a threshold of 20, must not become 30.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_named_twice_in_one_event_counts_once() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "20")]);
    let ts = window_ms(300);
    fx.put_log("twice.log.gz", &flood(ts, "198.51.100.77", 15), true)
        .await;
    let mut event = fx.notification("twice.log.gz");
    let record = event["Records"][0].clone();
    event["Records"].as_array_mut().unwrap().push(record);
    let report = invoke(&app, event).await;
    assert!(
        fx.set(&fx.v4_arn).await.0.is_empty(),
        "15 requests under a threshold of 20 blocked: {report:?}"
    );
}

/// A delivery's counts are in a window item once however often Lambda
/// retries it, hours later included, and every other delivery adds to them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deliverys_counts_are_stored_once_however_often_it_is_retried() {
    let fx = Fixture::new().await;
    let ledger = waf_ip_blocker::ledger::Ledger::new(fx.ddb.clone(), &fx.table);
    let (pk, address) = window_counter(fx.salt(), 0, 300, "*", "192.0.2.77".parse().unwrap());
    let (pk, ttl) = (pk.as_str(), 48 * 3600);
    let add = |n: u32| [(address.clone(), n)];
    let total = |totals: std::collections::HashMap<String, u64>| totals[&address];
    let first = ledger.add_to_window(pk, &add(3), ttl, "first").await;
    assert_eq!(total(first.unwrap()), 3);
    let retry = ledger.add_to_window(pk, &add(3), ttl, "first").await;
    assert_eq!(total(retry.unwrap()), 3, "the retry adds nothing");
    let second = ledger.add_to_window(pk, &add(2), ttl, "second").await;
    assert_eq!(total(second.unwrap()), 5);
    let third = ledger.add_to_window(pk, &add(3), ttl, "third").await;
    assert_eq!(
        total(third.unwrap()),
        8,
        "the same count from another delivery adds"
    );
    assert_eq!(fx.window_count(0, "192.0.2.77").await, Some(8));
    // A retry that counts the delivery differently (a deploy or a setting
    // changed in between) replaces its count; it never adds to itself.
    let recount = ledger.add_to_window(pk, &add(4), ttl, "first").await;
    assert_eq!(total(recount.unwrap()), 9);
}
