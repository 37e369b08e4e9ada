//! waf-ip-blocker: blocks attacking IPs in AWS WAF from its own logs.
//!
//! Each invocation counts requests per client IP and UTC-aligned window from
//! a WAF log (an S3 object, or a CloudWatch Logs subscription), adds the
//! counts to what earlier objects stored for the same windows, blocks the
//! IPs that reached a threshold (recording them in a DynamoDB ledger with an
//! expiry), and brings the IPv4 and IPv6 IP sets in line with the ledger. A
//! schedule runs the same reconciliation alone, which is how blocks expire.
//!
//! Where it decides and where it acts:
//! - [`trigger`]: what invoked it (typed events) and the deliveries to count;
//! - [`config`]: the settings, read once;
//! - [`plan`]: every decision, pure; with its pure types [`entry`] (a block
//!   as recorded), [`family`] and [`delta`] (a change to one IP set);
//! - the resources, calls only: [`source`] (a log object in S3), [`windows`]
//!   (window counts across deliveries; [`tally`] decides which), [`ledger`] (DynamoDB), [`ipset`]
//!   (WAF); the log path itself is the `waf-log` crate ([`stream`],
//!   [`detect`]);
//! - [`backfill`]: a Step Functions backfill's pure parts (its batches
//!   count and decide into the ledger, its last step writes the sets);
//! - [`apply`]: carries the plan out, step by step, into the report;
//! - [`report`]: what the report says of the counts and the plan;
//! - [`notify`]: the Slack summary;
//! - this file: the handler, which orchestrates them.

pub mod apply;
pub mod backfill;
pub mod config;
pub mod delta;
pub mod entry;
pub mod error;
pub mod family;
pub mod ipset;
pub mod ledger;
pub mod notify;
pub mod plan;
pub mod report;
pub mod source;
pub mod tally;
pub mod trigger;
pub mod windows;

/// The log path (reading, extracting, counting) lives in its own crate,
/// `waf-log`, which the release profile optimises for speed.
pub use waf_log::{self, detect, stream};

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_types::SdkConfig;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::Deadline;
use shared::output::Output;
use shared::report::Report;

pub use crate::config::Config;
pub use crate::error::Error;

use crate::detect::Counter;
use crate::family::Family;
use crate::ipset::{ConfiguredSet, WriteGate};
use crate::ledger::Ledger;
use crate::notify::Notifier;
use crate::plan::Inputs;
use crate::trigger::{Delivery, Trigger};

pub const FUNCTION: &str = "waf-ip-blocker";
/// How long a counted delivery is remembered, against duplicate deliveries
/// (S3 and EventBridge deliver at least once; Lambda retries for 6 hours).
const DELIVERY_MARKER_SECONDS: i64 = 7 * 24 * 3600;

/// Everything built once at cold start.
pub struct App {
    pub config: Arc<Config>,
    pub ledger: Ledger,
    pub s3: aws_sdk_s3::Client,
    pub sets: Vec<ConfiguredSet>,
    pub notifier: Option<Notifier>,
    pub output: Output,
    pub gate: WriteGate,
    /// Below one vCPU (Lambda's memory size says) a decompress thread
    /// beside the scan would only add work; decided once, at cold start.
    pub threads: stream::Threads,
}

impl App {
    pub fn new(config: Config, sdk: &SdkConfig, output: Output) -> Self {
        let sets = [
            (Family::V4, &config.ipset_v4),
            (Family::V6, &config.ipset_v6),
        ]
        .into_iter()
        .filter_map(|(family, set)| Some(ConfiguredSet::new(family, set.as_ref()?, sdk)))
        .collect();
        let notifier = config.slack.clone().map(|webhook| Notifier {
            client: shared::slack::SlackClient::default(),
            secrets: shared::secret::SecretStore::new(sdk),
            webhook,
        });
        Self {
            ledger: Ledger::new(aws_sdk_dynamodb::Client::new(sdk), &config.ledger_table),
            s3: shared::aws::s3_client(sdk),
            sets,
            notifier,
            output,
            gate: WriteGate::default(),
            threads: stream::Threads::for_memory(
                std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
                    .ok()
                    .and_then(|mb| mb.parse().ok()),
            ),
            config: Arc::new(config),
        }
    }
}

/// Actions whose failure comes after the work is stored: reported, but a
/// Lambda retry would redo nothing they need, so they do not fail the
/// invocation.
const AFTER_THE_WORK: &[&str] = &[NOTIFY];
const NOTIFY: &str = "notify";

