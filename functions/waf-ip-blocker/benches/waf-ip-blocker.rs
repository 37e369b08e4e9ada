//! `cargo xtask bench waf-ip-blocker`: parse + count of a WAF log against a
//! bare gunzip of the same file with the same library, measured side by
//! side in one run; the AWS solution's parser (reimplemented from its public
//! source) on the same file; the end-to-end run from the S3 event to the
//! updated IP sets beside the solution's, with DynamoDB requests and peak
//! RSS ([`end_to_end`]); a backfill of 1,000 objects at 1, 2, 4 and 8
//! batches at once ([`backfill`]); and the CloudWatch Logs path.
//!
//! Not a test: it prints each figure beside its target, and exits 1 when
//! any target is missed. `--parse-only` stops after the parse figures;
//! `--generate <path>` only writes the object.

#[path = "waf-ip-blocker/backfill.rs"]
mod backfill;
#[path = "waf-ip-blocker/end_to_end.rs"]
mod end_to_end;

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde_json::json;
use toilkit_tests::logs_subscription;
use waf_ip_blocker::detect::{ALL_ACTIONS, ClientIp, Counter, Detection};
use waf_ip_blocker::stream::{Flow, Threads, scan_lines_with};

const LINES: usize = 200_000;
const RUNS: usize = 5;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--e2e-child") {
        end_to_end::child(&args[i + 1], &args[i + 2]);
        return;
    }
    // The backfill part alone (it needs none of the rest).
    if args.iter().any(|a| a == "--backfill-only") {
        let mut targets = Targets::default();
        backfill::run(&mut targets);
        targets.finish();
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--one-core") {
        one_core_child(Path::new(&args[i + 1]), &args[i + 2..]);
        return;
    }
    // The object alone, for profiling the `--one-core` child on it (under
    // `taskset`, as `one_core` runs it).
    if let Some(i) = args.iter().position(|a| a == "--generate") {
        generate(Path::new(&args[i + 1]));
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
    let (raw_bytes, gz_bytes, truth) = generate(&path);
    println!(
        "waf-ip-blocker benchmark: {LINES} WAF records over five minutes, {ATTACKERS} attackers and {BENIGN} other clients (10% IPv6), {:.0} MB uncompressed ({:.0} B/line), {:.1} MB gzip; generated in {:.1?}",
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
    match solution_parse(&path) {
        Ok(py) => {
            let speedup = py / secs;
            println!(
                "  the AWS solution's parser      {py:>8.3} s  (v4.0.4's Lambda log parser, reimplemented from its public source: json.loads per line, per-minute keys, the same file)"
            );
            println!(
                "  speed-up over it               {speedup:>8.1}x   target >= 12x   {}",
                targets.check(speedup >= 12.0)
            );
        }
        Err(e) => println!(
            "  the AWS solution's parser: NOT RUN ({e})   target >= 12x   {}",
            targets.check(false)
        ),
    }

    // The parse figures alone (one core, two cores, the solution's parser):
    // what a change to the log path moves, without the emulator parts.
    if args.iter().any(|a| a == "--parse-only") {
        targets.finish();
        return;
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
    end_to_end::run(&exe, &path, &truth, &mut targets);
    backfill::run(&mut targets);

    cloudwatch_logs();
    targets.finish();
}

/// Every printed target, counted: a missed one fails the bench.
#[derive(Default)]
pub struct Targets {
    met: usize,
    missed: usize,
}

impl Targets {
    pub fn check(&mut self, ok: bool) -> &'static str {
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
fn one_core_child(path: &Path, only: &[String]) {
    // `runs=N` instead of ONE_CORE_RUNS rounds (one, under valgrind).
    let runs = only
        .iter()
        .find_map(|o| o.strip_prefix("runs=")?.parse().ok())
        .unwrap_or(ONE_CORE_RUNS);
    let variants = [
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
    // Named variants alone (after the path), for profiling one of them.
    let variants: Vec<(&str, Option<Detection>, Threads)> = variants
        .into_iter()
        .filter(|(name, _, _)| {
            let named: Vec<_> = only.iter().filter(|o| !o.starts_with("runs=")).collect();
            named.is_empty() || named.iter().any(|o| o == name)
        })
        .collect();
    let mut inflate = Vec::new();
    let mut times = vec![Vec::new(); variants.len()];
    for _ in 0..runs {
        let t = Instant::now();
        gunzip(path);
        inflate.push(t.elapsed());
        for ((name, detection, threads), times) in variants.iter().zip(&mut times) {
            let t = Instant::now();
            match detection {
                Some(d) => {
                    std::hint::black_box(parse_and_count_with(path, d.clone(), *threads));
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

/// Lines read and requests counted.
fn parse_and_count_with(path: &Path, detection: Detection, threads: Threads) -> (u64, u64) {
    let mut counter = Counter::new(detection);
    let scanned = scan_lines_with(
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
    (scanned.lines, counts.counted)
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

pub fn median(times: &mut [Duration]) -> Duration {
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
    parse_and_count_with(path, detection(), Threads::Two)
}

/// The generated web ACL's clients: [`ATTACKERS`] that flood (each well
/// over the threshold in every minute) and [`BENIGN`] that stay under it,
/// one in ten of each IPv6.
struct Gen {
    attackers: Vec<String>,
    benign: Vec<String>,
}

/// Addresses over the end-to-end run's threshold (100 a minute).
pub const ATTACKERS: usize = 35;
/// Addresses under it: about 2,000 window counters (5 minutes each) to store.
pub const BENIGN: usize = 400;
/// Requests whose URI ends so are not counted (`IGNORE_URI_SUFFIXES`).
pub const IGNORED_SUFFIXES: [&str; 2] = [".css", ".png"];
const URIS: [&str; 7] = [
    "/",
    "/api/v1/items",
    "/login",
    "/static/app.css",
    "/search",
    "/cart/checkout",
    "/img/logo.png",
];

impl Gen {
    fn new() -> Self {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut address = |i: usize| {
            if i.is_multiple_of(10) {
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
        };
        let attackers = (0..ATTACKERS).map(&mut address).collect();
        let benign = (0..BENIGN).map(&mut address).collect();
        Self { attackers, benign }
    }

    /// A flood and a crowd: 45% of requests from the attackers (about 370
    /// counted a minute each), the rest spread over the benign addresses
    /// (about 40 a minute each, far from 100).
    fn pick(&self, rng: &mut fastrand::Rng) -> &str {
        if rng.u8(..) < 115 {
            &self.attackers[rng.usize(..ATTACKERS)]
        } else {
            &self.benign[rng.usize(..BENIGN)]
        }
    }

    fn line(&self, rng: &mut fastrand::Rng, ts: i64) -> String {
        let ip = self.pick(rng).to_owned();
        let uri = URIS[rng.usize(..URIS.len())];
        record(rng, ts, &ip, uri)
    }
}

fn record(rng: &mut fastrand::Rng, ts: i64, ip: &str, uri: &str) -> String {
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

/// Writes the object: five minutes from a minute boundary, so its counts
/// fall in five one-minute windows. Returns its raw and gzip sizes and the
/// truth: every address with at least 100 counted requests in a minute.
fn generate(path: &Path) -> (u64, u64, BTreeSet<String>) {
    let logs = Gen::new();
    let mut rng = fastrand::Rng::with_seed(42);
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut gz = GzEncoder::new(file, Compression::default());
    let start = (waf_ip_blocker::now() - 900).div_euclid(300) * 300 * 1000;
    let mut per_minute: HashMap<(String, i64), u32> = HashMap::new();
    let mut raw = 0u64;
    for i in 0..LINES {
        let ts = start + (i as i64 * 300_000 / LINES as i64);
        let ip = logs.pick(&mut rng).to_owned();
        let uri = URIS[rng.usize(..URIS.len())];
        if !IGNORED_SUFFIXES.iter().any(|s| uri.ends_with(s)) {
            *per_minute.entry((ip.clone(), ts / 60_000)).or_default() += 1;
        }
        let mut line = record(&mut rng, ts, &ip, uri);
        line.push('\n');
        raw += line.len() as u64;
        gz.write_all(line.as_bytes()).unwrap();
    }
    gz.finish().unwrap().flush().unwrap();
    let truth = per_minute
        .into_iter()
        .filter(|(_, n)| *n >= end_to_end::THRESHOLD)
        .map(|((ip, _), _)| ip)
        .collect();
    (raw, std::fs::metadata(path).unwrap().len(), truth)
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The AWS solution's Lambda log parser on the same file, as reimplemented
/// from its public source (`solution_log_parser.py --parse-only`): its
/// seconds from opening the file to the list of addresses to block.
fn solution_parse(path: &Path) -> Result<f64, String> {
    let python = workspace_root().join(".venv/bin/python");
    if !python.exists() {
        return Err(format!("{} missing", python.display()));
    }
    let out = Command::new(python)
        .arg(workspace_root().join("functions/waf-ip-blocker/benches/solution_log_parser.py"))
        .arg("--parse-only")
        .arg(path)
        .args(["--threshold", "100"])
        .args(["--ignored-suffixes", &IGNORED_SUFFIXES.join(",")])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str::<serde_json::Value>(text.trim())
        .ok()
        .and_then(|v| v["seconds"].as_f64())
        .ok_or_else(|| format!("it said: {text}{}", String::from_utf8_lossy(&out.stderr)))
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

pub fn peak_rss_kb() -> u64 {
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
