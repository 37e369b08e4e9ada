//! Compliance changes through the real handler logic against moto
//! (DynamoDB, tagging, SNS, SSM, Secrets Manager) and a real Slack receiver.

use crate::common::*;
use serde_json::{Value, json};
use time::Duration;
use toilkit_tests::Reply;
use toilkit_tests::slack::assert_markup_escaped;

const TABLE: &str = "AWS::DynamoDB::Table";

fn applied(outcome: &config_triage::Outcome) -> Vec<String> {
    outcome
        .report
        .applied
        .iter()
        .map(|a| a.action.clone())
        .collect()
}

#[tokio::test]
async fn a_violation_is_notified_once_and_its_resolution_once() {
    let fx = Fixture::new().await;
    let app = fx.app();
    let t0 = at("2026-03-02T09:00:00Z");
    let table = fx.tagged_table("orders", &[("Name", "orders-prod")]).await;
    let rule = "dynamodb-pitr-enabled";

    let first = event(rule, TABLE, &table, "NON_COMPLIANT", Some("COMPLIANT"), t0);
    let out = fx.run(&app, &first, t0).await;
    out.response.as_ref().expect("delivered");
    assert_eq!(applied(&out), ["notify_violation"]);
    let detail = out.report.applied[0].detail.as_ref().unwrap();
    assert_eq!(detail["transition"], "new_violation");
    assert_eq!(detail["severity"], "medium");
    let messages = texts(&fx.setup.slack, "default");
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].contains("MEDIUM Config violation: dynamodb-pitr-enabled on orders-prod"),
        "{}",
        messages[0]
    );
    assert!(messages[0].contains(&format!(
        "arn:aws:dynamodb:us-east-1:123456789012:table/{table}"
    )));
    let state = fx.state_item(&first).await.expect("state written");
    assert_eq!(state["status"], "NON_COMPLIANT");
    assert_eq!(state["announced"], true);

    // The same delivery again, and a later "still non-compliant": silence.
    let dup = fx.run(&app, &first, t0 + Duration::minutes(1)).await;
    assert!(
        dup.report.skipped[0].reason.contains("duplicate"),
        "{:?}",
        dup.report.skipped
    );
    let t1 = t0 + Duration::hours(2);
    let still = event(
        rule,
        TABLE,
        &table,
        "NON_COMPLIANT",
        Some("NON_COMPLIANT"),
        t1,
    );
    let out = fx.run(&app, &still, t1).await;
    assert!(applied(&out).is_empty());
    assert!(out.report.skipped[0].reason.contains("already notified"));
    assert_eq!(out.report.counter("repeats"), 1);
    assert_eq!(
        texts(&fx.setup.slack, "default").len(),
        1,
        "repeats are not notified"
    );

    let t2 = t0 + Duration::hours(3);
    let fixed = event(rule, TABLE, &table, "COMPLIANT", Some("NON_COMPLIANT"), t2);
    let out = fx.run(&app, &fixed, t2).await;
    assert_eq!(applied(&out), ["notify_resolution"]);
    let messages = texts(&fx.setup.slack, "default");
    assert_eq!(messages.len(), 2);
    assert!(
        messages[1].contains("Resolved: dynamodb-pitr-enabled on orders-prod"),
        "{}",
        messages[1]
    );
    assert!(
        messages[1].contains("Was non-compliant for") && messages[1].contains("3h 0m"),
        "{}",
        messages[1]
    );
    let state = fx.state_item(&fixed).await.unwrap();
    assert_eq!(state["status"], "COMPLIANT");
    assert_eq!(state["announced"], false);
    assert!(state.get("expires_at").is_some(), "settled items age out");

    // An out-of-order older delivery changes nothing.
    let late = fx.run(&app, &still, t2 + Duration::minutes(1)).await;
    assert!(late.report.skipped[0].reason.contains("out-of-order"));
    assert_eq!(fx.state_item(&fixed).await.unwrap()["status"], "COMPLIANT");
    // Nor does it tell a collector the resource is non-compliant again.
    assert!(late.report.items.is_empty(), "{:?}", late.report.items);
}

