//! What the rds-audit-notifier tests share: the emulator, a Slack receiver
//! whose webhook URL is stored as a real secret, an idempotency table, and
//! subscription events encoded exactly as CloudWatch Logs sends them.

use lambda_runtime::{Context, LambdaEvent};
use rds_audit_notifier::{App, Error, handle};
use serde_json::Value;
use shared::Report;
use shared::config::Env;
use toilkit_tests::slack::Setup;

/// The emulator, Slack, and a webhook stored in Secrets Manager (channel
/// "audit").
pub struct Fixture {
    pub setup: Setup,
}

impl Fixture {
    pub async fn new() -> Self {
        Self {
            setup: Setup::new("audit").await,
        }
    }

    /// Creates an idempotency table shaped like the template's and uses it.
    pub async fn idempotency_table(&mut self) -> String {
        let table = self.setup.moto.unique("rds-idempotency");
        toilkit_tests::tables::create_pk_table(
            &aws_sdk_dynamodb::Client::new(&self.setup.sdk),
            &table,
        )
        .await
        .expect("idempotency table created");
        self.setup.env.set("IDEMPOTENCY_TABLE", &table);
        table
    }

    /// The app as the binary builds it, with short Slack retry timings.
    pub fn app(&self) -> App {
        let mut env = Env::from_pairs(self.setup.env.clone());
        let app = App::with_slack_policy(
            &mut env,
            &self.setup.sdk,
            toilkit_tests::slack::fast_retries(3),
        );
        env.finish().expect("valid configuration");
        app
    }

    pub async fn invoke(&self, app: &App, payload: Value) -> Result<Report, Error> {
        handle(LambdaEvent::new(payload, Context::default()), app).await
    }

    /// Every text Slack received with 200, as one string per message.
    pub fn delivered_texts(&self) -> Vec<String> {
        self.setup
            .slack
            .delivered_to("audit")
            .iter()
            .map(Value::to_string)
            .collect()
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
