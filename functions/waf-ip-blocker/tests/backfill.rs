//! A backfill, as its state machine drives the real handler: batches of
//! listed objects (the Distributed Map's `ItemBatcher` input), retried
//! batches, and the last step; live and dry.

use serde_json::{Value, json};
use waf_ip_blocker::App;

use crate::common::*;

const RUN: &str = "incident-replay";

/// The logs of an incident an hour old and one six hours old, under a
/// prefix, in the order `ListObjectsV2` lists them. 203.0.113.1 sends 40
/// requests in each of three objects of one window (120 of 100: blocked
/// only once the third object is added to the first two); 203.0.113.2
/// sends 33 in each (99: never); 203.0.113.3 sent 150 six hours ago (its
/// four-hour block would have ended two hours ago).
async fn incident(fx: &Fixture) -> (i64, Vec<Value>) {
    let now = waf_ip_blocker::now();
    let hour_ago = now - 3600;
    let window = hour_ago - hour_ago.rem_euclid(300);
    let ts = (window + 5) * 1000;
    for i in 0..3 {
        let at = ts + i * 1000;
        let mut lines = flood(at, "203.0.113.1", 40);
        lines.extend(flood(at + 500, "203.0.113.2", 33));
        fx.put_log(&format!("AWSLogs/2026/11/01/a{i}.log.gz"), &lines, true)
            .await;
    }
    fx.put_log(
        "AWSLogs/2026/11/01/a3.log.gz",
        &flood(ts + 5000, "192.0.2.50", 3),
        true,
    )
    .await;
    let old = now - 6 * 3600;
    let old = (old - old.rem_euclid(300) + 5) * 1000;
    fx.put_log(
        "AWSLogs/2026/11/01/b0.log.gz",
        &flood(old, "203.0.113.3", 150),
        true,
    )
    .await;
    let listed = fx
        .s3
        .list_objects_v2()
        .bucket(&fx.bucket)
        .prefix("AWSLogs/2026/11/")
        .send()
        .await
        .unwrap();
    let items = listed
        .contents()
        .iter()
        .map(|o| {
            json!({"Key": o.key().unwrap(), "ETag": o.e_tag().unwrap(),
                   "Size": o.size().unwrap(), "StorageClass": "STANDARD",
                   "LastModified": "2026-11-01T00:05:00Z"})
        })
        .collect();
    (window, items)
}

fn batch(fx: &Fixture, items: &[Value], dry_run: bool) -> Value {
    json!({"backfill": {"bucket": fx.bucket, "run": RUN, "dry_run": dry_run}, "Items": items})
}

fn finish(fx: &Fixture, dry_run: bool) -> Value {
    json!({"backfill_finish": {"bucket": fx.bucket, "run": RUN, "dry_run": dry_run}})
}

