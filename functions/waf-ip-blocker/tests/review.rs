//! Adversarial review of issue 13 (branch review-waf): each test shows a
//! defect as an operator would see it (the IP set, the ledger, the response).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use common::*;
use serde_json::{Value, json};
use shared::Deadline;

fn schedule() -> Value {
    json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
}

/// An operator had blocked the address by hand, so this function recorded
/// its block as `preexisting`. The operator then takes the hand block out.
/// The address attacks again: it must be blocked. It is not: the extension
/// keeps `preexisting`, the set plan skips it, and yet the report says
/// `extend_block` was applied.
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

/// Holds the first call `op` of a run until the test releases it: the run
/// has read what it read, and goes on only after another run finished.
#[derive(Debug)]
struct StallFirstGetIpSet {
    op: &'static str,
    armed: AtomicBool,
    reached: std::sync::Arc<AtomicBool>,
    release: std::sync::Arc<AtomicBool>,
}

impl aws_sdk_wafv2::config::Intercept for StallFirstGetIpSet {
    fn name(&self) -> &'static str {
        "StallFirstGetIpSet"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_wafv2::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_wafv2::config::RuntimeComponents,
        _: &mut aws_sdk_wafv2::config::ConfigBag,
    ) -> Result<(), aws_sdk_wafv2::error::BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default();
        if target.ends_with(self.op) && self.armed.swap(false, Ordering::SeqCst) {
            self.reached.store(true, Ordering::SeqCst);
            let start = std::time::Instant::now();
            while !self.release.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(60)
            {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }
}

/// Runs `event` at `at` on its own thread and runtime, with its own AWS
/// clients, its first call `op` to WAF held until `release` is set (a
/// blocked worker must not hold up the other run's connections).
fn run_stalled(
    mut app: waf_ip_blocker::App,
    table: String,
    event: Value,
    at: i64,
    op: &'static str,
    reached: std::sync::Arc<AtomicBool>,
    release: std::sync::Arc<AtomicBool>,
) -> std::thread::JoinHandle<shared::report::Report> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let sdk = toilkit_tests::Moto::shared().sdk_config().await;
            app.ledger =
                waf_ip_blocker::ledger::Ledger::new(aws_sdk_dynamodb::Client::new(&sdk), &table);
            app.s3 = shared::aws::s3_client(&sdk);
            let stalled = aws_sdk_wafv2::config::Builder::from(&sdk)
                .interceptor(StallFirstGetIpSet {
                    op,
                    armed: true.into(),
                    reached,
                    release,
                })
                .build();
            for set in &mut app.sets {
                set.client = aws_sdk_wafv2::Client::from_conf(stalled.clone());
            }
            waf_ip_blocker::run(event, &app, &Deadline::unbounded(), at)
                .await
                .unwrap()
        })
    })
}

/// Two objects of one attack counted at the same time (or one object
/// delivered twice, S3 notification and EventBridge). Run B scans the
/// ledger before run A writes its block, and reads the set after A added
/// the address (the same happens with no stall at all: the ledger `Scan`
/// is eventually consistent). B takes A's block for an operator's
/// (`preexisting`), overwrites A's ledger item, and the address is never
/// removed: when the block ends the ledger item is deleted and the address
/// stays in the set, unknown to the ledger, forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_address_a_concurrent_run_added_is_removed_when_its_block_ends() {
    let fx = Fixture::new().await;
    let env = [("THRESHOLD", "5"), ("BLOCK_MINUTES", "30")];
    let app_a = fx.app(&env);
    let reached = std::sync::Arc::new(AtomicBool::new(false));
    let release = std::sync::Arc::new(AtomicBool::new(false));
    let ts = window_ms(300);
    fx.put_log("a.log.gz", &flood(ts, "203.0.113.90", 5), true)
        .await;
    fx.put_log("b.log.gz", &flood(ts + 1000, "203.0.113.90", 5), true)
        .await;
    let b = run_stalled(
        fx.app(&env),
        fx.table.clone(),
        fx.notification("b.log.gz"),
        waf_ip_blocker::now(),
        ".GetIPSet",
        reached.clone(),
        release.clone(),
    );
    // B has scanned the ledger (nothing there yet) and waits on GetIPSet.
    while !reached.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    invoke(&app_a, fx.notification("a.log.gz")).await.unwrap();
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.90/32"]);
    release.store(true, Ordering::SeqCst);
    b.join().unwrap();

    let later = waf_ip_blocker::now() + 31 * 60;
    waf_ip_blocker::run(schedule(), &app_a, &Deadline::unbounded(), later)
        .await
        .unwrap();
    assert!(
        fx.set(&fx.v4_arn).await.0.is_empty(),
        "this function added 203.0.113.90; its block ended, yet it stays: set {:?}, ledger {:?}",
        fx.set(&fx.v4_arn).await.0,
        fx.items().await
    );
}

