//! Fault injection for log-retention (aws-smithy-mocks): a 5xx storm in the
//! middle of the DescribeLogGroups pagination, within the SDK's retry budget
//! and past it (where the sweep stops without acting on the groups it had
//! listed: the next run redoes them), and throttling of PutRetentionPolicy
//! (retried within the budget; a group throttled past it is reported failed
//! while every other group completes). No group may be lost silently: a
//! sweep either reaches every page or reports, with its region, that the
//! listing failed, while what it did change is reported as applied.

use std::time::Duration;

use toilkit_tests::faults;

use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
use aws_sdk_cloudwatchlogs::operation::put_retention_policy::PutRetentionPolicyOutput;
use aws_sdk_cloudwatchlogs::types::{LogGroup, PolicyType};
use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture, SharedHttpClient};
use faults::fast_retry;
use log_retention::{App, CallCounter, Config, RegionClients};
use serde_json::json;
use shared::Deadline;
use shared::output::Output;

const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
const UNAVAILABLE: &str =
    r#"{"__type":"ServiceUnavailableException","message":"The service is unavailable"}"#;

fn group(name: &str) -> LogGroup {
    LogGroup::builder()
        .log_group_name(name)
        .log_group_arn(format!(
            "arn:aws:logs:us-east-1:123456789012:log-group:{name}"
        ))
        .creation_time(1_700_000_000_000)
        .stored_bytes(1024)
        .build()
}

fn page(names: &[&str], next: Option<&str>) -> DescribeLogGroupsOutput {
    DescribeLogGroupsOutput::builder()
        .set_log_groups(Some(names.iter().map(|n| group(n)).collect()))
        .set_next_token(next.map(str::to_owned))
        .build()
}

fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
    rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, r| i.with_rule(r),
    )
}

/// One sweep of one region (`RETENTION_DAYS=30`) whose CloudWatch Logs
/// calls are answered by `logs_rules`, with no tags and toilkit's retry
/// policy on shortened backoffs.
async fn sweep(logs_rules: &[&Rule]) -> shared::report::Report {
    let tags = mock!(aws_sdk_resourcegroupstagging::Client::get_resources)
        .then_output(|| GetResourcesOutput::builder().build());
    invoke(&[], &json!({}), logs_rules, &[&tags])
        .await
        .expect("a sweep always ends in a report")
}

/// One invocation with `payload`, configured by `RETENTION_DAYS=30` and
/// `vars`, in region us-east-1, whose CloudWatch Logs and tagging calls are
/// answered by the rules.
async fn invoke(
    vars: &[(&str, &str)],
    payload: &serde_json::Value,
    logs_rules: &[&Rule],
    tag_rules: &[&Rule],
) -> Result<shared::report::Report, log_retention::Error> {
    invoke_until(
        vars,
        payload,
        logs_rules,
        tag_rules,
        Deadline::unbounded(),
        None,
    )
    .await
}

/// [`invoke`] with a deadline, and CloudWatch Logs' answers to the
/// `slow` operation held back 30 s.
async fn invoke_until(
    vars: &[(&str, &str)],
    payload: &serde_json::Value,
    logs_rules: &[&Rule],
    tag_rules: &[&Rule],
    deadline: Deadline,
    slow: Option<&'static str>,
) -> Result<shared::report::Report, log_retention::Error> {
    let sdk = faults::sdk_config().await;
    let calls = CallCounter::default();
    let logs = aws_sdk_cloudwatchlogs::config::Builder::from(&sdk)
        .retry_config(fast_retry())
        .http_client(slow_to_answer(create_mock_http_client(), slow))
        .interceptor(interceptor(logs_rules))
        .interceptor(calls.clone())
        .build();
    let tagging = aws_sdk_resourcegroupstagging::config::Builder::from(&sdk)
        .http_client(create_mock_http_client())
        .interceptor(interceptor(tag_rules))
        .interceptor(calls.clone())
        .build();
    let s3 = aws_sdk_s3::config::Builder::from(&sdk)
        .http_client(create_mock_http_client())
        .build();
    let mut pairs = vec![("RETENTION_DAYS", "30"), ("MAX_API_RPS", "1000")];
    pairs.extend_from_slice(vars);
    let app = App::from_parts(
        Config::from_pairs(pairs).unwrap(),
        vec![RegionClients {
            region: "us-east-1".into(),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs),
            tagging: aws_sdk_resourcegroupstagging::Client::from_conf(tagging),
        }],
        aws_sdk_s3::Client::from_conf(s3),
        Output::default(),
        calls,
    );
    log_retention::run(payload, &app, deadline).await
}

