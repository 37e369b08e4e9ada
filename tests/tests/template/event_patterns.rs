//! The EventBridge rule of access-denied-triage, matched by the emulator's
//! EventBridge: exactly the error codes the function itself treats as
//! denials reach it, and nothing else.

use aws_sdk_cloudwatchlogs as logs;
use aws_sdk_eventbridge as eventbridge;
use serde_json::{Value, json};
use toilkit_tests::Moto;

use crate::distribution::*;

/// Codes AWS writes for a refused call, and codes of other failures.
const CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "Client.UnauthorizedOperation",
    "UnauthorizedOperation",
    "UnauthorizedException",
    "UnauthorizedAccess",
    "ThrottlingException",
    "NoSuchEntity",
    "InvalidClientTokenId",
    "ValidationException",
    "OptInRequired",
];

#[tokio::test]
async fn the_cloudtrail_rule_lets_through_exactly_the_denials_the_function_reads() {
    let rule = &template()["Resources"]["AccessDeniedTriageCloudTrailRule"]["Properties"];
    assert_eq!(
        rule["State"], "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
        "read-only calls (reconnaissance) reach the rule only in this state"
    );
    let pattern = rule["EventPattern"].clone();

    let moto = Moto::shared();
    let sdk = moto.sdk_config().await;
    let events = eventbridge::Client::new(&sdk);
    let logs = logs::Client::new(&sdk);
    let group = format!("/toilkit/test/{}", moto.unique("denials"));
    logs.create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    let name = moto.unique("access-denied-rule");
    events
        .put_rule()
        .name(&name)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .expect("the emulator accepts the template's pattern");
    events
        .put_targets()
        .rule(&name)
        .targets(
            eventbridge::types::Target::builder()
                .id("log")
                .arn(format!(
                    "arn:aws:logs:{}:123456789012:log-group:{group}",
                    toilkit_tests::moto::REGION
                ))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    let detail = |code: Option<&str>| {
        let mut detail = json!({"eventSource": "iam.amazonaws.com", "eventName": "ListUsers"});
        if let Some(code) = code {
            detail["errorCode"] = json!(code);
        }
        detail.to_string()
    };
    let mut sent: Vec<Option<&str>> = CODES.iter().copied().map(Some).collect();
    sent.push(None);
    for code in &sent {
        events
            .put_events()
            .entries(
                eventbridge::types::PutEventsRequestEntry::builder()
                    .source("aws.iam")
                    .detail_type("AWS API Call via CloudTrail")
                    .detail(detail(*code))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    // A source of one's own (any account's PutEvents) is not CloudTrail.
    events
        .put_events()
        .entries(
            eventbridge::types::PutEventsRequestEntry::builder()
                .source("my.app")
                .detail_type("AWS API Call via CloudTrail")
                .detail(detail(Some("AccessDenied")))
                .build(),
        )
        .send()
        .await
        .unwrap();
    // Another detail-type with a denial code is not a CloudTrail API call.
    events
        .put_events()
        .entries(
            eventbridge::types::PutEventsRequestEntry::builder()
                .source("aws.iam")
                .detail_type("AWS Console Sign In via CloudTrail")
                .detail(detail(Some("AccessDenied")))
                .build(),
        )
        .send()
        .await
        .unwrap();

    let received: Vec<String> = filter_log_events(moto, &group)
        .await
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e["message"].as_str()?).ok())
        .map(|e| {
            assert_eq!(e["detail-type"], "AWS API Call via CloudTrail");
            e["detail"]["errorCode"].as_str().unwrap_or("").to_owned()
        })
        .collect();
    let expected: Vec<String> = CODES
        .iter()
        .filter(|c| access_denied_triage::record::is_denial_code(c))
        .map(|c| c.to_string())
        .collect();
    assert_eq!(received, expected, "the rule and the function agree");
    assert!(expected.len() >= 6 && expected.len() < CODES.len());
}

/// FilterLogEvents spoken directly: moto answers its timestamps as
/// fractions, which the SDK refuses to read.
async fn filter_log_events(moto: &Moto, group: &str) -> Vec<Value> {
    let response: Value = shared::https::client_builder()
        .build()
        .expect("an HTTP client with default settings builds")
        .post(moto.endpoint())
        .header("X-Amz-Target", "Logs_20140328.FilterLogEvents")
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=testing/20260101/{}/logs/aws4_request, SignedHeaders=host, Signature=0",
                toilkit_tests::moto::REGION
            ),
        )
        .body(json!({"logGroupName": group}).to_string())
        .send()
        .await
        .expect("moto answers")
        .json()
        .await
        .expect("FilterLogEvents answers JSON");
    response["events"].as_array().cloned().unwrap_or_default()
}
