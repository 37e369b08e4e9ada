//! Fault injection for log-retention (aws-smithy-mocks): a 5xx storm in the
//! middle of the DescribeLogGroups pagination, within the SDK's retry budget
//! and past it (where the sweep stops without acting on the groups it had
//! listed: the next run redoes them), and throttling of PutRetentionPolicy
//! (retried within the budget; a group throttled past it is reported failed
//! while every other group completes). No group may be lost silently: a
//! sweep either reaches every page or reports, with its region, that the
//! listing failed, while what it did change is reported as applied.

mod faults;

use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
use aws_sdk_cloudwatchlogs::operation::put_retention_policy::PutRetentionPolicyOutput;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
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
    let sdk = faults::sdk_config().await;
    let calls = CallCounter::default();
    let logs = aws_sdk_cloudwatchlogs::config::Builder::from(&sdk)
        .retry_config(fast_retry())
        .http_client(create_mock_http_client())
        .interceptor(interceptor(logs_rules))
        .interceptor(calls.clone())
        .build();
    let tagging = aws_sdk_resourcegroupstagging::config::Builder::from(&sdk)
        .http_client(create_mock_http_client())
        .interceptor(interceptor(&[&tags]))
        .interceptor(calls.clone())
        .build();
    let s3 = aws_sdk_s3::config::Builder::from(&sdk)
        .http_client(create_mock_http_client())
        .build();
    let app = App::from_parts(
        Config::from_pairs([("RETENTION_DAYS", "30"), ("MAX_API_RPS", "1000")]).unwrap(),
        vec![RegionClients {
            region: "us-east-1".into(),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs),
            tagging: aws_sdk_resourcegroupstagging::Client::from_conf(tagging),
        }],
        aws_sdk_s3::Client::from_conf(s3),
        Output::default(),
        calls,
    );
    log_retention::run(&json!({}), &app, Deadline::unbounded())
        .await
        .expect("a sweep always ends in a report")
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
