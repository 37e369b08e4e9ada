//! Injected throttling (aws-smithy-mocks, since moto never throttles): the
//! throttled calls are retried by the SDK's adaptive retry, a group that
//! stays throttled is reported as failed, and every other group completes.

use aws_credential_types::Credentials;
use aws_sdk_cloudwatchlogs::operation::describe_log_groups::DescribeLogGroupsOutput;
use aws_sdk_cloudwatchlogs::operation::put_retention_policy::PutRetentionPolicyOutput;
use aws_sdk_cloudwatchlogs::types::LogGroup;
use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_types::region::Region;
use log_retention::{App, CallCounter, Config, RegionClients};
use serde_json::json;
use shared::Deadline;
use shared::output::Output;

const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
const OTHERS: usize = 20;

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

fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
    rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, r| i.with_rule(r),
    )
}

#[tokio::test]
async fn throttled_calls_are_retried_and_the_other_groups_complete() {
    let list = mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups).then_output(|| {
        let mut groups: Vec<LogGroup> = (0..OTHERS)
            .map(|i| group(&format!("/app/{i:02}")))
            .collect();
        groups.push(group("/app/throttled-twice"));
        groups.push(group("/app/always-throttled"));
        DescribeLogGroupsOutput::builder()
            .set_log_groups(Some(groups))
            .build()
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
    let tags = mock!(aws_sdk_resourcegroupstagging::Client::get_resources)
        .then_output(|| GetResourcesOutput::builder().build());

    let calls = CallCounter::default();
    let credentials = Credentials::new("test", "test", None, None, "test");
    let logs = aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials.clone())
        .retry_config(shared::aws::retry_config())
        .http_client(create_mock_http_client())
        .interceptor(interceptor(&[&list, &twice, &always, &put]))
        .interceptor(calls.clone())
        .build();
    let tagging = aws_sdk_resourcegroupstagging::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials.clone())
        .http_client(create_mock_http_client())
        .interceptor(interceptor(&[&tags]))
        .interceptor(calls.clone())
        .build();
    let s3 = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
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

    let report = log_retention::run(&json!({}), &app, Deadline::unbounded())
        .await
        .unwrap();

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
