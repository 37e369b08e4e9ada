//! The issue's benchmark (`cargo xtask bench log-retention`): not a test.
//!
//! 1. Two identical accounts (regions of one moto server) of 10,000 log
//!    groups: 60% with no retention, 20% at 30 days, 20% at 3653 days, 5% of
//!    them carrying the exempt tag. cloud-custodian (c7n, pinned in
//!    tools/python/requirements-bench.txt, installed into target/bench-venv)
//!    runs the equivalent policy on one, this function on the other: wall
//!    time and API calls by operation, side by side, with their ratios.
//! 2. The rate cap: a sweep with `MAX_API_RPS=20`, every call's start time
//!    recorded by an interceptor of the bench's own, and the busiest second
//!    of each operation held against the cap.
//! 3. Resuming: a 100,000-group account swept by invocations with a short
//!    deadline, each carrying on from the last one's `details.resume`.
//! 4. One sweep execution at the quota: the same account a day later, 1% of
//!    its groups without retention again, at `MAX_API_RPS=5` (CloudWatch
//!    Logs' default quota), invoked the way the sweep state machine invokes
//!    it (moto's executor cannot run the real binary, so the bench plays its
//!    loop: each invocation is given the last one's resume point). The wall
//!    time against the floor the quota sets, (changes ÷ 5/s) + (pages ÷ 5/s),
//!    the invocations, the busiest second of each operation across all of
//!    them, and each group changed once. Listing is sequential, so where
//!    the emulator answers a page more slowly than 1/5 s, the floor takes its
//!    mean round trip in that run instead, and the target is held against
//!    that: what is measured is what the loop adds, not moto's speed.
//!
//! Sizes: `LOG_RETENTION_BENCH_GROUPS` (10000), `LOG_RETENTION_BENCH_RESUME_GROUPS`
//! (100000; 0 skips part 3), `LOG_RETENTION_BENCH_DEADLINE_SECS` (20).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aws_types::SdkConfig;
use aws_types::region::Region;
use log_retention::{App, CallCounter, Config, RegionClients};
use serde_json::{Value, json};
use shared::Deadline;
use shared::output::Output;
use shared::report::Report;
use toilkit_tests::Moto;
use toilkit_tests::call_times::{CallTimes, busiest_second};

const CUSTODIAN_REGION: &str = "us-west-2";
const TOILKIT_REGION: &str = "us-east-2";
const CAP_REGION: &str = "eu-west-1";
const RESUME_REGION: &str = "ap-southeast-1";
const EXEMPT_KEY: &str = "toilkit:keep";
const CAP_RPS: f64 = 20.0;
const CAP_GROUPS: usize = 300;
/// The comparison run is bounded by the emulator, not by a cap.
const UNCAPPED_RPS: &str = "1000";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let groups = env_usize("LOG_RETENTION_BENCH_GROUPS", 10_000);
    let resume_groups = env_usize("LOG_RETENTION_BENCH_RESUME_GROUPS", 100_000);
    let deadline = Duration::from_secs(env_usize("LOG_RETENTION_BENCH_DEADLINE_SECS", 20) as u64);
    let moto = Moto::dedicated();
    println!("log-retention benchmark (moto at {})", moto.endpoint());

    compare_with_custodian(&moto, groups).await;
    rate_cap(&moto).await;
    if resume_groups > 0 {
        resume(&moto, resume_groups, deadline).await;
        one_execution(&moto, resume_groups, deadline).await;
    }
    let missed = MISSED.load(std::sync::atomic::Ordering::SeqCst);
    if missed > 0 {
        println!("\n{missed} target(s) missed");
        std::process::exit(1);
    }
    println!("\nevery target met");
}

// ---------------------------------------------------------------- seeding

/// The issue's mix: by `i % 20`, 12 in 20 with no retention, 4 at 30 days, 4
/// at 3653 days; one in 20 of every kind exempt.
fn spec(i: usize) -> (String, Option<i32>, bool) {
    let retention = match i % 20 {
        0..=11 => None,
        12..=15 => Some(30),
        _ => Some(3653),
    };
    let exempt = i % 20 == (i / 20) % 20;
    (format!("/aws/lambda/svc-{i:06}"), retention, exempt)
}

