//! Window counts stored many to an item: what a busy log object costs in
//! DynamoDB, and that the counts still add up exactly across objects,
//! concurrent runs and Lambda's retries.

use std::net::Ipv4Addr;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture, SharedHttpClient};
use toilkit_tests::faults;
use waf_ip_blocker::App;

use crate::common::*;

/// An HTTP client that sends one DynamoDB `UpdateItem` at a time.
fn one_update_at_a_time(inner: SharedHttpClient) -> SharedHttpClient {
    let turn = Arc::new(tokio::sync::Mutex::new(()));
    faults::transport([inner], move |request, [inner]| {
        let update = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|t| t.ends_with(".UpdateItem"));
        let (turn, inner) = (turn.clone(), inner.clone());
        HttpConnectorFuture::new(async move {
            let _turn = if update {
                Some(turn.lock().await)
            } else {
                None
            };
            inner.call(request).await
        })
    })
}

/// `n` addresses from 10.<a>.0.0 on, each with `each` requests at `ts`.
fn crowd(ts: i64, a: u8, n: u16, each: usize) -> Vec<String> {
    (0..n)
        .flat_map(|i| {
            let ip = Ipv4Addr::new(10, a, (i >> 8) as u8, i as u8).to_string();
            flood(ts, &ip, each)
        })
        .collect()
}

fn window_of(ts_ms: i64) -> i64 {
    ts_ms / 1000 - (ts_ms / 1000).rem_euclid(300)
}

/// A five-minute object of a busy web ACL: 2,000 addresses below the
/// threshold and one attacker whose 120 requests arrive 40 per object over
/// three objects. Each object costs a few dozen DynamoDB requests, not one
/// per address, and every address's count is the exact sum of its objects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_split_over_three_busy_objects_adds_up_at_a_few_dozen_requests_each() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "100")]);
    let ts = window_ms(300);
    let window = window_of(ts);
    for (i, key) in ["a.log.gz", "b.log.gz", "c.log.gz"].iter().enumerate() {
        let at = ts + i as i64 * 1000;
        let mut lines = crowd(at, 1, 2000, 1);
        lines.extend(flood(at, "203.0.113.70", 40));
        fx.put_log(key, &lines, true).await;
        let report = invoke(&app, fx.notification(key)).await.unwrap();
        assert_eq!(report.counter("requests_counted"), 2040);
        let requests = report.counter("ledger_requests");
        assert!(
            (5..=50).contains(&requests),
            "object {key}: {requests} DynamoDB requests for 2,001 window counters"
        );
        let blocked = targets(&report.applied, "block_ip");
        if i < 2 {
            assert!(blocked.is_empty(), "{key}: {blocked:?}");
        } else {
            assert_eq!(blocked, ["203.0.113.70"]);
            let detail = report.planned[0].detail.as_ref().unwrap();
            assert_eq!(detail["window_count"], 120, "{detail}");
        }
    }
    for ip in ["10.1.0.0", "10.1.3.207", "10.1.7.99"] {
        assert_eq!(fx.window_count(window, ip).await, Some(3), "{ip}");
    }
    assert_eq!(fx.window_count(window, "203.0.113.70").await, Some(120));
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.70/32"]);
}

/// Four runs add to the same window items at once (objects delivered
/// together, Lambda scaling out). `ADD` is atomic, so no count is lost,
/// and the attacker whose 4 × 30 requests cross the threshold of 100 only
/// together is blocked by whichever run saw the total reach it.
///
/// DynamoDB applies the writes to one item one at a time; the emulator
/// (a threaded server) does not, and loses concurrent `ADD`s to one item.
/// So each `UpdateItem` here is sent alone, as DynamoDB would apply it,
/// while the four runs' requests interleave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_adding_to_one_window_item_lose_no_count() {
    let fx = Fixture::new().await;
    let sdk = fx
        .sdk
        .to_builder()
        .http_client(one_update_at_a_time(fx.sdk.http_client().unwrap()))
        .build();
    let app = App::new(
        fx.config(&[("THRESHOLD", "100")]),
        &sdk,
        shared::output::Output::default(),
    );
    let ts = window_ms(300);
    let window = window_of(ts);
    let keys = ["p.log.gz", "q.log.gz", "r.log.gz", "s.log.gz"];
    for (i, key) in keys.iter().enumerate() {
        let at = ts + i as i64 * 1000;
        let mut lines = crowd(at, 2, 300, 2);
        lines.extend(flood(at, "203.0.113.71", 30));
        fx.put_log(key, &lines, true).await;
    }
    let runs = keys.map(|key| invoke(&app, fx.notification(key)));
    let [a, b, c, d] = runs;
    let (a, b, c, d) = tokio::join!(a, b, c, d);
    let reports = [a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()];
    for ip in ["10.2.0.0", "10.2.0.150", "10.2.1.43"] {
        assert_eq!(fx.window_count(window, ip).await, Some(8), "{ip}");
    }
    assert_eq!(fx.window_count(window, "203.0.113.71").await, Some(120));
    let blockers = reports
        .iter()
        .filter(|r| targets(&r.planned, "block_ip") == ["203.0.113.71"])
        .count();
    assert!(blockers >= 1, "nobody blocked the attacker: {reports:?}");
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.71/32"]);
}