/// An HTTP client that holds back the answer to `operation` 30 s, as a
/// service that is slow to answer a call it may already have carried out.
fn slow_to_answer(inner: SharedHttpClient, operation: Option<&'static str>) -> SharedHttpClient {
    faults::transport([inner], move |request, [inner]| {
        // JSON protocol: the operation is the X-Amz-Target's last part.
        let slow = operation.is_some_and(|op| {
            request
                .headers()
                .get("x-amz-target")
                .is_some_and(|t| t.ends_with(&format!(".{op}")))
        });
        let answer = inner.call(request);
        HttpConnectorFuture::new(async move {
            if slow {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            answer.await
        })
    })
}

/// A sweep of one region whose second listing page first meets `failures`
/// 503 answers.
async fn sweep_through(failures: usize) -> (shared::report::Report, Rule, Rule) {
    let first = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| page(&["/app/a", "/app/b", "/app/c"], Some("page-2")));
    let second = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .sequence()
        .http_status(503, Some(UNAVAILABLE.to_owned()))
        .times(failures)
        .output(|| page(&["/app/d", "/app/e"], None))
        .repeatedly()
        .build();
    let put = mock!(aws_sdk_cloudwatchlogs::Client::put_retention_policy)
        .then_output(|| PutRetentionPolicyOutput::builder().build());
    let report = sweep(&[&first, &second, &put]).await;
    (report, second, put)
}

fn changed(report: &shared::report::Report) -> Vec<String> {
    let mut out: Vec<String> = report.applied.iter().map(|a| a.target.clone()).collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_5xx_storm_mid_pagination_within_the_retry_budget_reaches_every_page() {
    let retries = shared::aws::MAX_ATTEMPTS as usize - 1;
    let (report, second, put) = sweep_through(retries).await;
    assert_eq!(put.num_calls(), 5);
    assert_eq!(second.num_calls(), retries + 1, "retried to success");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(
        changed(&report),
        ["/app/a", "/app/b", "/app/c", "/app/d", "/app/e"]
    );
    assert_eq!(report.details["regions"]["us-east-1"], "complete");
}

#[tokio::test]
async fn a_5xx_storm_past_the_retry_budget_reports_the_listing_failure_and_what_was_done() {
    let (report, second, put) = sweep_through(1_000).await;
    assert_eq!(second.num_calls(), shared::aws::MAX_ATTEMPTS as usize);
    // Whatever the sweep changed before it gave up is reported as applied,
    // and nothing else was changed.
    assert_eq!(
        put.num_calls(),
        report.applied.len(),
        "{:?}",
        report.applied
    );
    assert!(
        changed(&report)
            .iter()
            .all(|g| ["/app/a", "/app/b", "/app/c"].contains(&g.as_str()))
    );
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert_eq!(report.failed[0].action, "list_log_groups");
    assert!(
        report.failed[0].target.contains("us-east-1"),
        "{:?}",
        report.failed[0]
    );
    assert!(
        report.failed[0].error.contains("ServiceUnavailable"),
        "{}",
        report.failed[0].error
    );
    assert_eq!(
        report.details["regions"]["us-east-1"], "failed",
        "never claimed complete"
    );
    assert!(!report.succeeded());
}

#[tokio::test]
async fn throttled_calls_are_retried_and_the_other_groups_complete() {
    const OTHERS: usize = 20;
    let list = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups).then_output(|| {
        let mut names: Vec<String> = (0..OTHERS).map(|i| format!("/app/{i:02}")).collect();
        names.push("/app/throttled-twice".into());
        names.push("/app/always-throttled".into());
        page(&names.iter().map(String::as_str).collect::<Vec<_>>(), None)
    });
    let twice = mock!(aws_sdk_cloudwatchlogs::Client::put_retention_policy)
        .match_requests(|r| r.log_group_name() == Some("/app/throttled-twice"))
        .sequence()
        .http_status(400, Some(THROTTLED.to_owned()))
        .times(2)
        .output(|| PutRetentionPolicyOutput::builder().build())
        .build();
    let always = mock!(aws_sdk_cloudwatchlogs::Client::put_retention_policy)
        .match_requests(|r| r.log_group_name() == Some("/app/always-throttled"))
        .sequence()
        .http_status(400, Some(THROTTLED.to_owned()))
        .repeatedly()
        .build();
    let put = mock!(aws_sdk_cloudwatchlogs::Client::put_retention_policy)
        .then_output(|| PutRetentionPolicyOutput::builder().build());

    let report = sweep(&[&list, &twice, &always, &put]).await;

    assert_eq!(twice.num_calls(), 3, "two throttles, then success");
    assert_eq!(
        always.num_calls(),
        shared::aws::MAX_ATTEMPTS as usize,
        "retried up to the attempt limit"
    );
    assert_eq!(report.counter("groups_changed"), OTHERS as u64 + 1);
    assert!(
        report
            .applied
            .iter()
            .any(|a| a.target == "/app/throttled-twice")
    );
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    let failure = &report.failed[0];
    assert_eq!(failure.target, "/app/always-throttled");
    assert_eq!(failure.action, "set_retention");
    assert!(
        failure.error.contains("ThrottlingException"),
        "{}",
        failure.error
    );
    assert_eq!(report.counter("errors"), 1);
    assert!(!report.stopped_early);
    // Every attempt is counted: the retries are API calls too.
    assert_eq!(
        report.counter("api_calls.PutRetentionPolicy"),
        OTHERS as u64 + 3 + u64::from(shared::aws::MAX_ATTEMPTS)
    );
}