async fn seed(sdk: &SdkConfig, n: usize, specs: impl Fn(usize) -> (String, Option<i32>, bool)) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        while set.len() >= 16 {
            set.join_next().await.unwrap().unwrap();
        }
        let (name, retention, exempt) = specs(i);
        let logs = logs.clone();
        set.spawn(async move {
            let tags = exempt.then(|| HashMap::from([(EXEMPT_KEY.to_owned(), "yes".to_owned())]));
            logs.create_log_group()
                .log_group_name(&name)
                .set_tags(tags)
                .send()
                .await
                .expect("create group");
            if let Some(days) = retention {
                logs.put_retention_policy()
                    .log_group_name(&name)
                    .retention_in_days(days)
                    .send()
                    .await
                    .expect("put retention");
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
}

/// Expected changes: groups with no retention and no exempt tag.
fn expected_changes(n: usize) -> usize {
    (0..n)
        .filter(|&i| matches!(spec(i), (_, None, false)))
        .count()
}

/// Groups by retention (`never` for none), read with the SDK.
async fn census(sdk: &SdkConfig) -> BTreeMap<String, usize> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
    let mut out = BTreeMap::new();
    let mut token = None;
    loop {
        let page = logs
            .describe_log_groups()
            .set_next_token(token)
            .send()
            .await
            .expect("list");
        for g in page.log_groups() {
            let key = g
                .retention_in_days()
                .map_or_else(|| "never".to_owned(), |d| d.to_string());
            *out.entry(key).or_insert(0) += 1;
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

// ---------------------------------------------------------------- the function

/// The function as deployed, plus the bench's own call recorder.
fn app(sdk: &SdkConfig, region: &str, vars: &[(&str, &str)], times: &CallTimes) -> App {
    let calls = CallCounter::default();
    let region_value = Region::new(region.to_owned());
    let logs = aws_sdk_cloudwatchlogs::config::Builder::from(sdk)
        .region(region_value.clone())
        .interceptor(calls.clone())
        .interceptor(times.clone())
        .build();
    let tagging = aws_sdk_resourcegroupstagging::config::Builder::from(sdk)
        .region(region_value)
        .interceptor(calls.clone())
        .interceptor(times.clone())
        .build();
    App::from_parts(
        Config::from_pairs(vars.iter().copied()).expect("configuration"),
        vec![RegionClients {
            region: region.to_owned(),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs),
            tagging: aws_sdk_resourcegroupstagging::Client::from_conf(tagging),
        }],
        shared::aws::s3_client(sdk),
        Output::default(),
        calls,
    )
}

async fn invoke(app: &App, payload: &Value, deadline: Deadline) -> Report {
    log_retention::run(payload, app, deadline)
        .await
        .expect("the run succeeds")
}

fn calls_of(report: &Report) -> BTreeMap<String, u64> {
    serde_json::from_value(report.details["api_calls"].clone()).unwrap_or_default()
}

// ---------------------------------------------------------------- part 4

/// DescribeLogGroups' page size.
const PAGE: usize = 50;

async fn one_execution(moto: &Moto, n: usize, deadline: Duration) {
    let quota = log_retention::config::DEFAULT_MAX_API_RPS;
    let sdk = moto.sdk_config_in(RESUME_REGION).await;
    // The account as part 3 left it, with one group in 100 (not exempt)
    // back to no retention: a day's new groups.
    let reset: Vec<String> = (0..n)
        .step_by(100)
        .map(spec)
        .filter(|(_, _, exempt)| !exempt)
        .map(|(name, ..)| name)
        .collect();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let mut set = tokio::task::JoinSet::new();
    for name in reset.iter().cloned() {
        while set.len() >= 16 {
            set.join_next().await.unwrap().unwrap();
        }
        let logs = logs.clone();
        set.spawn(async move {
            logs.delete_retention_policy()
                .log_group_name(name)
                .send()
                .await
                .expect("delete retention")
        });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
    let changes = reset.len();
    let pages = n.div_ceil(PAGE);
    let floor = Duration::from_secs_f64(changes as f64 / quota + pages as f64 / quota);
    println!(
        "\n4. One sweep execution at MAX_API_RPS={quota} (the default quota): {n} groups, {changes} without retention, invocations with a {deadline:?} deadline, each given the last one's resume point"
    );
    let times = CallTimes::default();
    let rps = quota.to_string();
    let app = app(
        &sdk,
        RESUME_REGION,
        &[("RETENTION_DAYS", "30"), ("MAX_API_RPS", rps.as_str())],
        &times,
    );
    let mut payload = json!({"dry_run": null, "resume": null});
    let (mut invocations, mut changed, mut errors) = (0, 0, 0);
    let started = Instant::now();
    loop {
        invocations += 1;
        let report = invoke(&app, &payload, Deadline::after(deadline)).await;
        changed += report.counter("groups_changed");
        errors += report.counter("errors");
        if std::env::var_os("LOG_RETENTION_BENCH_VERBOSE").is_some() {
            println!(
                "   invocation {invocations:>3}: scanned {:>6}, changed {:>5}, calls {:?}, resume {}",
                report.counter("groups_scanned"),
                report.counter("groups_changed"),
                calls_of(&report),
                report.details.get("resume").unwrap_or(&Value::Null)
            );
        }
        if !report.stopped_early {
            break;
        }
        payload = json!({"dry_run": null, "resume": report.details["resume"]});
        assert!(invocations < 1000, "the sweep converges");
    }
    let wall = started.elapsed();
    let by_op = times.by_operation();
    let puts = by_op.get("PutRetentionPolicy").map_or(0, Vec::len);
    let listed = by_op.get("DescribeLogGroups").map_or(0, Vec::len);
    // Listing is sequential (each page's token comes from the one before),
    // so a page takes at least one round trip: where the emulator answers
    // more slowly than the quota allows, it sets the pace, and the floor is
    // taken at its pace instead. The round trips are this run's own.
    let round_trips = times.round_trips("DescribeLogGroups");
    let round_trip = round_trips.iter().sum::<Duration>() / round_trips.len().max(1) as u32;
    let page_time = round_trip.as_secs_f64().max(1.0 / quota);
    let reachable = Duration::from_secs_f64(changes as f64 / quota + pages as f64 * page_time);
    let ratio = wall.as_secs_f64() / floor.as_secs_f64();
    let reachable_ratio = wall.as_secs_f64() / reachable.as_secs_f64();
    println!(
        "   {invocations} invocations; {listed} DescribeLogGroups pages for {pages}, {puts} PutRetentionPolicy for {changes} changes"
    );
    println!(
        "   wall {wall:.0?} against the quota's floor {floor:.0?} ({changes} ÷ {quota}/s + {pages} ÷ {quota}/s): {ratio:.2}×"
    );
    println!(
        "   the emulator answered DescribeLogGroups in {round_trip:.0?} on average ({:.1} pages/s at most); the floor at the slower of it and the quota: {reachable:.0?}: {reachable_ratio:.2}×   target ≤ 1.1×: {}",
        1.0 / round_trip.as_secs_f64().max(f64::EPSILON),
        verdict(reachable_ratio <= 1.1)
    );
    println!(
        "   {changed} groups changed, {puts} calls for {changes} expected, {errors} errors   target: each group once: {}",
        verdict(changed as usize == changes && puts == changes && errors == 0)
    );
    print_pace(&times, quota);
}

// ---------------------------------------------------------------- custodian

/// A venv of its own for c7n, created once from the pinned requirements.
fn custodian_python() -> PathBuf {
    let root = toilkit_tests::workspace::root();
    let venv = root.join("target/bench-venv");
    let pins = root.join("tools/python/requirements-bench.txt");
    let stamp = venv.join(".toilkit-requirements");
    let python = venv.join("bin/python");
    let current = std::fs::read(&pins).expect("requirements-bench.txt");
    if std::fs::read(&stamp).ok().as_ref() != Some(&current) {
        eprintln!("installing cloud-custodian into {}", venv.display());
        if !python.exists() {
            run_ok(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        }
        run_ok(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&pins),
        );
        std::fs::write(&stamp, current).expect("stamp");
    }
    python
}

fn run_ok(command: &mut Command) {
    let status = command.status().expect("command runs");
    assert!(status.success(), "{command:?} failed: {status}");
}

struct Peer {
    seconds: f64,
    /// From custodian's start-up done to its exit, measured inside Python.
    inner_seconds: f64,
    calls: BTreeMap<String, u64>,
    resources: usize,
}

fn run_custodian(moto: &Moto, region: &str) -> Peer {
    let python = custodian_python();
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.yml");
    std::fs::write(
        &policy,
        format!(
            "policies:\n  - name: log-retention\n    resource: log-group\n    filters:\n      - retentionInDays: absent\n      - \"tag:{EXEMPT_KEY}\": absent\n    actions:\n      - type: retention\n        days: 30\n"
        ),
    )
    .expect("policy");
    let counts = dir.path().join("counts.json");
    let out = dir.path().join("out");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/custodian_counting.py");
    let started = Instant::now();
    let output = Command::new(python)
        .arg(script)
        .args(["run", "--cache-period", "0", "-r", region, "-s"])
        .arg(&out)
        .arg(&policy)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", region)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TOILKIT_COUNTS_FILE", &counts)
        .output()
        .expect("custodian runs");
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "custodian failed: {stderr}");
    let result: Value = serde_json::from_slice(&std::fs::read(&counts).expect("counts")).unwrap();
    let resources: Vec<Value> = serde_json::from_slice(
        &std::fs::read(out.join("log-retention/resources.json")).expect("custodian resources"),
    )
    .unwrap();
    let calls = result["calls"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(op, n)| {
            let op = op.split_once(':').map_or(op.as_str(), |(service, name)| {
                if service == "sts" {
                    "sts:GetCallerIdentity"
                } else {
                    name
                }
            });
            (op.to_owned(), n.as_u64().unwrap())
        })
        .collect();
    Peer {
        seconds,
        inner_seconds: result["seconds"].as_f64().unwrap_or(seconds),
        calls,
        resources: resources.len(),
    }
}

// ---------------------------------------------------------------- part 1

fn row(label: &str, ours: String, theirs: String, ratio: String, target: &str) {
    println!("  {label:<28} {ours:>12} {theirs:>12} {ratio:>8}   {target}");
}

async fn compare_with_custodian(moto: &Moto, n: usize) {
    let expected = expected_changes(n);
    println!(
        "\n1. {n} log groups: 60% no retention, 20% at 30 d, 20% at 3653 d, 5% tagged {EXEMPT_KEY}; {expected} to change"
    );
    let custodian_sdk = moto.sdk_config_in(CUSTODIAN_REGION).await;
    let toilkit_sdk = moto.sdk_config_in(TOILKIT_REGION).await;
    let started = Instant::now();
    seed(&custodian_sdk, n, spec).await;
    seed(&toilkit_sdk, n, spec).await;
    println!("   (seeded both accounts in {:.0?})", started.elapsed());

    let peer = run_custodian(moto, CUSTODIAN_REGION);

    let stamps = CallTimes::default();
    let app = app(
        &toilkit_sdk,
        TOILKIT_REGION,
        &[("RETENTION_DAYS", "30"), ("MAX_API_RPS", UNCAPPED_RPS)],
        &stamps,
    );
    let started = Instant::now();
    let report = invoke(&app, &json!({}), Deadline::unbounded()).await;
    let seconds = started.elapsed().as_secs_f64();
    let ours = calls_of(&report);

    let theirs_after = census(&custodian_sdk).await;
    let ours_after = census(&toilkit_sdk).await;
    let total = |c: &BTreeMap<String, u64>| c.values().sum::<u64>();
    println!(
        "   outcome: toilkit changed {} groups, custodian acted on {}; afterwards the accounts are identical ({ours_after:?}): {}",
        report.counter("groups_changed"),
        peer.resources,
        verdict(
            ours_after == theirs_after && report.counter("groups_changed") as usize == expected
        ),
    );
    println!(
        "  {:<28} {:>12} {:>12} {:>8}   target",
        "", "toilkit", "custodian", "ratio"
    );
    let mut ops: Vec<&String> = ours.keys().chain(peer.calls.keys()).collect();
    ops.sort();
    ops.dedup();
    let (our_total, their_total) = (total(&ours), total(&peer.calls));
    row(
        "API calls",
        our_total.to_string(),
        their_total.to_string(),
        format!("{:.3}", our_total as f64 / their_total as f64),
        &format!(
            "≤ 1.0 (no more calls than custodian): {}",
            verdict(our_total <= their_total)
        ),
    );
    for op in ops {
        row(
            &format!("  {op}"),
            ours.get(op).copied().unwrap_or(0).to_string(),
            peer.calls.get(op).copied().unwrap_or(0).to_string(),
            String::new(),
            "",
        );
    }
    row(
        "wall time (custodian process)",
        format!("{seconds:.1} s"),
        format!("{:.1} s", peer.seconds),
        format!("{:.2}", seconds / peer.seconds),
        "",
    );
    let ratio = seconds / peer.inner_seconds;
    row(
        "wall time (custodian's run)",
        format!("{seconds:.1} s"),
        format!("{:.1} s", peer.inner_seconds),
        format!("{ratio:.2}"),
        &format!("≤ 0.8: {}", verdict(ratio <= 0.8)),
    );
    println!(
        "   (custodian's run excludes Python's start-up and imports; toilkit's is the handler's run, at MAX_API_RPS={UNCAPPED_RPS}, {} groups at once)",
        log_retention::sweep::CONCURRENCY
    );
    let puts = ours.get("PutRetentionPolicy").copied().unwrap_or(0);
    let at_default = puts as f64 / log_retention::config::DEFAULT_MAX_API_RPS;
    println!(
        "   At the default MAX_API_RPS=5 (CloudWatch Logs' quota), {puts} PutRetentionPolicy calls alone take {at_default:.0} s{}",
        if at_default > 900.0 {
            ": more than one 15-minute invocation, which is why part 3 matters"
        } else {
            ""
        }
    );
}

static MISSED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        MISSED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        "MISSED"
    }
}

