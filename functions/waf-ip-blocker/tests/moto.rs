//! waf-ip-blocker against moto (S3, WAFv2, DynamoDB): every "done when" item.

use std::sync::Arc;

use crate::common::*;
use serde_json::json;
use shared::Deadline;
use toilkit_tests::logs_subscription;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_input_form_blocks_the_flooding_ip() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "20")]);
    let ts = window_ms(300);

    // S3 notification, gzip object, a key with a space (URL-encoded in the event).
    fx.put_log("WAFLogs/a b.log.gz", &flood(ts, "192.0.2.10", 20), true)
        .await;
    let report = invoke(&app, fx.notification("WAFLogs/a b.log.gz"))
        .await
        .unwrap();
    assert_eq!(targets(&report.applied, "block_ip"), ["192.0.2.10"]);

    // EventBridge "Object Created", plain JSON lines.
    fx.put_log("WAFLogs/b.log", &flood(ts, "192.0.2.11", 20), false)
        .await;
    let report = invoke(&app, fx.object_created("WAFLogs/b.log"))
        .await
        .unwrap();
    assert_eq!(targets(&report.applied, "block_ip"), ["192.0.2.11"]);

    // CloudWatch Logs subscription from a WAF log group.
    let decoded = logs_subscription::document(
        "aws-waf-logs-product-web",
        "us-east-1_product-web_0",
        flood(ts, "2001:db8::12", 20)
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"id": i.to_string(), "timestamp": ts, "message": m}))
            .collect(),
    );
    let report = invoke(&app, logs_subscription::event(&decoded))
        .await
        .unwrap();
    assert_eq!(targets(&report.applied, "block_ip"), ["2001:db8::12"]);
    assert_eq!(report.counter("log_events"), 20);

    let (v4, _) = fx.set(&fx.v4_arn).await;
    let (v6, _) = fx.set(&fx.v6_arn).await;
    assert_eq!(v4, ["192.0.2.10/32", "192.0.2.11/32"]);
    assert_eq!(v6, ["2001:db8::12/128"]);

    // The schedule reconciles: nothing is due, so nothing changes.
    let schedule: serde_json::Value =
        serde_json::from_str(&toilkit_tests::workspace::sample("scheduled-event.json")).unwrap();
    let report = invoke(&app, schedule).await.unwrap();
    assert_eq!(report.counter("ipset_writes"), 0);
    assert!(report.planned.is_empty(), "{:?}", report.planned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_threshold_blocks_and_one_less_does_not() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "50")]);
    let ts = window_ms(300);
    let mut lines = flood(ts, "198.51.100.50", 50);
    lines.extend(flood(ts, "198.51.100.49", 49));
    fx.put_log("t.log.gz", &lines, true).await;
    let report = invoke(&app, fx.notification("t.log.gz")).await.unwrap();
    assert_eq!(targets(&report.applied, "block_ip"), ["198.51.100.50"]);
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["198.51.100.50/32"]);
    let block = &report.planned[0];
    assert!(block.reason.contains("50 requests"), "{}", block.reason);
    assert!(block.reason.contains("threshold 50"), "{}", block.reason);
    // The 49 are stored for the window, waiting for the next object.
    let window = ts / 1000 - (ts / 1000).rem_euclid(300);
    assert_eq!(fx.window_count(window, "198.51.100.49").await, Some(49));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_split_across_two_objects_in_one_window_is_caught() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "100")]);
    let ts = window_ms(300);
    fx.put_log("one.log.gz", &flood(ts, "203.0.113.7", 60), true)
        .await;
    let first = invoke(&app, fx.notification("one.log.gz")).await.unwrap();
    assert!(first.planned.iter().all(|a| a.action != "block_ip"));
    assert!(fx.set(&fx.v4_arn).await.0.is_empty());

    fx.put_log("two.log.gz", &flood(ts + 1000, "203.0.113.7", 60), true)
        .await;
    let second = invoke(&app, fx.notification("two.log.gz")).await.unwrap();
    assert_eq!(targets(&second.applied, "block_ip"), ["203.0.113.7"]);
    let detail = second.planned[0].detail.as_ref().unwrap();
    assert_eq!(detail["window_count"], 120);
    assert_eq!(detail["hits"], 120);
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.7/32"]);

    // The same object delivered again is not counted twice.
    let again = invoke(&app, fx.notification("two.log.gz")).await.unwrap();
    assert_eq!(again.counter("objects_already_counted"), 1);
    assert_eq!(again.counter("requests_counted"), 0);
    assert_eq!(again.counter("ipset_writes"), 0);

    // 60 in the next window does not add to this one.
    fx.put_log(
        "three.log.gz",
        &flood(ts + 300_000, "203.0.113.8", 60),
        true,
    )
    .await;
    fx.put_log("four.log.gz", &flood(ts, "203.0.113.8", 39), true)
        .await;
    invoke(&app, fx.notification("three.log.gz")).await.unwrap();
    let r = invoke(&app, fx.notification("four.log.gz")).await.unwrap();
    assert!(
        targets(&r.planned, "block_ip").is_empty(),
        "{:?}",
        r.planned
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowlisted_addresses_are_never_blocked() {
    let fx = Fixture::new().await;
    let app = fx.app(&[
        ("THRESHOLD", "10"),
        ("ALLOW_CIDRS", "192.0.2.0/24, 2001:db8:aaaa::/48"),
    ]);
    let ts = window_ms(300);
    let mut lines = flood(ts, "192.0.2.99", 500);
    lines.extend(flood(ts, "2001:db8:aaaa::1", 500));
    lines.extend(flood(ts, "198.51.100.1", 10));
    fx.put_log("allow.log.gz", &lines, true).await;
    let report = invoke(&app, fx.notification("allow.log.gz")).await.unwrap();
    assert_eq!(targets(&report.applied, "block_ip"), ["198.51.100.1"]);
    let skipped: Vec<&str> = report
        .skipped
        .iter()
        .filter(|s| s.reason.contains("ALLOW_CIDRS"))
        .map(|s| s.target.as_str())
        .collect();
    assert_eq!(skipped, ["192.0.2.99", "2001:db8:aaaa::1"]);
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["198.51.100.1/32"]);
    assert!(fx.set(&fx.v6_arn).await.0.is_empty());
    assert!(!fx.items().await.iter().any(|pk| pk.contains("192.0.2.99")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv4_and_ipv6_go_to_their_own_sets_and_slack_hears_about_them() {
    let fx = Fixture::new().await;
    let slack = toilkit_tests::SlackReceiver::start();
    let arn = slack.webhook_secret(&fx.sdk, "security").await;
    let app = fx.app(&[
        ("THRESHOLD", "10"),
        ("SLACK_WEBHOOK_SECRET_ARN", &arn),
        ("BLOCK_MINUTES", "60"),
    ]);
    let ts = window_ms(300);
    let mut lines = flood(ts, "203.0.113.20", 30);
    lines.extend(flood(ts, "2001:db8:85a3::8a2e:370:7334", 12));
    fx.put_log("mixed.log.gz", &lines, true).await;
    let report = invoke(&app, fx.notification("mixed.log.gz")).await.unwrap();
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.20/32"]);
    assert_eq!(
        fx.set(&fx.v6_arn).await.0,
        ["2001:db8:85a3::8a2e:370:7334/128"]
    );
    assert_eq!(report.counter("ipset_writes"), 2);
    let items = fx.items().await;
    assert!(items.contains(&"ip#203.0.113.20".to_owned()), "{items:?}");
    assert!(
        items.contains(&"ip#2001:db8:85a3::8a2e:370:7334".to_owned()),
        "{items:?}"
    );

    let delivered = slack.delivered_to("security");
    assert_eq!(delivered.len(), 1);
    let text = delivered[0].to_string();
    assert!(
        text.contains("203.0.113.20 blocked") && text.contains("2001:db8:85a3::8a2e:370:7334"),
        "{text}"
    );
    assert!(text.contains("30 requests"), "{text}");
    assert!(
        !format!("{report:?}").contains("xoxSECRET"),
        "the webhook must not leak into the report"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_thousand_offenders_keep_the_best_ten_thousand() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "2"), ("MAX_NEW_BLOCKS_PER_RUN", "20000")]);
    let ts = window_ms(300);
    // 10,000 addresses with 3 requests, 2,000 with 2: the 3s must win.
    let mut lines = Vec::with_capacity(34_000);
    for i in 0..12_000u32 {
        let ip = format!("10.{}.{}.{}", i / 65_536, (i / 256) % 256, i % 256);
        let n = if i % 6 == 0 { 2 } else { 3 };
        for k in 0..n {
            lines.push(record(ts + i64::from(k), &ip, "BLOCK", "/wp-login.php"));
        }
    }
    fx.put_log("big.log.gz", &lines, true).await;
    let started = std::time::Instant::now();
    let report = invoke(&app, fx.notification("big.log.gz")).await.unwrap();
    let (set, _) = fx.set(&fx.v4_arn).await;
    assert_eq!(set.len(), 10_000);
    assert_eq!(report.counter("not_fit"), 2_000);
    // Every address that did not fit is one with fewer hits.
    let low: std::collections::HashSet<String> = (0..12_000u32)
        .filter(|i| i % 6 == 0)
        .map(|i| format!("10.{}.{}.{}/32", i / 65_536, (i / 256) % 256, i % 256))
        .collect();
    assert!(set.iter().all(|a| !low.contains(a)));
    let not_fit: Vec<_> = report
        .skipped
        .iter()
        .filter(|s| s.reason.starts_with("did not fit"))
        .collect();
    assert!(!not_fit.is_empty() && not_fit.iter().all(|s| low.contains(&s.target)));
    assert!(report.succeeded());
    eprintln!("12,000 offenders handled in {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_blockers_writing_one_set_at_once_keep_the_union() {
    // moto rejects a stale LockToken with WAFOptimisticLockException, so the
    // race runs against moto itself: A reads the set, B writes it, A's write
    // is refused, A re-reads and merges.
    let fx = Arc::new(Fixture::new().await);
    fx.put_set(&fx.v4_arn, &["198.51.100.77/32"]).await; // someone else's
    let ts = window_ms(300);
    fx.put_log("a.log.gz", &flood(ts, "192.0.2.1", 10), true)
        .await;
    fx.put_log("b.log.gz", &flood(ts, "192.0.2.2", 10), true)
        .await;

    // A's first UpdateIPSet is held until blocker B has written the same
    // set: a real lost-update race, against moto's lock tokens.
    let (hold, latch) = toilkit_tests::Gate::hold("UpdateIPSet");
    let mut app_a = fx.app(&[("THRESHOLD", "10")]);
    let waf_a = aws_sdk_wafv2::config::Builder::from(&fx.sdk)
        .interceptor(hold)
        .build();
    app_a.sets[0].client = aws_sdk_wafv2::Client::from_conf(waf_a);

    // Blocker B (another deployment with its own ledger, sharing the set)
    // runs on its own thread and runtime once A is about to write.
    let ledger_b = toilkit_tests::Moto::shared().unique("waf-ledger-b");
    create_table(&fx.ddb, &ledger_b).await;
    let fx_b = fx.clone();
    let b = std::thread::spawn(move || {
        latch.wait_reached();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let report = runtime.block_on(async {
            let app_b = fx_b.app(&[("THRESHOLD", "10"), ("LEDGER_TABLE", &ledger_b)]);
            invoke(&app_b, fx_b.notification("b.log.gz")).await.unwrap()
        });
        latch.release();
        report
    });
    let report_a = invoke(&app_a, fx.notification("a.log.gz")).await.unwrap();
    let report_b = b.join().unwrap();

    assert_eq!(report_b.counter("ipset_writes"), 1);
    assert_eq!(report_b.counter("lock_conflicts"), 0);
    assert_eq!(
        report_a.counter("lock_conflicts"),
        1,
        "A's stale lock token must have been refused"
    );
    assert_eq!(
        report_a.counter("ipset_writes"),
        1,
        "A merged again and wrote"
    );
    assert_eq!(
        fx.set(&fx.v4_arn).await.0,
        ["192.0.2.1/32", "192.0.2.2/32", "198.51.100.77/32"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_blocks_are_removed_by_the_schedule() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "5"), ("BLOCK_MINUTES", "30")]);
    let ts = window_ms(300);
    fx.put_log("e.log.gz", &flood(ts, "192.0.2.30", 5), true)
        .await;
    invoke(&app, fx.notification("e.log.gz")).await.unwrap();
    // An address added by hand is not this function's to remove.
    let (mut set, _) = fx.set(&fx.v4_arn).await;
    set.push("203.0.113.0/24".into());
    fx.put_set(
        &fx.v4_arn,
        &set.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;

    let schedule = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    let now = waf_ip_blocker::now();
    let early = waf_ip_blocker::run(
        schedule.clone(),
        &app,
        &Deadline::unbounded(),
        now + 29 * 60,
    )
    .await
    .unwrap();
    assert!(targets(&early.applied, "unblock_ip").is_empty());
    let later = waf_ip_blocker::run(schedule, &app, &Deadline::unbounded(), now + 31 * 60)
        .await
        .unwrap();
    assert_eq!(targets(&later.applied, "unblock_ip"), ["192.0.2.30"]);
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.0/24"]);
    assert!(!fx.items().await.contains(&"ip#192.0.2.30".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_changes_nothing() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "5"), ("DRY_RUN", "true")]);
    let ts = window_ms(300);
    let mut lines = flood(ts, "192.0.2.40", 5);
    lines.extend(flood(ts, "192.0.2.41", 2));
    fx.put_log("d.log.gz", &lines, true).await;
    let (_, token) = fx.set(&fx.v4_arn).await;
    let report = invoke(&app, fx.notification("d.log.gz")).await.unwrap();
    assert!(report.dry_run);
    assert_eq!(targets(&report.planned, "block_ip"), ["192.0.2.40"]);
    assert!(report.applied.is_empty());
    let (set, token_after) = fx.set(&fx.v4_arn).await;
    assert!(set.is_empty());
    assert_eq!(token, token_after, "UpdateIPSet must not be called");
    assert!(
        fx.items().await.is_empty(),
        "no ledger, window or marker items"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_hostile_lines_are_counted_not_trusted() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "5")]);
    let ts = window_ms(300);
    let mut lines = flood(ts, "192.0.2.50", 5);
    lines.push("this is not JSON".into());
    lines.push(r#"{"timestamp":1,"action":"BLOCK","httpRequest":{"clientIp":"192.0.2.51""#.into());
    lines.push(record(ts, "not-an-ip", "ALLOW", "/"));
    // Request text that looks like a client IP: five requests from .52 whose
    // header and URI claim to be from 1.2.3.4.
    for _ in 0..5 {
        let hostile = record(ts, "192.0.2.52", "ALLOW", r#"/x","clientIp":"1.2.3.4"#).replace(
            "Mozilla/5.0 (X11; Linux x86_64)",
            r#"\",\"clientIp\":\"1.2.3.4\",\"x\":\""#,
        );
        lines.push(hostile);
    }
    fx.put_log("m.log.gz", &lines, true).await;
    let report = invoke(&app, fx.notification("m.log.gz")).await.unwrap();
    assert_eq!(report.counter("lines_malformed"), 3);
    let examples = report.details["malformed_examples"].as_array().unwrap();
    assert_eq!(examples.len(), 3);
    assert_eq!(examples[0]["reason"], "not a JSON object");
    assert_eq!(examples[0]["line"], 6);
    assert_eq!(
        targets(&report.applied, "block_ip"),
        ["192.0.2.50", "192.0.2.52"]
    );
    assert!(
        !fx.set(&fx.v4_arn)
            .await
            .0
            .contains(&"1.2.3.4/32".to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_set_is_not_written() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "5")]);
    let ts = window_ms(300);
    fx.put_log("u1.log.gz", &flood(ts, "192.0.2.60", 5), true)
        .await;
    let first = invoke(&app, fx.notification("u1.log.gz")).await.unwrap();
    assert_eq!(first.counter("ipset_writes"), 1);
    let (_, token) = fx.set(&fx.v4_arn).await;
    // The same IP offends again: its block is extended in the ledger only.
    fx.put_log("u2.log.gz", &flood(ts + 60_000, "192.0.2.60", 7), true)
        .await;
    let second = invoke(&app, fx.notification("u2.log.gz")).await.unwrap();
    assert_eq!(targets(&second.applied, "extend_block"), ["192.0.2.60"]);
    assert_eq!(second.counter("ipset_writes"), 0);
    let schedule = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    let third = invoke(&app, schedule).await.unwrap();
    assert_eq!(third.counter("ipset_writes"), 0);
    assert_eq!(
        fx.set(&fx.v4_arn).await.1,
        token,
        "no UpdateIPSet call happened"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_blocks_per_run_are_capped_and_the_run_says_so() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "5"), ("MAX_NEW_BLOCKS_PER_RUN", "1")]);
    let ts = window_ms(300);
    let mut lines = flood(ts, "192.0.2.70", 9);
    lines.extend(flood(ts, "192.0.2.71", 6));
    fx.put_log("cap.log.gz", &lines, true).await;
    let report = invoke(&app, fx.notification("cap.log.gz")).await.unwrap();
    assert_eq!(
        targets(&report.applied, "block_ip"),
        ["192.0.2.70"],
        "most hits first"
    );
    assert!(report.stopped_early);
    assert!(
        report
            .stop_reason
            .as_deref()
            .unwrap()
            .contains("MAX_NEW_BLOCKS_PER_RUN (1)")
    );
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.target == "192.0.2.71" && s.reason.contains("MAX_NEW_BLOCKS_PER_RUN"))
    );
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["192.0.2.70/32"]);
}