// ---------------------------------------------------------------------------
// Deletion fails closed: a group that is, or may be, in use is kept, and an
// attachment that deleting it would lose keeps it too. Answered in the wire
// format (what moto does not model: log classes, data protection, the lag of
// stream timestamps, account-level policies).
// ---------------------------------------------------------------------------

/// Long before any 30-day window of today.
const LONG_AGO: i64 = 1_700_000_000_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A DescribeLogGroups entry as the service sends it: empty and created long
/// ago, with `extra` fields added or replaced (`null` removes one).
fn wire_group(name: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut g = json!({
        "logGroupName": name,
        "arn": format!("arn:aws:logs:us-east-1:123456789012:log-group:{name}:*"),
        "logGroupArn": format!("arn:aws:logs:us-east-1:123456789012:log-group:{name}"),
        "creationTime": LONG_AGO,
        "storedBytes": 0,
        "metricFilterCount": 0,
        "logGroupClass": "STANDARD"
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            g.as_object_mut().unwrap().remove(k);
        } else {
            g[k] = v.clone();
        }
    }
    g
}

fn listing(groups: Vec<serde_json::Value>) -> Rule {
    let body = json!({ "logGroups": groups });
    mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups)
        .then_http_response(move || faults::ok(body.clone()))
}

/// Rules that find nothing attached and one stream quiet since long ago,
/// for every group; add more specific rules before them.
fn quiet_everywhere() -> Vec<Rule> {
    vec![
        mock!(aws_sdk_cloudwatchlogs::Client::describe_subscription_filters)
            .then_http_response(|| faults::ok(json!({"subscriptionFilters": []}))),
        mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters)
            .then_http_response(|| faults::ok(json!({"metricFilters": []}))),
        mock!(aws_sdk_cloudwatchlogs::Client::describe_log_streams).then_http_response(|| {
            faults::ok(json!({"logStreams": [{
                "logStreamName": "2023/11/14/[$LATEST]old",
                "creationTime": LONG_AGO,
                "firstEventTimestamp": LONG_AGO,
                "lastEventTimestamp": LONG_AGO,
                "lastIngestionTime": LONG_AGO,
                "storedBytes": 0
            }]}))
        }),
        mock!(aws_sdk_cloudwatchlogs::Client::describe_account_policies)
            .then_http_response(|| faults::ok(json!({"accountPolicies": []}))),
        mock!(aws_sdk_cloudwatchlogs::Client::describe_resource_policies)
            .then_http_response(|| faults::ok(json!({"resourcePolicies": []}))),
        mock!(aws_sdk_cloudwatchlogs::Client::list_tags_for_resource)
            .then_http_response(|| faults::ok(json!({"tags": {}}))),
        mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
            .then_http_response(|| faults::ok(json!({"events": [], "searchedLogStreams": []}))),
        mock!(aws_sdk_cloudwatchlogs::Client::put_retention_policy)
            .then_output(|| PutRetentionPolicyOutput::builder().build()),
    ]
}

fn no_tags() -> Rule {
    mock!(aws_sdk_resourcegroupstagging::Client::get_resources)
        .then_http_response(|| faults::ok(json!({"ResourceTagMappingList": []})))
}

fn skip_reason(report: &shared::report::Report, group: &str) -> String {
    report
        .skipped
        .iter()
        .filter(|s| s.target == group)
        .map(|s| s.reason.clone())
        .collect::<Vec<_>>()
        .join("; ")
}

