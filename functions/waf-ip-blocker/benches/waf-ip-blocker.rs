//! `cargo xtask bench waf-ip-blocker`: parse + count of a WAF log against a
//! bare gunzip of the same file with the same library, measured side by
//! side in one run, plus peak RSS of the real handler reading the object
//! from S3 (moto), the CloudWatch Logs path, and the AWS solution's Python
//! parsing approach on the same file.
//!
//! Not a test: it prints each figure beside its target.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde_json::json;
use shared::config::Env;
use toilkit_tests::logs_subscription;
use waf_ip_blocker::config::Config;
use waf_ip_blocker::detect::{ALL_ACTIONS, ClientIp, Counter, Detection};
use waf_ip_blocker::stream::{Flow, Threads, scan_lines, scan_lines_with};

const LINES: usize = 200_000;
const IPS: usize = 600;
const RUNS: usize = 5;
const PYTHON_SECONDS_REFERENCE: f64 = 3.5;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rss-child") {
        rss_child(&args[i + 1], &args[i + 2]);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--one-core") {
        one_core_child(Path::new(&args[i + 1]));
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--rss-scan") {
        let (lines, _) = parse_and_count(Path::new(&args[i + 1]));
        println!("{lines} {}", peak_rss_kb());
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("waf.log.gz");
    let started = Instant::now();
    let (raw_bytes, gz_bytes) = generate(&path);
    println!(
        "waf-ip-blocker benchmark: {LINES} WAF records, {IPS} client IPs (10% IPv6), {:.0} MB uncompressed ({:.0} B/line), {:.1} MB gzip; generated in {:.1?}",
        raw_bytes as f64 / 1e6,
        raw_bytes as f64 / LINES as f64,
        gz_bytes as f64 / 1e6,
        started.elapsed()
    );

    let mut targets = Targets::default();
    one_core(&path, &mut targets);

    // Interleaved, so a busy neighbour slows both sides alike.
    let mut gunzip_times = Vec::new();
    let mut parse_times = Vec::new();
    let (mut gunzip_cpu, mut parse_cpu) = (f64::MAX, f64::MAX);
    let mut counted = 0;
    for _ in 0..RUNS {
        let (t, c) = (Instant::now(), cpu_seconds());
        let n = gunzip(&path);
        gunzip_times.push(t.elapsed());
        gunzip_cpu = gunzip_cpu.min(cpu_seconds() - c);
        assert_eq!(n, raw_bytes);
        let (t, c) = (Instant::now(), cpu_seconds());
        let (lines, n) = parse_and_count(&path);
        parse_times.push(t.elapsed());
        parse_cpu = parse_cpu.min(cpu_seconds() - c);
        assert_eq!(lines, LINES as u64);
        counted = n;
    }
    let gunzip_best = *gunzip_times.iter().min().unwrap();
    let parse_best = *parse_times.iter().min().unwrap();
    let gunzip_med = median(&mut gunzip_times);
    let parse_med = median(&mut parse_times);
    let secs = parse_best.as_secs_f64();
    println!(
        "\nparse + count on two cores (decompress thread + scan thread), best of {RUNS}, same run:"
    );
    println!(
        "  bare gunzip (flate2 zlib-rs)   {:>8.3} s  (median {:.3} s)  {:>6.0} MB/s",
        gunzip_best.as_secs_f64(),
        gunzip_med.as_secs_f64(),
        raw_bytes as f64 / 1e6 / gunzip_best.as_secs_f64()
    );
    println!(
        "  parse + count                  {:>8.3} s  (median {:.3} s)  {:>6.0} MB/s  {:>9.0} lines/s  ({counted} requests counted)",
        secs,
        parse_med.as_secs_f64(),
        raw_bytes as f64 / 1e6 / secs,
        LINES as f64 / secs
    );
    let ratio = secs / gunzip_best.as_secs_f64();
    let ratio_med = parse_med.as_secs_f64() / gunzip_med.as_secs_f64();
    println!(
        "  ratio to bare gunzip           {ratio:>8.2}x (median {ratio_med:.2}x)   target <= 1.25x   {}",
        targets.check(ratio <= 1.25)
    );

    println!(
        "  CPU time (both threads)        gunzip {gunzip_cpu:.2} s, parse + count {parse_cpu:.2} s: the scan adds {:.0}% of gunzip's work on a second core (load average now {})",
        (parse_cpu / gunzip_cpu - 1.0) * 100.0,
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or("?")
    );
    match python_baseline(&path) {
        Some(py) => {
            let speedup = py.as_secs_f64() / secs;
            println!(
                "  Python json.loads per line     {:>8.3} s  (the AWS solution's approach, measured now)",
                py.as_secs_f64()
            );
            println!(
                "  speed-up over Python           {speedup:>8.1}x   target >= 12x   {}",
                targets.check(speedup >= 12.0)
            );
        }
        None => {
            let speedup = PYTHON_SECONDS_REFERENCE / secs;
            println!(
                "  speed-up over Python (3.5 s reference, python not found) {speedup:.1}x   target >= 12x   {}",
                targets.check(speedup >= 12.0)
            );
        }
    }

    let exe = std::env::current_exe().expect("own path");
    let scan = Command::new(&exe)
        .arg("--rss-scan")
        .arg(&path)
        .output()
        .expect("child runs");
    let scan_out = String::from_utf8_lossy(&scan.stdout);
    if let Some(kb) = scan_out
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse::<u64>().ok())
    {
        println!(
            "\npeak RSS, parse + count from a file (own process)      {:>6.1} MB",
            kb as f64 / 1024.0
        );
    }
    match rss_with_sdk(&exe, &path) {
        Ok((kb, report)) => {
            println!(
                "peak RSS, real handler reading the object from S3 (moto), SDK included {:>6.1} MB   target <= 32 MB   {}",
                kb as f64 / 1024.0,
                verdict(kb <= 32 * 1024)
            );
            println!("  (that run: {report})");
        }
        Err(e) => println!("peak RSS with the SDK: not measured ({e})"),
    }

    cloudwatch_logs();
    targets.finish();
}

