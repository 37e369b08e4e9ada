//! log-retention: enforce CloudWatch Logs retention, delete stale empty log
//! groups, prune old application logs in S3.
//!
//! - [`trigger`]: the schedule, a manual `{"dry_run": true}`, or CloudTrail's
//!   `CreateLogGroup`;
//! - [`policy`] and [`plan`]: what each group should have and whether it may
//!   be deleted (pure);
//! - [`sweep`]: listing, tag batches, bounded concurrency, the resume point;
//! - [`logs`]: the CloudWatch Logs and tagging calls;
//! - [`apply`]: a group's planned deletion or retention change, carried out
//!   into the report;
//! - [`api`]: the per-operation rate cap, the deadline, the call counts;
//! - [`s3_prune`]: old objects under S3 prefixes;
//! - [`execution`]: one sweep state machine execution at a time.

pub mod api;
pub mod apply;
pub mod config;
pub mod error;
pub mod execution;
pub mod logs;
pub mod plan;
pub mod policy;
pub mod s3_prune;
pub mod sweep;
pub mod trigger;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_types::SdkConfig;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::Deadline;
use shared::output::Output;
use shared::report::Report;

pub use crate::api::CallCounter;
pub use crate::config::Config;
pub use crate::error::Error;
pub use crate::logs::RegionClients;
use crate::sweep::{Outcome, Run};
use crate::trigger::{Resume, Trigger};

pub const FUNCTION: &str = "log-retention";

/// Entries of each list in the response to the sweep state machine.
pub const STATE_MACHINE_LISTED: usize = 5;

/// S3's request rates are far above CloudWatch Logs'; this only keeps the
/// pruning polite.
const S3_RPS: f64 = 100.0;

/// Everything built once at cold start.
pub struct App {
    config: Arc<Config>,
    regions: Vec<RegionClients>,
    s3: aws_sdk_s3::Client,
    output: Output,
    calls: CallCounter,
    /// For the sweep state machine's one-at-a-time check.
    sfn: Option<aws_sdk_sfn::Client>,
    clock_offset: Duration,
}

impl App {
    /// Clients for every region in `REGIONS` (or the function's own), each
    /// counting its calls.
    pub fn new(config: Config, sdk: &SdkConfig, output: Output) -> Self {
        let calls = CallCounter::default();
        let own = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".to_owned());
        let names = if config.regions.is_empty() {
            vec![own]
        } else {
            config.regions.clone()
        };
        let regions = names
            .into_iter()
            .map(|region| region_clients(sdk, &region, &calls))
            .collect();
        let s3 = shared::aws::s3_client(sdk)
            .config()
            .to_builder()
            .interceptor(calls.clone())
            .build();
        let sfn = aws_sdk_sfn::config::Builder::from(sdk)
            .interceptor(calls.clone())
            .build();
        Self::from_parts(
            config,
            regions,
            aws_sdk_s3::Client::from_conf(s3),
            output,
            calls,
        )
        .with_step_functions(aws_sdk_sfn::Client::from_conf(sfn))
    }

    /// An app over given clients (tests with mocked clients use this).
    pub fn from_parts(
        config: Config,
        regions: Vec<RegionClients>,
        s3: aws_sdk_s3::Client,
        output: Output,
        calls: CallCounter,
    ) -> Self {
        Self {
            config: Arc::new(config),
            regions,
            s3,
            output,
            calls,
            sfn: None,
            clock_offset: Duration::ZERO,
        }
    }

    /// The client that lists the sweep state machine's executions.
    pub fn with_step_functions(mut self, sfn: aws_sdk_sfn::Client) -> Self {
        self.sfn = Some(sfn);
        self
    }

