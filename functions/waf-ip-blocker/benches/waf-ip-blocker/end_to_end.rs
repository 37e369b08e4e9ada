//! End to end, from the S3 event to the updated IP sets, against one moto:
//! the real handler in a fresh process (its time, its DynamoDB requests, its
//! peak RSS) and the AWS solution's Lambda log parser as reimplemented from
//! its public source (`solution_log_parser.py`), alternating, on the same
//! object, each with a fresh ledger and fresh IP sets. Both are configured to
//! decide alike (100 requests in a UTC minute, every action counted, `.css`
//! and `.png` ignored), and both are held to the generator's truth.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_wafv2::types::{IpAddressVersion, Scope};
use serde_json::{Value, json};
use shared::config::Env;
use toilkit_tests::Moto;
use waf_ip_blocker::config::Config;
use waf_ip_blocker::ipset::MIN_WRITE_INTERVAL;

use super::{IGNORED_SUFFIXES, Targets, median, peak_rss_kb, workspace_root};

/// Requests in one minute that block an address, in both implementations.
pub const THRESHOLD: u32 = 100;
const RUNS: usize = 3;
const BUCKET: &str = "aws-waf-logs-bench";

/// What one run of the real handler did.
struct Rust {
    seconds: f64,
    rss_kb: u64,
    ledger_requests: u64,
    ipset_writes: u64,
    blocked: BTreeSet<String>,
}

/// What one run of the solution's approach did.
struct Solution {
    seconds: f64,
    without_pause: f64,
    parse: f64,
    calls: Value,
    blocked: BTreeSet<String>,
}

