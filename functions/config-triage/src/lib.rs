//! config-triage: AWS Config compliance changes turned into deduplicated,
//! exempted, routed notifications, and a periodic digest.
//!
//! - [`trigger`]: a compliance change (EventBridge or SQS), the schedule, an action;
//! - [`change`]: the EventBridge compliance-change event;
//! - [`severity`], [`exemption`]: what operators configure (routes are `shared::routing`);
//! - [`plan`]: the pure decision per change (transition, notify or not, next
//!   state, route, paging);
//! - [`state`]: the DynamoDB state table with conditional writes;
//! - [`resource`]: ARN, name and tags of a resource; [`parameter`]: the
//!   exemptions parameter (SSM);
//! - [`apply`]: carries one change's decision out; [`notify`]: the messages
//!   and their delivery (Slack, SNS);
//! - [`compliance`], [`digest`]: the scheduled digest;
//! - [`item`]: what the result event says of each violation.

pub mod apply;
pub mod change;
pub mod compliance;
pub mod config;
pub mod digest;
pub mod error;
pub mod exemption;
pub mod item;
pub mod notify;
pub mod parameter;
pub mod plan;
pub mod resource;
pub mod severity;
pub mod state;
pub mod trigger;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_types::SdkConfig;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::Deadline;
use shared::output::Output;
use shared::report::Report;
use shared::secret::SecretStore;
use shared::slack::SlackClient;
use time::OffsetDateTime;

pub use crate::config::Config;
use crate::digest::Home;
pub use crate::error::Error;
use crate::exemption::Exemptions;
use crate::resource::Enricher;
use crate::state::StateStore;
use crate::trigger::Trigger;

pub const FUNCTION: &str = "config-triage";

/// Everything built once per cold start.
pub struct App {
    pub settings: Config,
    pub region: String,
    pub config: aws_sdk_config::Client,
    pub state: StateStore,
    pub enricher: Enricher,
    pub sns: aws_sdk_sns::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub secrets: SecretStore,
    pub slack: SlackClient,
    pub output: Output,
}

impl App {
    pub fn new(settings: Config, sdk: &SdkConfig, output: Output) -> Self {
        let config = aws_sdk_config::Client::new(sdk);
        Self {
            state: StateStore::new(aws_sdk_dynamodb::Client::new(sdk), &settings.state_table),
            enricher: Enricher::new(
                aws_sdk_resourcegroupstagging::Client::new(sdk),
                config.clone(),
            )
            .with_regions(sdk),
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            config,
            sns: aws_sdk_sns::Client::new(sdk),
            ssm: aws_sdk_ssm::Client::new(sdk),
            secrets: SecretStore::new(sdk),
            slack: SlackClient::default(),
            output,
            settings,
        }
    }

    /// Uses `client` for every AWS Config call (tests mock the compliance
    /// APIs, which the emulator lacks).
    pub fn with_config_client(mut self, client: aws_sdk_config::Client, sdk: &SdkConfig) -> Self {
        self.enricher = Enricher::new(
            aws_sdk_resourcegroupstagging::Client::new(sdk),
            client.clone(),
        )
        .with_regions(sdk);
        self.config = client;
        self
    }

    pub fn with_slack(mut self, slack: SlackClient) -> Self {
        self.slack = slack;
        self
    }
}

/// What one invocation produced: the report, and the Lambda response.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    pub response: Result<Value, Error>,
}

/// The Lambda handler.
pub async fn handle(event: LambdaEvent<Value>, app: &App) -> Result<Value, Error> {
    let deadline = Deadline::from_context(&event.context, shared::deadline::DEFAULT_MARGIN);
    let home = Home {
        account: account_of(&event.context.invoked_function_arn).unwrap_or_default(),
        region: app.region.clone(),
    };
    let outcome = process(
        &event.payload,
        app,
        &home,
        OffsetDateTime::now_utc(),
        &deadline,
    )
    .await;
    match &outcome.response {
        Ok(_) => app.output.emit(&outcome.report).await,
        Err(error) => app.output.emit_failed(&outcome.report, error).await,
    }
    outcome.response
}

/// The account id in a Lambda function ARN.
pub fn account_of(function_arn: &str) -> Option<String> {
    function_arn
        .split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
}

/// Runs one invocation; the handler logs the report and returns the response.
pub async fn process(
    payload: &Value,
    app: &App,
    home: &Home,
    now: OffsetDateTime,
    deadline: &Deadline,
) -> Outcome {
    let mut report = Report::new(FUNCTION, app.settings.dry_run);
    let response = match load_exemptions(app, now, &mut report).await {
        Err(e) => {
            report.fail("exemptions", "load_exemptions", &e);
            Err(e)
        }
        Ok(exemptions) => {
            route_event(payload, app, &exemptions, home, now, deadline, &mut report).await
        }
    };
    Outcome { report, response }
}

