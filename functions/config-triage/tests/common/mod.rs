//! What the config-triage tests share: a state table, webhooks stored as
//! secrets, Slack, and events shaped like the sample.
use std::time::Duration;

use aws_types::SdkConfig;
use config_triage::config::Config;
use config_triage::digest::Home;
use config_triage::{App, Outcome, process};
use serde_json::{Value, json};
use shared::Deadline;
use shared::config::Env;
use shared::output::Output;
use shared::slack::{RetryPolicy, SlackClient};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use toilkit_tests::{Moto, SlackReceiver};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

pub struct Fixture {
    pub moto: &'static Moto,
    pub sdk: SdkConfig,
    pub slack: SlackReceiver,
    pub table: String,
    /// Secret name of the default webhook (channel "default").
    pub default_secret: String,
    pub env: Vec<(String, String)>,
}

impl Fixture {
    pub async fn new() -> Self {
        let moto = Moto::shared();
        let sdk = moto.sdk_config().await;
        let slack = SlackReceiver::start();
        let table = moto.unique("triage-state");
        toilkit_tests::tables::create_pk_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
            .await
            .expect("state table created");
        let mut fixture = Self {
            moto,
            sdk,
            slack,
            table: table.clone(),
            default_secret: String::new(),
            env: Vec::new(),
        };
        fixture.default_secret = fixture.webhook_secret("default").await;
        fixture.set("STATE_TABLE", &table);
        let default_secret = fixture.default_secret.clone();
        fixture.set("SLACK_WEBHOOK_SECRET_ARN", &default_secret);
        fixture
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_owned(), value.to_owned()));
    }

    /// Stores the receiver's webhook for `channel` in Secrets Manager; the
    /// secret's name.
    pub async fn webhook_secret(&self, channel: &str) -> String {
        let name = self.moto.unique(&format!("slack-{channel}"));
        self.slack
            .store_webhook_secret(&self.sdk, &name, channel)
            .await;
        name
    }

    /// An SNS topic whose messages reach the receiver's `pager` channel, as a
    /// critical page would reach the on-call tool; its ARN.
    pub async fn pager_topic(&self) -> String {
        let sns = aws_sdk_sns::Client::new(&self.sdk);
        let topic = sns
            .create_topic()
            .name(self.moto.unique("pager"))
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("http")
            .endpoint(self.slack.webhook_url("pager"))
            .send()
            .await
            .unwrap();
        topic
    }

    /// Stores the receiver's webhook for `channel` in an SSM parameter.
    pub async fn webhook_parameter(&self, channel: &str) -> String {
        let name = format!("/{}", self.moto.unique(&format!("slack-{channel}")));
        aws_sdk_ssm::Client::new(&self.sdk)
            .put_parameter()
            .name(&name)
            .value(self.slack.webhook_url(channel))
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .expect("parameter stored");
        name
    }

    /// A DynamoDB table standing for a violating resource, with tags.
    pub async fn tagged_table(&self, prefix: &str, tags: &[(&str, &str)]) -> String {
        let name = self.moto.unique(prefix);
        toilkit_tests::tables::create_tagged_table(
            &aws_sdk_dynamodb::Client::new(&self.sdk),
            &name,
            "id",
            tags,
        )
        .await
        .expect("resource table created");
        name
    }

    pub fn settings(&self) -> Config {
        let mut env = Env::from_pairs(self.env.clone());
        let settings = Config::from_env(&mut env);
        env.finish().expect("test configuration is valid");
        settings
    }

    pub fn app(&self) -> App {
        App::new(self.settings(), &self.sdk, Output::default()).with_slack(fast_slack())
    }

    pub async fn run(&self, app: &App, payload: &Value, now: OffsetDateTime) -> Outcome {
        process(payload, app, &home(), now, &Deadline::unbounded()).await
    }

    /// The raw state item for a change.
    pub async fn state_item(&self, event: &Value) -> Option<Value> {
        let change = config_triage::change::parse(event).unwrap();
        let item = aws_sdk_dynamodb::Client::new(&self.sdk)
            .get_item()
            .table_name(&self.table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(change.key()),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item?;
        Some(Value::Object(
            item.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        aws_sdk_dynamodb::types::AttributeValue::S(s) => json!(s),
                        aws_sdk_dynamodb::types::AttributeValue::N(n) => {
                            json!(n.parse::<i64>().unwrap())
                        }
                        aws_sdk_dynamodb::types::AttributeValue::Bool(b) => json!(b),
                        other => json!(format!("{other:?}")),
                    };
                    (k, v)
                })
                .collect(),
        ))
    }
}

pub fn home() -> Home {
    Home {
        account: ACCOUNT.into(),
        region: REGION.into(),
    }
}

/// Slack retries shortened so failure tests stay fast.
pub fn fast_slack() -> SlackClient {
    SlackClient::new(RetryPolicy {
        max_attempts: 2,
        max_rate_limited: 2,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        spacing: Duration::from_millis(1),
        request_timeout: Duration::from_secs(5),
    })
}

pub fn at(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap()
}

/// A compliance change shaped like the shared sample.
pub fn event(
    rule: &str,
    resource_type: &str,
    resource_id: &str,
    new: &str,
    old: Option<&str>,
    when: OffsetDateTime,
) -> Value {
    let mut e: Value = serde_json::from_str(&toilkit_tests::workspace::sample(
        "config-compliance-change.json",
    ))
    .unwrap();
    let when = when.format(&Rfc3339).unwrap();
    e["account"] = json!(ACCOUNT);
    e["region"] = json!(REGION);
    let d = &mut e["detail"];
    d["awsAccountId"] = json!(ACCOUNT);
    d["awsRegion"] = json!(REGION);
    d["configRuleName"] = json!(rule);
    d["resourceType"] = json!(resource_type);
    d["resourceId"] = json!(resource_id);
    let q =
        json!({"configRuleName": rule, "resourceType": resource_type, "resourceId": resource_id});
    d["newEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"] = q.clone();
    d["newEvaluationResult"]["evaluationResultIdentifier"]["orderingTimestamp"] = json!(when);
    d["newEvaluationResult"]["complianceType"] = json!(new);
    if new != "NON_COMPLIANT" {
        d["newEvaluationResult"]
            .as_object_mut()
            .unwrap()
            .remove("annotation");
    }
    match old {
        Some(old) => {
            d["oldEvaluationResult"]["evaluationResultIdentifier"]["evaluationResultQualifier"] = q;
            d["oldEvaluationResult"]["complianceType"] = json!(old);
        }
        None => {
            d.as_object_mut().unwrap().remove("oldEvaluationResult");
        }
    }
    e
}

/// An SQS batch as the Lambda event source mapping delivers it.
pub fn sqs_batch(records: &[(&str, String)]) -> Value {
    json!({
        "Records": records.iter().map(|(id, body)| json!({
            "messageId": id,
            "receiptHandle": format!("AQEB{id}"),
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1700000000000",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1700000000001"
            },
            "messageAttributes": {},
            "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:config-triage",
            "awsRegion": "us-east-1"
        })).collect::<Vec<_>>()
    })
}

/// The text of every Slack message delivered to `channel`, joined.
pub fn texts(slack: &SlackReceiver, channel: &str) -> Vec<String> {
    slack
        .delivered_to(channel)
        .into_iter()
        .map(|b| b.to_string())
        .collect()
}
