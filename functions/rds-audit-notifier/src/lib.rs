//! rds-audit-notifier: posts important RDS/Aurora audit events to Slack,
//! with secrets redacted and nothing lost.
//!
//! A CloudWatch Logs subscription ([`trigger`]) delivers a batch of audit
//! lines; the batch is read ([`records`], [`mysql_audit`], [`pgaudit`],
//! [`dialect`]), judged ([`classify`]) and turned into redacted ([`redact`])
//! alerts ([`alert`]) and Slack messages ([`notification`]) by the pure
//! [`plan`]; [`apply`] carries the plan out: it posts each part through
//! [`notify`] (Slack), skipping what an earlier attempt delivered
//! ([`ledger`], the idempotency table). This file orchestrates.

pub mod alert;
pub mod apply;
pub mod classify;
pub mod config;
pub mod dialect;
pub mod error;
pub mod event;
pub mod ledger;
pub mod mysql_audit;
pub mod notification;
pub mod notify;
pub mod pgaudit;
pub mod plan;
pub mod records;
pub mod redact;
pub mod sql;
pub mod trigger;

use aws_types::SdkConfig;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::config::Env;
use shared::output::Output;
use shared::report::{Action, Report};
use shared::secret::SecretStore;
use shared::slack::RetryPolicy;
use shared::{Deadline, deadline::DEFAULT_MARGIN};

pub use config::Config;
pub use error::Error;

use crate::ledger::Ledger;
use crate::notify::Notifier;
use crate::trigger::Trigger;

pub const FUNCTION: &str = "rds-audit-notifier";

/// What the function holds between invocations.
#[derive(Debug)]
pub struct App {
    pub config: Config,
    notifier: Notifier,
    ledger: Option<Ledger>,
    output: Output,
}

impl App {
    /// Builds the clients for `config` once, at cold start.
    pub fn new(config: Config, sdk: &SdkConfig, output: Output) -> Self {
        Self::with_policy(config, sdk, output, RetryPolicy::default())
    }

    /// As [`App::new`], with Slack retry timings of the caller's choosing
    /// (tests shorten them), reading the configuration from `env`.
    pub fn with_slack_policy(env: &mut Env, sdk: &SdkConfig, policy: RetryPolicy) -> Self {
        let config = Config::from_env(env);
        let output = Output::from_env(env, sdk);
        Self::with_policy(config, sdk, output, policy)
    }

    fn with_policy(config: Config, sdk: &SdkConfig, output: Output, policy: RetryPolicy) -> Self {
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
        let ledger = config
            .idempotency_table
            .as_ref()
            .map(|table| Ledger::new(aws_sdk_dynamodb::Client::new(sdk), table));
        let notifier = Notifier::new(policy, SecretStore::new(sdk), config.webhook.clone());
        Self {
            config,
            notifier,
            ledger,
            output,
        }
    }
}

/// One invocation: a CloudWatch Logs subscription batch.
pub async fn handle(event: LambdaEvent<Value>, app: &App) -> Result<Report, Error> {
    let deadline = Deadline::from_context(&event.context, DEFAULT_MARGIN);
    let mut report = Report::new(FUNCTION, app.config.dry_run);
    let trigger = match trigger::parse(event.payload) {
        Ok(trigger) => trigger,
        Err(error) => {
            // The result event says the run failed, or a collector would
            // see silence instead of a failure.
            app.output.emit_failed(&report, &error).await;
            return Err(error);
        }
    };
    report.detail("log_group", json!(trigger.log_group()));
    let data = match trigger {
        Trigger::Logs(data) => data,
        Trigger::Control { .. } => {
            report.incr("control_messages");
            app.output.emit(&report).await;
            return Ok(report);
        }
    };

    let plan = plan::plan(&data, &app.config.rules);
    drop(data);
    for (name, n) in &plan.counters {
        report.add(name, *n);
    }
    for alert in &plan.alerts {
        if report.planned.len() >= shared::report::MAX_LISTED {
            // Beyond the listed ones only the count grows: skip building them.
            report.plan(Action::new("notify", alert.instance.clone(), ""));
            continue;
        }
        report.plan(
            Action::new(
                "notify",
                alert.instance.clone(),
                format!(
                    "{}: {} by {} from {}",
                    alert.categories.names(),
                    alert.operation,
                    alert.user,
                    alert.host
                ),
            )
            .with_detail(report_detail(alert)),
        );
    }
    if let Some(continued) = &plan.continued {
        report.detail("continued_from_earlier_delivery", json!(continued));
        tracing::warn!(
            lines = continued.lines,
            "the batch starts with the rest of a record cut across deliveries; masked"
        );
    }
    if !plan.unparsed.is_empty() {
        report.detail("unparsed_examples", json!(plan.unparsed));
        tracing::warn!(
            unparsed = plan.counter("unparsed"),
            "lines matched no audit format; see unparsed_examples in the report"
        );
    }

    // The alerts this run sends (or, in a dry run, would send); a failed
    // run's event says failed beside them.
    report.items.extend(crate::alert::items(&plan.alerts));
    if app.config.dry_run {
        for delivery in &plan.deliveries {
            report.skip(apply::target(delivery), "dry run: not posted");
        }
        app.output.emit(&report).await;
        return Ok(report);
    }
    let result = apply::deliver(
        &plan,
        &app.notifier,
        app.ledger.as_ref(),
        &deadline,
        &mut report,
    )
    .await;
    match &result {
        Ok(()) => app.output.emit(&report).await,
        Err(error) => {
            report.stop_early(error.to_string());
            app.output.emit_failed(&report, error).await;
        }
    }
    result.map(|()| report)
}

/// Characters of a statement kept in the report, so 200 listed alerts
/// still fit one CloudWatch log event (256 KB); Slack shows more.
const REPORT_STATEMENT_CHARS: usize = 300;

fn report_detail(alert: &plan::Alert) -> Value {
    let mut detail = serde_json::to_value(alert).unwrap_or_default();
    if let Some(Value::String(statement)) = detail.get_mut("statement") {
        *statement = shared::slack::truncate(statement, REPORT_STATEMENT_CHARS);
    }
    detail
}
