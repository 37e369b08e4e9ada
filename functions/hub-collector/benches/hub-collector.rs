//! The benchmark (`cargo xtask bench hub-collector`): not a test.
//!
//! - **Render:** the page for 200 accounts × 7 functions with open items of
//!   every kind and 30 days of summaries (42,000), streamed to the renderer
//!   as the collector streams them from the table. Targets: well under a
//!   second (the median of five, ≤ 0.5 s), and memory flat in the history:
//!   rendering ten times the history (300 days of summaries) raises the
//!   peak resident set by at most 4 MB over the 30-day render.
//! - **Collector:** result events from 50 accounts stored against moto
//!   (DynamoDB and S3 over HTTP, about eleven calls an event), one at a
//!   time: moto deep-copies every table for each transaction, so a write
//!   beside one races inside moto (an HTTP 500 under load, which DynamoDB
//!   does not do). Target: at least the rate of 200 accounts whose seven
//!   functions all report every five minutes (4.7 events a second), from
//!   one invocation at a time against moto, whose calls are slower than
//!   DynamoDB's; Lambda runs as many as events arrive.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use hub_collector::dashboard::{Page, render};
use hub_collector::record::{Current, DaySummary, OpenItem, Source};
use hub_collector::{App, Config};
use serde_json::json;
use shared::Deadline;
use shared::config::Env;
use shared::envelope::Outcome;
use shared::output::Output;
use time::{Duration, OffsetDateTime};
use toilkit_tests::Moto;

const ACCOUNTS: usize = 200;
const FUNCTIONS: [&str; 7] = [
    "waf-ip-blocker",
    "rds-audit-notifier",
    "maintenance-switch",
    "config-triage",
    "log-retention",
    "access-denied-triage",
    "patch-waves",
];
const RENDER_SECONDS: f64 = 0.5;
const FLAT_MB: f64 = 4.0;
const EVENTS: usize = 400;
/// Invocations at once (see the module's note on moto's transactions).
const WORKERS: usize = 1;
const EVENTS_PER_SECOND: f64 = (ACCOUNTS * FUNCTIONS.len()) as f64 / 300.0;

static MISSED: AtomicUsize = AtomicUsize::new(0);

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        MISSED.fetch_add(1, Ordering::SeqCst);
        "MISSED"
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!("hub-collector benchmark");
    bench_render();
    runtime.block_on(bench_collector());
    let missed = MISSED.load(Ordering::SeqCst);
    if missed > 0 {
        eprintln!("{missed} target(s) missed");
        std::process::exit(1);
    }
}

fn source(account: usize, function: &str) -> Source {
    Source {
        account: format!("{:012}", 100_000_000_000 + account),
        region: "eu-west-1".to_owned(),
        function: function.to_owned(),
    }
}

fn label(account: usize) -> Option<String> {
    Some(format!("product-{}", account % 40))
}