/// Targets met and missed; a miss fails the run.
#[derive(Default)]
struct Targets {
    met: usize,
    missed: usize,
}

impl Targets {
    fn check(&mut self, ok: bool) -> &'static str {
        if ok {
            self.met += 1;
            "MET"
        } else {
            self.missed += 1;
            "NOT MET"
        }
    }

    fn finish(self) {
        println!("\n{} target(s) met, {} missed", self.met, self.missed);
        if self.missed > 0 {
            std::process::exit(1);
        }
    }
}

/// At 512 MB Lambda gives about a third of one vCPU: what counts there is
/// the CPU time of the whole scan, measured in a child pinned to one CPU.
fn one_core(path: &Path, targets: &mut Targets) {
    const DEFAULT_TARGET: f64 = 1.3;
    const CONFIGURED_TARGET: f64 = 1.6;
    let cpu = first_allowed_cpu();
    println!(
        "\nparse + count on one core (a child pinned to CPU {cpu} by taskset), interleaved with bare inflate, best of {ONE_CORE_RUNS} (median):"
    );
    let out = Command::new("taskset")
        .args(["-c", &cpu])
        .arg(std::env::current_exe().expect("own path"))
        .arg("--one-core")
        .arg(path)
        .output();
    let figures = match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(out) => {
            println!(
                "  not measured: the pinned child failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            String::new()
        }
        Err(e) => {
            println!("  not measured: taskset could not run ({e})");
            String::new()
        }
    };
    let times: Vec<(&str, f64, f64)> = figures
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next()?;
            Some((
                name,
                parts.next()?.parse().ok()?,
                parts.next()?.parse().ok()?,
            ))
        })
        .collect();
    let time = |name: &str| times.iter().find(|t| t.0 == name).map(|t| (t.1, t.2));
    let Some((inflate, inflate_med)) = time("inflate") else {
        println!(
            "  one-core ratio, default settings     NOT MEASURED   target <= {DEFAULT_TARGET}x   {}",
            targets.check(false)
        );
        println!(
            "  one-core ratio, rules + labels + header NOT MEASURED   target <= {CONFIGURED_TARGET}x   {}",
            targets.check(false)
        );
        return;
    };
    println!(
        "  bare inflate (flate2 zlib-rs)                    {inflate:>6.3} s ({inflate_med:.3} s)"
    );
    let rows = [
        ("split", "inflate + split into lines, nothing parsed", None),
        (
            "extract",
            "  + default settings' fields read, not counted",
            None,
        ),
        (
            "default",
            "parse + count, default settings",
            Some(DEFAULT_TARGET),
        ),
        ("suffixes", "  the same + IGNORE_URI_SUFFIXES", None),
        (
            "configured",
            "parse + count, URI rules + labels + header",
            Some(CONFIGURED_TARGET),
        ),
        (
            "default-two-threads",
            "default settings, two threads on the one core",
            None,
        ),
    ];
    for (name, what, target) in rows {
        let Some((best, median)) = time(name) else {
            println!("  {what:<48} not measured");
            if target.is_some() {
                targets.check(false);
            }
            continue;
        };
        let (ratio, ratio_med) = (best / inflate, median / inflate_med);
        let verdict = match target {
            Some(t) => format!("target <= {t}x   {}", targets.check(ratio <= t)),
            None => String::new(),
        };
        println!(
            "  {what:<48} {best:>6.3} s ({median:.3} s)  {ratio:>5.2}x inflate (median {ratio_med:.2}x)   {verdict}"
        );
    }
    println!(
        "  (one-core figures run on one thread, as the function does below 1,769 MB; load average now {})",
        load_average()
    );
}