fn app(fx: &Fixture) -> App {
    fx.app(&[("THRESHOLD", "100"), ("BLOCK_MINUTES", "240")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_adds_windows_up_across_batches_once_and_writes_the_sets_only_at_the_end() {
    let fx = Fixture::new().await;
    let app = app(&fx);
    let (window, items) = incident(&fx).await;
    assert_eq!(items.len(), 5);
    let batches: Vec<Value> = items.chunks(2).map(|c| batch(&fx, c, false)).collect();

    let first = invoke(&app, batches[0].clone()).await.unwrap();
    assert_eq!(first.counter("objects_read"), 2);
    assert!(targets(&first.planned, "block_ip").is_empty());
    let second = invoke(&app, batches[1].clone()).await.unwrap();
    assert_eq!(targets(&second.planned, "block_ip"), ["203.0.113.1"]);
    let detail = second.planned[0].detail.as_ref().unwrap();
    assert_eq!(detail["window_count"], 120, "{detail}");
    // Blocked for four hours from the offence (an hour ago), not from now.
    let until = time::OffsetDateTime::parse(
        detail["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp();
    assert!(
        (window + 4 * 3600..window + 4 * 3600 + 300).contains(&until),
        "{detail}"
    );
    assert_eq!(second.counter("ipset_writes"), 0);
    assert!(targets(&second.planned, "update_ip_set").is_empty());

    // The map retries a batch that succeeded (its result was lost): its
    // objects are marked counted and are skipped.
    let again = invoke(&app, batches[1].clone()).await.unwrap();
    assert_eq!(again.counter("objects_already_counted"), 2);
    assert_eq!(again.counter("objects_read"), 0);
    // And one that failed after storing its counts, before marking them:
    // the counts are tagged with their objects, so nothing adds twice.
    for item in &items[..2] {
        let marker = format!(
            "obj#{}/{}#{}",
            fx.bucket,
            item["Key"].as_str().unwrap(),
            item["ETag"].as_str().unwrap().trim_matches('"')
        );
        assert!(fx.items().await.contains(&marker), "{marker}");
        fx.ddb
            .delete_item()
            .table_name(&fx.table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(marker))
            .send()
            .await
            .unwrap();
    }
    let recounted = invoke(&app, batches[0].clone()).await.unwrap();
    assert_eq!(recounted.counter("objects_read"), 2);
    assert_eq!(fx.window_count(window, "203.0.113.1").await, Some(120));
    assert_eq!(fx.window_count(window, "203.0.113.2").await, Some(99));

    let old = invoke(&app, batches[2].clone()).await.unwrap();
    assert_eq!(old.counter("blocks_already_over"), 1);
    assert!(targets(&old.planned, "block_ip").is_empty());
    let skipped = old
        .skipped
        .iter()
        .find(|s| s.target == "203.0.113.3")
        .expect("the old attacker is reported");
    assert!(
        skipped.reason.contains("reported, not written"),
        "{skipped:?}"
    );

    // Nothing reached a set yet; the ledger holds the one live block.
    assert!(fx.set(&fx.v4_arn).await.0.is_empty());
    let ledger = fx.items().await;
    assert!(ledger.contains(&"ip#203.0.113.1".to_owned()), "{ledger:?}");
    assert!(
        !ledger.iter().any(|pk| pk.contains("203.0.113.3")),
        "{ledger:?}"
    );

    let done = invoke(&app, finish(&fx, false)).await.unwrap();
    assert_eq!(done.counter("ipset_writes"), 1, "{done:?}");
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.1/32"]);
    // The last step retried writes nothing more.
    let again = invoke(&app, finish(&fx, false)).await.unwrap();
    assert_eq!(again.counter("ipset_writes"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_backfill_reports_who_and_when_and_touches_only_its_scratch_items() {
    let fx = Fixture::new().await;
    let app = app(&fx);
    let (window, items) = incident(&fx).await;
    let batches: Vec<Value> = items.chunks(2).map(|c| batch(&fx, c, true)).collect();
    for b in [&batches[0], &batches[1], &batches[1], &batches[2]] {
        let report = invoke(&app, b.clone()).await.unwrap();
        assert!(report.dry_run);
        assert_eq!(report.counter("ipset_writes"), 0);
    }
    let report = invoke(&app, finish(&fx, true)).await.unwrap();
    assert!(report.dry_run);
    let who = report.details["would_block"].as_array().unwrap().clone();
    let addresses: Vec<&str> = who.iter().map(|w| w["address"].as_str().unwrap()).collect();
    assert_eq!(addresses, ["203.0.113.3", "203.0.113.1"], "{who:?}");
    let old = &who[0];
    assert_eq!(old["block_over"], true, "{old}");
    let recent = &who[1];
    assert_eq!(recent["block_over"], false, "{recent}");
    assert_eq!(
        recent["first_blocked_in_window"],
        waf_ip_blocker::notify::rfc3339(window)
    );
    // The batch retried counted nothing twice: 120, not 160.
    assert_eq!(recent["windows"][0]["requests"], 120, "{recent}");
    assert_eq!(report.counter("would_block"), 2);

    // No live window, marker or block; no set write.
    let ledger = fx.items().await;
    assert!(
        ledger
            .iter()
            .all(|pk| pk.starts_with(&format!("whatif#{RUN}#"))),
        "{ledger:?}"
    );
    assert!(fx.set(&fx.v4_arn).await.0.is_empty());
    assert!(fx.set(&fx.v6_arn).await.0.is_empty());
}
