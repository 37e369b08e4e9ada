//! What the config-triage tests share: a state table, webhooks stored as
//! secrets, Slack, and events shaped like the sample.

use config_triage::config::Config;
use config_triage::digest::Home;
use config_triage::{App, Outcome, process};
use serde_json::{Value, json};
use shared::Deadline;
use shared::config::Env;
use shared::output::Output;
use shared::slack::SlackClient;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use toilkit_tests::SlackReceiver;
use toilkit_tests::slack::Setup;

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// A state table and a default webhook (channel "default") in the
/// emulator, and the environment naming them.
pub struct Fixture {
    pub setup: Setup,
    pub table: String,
}

impl Fixture {
    pub async fn new() -> Self {
        let mut setup = Setup::new("default").await;
        let table = setup.moto.unique("triage-state");
        toilkit_tests::tables::create_pk_table(&aws_sdk_dynamodb::Client::new(&setup.sdk), &table)
            .await
            .expect("state table created");
        setup.env.set("STATE_TABLE", &table);
        Self { setup, table }
    }

    /// `ROUTES` sends the owner tag value `team` to the receiver's channel
    /// of that name, through a webhook secret of its own.
    pub async fn route_team(&mut self, team: &str) {
        let secret = self.setup.slack.webhook_secret(&self.setup.sdk, team).await;
        self.setup.env.set(
            "ROUTES",
            &serde_json::json!({ team: format!("secret:{secret}") }).to_string(),
        );
    }

    /// A pager topic delivering to the receiver's `pager` channel.
    pub async fn pager_topic(&self) -> String {
        self.setup.pager_topic().await
    }

    /// A DynamoDB table standing for a violating resource, with tags.
    pub async fn tagged_table(&self, prefix: &str, tags: &[(&str, &str)]) -> String {
        let name = self.setup.moto.unique(prefix);
        toilkit_tests::tables::create_tagged_table(
            &aws_sdk_dynamodb::Client::new(&self.setup.sdk),
            &name,
            "id",
            tags,
        )
        .await
        .expect("resource table created");
        name
    }

    pub fn settings(&self) -> Config {
        let mut env = Env::from_pairs(self.setup.env.clone());
        let settings = Config::from_env(&mut env);
        env.finish().expect("test configuration is valid");
        settings
    }

    pub fn app(&self) -> App {
        App::new(self.settings(), &self.setup.sdk, Output::default()).with_slack(fast_slack())
    }

    pub async fn run(&self, app: &App, payload: &Value, now: OffsetDateTime) -> Outcome {
        process(payload, app, &home(), now, &Deadline::unbounded()).await
    }

    /// The raw state item for a change.
    pub async fn state_item(&self, event: &Value) -> Option<Value> {
        let change = config_triage::change::parse(event).unwrap();
        let item = aws_sdk_dynamodb::Client::new(&self.setup.sdk)
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
    SlackClient::new(toilkit_tests::slack::fast_retries(2))
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