const ONE_CORE_RUNS: usize = 9;

/// The pinned child: every variant once per round, so load from elsewhere
/// falls on all of them alike. Prints `name best median` in seconds.
fn one_core_child(path: &Path) {
    let variants: [(&str, Option<Detection>, Threads); 6] = [
        ("split", None, Threads::One),
        ("extract", None, Threads::One),
        ("default", Some(default_settings()), Threads::One),
        ("suffixes", Some(detection()), Threads::One),
        ("configured", Some(configured()), Threads::One),
        (
            "default-two-threads",
            Some(default_settings()),
            Threads::Two,
        ),
    ];
    let mut inflate = Vec::new();
    let mut times = vec![Vec::new(); variants.len()];
    for _ in 0..ONE_CORE_RUNS {
        let t = Instant::now();
        gunzip(path);
        inflate.push(t.elapsed());
        for ((name, detection, threads), times) in variants.iter().zip(&mut times) {
            let t = Instant::now();
            match detection {
                Some(d) => {
                    parse_and_count_with(path, d.clone(), *threads);
                }
                None => split_only(path, *name == "extract"),
            }
            times.push(t.elapsed());
        }
    }
    let report = |name: &str, times: &mut Vec<Duration>| {
        let best = *times.iter().min().unwrap();
        println!(
            "{name} {} {}",
            best.as_secs_f64(),
            median(times).as_secs_f64()
        );
    };
    report("inflate", &mut inflate);
    for ((name, _, _), times) in variants.iter().zip(&mut times) {
        report(name, times);
    }
}

/// The function's defaults: every action counts, the client IP is the
/// connection's, nothing else configured.
fn default_settings() -> Detection {
    Detection {
        ignore_uri_suffixes: vec![],
        ..detection()
    }
}

/// Every part of the record the configuration can ask for.
fn configured() -> Detection {
    Detection {
        count_labels: vec!["awswaf:clientip:geo:region:NL-NH".into()],
        count_rules: vec!["AWS-AWSManagedRulesCommonRuleSet".into()],
        uri_rules: serde_json::from_str(
            r#"[{"path":"/login","threshold":20},{"path":"/api/*","threshold":50},{"path":"/static/*","ignore":true}]"#,
        )
        .expect("URI rules"),
        client_ip: ClientIp::Header {
            name: "X-Forwarded-For".into(),
            hop: 1,
        },
        ..detection()
    }
}