#[tokio::test]
async fn not_applicable_closes_an_announced_violation_and_other_statuses_stay_quiet() {
    let fx = Fixture::new().await;
    let app = fx.app();
    let t0 = at("2026-03-02T09:00:00Z");
    let table = fx.tagged_table("gone", &[]).await;
    let rule = "dynamodb-table-encrypted-kms";
    let out = fx
        .run(
            &app,
            &event(rule, TABLE, &table, "NON_COMPLIANT", None, t0),
            t0,
        )
        .await;
    assert_eq!(applied(&out), ["notify_violation"]);
    let t1 = t0 + Duration::hours(1);
    let out = fx
        .run(
            &app,
            &event(
                rule,
                TABLE,
                &table,
                "NOT_APPLICABLE",
                Some("NON_COMPLIANT"),
                t1,
            ),
            t1,
        )
        .await;
    assert_eq!(applied(&out), ["notify_resolution"]);
    assert_eq!(
        out.report.applied[0].detail.as_ref().unwrap()["transition"],
        "not_applicable"
    );
    assert!(texts(&fx.setup.slack, "default")[1].contains("No longer applicable"));

    // Compliant from the start, and insufficient data: nothing said or stored.
    let other = fx.tagged_table("fine", &[]).await;
    for status in ["COMPLIANT", "INSUFFICIENT_DATA", "NOT_APPLICABLE"] {
        let e = event(rule, TABLE, &other, status, None, t1);
        let out = fx.run(&app, &e, t1).await;
        assert!(out.response.is_ok());
        assert!(applied(&out).is_empty(), "{status}");
        assert!(fx.state_item(&e).await.is_none(), "{status}");
    }
    assert_eq!(texts(&fx.setup.slack, "default").len(), 2);
}

#[tokio::test]
async fn a_flapping_resource_is_held_within_the_renotify_window() {
    let mut fx = Fixture::new().await;
    fx.setup.env.set("RENOTIFY_HOURS", "6");
    let app = fx.app();
    let t0 = at("2026-03-02T09:00:00Z");
    let table = fx.tagged_table("flappy", &[]).await;
    let rule = "dynamodb-autoscaling-enabled";
    let steps = [
        (0, "NON_COMPLIANT", "COMPLIANT"),
        (10, "COMPLIANT", "NON_COMPLIANT"),
        (20, "NON_COMPLIANT", "COMPLIANT"),
        (30, "COMPLIANT", "NON_COMPLIANT"),
        (40, "NON_COMPLIANT", "COMPLIANT"),
    ];
    for (minutes, new, old) in steps {
        let t = t0 + Duration::minutes(minutes);
        let out = fx
            .run(&app, &event(rule, TABLE, &table, new, Some(old), t), t)
            .await;
        assert!(out.response.is_ok());
    }
    let messages = texts(&fx.setup.slack, "default");
    assert_eq!(
        messages.len(),
        2,
        "violation + resolution, then held: {messages:#?}"
    );
    // Still broken once the window has passed: announced again.
    let t = t0 + Duration::hours(7);
    let out = fx
        .run(
            &app,
            &event(
                rule,
                TABLE,
                &table,
                "NON_COMPLIANT",
                Some("NON_COMPLIANT"),
                t,
            ),
            t,
        )
        .await;
    assert_eq!(applied(&out), ["notify_violation"]);
    assert_eq!(texts(&fx.setup.slack, "default").len(), 3);
    assert!(texts(&fx.setup.slack, "default")[2].contains("Non-compliant for"));
}