fn deleted(report: &shared::report::Report) -> Vec<String> {
    let mut out: Vec<String> = report
        .applied
        .iter()
        .filter(|a| a.action == "delete_log_group")
        .map(|a| a.target.clone())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_group_that_may_be_in_use_or_would_lose_an_attachment_is_kept_and_the_report_says_why() {
    let now = now_ms();
    let list = listing(vec![
        wire_group("/delete/me", json!({})),
        wire_group(
            "/keep/data-protection",
            json!({"dataProtectionStatus": "ACTIVATED"}),
        ),
        wire_group(
            "/keep/delivery",
            json!({"logGroupClass": "DELIVERY", "retentionInDays": 1}),
        ),
        wire_group("/keep/unknown-class", json!({"logGroupClass": "GLACIAL"})),
        wire_group("/keep/no-creation-time", json!({"creationTime": null})),
        wire_group("/keep/fresh-stream", json!({})),
        wire_group("/keep/metric-count", json!({"metricFilterCount": 1})),
        wire_group("/keep/excluded", json!({})),
        wire_group("/keep/transformed/api", json!({})),
    ]);
    // A stream created an hour ago whose event timestamps still show an old
    // event, and it sorts after the old stream.
    let fresh_streams = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_streams)
        .match_requests(|r| r.log_group_name() == Some("/keep/fresh-stream"))
        .then_http_response(move || {
            faults::ok(json!({"logStreams": [
                {"logStreamName": "old", "creationTime": LONG_AGO,
                 "lastEventTimestamp": LONG_AGO, "lastIngestionTime": LONG_AGO, "storedBytes": 0},
                {"logStreamName": "new", "creationTime": now - 3_600_000,
                 "lastEventTimestamp": LONG_AGO, "lastIngestionTime": LONG_AGO, "storedBytes": 0}
            ]}))
        });
    let subscription_policy = mock!(aws_sdk_cloudwatchlogs::Client::describe_account_policies)
        .match_requests(|r| r.policy_type() == Some(&PolicyType::SubscriptionFilterPolicy))
        .then_http_response(|| {
            faults::ok(json!({"accountPolicies": [{
                "policyName": "ship-everything",
                "policyType": "SUBSCRIPTION_FILTER_POLICY",
                "policyDocument": "{\"DestinationArn\":\"arn:aws:firehose:us-east-1:123456789012:deliverystream/central\",\"FilterPattern\":\"\"}",
                "scope": "ALL",
                "selectionCriteria": "LogGroupName NOT IN [\"/keep/excluded\", \"/other\"]",
                "accountId": "123456789012",
                "lastUpdatedTime": LONG_AGO
            }]}))
        });
    let transformer_policy = mock!(aws_sdk_cloudwatchlogs::Client::describe_account_policies)
        .match_requests(|r| r.policy_type() == Some(&PolicyType::TransformerPolicy))
        .then_http_response(|| {
            faults::ok(json!({"accountPolicies": [{
                "policyName": "parse-json",
                "policyType": "TRANSFORMER_POLICY",
                "policyDocument": "{\"transformerConfig\":[{\"parseJSON\":{}}]}",
                "scope": "ALL",
                "selectionCriteria": "LogGroupNamePrefix IN [\"/keep/transformed/\"]",
                "accountId": "123456789012",
                "lastUpdatedTime": LONG_AGO
            }]}))
        });
    let delete = mock!(aws_sdk_cloudwatchlogs::Client::delete_log_group)
        .then_http_response(|| faults::ok(json!({})));
    let delivery_retention = mock!(aws_sdk_cloudwatchlogs::Client::put_retention_policy)
        .match_requests(|r| r.log_group_name() == Some("/keep/delivery"))
        .then_http_response(|| {
            faults::error(
                400,
                "InvalidParameterException",
                "Retention cannot be set on a log group of the Delivery class",
            )
        });
    let quiet = quiet_everywhere();
    let mut rules: Vec<&Rule> = vec![
        &list,
        &fresh_streams,
        &subscription_policy,
        &transformer_policy,
        &delete,
        &delivery_retention,
    ];
    rules.extend(quiet.iter());
    let tags = no_tags();

    let report = invoke(
        &[("DELETE_EMPTY_AFTER_DAYS", "30")],
        &json!({}),
        &rules,
        &[&tags],
    )
    .await
    .unwrap();

    assert_eq!(deleted(&report), ["/delete/me"], "{:?}", report.skipped);
    assert_eq!(
        delete.num_calls(),
        1,
        "only /delete/me reached DeleteLogGroup"
    );
    assert_eq!(report.counter("groups_deleted"), 1);
    let why = |g: &str| skip_reason(&report, g);
    assert!(
        why("/keep/data-protection").contains("data protection policy"),
        "{}",
        why("/keep/data-protection")
    );
    assert!(
        why("/keep/delivery").contains("Delivery log class"),
        "{}",
        why("/keep/delivery")
    );
    assert!(
        why("/keep/unknown-class").contains("GLACIAL"),
        "{}",
        why("/keep/unknown-class")
    );
    assert!(
        why("/keep/no-creation-time").contains("creation time is not known"),
        "{}",
        why("/keep/no-creation-time")
    );
    assert!(
        why("/keep/fresh-stream").contains("created"),
        "{}",
        why("/keep/fresh-stream")
    );
    assert!(
        why("/keep/metric-count").contains("1 metric filter"),
        "{}",
        why("/keep/metric-count")
    );
    assert!(
        why("/keep/excluded").contains("ship-everything"),
        "{}",
        why("/keep/excluded")
    );
    assert!(
        why("/keep/transformed/api").contains("parse-json"),
        "{}",
        why("/keep/transformed/api")
    );
    // CloudWatch keeps a Delivery group's events one day; its retention is
    // not the function's to change.
    assert_eq!(delivery_retention.num_calls(), 0);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    // The account's policies are read once per region, not per group.
    assert_eq!(subscription_policy.num_calls(), 1);
    assert_eq!(transformer_policy.num_calls(), 1);
}

