//! waf-ip-blocker: blocks attacking IPs in AWS WAF from its own logs.
//!
//! Each invocation counts requests per client IP and UTC-aligned window from
//! a WAF log (an S3 object, or a CloudWatch Logs subscription), adds the
//! counts to what earlier objects stored for the same windows, blocks the
//! IPs that reached a threshold (recording them in a DynamoDB ledger with an
//! expiry), and brings the IPv4 and IPv6 IP sets in line with the ledger. A
//! schedule runs the same reconciliation alone, which is how blocks expire.
//!
//! Modules: [`waf_log`] (field extraction), [`stream`] (reading objects),
//! [`detect`] (what counts), [`windows`] (counts across objects), [`ledger`],
//! [`plan`] (decisions), [`ipset`] and [`apply`] (AWS writes), [`notify`].

pub mod apply;
pub mod config;
pub mod error;
pub mod ipset;
pub mod ledger;
pub mod notify;
pub mod plan;
pub mod source;
pub mod windows;

/// The log path (reading, extracting, counting) lives in its own crate,
/// `waf-log`, which the release profile optimises for speed.
pub use waf_log::{self, detect, stream};

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_types::SdkConfig;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::Deadline;
use shared::output::Output;
use shared::report::{Action, Report};

use crate::apply::SetState;
use crate::config::Config;
use crate::detect::{BadLine, Counter, Counts};
use crate::error::BlockerError;
use crate::ipset::{IpSetRef, WriteGate};
use crate::ledger::Ledger;
use crate::notify::Notifier;
use crate::plan::{Family, Inputs, Plan};
use crate::source::{Delivery, Input, Object};
use crate::stream::{ChunkReader, Flow, scan_lines};

pub const FUNCTION: &str = "waf-ip-blocker";
/// How long a counted delivery is remembered, against duplicate deliveries
/// (S3 and EventBridge deliver at least once; Lambda retries for 6 hours).
const DELIVERY_MARKER_SECONDS: i64 = 7 * 24 * 3600;
/// Lines between two looks at the deadline while reading.
const DEADLINE_EVERY: u64 = 65_536;

/// One configured IP set and the client for its Region.
pub struct ConfiguredSet {
    pub family: Family,
    pub set: IpSetRef,
    pub client: aws_sdk_wafv2::Client,
}

/// Everything built once at cold start.
pub struct App {
    pub config: Arc<Config>,
    pub ledger: Ledger,
    pub s3: aws_sdk_s3::Client,
    pub sets: Vec<ConfiguredSet>,
    pub notifier: Option<Notifier>,
    pub output: Output,
    pub gate: WriteGate,
}