#[tokio::test]
async fn severity_comes_from_rule_patterns_and_critical_pages_sns() {
    let mut fx = Fixture::new().await;
    let topic = fx.pager_topic().await;
    fx.setup.env.set("CRITICAL_TOPIC_ARN", &topic);
    fx.setup.env.set(
        "SEVERITY_RULES",
        r#"[{"rule": "dynamodb-pitr-*", "severity": "critical"},
            {"rule": "dynamodb-*-kms", "severity": "high"},
            {"rule": "*-tagged", "severity": "low"}]"#,
    );
    let app = fx.app();
    let t0 = at("2026-03-02T09:00:00Z");
    let table = fx.tagged_table("ledger", &[]).await;
    for (rule, expected) in [
        ("dynamodb-pitr-enabled", "CRITICAL"),
        ("dynamodb-table-encrypted-kms", "HIGH"),
        ("required-tags-tagged", "LOW"),
        ("dynamodb-autoscaling-enabled", "MEDIUM"),
    ] {
        let out = fx
            .run(
                &app,
                &event(rule, TABLE, &table, "NON_COMPLIANT", None, t0),
                t0,
            )
            .await;
        assert!(out.response.is_ok(), "{rule}");
        let last = texts(&fx.setup.slack, "default").pop().unwrap();
        assert!(
            last.contains(&format!("{expected} Config violation: {rule}")),
            "{last}"
        );
    }
    let pages: Vec<Value> = fx
        .setup
        .slack
        .delivered_to("pager")
        .into_iter()
        .filter(|b| b["Type"] == "Notification")
        .collect();
    assert_eq!(
        pages.len(),
        1,
        "only the critical violation pages: {pages:#?}"
    );
    assert!(
        pages[0]["Subject"]
            .as_str()
            .unwrap()
            .starts_with("CRITICAL Config violation: dynamodb-pitr-enabled")
    );
    assert!(pages[0]["Message"].as_str().unwrap().contains(&table));
}

#[tokio::test]
async fn exemptions_by_rule_resource_type_and_tag_apply_and_expired_ones_do_not() {
    let mut fx = Fixture::new().await;
    let parameter = format!("/{}", fx.setup.moto.unique("exemptions"));
    aws_sdk_ssm::Client::new(&fx.setup.sdk)
        .put_parameter()
        .name(&parameter)
        .value(
            r#"[{"rule": "dynamodb-pitr-enabled", "resource": "scratch-*", "reason": "throwaway data"},
                {"rule": "dynamodb-autoscaling-enabled", "expires": "2026-01-31", "reason": "capacity review"}]"#,
        )
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    fx.setup.env.set("EXEMPTIONS_PARAMETER", &parameter);
    fx.setup.env.set(
        "EXEMPTIONS",
        r#"[{"tag": {"key": "data-class", "value": "public"}, "reason": "public data set"},
            {"resource_type": "AWS::SNS::Topic", "rule": "sns-encrypted-kms"}]"#,
    );
    let app = fx.app();
    let now = at("2026-03-02T09:00:00Z");
    let public = fx
        .tagged_table("catalog", &[("data-class", "public")])
        .await;
    let internal = fx
        .tagged_table("payroll", &[("data-class", "internal")])
        .await;
    let scratch = fx.tagged_table("scratch", &[]).await;
    let topic = format!(
        "arn:aws:sns:us-east-1:123456789012:{}",
        fx.setup.moto.unique("alerts")
    );
    let cases = [
        ("dynamodb-pitr-enabled", TABLE, public.as_str(), true),
        ("dynamodb-pitr-enabled", TABLE, internal.as_str(), false),
        ("dynamodb-pitr-enabled", TABLE, scratch.as_str(), true),
        ("sns-encrypted-kms", "AWS::SNS::Topic", topic.as_str(), true),
    ];
    for (rule, kind, id, exempt) in cases {
        let out = fx
            .run(
                &app,
                &event(rule, kind, id, "NON_COMPLIANT", None, now),
                now,
            )
            .await;
        assert!(out.response.is_ok());
        if exempt {
            assert_eq!(out.report.counter("exempted"), 1, "{id}");
            assert!(
                out.report.skipped[0].reason.starts_with("exempted:"),
                "{:?}",
                out.report.skipped
            );
        } else {
            assert_eq!(applied(&out), ["notify_violation"], "{id}");
        }
        // The expired exemption is reported on every run.
        assert_eq!(out.report.counter("exemptions_expired"), 1);
        assert!(
            out.report.details["expired_exemptions"][0]
                .as_str()
                .unwrap()
                .contains("capacity review")
        );
    }
    assert_eq!(texts(&fx.setup.slack, "default").len(), 1);

    // The expired exemption no longer applies, and the message says so.
    let out = fx
        .run(
            &app,
            &event(
                "dynamodb-autoscaling-enabled",
                TABLE,
                &internal,
                "NON_COMPLIANT",
                None,
                now,
            ),
            now,
        )
        .await;
    assert_eq!(applied(&out), ["notify_violation"]);
    assert_eq!(out.report.counter("expired_exemption_matched"), 1);
    let last = texts(&fx.setup.slack, "default").pop().unwrap();
    assert!(
        last.contains("Exemption expired") && last.contains("capacity review"),
        "{last}"
    );

    // Before its expiry the same exemption silenced the violation.
    let before = at("2026-01-15T12:00:00Z");
    let other = fx.tagged_table("sessions", &[]).await;
    let out = fx
        .run(
            &app,
            &event(
                "dynamodb-autoscaling-enabled",
                TABLE,
                &other,
                "NON_COMPLIANT",
                None,
                before,
            ),
            before,
        )
        .await;
    assert_eq!(out.report.counter("exempted"), 1);
}