async fn route_event(
    payload: &Value,
    app: &App,
    exemptions: &Exemptions,
    home: &Home,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<Value, Error> {
    match trigger::parse(payload)? {
        Trigger::Batch(batch) => {
            let batch = sqs_batch(batch, app, exemptions, now, deadline, report).await?;
            Ok(serde_json::to_value(batch).expect("a batch response serializes"))
        }
        Trigger::Change(change) => {
            apply::triage(app, exemptions, &change, now, deadline, report).await?;
            Ok(report_value(report))
        }
        Trigger::AnnounceHeld => {
            digest::run_held(app, exemptions, home, now, deadline, report).await?;
            Ok(report_value(report))
        }
        Trigger::Digest { event_id } => {
            let event_id = event_id.as_deref();
            digest::run(app, exemptions, home, event_id, now, deadline, report).await?;
            Ok(report_value(report))
        }
    }
}

fn report_value(report: &Report) -> Value {
    serde_json::to_value(report).expect("a report serializes")
}

/// `EXEMPTIONS` plus the parameter's, read fresh each invocation so an
/// edit applies at once. Expired ones are reported.
async fn load_exemptions(
    app: &App,
    now: OffsetDateTime,
    report: &mut Report,
) -> Result<Exemptions, Error> {
    let mut exemptions = app.settings.exemptions.clone();
    if let Some(parameter) = &app.settings.exemptions_parameter {
        let value = parameter::read(&app.ssm, parameter).await?;
        exemptions
            .extend(Exemptions::parse(&value).map_err(|m| parameter::error(parameter, m.into()))?);
    }
    let expired: Vec<Value> = exemptions
        .expired(now)
        .iter()
        .map(|e| json!(e.describe()))
        .collect();
    if !expired.is_empty() {
        report.add("exemptions_expired", expired.len() as u64);
        report.detail("expired_exemptions", Value::Array(expired));
    }
    Ok(exemptions)
}

/// Each record is one change; a record whose notification could not be
/// delivered (or that cannot be read) is returned as a batch item failure,
/// so SQS redelivers only it, and dead-letters it after its retries.
async fn sqs_batch(
    event: SqsEvent,
    app: &App,
    exemptions: &Exemptions,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    let mut failed = |id: &str| {
        let mut f = BatchItemFailure::default();
        f.item_identifier = id.to_owned();
        response.batch_item_failures.push(f);
    };
    report.add("sqs_records", event.records.len() as u64);
    for record in &event.records {
        let id = record.message_id.clone().unwrap_or_default();
        if deadline.expired() {
            // Not attempted: returned to the queue for the next invocation.
            report.stop_early("deadline: remaining records returned to the queue");
            failed(&id);
            continue;
        }
        let outcome = match record_change(record.body.as_deref().unwrap_or("")) {
            Ok(None) => {
                report.incr("ignored_events");
                report.skip(
                    format!("sqs message {id}"),
                    "not a Config compliance change",
                );
                continue;
            }
            Ok(Some(change)) => {
                apply::triage(app, exemptions, &change, now, deadline, report).await
            }
            Err(e) => {
                report.fail(format!("sqs message {id}"), "read_record", &e);
                Err(e)
            }
        };
        if let Err(error) = outcome {
            tracing::warn!(message_id = %id, %error, "record failed; returned to the queue");
            failed(&id);
        }
    }
    report.add("sqs_failed", response.batch_item_failures.len() as u64);
    Ok(response)
}

/// The change in an SQS body: the EventBridge event itself, or wrapped in an
/// SNS notification when the queue is fed through a topic.
fn record_change(body: &str) -> Result<Option<change::ComplianceChange>, Error> {
    let mut event: Value = serde_json::from_str(body)
        .map_err(|e| Error::BadEvent(format!("SQS body is not JSON: {e}")))?;
    if event.get("Type").and_then(Value::as_str) == Some("Notification")
        && let Some(inner) = event.get("Message").and_then(Value::as_str)
    {
        event = serde_json::from_str(inner)
            .map_err(|e| Error::BadEvent(format!("SNS message in SQS body is not JSON: {e}")))?;
    }
    if !change::is_compliance_change(&event) {
        return Ok(None);
    }
    change::parse(&event).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_comes_from_the_function_arn() {
        assert_eq!(
            account_of("arn:aws:lambda:eu-west-1:123456789012:function:config-triage").as_deref(),
            Some("123456789012")
        );
        assert_eq!(account_of(""), None);
    }

    #[test]
    fn sqs_bodies_may_be_wrapped_in_sns() {
        let event = toilkit_tests::workspace::sample("config-compliance-change.json");
        assert!(record_change(&event).unwrap().is_some());
        let wrapped = json!({"Type": "Notification", "Message": event}).to_string();
        assert_eq!(
            record_change(&wrapped).unwrap().unwrap().rule,
            "restricted-ssh"
        );
        assert!(
            record_change(r#"{"detail-type": "Other"}"#)
                .unwrap()
                .is_none()
        );
        assert!(record_change("not json").is_err());
    }
}