impl App {
    pub fn new(config: Config, sdk: &SdkConfig, output: Output) -> Self {
        let mut sets = Vec::new();
        for (family, set) in [
            (Family::V4, &config.ipset_v4),
            (Family::V6, &config.ipset_v6),
        ] {
            if let Some(set) = set {
                // An IP set is served by the Region in its ARN (us-east-1
                // for CloudFront), whatever the function's own Region.
                let waf = aws_sdk_wafv2::config::Builder::from(sdk)
                    .region(aws_sdk_wafv2::config::Region::new(set.region.clone()))
                    .build();
                sets.push(ConfiguredSet {
                    family,
                    set: set.clone(),
                    client: aws_sdk_wafv2::Client::from_conf(waf),
                });
            }
        }
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
pub async fn handle(event: LambdaEvent<Value>, app: &App) -> Result<Report, BlockerError> {
    let deadline = Deadline::from_context(&event.context, shared::deadline::DEFAULT_MARGIN);
    let report = run(event.payload, app, &deadline, now()).await?;
    app.output.emit(&report).await;
    let mut undone = report
        .failed
        .iter()
        .filter(|f| !AFTER_THE_WORK.contains(&f.action.as_str()));
    if let Some(first) = undone.next() {
        return Err(BlockerError::Incomplete {
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
) -> Result<Report, BlockerError> {
    let config = &app.config;
    let mut report = Report::new(FUNCTION, config.dry_run);
    let mut sources: Vec<String> = Vec::new();
    let mut observations = Vec::new();
    // Deliveries whose counts this run uses (they name the run), and those
    // of them whose counts are all stored (marked counted after the ledger).
    let mut observed: Vec<Delivery> = Vec::new();
    let mut stored: Vec<Delivery> = Vec::new();
    let mut malformed = Vec::new();
    match source::parse(payload)? {
        Input::Objects(objects) => {
            // An event naming one object twice (a replayed or hand-made
            // event) reads it once: its counts must not be added twice.
            let mut seen = std::collections::HashSet::new();
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
                match read_object(app, &object, counter, deadline).await {
                    Ok((counter, scanned)) => {
                        report.incr("objects_read");
                        report.add("bytes_read", scanned.bytes);
                        report.add("lines_overlong", scanned.overlong);
                        let counts = counter.finish();
                        record_counts(&mut report, &counts, &mut malformed);
                        let (obs, done) = windows::observe(
                            &counts,
                            config,
                            &app.ledger,
                            now,
                            deadline,
                            &delivery.id,
                        )
                        .await?;
                        windows::merge(&mut observations, obs);
                        sources.push(object.url());
                        observed.push(delivery.clone());
                        if done.complete() {
                            stored.push(delivery);
                        } else {
                            unfinished(&mut report, &delivery, done);
                        }
                    }
                    // This object only: the others of the event go on.
                    Err(e) => report.fail(object.url(), "count_object", e),
                }
            }
        }
        Input::Logs {
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
                record_counts(&mut report, &counts, &mut malformed);
                let (obs, done) =
                    windows::observe(&counts, config, &app.ledger, now, deadline, &delivery.id)
                        .await?;
                observations = obs;
                sources.push(source);
                observed.push(delivery.clone());
                if done.complete() {
                    stored.push(delivery);
                } else {
                    unfinished(&mut report, &delivery, done);
                }
            }
        }
        Input::Reconcile => report.detail("mode", json!("expire and reconcile")),
    }
    if !malformed.is_empty() {
        report.detail("malformed_examples", json!(malformed));
    }

    let ledger_entries = app.ledger.entries().await?;
    let mut states = Vec::new();
    let mut contents = Vec::new();
    for configured in &app.sets {
        let current = ipset::read(
            &configured.client,
            &configured.set,
            apply::version(configured.family),
        )
        .await?;
        contents.push((configured.family, current.addresses.clone()));
        states.push(SetState {
            family: configured.family,
            set: &configured.set,
            client: &configured.client,
            current,
        });
    }
    let source = match sources.len() {
        0 => "reconcile".to_owned(),
        1 => sources[0].clone(),
        n => format!("{} (+{} more)", sources[0], n - 1),
    };
    let run_id = source::run_id(&observed);
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
    record_plan(&mut report, &plan, app);
    if config.dry_run {
        return Ok(report);
    }
    if !apply::record(&plan, &app.ledger, now, deadline, &mut report).await? {
        for delivery in &stored {
            unfinished(&mut report, delivery, windows::Stored::default());
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

/// A delivery whose counts or blocks are not all stored: not marked
/// counted, and named in `failed` so the invocation fails and Lambda's
/// retry finishes it.
fn unfinished(report: &mut Report, delivery: &Delivery, done: windows::Stored) {
    match done.first_error {
        Some(e) if done.failed > 0 => report.fail(
            &delivery.label,
            "count",
            format!(
                "{} window count(s) could not be stored (first: {e}); the others were, and the retry finishes it and counts nothing twice",
                done.failed
            ),
        ),
        _ => report.fail(
            &delivery.label,
            "count",
            "the Lambda deadline came before its counts and blocks were stored; the retry finishes it and counts nothing twice",
        ),
    }
}

fn record_counts(report: &mut Report, counts: &Counts, malformed: &mut Vec<BadLine>) {
    report.add("lines", counts.lines);
    report.add("requests_counted", counts.counted);
    report.add("requests_not_counted", counts.not_counted);
    report.add("lines_malformed", counts.malformed);
    report.add("client_ip_header_fallbacks", counts.client_ip_fallbacks);
    report.add("counters", counts.tallies.len() as u64);
    let room = detect::MALFORMED_EXAMPLES.saturating_sub(malformed.len());
    malformed.extend(counts.malformed_examples.iter().take(room).cloned());
}

fn record_plan(report: &mut Report, plan: &Plan, app: &App) {
    for block in &plan.blocks {
        let action = if block.new {
            "block_ip"
        } else {
            "extend_block"
        };
        report.plan(
            Action::new(
                action,
                block.entry.net.addr().to_string(),
                &block.entry.reason,
            )
            .with_detail(json!({
                "hits": block.entry.hits,
                "window_count": block.window_count,
                "threshold": block.threshold,
                "rule": block.rule,
                "expires_at": notify::rfc3339(block.entry.expires_at),
                "source": block.entry.source,
            })),
        );
    }
    report.add(
        "new_blocks",
        plan.blocks.iter().filter(|b| b.new).count() as u64,
    );
    report.add(
        "extended_blocks",
        plan.blocks.iter().filter(|b| !b.new).count() as u64,
    );
    report.add("capped_new_blocks", plan.capped as u64);
    if plan.capped > 0 {
        report.stop_early(format!(
            "MAX_NEW_BLOCKS_PER_RUN ({}) reached: {} more address(es) qualified and are listed in skipped",
            app.config.max_new_blocks, plan.capped
        ));
    }
    for entry in &plan.expired {
        report.plan(
            Action::new("unblock_ip", entry.net.addr().to_string(), "block expired").with_detail(
                json!({
                    "expired_at": notify::rfc3339(entry.expires_at),
                    "hits": entry.hits,
                }),
            ),
        );
    }
    for entry in &plan.released {
        report.plan(Action::new(
            "unblock_ip",
            entry.net.addr().to_string(),
            "now in ALLOW_CIDRS",
        ));
    }
    for skip in &plan.skipped {
        report.skip(&skip.target, &skip.reason);
    }
    let mut sets = serde_json::Map::new();
    for set in &plan.sets {
        let arn = app
            .sets
            .iter()
            .find(|c| c.family == set.family)
            .map(|c| c.set.arn.clone())
            .unwrap_or_default();
        if !set.delta.is_empty() {
            report.plan(
                Action::new(
                    "update_ip_set",
                    &arn,
                    format!(
                        "bring the {} set in line with the ledger",
                        set.family.name()
                    ),
                )
                .with_detail(json!({
                    "add": set.delta.add.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
                    "remove": set.delta.remove.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
                })),
            );
        }
        report.add("not_fit", set.not_fit.len() as u64);
        for (rank, entry) in set.not_fit.iter().enumerate() {
            report.skip(
                entry.net.to_string(),
                format!(
                    "did not fit in the {} set's {} addresses (rank {} of {}; {} hits)",
                    set.family.name(),
                    app.config.capacity,
                    set.ours + rank + 1,
                    set.ours + set.not_fit.len(),
                    entry.hits
                ),
            );
        }
        sets.insert(
            set.family.name().to_owned(),
            json!({
                "arn": arn,
                "ours": set.ours,
                "other_writers": set.foreign,
                "not_fit": set.not_fit.len(),
            }),
        );
    }
    report.detail("ip_sets", Value::Object(sets));
}

/// Streams one object through the counter on blocking threads while the
/// body downloads.
async fn read_object(
    app: &App,
    object: &Object,
    mut counter: Counter,
    deadline: &Deadline,
) -> Result<(Counter, stream::Scanned), BlockerError> {
    let read_error = |message: String| BlockerError::ReadObject {
        bucket: object.bucket.clone(),
        key: object.key.clone(),
        message,
    };
    let out = app
        .s3
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .send()
        .await
        .map_err(|e| read_error(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
    let mut body = out.body;
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let pump = tokio::spawn(async move {
        loop {
            let chunk = match body.try_next().await {
                Ok(Some(chunk)) => Ok(chunk),
                Ok(None) => return,
                Err(e) => Err(std::io::Error::other(e)),
            };
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    let url = object.url();
    let deadline = *deadline;
    let scan = tokio::task::spawn_blocking(move || {
        counter.start_source(&url);
        let mut out_of_time = false;
        let mut n = 0u64;
        let result = scan_lines(ChunkReader::new(rx), |number, line| {
            match line {
                Some(line) => counter.line_at(number, line),
                None => counter.overlong_at(number),
            }
            n += 1;
            if n.is_multiple_of(DEADLINE_EVERY) && deadline.expired() {
                out_of_time = true;
                return Flow::Stop;
            }
            Flow::Continue
        });
        (counter, result, out_of_time)
    });
    let (counter, result, out_of_time) = scan
        .await
        .map_err(|e| read_error(format!("the reader stopped: {e}")))?;
    pump.abort();
    let scanned = result
        .map_err(|e| read_error(format!("{e} (is it a gzip or plain JSON-lines WAF log?)")))?;
    if out_of_time {
        return Err(BlockerError::OutOfTime { what: object.url() });
    }
    Ok((counter, scanned))
}
