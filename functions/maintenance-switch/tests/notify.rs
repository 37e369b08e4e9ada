//! The notify action: the team hears about a window in Slack, through the
//! real secret path (Secrets Manager in moto) and a real HTTP receiver.

use crate::common::*;
use maintenance_switch::{Error, handle};
use serde_json::json;
use shared::secret::SecretRef;
use shared::slack::{RetryPolicy, SlackClient};
use std::time::Duration;
use toilkit_tests::Reply;
use toilkit_tests::slack::{Setup, assert_markup_escaped};

#[tokio::test]
async fn window_events_reach_slack_and_failures_fail_the_invocation() {
    let Setup {
        sdk, slack, secret, ..
    } = Setup::new("ops").await;
    let mut app = app(&sdk, None);
    app.config.slack_webhook = Some(SecretRef::SecretsManager(secret));
    app.slack = SlackClient::new(RetryPolicy {
        max_attempts: 2,
        base_backoff: Duration::from_millis(10),
        spacing: Duration::from_millis(10),
        ..RetryPolicy::default()
    });
    let window = json!({"window_id": "release-9",
        "listener_arns": ["arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/1/2"],
        "start_at": "2031-01-01T00:00:00Z", "end_at": "2031-01-01T01:00:00Z",
        "bypass_header": {"name": "X-Maintenance-Bypass", "values": ["slack-must-not-see-this"]}});

    let report = handle(
        event(json!({"action": "notify", "event": "started", "window": window})),
        &app,
    )
    .await
    .expect("notify");
    assert_eq!(report.counter("applied"), 1);
    handle(
        event(json!({"action": "notify", "event": "enable_failed", "window": window,
                     "error": {"Error": "EnableFailed",
                               "Cause": "{\"errorType\":\"EnableFailed\",\"errorMessage\":\"CreateRule on listener failed\"}"}})),
        &app,
    )
    .await
    .expect("notify failure");
    let delivered = slack.delivered_to("ops");
    assert_eq!(delivered.len(), 2);
    let first = delivered[0].to_string();
    assert!(first.contains("Maintenance ON: release-9"), "{first}");
    assert!(first.contains("2031-01-01T01:00:00Z"), "{first}");
    let second = delivered[1].to_string();
    assert!(second.contains("FAILED to start"), "{second}");
    assert!(second.contains("CreateRule on listener failed"), "{second}");
    for body in &delivered {
        assert!(!body.to_string().contains("slack-must-not-see-this"));
    }

    // Slack refusing is a failed invocation (the state machine moves on).
    slack.script([Reply::Status(400)]);
    let err = handle(
        event(json!({"action": "notify", "event": "ended", "window": window})),
        &app,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Notify(_)), "{err}");
    assert!(
        !err.to_string().contains("xoxSECRET"),
        "the webhook leaked: {err}"
    );

    // Without a webhook there is nothing to do, and that is not an error.
    app.config.slack_webhook = None;
    let r = handle(
        event(json!({"action": "notify", "event": "ended", "window": window})),
        &app,
    )
    .await
    .unwrap();
    assert!(
        r.skipped[0].reason.contains("no Slack webhook"),
        "{:?}",
        r.skipped
    );
}

/// The failure a state machine caught carries text from elsewhere (an error
/// message quoting a listener or a rule); in Slack it stays text.
#[tokio::test]
async fn a_hostile_failure_cause_reaches_slack_escaped() {
    let Setup {
        sdk, slack, secret, ..
    } = Setup::new("ops").await;
    let mut app = app(&sdk, None);
    app.config.slack_webhook = Some(SecretRef::SecretsManager(secret));
    let window = json!({"window_id": "release-10",
        "listener_arns": ["arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/1/2"],
        "start_at": "2031-01-01T00:00:00Z", "end_at": "2031-01-01T01:00:00Z"});
    handle(
        event(json!({"action": "notify", "event": "disable_failed", "window": window,
                     "error": {"Error": "DisableFailed",
                               "Cause": "rule <!channel> <https://evil.example|click here> is in the way"}})),
        &app,
    )
    .await
    .expect("notify");
    let delivered = slack.delivered_to("ops");
    assert_eq!(delivered.len(), 1);
    let body = delivered[0].to_string();
    assert_markup_escaped(
        &body,
        &["&lt;!channel&gt; &lt;https://evil.example|click here&gt;"],
    );
}