pub fn run(exe: &Path, object: &Path, truth: &BTreeSet<String>, targets: &mut Targets) {
    println!(
        "\nend to end, S3 event -> IP sets updated, against moto ({RUNS} runs each, alternating; fresh ledger and IP sets per run):"
    );
    println!(
        "  both decide on {THRESHOLD} counted requests in a UTC minute, every action counted, {} ignored; the generator's truth: {} addresses",
        IGNORED_SUFFIXES.join(" "),
        truth.len()
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let moto = Moto::dedicated();
    let sdk = runtime.block_on(moto.sdk_config());
    let s3 = shared::aws::s3_client(&sdk);
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let waf = aws_sdk_wafv2::Client::new(&sdk);
    runtime.block_on(async {
        s3.create_bucket().bucket(BUCKET).send().await.unwrap();
        for i in 0..RUNS {
            let body = aws_sdk_s3::primitives::ByteStream::from_path(object)
                .await
                .unwrap();
            s3.put_object()
                .bucket(BUCKET)
                .key(key(i))
                .body(body)
                .send()
                .await
                .unwrap();
        }
    });
    let python = workspace_root().join(".venv/bin/python");
    let script = workspace_root().join("functions/waf-ip-blocker/benches/solution_log_parser.py");
    let mut rust = Vec::new();
    let mut solution = Vec::new();
    for i in 0..RUNS {
        let (v4, v6) = runtime.block_on(ip_sets(&waf, &format!("rust{i}")));
        let table = format!("ledger{i}");
        runtime
            .block_on(toilkit_tests::tables::create_pk_table(&ddb, &table))
            .unwrap();
        let mut env = moto.env();
        env.extend(
            [
                ("LEDGER_TABLE", table.as_str()),
                ("IPSET_V4_ARN", v4.as_str()),
                ("IPSET_V6_ARN", v6.as_str()),
                ("THRESHOLD", "100"),
                ("WINDOW_SECONDS", "60"),
                ("COUNT_ACTIONS", "ALLOW,BLOCK,COUNT,CAPTCHA,CHALLENGE"),
                ("IGNORE_URI_SUFFIXES", &IGNORED_SUFFIXES.join(",")),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        let mut run = rust_run(exe, &env, &key(i)).unwrap_or_else(|e| panic!("{e}"));
        run.blocked = runtime.block_on(contents(&waf, &[&v4, &v6]));
        if i == 0 {
            let (items, bytes, units) = runtime.block_on(window_items(&ddb, &table));
            println!(
                "  the ledger after one object: {items} window items, {:.1} KB in all, about {units} write units for their updates (DynamoDB bills an update by the item's size, 1 KB a unit)",
                bytes as f64 / 1024.0
            );
        }
        rust.push(run);
        if python.exists() {
            let (v4, v6) = runtime.block_on(ip_sets(&waf, &format!("solution{i}")));
            match solution_run(&python, &script, &moto, &key(i), &v4, &v6) {
                Ok(run) => solution.push(run),
                Err(e) => println!("  the solution's run {i} failed: {e}"),
            }
        }
    }
    drop(moto);

    let mut times: Vec<Duration> = rust
        .iter()
        .map(|r| Duration::from_secs_f64(r.seconds))
        .collect();
    let best = rust.iter().map(|r| r.seconds).fold(f64::MAX, f64::min);
    let requests = rust.iter().map(|r| r.ledger_requests).max().unwrap_or(0);
    let rss = rust.iter().map(|r| r.rss_kb).max().unwrap_or(0);
    println!(
        "  toilkit, the real handler       {best:>7.3} s best  (median {:.3} s), {} IP set writes (one second apart)",
        median(&mut times).as_secs_f64(),
        rust[0].ipset_writes
    );
    let right = rust.iter().all(|r| &r.blocked == truth);
    println!(
        "    decisions: {}   target: exactly the truth   {}",
        decisions(&rust[0].blocked, truth),
        targets.check(right)
    );
    println!(
        "    DynamoDB requests per object {requests:>5}   target <= 50   {}",
        targets.check(requests > 0 && requests <= 50)
    );
    println!(
        "    end to end                 {best:>7.3} s   target < 1.5 s   {}",
        targets.check(best < 1.5)
    );
    println!(
        "    peak RSS (handler process, SDK included) {:>6.1} MB   target <= 32 MB   {}",
        rss as f64 / 1024.0,
        targets.check(rss > 0 && rss <= 32 * 1024)
    );
    if solution.is_empty() {
        println!(
            "  the solution's approach: NOT RUN ({} missing)   {}",
            python.display(),
            targets.check(false)
        );
        return;
    }
    let sol_best = solution.iter().map(|s| s.seconds).fold(f64::MAX, f64::min);
    let sol_unpaused = solution
        .iter()
        .map(|s| s.without_pause)
        .fold(f64::MAX, f64::min);
    let sol_parse = solution.iter().map(|s| s.parse).fold(f64::MAX, f64::min);
    println!(
        "  the solution's approach (v4.0.4 Lambda log parser, reimplemented from its public source, Python {}):",
        python_version(&python)
    );
    println!(
        "    end to end {sol_best:>7.3} s best, of which its fixed 5 s pause between the two IP set writes; {sol_unpaused:.3} s without it (parse {sol_parse:.3} s); calls {}",
        solution[0].calls
    );
    let sol_right = solution.iter().all(|s| &s.blocked == truth);
    println!(
        "    its decisions: {} ({})",
        decisions(&solution[0].blocked, truth),
        if sol_right {
            "the same as toilkit's"
        } else {
            "NOT the truth: the comparison is not like for like"
        }
    );
    // Like with like: WAF allows one write a second, so both must pause
    // between the two sets' writes. Held both ways: each with the one
    // second WAF asks for (the solution's fixed five cut to it), and each
    // without its pause. The solution as it runs, five seconds in, is
    // printed for reference only: against it any run under two seconds
    // would pass. Taking the pause out of one side only set a fixed sleep
    // against CPU work, a ratio that moved with the machine's load.
    // toilkit's gate sleeps one second less the time since the previous
    // write (the second set's read happens in it), so taking a whole second
    // off makes the unpaused ratio an upper bound, by a few milliseconds.
    let fastest = rust
        .iter()
        .min_by(|a, b| a.seconds.total_cmp(&b.seconds))
        .expect("three runs");
    let pause = MIN_WRITE_INTERVAL.as_secs_f64() * fastest.ipset_writes.saturating_sub(1) as f64;
    let with_spacing = (sol_unpaused + pause) / best;
    let unpaused = sol_unpaused / (best - pause);
    println!(
        "  speed-up end to end, each with WAF's one-second spacing ({:.3} s against {best:.3} s)   {with_spacing:>5.1}x   target >= 2.5x   {}",
        sol_unpaused + pause,
        targets.check(sol_right && with_spacing >= 2.5)
    );
    println!(
        "  speed-up end to end, neither's pause ({sol_unpaused:.3} s against {:.3} s)   {unpaused:>5.1}x   target >= 2.5x   {}",
        best - pause,
        targets.check(sol_right && unpaused >= 2.5)
    );
    println!(
        "    (for reference: the solution as it runs, its 5 s pause in, {:.1}x; the solution without its pause against toilkit with its second, {:.1}x)",
        sol_best / best,
        sol_unpaused / best
    );
}

/// How a run's blocked addresses compare with the generator's truth.
fn decisions(blocked: &BTreeSet<String>, truth: &BTreeSet<String>) -> String {
    format!(
        "{} of {} attackers blocked, {} others",
        blocked.intersection(truth).count(),
        truth.len(),
        blocked.difference(truth).count()
    )
}

fn key(i: usize) -> String {
    format!("AWSLogs/123456789012/WAFLogs/us-east-1/product-web/2026/12/06/12/waf-{i}.log.gz")
}

/// A fresh v4 and v6 set (with a description: the solution reads it).
async fn ip_sets(waf: &aws_sdk_wafv2::Client, prefix: &str) -> (String, String) {
    let mut arns = Vec::new();
    for version in [IpAddressVersion::Ipv4, IpAddressVersion::Ipv6] {
        let out = waf
            .create_ip_set()
            .name(format!("{prefix}-{}", version.as_str()))
            .description("bench")
            .scope(Scope::Regional)
            .ip_address_version(version)
            .set_addresses(Some(vec![]))
            .send()
            .await
            .unwrap();
        arns.push(out.summary.unwrap().arn.unwrap());
    }
    (arns[0].clone(), arns[1].clone())
}

/// The addresses in the sets, without their prefix length.
async fn contents(waf: &aws_sdk_wafv2::Client, arns: &[&str]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for arn in arns {
        let parts: Vec<&str> = arn.rsplitn(3, '/').collect();
        let set = waf
            .get_ip_set()
            .scope(Scope::Regional)
            .name(parts[1])
            .id(parts[0])
            .send()
            .await
            .unwrap();
        for cidr in set.ip_set.unwrap().addresses {
            out.insert(cidr.split('/').next().unwrap_or_default().to_owned());
        }
    }
    out
}

/// Window items after a run: how many, their size by DynamoDB's rules
/// (attribute names and values), and the write units their updates cost:
/// a unit per KB of the item, per `UpdateItem` (one per 1,000 counts).
async fn window_items(ddb: &aws_sdk_dynamodb::Client, table: &str) -> (usize, usize, usize) {
    let items = ddb
        .scan()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let size = |v: &AttributeValue| match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        _ => 8,
    };
    let (mut count, mut bytes, mut units) = (0, 0, 0);
    for item in items {
        if !item["pk"].as_s().is_ok_and(|pk| pk.starts_with("win#")) {
            continue;
        }
        let b: usize = item.iter().map(|(k, v)| k.len() + size(v)).sum();
        let counts = item
            .get("counts")
            .and_then(|v| v.as_ss().ok())
            .map_or(0, Vec::len);
        count += 1;
        bytes += b;
        units += b.div_ceil(1024) * counts.div_ceil(1000).max(1);
    }
    (count, bytes, units)
}

fn rust_run(exe: &Path, env: &[(String, String)], key: &str) -> Result<Rust, String> {
    let out = Command::new(exe)
        .args(["--e2e-child", BUCKET, key])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().cloned())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line: Value = text
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| {
            format!(
                "the handler's process said: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    if let Some(failed) = line["failed"].as_array().filter(|f| !f.is_empty()) {
        return Err(format!("the handler's run failed: {failed:?}"));
    }
    Ok(Rust {
        seconds: line["seconds"].as_f64().unwrap_or(f64::MAX),
        rss_kb: line["rss_kb"].as_u64().unwrap_or(0),
        ledger_requests: line["ledger_requests"].as_u64().unwrap_or(0),
        ipset_writes: line["ipset_writes"].as_u64().unwrap_or(0),
        blocked: BTreeSet::new(),
    })
}

/// The child: a cold start as `main.rs` does it, then one S3 event, timed
/// from the event to the report (IP sets written).
pub fn child(bucket: &str, key: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut env = Env::from_process();
        let config = Config::from_env(&mut env);
        let sdk = shared::aws::load();
        env.finish().unwrap();
        let app = waf_ip_blocker::App::new(config, &sdk, shared::output::Output::default());
        let event = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
            "awsRegion": "us-east-1", "eventTime": "2026-01-01T00:00:00.000Z",
            "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "EXAMPLE"},
            "requestParameters": {"sourceIPAddress": "10.0.0.1"}, "responseElements": {},
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket},
                "object": {"key": key, "eTag": "bench"}}}]});
        let started = Instant::now();
        let report = waf_ip_blocker::run(
            event,
            &app,
            &shared::Deadline::unbounded(),
            waf_ip_blocker::now(),
        )
        .await
        .unwrap();
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{}",
            json!({
                "seconds": seconds,
                "rss_kb": peak_rss_kb(),
                "lines": report.counter("lines"),
                "new_blocks": report.counter("new_blocks"),
                "ipset_writes": report.counter("ipset_writes"),
                "ledger_requests": report.counter("ledger_requests"),
                "failed": report.failed.iter().map(|f| format!("{} {}: {}", f.action, f.target, f.error)).collect::<Vec<_>>(),
            })
        );
    });
}