/// Dates relative to the run's clock, so the page measured is the same
/// whatever day the benchmark runs (a fixed expiry would empty the blocked
/// list from the next day on).
fn at(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

fn state(now: OffsetDateTime) -> (Vec<Current>, Vec<OpenItem>) {
    let mut currents = Vec::new();
    let mut items = Vec::new();
    for account in 0..ACCOUNTS {
        for (f, function) in FUNCTIONS.iter().enumerate() {
            let failed = (account + f) % 17 == 0;
            currents.push(Current {
                source: source(account, function),
                label: label(account),
                run_id: format!("run-{account}-{f}"),
                started_at: now - Duration::minutes(10),
                ended_at: now - Duration::minutes(9),
                outcome: if failed { Outcome::Failed } else { Outcome::Ok },
                reason: failed.then(|| "ThrottlingException: Rate exceeded".to_owned()),
                dry_run: false,
                counters: BTreeMap::from([("api_calls".to_owned(), 40)]),
                failures_in_a_row: u32::from(failed),
                schema_version: 1,
                unknown_schema: false,
                items_omitted: 0,
                named_unchanged: Vec::new(),
            });
        }
        let mut item = |function: &str, kind: &str, key: String, fields: serde_json::Value| {
            items.push(OpenItem {
                source: source(account, function),
                label: label(account),
                kind: kind.to_owned(),
                key,
                fields: fields.as_object().cloned().unwrap_or_default(),
                first_seen: now - Duration::days((account % 20) as i64),
                last_seen: now - Duration::minutes(9),
            });
        };
        for i in 0..20 {
            item(
                "waf-ip-blocker",
                "blocked_address",
                format!("198.51.{account}.{i}/32"),
                json!({"hits": 100 + i, "expires_at": at(now + Duration::days(1))}),
            );
        }
        for (i, severity) in ["CRITICAL", "HIGH", "MEDIUM", "LOW", "HIGH"]
            .iter()
            .enumerate()
        {
            item(
                "config-triage",
                "violation",
                format!("{account}/eu-west-1/rule-{i}/AWS::S3::Bucket/b{i}"),
                json!({"severity": severity, "owner": "team", "since": at(now - Duration::days(6))}),
            );
        }
        for i in 0..5 {
            item(
                "log-retention",
                "log_group",
                format!("eu-west-1:/aws/lambda/fn-{i}"),
                json!({"retention_days": 30, "change": "set"}),
            );
        }
        item(
            "maintenance-switch",
            "window",
            format!("w-{account}"),
            json!({"phase": "scheduled", "start_at": at(now + Duration::hours(17))}),
        );
        for i in 0..3 {
            item(
                "rds-audit-notifier",
                "audit_alert",
                format!("db-{account}/{i}"),
                json!({"categories": ["ddl"], "user": "admin"}),
            );
        }
    }
    (currents, items)
}

/// `days` of summaries for every source, made as they are read: the bench
/// holds none of them, as the collector holds none.
fn summaries(now: OffsetDateTime, days: i64) -> impl Iterator<Item = DaySummary> {
    (0..days).flat_map(move |back| {
        let date = (now - Duration::days(back)).date();
        (0..ACCOUNTS).flat_map(move |account| {
            FUNCTIONS.iter().map(move |function| DaySummary {
                date,
                source: source(account, function),
                label: label(account),
                runs: 288,
                failed: (account % 7) as u64,
                open_by_kind: BTreeMap::from([(
                    "blocked_address".to_owned(),
                    (account % 30) as u64,
                )]),
                records: BTreeMap::from([("audit_alert/ddl".to_owned(), 3)]),
                counters: BTreeMap::from([("api_calls".to_owned(), 11_520)]),
            })
        })
    })
}

/// The peak resident set so far, in MB (`VmHWM`).
fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Resets `VmHWM` to the current resident set (Linux's `clear_refs` 5).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn bench_render() {
    let now = OffsetDateTime::now_utc();
    let (currents, items) = state(now);
    let silent: Vec<Source> = (0..ACCOUNTS)
        .step_by(50)
        .map(|a| source(a, "log-retention"))
        .collect();
    let page = Page {
        now,
        currents: &currents,
        items: &items,
        silent: &silent,
    };
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..5 {
        let start = Instant::now();
        bytes = render(&page, summaries(now, 30)).len();
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let median = times[2];
    println!(
        "\nrender: {ACCOUNTS} accounts × {} functions, {} open items, {} day summaries",
        FUNCTIONS.len(),
        items.len(),
        30 * ACCOUNTS * FUNCTIONS.len()
    );
    println!(
        "  median of 5: {:.3} s (≤ {RENDER_SECONDS} s: {}), page {:.0} KB",
        median,
        verdict(median <= RENDER_SECONDS),
        bytes as f64 / 1024.0
    );

    let measurable = reset_peak();
    let base = peak_mb();
    let _ = render(&page, summaries(now, 30));
    let thirty = peak_mb();
    if measurable && reset_peak() {
        let base300 = peak_mb();
        let _ = render(&page, summaries(now, 300));
        let three_hundred = peak_mb();
        let grew30 = thirty - base;
        let grew300 = three_hundred - base300;
        println!(
            "  peak RSS: {thirty:.1} MB after the 30-day renders, {three_hundred:.1} MB after one of 300 days; \
             growth during a render: 30 days +{grew30:.1} MB, 300 days +{grew300:.1} MB (10× the history; ≤ +{FLAT_MB} MB more: {})",
            verdict(grew300 - grew30 <= FLAT_MB)
        );
    } else {
        println!("  peak memory: /proc/self/clear_refs cannot be written here: NOT MEASURED");
        MISSED.fetch_add(1, Ordering::SeqCst);
    }
}

async fn bench_collector() {
    let moto = Moto::dedicated();
    let sdk = moto.sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let s3 = shared::aws::s3_client(&sdk);
    let table = moto.unique("hub-bench");
    toilkit_tests::tables::create_pk_sk_table(&dynamodb, &table)
        .await
        .expect("table");
    let history = moto.unique("hub-bench-history");
    let dashboard = moto.unique("hub-bench-dashboard");
    for bucket in [&history, &dashboard] {
        s3.create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("bucket");
    }
    let mut env = Env::from_pairs([
        ("STATE_TABLE", table.as_str()),
        ("HISTORY_BUCKET", history.as_str()),
        ("DASHBOARD_BUCKET", dashboard.as_str()),
        // Renders are measured above; here, storing.
        ("RENDER_INTERVAL_SECONDS", "86400"),
    ]);
    let config = Config::from_env(&mut env);
    env.finish().expect("valid");
    let app = Arc::new(App::new(config, &sdk, Output::quiet()));
    let now = OffsetDateTime::now_utc();
    let events: Vec<serde_json::Value> = (0..EVENTS)
        .map(|i| {
            let account = i % 50;
            let function = FUNCTIONS[i % FUNCTIONS.len()];
            let at = now - Duration::seconds((EVENTS - i) as i64);
            let at = at.format(&time::format_description::well_known::Rfc3339).expect("formats");
            let items: Vec<serde_json::Value> = (0..5)
                .map(|k| json!({"kind": "blocked_address", "key": format!("192.0.2.{}/32", (i + k) % 250), "state": "open", "fields": {"hits": k}}))
                .collect();
            json!({
                "version": "0", "id": format!("bench-{i}"), "detail-type": format!("{function} report"),
                "source": "toilkit", "account": format!("{:012}", 100_000_000_000usize + account),
                "time": at, "region": "eu-west-1", "resources": [],
                "detail": {"schema_version": 1, "toilkit_version": "0.1.0", "function": function,
                    "account": format!("{:012}", 100_000_000_000usize + account), "region": "eu-west-1",
                    "label": "bench", "run_id": format!("run-{i}"), "started_at": at, "ended_at": at,
                    "outcome": "ok", "dry_run": false, "counters": {"api_calls": 4}, "items": items,
                    "items_total": 5, "items_omitted": 0}
            })
        })
        .collect();
    let start = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let events = Arc::new(events);
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (app, next, events) = (app.clone(), next.clone(), events.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(event) = events.get(i) else { break };
                hub_collector::run(event.clone(), &app, &Deadline::unbounded())
                    .await
                    .expect("stored");
            }
        }));
    }
    for worker in workers {
        worker.await.expect("worker");
    }
    let seconds = start.elapsed().as_secs_f64();
    let rate = EVENTS as f64 / seconds;
    println!(
        "\ncollector: {EVENTS} events from 50 accounts, 5 items each, against moto, {WORKERS} at a time"
    );
    println!(
        "  {seconds:.2} s: {rate:.1} events/s (≥ {EVENTS_PER_SECOND:.1}: {})",
        verdict(rate >= EVENTS_PER_SECOND)
    );
}
