//! The shared Slack client against a real HTTP receiver: retries, failures,
//! and the webhook URL kept out of every log line.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::Deadline;
use shared::secret::Secret;
use shared::slack::{Finding, RetryPolicy, SlackClient, SlackError, build_messages};
use toilkit_tests::{Reply, SlackReceiver};

fn fast_client() -> SlackClient {
    SlackClient::new(RetryPolicy {
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        spacing: Duration::ZERO,
        ..RetryPolicy::default()
    })
}

fn one_message(text: &str) -> Vec<shared::slack::Message> {
    build_messages(
        text,
        None,
        &[Finding {
            title: text.to_owned(),
            fields: vec![("who".into(), "admin".into())],
            body: None,
        }],
    )
}

#[tokio::test]
async fn rate_limited_message_waits_for_retry_after_and_is_delivered_once() {
    let slack = SlackReceiver::start();
    slack.script([Reply::RateLimited {
        retry_after_secs: 1,
    }]);
    let webhook = Secret::new(slack.webhook_url("ops"));
    let started = std::time::Instant::now();
    fast_client()
        .send_all(
            &webhook,
            &one_message("ddl on prod"),
            &Deadline::unbounded(),
        )
        .await
        .expect("delivered after the 429");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the client honoured Retry-After"
    );
    let received = slack.received();
    assert_eq!(
        received.iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 200]
    );
    assert_eq!(
        slack.delivered().len(),
        1,
        "nothing lost, nothing duplicated"
    );
    assert_eq!(slack.delivered()[0]["text"], "ddl on prod");
}

#[tokio::test]
async fn two_server_errors_then_success_delivers_exactly_once() {
    let slack = SlackReceiver::start();
    slack.script([Reply::Status(500), Reply::Status(503)]);
    let webhook = Secret::new(slack.webhook_url("ops"));
    fast_client()
        .send_all(&webhook, &one_message("grant"), &Deadline::unbounded())
        .await
        .expect("delivered on the third attempt");
    assert_eq!(slack.received().len(), 3);
    assert_eq!(slack.delivered().len(), 1);
}

#[tokio::test]
async fn permanent_failure_is_an_error_that_names_the_message() {
    let slack = SlackReceiver::start();
    slack.script(std::iter::repeat_n(Reply::Status(500), 10));
    let webhook = Secret::new(slack.webhook_url("ops"));
    let messages = [one_message("first"), one_message("second")].concat();
    let err = fast_client()
        .send_all(&webhook, &messages, &Deadline::unbounded())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SlackError::GaveUp {
                index: 0,
                attempts: 5,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.delivered(), 0);
    assert!(slack.delivered().is_empty());
}

#[tokio::test]
async fn a_rejected_payload_is_not_retried() {
    let slack = SlackReceiver::start();
    slack.script([Reply::Status(404)]);
    let webhook = Secret::new(slack.webhook_url("gone"));
    let err = fast_client()
        .send(&webhook, &one_message("x")[0], &Deadline::unbounded())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SlackError::Rejected { status: 404, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("no_service"));
    assert_eq!(slack.received().len(), 1);
}

#[tokio::test]
async fn no_time_left_fails_instead_of_waiting_past_the_deadline() {
    let slack = SlackReceiver::start();
    slack.script([Reply::RateLimited {
        retry_after_secs: 30,
    }]);
    let webhook = Secret::new(slack.webhook_url("ops"));
    let err = fast_client()
        .send(
            &webhook,
            &one_message("x")[0],
            &Deadline::after(Duration::from_secs(2)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SlackError::OutOfTime { .. }), "{err}");
}

/// A writer the test can read back: every log line the client emits.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_webhook_url_appears_in_no_log_line_or_error() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let slack = SlackReceiver::start();
    let url = slack.webhook_url("secret-channel");
    let unreachable = "http://127.0.0.1:1/services/T0/B0/xoxSECRETunreachable".to_owned();
    let errors = tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            slack.script([
                Reply::Status(500),
                Reply::RateLimited {
                    retry_after_secs: 0,
                },
            ]);
            let client = fast_client();
            client
                .send(
                    &Secret::new(url.clone()),
                    &one_message("x")[0],
                    &Deadline::unbounded(),
                )
                .await
                .expect("delivered");
            slack.script([Reply::Status(400)]);
            let rejected = client
                .send(
                    &Secret::new(url.clone()),
                    &one_message("x")[0],
                    &Deadline::unbounded(),
                )
                .await
                .unwrap_err();
            let unreachable_err = client
                .send(
                    &Secret::new(unreachable.clone()),
                    &one_message("x")[0],
                    &Deadline::unbounded(),
                )
                .await
                .unwrap_err();
            vec![
                format!("{rejected} {rejected:?}"),
                format!("{unreachable_err} {unreachable_err:?}"),
            ]
        })
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("slack answered with a server error"),
        "the test did capture the client's logs: {logs}"
    );
    assert!(logs.contains("slack request failed"), "{logs}");
    for text in errors.iter().chain(std::iter::once(&logs)) {
        assert!(!text.contains("xoxSECRET"), "a secret leaked: {text}");
        assert!(
            !text.contains("/services/"),
            "a webhook path leaked: {text}"
        );
    }
}
