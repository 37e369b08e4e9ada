//! Faults at the wire, against the emulator: DynamoDB throttling a read or
//! leaving keys unprocessed, IAM throttling every call. The alert still goes
//! out, once, and says what could not be learnt.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::body::SdkBody;
use serde_json::json;
use time::macros::datetime;
use toilkit_tests::Gate;
use toilkit_tests::faults::{Fault, ok};

use access_denied_triage::App;
use access_denied_triage::enrich::Enricher;
use access_denied_triage::plan::Severity;
use access_denied_triage::state::StateStore;

use crate::common::{Fixture, eventbridge, record};

const NOW: time::OffsetDateTime = datetime!(2026-12-06 09:30 UTC);

fn with_state_gate(f: &Fixture, app: &mut App, gate: Gate) -> StateStore {
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&f.setup.sdk)
            .interceptor(gate)
            .build(),
    );
    let table = app.settings.state_table.clone();
    app.state = StateStore::new(client, &table);
    StateStore::new(aws_sdk_dynamodb::Client::new(&f.setup.sdk), table)
}

#[tokio::test]
async fn a_throttled_state_read_is_retried_and_the_alert_goes_out_once() {
    let f = Fixture::new().await;
    let mut app = f.app();
    with_state_gate(
        &f,
        &mut app,
        Gate::answer("BatchGetItem", || Fault::Throttled.response()),
    );
    let outcome = f
        .invoke(&app, eventbridge(&record("assumed-role-ci", &[])), NOW)
        .await;
    outcome
        .response
        .expect("the SDK retried the throttled read");
    assert_eq!(outcome.report.applied.len(), 1);
    assert_eq!(f.texts("security").len(), 1);
}

#[tokio::test]
async fn keys_dynamodb_leaves_unprocessed_are_asked_for_again() {
    let f = Fixture::new().await;
    let mut app = f.app();
    let key = "group#arn:aws:iam::111122223333:role/ci/ci-deploy#lambda:CreateFunction#SCP";
    let table = app.settings.state_table.clone();
    let unprocessed = json!({
        "Responses": {},
        "UnprocessedKeys": {table.clone(): {"Keys": [{"pk": {"S": key}}]}}
    });
    let direct = with_state_gate(
        &f,
        &mut app,
        Gate::answer("BatchGetItem", move || ok(unprocessed.clone())),
    );
    // Announced an hour ago: only a second read can know it.
    assert!(
        direct
            .claim(
                key,
                Severity::Medium,
                NOW - time::Duration::hours(1),
                time::Duration::hours(24)
            )
            .await
            .unwrap()
    );
    let outcome = f
        .invoke(&app, eventbridge(&record("assumed-role-ci", &[])), NOW)
        .await;
    outcome.response.expect("triaged");
    assert!(outcome.report.applied.is_empty(), "held, not sent again");
    assert_eq!(outcome.report.counter("skipped"), 1);
    assert!(f.setup.slack.delivered().is_empty());
}

/// IAM's Query-protocol throttle.
fn iam_throttled() -> HttpResponse {
    let body = "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>";
    let mut response = HttpResponse::new(400u16.try_into().expect("a status"), SdkBody::from(body));
    response
        .headers_mut()
        .insert("content-type", "text/xml".to_owned());
    response
}

#[tokio::test]
async fn iam_throttling_every_call_never_blocks_the_alert() {
    let mut f = Fixture::new().await;
    f.route_team("payments").await;
    f.iam_user("svc-reporting", "payments").await;
    let mut app = f.app();
    let iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(&f.setup.sdk)
            .interceptor(Gate::answer("ListUserTags", iam_throttled).every())
            .interceptor(Gate::answer("ListAccountAliases", iam_throttled).every())
            .build(),
    );
    app.enricher = Enricher::new(iam);
    let outcome = f
        .invoke(&app, eventbridge(&record("leaked-key", &[])), NOW)
        .await;
    outcome.response.expect("alerted without the owner");
    assert!(
        f.texts("payments").is_empty(),
        "the owner could not be read"
    );
    let texts = f.texts("security");
    assert_eq!(texts.len(), 1, "the default channel got it");
    for needle in ["Owner:* unknown (IAM", "Account alias:* unknown (IAM"] {
        assert!(
            texts[0].contains(needle),
            "{needle} missing from {}",
            texts[0]
        );
    }
    assert!(
        outcome.report.details["unknown"]["arn:aws:iam::111122223333:user/svc-reporting"]
            .as_str()
            .is_some_and(|why| why.contains("IAM")),
        "{}",
        outcome.report.details["unknown"]
    );
}