/// Every delivery that adds to a window appends its 32-character id to the
/// item's `by` set, which is never trimmed. A window item near DynamoDB's
/// item size limit (about 12,600 deliveries: one every 7 s for a day with
/// `WINDOW_SECONDS=86400`, or a busy Logs subscription) makes every further
/// `ADD` fail, and the whole invocation with it: the other attackers of the
/// same delivery are never blocked, and Lambda's retries fail the same way
/// until the event is dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_window_does_not_stop_the_blocking_of_others() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "5")]);
    let ts = window_ms(300);
    let window = ts / 1000 - (ts / 1000).rem_euclid(300);
    let by: Vec<String> = (0..12_650u32).map(|i| format!("{i:032x}")).collect();
    fx.ddb
        .put_item()
        .table_name(&fx.table)
        .item(
            "pk",
            AttributeValue::S(format!("win#{window}#*#198.51.100.200")),
        )
        .item("count", AttributeValue::N("1".into()))
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

/// A scheduled run ends X's block while X attacks again. The scheduled run
/// (A) read the ledger (X expired) and the set (X in it) and is about to
/// write the set without X. Meanwhile a run for the new object (B) re-opens
/// X's block, finds X still in the set, so makes no `UpdateIPSet`, and
/// reports (and tells Slack) `block_ip` X. Then A's write takes X out; A's
/// conditional delete keeps B's item. X is not blocked while the ledger and
/// B's report say it is, until some later run reconciles.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_address_blocked_again_while_its_old_block_is_being_removed_stays_blocked() {
    let fx = Fixture::new().await;
    let env = [("THRESHOLD", "5"), ("BLOCK_MINUTES", "30")];
    let app_b = fx.app(&env);
    let ts = window_ms(300);
    fx.put_log("old.log.gz", &flood(ts, "203.0.113.95", 5), true)
        .await;
    invoke(&app_b, fx.notification("old.log.gz")).await.unwrap();
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.95/32"]);

    let later = waf_ip_blocker::now() + 31 * 60;
    let reached = std::sync::Arc::new(AtomicBool::new(false));
    let release = std::sync::Arc::new(AtomicBool::new(false));
    let a = run_stalled(
        fx.app(&env),
        fx.table.clone(),
        schedule(),
        later,
        ".UpdateIPSet",
        reached.clone(),
        release.clone(),
    );
    // A read the ledger and the set and is about to take X out.
    while !reached.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ts_later = (later - later.rem_euclid(300) + 5) * 1000;
    fx.put_log("new.log.gz", &flood(ts_later, "203.0.113.95", 50), true)
        .await;
    let b = waf_ip_blocker::run(
        fx.notification("new.log.gz"),
        &app_b,
        &Deadline::unbounded(),
        later,
    )
    .await
    .unwrap();
    release.store(true, Ordering::SeqCst);
    a.join().unwrap();
    assert_eq!(
        fx.set(&fx.v4_arn).await.0,
        ["203.0.113.95/32"],
        "B reported {:?}; ledger {:?}",
        b.applied,
        fx.items().await
    );
}

/// One S3 event naming the same object twice (a hand-made or replayed
/// event, or a batching source that repeats records): the second read adds
/// nothing to the windows (its id is already in `by`), but `merge` adds the
/// two local counts together, so 15 requests, under a threshold of 20,
/// become 30 and block an address that did not reach the threshold.
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