#[tokio::test]
async fn unreadable_attachments_keep_every_candidate_and_the_report_names_the_denial() {
    let denial = |operation: &str| {
        let message = format!(
            "User: arn:aws:sts::123456789012:assumed-role/toilkit-log-retention/fn is not authorized to perform: logs:{operation}"
        );
        move || faults::error(400, "AccessDeniedException", &message)
    };
    let account_policies = mock!(aws_sdk_cloudwatchlogs::Client::describe_account_policies)
        .then_http_response(denial("DescribeAccountPolicies"));
    let metric_filters = mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters)
        .then_http_response(denial("DescribeMetricFilters"));
    let streams = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_streams)
        .then_http_response(denial("DescribeLogStreams"));
    let resource_policies = mock!(aws_sdk_cloudwatchlogs::Client::describe_resource_policies)
        .then_http_response(denial("DescribeResourcePolicies"));
    let own_tags = mock!(aws_sdk_cloudwatchlogs::Client::list_tags_for_resource)
        .then_http_response(denial("ListTagsForResource"));
    let events = mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events)
        .then_http_response(denial("FilterLogEvents"));
    for (denied, operation) in [
        (&account_policies, "DescribeAccountPolicies"),
        (&metric_filters, "DescribeMetricFilters"),
        (&streams, "DescribeLogStreams"),
        (&resource_policies, "DescribeResourcePolicies"),
        (&own_tags, "ListTagsForResource"),
        (&events, "FilterLogEvents"),
    ] {
        let list = listing(vec![
            wire_group("/stale/a", json!({})),
            wire_group("/stale/b", json!({})),
        ]);
        let delete = mock!(aws_sdk_cloudwatchlogs::Client::delete_log_group)
            .then_http_response(|| faults::ok(json!({})));
        let quiet = quiet_everywhere();
        let mut rules: Vec<&Rule> = vec![&list, denied, &delete];
        rules.extend(quiet.iter());
        let tags = no_tags();

        let report = invoke(
            &[("DELETE_EMPTY_AFTER_DAYS", "30")],
            &json!({}),
            &rules,
            &[&tags],
        )
        .await
        .unwrap();

        assert_eq!(
            delete.num_calls(),
            0,
            "{operation} denied, nothing deleted: {:?}",
            report.applied
        );
        assert_eq!(report.counter("groups_deleted"), 0);
        let mut failed: Vec<&str> = report.failed.iter().map(|f| f.target.as_str()).collect();
        failed.sort();
        assert_eq!(failed, ["/stale/a", "/stale/b"], "{:?}", report.failed);
        for f in &report.failed {
            assert!(f.error.contains("AccessDeniedException"), "{}", f.error);
            assert!(f.error.contains(operation), "{}", f.error);
        }
        // The retention is still enforced: keeping a group is not a reason
        // to leave it without one.
        assert_eq!(report.counter("groups_changed"), 2);
    }
}

fn create_event(tags: Option<serde_json::Value>) -> serde_json::Value {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/create-log-group.json")).unwrap();
    if let Some(tags) = tags {
        event["detail"]["requestParameters"]["tags"] = tags;
    }
    event
}

/// The Resource Groups Tagging API is an index that lags behind a group
/// created seconds ago; the CreateLogGroup request and the group itself
/// already know its tags.
#[tokio::test]
async fn a_new_groups_exempt_tag_is_honoured_while_the_tagging_index_lags() {
    let name = "/aws/lambda/orders-api";
    for (event_tags, own_tags) in [
        (Some(json!({"toilkit:keep": "owner"})), json!({})),
        (None, json!({"toilkit:keep": ""})),
    ] {
        let list = listing(vec![wire_group(
            name,
            json!({"creationTime": now_ms() - 5_000}),
        )]);
        let own = mock!(aws_sdk_cloudwatchlogs::Client::list_tags_for_resource)
            .then_http_response(move || faults::ok(json!({ "tags": own_tags.clone() })));
        let put = mock!(aws_sdk_cloudwatchlogs::Client::put_retention_policy)
            .then_http_response(|| faults::ok(json!({})));
        let lagging = no_tags();

        let report = invoke(
            &[],
            &create_event(event_tags.clone()),
            &[&list, &own, &put],
            &[&lagging],
        )
        .await
        .unwrap();

        assert_eq!(put.num_calls(), 0, "exempt ({event_tags:?}): {report:?}");
        assert_eq!(report.counter("groups_exempt"), 1, "{report:?}");
        assert_eq!(skip_reason(&report, name), "exempt: tagged toilkit:keep");
    }
}