#[tokio::test]
async fn owners_route_to_their_team_channels_and_the_rest_to_the_default() {
    let mut fx = Fixture::new().await;
    let payments = fx
        .setup
        .slack
        .webhook_secret(&fx.setup.sdk, "payments")
        .await;
    let data = fx
        .setup
        .slack
        .webhook_parameter(&fx.setup.sdk, "data")
        .await;
    fx.setup.env.set("OWNER_TAG_KEY", "team");
    fx.setup.env.set(
        "ROUTES",
        &json!({"payments": format!("secret:{payments}"), "data": data}).to_string(),
    );
    let app = fx.app();
    let now = at("2026-03-02T09:00:00Z");
    let rule = "dynamodb-pitr-enabled";
    let a = fx.tagged_table("invoices", &[("team", "payments")]).await;
    let b = fx.tagged_table("events", &[("team", "Data")]).await;
    let c = fx.tagged_table("misc", &[("team", "search")]).await;
    let d = fx.tagged_table("untagged", &[]).await;
    for id in [&a, &b, &c, &d] {
        let out = fx
            .run(
                &app,
                &event(rule, TABLE, id, "NON_COMPLIANT", None, now),
                now,
            )
            .await;
        out.response.expect("delivered");
    }
    let to = |channel: &str| texts(&fx.setup.slack, channel);
    assert_eq!(to("payments").len(), 1);
    assert!(to("payments")[0].contains(&a));
    assert_eq!(to("data").len(), 1);
    assert!(to("data")[0].contains(&b));
    let default = to("default");
    assert_eq!(default.len(), 2);
    assert!(
        default
            .iter()
            .any(|m| m.contains(&c) && m.contains("search"))
    );
    assert!(
        default
            .iter()
            .any(|m| m.contains(&d) && m.contains("(no owner tag)"))
    );
}

#[tokio::test]
async fn an_sqs_batch_reports_only_the_records_that_failed() {
    let mut fx = Fixture::new().await;
    // The "ops" team's webhook secret does not exist yet.
    let missing = fx.setup.moto.unique("slack-ops");
    fx.setup.env.set(
        "ROUTES",
        &json!({"ops": format!("secret:{missing}")}).to_string(),
    );
    let app = fx.app();
    let now = at("2026-03-02T09:00:00Z");
    let rule = "dynamodb-pitr-enabled";
    let good = fx.tagged_table("good", &[]).await;
    let ops = fx.tagged_table("ops", &[("owner", "ops")]).await;
    let ops_event = event(rule, TABLE, &ops, "NON_COMPLIANT", None, now);
    let batch = sqs_batch(&[
        (
            "m-1",
            event(rule, TABLE, &good, "NON_COMPLIANT", None, now).to_string(),
        ),
        ("m-2", ops_event.to_string()),
        ("m-3", "{not json".to_owned()),
        (
            "m-4",
            json!({"detail-type": "Config Configuration Item Change", "source": "aws.config"})
                .to_string(),
        ),
    ]);
    let out = fx.run(&app, &batch, now).await;
    let response = out
        .response
        .expect("a batch response, not an invocation error");
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-3"}]})
    );
    assert_eq!(out.report.counter("sqs_records"), 4);
    assert_eq!(out.report.counter("ignored_events"), 1);
    assert_eq!(texts(&fx.setup.slack, "default").len(), 1);
    let errors: Vec<&str> = out.report.failed.iter().map(|f| f.error.as_str()).collect();
    assert!(errors.iter().any(|e| e.contains(&missing)), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("not JSON")), "{errors:?}");
    // The failed claim was given back, so the redelivery notifies.
    assert!(fx.state_item(&ops_event).await.is_none());
    aws_sdk_secretsmanager::Client::new(&fx.setup.sdk)
        .create_secret()
        .name(&missing)
        .secret_string(fx.setup.slack.webhook_url("ops"))
        .send()
        .await
        .unwrap();
    let retry = sqs_batch(&[("m-2", ops_event.to_string())]);
    let out = fx.run(&app, &retry, now + Duration::minutes(1)).await;
    assert_eq!(out.response.unwrap(), json!({"batchItemFailures": []}));
    assert_eq!(texts(&fx.setup.slack, "ops").len(), 1);
}