fn parse_and_count_with(path: &Path, detection: Detection, threads: Threads) -> u64 {
    let mut counter = Counter::new(detection);
    scan_lines_with(
        std::fs::File::open(path).unwrap(),
        threads,
        |number, line| {
            match line {
                Some(line) => counter.line_at(number, line),
                None => counter.overlong_at(number),
            }
            Flow::Continue
        },
    )
    .unwrap();
    let counts = counter.finish();
    assert_eq!(counts.malformed, 0);
    counts.counted
}

/// Lines only, or with the default settings' fields read but nothing
/// counted: where the time of a parse goes.
fn split_only(path: &Path, extract: bool) {
    let mut extractor = waf_ip_blocker::waf_log::Extractor::reading(
        None,
        waf_ip_blocker::waf_log::Wanted {
            terminating_rule_id: false,
            uri: false,
            labels: false,
        },
    );
    let mut bytes = 0;
    scan_lines_with(
        std::fs::File::open(path).unwrap(),
        Threads::One,
        |_, line| {
            let line = line.unwrap_or_default();
            bytes += if extract {
                extractor
                    .extract(line)
                    .map_or(0, |f| f.client_ip.raw().len())
            } else {
                line.len()
            };
            Flow::Continue
        },
    )
    .unwrap();
    assert!(bytes > 0);
}

/// The first CPU this process may run on: CPU 0 may be outside its set.
fn first_allowed_cpu() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let list = s
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))?;
            let first = list.trim().split([',', '-']).next()?;
            Some(first.to_owned())
        })
        .unwrap_or_else(|| "0".into())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn verdict(ok: bool) -> &'static str {
    if ok { "MET" } else { "NOT MET" }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn detection() -> Detection {
    Detection {
        threshold: 100,
        window_seconds: 300,
        count_actions: ALL_ACTIONS.iter().map(|s| s.to_string()).collect(),
        count_labels: vec![],
        count_rules: vec![],
        ignore_uri_suffixes: vec![".css".into(), ".png".into()],
        uri_rules: vec![],
        client_ip: ClientIp::Connection,
    }
}

fn gunzip(path: &Path) -> u64 {
    let mut decoder = MultiGzDecoder::new(std::fs::File::open(path).unwrap());
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = decoder.read(&mut buf).unwrap();
        if n == 0 {
            return total;
        }
        total += n as u64;
    }
}

fn parse_and_count(path: &Path) -> (u64, u64) {
    let mut counter = Counter::new(detection());
    let scanned = scan_lines(std::fs::File::open(path).unwrap(), |number, line| {
        match line {
            Some(line) => counter.line_at(number, line),
            None => counter.overlong_at(number),
        }
        Flow::Continue
    })
    .unwrap();
    let counts = counter.finish();
    assert_eq!(counts.malformed, 0);
    (scanned.lines, counts.counted)
}

struct Gen {
    ips: Vec<String>,
}

impl Gen {
    fn new() -> Self {
        let mut rng = fastrand::Rng::with_seed(7);
        let ips = (0..IPS)
            .map(|i| {
                if i % 10 == 0 {
                    format!(
                        "2001:db8:{:x}:{:x}::{:x}",
                        rng.u16(..),
                        rng.u16(..),
                        rng.u16(1..)
                    )
                } else {
                    format!(
                        "{}.{}.{}.{}",
                        rng.u8(1..224),
                        rng.u8(..),
                        rng.u8(..),
                        rng.u8(1..255)
                    )
                }
            })
            .collect();
        Self { ips }
    }

