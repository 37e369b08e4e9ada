//! What the access-denied-triage tests share: the state table, the default
//! webhook stored as a secret, the Slack receiver, a pager topic, IAM
//! principals with owner tags, and deliveries made of the fixtures.

use access_denied_triage::{App, Config, Outcome, process};
use serde_json::{Value, json};
use shared::Deadline;
use shared::config::Env;
use shared::output::Output;
use shared::slack::SlackClient;
use time::OffsetDateTime;
use toilkit_tests::slack::{Setup, fast_retries};

/// The account of the fixtures, where the function runs.
pub const ACCOUNT: &str = "111122223333";

pub struct Fixture {
    pub setup: Setup,
}

impl Fixture {
    /// The default webhook posts to the receiver's channel `security`.
    pub async fn new() -> Self {
        let mut setup = Setup::new("security").await;
        let table = setup.moto.unique("access-denied-state");
        toilkit_tests::tables::create_pk_table(&aws_sdk_dynamodb::Client::new(&setup.sdk), &table)
            .await
            .expect("state table created");
        setup.env.set("STATE_TABLE", &table);
        Self { setup }
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.setup.env.set(name, value);
    }

    /// `ROUTES` sends the owner tag value `team` to the receiver's channel
    /// of that name, through a webhook secret of its own.
    pub async fn route_team(&mut self, team: &str) {
        let secret = self.setup.slack.webhook_secret(&self.setup.sdk, team).await;
        self.set("ROUTES", &json!({ team: secret }).to_string());
    }

    /// A pager topic delivering to the receiver's `pager` channel, named by
    /// `CRITICAL_TOPIC_ARN`.
    pub async fn pager(&mut self) {
        let topic = self.setup.pager_topic().await;
        self.set("CRITICAL_TOPIC_ARN", &topic);
    }

    /// An IAM user of the emulator with an `owner` tag.
    pub async fn iam_user(&self, name: &str, owner: &str) {
        let iam = aws_sdk_iam::Client::new(&self.setup.sdk);
        let _ = iam.delete_user().user_name(name).send().await;
        iam.create_user()
            .user_name(name)
            .tags(
                aws_sdk_iam::types::Tag::builder()
                    .key("owner")
                    .value(owner)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("IAM user created");
    }

    pub fn app(&self) -> App {
        let mut env = Env::from_pairs(self.setup.env.clone());
        let config = Config::from_env(&mut env);
        env.finish().expect("the test's configuration is valid");
        App::new(config, &self.setup.sdk, Output::quiet())
            .with_slack(SlackClient::new(fast_retries(2)))
    }

    /// One invocation with `payload` at `now`.
    pub async fn invoke(&self, app: &App, payload: Value, now: OffsetDateTime) -> Outcome {
        process(payload, app, Some(ACCOUNT), now, &Deadline::unbounded()).await
    }

    /// The Block Kit messages each channel received, as text.
    pub fn texts(&self, channel: &str) -> Vec<String> {
        self.setup
            .slack
            .delivered_to(channel)
            .iter()
            .map(Value::to_string)
            .collect()
    }
}

/// A fixture record as CloudTrail writes it, with some fields replaced.
pub fn record(name: &str, changes: &[(&str, Value)]) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut record: Value = serde_json::from_str(&text).unwrap();
    for (pointer, value) in changes {
        *record
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer}")) = value.clone();
    }
    record
}

/// A CloudWatch Logs delivery of `records`, one log event each, as a
/// trail's log group sends them.
pub fn delivery(records: &[Value]) -> Value {
    let events = records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            json!({"id": format!("{i}"), "timestamp": 1_796_547_600_000_i64 + i as i64, "message": record.to_string()})
        })
        .collect();
    toilkit_tests::logs_subscription::event(&toilkit_tests::logs_subscription::document(
        "aws-cloudtrail-logs-111122223333",
        "111122223333_CloudTrail_eu-west-1",
        events,
    ))
}

/// The EventBridge event CloudTrail sends for one call.
pub fn eventbridge(record: &Value) -> Value {
    json!({
        "version": "0",
        "id": format!("eb-{}", record["eventID"].as_str().unwrap_or("x")),
        "detail-type": "AWS API Call via CloudTrail",
        "source": format!("aws.{}", record["eventSource"].as_str().unwrap().trim_end_matches(".amazonaws.com")),
        "account": ACCOUNT,
        "time": record["eventTime"],
        "region": record["awsRegion"],
        "resources": [],
        "detail": record,
    })
}

/// The digest's schedule event.
pub fn schedule(id: &str) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
        "account": ACCOUNT, "time": "2026-12-07T08:00:00Z", "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:111122223333:rule/toilkit-access-denied-triage-digest"],
        "detail": {}
    })
}
