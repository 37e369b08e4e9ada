//! access-denied-triage: denied AWS API calls, from CloudTrail, triaged as
//! an SRE would: the noise dropped and counted, who and why named, repeats
//! grouped, attacks and sensitive writes alerted at once, a daily digest.
//!
//! - [`trigger`]: an EventBridge CloudTrail event, a Logs delivery, the schedule;
//! - [`record`]: the CloudTrail record and who made the call;
//! - [`reason`]: the policy type that denied it, from `errorMessage`;
//! - [`noise`], [`rules`]: what is dropped, built in and the operator's;
//! - [`plan`]: the pure decision for a batch; [`digest`]: the digest's;
//! - [`state`]: the DynamoDB table of announcements, sightings and counts;
//! - [`enrich`]: the principal's owner tag and the account alias, from IAM;
//! - [`apply`]: carries a plan out; [`notify`]: the messages and their
//!   delivery (Slack, SNS).

pub mod apply;
pub mod config;
pub mod digest;
pub mod enrich;
pub mod error;
pub mod noise;
pub mod notify;
pub mod plan;
pub mod reason;
pub mod record;
pub mod rules;
pub mod state;
pub mod trigger;

use aws_types::SdkConfig;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::Deadline;
use shared::envelope::Item;
use shared::output::Output;
use shared::report::{Action, Report};
use shared::secret::SecretStore;
use shared::slack::SlackClient;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use crate::config::Config;
use crate::enrich::Enricher;
pub use crate::error::Error;
use crate::plan::{Decision, Facts, Plan};
use crate::state::StateStore;
use crate::trigger::{Batch, Trigger};

pub const FUNCTION: &str = "access-denied-triage";

/// Everything built once per cold start.
pub struct App {
    pub settings: Config,
    pub state: StateStore,
    pub enricher: Enricher,
    pub sns: aws_sdk_sns::Client,
    pub secrets: SecretStore,
    pub slack: SlackClient,
    pub output: Output,
}