#[tokio::test]
async fn an_undeliverable_direct_event_fails_the_invocation_and_is_retried() {
    let fx = Fixture::new().await;
    let app = fx.app();
    let now = at("2026-03-02T09:00:00Z");
    let table = fx.tagged_table("billing", &[]).await;
    let e = event(
        "dynamodb-pitr-enabled",
        TABLE,
        &table,
        "NON_COMPLIANT",
        None,
        now,
    );
    fx.setup
        .slack
        .script([Reply::Status(500), Reply::Status(500)]);
    let out = fx.run(&app, &e, now).await;
    let error = out.response.expect_err("Slack refused");
    assert!(
        error.to_string().contains("Slack did not accept"),
        "{error}"
    );
    assert!(!error.to_string().contains("xoxSECRET"), "{error}");
    assert_eq!(out.report.counter("failed"), 1);
    assert!(
        fx.state_item(&e).await.is_none(),
        "the claim was given back"
    );
    let out = fx.run(&app, &e, now).await;
    assert!(out.response.is_ok());
    assert_eq!(texts(&fx.setup.slack, "default").len(), 1);
}

#[tokio::test]
async fn concurrent_deliveries_of_one_change_notify_once() {
    let fx = Fixture::new().await;
    let app = fx.app();
    let now = at("2026-03-02T09:00:00Z");
    let table = fx.tagged_table("race", &[]).await;
    let e = event(
        "dynamodb-pitr-enabled",
        TABLE,
        &table,
        "NON_COMPLIANT",
        None,
        now,
    );
    let runs = (0..6).map(|_| fx.run(&app, &e, now));
    let outcomes = futures_join_all(runs).await;
    assert!(outcomes.iter().all(|o| o.response.is_ok()));
    let notified: usize = outcomes.iter().map(|o| o.report.applied.len()).sum();
    assert_eq!(notified, 1);
    assert_eq!(texts(&fx.setup.slack, "default").len(), 1);
}

#[tokio::test]
async fn a_dry_run_plans_but_neither_sends_nor_writes() {
    let mut fx = Fixture::new().await;
    fx.setup.env.set("DRY_RUN", "true");
    let app = fx.app();
    let now = at("2026-03-02T09:00:00Z");
    let table = fx.tagged_table("dry", &[]).await;
    let e = event(
        "dynamodb-pitr-enabled",
        TABLE,
        &table,
        "NON_COMPLIANT",
        None,
        now,
    );
    let out = fx.run(&app, &e, now).await;
    assert!(out.report.dry_run);
    assert_eq!(out.report.planned.len(), 1);
    assert!(out.report.applied.is_empty());
    assert!(fx.setup.slack.received().is_empty());
    assert!(fx.state_item(&e).await.is_none());
}

/// Runs futures concurrently on this task (no extra dependency needed).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.map(Box::pin).collect();
    let mut results = Vec::new();
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut outputs: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        outputs[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results.extend(outputs.into_iter().map(|o| o.unwrap()));
    results
}

#[tokio::test]
async fn records_left_at_the_deadline_go_back_to_the_queue_untouched() {
    let fx = Fixture::new().await;
    let app = fx.app();
    let now = at("2026-03-02T09:00:00Z");
    let table = fx.tagged_table("late", &[]).await;
    let e = event(
        "dynamodb-pitr-enabled",
        TABLE,
        &table,
        "NON_COMPLIANT",
        None,
        now,
    );
    let batch = sqs_batch(&[("m-1", e.to_string()), ("m-2", e.to_string())]);
    let out = config_triage::process(
        &batch,
        &app,
        &home(),
        now,
        &shared::Deadline::after(std::time::Duration::ZERO),
    )
    .await;
    assert_eq!(
        out.response.unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]})
    );
    assert!(out.report.stopped_early);
    assert!(fx.setup.slack.received().is_empty());
    assert!(fx.state_item(&e).await.is_none());
}

