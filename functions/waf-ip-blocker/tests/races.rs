//! Concurrent runs against moto, each stalled at a chosen call on its own
//! thread: whatever the timing, an address this function added stays
//! removable by it, and a block re-opened while it ends stays in the set.

use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};
use shared::Deadline;
use toilkit_tests::Gate;

fn schedule() -> Value {
    json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
}

/// Runs `event` at `at` on its own thread and runtime, with its own AWS
/// clients, its WAF calls behind `gate` (a held call must not hold up the
/// other run's connections).
fn run_stalled(
    mut app: waf_ip_blocker::App,
    table: String,
    event: Value,
    at: i64,
    gate: Gate,
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
                .interceptor(gate)
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
/// is eventually consistent). B must not take A's block for an operator's
/// (`preexisting`): the address would never be removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_address_a_concurrent_run_added_is_removed_when_its_block_ends() {
    let fx = Fixture::new().await;
    let env = [("THRESHOLD", "5"), ("BLOCK_MINUTES", "30")];
    let app_a = fx.app(&env);
    let (gate, latch) = Gate::hold(".GetIPSet");
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
        gate,
    );
    // B has scanned the ledger (nothing there yet) and waits on GetIPSet.
    while !latch.is_reached() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    invoke(&app_a, fx.notification("a.log.gz")).await.unwrap();
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.90/32"]);
    latch.release();
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

/// A scheduled run ends X's block while X attacks again. The scheduled run
/// (A) read the ledger (X expired) and the set (X in it) and is about to
/// write the set without X. Meanwhile a run for the new object (B) re-opens
/// X's block, finds X still in the set, so makes no `UpdateIPSet`. Then
/// A's write takes X out; A's conditional delete finds B's re-opened item,
/// so A must put X back.
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
    let (gate, latch) = Gate::hold(".UpdateIPSet");
    let a = run_stalled(fx.app(&env), fx.table.clone(), schedule(), later, gate);
    // A read the ledger and the set and is about to take X out.
    while !latch.is_reached() {
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
    latch.release();
    a.join().unwrap();
    assert_eq!(
        fx.set(&fx.v4_arn).await.0,
        ["203.0.113.95/32"],
        "B reported {:?}; ledger {:?}",
        b.applied,
        fx.items().await
    );
}
