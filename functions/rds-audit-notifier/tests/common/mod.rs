//! What the rds-audit-notifier tests share: the emulator, a Slack receiver
//! whose webhook URL is stored as a real secret, an idempotency table, and
//! subscription events encoded exactly as CloudWatch Logs sends them.
use std::time::Duration;

use aws_types::SdkConfig;
use lambda_runtime::{Context, LambdaEvent};
use rds_audit_notifier::{App, Error, handle};
use serde_json::Value;
use shared::Report;
use shared::config::Env;
use shared::slack::RetryPolicy;
use toilkit_tests::{Moto, SlackReceiver};

pub struct Fixture {
    pub moto: &'static Moto,
    pub sdk: SdkConfig,
    pub slack: SlackReceiver,
    pub env: Vec<(String, String)>,
}

impl Fixture {
    /// Moto, Slack, and a webhook stored in Secrets Manager (channel "audit").
    pub async fn new() -> Self {
        let moto = Moto::shared();
        let sdk = moto.sdk_config().await;
        let slack = SlackReceiver::start();
        let mut fixture = Self {
            moto,
            sdk,
            slack,
            env: Vec::new(),
        };
        let secret = fixture.webhook_secret("audit").await;
        fixture.set("SLACK_WEBHOOK_SECRET_ARN", &secret);
        fixture
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// Stores the receiver's webhook for `channel` in Secrets Manager; returns its ARN.
    pub async fn webhook_secret(&self, channel: &str) -> String {
        self.slack
            .store_webhook_secret(&self.sdk, &self.moto.unique("slack-webhook"), channel)
            .await
    }

    /// Stores the webhook for `channel` as an SSM SecureString; returns its name.
    pub async fn webhook_parameter(&self, channel: &str) -> String {
        let name = format!("/toilkit/{}", self.moto.unique("slack"));
        aws_sdk_ssm::Client::new(&self.sdk)
            .put_parameter()
            .name(&name)
            .value(self.slack.webhook_url(channel))
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("parameter created");
        name
    }

    /// Creates an idempotency table shaped like the template's and uses it.
    pub async fn idempotency_table(&mut self) -> String {
        let table = self.moto.unique("rds-idempotency");
        toilkit_tests::tables::create_pk_table(&aws_sdk_dynamodb::Client::new(&self.sdk), &table)
            .await
            .expect("idempotency table created");
        self.set("IDEMPOTENCY_TABLE", &table);
        table
    }

    /// The app as the binary builds it, with short Slack retry timings.
    pub fn app(&self) -> App {
        let mut env = Env::from_pairs(self.env.clone());
        let app = App::with_slack_policy(&mut env, &self.sdk, fast_policy());
        env.finish().expect("valid configuration");
        app
    }

    pub async fn invoke(&self, app: &App, payload: Value) -> Result<Report, Error> {
        handle(LambdaEvent::new(payload, Context::default()), app).await
    }

    /// Every text Slack received with 200, as one string per message.
    pub fn delivered_texts(&self) -> Vec<String> {
        self.slack
            .delivered_to("audit")
            .iter()
            .map(Value::to_string)
            .collect()
    }
}

pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        max_rate_limited: 3,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        spacing: Duration::from_millis(5),
        request_timeout: Duration::from_secs(5),
    }
}

pub use toilkit_tests::logs_subscription::event as subscription_event;

/// The decoded subscription document for `messages`, ids like CloudWatch's.
pub fn log_data(group: &str, stream: &str, messages: &[&str]) -> Value {
    toilkit_tests::logs_subscription::log_data(group, stream, 1_700_000_000_000, messages)
}

pub fn subscription(group: &str, messages: &[&str]) -> Value {
    subscription_event(&log_data(group, "stream-1", messages))
}

/// The lines of a shared sample file.
pub fn sample_lines(name: &str) -> Vec<String> {
    toilkit_tests::workspace::sample(name)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}