fn solution_run(
    python: &Path,
    script: &Path,
    moto: &Moto,
    key: &str,
    v4: &str,
    v6: &str,
) -> Result<Solution, String> {
    let name = |arn: &str| arn.rsplit('/').nth(1).unwrap_or_default().to_owned();
    let out = Command::new(python)
        .arg(script)
        .args(["--end-to-end", "--fresh", "--endpoint-url", moto.endpoint()])
        .args(["--bucket", BUCKET, "--key", key])
        .args(["--ipv4-set-name", &name(v4), "--ipv4-set-id", v4])
        .args(["--ipv6-set-name", &name(v6), "--ipv6-set-id", v6])
        .args(["--threshold", &THRESHOLD.to_string()])
        .args(["--ignored-suffixes", &IGNORED_SUFFIXES.join(",")])
        .envs(moto.env())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line: Value = text
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or_else(|| format!("it said: {text}{}", String::from_utf8_lossy(&out.stderr)))?;
    if let Some(errors) = line["errors"].as_array().filter(|e| !e.is_empty()) {
        return Err(format!("its run reported errors: {errors:?}"));
    }
    Ok(Solution {
        seconds: line["seconds"].as_f64().unwrap_or(f64::MAX),
        without_pause: line["seconds_without_sleep"].as_f64().unwrap_or(f64::MAX),
        parse: line["parse_seconds"].as_f64().unwrap_or(f64::MAX),
        calls: line["calls"].clone(),
        blocked: line["blocked"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

fn python_version(python: &Path) -> String {
    Command::new(python)
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .trim_start_matches("Python ")
                .to_owned()
        })
        .unwrap_or_default()
}
