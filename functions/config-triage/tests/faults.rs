//! Fault injection for config-triage (aws-smithy-mocks): paging through SNS
//! during a 5xx storm and a throttling storm.
//!
//! The state table, the webhook secret and Slack are real (moto and a local
//! receiver); only SNS is mocked, answering in its own wire format (awsQuery
//! XML) so the real SDK deserializes and retries. The operator's checks: a
//! critical violation that could not be paged fails the invocation and is
//! reported, its claim on the state is given back, and the retry Lambda
//! makes then pages and posts it exactly once.

use toilkit_tests::faults;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use config_triage::App;
use faults::fast_retry;
use serde_json::{Value, json};
use time::OffsetDateTime;
use toilkit_tests::Moto;

use crate::common::Fixture;

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:toilkit-critical";

/// An SNS answer in awsQuery XML: a 5xx or throttling error, or a success.
fn sns_error(status: u16, code: &str) -> HttpResponse {
    let body = format!(
        "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Receiver</Type>\
         <Code>{code}</Code><Message>{code}</Message></Error><RequestId>f00d</RequestId></ErrorResponse>"
    );
    HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

fn sns_published(id: usize) -> HttpResponse {
    let body = format!(
        "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult>\
         <MessageId>message-{id}</MessageId></PublishResult><ResponseMetadata><RequestId>r-{id}\
         </RequestId></ResponseMetadata></PublishResponse>"
    );
    HttpResponse::new(StatusCode::try_from(200).unwrap(), SdkBody::from(body))
}

/// An SNS client whose `Publish` attempts first meet `failures` (status,
/// code) answers, then succeed; it counts the attempts and the successes.
async fn sns(
    failures: Vec<(u16, &'static str)>,
) -> (aws_sdk_sns::Client, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let attempts = Arc::new(AtomicUsize::new(0));
    let published = Arc::new(AtomicUsize::new(0));
    let rule = {
        let attempts = attempts.clone();
        let published = published.clone();
        mock!(aws_sdk_sns::Client::publish)
            .sequence()
            .http_response(move || {
                let n = attempts.fetch_add(1, Ordering::SeqCst);
                match failures.get(n) {
                    Some((status, code)) => sns_error(*status, code),
                    None => sns_published(published.fetch_add(1, Ordering::SeqCst)),
                }
            })
            .repeatedly()
            .build()
    };
    let config = aws_sdk_sns::config::Builder::from(&faults::sdk_config().await)
        .http_client(create_mock_http_client())
        .interceptor(
            MockResponseInterceptor::new()
                .rule_mode(RuleMode::MatchAny)
                .with_rule(&rule),
        )
        .retry_config(fast_retry())
        .build();
    (aws_sdk_sns::Client::from_conf(config), attempts, published)
}

/// The shared fixture, with the critical rule paging to `TOPIC`.
async fn fixture() -> Fixture {
    let mut fx = Fixture::new().await;
    fx.setup.env.set("CRITICAL_TOPIC_ARN", TOPIC);
    fx.setup.env.set(
        "SEVERITY_RULES",
        r#"[{"rule":"restricted-ssh","severity":"critical"}]"#,
    );
    fx
}

/// The fixture's app, paging through `sns`.
fn app(fx: &Fixture, sns: aws_sdk_sns::Client) -> App {
    let mut app = fx.app();
    app.sns = sns;
    app
}

/// A security group newly NON_COMPLIANT with the critical rule.
fn violation(group: &str) -> Value {
    let mut event: Value = serde_json::from_str(&toilkit_tests::workspace::sample(
        "config-compliance-change.json",
    ))
    .unwrap();
    event["account"] = json!("123456789012");
    event["region"] = json!("us-east-1");
    let detail = &mut event["detail"];
    detail["awsAccountId"] = json!("123456789012");
    detail["awsRegion"] = json!("us-east-1");
    detail["resourceId"] = json!(group);
    detail["newEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"]["resourceId"] =
        json!(group);
    event
}

async fn storm_then_retry(failures: Vec<(u16, &'static str)>, storm_is_absorbed: bool) {
    let fixture = fixture().await;
    let group = Moto::shared().unique("sg");
    let event = violation(&group);

    let (client, attempts, published) = sns(failures).await;
    let first = fixture
        .run(&app(&fixture, client), &event, OffsetDateTime::now_utc())
        .await;

    if storm_is_absorbed {
        assert!(first.response.is_ok(), "{:?}", first.report);
        assert_eq!(published.load(Ordering::SeqCst), 1, "paged once");
        assert_eq!(
            attempts.load(Ordering::SeqCst),
            shared::aws::MAX_ATTEMPTS as usize
        );
        assert_eq!(fixture.setup.slack.delivered_to("default").len(), 1);
        return;
    }
    let error = first
        .response
        .expect_err("a page that could not be sent fails the invocation");
    assert!(
        error.to_string().contains(TOPIC),
        "the error names the topic: {error}"
    );
    assert_eq!(first.report.failed.len(), 1, "{:?}", first.report);
    assert_eq!(first.report.failed[0].action, "notify_violation");
    assert!(first.report.failed[0].target.contains(&group));
    assert!(
        first.report.applied.is_empty(),
        "{:?}",
        first.report.applied
    );
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        shared::aws::MAX_ATTEMPTS as usize,
        "the SDK retried up to its budget"
    );
    assert_eq!(published.load(Ordering::SeqCst), 0);
    assert!(
        fixture.setup.slack.delivered().is_empty(),
        "nothing half-announced"
    );

    // Lambda retries the event once SNS is back: the claim was given back,
    // so the violation is paged and posted now, once.
    let (client, _, published) = sns(Vec::new()).await;
    let app = app(&fixture, client);
    let retry = fixture.run(&app, &event, OffsetDateTime::now_utc()).await;
    assert!(retry.response.is_ok(), "{:?}", retry.report);
    assert_eq!(
        retry.report.counter("violations_notified"),
        1,
        "{:?}",
        retry.report
    );
    assert_eq!(retry.report.counter("critical_paged"), 1);
    assert_eq!(published.load(Ordering::SeqCst), 1);
    let posted = fixture.setup.slack.delivered_to("default");
    assert_eq!(posted.len(), 1);
    assert!(posted[0].to_string().contains(&group));

    // A third delivery of the same change is a repeat: nothing more.
    let again = fixture.run(&app, &event, OffsetDateTime::now_utc()).await;
    assert!(again.response.is_ok());
    assert_eq!(published.load(Ordering::SeqCst), 1);
    assert_eq!(fixture.setup.slack.delivered_to("default").len(), 1);
}

#[tokio::test]
async fn an_sns_5xx_storm_fails_the_page_gives_the_claim_back_and_the_retry_pages_once() {
    storm_then_retry(
        [(503, "ServiceUnavailable"), (500, "InternalError")].repeat(10),
        false,
    )
    .await;
}

#[tokio::test]
async fn a_throttling_storm_within_the_retry_budget_still_pages_once() {
    let retries = shared::aws::MAX_ATTEMPTS as usize - 1;
    storm_then_retry(vec![(400, "Throttling"); retries], true).await;
}
