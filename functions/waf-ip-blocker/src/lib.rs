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
//! - [`apply`]: carries the plan out, step by step, into the report;
//! - [`report`]: what the report says of the counts and the plan;
//! - [`notify`]: the Slack summary;
//! - this file: the handler, which orchestrates them.

pub mod apply;
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
    let report = run(event.payload, app, &deadline, now()).await?;
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

async fn run_counted(
    payload: Value,
    app: &App,
    deadline: &Deadline,
    now: i64,
) -> Result<Report, Error> {
    let config = &app.config;
    let mut report = Report::new(FUNCTION, config.dry_run);
    let mut sources: Vec<String> = Vec::new();
    let mut observations = Vec::new();
    // Deliveries whose counts this run uses (they name the run), and those
    // of them whose counts are all stored (marked counted after the ledger).
    let mut observed: Vec<Delivery> = Vec::new();
    let mut stored: Vec<Delivery> = Vec::new();
    let mut malformed = Vec::new();
    match trigger::parse(payload)? {
        Trigger::Objects(objects) => {
            // An event naming one object twice (a replayed or hand-made
            // event) reads it once: its counts must not be added twice.
            let mut seen = HashSet::new();
            for object in objects {
                let delivery = object.delivery();
                if !seen.insert(delivery.marker.clone()) {
                    report.incr("objects_named_twice");
                    continue;
                }
                if !config.dry_run && app.ledger.counted(&delivery.marker, now).await? {
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
                        report::counts(&mut report, &counts, &mut malformed);
                        let (obs, done) = windows::observe(
                            &counts,
                            config,
                            &app.ledger,
                            now,
                            deadline,
                            &delivery.id,
                        )
                        .await?;
                        tally::merge(&mut observations, obs);
                        report::stored(&mut report, &done);
                        sources.push(object.url());
                        observed.push(delivery.clone());
                        if done.complete() {
                            stored.push(delivery);
                        } else {
                            report::unfinished(&mut report, &delivery, done);
                        }
                    }
                    // This object only: the others of the event go on.
                    Err(e) => report.fail(object.url(), "count_object", e),
                }
            }
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
                report::counts(&mut report, &counts, &mut malformed);
                let (obs, done) =
                    windows::observe(&counts, config, &app.ledger, now, deadline, &delivery.id)
                        .await?;
                observations = obs;
                report::stored(&mut report, &done);
                sources.push(source);
                observed.push(delivery.clone());
                if done.complete() {
                    stored.push(delivery);
                } else {
                    report::unfinished(&mut report, &delivery, done);
                }
            }
        }
        Trigger::Reconcile => report.detail("mode", json!("expire and reconcile")),
    }
    if !malformed.is_empty() {
        report.detail("malformed_examples", json!(malformed));
    }

    // Independent reads, at once: the run waits for the slower only.
    let (ledger_entries, states) =
        tokio::try_join!(app.ledger.entries(), ipset::read_all(&app.sets))?;
    let contents: Vec<(Family, Vec<ipnet::IpNet>)> = states
        .iter()
        .map(|state| (state.family, state.current.addresses.clone()))
        .collect();
    let source = match sources.len() {
        0 => "reconcile".to_owned(),
        1 => sources[0].clone(),
        n => format!("{} (+{} more)", sources[0], n - 1),
    };
    let run_id = trigger::run_id(&observed);
    let plan = plan::plan(&Inputs {
        config,
        now,
        source: &source,
        run_id: &run_id,
        observations: &observations,
        ledger: &ledger_entries,
        sets: &contents,
    });
    drop(observations);
    report::plan(&mut report, &plan, config, &app.sets);
    if config.dry_run {
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
    if let Some(notifier) = &app.notifier {
        match notifier.send(&plan, &applied, deadline).await {
            Ok(sent) => report.add("slack_messages", sent as u64),
            Err(e) => report.fail("slack", NOTIFY, e),
        }
    }
    Ok(report)
}
