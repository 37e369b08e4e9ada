//! hub-collector: the central account's side of toilkit. It receives every
//! product account's result events, keeps each function's current state and
//! history, renders the dashboard and watches for silence.
//!
//! - [`trigger`]: a result event, or a schedule's `{"job": ...}`;
//! - [`findings`]: GuardDuty, Security Hub and Health events, read as reports;
//! - [`plan`]: what a report changes, who is silent or failing (pure);
//! - [`apply`]: a report carried into the state, retry-safe;
//! - [`state`]: the DynamoDB table; [`bucket`]: the S3 calls; [`history`]: the
//!   history's layout;
//! - [`dashboard`]: the page (pure); [`notify`]: the Slack messages;
//! - [`record`]: what the hub keeps.

pub mod apply;
pub mod bucket;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod findings;
pub mod history;
pub mod notify;
pub mod plan;
pub mod record;
pub mod state;
pub mod trigger;

use std::time::Duration as StdDuration;

use aws_types::SdkConfig;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::Deadline;
use shared::output::Output;
use shared::report::{Action, Report};
use shared::secret::SecretStore;
use shared::slack::SlackClient;
use time::{Duration, OffsetDateTime};

use crate::bucket::Bucket;
pub use crate::config::Config;
pub use crate::error::Error;
use crate::plan::Concern;
use crate::state::State;
use crate::trigger::{Job, Trigger};

pub const FUNCTION: &str = "hub-collector";

/// The dashboard's object in `DASHBOARD_BUCKET`.
pub const DASHBOARD_KEY: &str = "index.html";

pub use dashboard::TREND_DAYS;

/// Everything built once at cold start.
pub struct App {
    config: Config,
    state: State,
    history: Bucket,
    dashboard: Bucket,
    secrets: Option<SecretStore>,
    slack: SlackClient,
    output: Output,
    clock_offset: Duration,
}

impl App {
    pub fn new(config: Config, sdk: &SdkConfig, output: Output) -> Self {
        let s3 = shared::aws::s3_client(sdk);
        Self {
            state: State::new(aws_sdk_dynamodb::Client::new(sdk), &config.table),
            history: Bucket::new(s3.clone(), &config.history_bucket),
            dashboard: Bucket::new(s3, &config.dashboard_bucket),
            secrets: Some(SecretStore::new(sdk)),
            slack: SlackClient::default(),
            output,
            config,
            clock_offset: Duration::ZERO,
        }
    }

    /// Slack with another retry policy (tests make it fast).
    pub fn with_slack(mut self, slack: SlackClient) -> Self {
        self.slack = slack;
        self
    }

    /// Acts as if the time were `offset` later: tests age the state with it.
    pub fn with_clock_offset(mut self, offset: Duration) -> Self {
        self.clock_offset = offset;
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.clock_offset
    }
}

/// The Lambda handler: runs, emits the report once, returns it.
pub async fn handle(event: LambdaEvent<Value>, app: &App) -> Result<Report, Error> {
    let deadline = Deadline::from_context(&event.context, shared::deadline::DEFAULT_MARGIN);
    match run(event.payload, app, &deadline).await {
        Ok(report) => {
            app.output.emit(&report).await;
            Ok(report)
        }
        Err(error) => {
            let report = Report::new(FUNCTION, app.config.dry_run);
            app.output.emit_failed(&report, &error).await;
            Err(error)
        }
    }
}

/// One invocation's work.
pub async fn run(payload: Value, app: &App, deadline: &Deadline) -> Result<Report, Error> {
    let now = app.now();
    let mut report = Report::new(FUNCTION, app.config.dry_run);
    match trigger::parse(payload)? {
        Trigger::Report(event) => {
            let stored = apply::ingest(app, &event, now, &mut report).await?;
            if stored == apply::Stored::Changed && !app.config.dry_run {
                // The report is stored: a page that cannot be written now is
                // the schedule's to write (and its failure is loud), while a
                // retry of this event would find it stored and render nothing.
                if let Err(error) = render_after_change(app, now, &mut report).await {
                    report.fail(DASHBOARD_KEY, "render_dashboard", error.to_string());
                }
            }
        }
        Trigger::Job(Job::Render) => {
            if app.config.dry_run {
                report.skip(DASHBOARD_KEY, "dry run: the dashboard is not written");
            } else {
                render(app, now, &mut report).await?;
            }
        }
        Trigger::Job(Job::Heartbeat) => heartbeat(app, now, deadline, &mut report).await?,
        Trigger::Job(Job::Digest) => digest(app, now, deadline, &mut report).await?,
    }
    Ok(report)
}

