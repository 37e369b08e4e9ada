//! access-denied-triage: denied AWS API calls, from CloudTrail, triaged as
//! an SRE would: the noise dropped and counted, who and why named, repeats
//! grouped, attacks and sensitive writes alerted at once.
//!
//! - [`trigger`]: an EventBridge CloudTrail event, a Logs delivery, the schedule;
//! - [`record`]: the CloudTrail record and who made the call;
//! - [`reason`]: the policy type that denied it, from `errorMessage`;
//! - [`noise`], [`rules`]: what is dropped, built in and the operator's;
//! - [`plan`]: the pure decision for a batch;
//! - [`state`]: the DynamoDB table of announcements and first sightings.
//!
//! This is the core of issue 16: it plans and reports. The state table, the
//! enrichment, Slack, SNS and the digest are the next step, so for now every
//! run reports what it would announce and changes nothing.

pub mod config;
pub mod error;
pub mod noise;
pub mod plan;
pub mod reason;
pub mod record;
pub mod rules;
pub mod state;
pub mod trigger;

use aws_types::SdkConfig;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::output::Output;
use shared::report::{Action, Report};
use time::OffsetDateTime;

pub use crate::config::Config;
pub use crate::error::Error;
use crate::plan::{Decision, Facts, Severity};
use crate::trigger::{Batch, Trigger};

pub const FUNCTION: &str = "access-denied-triage";

/// Everything built once per cold start.
pub struct App {
    pub settings: Config,
    pub output: Output,
}

impl App {
    pub fn new(settings: Config, _sdk: &SdkConfig, output: Output) -> Self {
        Self { settings, output }
    }
}

/// The Lambda handler.
pub async fn handle(event: LambdaEvent<Value>, app: &App) -> Result<Value, Error> {
    let report = process(
        event.payload,
        &app.settings,
        &Facts::default(),
        OffsetDateTime::now_utc(),
    )?;
    app.output.emit(&report).await;
    Ok(serde_json::to_value(&report).unwrap_or(Value::Null))
}

/// One invocation, from the payload to the report.
pub fn process(
    payload: Value,
    config: &Config,
    facts: &Facts,
    now: OffsetDateTime,
) -> Result<Report, Error> {
    let mut report = Report::new(FUNCTION, config.dry_run);
    match trigger::parse(payload)? {
        Trigger::Records(batch) => triage(&batch, config, facts, now, &mut report),
        Trigger::Digest { event_id } => {
            report.detail("digest", json!({"event_id": event_id, "posted": false}));
        }
    }
    Ok(report)
}

fn triage(batch: &Batch, config: &Config, facts: &Facts, now: OffsetDateTime, report: &mut Report) {
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
        match group.decision {
            Decision::Announce => {
                report.plan(
                    Action::new(alert_kind(group.severity), &group.key, reason)
                        .with_detail(json!(group)),
                );
            }
            Decision::Held { last_announced } => {
                report.skip(
                    &group.key,
                    format!("{reason}; already announced at {last_announced}"),
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
        match recon.decision {
            Decision::Announce => report.plan(
                Action::new("page_reconnaissance", &recon.key, reason).with_detail(json!(recon)),
            ),
            Decision::Held { last_announced } => {
                report.skip(
                    &recon.key,
                    format!("{reason}; already announced at {last_announced}"),
                );
            }
        }
    }
    if !plan.expected.is_empty() {
        report.detail("expected", json!(plan.expected));
    }
    if !plan.expired_rules.is_empty() {
        report.detail("expired_rules", json!(plan.expired_rules));
    }
}

/// Critical alerts are paged as well as posted.
fn alert_kind(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "page",
        Severity::High | Severity::Medium => "alert",
    }
}