/// The first attempt stores all but one window item's counters (one item
/// refuses the `ADD`), so the invocation fails and Lambda retries it. The
/// retry, once the item is mended, stores the rest; what the first attempt
/// stored is not added again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_partial_write_counts_each_address_once() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "100")]);
    let ts = window_ms(300);
    let window = window_of(ts);
    let broken = fx.break_window_item(window, "10.3.0.5").await;
    // 16 items of about 125 addresses.
    fx.put_log("partial.log.gz", &crowd(ts, 3, 2000, 2), true)
        .await;
    let first = invoke(&app, fx.notification("partial.log.gz")).await;
    assert!(first.is_err(), "a count left unstored fails the invocation");
    let stored_before: Vec<Option<u64>> = {
        let mut v = Vec::new();
        for ip in ["10.3.0.0", "10.3.2.100", "10.3.7.207"] {
            v.push(fx.window_count(window, ip).await);
        }
        v
    };
    assert!(
        stored_before.contains(&Some(2)),
        "the other items were stored on the first attempt: {stored_before:?}"
    );
    fx.ddb
        .delete_item()
        .table_name(&fx.table)
        .key("pk", AttributeValue::S(broken))
        .send()
        .await
        .unwrap();
    let retry = invoke(&app, fx.notification("partial.log.gz"))
        .await
        .unwrap();
    assert_eq!(retry.counter("requests_counted"), 4000);
    let mut wrong = Vec::new();
    for i in 0..2000u16 {
        let ip = Ipv4Addr::new(10, 3, (i >> 8) as u8, i as u8).to_string();
        if i % 7 == 0 || ip == "10.3.0.5" {
            let count = fx.window_count(window, &ip).await;
            if count != Some(2) {
                wrong.push((ip, count));
            }
        }
    }
    assert!(wrong.is_empty(), "{} wrong: {wrong:?}", wrong.len());
}

/// A window item at DynamoDB's 400 KB takes no more counters. Its
/// addresses count this object's requests alone, the report says so, and
/// the run is not failed: a retry could not store them either, and the
/// delivery's attacker is blocked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_window_item_is_reported_and_does_not_stop_the_blocking() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "50")]);
    let ts = window_ms(300);
    let window = window_of(ts);
    let (full, _) = window_counter(fx.salt(), window, 300, "*", "198.51.100.9".parse().unwrap());
    fx.ddb
        .put_item()
        .table_name(&fx.table)
        .item("pk", AttributeValue::S(full))
        // Just under what the emulator takes (it refuses past 405,000 bytes;
        // DynamoDB 400 KB): the next counter does not fit.
        .item("filler", AttributeValue::S("x".repeat(404_960)))
        .send()
        .await
        .unwrap();
    let mut lines = flood(ts, "198.51.100.9", 3);
    lines.extend(flood(ts, "203.0.113.72", 60));
    fx.put_log("full.log.gz", &lines, true).await;
    let report = invoke(&app, fx.notification("full.log.gz"))
        .await
        .expect("a full item does not fail the invocation");
    assert_eq!(report.counter("window_counts_item_full"), 1);
    assert!(
        report
            .details
            .get("window_items_full")
            .is_some_and(|w| w.to_string().contains("is full (400 KB)")),
        "{:?}",
        report.details
    );
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.72/32"]);
    assert!(fx.items().await.iter().any(|pk| pk.starts_with("obj#")));
}

/// A dry run reads what other deliveries stored and adds its own counts:
/// replaying an object already counted does not find its own counts and
/// add them a second time (a false "would block"), and another object of
/// the window adds up as the real run would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_adds_what_other_deliveries_stored_and_not_its_own() {
    let fx = Fixture::new().await;
    let app = fx.app(&[("THRESHOLD", "100")]);
    let dry = fx.app(&[("THRESHOLD", "100"), ("DRY_RUN", "true")]);
    let ts = window_ms(300);
    fx.put_log("seen.log.gz", &flood(ts, "203.0.113.73", 60), true)
        .await;
    fx.put_log("next.log.gz", &flood(ts + 1000, "203.0.113.73", 50), true)
        .await;
    invoke(&app, fx.notification("seen.log.gz")).await.unwrap();
    let replay = invoke(&dry, fx.notification("seen.log.gz")).await.unwrap();
    assert!(
        targets(&replay.planned, "block_ip").is_empty(),
        "60 requests counted twice: {:?}",
        replay.planned
    );
    let next = invoke(&dry, fx.notification("next.log.gz")).await.unwrap();
    assert_eq!(targets(&next.planned, "block_ip"), ["203.0.113.73"]);
    let detail = next.planned[0].detail.as_ref().unwrap();
    assert_eq!(detail["window_count"], 110, "{detail}");
    assert!(
        fx.set(&fx.v4_arn).await.0.is_empty(),
        "a dry run blocks nothing"
    );
}
