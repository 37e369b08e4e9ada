//! Faults: a digest Slack refuses, and what the next report does about it.

use toilkit_tests::Reply;

use crate::common::{BASE_IMAGE, Fixture, item};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_slack_refuses_is_told_again_next_time_and_the_others_go_out() {
    let f = Fixture::new("sa-east-1").await;
    let alpha = f
        .launch(1, BASE_IMAGE, &[("owner", "alpha")], None, None)
        .await
        .remove(0);
    let beta = f
        .launch(1, BASE_IMAGE, &[("owner", "beta")], None, None)
        .await
        .remove(0);
    let app = f.app();
    // alpha's digest goes first (owners in order); Slack fails both tries.
    f.slack.script([Reply::Status(500), Reply::Status(500)]);
    let first = f.report(&app, 0).await;
    let error = first.response.as_ref().expect_err("a digest failed");
    assert_eq!(error.kind(), "DigestsPartlySent", "{error}");
    assert!(error.to_string().contains("alpha"), "{error}");
    assert_eq!(first.report.failed.len(), 1);
    assert_eq!(first.report.failed[0].target, "alpha");
    assert_eq!(first.report.applied.len(), 1);
    assert_eq!(first.report.applied[0].target, "beta");
    assert_eq!(
        f.records().await,
        [format!("instance#{beta}")],
        "only the delivered owner's state is written"
    );

    // The next report tells alpha its finding as new, since alpha never
    // heard of it, and beta its finding as still open.
    let second = f.report(&app, 1).await;
    second.response.as_ref().expect("the second report ran");
    let a = item(&second, &format!("{alpha}/unmanaged")).unwrap();
    let b = item(&second, &format!("{beta}/unmanaged")).unwrap();
    assert_eq!(a["fields"]["change"], "new");
    assert_eq!(b["fields"]["change"], "still_open");
    let texts = f.texts("ops");
    assert_eq!(texts.len(), 3, "beta, then alpha and beta: {texts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_that_reaches_the_deadline_sends_and_writes_nothing_and_says_so() {
    let f = Fixture::new("eu-south-1").await;
    f.launch(1, BASE_IMAGE, &[("owner", "gamma")], None, None)
        .await;
    let outcome = patch_waves::process(
        serde_json::json!({"action": "report"}),
        &f.app(),
        crate::common::NOW,
        &shared::Deadline::after(std::time::Duration::ZERO),
    )
    .await;
    let response = outcome
        .response
        .as_ref()
        .expect("stopping early is no error");
    assert_eq!(response["stopped_early"], true, "{response}");
    let reason = response["stop_reason"].as_str().unwrap();
    assert!(reason.starts_with("deadline"), "{reason}");
    assert!(reason.contains("nothing was sent or written"), "{reason}");
    assert!(f.slack.received().is_empty());
    assert!(f.records().await.is_empty());
}

/// Lambda retries a failed invocation with the same event: the retry posts
/// the digest that failed, and not again the ones already delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_schedule_event_posts_only_the_digests_still_undelivered() {
    let f = Fixture::new("eu-west-3").await;
    let alpha = f
        .launch(1, BASE_IMAGE, &[("owner", "alpha")], None, None)
        .await
        .remove(0);
    let beta = f
        .launch(1, BASE_IMAGE, &[("owner", "beta")], None, None)
        .await
        .remove(0);
    let app = f.app();
    let schedule = serde_json::json!({"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
        "time": "2026-12-07T06:00:00Z", "region": "eu-west-3", "resources": [], "detail": {}});
    let deadline = shared::Deadline::unbounded();
    let run = |payload: serde_json::Value| {
        patch_waves::process(payload, &app, crate::common::NOW, &deadline)
    };
    // alpha's digest goes first (owners in order); Slack fails both tries.
    f.slack.script([Reply::Status(500), Reply::Status(500)]);
    let first = run(schedule.clone()).await;
    assert!(first.response.is_err(), "alpha's digest failed");
    assert_eq!(f.texts("ops").len(), 1, "beta's digest went out");

    let retry = run(schedule.clone()).await;
    retry
        .response
        .as_ref()
        .expect("the retry delivered alpha's");
    let texts = f.texts("ops");
    assert_eq!(texts.len(), 2, "beta's is not posted twice: {texts:?}");
    assert!(texts[1].contains("alpha"), "{}", texts[1]);
    assert_eq!(retry.report.counter("digests_already_sent"), 1);
    assert_eq!(retry.report.counter("digests_sent"), 1);
    // alpha heard of its finding once, as new.
    assert!(texts[1].contains(&alpha), "{}", texts[1]);
    assert!(!texts[1].contains(&beta), "{}", texts[1]);

    // A third attempt of the same event posts nothing at all.
    let third = run(schedule).await;
    third.response.as_ref().expect("nothing left to do");
    assert_eq!(f.texts("ops").len(), 2);
    assert_eq!(third.report.counter("digests_already_sent"), 2);
}

/// A team whose webhook cannot be read (a deleted secret) still hears of
/// its fleet: the default channel gets the digest, saying why it is there,
/// and the report counts it, so an alarm can watch for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_whose_webhook_cannot_be_read_reaches_the_default_channel_saying_why() {
    let mut f = Fixture::new("ap-south-1").await;
    f.set(
        "ROUTES",
        r#"{"zeta": "arn:aws:secretsmanager:ap-south-1:123456789012:secret:deleted-zeta-AbCdEf"}"#,
    );
    f.launch(1, BASE_IMAGE, &[("owner", "zeta")], None, None)
        .await;
    let outcome = f.report(&f.app(), 0).await;
    outcome.response.as_ref().expect("the digest was delivered");
    assert_eq!(outcome.report.counter("digests_to_default_route"), 1);
    let texts = f.texts("ops");
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("Sent here because the webhook of route zeta could not be read"),
        "{}",
        texts[0]
    );
    assert!(!texts[0].contains("arn:aws:secretsmanager"), "{}", texts[0]);
}

/// An earlier attempt of the same schedule event claimed a digest and never
/// said it posted it (it timed out, or Slack failed and the claim could not
/// be given back): the retry posts it, a duplicate being better than a
/// digest nobody got, and marks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_never_marked_delivered_is_posted_by_the_retry() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let f = Fixture::new("ap-southeast-1").await;
    f.launch(1, BASE_IMAGE, &[("owner", "eta")], None, None)
        .await;
    let id = "0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6";
    let ddb = aws_sdk_dynamodb::Client::new(&f.sdk);
    let pk = format!("digest#{id}#eta");
    ddb.put_item()
        .table_name(&f.table)
        .item("pk", AttributeValue::S(pk.clone()))
        .item("expires_at", AttributeValue::N("1999999999".into()))
        .send()
        .await
        .expect("an earlier attempt's claim");
    let schedule = serde_json::json!({"version": "0", "id": id,
        "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
        "time": "2026-12-07T06:00:00Z", "region": "ap-southeast-1", "resources": [], "detail": {}});
    let outcome = patch_waves::process(
        schedule,
        &f.app(),
        crate::common::NOW,
        &shared::Deadline::unbounded(),
    )
    .await;
    outcome.response.as_ref().expect("the retry posted it");
    assert_eq!(outcome.report.counter("digests_sent"), 1);
    assert_eq!(f.texts("ops").len(), 1);
    let claim = ddb
        .get_item()
        .table_name(&f.table)
        .key("pk", AttributeValue::S(pk))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        claim.item().and_then(|i| i.get("delivered")),
        Some(&AttributeValue::Bool(true)),
        "marked, so a further retry leaves it alone"
    );
}
