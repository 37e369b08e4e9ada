//! Reports from several accounts, stored once whatever is redelivered,
//! raced or retried, against moto's DynamoDB and S3.

use serde_json::json;
use shared::envelope::Outcome;

use crate::common::{ACCOUNT_A, ACCOUNT_B, Event, Fixture, ago, now, run, state, today};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_from_two_accounts_become_current_state_items_history_and_a_page() {
    let f = Fixture::new().await;
    let app = f.app();
    let waf = Event::new(ACCOUNT_A, "waf-ip-blocker", 1, &ago(20))
        .open(
            "blocked_address",
            "203.0.113.9/32",
            json!({"hits": 40, "expires_at": ago(-60)}),
        )
        .open("blocked_address", "198.51.100.0/24", json!({"hits": 900}))
        .counters(json!({"new_blocks": 2}));
    let config = Event::new(ACCOUNT_B, "config-triage", 1, &ago(15))
        .open(
            "violation",
            "222222222222/eu-west-1/s3-public/AWS::S3::Bucket/logs",
            json!({"severity": "CRITICAL", "owner": "data"}),
        )
        .outcome("failed");
    for event in [&waf, &config] {
        let report = run(&app, event.json()).await.expect("stored");
        assert_eq!(report.counter("reports_stored"), 1, "{report:?}");
    }

    let state = state(&f);
    let mut currents = state.currents().await.unwrap();
    currents.sort_by(|a, b| a.source.cmp(&b.source));
    assert_eq!(currents.len(), 2);
    assert_eq!(currents[0].source.account, ACCOUNT_A);
    assert_eq!(currents[0].source.function, "waf-ip-blocker");
    assert_eq!(currents[0].counters["new_blocks"], 2);
    assert_eq!(currents[1].outcome, Outcome::Failed);
    assert_eq!(currents[1].failures_in_a_row, 1);
    let items = state.items(now()).await.unwrap();
    let mut keys: Vec<_> = items
        .iter()
        .map(|i| (i.source.account.as_str(), i.key.as_str()))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            (ACCOUNT_A, "198.51.100.0/24"),
            (ACCOUNT_A, "203.0.113.9/32"),
            (
                ACCOUNT_B,
                "222222222222/eu-west-1/s3-public/AWS::S3::Bucket/logs"
            ),
        ]
    );

    // History: one JSON line per report, partitioned as the Athena table reads it.
    let keys = f.history_keys("reports/").await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    let waf_key = keys.iter().find(|k| k.contains(ACCOUNT_A)).unwrap();
    assert!(
        waf_key.starts_with(&format!(
            "reports/date={}/account={ACCOUNT_A}/waf-ip-blocker-",
            today()
        )),
        "{waf_key}"
    );
    let line: serde_json::Value =
        serde_json::from_str(&f.object(&f.history, waf_key).await).unwrap();
    assert_eq!(line["function"], "waf-ip-blocker");
    assert_eq!(line["outcome"], "ok");
    // The envelope whole, as the JSON text the Athena table's `detail`
    // string column reads (json_extract in a query).
    let detail: serde_json::Value =
        serde_json::from_str(line["detail"].as_str().expect("detail is JSON text")).unwrap();
    assert_eq!(detail["items"][0]["key"], "203.0.113.9/32");

    // The day's summary counts each report and the open items it left.
    let days = state.day(today()).await.unwrap();
    let waf_day = days
        .iter()
        .find(|d| d.source.function == "waf-ip-blocker")
        .unwrap();
    assert_eq!(waf_day.runs, 1);
    assert_eq!(waf_day.open_by_kind["blocked_address"], 2);
    assert_eq!(waf_day.counters["new_blocks"], 2);

    // The first change rendered the page; the second came inside
    // RENDER_INTERVAL_SECONDS, so the page still shows the first alone.
    let first = f.dashboard_page().await;
    assert!(
        first.contains(r##"id="sum-accounts" href="#runs">1<"##),
        "{first}"
    );
    let render = run(&app, json!({"job": "render"})).await.unwrap();
    assert_eq!(render.applied[0].action, "render_dashboard");
    let page = f.dashboard_page().await;
    for shown in [
        r##"id="sum-accounts" href="#runs">2<"##,
        r##"id="sum-blocked" href="#blocked-list">2<"##,
        r##"id="sum-critical" href="#violations-critical">1<"##,
        r##"id="sum-failed" href="#failed-runs">1<"##,
        "203.0.113.9/32",
        ACCOUNT_B,
    ] {
        assert!(page.contains(shown), "{shown} not on the page");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_report_changes_nothing_twice() {
    let f = Fixture::new().await;
    let app = f.app();
    let event = Event::new(ACCOUNT_A, "log-retention", 1, &ago(5))
        .open(
            "log_group",
            "eu-west-1:/aws/lambda/api",
            json!({"retention_days": 14}),
        )
        .outcome("failed")
        .counters(json!({"applied": 1}));
    run(&app, event.json()).await.unwrap();
    let again = run(&app, event.json()).await.unwrap();
    assert_eq!(again.counter("duplicates"), 1, "{again:?}");
    assert_eq!(again.counter("reports_stored"), 0);
    assert_eq!(again.counter("items_written"), 0);

    let state = state(&f);
    let current = state.currents().await.unwrap().remove(0);
    assert_eq!(
        current.failures_in_a_row, 1,
        "a redelivery is not a second failure"
    );
    let day = state.day(today()).await.unwrap().remove(0);
    assert_eq!((day.runs, day.failed), (1, 1));
    assert_eq!(day.counters["applied"], 1);
    assert_eq!(f.history_keys("reports/").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_reports_close_items_count_failures_and_an_older_one_arriving_late_overwrites_nothing()
 {
    let f = Fixture::new().await;
    let app = f.app();
    let first = Event::new(ACCOUNT_A, "maintenance-switch", 1, &ago(30))
        .open("window", "w-1", json!({"phase": "on"}))
        .open(
            "listener",
            "arn:aws:elasticloadbalancing:eu-west-1:111111111111:listener/app/a/1/2",
            json!({}),
        )
        .outcome("failed");
    let second = Event::new(ACCOUNT_A, "maintenance-switch", 2, &ago(20))
        .closed("window", "w-1")
        .outcome("failed");
    let third = Event::new(ACCOUNT_A, "maintenance-switch", 3, &ago(10))
        .open("window", "w-2", json!({"phase": "scheduled"}))
        .outcome("failed");
    run(&app, first.json()).await.unwrap();
    run(&app, third.json()).await.unwrap();
    // The second arrives after the third: counted in its day, nothing else.
    let late = run(&app, second.json()).await.unwrap();
    assert_eq!(late.counter("late"), 1, "{late:?}");

    let state = state(&f);
    let current = state.currents().await.unwrap().remove(0);
    assert_eq!(current.run_id, "run-maintenance-switch-3");
    assert_eq!(
        current.failures_in_a_row, 2,
        "first and third were applied in order"
    );
    let mut keys: Vec<String> = state
        .items(now())
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.key)
        .collect();
    keys.sort();
    assert!(keys.contains(&"w-2".to_owned()), "{keys:?}");
    let day = state.day(today()).await.unwrap().remove(0);
    assert_eq!(day.runs, 3);

    // A fourth, in order, closes w-2 and ends the run of failures.
    let fourth = Event::new(ACCOUNT_A, "maintenance-switch", 4, &ago(5)).closed("window", "w-2");
    run(&app, fourth.json()).await.unwrap();
    let current = state.currents().await.unwrap().remove(0);
    assert_eq!(current.failures_in_a_row, 0);
    let windows: Vec<String> = state
        .items(now())
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.kind == "window")
        .map(|i| i.key)
        .collect();
    assert!(
        windows.is_empty(),
        "w-1 was closed by the late report, the last to speak of it: {windows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_schema_is_stored_and_flagged_and_a_non_report_is_kept_under_rejected() {
    let f = Fixture::new().await;
    let app = f.app();
    let mut future = Event::new(ACCOUNT_A, "waf-ip-blocker", 1, &ago(5))
        .open("blocked_address", "192.0.2.1/32", json!({}))
        .json();
    future["detail"]["schema_version"] = json!(2);
    future["detail"]["items"] = json!({"a": "new shape"});
    let report = run(&app, future).await.expect("stored, not dropped");
    assert_eq!(report.counter("flagged"), 1, "{report:?}");
    let state = state(&f);
    let current = state.currents().await.unwrap().remove(0);
    assert!(current.unknown_schema);
    assert_eq!(current.schema_version, 2);
    assert!(state.items(now()).await.unwrap().is_empty());
    let kept = f.history_keys("reports/").await;
    assert_eq!(kept.len(), 1);
    let line = f.object(&f.history, &kept[0]).await;
    assert!(line.contains("new shape"), "stored as it came: {line}");

    let mut broken = Event::new(ACCOUNT_B, "config-triage", 1, &ago(5)).json();
    broken["detail"]["ended_at"] = json!("yesterday");
    let report = run(&app, broken)
        .await
        .expect("a bad event is kept, not retried");
    assert_eq!(report.counter("rejected"), 1);
    let rejected = f.history_keys("rejected/").await;
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(
        f.object(&f.history, &rejected[0])
            .await
            .contains("yesterday")
    );
    assert_eq!(state.currents().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envelope_naming_another_account_is_stored_under_the_sender_and_flagged() {
    let f = Fixture::new().await;
    let app = f.app();
    let mut event = Event::new(ACCOUNT_A, "log-retention", 1, &ago(5)).json();
    event["detail"]["account"] = json!(ACCOUNT_B);
    let report = run(&app, event).await.unwrap();
    assert_eq!(report.counter("flagged"), 1);
    let current = state(&f).currents().await.unwrap().remove(0);
    assert_eq!(current.source.account, ACCOUNT_A);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_at_eventbridges_size_limit_is_stored_whole() {
    let f = Fixture::new().await;
    let app = f.app();
    // About 1,500 items, near the 240 KB a function's event may hold.
    let mut event = Event::new(ACCOUNT_A, "waf-ip-blocker", 1, &ago(5));
    for i in 0..1_500u32 {
        event = event.open(
            "blocked_address",
            &format!("10.{}.{}.{}/32", i >> 16, (i >> 8) & 255, i & 255),
            json!({"hits": i, "reason": "x".repeat(80)}),
        );
    }
    let mut json = event.json();
    json["detail"]["items_omitted"] = json!(700);
    assert!(
        json.to_string().len() > 200 * 1024,
        "{}",
        json.to_string().len()
    );
    let report = run(&app, json).await.unwrap();
    assert_eq!(report.counter("items_written"), 1_500);
    let state = state(&f);
    assert_eq!(state.items(now()).await.unwrap().len(), 1_500);
    assert_eq!(state.currents().await.unwrap()[0].items_omitted, 700);

    // The next report, unchanged, rewrites none of them.
    let mut next = event;
    next.id = "evt-next".into();
    next.run_id = "run-next".into();
    next.ended_at = ago(1);
    let report = run(&app, next.json()).await.unwrap();
    assert_eq!(report.counter("items_written"), 0);
    assert_eq!(report.counter("items_unchanged"), 1_500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reports_of_one_source_at_once_are_both_counted_and_the_later_one_is_current() {
    let f = Fixture::new().await;
    let app = std::sync::Arc::new(f.app());
    let mut tasks = Vec::new();
    for run_no in 1..=4u32 {
        let app = app.clone();
        let event = Event::new(
            ACCOUNT_A,
            "patch-waves",
            run_no,
            &ago(40 - i64::from(run_no)),
        )
        .open("patch_finding", &format!("i-{run_no}/unmanaged"), json!({}));
        tasks.push(tokio::spawn(async move { run(&app, event.json()).await }));
    }
    for task in tasks {
        task.await.unwrap().expect("each stored");
    }
    let state = state(&f);
    let current = state.currents().await.unwrap().remove(0);
    assert_eq!(current.run_id, "run-patch-waves-4");
    let day = state.day(today()).await.unwrap().remove(0);
    assert_eq!(day.runs, 4, "every report counted once");
}

/// A crash after the items and the day were written, before the current
/// record: Lambda retries the event, which must count nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_partial_write_counts_nothing_twice() {
    use std::sync::atomic::Ordering;

    let f = Fixture::new().await;
    let (app, armed) = f.app_failing("PutItem", r#""pk":{"S":"current"}"#);

    let event = Event::new(ACCOUNT_A, "rds-audit-notifier", 1, &ago(2))
        .open(
            "audit_alert",
            "db-1/123",
            json!({"categories": ["ddl", "privilege"]}),
        )
        .counters(json!({"alerts": 1}));
    let error = run(&app, event.json())
        .await
        .expect_err("the current record could not be written");
    assert_eq!(error.kind(), "State", "{error}");
    armed.store(false, Ordering::SeqCst);
    run(&app, event.json()).await.expect("the retry stores it");

    let state = state(&f);
    let day = state.day(today()).await.unwrap().remove(0);
    assert_eq!(day.runs, 1, "the retry did not count the report again");
    assert_eq!(day.counters["alerts"], 1);
    assert_eq!(day.records["audit_alert/ddl"], 1);
    assert_eq!(day.records["audit_alert/privilege"], 1);
    assert_eq!(
        state.currents().await.unwrap()[0].run_id,
        "run-rds-audit-notifier-1"
    );
    assert_eq!(f.history_keys("reports/").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guardduty_finding_forwarded_to_the_hub_is_kept_as_an_open_item_until_archived() {
    let f = Fixture::new().await;
    let app = f.app();
    let finding = |id: &str, time: &str, archived: bool| {
        json!({
            "version": "0", "id": id, "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
            "account": ACCOUNT_B, "time": time, "region": "eu-west-1", "resources": [],
            "detail": {"schemaVersion": "2.0", "accountId": ACCOUNT_B, "region": "eu-west-1",
                "id": "5ec1a0b2", "type": "UnauthorizedAccess:EC2/SSHBruteForce", "severity": 5,
                "title": "SSH brute force against i-0abc", "createdAt": time, "updatedAt": time,
                "service": {"archived": archived, "count": 3}}
        })
    };
    run(&app, finding("gd-1", &ago(10), false)).await.unwrap();
    let state = state(&f);
    let items = state.items(now()).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].source.function, "guardduty");
    assert_eq!(items[0].kind, "finding");
    assert_eq!(items[0].fields["severity"], "MEDIUM");

    run(&app, finding("gd-2", &ago(5), true)).await.unwrap();
    assert!(state.items(now()).await.unwrap().is_empty());
    assert_eq!(f.history_keys("reports/").await.len(), 2);
}