/// The Lambda handler: runs, emits the report once, and fails the
/// invocation when work is left undone (so Lambda retries: a delivery
/// already counted is not counted again, only reconciled).
pub async fn handle(event: LambdaEvent<Value>, app: &App) -> Result<Report, Error> {
    let deadline = Deadline::from_context(&event.context, shared::deadline::DEFAULT_MARGIN);
    let report = match run(event.payload, app, &deadline, now()).await {
        Ok(report) => report,
        Err(error) => {
            // Failed before it had a report (an event it cannot read, a
            // ledger it cannot reach): the result event still says so,
            // or a collector would see silence instead of a failure.
            let report = Report::new(FUNCTION, app.config.dry_run);
            app.output.emit_failed(&report, &error).await;
            return Err(error);
        }
    };
    app.output.emit(&report).await;
    let mut undone = report
        .failed
        .iter()
        .filter(|f| !AFTER_THE_WORK.contains(&f.action.as_str()));
    if let Some(first) = undone.next() {
        return Err(Error::Incomplete {
            failed: 1 + undone.count() as u64,
            first: format!("{} {}: {}", first.action, first.target, first.error),
        });
    }
    Ok(report)
}

/// Addresses a dry-run backfill's last step lists (the count has them all).
const WOULD_BLOCK_LISTED: usize = 200;