fn concerns(
    app: &App,
    currents: &[record::Current],
    now: OffsetDateTime,
) -> Vec<(record::Source, Concern)> {
    plan::concerns(
        currents,
        &app.config.intervals,
        app.config.silence_margin_minutes,
        app.config.failures_alert,
        now,
    )
}

/// Reads the state and the last [`TREND_DAYS`] of summaries and writes the
/// page. The summaries go to the renderer one day at a time through a
/// bounded channel, so memory does not grow with the history.
pub async fn render_page(app: &App, now: OffsetDateTime) -> Result<String, Error> {
    let currents = app.state.currents().await?;
    let items = app.state.items(now).await?;
    render_state(app, now, currents, items).await
}

/// [`render_page`] from the current records and open items already read.
async fn render_state(
    app: &App,
    now: OffsetDateTime,
    currents: Vec<record::Current>,
    items: Vec<record::OpenItem>,
) -> Result<String, Error> {
    let silent: Vec<record::Source> = concerns(app, &currents, now)
        .into_iter()
        .filter(|(_, c)| matches!(c, Concern::Silent { .. }))
        .map(|(s, _)| s)
        .collect();
    let (send, receive) = std::sync::mpsc::sync_channel::<record::DaySummary>(256);
    let renderer = tokio::task::spawn_blocking(move || {
        let page = dashboard::Page {
            now,
            currents: &currents,
            items: &items,
            silent: &silent,
        };
        dashboard::render(&page, receive)
    });
    let today = now.date();
    for back in 0..TREND_DAYS as i64 {
        let date = today - Duration::days(back);
        for summary in app.state.day(date).await? {
            if send.send(summary).is_err() {
                break;
            }
        }
    }
    drop(send);
    Ok(renderer
        .await
        .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic())))
}

/// Renders the page unless it was rendered less than
/// `RENDER_INTERVAL_SECONDS` ago.
async fn render_after_change(
    app: &App,
    now: OffsetDateTime,
    report: &mut Report,
) -> Result<(), Error> {
    let interval = Duration::seconds(i64::from(app.config.render_interval_seconds));
    if app.state.claim_render(now, interval).await? {
        render(app, now, report).await
    } else {
        report.skip(
            DASHBOARD_KEY,
            format!(
                "rendered less than {} s ago (RENDER_INTERVAL_SECONDS); the next change or the schedule renders it",
                app.config.render_interval_seconds
            ),
        );
        Ok(())
    }
}

async fn render(app: &App, now: OffsetDateTime, report: &mut Report) -> Result<(), Error> {
    let page = render_page(app, now).await?;
    write_page(app, page, report).await
}

async fn write_page(app: &App, page: String, report: &mut Report) -> Result<(), Error> {
    let bytes = page.len();
    app.dashboard
        .put(DASHBOARD_KEY, page, &bucket::PAGE)
        .await?;
    report.applied(
        Action::new(
            "render_dashboard",
            DASHBOARD_KEY,
            "the state changed, or the schedule",
        )
        .with_detail(json!({"bytes": bytes})),
    );
    report.add("dashboard_bytes", bytes as u64);
    Ok(())
}

/// Sources per alert message, so that a refused message gives back only
/// its own sources' claims and a retry never posts a delivered one again.
const ALERT_CHUNK: usize = 5;

/// Alerts once per concern: a source silent since one report is alerted on
/// once, not at every heartbeat; it is alerted again when a new report ends
/// and it goes silent or keeps failing again.
async fn heartbeat(
    app: &App,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    let currents = app.state.currents().await?;
    let all = concerns(app, &currents, now);
    let count = |silent: bool| {
        all.iter()
            .filter(|(_, c)| matches!(c, Concern::Silent { .. }) == silent)
            .count() as u64
    };
    report.add("sources", currents.len() as u64);
    report.add("silent", count(true));
    report.add("failing", count(false));
    let mut claims = Claims::default();
    let sent = async {
        let mut fresh = Vec::new();
        for (source, concern) in all {
            let Some(current) = currents.iter().find(|c| c.source == source) else {
                continue;
            };
            let kind = match concern {
                Concern::Silent { .. } => "silent",
                Concern::Failing { .. } => "failing",
            };
            let claim = format!("alert#{}#{kind}", state::source_key(&source));
            if app.config.dry_run || claims.take(app, &claim, &current.run_id, now).await? {
                fresh.push((source, concern, claim));
            } else {
                report.skip(
                    state::source_key(&source),
                    format!("{kind}: alerted on already"),
                );
            }
        }
        for chunk in fresh.chunks(ALERT_CHUNK) {
            let concerns: Vec<_> = chunk
                .iter()
                .map(|(s, c, _)| (s.clone(), c.clone()))
                .collect();
            let messages = notify::alert(&concerns, &currents);
            let target = format!("{} source(s)", chunk.len());
            if post(app, &messages, &target, "heartbeat", deadline, report).await? {
                let sent: Vec<&str> = chunk.iter().map(|(_, _, claim)| claim.as_str()).collect();
                claims.sent(app, &sent).await?;
            }
        }
        Ok(())
    }
    .await;
    claims.settle(app, sent).await
}