#[tokio::test]
async fn unreadable_exemptions_or_unknown_events_fail_with_a_clear_error() {
    let mut fx = Fixture::new().await;
    let app = fx.app();
    let now = at("2026-03-02T09:00:00Z");
    let err = fx
        .run(&app, &json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}}), now)
        .await
        .response
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("EC2 Instance State-change Notification"),
        "{err}"
    );

    let parameter = format!("/{}", fx.setup.moto.unique("bad-exemptions"));
    aws_sdk_ssm::Client::new(&fx.setup.sdk)
        .put_parameter()
        .name(&parameter)
        .value(r#"[{"rule": "x", "expiry": "2026-01-01"}]"#)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    fx.setup.env.set("EXEMPTIONS_PARAMETER", &parameter);
    let app = fx.app();
    let table = fx.tagged_table("guarded", &[]).await;
    let e = event(
        "dynamodb-pitr-enabled",
        TABLE,
        &table,
        "NON_COMPLIANT",
        None,
        now,
    );
    let out = fx.run(&app, &e, now).await;
    let err = out.response.unwrap_err().to_string();
    assert!(err.contains(&parameter) && err.contains("expiry"), "{err}");
    assert!(
        fx.setup.slack.received().is_empty(),
        "nothing is sent unfiltered"
    );
}

#[tokio::test]
async fn a_failed_resolution_restores_the_open_violation_for_the_retry() {
    let fx = Fixture::new().await;
    let app = fx.app();
    let t0 = at("2026-03-02T09:00:00Z");
    let table = fx.tagged_table("restore", &[]).await;
    let rule = "dynamodb-pitr-enabled";
    let broken = event(rule, TABLE, &table, "NON_COMPLIANT", None, t0);
    fx.run(&app, &broken, t0).await.response.unwrap();
    let before = fx.state_item(&broken).await.unwrap();

    let t1 = t0 + Duration::hours(1);
    let fixed = event(rule, TABLE, &table, "COMPLIANT", Some("NON_COMPLIANT"), t1);
    fx.setup.slack.script([Reply::Status(404)]);
    let out = fx.run(&app, &fixed, t1).await;
    assert!(out.response.is_err());
    let after = fx.state_item(&broken).await.unwrap();
    assert_eq!(after["status"], "NON_COMPLIANT");
    assert_eq!(after["announced"], true);
    assert_eq!(after["since"], before["since"]);
    assert!(
        after["version"].as_i64() > before["version"].as_i64(),
        "versions only grow, so stale writers still lose"
    );

    let out = fx.run(&app, &fixed, t1).await;
    assert_eq!(applied(&out), ["notify_resolution"]);
    assert!(
        texts(&fx.setup.slack, "default")
            .last()
            .unwrap()
            .contains("Resolved")
    );
}

#[tokio::test]
async fn a_page_that_cannot_be_published_fails_the_record() {
    let mut fx = Fixture::new().await;
    fx.setup.env.set(
        "CRITICAL_TOPIC_ARN",
        &format!(
            "arn:aws:sns:us-east-1:123456789012:{}",
            fx.setup.moto.unique("missing-topic")
        ),
    );
    fx.setup.env.set(
        "SEVERITY_RULES",
        r#"[{"rule": "*", "severity": "critical"}]"#,
    );
    let app = fx.app();
    let now = at("2026-03-02T09:00:00Z");
    let table = fx.tagged_table("unpaged", &[]).await;
    let e = event(
        "dynamodb-pitr-enabled",
        TABLE,
        &table,
        "NON_COMPLIANT",
        None,
        now,
    );
    let out = fx
        .run(&app, &sqs_batch(&[("m-9", e.to_string())]), now)
        .await;
    assert_eq!(
        out.response.unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": "m-9"}]})
    );
    assert!(
        out.report.failed[0].error.contains("SNS topic"),
        "{:?}",
        out.report.failed
    );
    assert!(fx.state_item(&e).await.is_none());
}