/// A dry-run backfill's last step: who would have been blocked and when,
/// from the scratch items its batches wrote. Writes nothing; a retry
/// reports the same.
async fn what_if_finish(
    app: &App,
    backfill: &trigger::Backfill,
    now: i64,
    mut report: Report,
) -> Result<Report, Error> {
    let records = app.ledger.would_blocks(&backfill.run).await?;
    let mut summary = backfill::summary(&records, now);
    report.add("would_block", summary.len() as u64);
    report.detail(
        "backfill",
        json!({"run": backfill.run, "step": "finish", "dry_run": true}),
    );
    // Step Functions takes at most 256 KB from a task, and CloudWatch Logs
    // 256 KB a line: the first entries are listed, the rest counted.
    if summary.len() > WOULD_BLOCK_LISTED {
        report.detail(
            "would_block_omitted",
            json!(summary.len() - WOULD_BLOCK_LISTED),
        );
        summary.truncate(WOULD_BLOCK_LISTED);
    }
    report.detail("would_block", json!(summary));
    Ok(report)
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One invocation at time `now` (tests move the clock to see expiry).
///
/// Each delivery (log object, Logs batch) is counted on its own and marked
/// counted only once its window counts and the blocks they decided are in
/// the ledger. A delivery that could not be read or stored is named in
/// `failed`, which fails the invocation; the retry finishes it and counts
/// nothing twice. The other deliveries of the event are not held back.
pub async fn run(
    payload: Value,
    app: &App,
    deadline: &Deadline,
    now: i64,
) -> Result<Report, Error> {
    // What the run cost in DynamoDB, in the report beside what it did.
    let before = app.ledger.requests();
    let mut report = run_counted(payload, app, deadline, now).await?;
    report.add(
        "ledger_requests",
        app.ledger.requests().saturating_sub(before),
    );
    Ok(report)
}

/// What the run does with what it counted.
enum Mode {
    /// A delivery, a schedule, a backfill's last step: decide and write
    /// the ledger and the IP sets.
    Live,
    /// A backfill's batch: decide into the ledger; its last step writes
    /// the IP sets.
    BackfillBatch,
    /// A dry-run backfill's batch: record who would have been blocked in
    /// the execution's scratch items, and nothing else.
    WhatIf(String),
}

/// What the run counted, across its deliveries.
#[derive(Default)]
struct Counted {
    sources: Vec<String>,
    observations: Vec<plan::Observation>,
    /// Deliveries whose counts this run uses (they name the run), and those
    /// of them whose counts are all stored (marked counted after the ledger).
    observed: Vec<Delivery>,
    stored: Vec<Delivery>,
    malformed: Vec<detect::BadLine>,
}

/// Counts the objects, each a delivery of its own; `check_markers`: skip
/// those already counted.
#[allow(clippy::too_many_arguments)]
async fn count_objects(
    objects: Vec<trigger::Object>,
    app: &App,
    scope: &windows::Scope,
    check_markers: bool,
    now: i64,
    deadline: &Deadline,
    report: &mut Report,
    counted: &mut Counted,
) -> Result<(), Error> {
    let config = &app.config;
    // An event naming one object twice (a replayed or hand-made event)
    // reads it once: its counts must not be added twice.
    let mut seen = HashSet::new();
    for object in objects {
        let delivery = object.delivery();
        if !seen.insert(delivery.marker.clone()) {
            report.incr("objects_named_twice");
            continue;
        }
        if check_markers && app.ledger.counted(&delivery.marker, now).await? {
            report.skip(
                object.url(),
                "already counted (delivered again); only reconciled",
            );
            report.incr("objects_already_counted");
            continue;
        }
        let counter = Counter::new(config.detection.clone());
        match source::count(&app.s3, &object, counter, app.threads, deadline).await {
            Ok((counter, scanned)) => {
                report.incr("objects_read");
                report.add("bytes_read", scanned.bytes);
                report.add("lines_overlong", scanned.overlong);
                let counts = counter.finish();
                report::counts(report, &counts, &mut counted.malformed);
                let (obs, done) = windows::observe(
                    &counts,
                    config,
                    &app.ledger,
                    now,
                    deadline,
                    &delivery.id,
                    scope,
                )
                .await?;
                tally::merge(&mut counted.observations, obs);
                report::stored(report, &done);
                counted.sources.push(object.url());
                counted.observed.push(delivery.clone());
                if done.complete() {
                    counted.stored.push(delivery);
                } else {
                    report::unfinished(report, &delivery, done);
                }
            }
            // This object only: the others of the event go on.
            Err(e) => report.fail(object.url(), "count_object", e),
        }
    }
    Ok(())
}

async fn run_counted(
    payload: Value,
    app: &App,
    deadline: &Deadline,
    now: i64,
) -> Result<Report, Error> {
    let config = &app.config;
    let mut report = Report::new(FUNCTION, config.dry_run);
    let mut counted = Counted::default();
    let mut mode = Mode::Live;
    let live = windows::Scope {
        read_only: config.dry_run,
        ..windows::Scope::default()
    };
    match trigger::parse(payload)? {
        Trigger::Objects(objects) => {
            let check = !config.dry_run;
            count_objects(
                objects,
                app,
                &live,
                check,
                now,
                deadline,
                &mut report,
                &mut counted,
            )
            .await?;
        }
        Trigger::Backfill { backfill, objects } => {
            // DRY_RUN makes every backfill a dry one: its scratch items
            // are the only writes, and they are what lets a dry run add
            // windows up across batches.
            let what_if = backfill.dry_run || config.dry_run;
            report.dry_run = what_if;
            report.detail(
                "backfill",
                json!({"run": backfill.run, "step": "batch", "dry_run": what_if}),
            );
            let scope = windows::Scope {
                read_only: false,
                prefix: if what_if {
                    backfill::scratch_prefix(&backfill.run)
                } else {
                    String::new()
                },
                keep_until: now + backfill::ITEM_SECONDS,
            };
            // A dry run counts every object, even one the blocker counted
            // live: the question is what would have happened.
            count_objects(
                objects,
                app,
                &scope,
                !what_if,
                now,
                deadline,
                &mut report,
                &mut counted,
            )
            .await?;
            mode = if what_if {
                Mode::WhatIf(backfill.run)
            } else {
                Mode::BackfillBatch
            };
        }
        Trigger::BackfillFinish(backfill) => {
            if backfill.dry_run || config.dry_run {
                report.dry_run = true;
                return what_if_finish(app, &backfill, now, report).await;
            }
            report.detail(
                "backfill",
                json!({"run": backfill.run, "step": "finish", "dry_run": false}),
            );
        }
        Trigger::Logs {
            group,
            delivery,
            control,
            messages,
        } => {
            if control {
                report.detail("control_message", json!(true));
            } else if !config.dry_run && app.ledger.counted(&delivery.marker, now).await? {
                report.skip(
                    &delivery.label,
                    "already counted (delivered again); only reconciled",
                );
                report.incr("deliveries_already_counted");
            } else {
                if !group.starts_with("aws-waf-logs-") {
                    report.detail(
                        "warning",
                        json!(format!(
                            "log group {group} is not a WAF log group (aws-waf-logs-*)"
                        )),
                    );
                }
                let source = format!("logs:{group}");
                let mut counter = Counter::new(config.detection.clone());
                counter.start_source(&source);
                for message in &messages {
                    counter.line(message.as_bytes());
                }
                report.add("log_events", messages.len() as u64);
                let counts = counter.finish();
                report::counts(&mut report, &counts, &mut counted.malformed);
                let (obs, done) = windows::observe(
                    &counts,
                    config,
                    &app.ledger,
                    now,
                    deadline,
                    &delivery.id,
                    &live,
                )
                .await?;
                counted.observations = obs;
                report::stored(&mut report, &done);
                counted.sources.push(source);
                counted.observed.push(delivery.clone());
                if done.complete() {
                    counted.stored.push(delivery);
                } else {
                    report::unfinished(&mut report, &delivery, done);
                }
            }
        }
        Trigger::Reconcile => report.detail("mode", json!("expire and reconcile")),
    }
    let Counted {
        sources,
        observations,
        observed,
        stored,
        malformed,
    } = counted;
    if !malformed.is_empty() {
        report.detail("malformed_examples", json!(malformed));
    }
    let source = match sources.len() {
        0 => "reconcile".to_owned(),
        1 => sources[0].clone(),
        n => format!("{} (+{} more)", sources[0], n - 1),
    };
    let run_id = trigger::run_id(&observed);

    if let Mode::WhatIf(run) = &mode {
        // Who would have been blocked, whatever the ledger and the sets
        // hold now: an empty ledger and empty sets, and no read of either.
        let empty: Vec<(Family, Vec<ipnet::IpNet>)> = app
            .sets
            .iter()
            .map(|set| (set.family, Vec::new()))
            .collect();
        let mut plan = plan::plan(&Inputs {
            config,
            now,
            source: &source,
            run_id: &run_id,
            observations: &observations,
            ledger: &[],
            sets: &empty,
            from_log_time: true,
        });
        plan.sets.clear();
        report::plan(&mut report, &plan, config, &app.sets);
        report::would_block(&mut report, &plan, now);
        for block in plan.blocks.iter().chain(&plan.past) {
            let record = backfill::WouldBlock::of(block);
            if let Err(e) = app
                .ledger
                .add_would_block(run, &record, now + backfill::ITEM_SECONDS)
                .await
            {
                // Fails the batch: the map retries it, and the retry
                // writes the same items.
                report.fail(&record.address, "record_would_block", e);
            }
        }
        return Ok(report);
    }

    // Independent reads, at once: the run waits for the slower only.
    let (ledger_entries, states) =
        tokio::try_join!(app.ledger.entries(), ipset::read_all(&app.sets))?;
    let contents: Vec<(Family, Vec<ipnet::IpNet>)> = states
        .iter()
        .map(|state| (state.family, state.current.addresses.clone()))
        .collect();
    let batch = matches!(mode, Mode::BackfillBatch);
    let mut plan = plan::plan(&Inputs {
        config,
        now,
        source: &source,
        run_id: &run_id,
        observations: &observations,
        ledger: &ledger_entries,
        sets: &contents,
        from_log_time: batch,
    });
    drop(observations);
    if batch {
        // The sets, expiries and releases are the last step's, in one
        // write per set: WAF allows one a second, and the map runs many
        // batches at once.
        plan.sets.clear();
        plan.catch_up.clear();
        plan.expired.clear();
        plan.released.clear();
        plan.dropped_aggregates.clear();
    }
    report::plan(&mut report, &plan, config, &app.sets);
    if batch {
        report::would_block(&mut report, &plan, now);
    }
    if config.dry_run {
        // A dry run publishes no items: nothing it planned is in place.
        return Ok(report);
    }
    if !apply::record(&plan, &app.ledger, now, deadline, &mut report).await? {
        for delivery in &stored {
            report::unfinished(&mut report, delivery, windows::Stored::default());
        }
        return Ok(report);
    }
    // What the deliveries contributed is stored: a retry from here on only
    // reconciles.
    if !stored.is_empty() {
        let markers: Vec<String> = stored.iter().map(|d| d.marker.clone()).collect();
        if let Err(e) = app
            .ledger
            .mark_counted(&markers, now + DELIVERY_MARKER_SECONDS)
            .await
        {
            // Harmless to retry: the counts are stored per delivery.
            report.fail(&stored[0].label, "mark_counted", e);
        }
    }
    if batch {
        report.detail(
            "ip_sets",
            json!("left to the backfill's last step, which writes each set once"),
        );
        return Ok(report);
    }
    let applied = apply::sets(
        &plan,
        states,
        &app.ledger,
        &app.gate,
        config.capacity,
        now,
        deadline,
        &mut report,
    )
    .await?;
    if app.output.publishes() {
        report::items(&mut report, &plan, &ledger_entries, now, &applied.ended);
    }
    if let Some(notifier) = &app.notifier {
        match notifier.send(&plan, &applied, deadline).await {
            Ok(sent) => report.add("slack_messages", sent as u64),
            Err(e) => report.fail("slack", NOTIFY, e),
        }
    }
    Ok(report)
}