impl App {
    pub fn new(settings: Config, sdk: &SdkConfig, output: Output) -> Self {
        Self {
            state: StateStore::new(aws_sdk_dynamodb::Client::new(sdk), &settings.state_table),
            enricher: Enricher::new(aws_sdk_iam::Client::new(sdk)),
            sns: aws_sdk_sns::Client::new(sdk),
            secrets: SecretStore::new(sdk),
            slack: SlackClient::default(),
            output,
            settings,
        }
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
    let home = account_of(&event.context.invoked_function_arn);
    let outcome = process(
        event.payload,
        app,
        home.as_deref(),
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

/// The account id in a Lambda function ARN: the account whose IAM the
/// enrichment may read.
pub fn account_of(function_arn: &str) -> Option<String> {
    function_arn
        .split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
}

/// One invocation, from the payload to the report. `home` is the account
/// the function runs in.
pub async fn process(
    payload: Value,
    app: &App,
    home: Option<&str>,
    now: OffsetDateTime,
    deadline: &Deadline,
) -> Outcome {
    let mut report = Report::new(FUNCTION, app.settings.dry_run);
    let response = run(payload, app, home, now, deadline, &mut report)
        .await
        .map(|()| serde_json::to_value(&report).unwrap_or(Value::Null));
    if let Err(error) = &response {
        report.detail("error", json!(error.to_string()));
    }
    Outcome { report, response }
}

async fn run(
    payload: Value,
    app: &App,
    home: Option<&str>,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    match trigger::parse(payload)? {
        Trigger::Records(batch) => {
            let facts = app.state.facts(&plan::wanted(&batch.records), now).await?;
            let plan = decide(&batch, &app.settings, &facts, now, report);
            // Only who will be told about is looked up: held groups would
            // spend the bound on principals nobody reads about now.
            let announced = apply::announcements(&plan);
            let context = if announced.is_empty() {
                Default::default()
            } else {
                let whos = announced.iter().map(|a| a.who());
                app.enricher.context(whos, home).await
            };
            if !context.unknown.is_empty() {
                report.detail("unknown", json!(context.unknown));
            }
            if app.settings.dry_run {
                return Ok(());
            }
            apply::apply(app, &plan, &facts, &context, now, deadline, report).await
        }
        Trigger::Digest { event_id } => {
            report.detail("digest_event", json!(event_id));
            apply::digest(app, now, deadline, report).await
        }
    }
}

/// The plan for one batch, and the report of it: what was dropped and why,
/// each group and burst, announced or held, and each as a result event item
/// under the key the state table announces it by. Pure.
pub fn decide(
    batch: &Batch,
    config: &Config,
    facts: &Facts,
    now: OffsetDateTime,
    report: &mut Report,
) -> Plan {
    report.detail("path", json!(batch.path.as_str()));
    report.add("records", batch.records.len() as u64);
    report.add("malformed", batch.malformed);
    if let Some(problem) = &batch.first_problem {
        report.detail("first_malformed", json!(problem));
    }
    let plan = plan::plan(&batch.records, config, facts, now);
    for (noise, n) in &plan.dropped {
        report.add(noise.counter(), *n);
    }
    report.add("groups", plan.groups.len() as u64);
    for group in &plan.groups {
        let reason = format!(
            "{} denied {} {}: {}",
            group.who.describe(),
            group.count,
            if group.count == 1 { "time" } else { "times" },
            group.denial.describe()
        );
        report.item(
            Item::open("denied_call", &group.key)
                .with("severity", json!(group.severity))
                .with("who", group.who.describe())
                .with("action", group.action.as_str())
                .with("denial", group.denial.describe())
                .with("count", group.count)
                .with("first", json!(group.first.format(&Rfc3339).ok()))
                .with("last", json!(group.last.format(&Rfc3339).ok()))
                .with("flags", json!(group.flags))
                .with("decision", decision_name(&group.decision))
                .with("last_announced", last_announced(&group.decision)),
        );
        match group.decision {
            Decision::Announce => {
                report.plan(
                    Action::new(apply::kind(group.severity), &group.key, reason)
                        .with_detail(json!(group)),
                );
            }
            Decision::Held { last_announced } => {
                report.skip(
                    &group.key,
                    format!("{reason}; already announced at {last_announced}"),
                );
            }
            Decision::InBurst => {
                report.skip(
                    &group.key,
                    format!("{reason}; told in the reconnaissance alert for this principal"),
                );
            }
        }
    }
    for recon in &plan.recon {
        let reason = format!(
            "{} was denied {} distinct actions between {} and {}",
            recon.who.describe(),
            recon.actions.len(),
            recon.from,
            recon.to
        );
        report.item(
            Item::open("reconnaissance", &recon.key)
                .with("severity", json!(recon.severity))
                .with("who", recon.who.describe())
                .with("actions", recon.actions.len())
                .with("from", json!(recon.from.format(&Rfc3339).ok()))
                .with("to", json!(recon.to.format(&Rfc3339).ok()))
                .with("decision", decision_name(&recon.decision))
                .with("last_announced", last_announced(&recon.decision)),
        );
        match recon.decision {
            Decision::Announce => report.plan(
                Action::new(apply::kind(recon.severity), &recon.key, reason)
                    .with_detail(json!(recon)),
            ),
            Decision::Held { last_announced } => {
                report.skip(
                    &recon.key,
                    format!("{reason}; already announced at {last_announced}"),
                );
            }
            Decision::InBurst => {}
        }
    }
    if !plan.expected.is_empty() {
        report.detail("expected", json!(plan.expected));
    }
    if !plan.expired_rules.is_empty() {
        report.detail("expired_rules", json!(plan.expired_rules));
    }
    plan
}

fn decision_name(decision: &Decision) -> &'static str {
    match decision {
        Decision::Announce => "announce",
        Decision::Held { .. } => "held",
        Decision::InBurst => "in_burst",
    }
}

fn last_announced(decision: &Decision) -> Option<String> {
    match decision {
        Decision::Held { last_announced } => last_announced.format(&Rfc3339).ok(),
        _ => None,
    }
}