#[tokio::test]
async fn a_typo_inside_an_exemption_tag_is_refused_naming_the_variable_or_the_parameter() {
    let mut fx = Fixture::new().await;
    // "vaule": once read as a key-only match, exempting every resource that
    // has the key, whatever its value.
    let typo = r#"[{"tag": {"key": "data-class", "vaule": "public"}, "reason": "open data"}]"#;

    let mut env = shared::config::Env::from_pairs(
        fx.setup
            .env
            .iter()
            .cloned()
            .chain([("EXEMPTIONS".to_owned(), typo.to_owned())]),
    );
    let _ = config_triage::config::Config::from_env(&mut env);
    let text = env
        .finish()
        .expect_err("the typo stops the cold start")
        .to_string();
    assert!(
        text.starts_with("invalid configuration: 1 problem(s)\n  - EXEMPTIONS: "),
        "{text}"
    );
    assert!(text.contains("unknown field `vaule`"), "{text}");

    // The same list in the parameter: the invocation fails naming it, and a
    // secret-class resource (which the typo would have silenced) is not
    // sent unfiltered either: the retry finds the fixed list.
    let parameter = format!("/{}", fx.setup.moto.unique("typo-exemptions"));
    aws_sdk_ssm::Client::new(&fx.setup.sdk)
        .put_parameter()
        .name(&parameter)
        .value(typo)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    fx.setup.env.set("EXEMPTIONS_PARAMETER", &parameter);
    let app = fx.app();
    let now = at("2026-03-02T09:00:00Z");
    let table = fx
        .tagged_table("secrets", &[("data-class", "secret")])
        .await;
    let e = event(
        "dynamodb-pitr-enabled",
        TABLE,
        &table,
        "NON_COMPLIANT",
        None,
        now,
    );
    let err = fx
        .run(&app, &e, now)
        .await
        .response
        .unwrap_err()
        .to_string();
    assert!(err.contains(&parameter) && err.contains("vaule"), "{err}");
    assert!(fx.setup.slack.received().is_empty());
    assert!(fx.state_item(&e).await.is_none(), "not claimed either");
}

#[tokio::test]
async fn the_end_of_a_violation_on_a_deleted_resource_goes_where_its_start_went() {
    let mut fx = Fixture::new().await;
    fx.route_team("payments").await;
    let app = fx.app();
    let t0 = at("2026-03-02T09:00:00Z");
    let rule = "dynamodb-pitr-enabled";
    let table = fx.tagged_table("invoices", &[("owner", "payments")]).await;
    let broken = event(rule, TABLE, &table, "NON_COMPLIANT", None, t0);
    fx.run(&app, &broken, t0).await.response.expect("announced");
    assert_eq!(texts(&fx.setup.slack, "payments").len(), 1);

    // The team deletes the table: Config says the rule no longer applies,
    // and the tags that routed the violation are gone with it.
    aws_sdk_dynamodb::Client::new(&fx.setup.sdk)
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let t1 = t0 + Duration::hours(1);
    let gone = event(
        rule,
        TABLE,
        &table,
        "NOT_APPLICABLE",
        Some("NON_COMPLIANT"),
        t1,
    );
    let out = fx.run(&app, &gone, t1).await;
    out.response.as_ref().expect("the end is delivered");
    assert_eq!(applied(&out), ["notify_resolution"]);
    assert_eq!(
        out.report.applied[0].detail.as_ref().unwrap()["route"],
        "payments"
    );
    let to_payments = texts(&fx.setup.slack, "payments");
    assert_eq!(to_payments.len(), 2, "{to_payments:#?}");
    assert!(
        to_payments[1].contains("No longer applicable") && to_payments[1].contains(&table),
        "{}",
        to_payments[1]
    );
    assert!(
        texts(&fx.setup.slack, "default").is_empty(),
        "nothing in the default channel"
    );
}