// ---------------------------------------------------------------------------
// Issue 13 review: paths that deleted a group in use.
// ---------------------------------------------------------------------------

/// A stream that has existed for months (a CloudWatch agent's instance-id
/// stream, an instance stopped for 100 days and started again) starts
/// receiving events again. CloudWatch updates `lastEventTimestamp` and
/// `lastIngestionTime` "in less than an hour from ingestion, in rare
/// situations longer" (API_LogStream), so within that hour
/// DescribeLogStreams still shows the old timestamps, while the events
/// themselves are already readable (FilterLogEvents). Today's guard reads only
/// the stream metadata and deleted the group with the events just ingested; one FilterLogEvents
/// call over the window now keeps it.
#[tokio::test]
async fn a_long_lived_stream_that_just_resumed_keeps_its_group_though_its_timestamps_lag() {
    let now = now_ms();
    let list = listing(vec![wire_group("/ec2/app", json!({"retentionInDays": 30}))]);
    // The metadata still lags: the stream's last event was long ago.
    let streams =
        mock!(aws_sdk_cloudwatchlogs::Client::describe_log_streams).then_http_response(|| {
            faults::ok(json!({"logStreams": [{
                "logStreamName": "i-0123456789abcdef0",
                "creationTime": LONG_AGO,
                "firstEventTimestamp": LONG_AGO,
                "lastEventTimestamp": LONG_AGO,
                "lastIngestionTime": LONG_AGO,
                "storedBytes": 0
            }]}))
        });
    // The events are there: ingested five minutes ago.
    let events =
        mock!(aws_sdk_cloudwatchlogs::Client::filter_log_events).then_http_response(move || {
            faults::ok(json!({"events": [{
                "logStreamName": "i-0123456789abcdef0",
                "timestamp": now - 300_000,
                "message": "service started",
                "ingestionTime": now - 299_000,
                "eventId": "1"
            }], "searchedLogStreams": []}))
        });
    let get_events =
        mock!(aws_sdk_cloudwatchlogs::Client::get_log_events).then_http_response(move || {
            faults::ok(json!({"events": [{
                "timestamp": now - 300_000,
                "message": "service started",
                "ingestionTime": now - 299_000
            }], "nextForwardToken": "f/1", "nextBackwardToken": "b/1"}))
        });
    let delete = mock!(aws_sdk_cloudwatchlogs::Client::delete_log_group)
        .then_http_response(|| faults::ok(json!({})));
    let quiet = quiet_everywhere();
    let mut rules: Vec<&Rule> = vec![&list, &streams, &events, &get_events, &delete];
    rules.extend(quiet.iter());
    let tags = no_tags();

    let report = invoke(
        &[("DELETE_EMPTY_AFTER_DAYS", "90")],
        &json!({}),
        &rules,
        &[&tags],
    )
    .await
    .unwrap();

    assert_eq!(
        delete.num_calls(),
        0,
        "a group with an event ingested 5 minutes ago was deleted: {:?}",
        report.applied
    );
    assert!(deleted(&report).is_empty(), "{:?}", report.applied);
}

/// An operator reads a dry run's "would delete /batch/quarterly", tags the
/// group with the exempt key, and the next run comes while the tagging
/// index (GetResources) has not caught up. CloudWatch Logs itself
/// (ListTagsForResource) already has the tag; the sweep read only the index
/// and deleted the group the operator just exempted. It now reads the
/// group's own tags before a deletion.
#[tokio::test]
async fn an_exempt_tag_just_added_keeps_the_group_while_the_tagging_index_lags() {
    let list = listing(vec![wire_group("/batch/quarterly", json!({}))]);
    let own = mock!(aws_sdk_cloudwatchlogs::Client::list_tags_for_resource)
        .then_http_response(|| faults::ok(json!({"tags": {"toilkit:keep": "ops"}})));
    let delete = mock!(aws_sdk_cloudwatchlogs::Client::delete_log_group)
        .then_http_response(|| faults::ok(json!({})));
    let quiet = quiet_everywhere();
    let mut rules: Vec<&Rule> = vec![&list, &own, &delete];
    rules.extend(quiet.iter());
    let lagging = no_tags();

    let report = invoke(
        &[("DELETE_EMPTY_AFTER_DAYS", "30")],
        &json!({}),
        &rules,
        &[&lagging],
    )
    .await
    .unwrap();

    assert_eq!(
        delete.num_calls(),
        0,
        "a group tagged toilkit:keep was deleted: {:?}",
        report.applied
    );
}