// ---------------------------------------------------------------- part 2

async fn rate_cap(moto: &Moto) {
    println!(
        "\n2. MAX_API_RPS={CAP_RPS}: {CAP_GROUPS} groups with no retention, every call time-stamped"
    );
    let sdk = moto.sdk_config_in(CAP_REGION).await;
    seed(&sdk, CAP_GROUPS, |i| (format!("/cap/{i:04}"), None, false)).await;
    let times = CallTimes::default();
    let rps = CAP_RPS.to_string();
    let app = app(
        &sdk,
        CAP_REGION,
        &[("RETENTION_DAYS", "30"), ("MAX_API_RPS", rps.as_str())],
        &times,
    );
    let started = Instant::now();
    let report = invoke(&app, &json!({}), Deadline::unbounded()).await;
    let took = started.elapsed();
    println!(
        "   {} groups changed in {took:.1?}",
        report.counter("groups_changed")
    );
    print_pace(&times, CAP_RPS);
}

/// Each operation's calls, mean rate and busiest second, against `cap`.
fn print_pace(times: &CallTimes, cap: f64) {
    for (op, times) in times.by_operation() {
        let busiest = busiest_second(&times);
        let span = times.last().unwrap().duration_since(times[0]).as_secs_f64();
        let mean = if span > 0.0 {
            (times.len() - 1) as f64 / span
        } else {
            0.0
        };
        println!(
            "  {op:<28} {:>5} calls, mean {mean:>5.1}/s, busiest second {busiest:>3}   target ≤ {cap}: {}",
            times.len(),
            verdict(busiest as f64 <= cap)
        );
    }
}