/// The claims an invocation took, given back unless their message went out.
#[derive(Default)]
struct Claims(Vec<(String, String, bool)>);

impl Claims {
    async fn take(
        &mut self,
        app: &App,
        sk: &str,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<bool, Error> {
        let taken = app.state.claim(sk, token, now).await?;
        if taken {
            self.0.push((sk.to_owned(), token.to_owned(), false));
        }
        Ok(taken)
    }

    /// Their message went out: those claims are never given back now, not
    /// even when marking them fails. A claim kept but not marked is not
    /// taken again until its lease runs out, and then its alert is posted
    /// once more: an alert may come twice, never be lost (one given back
    /// would be posted by the very next run).
    async fn sent(&mut self, app: &App, sks: &[&str]) -> Result<(), Error> {
        let mut first_error = None;
        for (sk, token, sent) in &mut self.0 {
            if sks.contains(&sk.as_str()) {
                *sent = true;
                if let Err(error) = app.state.mark_sent(sk, token).await {
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Gives back every claim whose message did not go out (a failure, or
    /// no webhook yet), so a later run posts it, and returns the outcome: a
    /// claim that cannot be given back is taken again once its lease runs out.
    async fn settle(self, app: &App, outcome: Result<(), Error>) -> Result<(), Error> {
        for (sk, token, sent) in &self.0 {
            if !sent && let Err(error) = app.state.release(sk, token).await {
                tracing::warn!(%error, claim = %sk, "claim not given back; its lease runs out");
            }
        }
        outcome
    }
}

async fn digest(
    app: &App,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    let claim = format!("digest#{}", now.date());
    let mut claims = Claims::default();
    if !app.config.dry_run && !claims.take(app, &claim, "digest", now).await? {
        report.skip(&claim, "today's digest was posted already");
        return Ok(());
    }
    let sent = async {
        // Read once: the page is rendered from the same state the message
        // counts (the open items can run to thousands, many pages).
        let currents = app.state.currents().await?;
        let items = app.state.items(now).await?;
        let open = items.len();
        let concerns = concerns(app, &currents, now).len();
        let link = if app.config.dry_run {
            None
        } else {
            let page = render_state(app, now, currents.clone(), items).await?;
            write_page(app, page, report).await?;
            let valid = StdDuration::from_secs(u64::from(app.config.link_hours) * 3600);
            Some((
                app.dashboard.presigned_get(DASHBOARD_KEY, valid).await?,
                now + valid,
            ))
        };
        let messages = notify::digest(
            &currents,
            open,
            concerns,
            link.as_ref().map(|(url, until)| (url.as_str(), *until)),
        );
        if post(app, &messages, &claim, "digest", deadline, report).await? {
            claims.sent(app, &[&claim]).await?;
        }
        Ok(())
    }
    .await;
    claims.settle(app, sent).await
}

/// Posts `messages`, or says why not: `true` once they went out. With no
/// webhook configured they are in the report only, and their claims are
/// given back, so the alert is posted once a webhook is set.
async fn post(
    app: &App,
    messages: &[shared::slack::Message],
    target: &str,
    what: &'static str,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<bool, Error> {
    let action = Action::new(
        format!("post_{what}"),
        target,
        format!("{} message(s)", messages.len()),
    );
    report.plan(action.clone());
    if app.config.dry_run {
        report.skip(target, "dry run: nothing posted");
        return Ok(false);
    }
    let (Some(webhook), Some(secrets)) = (&app.config.slack, &app.secrets) else {
        report.skip(
            target,
            format!("no Slack webhook configured: the {what} is in this report only"),
        );
        return Ok(false);
    };
    let sent = async {
        let webhook = secrets.get(webhook).await?;
        app.slack.send_all(&webhook, messages, deadline).await?;
        Ok::<_, Error>(())
    }
    .await;
    match sent {
        Ok(()) => {
            report.applied(action);
            Ok(true)
        }
        Err(error) => {
            report.fail(target, format!("post_{what}"), error.to_string());
            Err(error)
        }
    }
}