/// Account-level policies' selection criteria in a form the function does
/// not read (`LogGroupName IN`, a pattern) used to name no group, so every
/// candidate they might select was deleted. They now keep every candidate.
#[tokio::test]
async fn an_account_policy_whose_criteria_cannot_be_read_keeps_every_candidate() {
    let list = listing(vec![
        wire_group("/stale/a", json!({})),
        wire_group("/stale/b", json!({})),
    ]);
    let policy = mock!(aws_sdk_cloudwatchlogs::Client::describe_account_policies)
        .match_requests(|r| r.policy_type() == Some(&PolicyType::TransformerPolicy))
        .then_http_response(|| {
            faults::ok(json!({"accountPolicies": [{
                "policyName": "parse-json",
                "policyType": "TRANSFORMER_POLICY",
                "policyDocument": "{\"transformerConfig\":[{\"parseJSON\":{}}]}",
                "scope": "ALL",
                "selectionCriteria": "LogGroupNamePattern LIKE /stale/%",
                "accountId": "123456789012",
                "lastUpdatedTime": LONG_AGO
            }]}))
        });
    let delete = mock!(aws_sdk_cloudwatchlogs::Client::delete_log_group)
        .then_http_response(|| faults::ok(json!({})));
    let quiet = quiet_everywhere();
    let mut rules: Vec<&Rule> = vec![&list, &policy, &delete];
    rules.extend(quiet.iter());
    let tags = no_tags();

    let report = invoke(
        &[("DELETE_EMPTY_AFTER_DAYS", "30")],
        &json!({}),
        &rules,
        &[&tags],
    )
    .await
    .unwrap();

    assert_eq!(delete.num_calls(), 0, "{:?}", report.applied);
    for group in ["/stale/a", "/stale/b"] {
        let why = skip_reason(&report, group);
        assert!(
            why.contains("TRANSFORMER_POLICY parse-json could not be read"),
            "{why}"
        );
    }
}

