//! The heartbeat and the digest: silence and repeated failures are told once
//! in Slack, a refused delivery is told again, and the digest links to the
//! page it has just written.

use serde_json::json;
use toilkit_tests::slack::Reply;

use crate::common::{ACCOUNT_A, ACCOUNT_B, Event, Fixture, ago, run};

/// config-triage reports daily; the default margin is an hour.
const OVERDUE: i64 = 1440 + 61;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_function_and_one_failing_in_a_row_are_alerted_once() {
    let f = Fixture::new().await;
    let app = f.app();
    run(
        &app,
        Event::new(ACCOUNT_A, "config-triage", 1, &ago(OVERDUE)).json(),
    )
    .await
    .unwrap();
    // On time: reported an hour ago.
    run(
        &app,
        Event::new(ACCOUNT_B, "config-triage", 1, &ago(60)).json(),
    )
    .await
    .unwrap();
    for n in 1..=3 {
        let event =
            Event::new(ACCOUNT_B, "waf-ip-blocker", n, &ago(30 - i64::from(n))).outcome("failed");
        run(&app, event.json()).await.unwrap();
    }

    let report = run(&app, json!({"job": "heartbeat"})).await.unwrap();
    assert_eq!(report.counter("silent"), 1, "{report:?}");
    assert_eq!(report.counter("failing"), 1, "{report:?}");
    let texts = f.texts("ops");
    assert_eq!(texts.len(), 1, "{texts:?}");
    let text = &texts[0];
    assert!(text.contains("1 silent, 1 failing"), "{text}");
    assert!(text.contains("config-triage: silent"), "{text}");
    assert!(text.contains(ACCOUNT_A), "{text}");
    assert!(
        text.contains("waf-ip-blocker: failed 3 times in a row"),
        "{text}"
    );

    // The next heartbeat has nothing new to say.
    run(&app, json!({"job": "heartbeat"})).await.unwrap();
    assert_eq!(f.texts("ops").len(), 1);

    // A fourth failure is a new report: the streak is alerted on again.
    let fourth = Event::new(ACCOUNT_B, "waf-ip-blocker", 4, &ago(20)).outcome("failed");
    run(&app, fourth.json()).await.unwrap();
    run(&app, json!({"job": "heartbeat"})).await.unwrap();
    let texts = f.texts("ops");
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[1].contains("failed 4 times in a row"), "{}", texts[1]);
    assert!(!texts[1].contains("config-triage"), "{}", texts[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_slack_refused_fails_the_run_and_the_next_heartbeat_sends_it() {
    let f = Fixture::new().await;
    let app = f.app();
    run(
        &app,
        Event::new(ACCOUNT_A, "log-retention", 1, &ago(OVERDUE)).json(),
    )
    .await
    .unwrap();
    f.slack.script([Reply::Status(500), Reply::Status(500)]);
    let error = run(&app, json!({"job": "heartbeat"}))
        .await
        .expect_err("an undelivered alert fails the invocation");
    assert_eq!(error.kind(), "SlackDeliveryFailed");
    assert!(f.texts("ops").is_empty());

    run(&app, json!({"job": "heartbeat"})).await.unwrap();
    let texts = f.texts("ops");
    assert_eq!(texts.len(), 1);
    assert!(texts[0].contains("log-retention: silent"), "{}", texts[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_links_to_the_page_it_wrote_once_a_day() {
    let f = Fixture::new().await;
    let app = f.app();
    run(
        &app,
        Event::new(ACCOUNT_A, "waf-ip-blocker", 1, &ago(5))
            .open("blocked_address", "203.0.113.9/32", json!({"hits": 50}))
            .json(),
    )
    .await
    .unwrap();
    let report = run(&app, json!({"job": "digest"})).await.unwrap();
    assert_eq!(report.applied.len(), 2, "rendered and posted: {report:?}");
    let texts = f.texts("ops");
    assert_eq!(texts.len(), 1);
    let text = &texts[0];
    assert!(text.contains("1 account(s)"), "{text}");
    assert!(text.contains("1 open item(s)"), "{text}");
    assert!(
        text.contains("X-Amz-Expires=86400"),
        "valid for a day: {text}"
    );
    // A pre-signed link dies with the credentials that signed it, which
    // the function cannot see: the message does not promise the day.
    assert!(
        text.contains("or sooner if the role session that signed it ends"),
        "{text}"
    );

    // The link is a real pre-signed GET of the page: moto serves it.
    let message: serde_json::Value = f.slack.delivered_to("ops").remove(0);
    let link = message
        .to_string()
        .split(['"', ' ', '`', '\\'])
        .find(|w| w.starts_with("http") && w.contains("X-Amz-Signature"))
        .map(|w| w.replace("&amp;", "&"))
        .expect("a link in the message");
    assert!(link.contains(&f.dashboard), "{link}");
    let page = reqwest::get(&link).await.unwrap();
    assert_eq!(page.status(), 200, "{link}");
    assert_eq!(page.text().await.unwrap(), f.dashboard_page().await);

    let again = run(&app, json!({"job": "digest"})).await.unwrap();
    assert!(again.applied.is_empty(), "{again:?}");
    assert_eq!(f.texts("ops").len(), 1, "one digest a day");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_stores_reports_but_posts_nothing_and_writes_no_page() {
    let mut f = Fixture::new().await;
    f.set("DRY_RUN", "true");
    let app = f.app();
    run(
        &app,
        Event::new(ACCOUNT_A, "patch-waves", 1, &ago(OVERDUE)).json(),
    )
    .await
    .unwrap();
    let heartbeat = run(&app, json!({"job": "heartbeat"})).await.unwrap();
    assert_eq!(heartbeat.counter("silent"), 1, "{heartbeat:?}");
    assert!(heartbeat.applied.is_empty(), "{heartbeat:?}");
    assert!(
        heartbeat
            .skipped
            .iter()
            .any(|s| s.reason.contains("dry run")),
        "{heartbeat:?}"
    );
    run(&app, json!({"job": "digest"})).await.unwrap();
    assert!(f.texts("ops").is_empty());
    let pages = crate::common::keys(&f.s3, &f.dashboard, "").await;
    assert!(pages.is_empty(), "{pages:?}");
}

/// A hub deployed before its webhook: the silence it saw is alerted on once
/// the webhook is set, not consumed by the runs that had nowhere to post.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_without_a_webhook_wait_for_one() {
    let mut f = Fixture::new().await;
    let webhook = f
        .env
        .iter()
        .find(|(name, _)| name == "SLACK_WEBHOOK_SECRET_ARN")
        .map(|(_, value)| value.clone())
        .expect("the fixture sets a webhook");
    f.env.remove("SLACK_WEBHOOK_SECRET_ARN");
    let app = f.app();
    run(
        &app,
        Event::new(ACCOUNT_A, "log-retention", 1, &ago(OVERDUE)).json(),
    )
    .await
    .unwrap();
    let report = run(&app, json!({"job": "heartbeat"})).await.unwrap();
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.reason.contains("no Slack webhook")),
        "{report:?}"
    );
    f.set("SLACK_WEBHOOK_SECRET_ARN", &webhook);
    run(&f.app(), json!({"job": "heartbeat"})).await.unwrap();
    let texts = f.texts("ops");
    assert_eq!(texts.len(), 1);
    assert!(texts[0].contains("log-retention: silent"), "{}", texts[0]);
}
