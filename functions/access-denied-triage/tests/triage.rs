//! Deliveries of CloudTrail records through the public entry point, against
//! the emulator (state table, IAM tags, SNS, the webhook secret) and the
//! Slack receiver: what people are told, what the report says, and that a
//! retried or concurrent delivery tells them once.

use serde_json::{Value, json};
use time::macros::datetime;

use crate::common::{Fixture, delivery, eventbridge, record, schedule};

const NOW: time::OffsetDateTime = datetime!(2026-12-06 09:30 UTC);

fn morning() -> Vec<Value> {
    vec![
        record("not-denied", &[]),
        record("console-internal", &[]),
        record("scanner-access-analyzer", &[]),
        record("vpc-endpoint", &[]),
        record("assumed-role-ci", &[]),
        record("leaked-key", &[]),
    ]
}

#[tokio::test]
async fn a_delivery_is_triaged_alerted_routed_and_paged_once() {
    let mut f = Fixture::new().await;
    f.set(
        "RULES",
        r#"[{"principal":"app","action":"s3:GetObject","reason":"reads through the endpoint are being moved"}]"#,
    );
    f.route_team("payments").await;
    f.iam_user("svc-reporting", "payments").await;
    f.pager().await;
    let app = f.app();

    let outcome = f.invoke(&app, delivery(&morning()), NOW).await;
    let response = outcome.response.expect("the delivery is triaged");
    let report = &outcome.report;
    assert_eq!(report.counter("records"), 6);
    assert_eq!(report.counter("dropped_not_denied"), 1);
    assert_eq!(report.counter("dropped_console_internal"), 1);
    assert_eq!(report.counter("dropped_scanner"), 1);
    assert_eq!(report.counter("dropped_operator_rule"), 1);
    assert_eq!(report.counter("groups"), 2);
    assert_eq!(report.applied.len(), 2, "{response}");
    assert_eq!(report.applied[0].action, "page", "the leaked key first");
    assert_eq!(report.applied[1].action, "alert");
    assert_eq!(
        report.details["expected"],
        json!({"principal app, action s3:GetObject (reads through the endpoint are being moved)": 1})
    );

    // The leaked key: routed by its owner tag, paged, with what to do.
    let payments = f.texts("payments");
    assert_eq!(payments.len(), 1, "{payments:?}");
    let text = &payments[0];
    for needle in [
        "CRITICAL access denied: IAM user svc-reporting to iam:ListUsers",
        "access key AKIAZ7LEAKEDEXAMPLE1 never seen before, from 185.220.101.0/24",
        "no identity-based policy allows it",
        "Owner:* payments",
        "aws iam update-access-key --access-key-id AKIAZ7LEAKEDEXAMPLE1 --status Inactive",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    let pages = f.setup.slack.delivered_to("pager");
    assert_eq!(pages.len(), 1, "one page: {pages:?}");
    assert!(
        pages[0].to_string().contains("IAM user svc-reporting"),
        "{}",
        pages[0]
    );

    // The CI role's SCP: to the default channel, the SCP named, the rule to
    // paste if it is expected; its owner unknown (no such role in IAM).
    let security = f.texts("security");
    assert_eq!(security.len(), 1, "{security:?}");
    let text = &security[0];
    for needle in [
        "MEDIUM access denied: role ci-deploy",
        "explicit deny in an SCP (arn:aws:organizations::",
        "Expected? Add this rule, with an expiry, to RULES",
        r#"\"principal\":\"ci-deploy\""#,
        "Owner:* unknown (IAM said NoSuchEntity",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }

    // Lambda's retry of the same delivery: counted, nothing sent again.
    let retry = f.invoke(&app, delivery(&morning()), NOW).await;
    retry.response.expect("the retry succeeds");
    assert!(
        retry.report.applied.is_empty(),
        "{:?}",
        retry.report.applied
    );
    assert_eq!(retry.report.counter("skipped"), 2);
    assert_eq!(f.setup.slack.delivered().len(), 3, "nothing posted again");
}

#[tokio::test]
async fn concurrent_deliveries_of_one_principal_alert_once() {
    let f = Fixture::new().await;
    let app = f.app();
    let event = eventbridge(&record("assumed-role-ci", &[]));
    // The same denial on both paths (EventBridge and the trail's log
    // group) and a second record of the same group, at once.
    let second = record(
        "assumed-role-ci",
        &[("/eventID", json!("6f3a1c2e-0000-4000-8000-00000000ffff"))],
    );
    let (a, b, c) = tokio::join!(
        f.invoke(&app, event.clone(), NOW),
        f.invoke(&app, delivery(&[record("assumed-role-ci", &[])]), NOW),
        f.invoke(&app, eventbridge(&second), NOW),
    );
    for outcome in [&a, &b, &c] {
        assert!(outcome.response.is_ok(), "{:?}", outcome.response);
    }
    let sent: usize = [&a, &b, &c].iter().map(|o| o.report.applied.len()).sum();
    assert_eq!(sent, 1, "one alert for the group");
    assert_eq!(f.setup.slack.delivered().len(), 1);
}

#[tokio::test]
async fn a_failed_post_fails_the_invocation_and_the_retry_sends_it() {
    let f = Fixture::new().await;
    let app = f.app();
    f.setup.slack.script([
        toilkit_tests::slack::Reply::Status(500),
        toilkit_tests::slack::Reply::Status(500),
    ]);
    let event = eventbridge(&record("assumed-role-ci", &[]));
    let failed = f.invoke(&app, event.clone(), NOW).await;
    let error = failed
        .response
        .expect_err("Slack refused: Lambda must retry");
    assert_eq!(error.kind(), "SlackDeliveryFailed", "{error}");
    assert_eq!(failed.report.counter("failed"), 1);

    let retry = f.invoke(&app, event, NOW).await;
    retry.response.expect("the retry succeeds");
    assert_eq!(retry.report.applied.len(), 1, "the claim was given back");
    assert_eq!(f.texts("security").len(), 1);
}

#[tokio::test]
async fn a_dry_run_plans_and_sends_and_writes_nothing() {
    let mut f = Fixture::new().await;
    f.set("DRY_RUN", "true");
    let app = f.app();
    let event = delivery(&[record("leaked-key", &[])]);
    let first = f.invoke(&app, event.clone(), NOW).await;
    first.response.expect("planned");
    assert_eq!(first.report.planned.len(), 1);
    assert!(first.report.applied.is_empty());
    assert!(f.setup.slack.delivered().is_empty());
    // Nothing remembered: the same record is planned the same way again.
    let second = f.invoke(&app, event, NOW).await;
    assert_eq!(second.report.planned.len(), 1);
    assert_eq!(second.report.planned[0].action, "page");
}

#[tokio::test]
async fn a_malformed_record_is_counted_and_the_rest_goes_on() {
    let f = Fixture::new().await;
    let app = f.app();
    let document = json!({"messageType": "DATA_MESSAGE", "owner": "111122223333",
    "logGroup": "trail", "logStream": "s", "subscriptionFilters": ["f"],
    "logEvents": [
        {"id": "1", "timestamp": 1, "message": "{\"eventVersion\":"},
        {"id": "2", "timestamp": 2, "message": record("assumed-role-ci", &[]).to_string()}
    ]});
    let outcome = f
        .invoke(
            &app,
            toilkit_tests::logs_subscription::event(&document),
            NOW,
        )
        .await;
    outcome.response.expect("the rest of the delivery goes on");
    assert_eq!(outcome.report.counter("malformed"), 1);
    assert_eq!(outcome.report.counter("groups"), 1);
    assert!(
        outcome.report.details["first_malformed"]
            .as_str()
            .unwrap()
            .contains("log event 1 of trail")
    );
    assert_eq!(f.texts("security").len(), 1);
}

#[tokio::test]
async fn another_kind_of_event_or_a_forged_one_fails_the_invocation() {
    let f = Fixture::new().await;
    let app = f.app();
    let outcome = f
        .invoke(&app, json!({"Records": [{"eventSource": "aws:sqs"}]}), NOW)
        .await;
    assert_eq!(outcome.response.unwrap_err().kind(), "UnsupportedEvent");
    // Anyone with events:PutEvents can send this detail-type, not this source.
    let mut forged = eventbridge(&record("root", &[]));
    forged["source"] = json!("my.app");
    let outcome = f.invoke(&app, forged, NOW).await;
    assert_eq!(outcome.response.unwrap_err().kind(), "UnsupportedEvent");
    assert!(f.setup.slack.delivered().is_empty(), "nothing was posted");
}

#[tokio::test]
async fn a_group_that_turns_critical_is_announced_again_at_once() {
    let f = Fixture::new().await;
    let app = f.app();
    // The user's usual key, from its usual network, is learnt from a
    // successful call; its denial is an ordinary alert.
    let usual = [
        ("/userIdentity/accessKeyId", json!("AKIAUSUALKEYEXAMPLE1")),
        ("/sourceIPAddress", json!("198.51.100.7")),
    ];
    let mut learnt = record("leaked-key", &usual);
    learnt["errorCode"] = Value::Null;
    learnt["eventID"] = json!("learnt");
    f.invoke(&app, delivery(&[learnt]), NOW)
        .await
        .response
        .expect("learnt");
    let first = f
        .invoke(&app, delivery(&[record("leaked-key", &usual)]), NOW)
        .await;
    first.response.expect("alerted");
    assert_eq!(first.report.applied[0].action, "alert");
    // An hour later the same denial from a key and network never seen.
    let later = f
        .invoke(
            &app,
            delivery(&[record(
                "leaked-key",
                &[("/eventID", json!("from-the-leak"))],
            )]),
            NOW + time::Duration::hours(1),
        )
        .await;
    later.response.expect("alerted again");
    assert_eq!(later.report.applied.len(), 1, "{:?}", later.report.skipped);
    assert_eq!(later.report.applied[0].action, "page");
    let texts = f.texts("security");
    assert_eq!(texts.len(), 2);
    assert!(texts[1].contains("CRITICAL access denied"), "{}", texts[1]);
}

#[tokio::test]
async fn a_principal_too_long_for_a_table_key_is_still_alerted() {
    let f = Fixture::new().await;
    let app = f.app();
    let subject = format!("repo:example/{}:ref:refs/heads/main", "x".repeat(2500));
    let record = record(
        "web-identity-user",
        &[("/userIdentity/userName", json!(subject))],
    );
    let outcome = f.invoke(&app, eventbridge(&record), NOW).await;
    outcome.response.expect("DynamoDB took bounded keys");
    assert_eq!(outcome.report.applied.len(), 1);
    assert_eq!(f.texts("security").len(), 1);
}

/// Session names, user agents and messages come from callers; in Slack
/// they stay text, never a mention or a link.
#[tokio::test]
async fn hostile_text_reaches_slack_escaped() {
    let f = Fixture::new().await;
    let app = f.app();
    let hostile = record(
        "assumed-role-sso",
        &[
            (
                "/userIdentity/arn",
                json!(
                    "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Developer_0123456789abcdef/<!channel>"
                ),
            ),
            ("/eventName", json!("Get<https://evil.example|click>")),
        ],
    );
    let outcome = f.invoke(&app, eventbridge(&hostile), NOW).await;
    outcome.response.expect("triaged");
    let texts = f.texts("security");
    assert_eq!(texts.len(), 1);
    toilkit_tests::slack::assert_markup_escaped(
        &texts[0],
        &["&lt;!channel&gt;", "&lt;https://evil.example|click&gt;"],
    );
}

#[tokio::test]
async fn the_digest_names_the_most_denied_the_new_and_the_expired_once() {
    let mut f = Fixture::new().await;
    f.set(
        "RULES",
        r#"[{"principal":"old-batch","reason":"batch migration","expires":"2026-11-30"}]"#,
    );
    let app = f.app();
    let mut records = vec![record("leaked-key", &[])];
    for i in 0..3 {
        records.push(record(
            "assumed-role-ci",
            &[("/eventID", json!(format!("ci-{i}")))],
        ));
    }
    f.invoke(&app, delivery(&records), NOW)
        .await
        .response
        .expect("triaged");
    // Lambda's retry, after midnight, counts nothing twice and nothing on
    // the wrong day.
    f.invoke(&app, delivery(&records), datetime!(2026-12-07 00:05 UTC))
        .await
        .response
        .expect("triaged again");
    let before = f.setup.slack.delivered().len();

    let tomorrow = datetime!(2026-12-07 08:00 UTC);
    let digest = f.invoke(&app, schedule("digest-1"), tomorrow).await;
    digest.response.expect("the digest is posted");
    let texts = f.texts("security");
    assert_eq!(f.setup.slack.delivered().len(), before + 1);
    let text = texts.last().unwrap();
    for needle in [
        "Access denied digest for 2026-12-06",
        "4 denied call(s) after noise, in 2 group(s)",
        "role ci-deploy",
        "IAM user svc-reporting",
        "Expired rules",
        "old-batch",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    assert!(
        text.find("role ci-deploy").unwrap() < text.find("IAM user svc-reporting").unwrap(),
        "most denied first: {text}"
    );

    let again = f.invoke(&app, schedule("digest-1"), tomorrow).await;
    again.response.expect("a retried digest succeeds");
    assert!(again.report.applied.is_empty());
    assert_eq!(f.texts("security").len(), texts.len(), "posted once");
}

#[tokio::test]
async fn a_page_that_fails_still_reaches_slack_and_fails_the_invocation() {
    let mut f = Fixture::new().await;
    f.set(
        "CRITICAL_TOPIC_ARN",
        "arn:aws:sns:us-east-1:123456789012:no-such-pager",
    );
    let app = f.app();
    let outcome = f
        .invoke(&app, eventbridge(&record("leaked-key", &[])), NOW)
        .await;
    let error = outcome
        .response
        .expect_err("the page failed: Lambda retries");
    assert_eq!(error.kind(), "Sns", "{error}");
    let texts = f.texts("security");
    assert_eq!(texts.len(), 1, "Slack still got the alert");
    assert!(texts[0].contains("CRITICAL access denied"), "{}", texts[0]);
}

#[tokio::test]
async fn a_team_webhook_that_cannot_be_read_falls_back_to_the_default_channel() {
    let mut f = Fixture::new().await;
    f.set("ROUTES", r#"{"payments": "secret:no-such-webhook"}"#);
    f.iam_user("svc-reporting", "payments").await;
    let app = f.app();
    let outcome = f
        .invoke(&app, eventbridge(&record("leaked-key", &[])), NOW)
        .await;
    outcome.response.expect("sent to the default channel");
    assert_eq!(f.texts("security").len(), 1);
    let route = outcome.report.applied[0].detail.as_ref().unwrap()["route"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        route.starts_with("default (the webhook of payments could not be read"),
        "{route}"
    );
}

#[tokio::test]
async fn a_flood_of_ordinary_denials_is_capped_into_one_message() {
    let f = Fixture::new().await;
    let app = f.app();
    // A broken deploy: thirty roles denied the same call at once.
    let records: Vec<Value> = (0..30)
        .map(|i| {
            record(
                "assumed-role-ci",
                &[
                    ("/eventID", json!(format!("flood-{i}"))),
                    (
                        "/userIdentity/sessionContext/sessionIssuer/arn",
                        json!(format!("arn:aws:iam::111122223333:role/ci/deploy-{i}")),
                    ),
                    (
                        "/userIdentity/sessionContext/sessionIssuer/userName",
                        json!(format!("deploy-{i}")),
                    ),
                ],
            )
        })
        .collect();
    let outcome = f.invoke(&app, delivery(&records), NOW).await;
    outcome.response.expect("triaged");
    assert_eq!(
        outcome.report.applied.len(),
        access_denied_triage::apply::MAX_ORDINARY_ALERTS
    );
    assert_eq!(outcome.report.counter("skipped"), 10);
    let texts = f.texts("security");
    assert_eq!(texts.len(), 21, "twenty alerts and one list");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("10 more ordinary access denied alert(s) in one delivery")),
        "{texts:?}"
    );
}