/// A group that a CloudWatch Logs resource policy lets a service write to
/// (an EventBridge rule's target, Route 53 query logging) is that
/// service's destination: empty and old, it was deleted, and the next
/// events were lost. A group the policy does not cover is still deleted.
#[tokio::test]
async fn a_group_a_resource_policy_lets_a_service_write_to_is_kept() {
    let list = listing(vec![
        wire_group("/aws/events/orders", json!({})),
        wire_group("/aws/route53/example.com", json!({})),
        wire_group("/stale/other", json!({})),
    ]);
    let policies = mock!(aws_sdk_cloudwatchlogs::Client::describe_resource_policies)
        .then_http_response(|| {
            let statement = |sid: &str, service: &str, resource: serde_json::Value| {
                json!({"Sid": sid, "Effect": "Allow",
                       "Principal": {"Service": [service]},
                       "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                       "Resource": resource})
            };
            let events = json!({"Version": "2012-10-17", "Statement": [statement(
                "TrustEventsToStoreLogEvent",
                "events.amazonaws.com",
                json!("arn:aws:logs:us-east-1:123456789012:log-group:/aws/events/*:*"),
            )]});
            let route53 = json!({"Version": "2012-10-17", "Statement": statement(
                "Route53LogsToCloudWatchLogs",
                "route53.amazonaws.com",
                json!(["arn:aws:logs:*:*:log-group:/aws/route53/*"]),
            )});
            faults::ok(json!({"resourcePolicies": [
                {"policyName": "TrustEventsToStoreLogEvents",
                 "policyDocument": events.to_string(), "lastUpdatedTime": LONG_AGO},
                {"policyName": "AWSServiceRoleForRoute53",
                 "policyDocument": route53.to_string(), "lastUpdatedTime": LONG_AGO}
            ]}))
        });
    let delete = mock!(aws_sdk_cloudwatchlogs::Client::delete_log_group)
        .then_http_response(|| faults::ok(json!({})));
    let quiet = quiet_everywhere();
    let mut rules: Vec<&Rule> = vec![&list, &policies, &delete];
    rules.extend(quiet.iter());
    let tags = no_tags();

    let report = invoke(
        &[("DELETE_EMPTY_AFTER_DAYS", "30")],
        &json!({}),
        &rules,
        &[&tags],
    )
    .await
    .unwrap();

    assert_eq!(deleted(&report), ["/stale/other"], "{:?}", report.skipped);
    assert_eq!(delete.num_calls(), 1);
    assert!(
        skip_reason(&report, "/aws/events/orders").contains("TrustEventsToStoreLogEvents"),
        "{:?}",
        report.skipped
    );
    assert!(
        skip_reason(&report, "/aws/route53/example.com").contains("AWSServiceRoleForRoute53"),
        "{:?}",
        report.skipped
    );
    assert_eq!(policies.num_calls(), 1, "read once per region and run");
}

/// The exempt tag just added (ListTagsForResource has it, the tagging
/// index not yet) also stops a retention shortening, which deletes the
/// older events.
#[tokio::test]
async fn an_exempt_tag_just_added_stops_a_retention_shortening() {
    let list = listing(vec![
        wire_group(
            "/app/audit",
            json!({"retentionInDays": 3653, "storedBytes": 10}),
        ),
        wire_group(
            "/app/other",
            json!({"retentionInDays": 3653, "storedBytes": 10}),
        ),
    ]);
    let own = mock!(aws_sdk_cloudwatchlogs::Client::list_tags_for_resource)
        .match_requests(|r| r.resource_arn().is_some_and(|a| a.ends_with("/app/audit")))
        .then_http_response(|| faults::ok(json!({"tags": {"toilkit:keep": "compliance"}})));
    let put = mock!(aws_sdk_cloudwatchlogs::Client::put_retention_policy)
        .then_http_response(|| faults::ok(json!({})));
    let quiet = quiet_everywhere();
    let mut rules: Vec<&Rule> = vec![&list, &own, &put];
    rules.extend(quiet.iter());
    let lagging = no_tags();

    let report = invoke(
        &[("OVERRIDE_EXISTING", "true")],
        &json!({}),
        &rules,
        &[&lagging],
    )
    .await
    .unwrap();

    assert_eq!(changed(&report), ["/app/other"], "{:?}", report.applied);
    assert_eq!(put.num_calls(), 1);
    assert_eq!(
        skip_reason(&report, "/app/audit"),
        "exempt: tagged toilkit:keep"
    );
}

/// DeleteLogGroup answering ResourceNotFound (someone deleted the group
/// between the listing and the call) was reported as this run's deletion.
#[tokio::test]
async fn a_group_already_gone_is_reported_as_already_gone_not_as_deleted() {
    let list = listing(vec![wire_group("/stale/gone", json!({}))]);
    let delete = mock!(aws_sdk_cloudwatchlogs::Client::delete_log_group).then_http_response(|| {
        faults::error(
            400,
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        )
    });
    let quiet = quiet_everywhere();
    let mut rules: Vec<&Rule> = vec![&list, &delete];
    rules.extend(quiet.iter());
    let tags = no_tags();

    let report = invoke(
        &[("DELETE_EMPTY_AFTER_DAYS", "30")],
        &json!({}),
        &rules,
        &[&tags],
    )
    .await
    .unwrap();

    assert_eq!(delete.num_calls(), 1);
    assert!(deleted(&report).is_empty(), "{:?}", report.applied);
    assert_eq!(report.counter("groups_deleted"), 0);
    assert_eq!(report.counter("groups_already_gone"), 1);
    assert!(
        skip_reason(&report, "/stale/gone").starts_with("already gone"),
        "{:?}",
        report.skipped
    );
    assert!(report.failed.is_empty(), "{:?}", report.failed);
}

/// A DeleteLogGroup sent but not answered before the deadline may have
/// deleted the group; it was not reported at all.
#[tokio::test]
async fn a_deletion_unanswered_at_the_deadline_is_reported_as_maybe_deleted() {
    let list = listing(vec![wire_group("/stale/slow", json!({}))]);
    let delete = mock!(aws_sdk_cloudwatchlogs::Client::delete_log_group)
        .then_http_response(|| faults::ok(json!({})));
    let quiet = quiet_everywhere();
    let mut rules: Vec<&Rule> = vec![&list, &delete];
    rules.extend(quiet.iter());
    let tags = no_tags();

    let report = invoke_until(
        &[("DELETE_EMPTY_AFTER_DAYS", "30")],
        &json!({}),
        &rules,
        &[&tags],
        Deadline::after(Duration::from_secs(1)),
        Some("DeleteLogGroup"),
    )
    .await
    .unwrap();

    assert!(deleted(&report).is_empty(), "{:?}", report.applied);
    assert_eq!(report.counter("groups_maybe_deleted"), 1, "{report:?}");
    let why = skip_reason(&report, "/stale/slow");
    assert!(why.starts_with("may have been deleted"), "{why}");
    assert!(report.stopped_early, "{report:?}");
}