/// The configuration error a setting stops the cold start with.
fn refused(fx: &Fixture, variable: &str, value: &str) -> String {
    let mut env = shared::config::Env::from_pairs(
        fx.setup
            .env
            .iter()
            .cloned()
            .chain([(variable.to_owned(), value.to_owned())]),
    );
    let _ = config_triage::config::Config::from_env(&mut env);
    env.finish().expect_err("refused at cold start").to_string()
}

/// The route a violation went to is remembered by name. A ROUTES entry
/// called "default" once took the ends of violations that had been sent to
/// the default webhook: a channel that never saw their start.
#[tokio::test]
async fn a_route_named_default_is_refused_at_cold_start() {
    let fx = Fixture::new().await;
    for name in ["default", "Default"] {
        let text = refused(
            &fx,
            "ROUTES",
            &json!({"payments": "secret:toilkit/slack-payments", name: "secret:toilkit/slack-ops"})
                .to_string(),
        );
        assert!(
            text.contains("ROUTES: ") && text.contains("reserved for the default webhook"),
            "{text}"
        );
    }
}

/// A map keeps the last of two equal keys: the first team's webhook was
/// silently dropped. Any JSON setting with a key written twice is refused.
#[tokio::test]
async fn a_key_written_twice_in_a_json_setting_is_refused_naming_the_variable() {
    let fx = Fixture::new().await;
    for (variable, value) in [
        (
            "ROUTES",
            r#"{"payments": "/toilkit/slack/payments", "payments": "/toilkit/slack/data"}"#,
        ),
        (
            "EXEMPTIONS",
            r#"[{"rule": "restricted-ssh", "rule": "*", "reason": "bastion"}]"#,
        ),
        (
            "SEVERITY_RULES",
            r#"[{"rule": "restricted-ssh", "severity": "critical", "severity": "low"}]"#,
        ),
    ] {
        let text = refused(&fx, variable, value);
        assert!(
            text.contains(&format!("{variable}: ")) && text.contains("written twice"),
            "{text}"
        );
    }
}

/// A generated EXEMPTIONS that fills a field from an unset variable writes
/// `null`; read as absent, it widened the exemption (any value of the tag,
/// never expiring, every resource). A null field is refused instead.
#[tokio::test]
async fn a_null_in_an_exemption_is_refused_rather_than_widening_it() {
    let fx = Fixture::new().await;
    for exemption in [
        r#"{"tag": {"key": "data-class", "value": null}, "reason": "public assets"}"#,
        r#"{"rule": "s3-bucket-public-read-prohibited", "expires": null}"#,
        r#"{"rule": "s3-bucket-public-read-prohibited", "tag": null}"#,
        r#"{"rule": "s3-bucket-public-read-prohibited", "resource": null}"#,
    ] {
        let text = refused(&fx, "EXEMPTIONS", &format!("[{exemption}]"));
        assert!(
            text.contains("EXEMPTIONS: ") && text.contains("a field is null"),
            "{exemption}: {text}"
        );
    }
}

/// A resource's `Name` tag is whatever its owner typed; in Slack it must stay
/// text, never a mention or a link, wherever it is shown (the header, the
/// notification text, the section).
#[tokio::test]
async fn a_hostile_name_tag_reaches_slack_escaped_everywhere() {
    let fx = Fixture::new().await;
    let app = fx.app();
    let t0 = at("2026-03-02T09:00:00Z");
    let hostile = "<!channel> <https://evil.example|click here>";
    let table = fx.tagged_table("hostile", &[("Name", hostile)]).await;
    let first = event(
        "dynamodb-pitr-enabled",
        TABLE,
        &table,
        "NON_COMPLIANT",
        Some("COMPLIANT"),
        t0,
    );
    fx.run(&app, &first, t0).await.response.expect("delivered");
    let delivered = fx.setup.slack.delivered_to("default");
    assert_eq!(delivered.len(), 1);
    let body = &delivered[0];
    let mut texts = vec![body["text"].as_str().unwrap().to_owned()];
    for block in body["blocks"].as_array().unwrap() {
        if let Some(text) = block["text"]["text"].as_str() {
            texts.push(text.to_owned());
        }
    }
    assert!(texts.len() >= 3, "{body}");
    for text in &texts {
        // The Name tag is shown escaped.
        assert_markup_escaped(
            text,
            &["&lt;!channel&gt; &lt;https://evil.example|click here&gt;"],
        );
    }
}