// ---------------------------------------------------------------- part 3

async fn resume(moto: &Moto, n: usize, deadline: Duration) {
    let expected = expected_changes(n);
    println!(
        "\n3. Resume: {n} log groups ({expected} to change), invocations with a {deadline:?} deadline, each passed the last one's details.resume"
    );
    let sdk = moto.sdk_config_in(RESUME_REGION).await;
    let started = Instant::now();
    seed(&sdk, n, spec).await;
    println!("   (seeded in {:.0?})", started.elapsed());
    let app = app(
        &sdk,
        RESUME_REGION,
        &[("RETENTION_DAYS", "30"), ("MAX_API_RPS", UNCAPPED_RPS)],
        &CallTimes::default(),
    );
    let mut payload = json!({});
    let mut changed = 0;
    let mut scanned = 0;
    let mut errors = 0;
    let mut invocations = 0;
    let started = Instant::now();
    loop {
        invocations += 1;
        let begun = Instant::now();
        let report = invoke(&app, &payload, Deadline::after(deadline)).await;
        changed += report.counter("groups_changed");
        scanned += report.counter("groups_scanned");
        errors += report.counter("errors");
        let calls = calls_of(&report);
        println!(
            "   invocation {invocations:>2}: {:>5.1} s, scanned {:>6}, changed {:>6} (total {changed:>6}), calls {:?}, {}",
            begun.elapsed().as_secs_f64(),
            report.counter("groups_scanned"),
            report.counter("groups_changed"),
            calls,
            if report.stopped_early {
                "stopped: resumes"
            } else {
                "finished"
            }
        );
        if !report.stopped_early {
            break;
        }
        payload = json!({"resume": report.details["resume"]});
        assert!(invocations < 1000, "the sweep converges");
    }
    let exempt_never = (0..n)
        .filter(|&i| matches!(spec(i), (_, None, true)))
        .count();
    println!(
        "   {scanned} groups listed in all for {n}: each invocation lists again the pages it had listed but not finished"
    );
    println!(
        "   {invocations} invocations, {:.0?} in all; {changed} changes for {expected} expected ({} each group once), {errors} errors: {}",
        started.elapsed(),
        if changed as usize == expected {
            "exactly"
        } else {
            "NOT"
        },
        verdict(changed as usize == expected && errors == 0)
    );
    // Listing every group again costs as much as the sweep's own listing on
    // the emulator (minutes at 100,000), so it is done for smaller accounts.
    if n <= 20_000 {
        let left = census(&sdk).await.get("never").copied().unwrap_or(0);
        println!(
            "   afterwards {left} groups have no retention: the {exempt_never} exempt ones: {}",
            verdict(left == exempt_never)
        );
    }
}