    /// Acts as if the time were `offset` later: tests use it to age groups,
    /// since the emulator stamps every group with its real creation time.
    pub fn with_clock_offset(mut self, offset: Duration) -> Self {
        self.clock_offset = offset;
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn calls(&self) -> &CallCounter {
        &self.calls
    }

    fn now(&self) -> SystemTime {
        SystemTime::now() + self.clock_offset
    }
}

/// The clients of one region, counting their calls into `calls`.
pub fn region_clients(sdk: &SdkConfig, region: &str, calls: &CallCounter) -> RegionClients {
    let region_value = aws_types::region::Region::new(region.to_owned());
    let logs = aws_sdk_cloudwatchlogs::config::Builder::from(sdk)
        .region(region_value.clone())
        .interceptor(calls.clone())
        .build();
    let tagging = aws_sdk_resourcegroupstagging::config::Builder::from(sdk)
        .region(region_value)
        .interceptor(calls.clone())
        .build();
    RegionClients {
        region: region.to_owned(),
        logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs),
        tagging: aws_sdk_resourcegroupstagging::Client::from_conf(tagging),
    }
}

/// The Lambda handler: runs, emits the report once, returns it.
pub async fn handle(event: LambdaEvent<Value>, app: &App) -> Result<Report, Error> {
    let deadline = Deadline::from_context(&event.context, shared::deadline::DEFAULT_MARGIN);
    let mut report = match run(&event.payload, app, deadline).await {
        Ok(report) => report,
        Err(error) => {
            // Failed before it had a report (an event it cannot read): the
            // result event still says so, or a collector would see silence
            // instead of a failure.
            let report = Report::new(FUNCTION, app.config.dry_run);
            app.output.emit_failed(&report, &error).await;
            return Err(error);
        }
    };
    app.output.emit(&report).await;
    if event.payload.get("execution").is_some() {
        // The sweep state machine keeps the response in its state, which
        // Step Functions caps at 256 KB (a report's 200 failures with long
        // names come near); the whole report is in the log line above.
        report.compact(STATE_MACHINE_LISTED);
    }
    Ok(report)
}

/// One invocation's work, stopping at `deadline`.
pub async fn run(payload: &Value, app: &App, deadline: Deadline) -> Result<Report, Error> {
    let trigger = trigger::parse(payload)?;
    let before = app.calls.snapshot();
    let mut report = match trigger {
        Trigger::Sweep {
            dry_run,
            resume,
            execution,
        } => {
            let dry_run = dry_run.unwrap_or(app.config.dry_run);
            match older_execution(app, execution.as_deref()).await? {
                Some(older) => {
                    let mut report = Report::new(FUNCTION, dry_run);
                    report.stop_early(format!(
                        "an older execution of the sweep state machine is running ({older}); this one sweeps nothing, so that the two do not share the API quota"
                    ));
                    report.detail("already_running", json!(older));
                    report
                }
                None => sweep(app, dry_run, resume, deadline).await,
            }
        }
        Trigger::NewGroup { region, name, tags } => {
            let report = new_group(app, &region, &name, tags, deadline).await;
            // Failing the invocation lets Lambda retry the event.
            if let Some(failure) = report.failed.first() {
                return Err(Error::NewGroup {
                    name,
                    message: format!("{}: {}", failure.action, failure.error),
                });
            }
            report
        }
        Trigger::FailedCall { name, error } => {
            let mut report = Report::new(FUNCTION, app.config.dry_run);
            report.skip(
                name,
                format!("CreateLogGroup failed ({error}); no group to act on"),
            );
            report
        }
    };
    let calls = app.calls.since(&before);
    for (operation, n) in &calls {
        report.add(&format!("api_calls.{operation}"), *n);
    }
    report.add("api_calls", calls.values().sum());
    report.add("errors", report.counter("failed"));
    report.detail("api_calls", json!(calls));
    Ok(report)
}

/// The execution that must finish before `own` may sweep, if any; `None`
/// too for an invocation outside the state machine.
async fn older_execution(app: &App, own: Option<&str>) -> Result<Option<String>, Error> {
    let Some(own) = own else { return Ok(None) };
    let machine = execution::state_machine_of(own)?;
    let sfn = app.sfn.as_ref().ok_or_else(|| {
        Error::Event(
            "invoked by the sweep state machine, but built without a Step Functions client".into(),
        )
    })?;
    let running = execution::running(sfn, &machine).await?;
    Ok(execution::goes_before(own, &running))
}

