//! What a product account's bad clock, a redelivery, a race or hostile input
//! must not do to the hub (from an adversarial review: each of these failed
//! before its fix).

use serde_json::json;
use toilkit_tests::slack::Reply;

use crate::common::{ACCOUNT_A, ACCOUNT_B, Event, Fixture, ago, now, run, state};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_dated_in_2099_is_dated_now_and_does_not_freeze_its_source() {
    let f = Fixture::new().await;
    let app = f.app();
    let future = run(
        &app,
        Event::new(ACCOUNT_A, "config-triage", 1, "2099-01-01T00:00:00Z").json(),
    )
    .await
    .unwrap();
    assert_eq!(future.counter("flagged"), 1, "{future:?}");
    for n in 2..=4 {
        let event =
            Event::new(ACCOUNT_A, "config-triage", n, &ago(-i64::from(n))).outcome("failed");
        run(&app, event.json()).await.unwrap();
    }
    let current = state(&f).currents().await.unwrap().remove(0);
    assert_eq!(current.run_id, "run-config-triage-4");
    assert_eq!(current.failures_in_a_row, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_report_redelivered_or_late_does_not_reopen_what_a_newer_one_closed() {
    let f = Fixture::new().await;
    let app = f.app();
    let r1 = Event::new(ACCOUNT_A, "waf-ip-blocker", 1, &ago(10)).open(
        "blocked_address",
        "203.0.113.9/32",
        json!({"hits": 40}),
    );
    let r2 = Event::new(ACCOUNT_A, "waf-ip-blocker", 2, &ago(5))
        .closed("blocked_address", "203.0.113.9/32");
    run(&app, r1.json()).await.unwrap();
    run(&app, r2.json()).await.unwrap();
    run(&app, r1.json()).await.unwrap();
    assert!(
        state(&f).items(now()).await.unwrap().is_empty(),
        "redelivered"
    );

    // Out of order in a second source: the close first.
    let r1 = Event::new(ACCOUNT_A, "log-retention", 1, &ago(10)).open(
        "log_group",
        "eu-west-1:/a",
        json!({}),
    );
    let r2 = Event::new(ACCOUNT_A, "log-retention", 2, &ago(5)).closed("log_group", "eu-west-1:/a");
    run(&app, r2.json()).await.unwrap();
    run(&app, r1.json()).await.unwrap();
    assert!(
        state(&f).items(now()).await.unwrap().is_empty(),
        "out of order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_close_spares_an_item_a_newer_report_named_open_unchanged() {
    let f = Fixture::new().await;
    let app = f.app();
    let fields = json!({"phase": "on"});
    let r0 = Event::new(ACCOUNT_A, "maintenance-switch", 0, &ago(30)).open(
        "window",
        "w-1",
        fields.clone(),
    );
    let r1 = Event::new(ACCOUNT_A, "maintenance-switch", 1, &ago(20)).closed("window", "w-1");
    let r2 = Event::new(ACCOUNT_A, "maintenance-switch", 2, &ago(10)).open("window", "w-1", fields);
    run(&app, r0.json()).await.unwrap();
    run(&app, r2.json()).await.unwrap();
    run(&app, r1.json()).await.unwrap();
    assert_eq!(state(&f).items(now()).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_closed_then_opened_again_in_one_report_is_open() {
    let f = Fixture::new().await;
    let app = f.app();
    let r1 = Event::new(ACCOUNT_A, "waf-ip-blocker", 1, &ago(10)).open(
        "blocked_address",
        "203.0.113.9/32",
        json!({"hits": 40}),
    );
    let r2 = Event::new(ACCOUNT_A, "waf-ip-blocker", 2, &ago(5))
        .closed("blocked_address", "203.0.113.9/32")
        .open("blocked_address", "203.0.113.9/32", json!({"hits": 80}));
    run(&app, r1.json()).await.unwrap();
    run(&app, r2.json()).await.unwrap();
    let items = state(&f).items(now()).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].fields["hits"], 80);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_that_would_break_a_key_or_an_expression_are_flagged_and_the_report_stored() {
    let f = Fixture::new().await;
    let app = f.app();
    let mut event = Event::new(ACCOUNT_A, "access-denied-triage", 1, &ago(5))
        .open(&"k".repeat(1000), "x", json!({}))
        .open("denied_call", "d-1", json!({"severity": "high"}));
    let mut counters = serde_json::Map::new();
    for i in 0..400 {
        counters.insert(format!("denied_by_service_{i}"), json!(1));
    }
    event = event.counters(json!(counters));
    let mut json = event.json();
    json["detail"]["region"] = json!("r".repeat(1100));
    let report = run(&app, json)
        .await
        .expect("stored, not failed on every retry");
    assert_eq!(report.counter("reports_stored"), 1);
    assert_eq!(report.counter("flagged"), 3, "{report:?}");
    let current = state(&f).currents().await.unwrap().remove(0);
    assert_eq!(current.source.region, "unknown");
    assert_eq!(current.counters.len(), 100);
    assert_eq!(state(&f).items(now()).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_toilkit_report_cannot_speak_for_guardduty() {
    let f = Fixture::new().await;
    let app = f.app();
    let finding = json!({
        "version": "0", "id": "gd-evt-1", "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty", "account": ACCOUNT_A, "time": ago(10), "region": "eu-west-1",
        "resources": [],
        "detail": {"id": "finding-1", "type": "Recon:EC2/PortProbeUnprotectedPort", "severity": 8.0,
                    "title": "Port probe", "service": {"archived": false}}
    });
    run(&app, finding).await.unwrap();
    let fake = Event::new(ACCOUNT_A, "guardduty", 1, &ago(1))
        .closed("finding", "finding-1")
        .json();
    let report = run(&app, fake).await.unwrap();
    assert_eq!(report.counter("rejected"), 1, "{report:?}");
    assert_eq!(state(&f).items(now()).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_that_failed_before_posting_is_posted_by_the_retry() {
    let mut f = Fixture::new().await;
    run(
        &f.app(),
        Event::new(ACCOUNT_A, "config-triage", 1, &ago(5)).json(),
    )
    .await
    .unwrap();
    let good = f.dashboard.clone();
    f.set("DASHBOARD_BUCKET", "no-such-bucket-hub");
    run(&f.app(), json!({"job": "digest"}))
        .await
        .expect_err("the page cannot be written");
    assert!(f.texts("ops").is_empty(), "nothing posted before the page");
    f.set("DASHBOARD_BUCKET", &good);
    run(&f.app(), json!({"job": "digest"})).await.unwrap();
    assert_eq!(f.texts("ops").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_left_by_an_invocation_that_died_is_taken_again_when_its_lease_runs_out() {
    let f = Fixture::new().await;
    let app = f.app();
    run(
        &app,
        Event::new(ACCOUNT_A, "config-triage", 1, &ago(1440 + 61)).json(),
    )
    .await
    .unwrap();
    // What an invocation that timed out between its claim and its post left.
    state(&f)
        .claim(
            &format!("alert#{ACCOUNT_A}#eu-west-1#config-triage#silent"),
            "run-config-triage-1",
            now() - time::Duration::minutes(30),
        )
        .await
        .unwrap();
    run(&app, json!({"job": "heartbeat"})).await.unwrap();
    assert_eq!(f.texts("ops").len(), 1, "the silent source is alerted on");
}

/// Slack took the alert of two sources, then marking their claims sent
/// failed: both claims are kept, so neither the retry nor the next
/// heartbeat posts either again while the claims' lease holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_whose_claims_could_not_be_marked_sent_is_not_posted_again() {
    use std::sync::atomic::Ordering;

    let f = Fixture::new().await;
    for account in [ACCOUNT_A, ACCOUNT_B] {
        run(
            &f.app(),
            Event::new(account, "config-triage", 1, &ago(1440 + 61)).json(),
        )
        .await
        .unwrap();
    }
    let (app, armed) = f.app_failing("UpdateItem", "SET #sent");
    run(&app, json!({"job": "heartbeat"}))
        .await
        .expect_err("the claim could not be marked sent");
    assert_eq!(f.texts("ops").len(), 1, "the alert went out");
    run(&app, json!({"job": "heartbeat"})).await.unwrap();
    armed.store(false, Ordering::SeqCst);
    run(&app, json!({"job": "heartbeat"})).await.unwrap();
    assert_eq!(f.texts("ops").len(), 1, "posted once: {:?}", f.texts("ops"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_slack_refused_halfway_posts_no_source_twice() {
    let mut f = Fixture::new().await;
    f.set("FAILURES_ALERT", "1");
    let app = f.app();
    let accounts: Vec<String> = (0..20u64)
        .map(|a| format!("{:012}", 100_000_000_000u64 + a))
        .collect();
    for account in &accounts {
        let mut event = Event::new(account, "waf-ip-blocker", 1, &ago(5))
            .outcome("failed")
            .json();
        event["detail"]["error"] = json!("x".repeat(1000));
        run(&app, event).await.unwrap();
    }
    f.slack.script([
        Reply::Ok,
        Reply::Status(500),
        Reply::Status(500),
        Reply::Status(500),
    ]);
    run(&app, json!({"job": "heartbeat"}))
        .await
        .expect_err("a refused message fails the run");
    run(&app, json!({"job": "heartbeat"})).await.unwrap();
    let texts = f.texts("ops");
    for account in &accounts {
        let times = texts
            .iter()
            .filter(|t| t.contains(account.as_str()))
            .count();
        assert_eq!(times, 1, "{account} alerted {times} times");
    }
}

/// DynamoDB cancels one of two transactions on one item at once with
/// `TransactionConflict`, which the SDK does not retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_transaction_cancelled_by_a_conflict_is_tried_again() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use toilkit_tests::faults;

    let f = Fixture::new().await;
    let conflicts = Arc::new(AtomicUsize::new(2));
    let left = conflicts.clone();
    let transport = faults::transport(
        [f.sdk.http_client().expect("moto's client")],
        move |request, [inner]| {
            let transaction = request
                .headers()
                .get("x-amz-target")
                .is_some_and(|t| t.ends_with(".TransactWriteItems"));
            if transaction
                && left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            {
                let body = json!({
                    "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                    "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [None, TransactionConflict]",
                    "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
                });
                let mut response = HttpResponse::new(
                    StatusCode::try_from(400).unwrap(),
                    SdkBody::from(body.to_string()),
                );
                response
                    .headers_mut()
                    .insert("content-type", "application/x-amz-json-1.0");
                return HttpConnectorFuture::ready(Ok(response));
            }
            inner.call(request)
        },
    );
    let sdk = f.sdk.to_builder().http_client(transport).build();
    let mut env = shared::config::Env::from_pairs(f.env.clone());
    let config = hub_collector::Config::from_env(&mut env);
    env.finish().unwrap();
    let app = hub_collector::App::new(config, &sdk, shared::output::Output::quiet());

    let report = run(
        &app,
        Event::new(ACCOUNT_A, "log-retention", 1, &ago(2)).json(),
    )
    .await
    .expect("stored after the conflicts");
    assert_eq!(report.counter("reports_stored"), 1);
    assert_eq!(
        conflicts.load(Ordering::SeqCst),
        0,
        "both conflicts were met"
    );
    let day = state(&f).day(now().date()).await.unwrap().remove(0);
    assert_eq!(day.runs, 1);
}

/// The report is stored before the page is written: a page that cannot be
/// written fails neither the event (a retry would find it stored and render
/// nothing) nor loses it; the hourly render fails loudly instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_cannot_be_written_does_not_fail_a_stored_report() {
    let mut f = Fixture::new().await;
    f.set("DASHBOARD_BUCKET", "no-such-bucket-hub");
    let app = f.app();
    let report = run(
        &app,
        Event::new(ACCOUNT_A, "log-retention", 1, &ago(2)).json(),
    )
    .await
    .expect("the report is stored");
    assert_eq!(report.counter("reports_stored"), 1);
    assert_eq!(report.failed[0].action, "render_dashboard", "{report:?}");
    assert_eq!(state(&f).currents().await.unwrap().len(), 1);
    let error = run(&app, json!({"job": "render"}))
        .await
        .expect_err("the schedule's render fails the invocation");
    assert_eq!(error.kind(), "Bucket");
}
