//! Shared set-up for the emulator tests: an account per test (a region of
//! the shared moto server to itself), seeding, and running the handler.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_cloudwatchlogs::operation::describe_account_policies::DescribeAccountPoliciesOutput;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, mock};
use aws_types::SdkConfig;
use log_retention::{App, CallCounter, Config, RegionClients};
use serde_json::Value;
use shared::Deadline;
use shared::output::Output;
use shared::report::Report;
use toilkit_tests::Moto;
use toilkit_tests::call_times::CallTimes;

pub const DAY: Duration = Duration::from_secs(86_400);

/// One test's account: a region nobody else in this crate's tests uses.
pub struct Account {
    pub region: &'static str,
    pub sdk: SdkConfig,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

impl Account {
    pub async fn new(region: &'static str) -> Self {
        let sdk = Moto::shared().sdk_config_in(region).await;
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        let existing = logs
            .describe_log_groups()
            .send()
            .await
            .expect("list groups");
        assert!(
            existing.log_groups().is_empty(),
            "region {region} must belong to one test only"
        );
        Self { region, sdk, logs }
    }

    /// The function as configured by `vars` (REGIONS defaults to this
    /// region). moto has no account-level policies (DescribeAccountPolicies
    /// answers 500), so that one call is answered "none"; every other call
    /// reaches moto.
    pub fn app(&self, vars: &[(&str, &str)]) -> App {
        self.app_recording(vars, &CallTimes::default())
    }

    /// [`Account::app`], with every CloudWatch Logs call time-stamped.
    pub fn app_recording(&self, vars: &[(&str, &str)], times: &CallTimes) -> App {
        let config = Config::from_pairs(vars.iter().copied()).expect("valid configuration");
        let calls = CallCounter::default();
        let names = if config.regions.is_empty() {
            vec![self.region.to_owned()]
        } else {
            config.regions.clone()
        };
        let regions = names
            .iter()
            .map(|region| {
                let clients = log_retention::region_clients(&self.sdk, region, &calls);
                let logs = clients
                    .logs
                    .config()
                    .to_builder()
                    .interceptor(no_account_policies())
                    .interceptor(times.clone())
                    .build();
                RegionClients {
                    logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs),
                    ..clients
                }
            })
            .collect();
        let s3 = shared::aws::s3_client(&self.sdk)
            .config()
            .to_builder()
            .interceptor(calls.clone())
            .build();
        App::from_parts(
            config,
            regions,
            aws_sdk_s3::Client::from_conf(s3),
            Output::default(),
            calls,
        )
        .with_step_functions(aws_sdk_sfn::Client::new(&self.sdk))
    }

    /// A stream with no events yet.
    pub async fn stream(&self, group: &str, stream: &str) {
        self.logs
            .create_log_stream()
            .log_group_name(group)
            .log_stream_name(stream)
            .send()
            .await
            .expect("create stream");
    }

    pub async fn group(&self, name: &str, retention: Option<i32>, tags: &[(&str, &str)]) {
        let tags = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        create(self.logs.clone(), name.to_owned(), retention, tags).await;
    }

    /// Many groups, sixteen requests in flight.
    pub async fn groups(&self, specs: Vec<(String, Option<i32>, HashMap<String, String>)>) {
        let mut set = tokio::task::JoinSet::new();
        for (name, retention, tags) in specs {
            while set.len() >= 16 {
                set.join_next().await.unwrap().unwrap();
            }
            set.spawn(create(self.logs.clone(), name, retention, tags));
        }
        while let Some(done) = set.join_next().await {
            done.unwrap();
        }
    }

    /// A stream with one event of `message` at `timestamp_ms`.
    pub async fn event(&self, group: &str, message: &str, timestamp_ms: i64) {
        self.logs
            .create_log_stream()
            .log_group_name(group)
            .log_stream_name("s")
            .send()
            .await
            .expect("create stream");
        let out = self
            .logs
            .put_log_events()
            .log_group_name(group)
            .log_stream_name("s")
            .log_events(
                InputLogEvent::builder()
                    .timestamp(timestamp_ms)
                    .message(message)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("put event");
        assert!(out.rejected_log_events_info().is_none(), "event accepted");
    }

    pub async fn retentions(&self) -> HashMap<String, Option<i32>> {
        let mut all = HashMap::new();
        let mut token = None;
        loop {
            let out = self
                .logs
                .describe_log_groups()
                .set_next_token(token)
                .send()
                .await
                .expect("list");
            for g in out.log_groups() {
                all.insert(
                    g.log_group_name().unwrap().to_owned(),
                    g.retention_in_days(),
                );
            }
            token = out.next_token().map(str::to_owned);
            if token.is_none() {
                return all;
            }
        }
    }

    pub async fn retention(&self, name: &str) -> Option<i32> {
        *self
            .retentions()
            .await
            .get(name)
            .unwrap_or_else(|| panic!("{name} exists"))
    }
}

fn no_account_policies() -> MockResponseInterceptor {
    let none = mock!(aws_sdk_cloudwatchlogs::Client::describe_account_policies)
        .then_output(|| DescribeAccountPoliciesOutput::builder().build());
    MockResponseInterceptor::new()
        .rule_mode(RuleMode::MatchAny)
        .with_rule(&none)
        .allow_passthrough()
}

pub async fn sweep(app: &App) -> Report {
    run(app, &serde_json::json!({})).await
}

pub async fn run(app: &App, payload: &Value) -> Report {
    log_retention::run(payload, app, Deadline::unbounded())
        .await
        .expect("the run succeeds")
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub use toilkit_tests::report::targets;

async fn create(
    logs: aws_sdk_cloudwatchlogs::Client,
    name: String,
    retention: Option<i32>,
    tags: HashMap<String, String>,
) {
    logs.create_log_group()
        .log_group_name(&name)
        .set_tags((!tags.is_empty()).then_some(tags))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
    if let Some(days) = retention {
        logs.put_retention_policy()
            .log_group_name(&name)
            .retention_in_days(days)
            .send()
            .await
            .expect("put retention");
    }
}