async fn sweep(app: &App, dry_run: bool, resume: Option<Resume>, deadline: Deadline) -> Report {
    // One "now" for the whole invocation, S3 included.
    let now_ms = api::epoch_ms(app.now());
    let run = Arc::new(Run::new(app.config.clone(), dry_run, now_ms));
    let (first, mut token) = match &resume {
        None => (0, None),
        Some(resume) => match app.regions.iter().position(|r| r.region == resume.region) {
            Some(i) => (i, resume.next_token.clone()),
            None => {
                run.report(|r| {
                    r.skip(
                        &resume.region,
                        "resume point is in a region no longer in REGIONS; sweeping them all",
                    )
                });
                (0, None)
            }
        },
    };
    let mut progress = serde_json::Map::new();
    let mut stopped_at: Option<Resume> = None;
    for clients in &app.regions[first..] {
        let mut api = api::Api::new(app.config.max_api_rps, deadline);
        if let Some(resume) = resume.as_ref().filter(|r| r.region == clients.region) {
            api = api.with_pace(&resume.pace);
        }
        let outcome =
            sweep::sweep_region(run.clone(), clients.clone(), api.clone(), token.take()).await;
        let state = match &outcome {
            Outcome::Complete => "complete",
            Outcome::Failed => "failed",
            Outcome::Stopped { .. } => "stopped",
        };
        progress.insert(clients.region.clone(), json!(state));
        if let Outcome::Stopped { resume_token } = outcome {
            stopped_at = Some(Resume {
                region: clients.region.clone(),
                next_token: resume_token,
                pace: api.pace(),
            });
            break;
        }
    }
    if let Some(resume) = &stopped_at {
        run.stop("the invocation's deadline is near; invoke again with details.resume, or the next scheduled run redoes what is left");
        run.report(|r| r.detail("resume", json!(resume)));
    }
    let mut report = run.finish();
    report.detail("regions", Value::Object(progress));
    if !app.config.s3_prune.is_empty() {
        if stopped_at.is_some() {
            report.detail(
                "s3_prune",
                json!("not reached: the log group sweep used the time"),
            );
        } else {
            prune_s3(app, dry_run, now_ms, deadline, &mut report).await;
        }
    }
    report
}

async fn prune_s3(app: &App, dry_run: bool, now_ms: i64, deadline: Deadline, report: &mut Report) {
    let api = api::Api::new(S3_RPS, deadline);
    let mut pass = s3_prune::Pass {
        s3: &app.s3,
        api: &api,
        dry_run,
        now_secs: now_ms / 1000,
        remaining: app.config.max_object_deletions,
    };
    for target in &app.config.s3_prune {
        match s3_prune::prune(&mut pass, target, report).await {
            s3_prune::End::Done => {}
            s3_prune::End::Cap => {
                let reason = "MAX_OBJECT_DELETIONS_PER_RUN reached";
                let why = match &report.stop_reason {
                    Some(earlier) => format!("{earlier}; {reason}"),
                    None => reason.to_owned(),
                };
                report.stop_early(why);
                break;
            }
            s3_prune::End::Deadline => {
                let why = match &report.stop_reason {
                    Some(earlier) => format!("{earlier}; deadline reached while pruning S3"),
                    None => "deadline reached while pruning S3".to_owned(),
                };
                report.stop_early(why);
                break;
            }
        }
    }
}

async fn new_group(
    app: &App,
    region: &str,
    name: &str,
    created_with: logs::Tags,
    deadline: Deadline,
) -> Report {
    let run = Arc::new(Run::new(
        app.config.clone(),
        app.config.dry_run,
        api::epoch_ms(app.now()),
    ));
    let Some(clients) = app.regions.iter().find(|c| c.region == region) else {
        run.report(|r| {
            r.skip(
                name,
                format!(
                    "created in {region}, which is not a region this function manages (REGIONS)"
                ),
            )
        });
        return run.finish();
    };
    let api = api::Api::new(app.config.max_api_rps, deadline);
    match logs::describe_group(clients, &api, name).await {
        Ok(Some(group)) => {
            if !sweep::process_one(run.clone(), clients.clone(), api, group, created_with).await {
                run.stop("the invocation's deadline is near; the next sweep will handle the group");
            }
        }
        Ok(None) => run.report(|r| r.skip(name, "the group no longer exists")),
        Err(e) => run.report(|r| r.fail(name, "describe_log_group", &e)),
    }
    run.finish()
}