    fn line(&self, rng: &mut fastrand::Rng, ts: i64) -> String {
        // A few heavy hitters, a long tail: like a real flood.
        let ip = if rng.u8(..) < 64 {
            &self.ips[rng.usize(..8)]
        } else {
            &self.ips[rng.usize(..IPS)]
        };
        let hex = |rng: &mut fastrand::Rng, n: usize| {
            (0..n)
                .map(|_| char::from_digit(rng.u32(..16), 16).unwrap())
                .collect::<String>()
        };
        let (action, rule) = if rng.u8(..) < 20 {
            ("BLOCK", "AWS-AWSManagedRulesCommonRuleSet")
        } else {
            ("ALLOW", "Default_Action")
        };
        let country = ["NL", "DE", "US", "JP", "BR"][rng.usize(..5)];
        let uri = [
            "/",
            "/api/v1/items",
            "/login",
            "/static/app.css",
            "/search",
            "/cart/checkout",
            "/img/logo.png",
        ][rng.usize(..7)];
        json!({
            "timestamp": ts,
            "formatVersion": 1,
            "webaclId": "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/product-web/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
            "terminatingRuleId": rule,
            "terminatingRuleType": "REGULAR",
            "action": action,
            "terminatingRuleMatchDetails": [],
            "httpSourceName": "ALB",
            "httpSourceId": "123456789012-app/product-alb/0123456789abcdef",
            "ruleGroupList": [
                {"ruleGroupId": "AWS#AWSManagedRulesCommonRuleSet", "terminatingRule": null, "nonTerminatingMatchingRules": [], "excludedRules": null, "customerConfig": null}
            ],
            "rateBasedRuleList": [],
            "nonTerminatingMatchingRules": [],
            "requestHeadersInserted": null,
            "responseCodeSent": null,
            "httpRequest": {
                "clientIp": ip,
                "country": country,
                "headers": [
                    {"name": "host", "value": "www.example.com"},
                    {"name": "user-agent", "value": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"},
                    {"name": "accept-language", "value": "en-US,en;q=0.9,nl;q=0.8"},
                    {"name": "accept-encoding", "value": "gzip, deflate, br"},
                    {"name": "cookie", "value": format!("session={}; _ga=GA1.2.{}.{}", hex(rng, 32), rng.u32(..), rng.u32(..))},
                    {"name": "x-forwarded-for", "value": ip},
                    {"name": "x-amzn-trace-id", "value": format!("Root=1-{}", hex(rng, 8))}
                ],
                "uri": uri,
                "args": format!("page={}&q={}", rng.u8(..), hex(rng, 6)),
                "httpVersion": "HTTP/1.1",
                "httpMethod": "GET",
                "requestId": format!("1-{}-{}", hex(rng, 8), hex(rng, 24))
            },
            "labels": [{"name": "awswaf:clientip:geo:country:NL"}, {"name": "awswaf:clientip:geo:region:NL-NH"}]
        })
        .to_string()
    }
}

fn generate(path: &Path) -> (u64, u64) {
    let logs = Gen::new();
    let mut rng = fastrand::Rng::with_seed(42);
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut gz = GzEncoder::new(file, Compression::default());
    let now = waf_ip_blocker::now() * 1000;
    let mut raw = 0u64;
    for i in 0..LINES {
        // One object covers about five minutes.
        let mut line = logs.line(
            &mut rng,
            now - 300_000 + (i as i64 * 300_000 / LINES as i64),
        );
        line.push('\n');
        raw += line.len() as u64;
        gz.write_all(line.as_bytes()).unwrap();
    }
    gz.finish().unwrap().flush().unwrap();
    (raw, std::fs::metadata(path).unwrap().len())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The AWS solution parses each line with `json.loads` and counts per IP
/// and minute; the same approach, timed on the same file.
fn python_baseline(path: &Path) -> Option<Duration> {
    let python = workspace_root().join(".venv/bin/python");
    if !python.exists() {
        return None;
    }
    let script = r#"
import gzip, json, sys, time
t = time.perf_counter()
counts = {}
with gzip.open(sys.argv[1], "rt") as f:
    for line in f:
        r = json.loads(line)
        key = (r["httpRequest"]["clientIp"], r["timestamp"] // 60000)
        counts[key] = counts.get(key, 0) + 1
print(time.perf_counter() - t)
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
        .ok()?;
    let secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some(Duration::from_secs_f64(secs))
}

/// CPU seconds this process has used (user + system, all threads).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Uploads the object to a private moto, then runs the real handler in a
/// fresh process (so its peak RSS is the handler's alone) and reads it.
fn rss_with_sdk(exe: &Path, path: &Path) -> Result<(u64, String), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let moto = toilkit_tests::Moto::dedicated();
    let env = runtime.block_on(async {
        let sdk = moto.sdk_config().await;
        let s3 = shared::aws::s3_client(&sdk);
        s3.create_bucket()
            .bucket("aws-waf-logs-bench")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body = aws_sdk_s3::primitives::ByteStream::from_path(path)
            .await
            .map_err(|e| e.to_string())?;
        s3.put_object()
            .bucket("aws-waf-logs-bench")
            .key("waf.log.gz")
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        toilkit_tests::tables::create_pk_table(&ddb, "ledger")
            .await
            .map_err(|e| e.to_string())?;
        let waf = aws_sdk_wafv2::Client::new(&sdk);
        let mut arns = Vec::new();
        for v in [
            aws_sdk_wafv2::types::IpAddressVersion::Ipv4,
            aws_sdk_wafv2::types::IpAddressVersion::Ipv6,
        ] {
            let out = waf
                .create_ip_set()
                .name(format!("bench-{}", v.as_str()))
                .scope(aws_sdk_wafv2::types::Scope::Regional)
                .ip_address_version(v)
                .set_addresses(Some(vec![]))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            arns.push(out.summary.unwrap().arn.unwrap());
        }
        let mut env = moto.env();
        env.push(("LEDGER_TABLE".into(), "ledger".into()));
        env.push(("IPSET_V4_ARN".into(), arns[0].clone()));
        env.push(("IPSET_V6_ARN".into(), arns[1].clone()));
        Ok::<_, String>(env)
    })?;
    let out = Command::new(exe)
        .args(["--rss-child", "aws-waf-logs-bench", "waf.log.gz"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let last = text.lines().last().unwrap_or_default().to_owned();
    let mut parts = last.splitn(2, ' ');
    let kb = parts
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("child said: {text}{}", String::from_utf8_lossy(&out.stderr)))?;
    Ok((kb, parts.next().unwrap_or_default().to_owned()))
}

/// The child: cold start as `main.rs` does, one S3 invocation.
fn rss_child(bucket: &str, key: &str) {
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
        let report = waf_ip_blocker::run(
            event,
            &app,
            &shared::Deadline::unbounded(),
            waf_ip_blocker::now(),
        )
        .await
        .unwrap();
        println!(
            "{} lines={} counted={} new_blocks={} ipset_writes={}",
            peak_rss_kb(),
            report.counter("lines"),
            report.counter("requests_counted"),
            report.counter("new_blocks"),
            report.counter("ipset_writes")
        );
    });
}

/// CloudWatch Logs subscription: decode (base64, gzip, JSON) and count.
fn cloudwatch_logs() {
    let logs = Gen::new();
    let mut rng = fastrand::Rng::with_seed(9);
    let now = waf_ip_blocker::now() * 1000;
    // CloudWatch Logs batches up to about 1 MB of events per delivery.
    let per_batch = 700;
    let batches: Vec<serde_json::Value> = (0..20)
        .map(|b| {
            let events: Vec<_> = (0..per_batch)
                .map(|i| json!({"id": format!("{b}-{i}"), "timestamp": now, "message": logs.line(&mut rng, now)}))
                .collect();
            logs_subscription::event(&logs_subscription::document(
                "aws-waf-logs-product-web",
                "eu-west-1_product-web_0",
                events,
            ))
        })
        .collect();
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let mut counter = Counter::new(detection());
        for batch in &batches {
            let waf_ip_blocker::trigger::Trigger::Logs { messages, .. } =
                waf_ip_blocker::trigger::parse(batch.clone()).unwrap()
            else {
                panic!("not a logs event")
            };
            for m in &messages {
                counter.line(m.as_bytes());
            }
        }
        assert_eq!(counter.finish().malformed, 0);
        best = best.min(t.elapsed());
    }
    let events = (per_batch * batches.len()) as f64;
    println!(
        "\nCloudWatch Logs path (decode base64 + gzip + JSON envelope, then count): {} deliveries of {per_batch} events, best of 3: {:.3} s, {:.0} events/s",
        batches.len(),
        best.as_secs_f64(),
        events / best.as_secs_f64()
    );
}
