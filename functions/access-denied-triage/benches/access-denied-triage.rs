//! access-denied-triage workload benchmark (not a test): one CloudWatch Logs
//! delivery of a trail's records, as large as CloudWatch Logs makes one
//! (1,048,576 bytes of events), 10% of them denied.
//!
//! The function's decode + filter + plan (`trigger::parse`, then
//! `plan::plan`) is measured against the bare decode of the same payload
//! (base64, gunzip, the envelope and every record to `serde_json::Value`),
//! and against Python's `json.loads` + filter of the same records
//! (`json_loads_filter.py`, run by the venv's Python), round by round in one
//! run. Targets: no more than 2x the bare decode, at least 10x Python.
//!
//! Run with `cargo xtask bench access-denied-triage`. The process exits
//! non-zero when a target is missed or Python could not be measured. With
//! `--profile N` it runs only the function's path, N times, for a profiler.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use access_denied_triage::Config;
use access_denied_triage::noise::Noise;
use access_denied_triage::plan::{Decision, Facts, plan};
use access_denied_triage::record::{Record, is_denial_code};
use access_denied_triage::trigger::{self, Trigger};
use base64::Engine;
use serde_json::{Map, Value, json};
use shared::config::Env;
use time::OffsetDateTime;
use time::macros::datetime;
use toilkit_tests::logs_subscription;

/// PutLogEvents' limit on a batch, which bounds a subscription delivery:
/// the messages plus 26 bytes for each event.
const BATCH_BYTES: usize = 1_048_576;
const EVENT_OVERHEAD: usize = 26;
const ROUNDS: usize = 31;
const WARM_UP: usize = 2;
const DECODE_TARGET: f64 = 2.0;
const PYTHON_TARGET: f64 = 10.0;
/// When the delivery is handled: a few minutes after its last record.
const NOW: OffsetDateTime = datetime!(2026-12-06 09:15 UTC);
const ACCOUNT: &str = "111122223333";

fn main() {
    let messages = messages();
    let records = messages.len();
    let denied = messages
        .iter()
        .filter(|m| {
            serde_json::from_str::<Value>(m).unwrap()["errorCode"]
                .as_str()
                .is_some_and(is_denial_code)
        })
        .count();
    assert_eq!(denied * 10, records, "10% of the records are denied");
    let message_bytes: usize = messages.iter().map(String::len).sum();
    let document = document(&messages);
    let document_bytes = document.to_string().len();
    let payload = logs_subscription::event(&document);
    let data = payload["awslogs"]["data"].as_str().unwrap().to_owned();
    let config = config();

    // Sanity: every record parses, and the function keeps exactly the denied
    // ones (what Python's filter keeps, checked at its first round).
    let Ok(Trigger::Records(batch)) = trigger::parse(payload.clone()) else {
        panic!("the payload is a Logs delivery");
    };
    assert_eq!(batch.records.len(), records, "{:?}", batch.first_problem);
    let check = plan(&batch.records, &config, &Facts::default(), NOW);
    assert_eq!(
        check.dropped.get(&Noise::NotDenied).copied(),
        Some((records - denied) as u64)
    );
    assert!(!check.groups.is_empty());

    // `--profile N`: the function's path alone, N times, for `perf record`.
    if let Some(rounds) = profile_rounds() {
        for _ in 0..rounds {
            let Ok(Trigger::Records(batch)) = trigger::parse(payload.clone()) else {
                unreachable!("parsed above");
            };
            black_box(plan(&batch.records, &config, &Facts::default(), NOW));
        }
        return;
    }

    println!(
        "access-denied-triage benchmark: one CloudWatch Logs delivery of CloudTrail records, median of {ROUNDS} rounds, Rust and Python alternating\n"
    );
    println!(
        "  payload: {records} records, {denied} denied ({}); {:.2} MB of records, {:.2} MB decoded document, {:.2} MB base64 of gzip",
        error_codes(&messages),
        mb(message_bytes),
        mb(document_bytes),
        mb(data.len())
    );
    let dropped: Vec<String> = check
        .dropped
        .iter()
        .map(|(noise, n)| {
            let reason = noise.counter().trim_start_matches("dropped_");
            format!("{reason} {n}")
        })
        .collect();
    println!(
        "  plan: {} groups ({} to announce), {} bursts; dropped {}",
        check.groups.len(),
        check
            .groups
            .iter()
            .filter(|g| g.decision == Decision::Announce)
            .count(),
        check.recon.len(),
        dropped.join(", ")
    );

    let mut python = match Python::start(&data) {
        Ok(python) => Some(python),
        Err(why) => {
            println!("  Python not measured: {why}");
            None
        }
    };
    let (mut bare, mut crates) = (Vec::new(), Vec::new());
    let (mut envelope, mut inflate) = (Vec::new(), Vec::new());
    let (mut full, mut parse_part, mut plan_part) = (Vec::new(), Vec::new(), Vec::new());
    let (mut from_messages, mut py_filter, mut py_total) = (Vec::new(), Vec::new(), Vec::new());
    // Python's json.loads + filter starts from the decoded messages; so does
    // one measurement of the function's own part, for a like-for-like figure.
    let messages_decoded = shared::input::decode_logs_subscription(payload.clone()).unwrap();
    // Interleaved round by round, so that a change in the machine's load (a
    // shared build box) affects every measurement alike. The payload is
    // cloned outside the timings (the handler owns its event), and what each
    // step returns is dropped outside them too: the figures are the work of
    // decoding and deciding, alike for every step.
    for round in 0..WARM_UP + ROUNDS {
        let event = payload.clone();
        let t = Instant::now();
        let decoded = black_box(bare_decode(event));
        let t_bare = t.elapsed();
        drop(decoded);

        let t = Instant::now();
        let decoded = black_box(hand_decode(&payload));
        let t_crates = t.elapsed();
        drop(decoded);

        let event = payload.clone();
        let t = Instant::now();
        let decoded = black_box(shared::input::decode_logs_subscription(event).unwrap());
        let t_envelope = t.elapsed();
        drop(decoded);

        let t = Instant::now();
        let inflated = black_box(base64_gunzip(&payload));
        let t_inflate = t.elapsed();
        drop(inflated);

        let event = payload.clone();
        let t = Instant::now();
        let Ok(Trigger::Records(batch)) = trigger::parse(event) else {
            unreachable!("parsed above");
        };
        let t_parse = t.elapsed();
        let planned = black_box(plan(&batch.records, &config, &Facts::default(), NOW));
        let t_full = t.elapsed();
        drop((batch, planned));

        let t = Instant::now();
        let records_parsed: Vec<Record> = messages_decoded
            .log_events
            .iter()
            .map(|e| Record::parse(&e.message).unwrap())
            .collect();
        let planned = black_box(plan(&records_parsed, &config, &Facts::default(), NOW));
        let t_from_messages = t.elapsed();
        drop((records_parsed, planned));

        if let Some(p) = python.as_mut() {
            match p.round() {
                Ok((decode, filter, kept)) => {
                    assert_eq!(
                        kept, denied,
                        "Python's filter keeps what the function's does"
                    );
                    if round >= WARM_UP {
                        py_filter.push(filter);
                        py_total.push(decode + filter);
                    }
                }
                Err(why) => {
                    println!("  Python not measured: {why}");
                    python = None;
                }
            }
        }
        if round >= WARM_UP {
            bare.push(t_bare);
            crates.push(t_crates);
            envelope.push(t_envelope);
            inflate.push(t_inflate);
            full.push(t_full);
            parse_part.push(t_parse);
            plan_part.push(t_full - t_parse);
            from_messages.push(t_from_messages);
        }
    }
    drop(python);

    let row = |label: &str, d: Duration| {
        println!(
            "  {label:<62} {:>8.2} ms  {:>9.0} records/s",
            ms(d),
            records as f64 / d.as_secs_f64()
        );
    };
    println!();
    let bare = median(bare);
    let crates = median(crates);
    let full = median(full);
    row(
        "bare decode: shared::input + each record to serde_json::Value",
        bare,
    );
    row(
        "bare decode: base64 + flate2 + serde_json::Value, by hand",
        crates,
    );
    row("  (the envelope alone: shared::input)", median(envelope));
    let inflate = median(inflate);
    row("  (base64 + gunzip alone, no JSON)", inflate);
    row("decode + filter + plan: trigger::parse + plan::plan", full);
    row(
        "  of which trigger::parse (decode, records to Record)",
        median(parse_part),
    );
    row(
        "  of which plan::plan (filter, group, flag)",
        median(plan_part),
    );
    let from_messages = median(from_messages);
    row(
        "records to Record + plan, from the decoded messages",
        from_messages,
    );
    let python = (!py_filter.is_empty()).then(|| (median(py_filter), median(py_total)));
    if let Some((filter, total)) = python {
        row("Python: json.loads + filter of the records", filter);
        row(
            "  with its decode first (base64 + gzip + json.loads)",
            total,
        );
    }

    println!();
    let ratio = full.as_secs_f64() / bare.as_secs_f64();
    let strict = full.as_secs_f64() / crates.as_secs_f64();
    let decode_met = ratio <= DECODE_TARGET;
    println!(
        "  decode + filter + plan = {ratio:.2}x the bare decode (target <= {DECODE_TARGET:.1}x): {}; {strict:.2}x the hand-written decode",
        verdict(decode_met)
    );
    let python_met = match python {
        Some((filter, total)) => {
            let speedup = filter.as_secs_f64() / full.as_secs_f64();
            let with_decode = total.as_secs_f64() / full.as_secs_f64();
            let met = speedup >= PYTHON_TARGET;
            println!(
                "  speed-up over Python's json.loads + filter = {speedup:.1}x (target >= {PYTHON_TARGET:.0}x): {}; {with_decode:.1}x counting Python's decode too",
                verdict(met)
            );
            println!(
                "  like for like, both from the decoded messages: {:.1}x (records to Record + plan against json.loads + filter)",
                filter.as_secs_f64() / from_messages.as_secs_f64()
            );
            if !met {
                // What the target asks of the whole path, beside what the
                // payload's encoding alone costs before any JSON is read.
                println!(
                    "  (the target asks for {:.2} ms; base64 + gunzip alone take {:.2} ms)",
                    ms(filter) / PYTHON_TARGET,
                    ms(inflate)
                );
            }
            met
        }
        None => {
            println!(
                "  speed-up over Python (target >= {PYTHON_TARGET:.0}x): NOT MEASURED (`cargo xtask setup` makes the venv)"
            );
            false
        }
    };
    if !(decode_met && python_met) {
        std::process::exit(1);
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "MET" } else { "NOT MET" }
}

/// What every decoder of the payload does before any JSON: the floor.
fn base64_gunzip(payload: &Value) -> Vec<u8> {
    let data = payload["awslogs"]["data"].as_str().unwrap();
    let gz = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap();
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut json)
        .unwrap();
    json
}

fn profile_rounds() -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--profile")?;
    Some(
        args.get(at + 1)
            .and_then(|n| n.parse().ok())
            .expect("--profile takes a number of rounds"),
    )
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1_000_000.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The function's own decoder, then every record to a `Value`: the least
/// any consumer of these records must do.
fn bare_decode(payload: Value) -> Vec<Value> {
    let data = shared::input::decode_logs_subscription(payload).unwrap();
    data.log_events
        .iter()
        .map(|e| serde_json::from_str(&e.message).unwrap())
        .collect()
}

/// The same without shared: base64, flate2 and `serde_json::Value` only.
fn hand_decode(payload: &Value) -> Vec<Value> {
    let document: Value = serde_json::from_slice(&base64_gunzip(payload)).unwrap();
    document["logEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str(e["message"].as_str().unwrap()).unwrap())
        .collect()
}

/// As a deployment would configure it: the operator's networks and one rule.
fn config() -> Config {
    let mut env = Env::from_pairs([
        ("STATE_TABLE", "toilkit-access-denied"),
        ("SLACK_WEBHOOK_PARAMETER", "/toilkit/slack/security"),
        ("OWN_CIDRS", "198.51.100.0/24,203.0.113.0/24"),
        (
            "RULES",
            r#"[{"principal":"ci-deploy","action":"ec2:RunInstances","reason":"the launch template is being fixed","expires":"2026-12-31"}]"#,
        ),
    ]);
    let config = Config::from_env(&mut env);
    env.finish()
        .expect("the benchmark's configuration is valid");
    config
}

/// `AccessDenied 31, AccessDeniedException 24, ...`, most frequent first.
fn error_codes(messages: &[String]) -> String {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for m in messages {
        let record: Value = serde_json::from_str(m).unwrap();
        if let Some(code) = record["errorCode"].as_str().filter(|c| is_denial_code(c)) {
            *counts.entry(code.to_owned()).or_default() += 1;
        }
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts
        .iter()
        .map(|(code, n)| format!("{code} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------- Python

/// The Python side, started once and asked for one round at a time.
struct Python {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Python {
    fn start(data: &str) -> Result<Self, String> {
        let interpreter = workspace_root().join(".venv/bin/python");
        if !interpreter.exists() {
            return Err(format!("{} does not exist", interpreter.display()));
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/json_loads_filter.py");
        let mut child = Command::new(&interpreter)
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", interpreter.display()))?;
        let mut stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        writeln!(stdin, "{data}").map_err(|e| e.to_string())?;
        Ok(Self {
            child,
            stdin: Some(stdin),
            stdout,
        })
    }

    /// One round: Python's decode, its `json.loads` + filter, and how many
    /// records it kept.
    fn round(&mut self) -> Result<(Duration, Duration, usize), String> {
        let stdin = self.stdin.as_mut().ok_or("Python has stopped")?;
        writeln!(stdin, "round")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("Python stopped: {e}"))?;
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let seconds = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .map(Duration::from_secs_f64)
        };
        match (
            seconds(0),
            seconds(1),
            fields.get(2).and_then(|v| v.parse().ok()),
        ) {
            (Some(decode), Some(filter), Some(kept)) => Ok((decode, filter, kept)),
            _ => Err(format!("Python answered {line:?}")),
        }
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        // Closing its stdin ends the script's loop.
        self.stdin = None;
        let _ = self.child.wait();
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ---------------------------------------------------------------- records

/// The delivery's events, as CloudWatch Logs wraps a trail's records.
fn document(messages: &[String]) -> Value {
    let events = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            json!({
                "id": format!("3795{:0>52}", i),
                "timestamp": 1_796_547_600_000_i64 + i as i64 * 250,
                "message": m,
            })
        })
        .collect();
    logs_subscription::document(
        "aws-cloudtrail-logs-111122223333-org",
        "111122223333_CloudTrail_eu-west-1",
        events,
    )
}

/// As many records as fit one delivery, in tens, one in ten denied.
fn messages() -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(16);
    let mut messages = Vec::new();
    let mut bytes = 0;
    loop {
        let message = record(messages.len(), &mut rng);
        bytes += message.len() + EVENT_OVERHEAD;
        if bytes > BATCH_BYTES {
            break;
        }
        messages.push(message);
    }
    messages.truncate(messages.len() / 10 * 10);
    messages
}

/// Who called, as CloudTrail writes it.
struct Caller {
    identity: Value,
    /// The ARN a denial's message names.
    arn: String,
    ip: String,
    agent: &'static str,
    region: &'static str,
}

const CLI: &str = "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.ubuntu.22 prompt/off command/s3api.list-objects";
const BOTO: &str = "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.12.2 Botocore/1.34.69";
const NODE: &str =
    "aws-sdk-js/3.540.0 ua/2.0 os/linux lang/js md/nodejs#20.11.1 api/lambda#3.540.0";
const JAVA: &str = "[aws-sdk-java/2.25.0 Linux/6.1 OpenJDK_64-Bit_Server_VM/21 java/21]";
const BROWSER: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const CONSOLE_INTERNAL: &str = "aws-internal/3 aws-sdk-java/1.12.599 Linux/5.10.205-172.807.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.392-b08 java/1.8.0_392 vendor/Oracle_Corporation cfg/retry-mode/standard";

fn iam_user(path: &str, name: &str, key: &str, ip: &str, agent: &'static str) -> Caller {
    let arn = format!("arn:aws:iam::{ACCOUNT}:user/{path}{name}");
    Caller {
        identity: json!({
            "type": "IAMUser",
            "principalId": "AIDAJ45Q7YFFAREXAMPLE",
            "arn": arn,
            "accountId": ACCOUNT,
            "accessKeyId": key,
            "userName": name,
        }),
        arn,
        ip: ip.to_owned(),
        agent,
        region: "eu-west-1",
    }
}

/// A role session; `path` is the role's IAM path, which only the issuer's
/// ARN keeps.
fn session(role: &str, path: &str, name: &str, ip: &str, agent: &'static str) -> Caller {
    let arn = format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{name}");
    Caller {
        identity: json!({
            "type": "AssumedRole",
            "principalId": format!("AROAIDPPEZS35WEXAMPLE:{name}"),
            "arn": arn,
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAQRSTUVWXYZEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAIDPPEZS35WEXAMPLE",
                    "arn": format!("arn:aws:iam::{ACCOUNT}:role/{path}{role}"),
                    "accountId": ACCOUNT,
                    "userName": role,
                },
                "attributes": {
                    "creationDate": "2026-12-06T08:55:00Z",
                    "mfaAuthenticated": "false",
                },
            },
        }),
        arn,
        ip: ip.to_owned(),
        agent,
        region: "eu-west-1",
    }
}

/// A person in the console through IAM Identity Center.
fn sso(permission_set: &str, person: &str, ip: &str) -> Caller {
    session(
        &format!("AWSReservedSSO_{permission_set}_0123456789abcdef"),
        "aws-reserved/sso.amazonaws.com/eu-west-1/",
        person,
        ip,
        BROWSER,
    )
}

fn service(name: &'static str) -> Caller {
    Caller {
        identity: json!({"type": "AWSService", "invokedBy": name}),
        arn: String::new(),
        ip: name.to_owned(),
        agent: name,
        region: "eu-west-1",
    }
}

fn ci(run: usize) -> Caller {
    let mut caller = session(
        "ci-deploy",
        "ci/",
        &format!("GitHubActions-{}", 4200 + run),
        "203.0.113.10",
        NODE,
    );
    caller.region = "eu-central-1";
    caller
}

fn app(instance: usize) -> Caller {
    session(
        "app",
        "",
        &format!("i-0abcdef12345678{instance}"),
        &format!("10.0.1.{}", 20 + instance),
        JAVA,
    )
}

/// One API call, its outcome and what CloudTrail records of it.
struct Call {
    source: &'static str,
    name: String,
    read_only: bool,
    /// A data event (S3 objects, DynamoDB items), not a management one.
    data: bool,
    request: Value,
    response: Value,
    additional: Option<Value>,
    resources: Option<Value>,
    error: Option<(&'static str, String)>,
    vpc_endpoint: bool,
}

impl Call {
    fn new(source: &'static str, name: &str, read_only: bool) -> Self {
        Self {
            source,
            name: name.to_owned(),
            read_only,
            data: false,
            request: Value::Null,
            response: Value::Null,
            additional: None,
            resources: None,
            error: None,
            vpc_endpoint: false,
        }
    }

    fn request(mut self, request: Value) -> Self {
        self.request = request;
        self
    }

    fn response(mut self, response: Value) -> Self {
        self.response = response;
        self
    }

    fn resources(mut self, resources: Value) -> Self {
        self.resources = Some(resources);
        self
    }

    fn failed(mut self, code: &'static str, message: String) -> Self {
        self.error = Some((code, message));
        self
    }

    fn s3_object(mut self, bucket: &str, key: &str, rng: &mut fastrand::Rng) -> Self {
        self.data = true;
        self.request = json!({
            "bucketName": bucket,
            "Host": format!("{bucket}.s3.eu-west-1.amazonaws.com"),
            "key": key,
        });
        self.additional = Some(json!({
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0,
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": text(rng, 76, BASE64),
            "bytesTransferredOut": rng.u32(1_000..5_000_000),
        }));
        self.resources = Some(json!([
            {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")},
            {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")},
        ]));
        self
    }
}

const HEX: &[u8] = b"0123456789abcdef";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn text(rng: &mut fastrand::Rng, len: usize, alphabet: &[u8]) -> String {
    (0..len)
        .map(|_| char::from(alphabet[rng.usize(..alphabet.len())]))
        .collect()
}

fn not_authorized(caller: &Caller, action: &str, resource: &str, why: &str) -> String {
    format!(
        "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
        caller.arn
    )
}

/// The credentials an `AssumeRole*` call returns, which CloudTrail records.
fn credentials(rng: &mut fastrand::Rng, role: &str, session: &str) -> Value {
    json!({
        "credentials": {
            "accessKeyId": format!("ASIA{}", text(rng, 16, UPPER)),
            "sessionToken": text(rng, 620, BASE64),
            "expiration": "Dec 6, 2026, 10:00:00 AM",
        },
        "assumedRoleUser": {
            "assumedRoleId": format!("AROAIDPPEZS35WEXAMPLE:{session}"),
            "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"),
        },
    })
}

/// Record `i`: one in ten denied (at `i % 10 == 0`), the rest the everyday
/// traffic of an account; both from a mix of principals.
fn record(i: usize, rng: &mut fastrand::Rng) -> String {
    let round = i / 10;
    let (caller, call) = if i.is_multiple_of(10) {
        denied(round, rng)
    } else {
        allowed(i % 10, round, rng)
    };
    let seconds = i / 4;
    let mut r = Map::new();
    let mut put = |key: &str, value: Value| {
        r.insert(key.to_owned(), value);
    };
    // CloudTrail's own field order.
    put("eventVersion", json!("1.11"));
    put("userIdentity", caller.identity);
    put(
        "eventTime",
        json!(format!(
            "2026-12-06T09:{:02}:{:02}Z",
            seconds / 60,
            seconds % 60
        )),
    );
    put("eventSource", json!(call.source));
    put("eventName", json!(call.name));
    put("awsRegion", json!(caller.region));
    put("sourceIPAddress", json!(caller.ip));
    put("userAgent", json!(caller.agent));
    if let Some((code, message)) = call.error {
        put("errorCode", json!(code));
        put("errorMessage", json!(message));
    }
    put("requestParameters", call.request);
    put("responseElements", call.response);
    if let Some(additional) = call.additional {
        put("additionalEventData", additional);
    }
    put("requestID", json!(text(rng, 16, b"0123456789ABCDEF")));
    put(
        "eventID",
        json!(format!(
            "{}-{}-4{}-8{}-{}",
            text(rng, 8, HEX),
            text(rng, 4, HEX),
            text(rng, 3, HEX),
            text(rng, 3, HEX),
            text(rng, 12, HEX)
        )),
    );
    put("readOnly", json!(call.read_only));
    if let Some(resources) = call.resources {
        put("resources", resources);
    }
    put("eventType", json!("AwsApiCall"));
    put("managementEvent", json!(!call.data));
    put("recipientAccountId", json!(ACCOUNT));
    if call.vpc_endpoint {
        put("vpcEndpointId", json!("vpce-0a1b2c3d4e5f67890"));
        put("vpcEndpointAccountId", json!(ACCOUNT));
    }
    put(
        "eventCategory",
        json!(if call.data { "Data" } else { "Management" }),
    );
    if !caller.ip.ends_with(".amazonaws.com") && caller.ip != "AWS Internal" {
        put(
            "tlsDetails",
            json!({
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": format!("{}.eu-west-1.amazonaws.com", call.source.trim_end_matches(".amazonaws.com")),
            }),
        );
    }
    if caller.agent == BROWSER {
        put("sessionCredentialFromConsole", json!("true"));
    }
    Value::Object(r).to_string()
}

/// The everyday traffic: workloads reading and writing data, CI deploying,
/// people in the console and the CLI, services acting for the account; a
/// few calls fail for reasons other than permission.
fn allowed(slot: usize, round: usize, rng: &mut fastrand::Rng) -> (Caller, Call) {
    match slot {
        1 => {
            let key = format!("exports/2026/12/06/part-{round:05}.parquet");
            let mut call = Call::new("s3.amazonaws.com", "GetObject", true).s3_object(
                "orders-exports",
                &key,
                rng,
            );
            call.vpc_endpoint = true;
            (app(round % 3), call)
        }
        2 => {
            let name = ["Query", "GetItem", "PutItem"][round % 3];
            let mut call = Call::new("dynamodb.amazonaws.com", name, name != "PutItem")
                .request(json!({
                    "tableName": "orders",
                    "key": {"pk": format!("ORDER#{}", 100_000 + round), "sk": "ITEM"},
                    "consistentRead": false,
                    "returnConsumedCapacity": "NONE",
                }))
                .resources(
                    json!([{"accountId": ACCOUNT, "type": "AWS::DynamoDB::Table",
                    "ARN": format!("arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/orders")}]),
                );
            call.data = true;
            (app(round % 3), call)
        }
        3 if round.is_multiple_of(2) => {
            let key =
                format!("arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
            let call = Call::new("kms.amazonaws.com", "GenerateDataKey", true)
                .request(json!({
                    "keySpec": "AES_256",
                    "encryptionContext": {
                        "aws:cloudtrail:arn": format!("arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/org"),
                        "aws:s3:arn": format!("arn:aws:s3:::org-trail-{ACCOUNT}/AWSLogs/{ACCOUNT}/CloudTrail/eu-west-1/2026/12/06/{ACCOUNT}_CloudTrail_eu-west-1_20261206T0900Z_{}.json.gz", text(rng, 16, HEX)),
                    },
                    "keyId": key,
                }))
                .resources(json!([{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key}]));
            (service("cloudtrail.amazonaws.com"), call)
        }
        3 => {
            let role = "orders-api-task";
            let session = text(rng, 32, HEX);
            let call = Call::new("sts.amazonaws.com", "AssumeRole", false)
                .request(json!({
                    "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
                    "roleSessionName": session,
                }))
                .response(credentials(rng, role, &session))
                .resources(json!([{"accountId": ACCOUNT, "type": "AWS::IAM::Role",
                    "ARN": format!("arn:aws:iam::{ACCOUNT}:role/{role}")}]));
            (service("ecs-tasks.amazonaws.com"), call)
        }
        4 => {
            let call = match round % 4 {
                0 => Call::new("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", false)
                    .request(json!({
                        "functionName": "orders-api",
                        "publish": true,
                        "s3Bucket": "ci-artifacts-111122223333",
                        "s3Key": format!("orders-api/{}.zip", text(rng, 40, HEX)),
                    }))
                    .response(json!({
                        "functionName": "orders-api",
                        "functionArn": format!("arn:aws:lambda:eu-central-1:{ACCOUNT}:function:orders-api"),
                        "runtime": "provided.al2023",
                        "role": format!("arn:aws:iam::{ACCOUNT}:role/orders-api"),
                        "handler": "bootstrap",
                        "codeSize": rng.u32(2_000_000..4_000_000),
                        "timeout": 30,
                        "memorySize": 128,
                        "lastModified": "2026-12-06T09:00:00.000+0000",
                        "codeSha256": text(rng, 44, BASE64),
                        "version": format!("{}", 300 + round),
                        "state": "Pending",
                        "architectures": ["arm64"],
                    })),
                1 => Call::new("cloudformation.amazonaws.com", "DescribeStacks", true)
                    .request(json!({"stackName": "orders-api"})),
                2 => Call::new("ecr.amazonaws.com", "GetAuthorizationToken", true)
                    .request(json!({"registryIds": [ACCOUNT]})),
                _ => Call::new("s3.amazonaws.com", "PutObject", false).s3_object(
                    "ci-artifacts-111122223333",
                    &format!("orders-api/{}.zip", text(rng, 40, HEX)),
                    rng,
                ),
            };
            (ci(round / 20), call)
        }
        5 => {
            let caller = match round % 3 {
                0 => sso("Developer", "alice@example.com", "192.0.2.20"),
                1 => sso("AdministratorAccess", "carol@example.com", "192.0.2.31"),
                _ => sso("ReadOnly", "dave@example.com", "192.0.2.47"),
            };
            let call = match round % 4 {
                0 => Call::new("ec2.amazonaws.com", "DescribeInstances", true).request(json!({
                    "instancesSet": {},
                    "filterSet": {"items": [
                        {"name": "instance-state-name", "valueSet": {"items": [{"value": "running"}]}},
                        {"name": "tag:service", "valueSet": {"items": [{"value": "orders"}]}},
                    ]},
                })),
                1 => Call::new("monitoring.amazonaws.com", "GetMetricData", true).request(json!({
                    "metricDataQueries": [{"id": "m1", "metricStat": {"metric": {
                        "namespace": "AWS/Lambda", "metricName": "Errors",
                        "dimensions": [{"name": "FunctionName", "value": "orders-api"}]},
                        "period": 60, "stat": "Sum"}, "returnData": true}],
                    "startTime": "Dec 6, 2026, 6:00:00 AM",
                    "endTime": "Dec 6, 2026, 9:00:00 AM",
                })),
                2 => Call::new("iam.amazonaws.com", "GetRole", true)
                    .request(json!({"roleName": "orders-api"})),
                _ => Call::new("logs.amazonaws.com", "FilterLogEvents", true).request(json!({
                    "logGroupName": "/aws/lambda/orders-api",
                    "startTime": 1_796_536_800_000_i64,
                    "endTime": 1_796_547_600_000_i64,
                    "filterPattern": "ERROR",
                })),
            };
            (caller, call)
        }
        6 => {
            let bob = iam_user("dev/", "bob", "AKIAIOSFODNN7EXAMPLE", "198.51.100.7", CLI);
            let call = match round % 4 {
                0 => Call::new("sts.amazonaws.com", "GetCallerIdentity", true),
                1 => Call::new("s3.amazonaws.com", "ListBuckets", true),
                2 => Call::new("iam.amazonaws.com", "ListAttachedUserPolicies", true)
                    .request(json!({"userName": "bob"})),
                _ => Call::new("ec2.amazonaws.com", "DescribeSecurityGroups", true)
                    .request(json!({"securityGroupSet": {}, "securityGroupIdSet": {},
                        "filterSet": {"items": [{"name": "vpc-id", "valueSet": {"items": [{"value": "vpc-0a1b2c3d"}]}}]}})),
            };
            // Throttled now and then: an error, but not a denial.
            let call = if round.is_multiple_of(9) {
                call.failed("ThrottlingException", "Rate exceeded".to_owned())
            } else {
                call
            };
            (bob, call)
        }
        7 => {
            let subject = "repo:example/orders-api:ref:refs/heads/main";
            let session = format!("GitHubActions-{}", 4200 + round / 20);
            let caller = Caller {
                identity: json!({
                    "type": "WebIdentityUser",
                    "principalId": format!("token.actions.githubusercontent.com:sts.amazonaws.com:{subject}"),
                    "userName": subject,
                    "identityProvider": "token.actions.githubusercontent.com",
                }),
                arn: String::new(),
                ip: format!("20.51.108.{}", round % 200),
                agent: NODE,
                region: "eu-central-1",
            };
            let mut response = credentials(rng, "ci-deploy", &session);
            response["subjectFromWebIdentityToken"] = json!(subject);
            response["provider"] = json!(format!(
                "arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
            ));
            response["audience"] = json!("sts.amazonaws.com");
            let call = Call::new("sts.amazonaws.com", "AssumeRoleWithWebIdentity", false)
                .request(json!({
                    "roleArn": format!("arn:aws:iam::{ACCOUNT}:role/ci/ci-deploy"),
                    "roleSessionName": session,
                    "durationSeconds": 3600,
                }))
                .response(response);
            (caller, call)
        }
        8 => {
            let reporting = iam_user(
                "",
                "svc-reporting",
                "AKIAI44QH8DHBEXAMPLE",
                "203.0.113.25",
                BOTO,
            );
            let call = match round % 3 {
                0 => Call::new("athena.amazonaws.com", "StartQueryExecution", false)
                    .request(json!({
                        "queryString": format!("SELECT region, sum(total) FROM orders WHERE day = date '2026-12-05' AND shard = {} GROUP BY region", round % 16),
                        "queryExecutionContext": {"database": "reporting"},
                        "workGroup": "reporting",
                        "clientRequestToken": text(rng, 36, HEX),
                    }))
                    .response(json!({"queryExecutionId": text(rng, 36, HEX)})),
                1 => Call::new("glue.amazonaws.com", "GetTable", true)
                    .request(json!({"databaseName": "reporting", "name": "orders"})),
                _ => Call::new("s3.amazonaws.com", "GetObject", true).s3_object(
                    "reporting-results",
                    &format!("athena/{}.csv", text(rng, 36, HEX)),
                    rng,
                ),
            };
            (reporting, call)
        }
        _ => {
            // The console's fan-out behind a bucket's page.
            let mut alice = sso("Developer", "alice@example.com", "AWS Internal");
            alice.agent = CONSOLE_INTERNAL;
            let name = [
                "GetBucketTagging",
                "GetBucketEncryption",
                "GetBucketVersioning",
                "GetBucketPublicAccessBlock",
            ][round % 4];
            let call = Call::new("s3.amazonaws.com", name, true).request(json!({
                "bucketName": "orders-exports",
                "Host": "orders-exports.s3.eu-west-1.amazonaws.com",
            }));
            let call = if name == "GetBucketTagging" {
                call.failed("NoSuchTagSet", "The TagSet does not exist".to_owned())
            } else {
                call
            };
            (alice, call)
        }
    }
}

/// The denials, each kind the triage tells apart: missing permissions,
/// SCPs, explicit denies, EC2's encoded messages, a leaked key probing IAM,
/// console and scanner noise, VPC endpoint policies, an escalation attempt,
/// root, a permissions boundary, a service principal, the SSO portal.
fn denied(round: usize, rng: &mut fastrand::Rng) -> (Caller, Call) {
    match round % 10 {
        0 => {
            let bob = iam_user("dev/", "bob", "AKIAIOSFODNN7EXAMPLE", "198.51.100.7", CLI);
            let bucket = ["example-reports", "finance-exports"][round / 10 % 2];
            let resource = format!("\"arn:aws:s3:::{bucket}\"");
            let message = not_authorized(
                &bob,
                "s3:ListBucket",
                &resource,
                "because no identity-based policy allows the s3:ListBucket action",
            );
            let mut call = Call::new("s3.amazonaws.com", "ListObjects", true)
                .request(json!({
                    "bucketName": bucket,
                    "Host": format!("{bucket}.s3.eu-west-1.amazonaws.com"),
                    "list-type": "2",
                }))
                .resources(
                    json!([{"type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}]),
                )
                .failed("AccessDenied", message);
            call.data = true;
            (bob, call)
        }
        1 => {
            let caller = ci(round / 20);
            let message = not_authorized(
                &caller,
                "lambda:CreateFunction",
                &format!("arn:aws:lambda:eu-central-1:{ACCOUNT}:function:orders-worker"),
                "with an explicit deny in a service control policy: arn:aws:organizations::999988887777:policy/o-a1b2c3d4e5/service_control_policy/p-examp1e",
            );
            let call = Call::new("lambda.amazonaws.com", "CreateFunction20150331", false)
                .failed("AccessDeniedException", message);
            (caller, call)
        }
        2 => {
            let alice = sso("Developer", "alice@example.com", "192.0.2.20");
            let name = ["DeleteTable", "UpdateTable"][round / 10 % 2];
            let message = not_authorized(
                &alice,
                &format!("dynamodb:{name}"),
                &format!("arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/orders"),
                "with an explicit deny in an identity-based policy",
            );
            let call = Call::new("dynamodb.amazonaws.com", name, false)
                .request(json!({"tableName": "orders"}))
                .failed("AccessDeniedException", message);
            (alice, call)
        }
        3 => {
            let caller = ci(round / 20);
            let message = format!(
                "You are not authorized to perform this operation. User: {} is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:eu-central-1:{ACCOUNT}:instance/*. Encoded authorization failure message: {}",
                caller.arn,
                text(rng, 480, BASE64)
            );
            let call = Call::new("ec2.amazonaws.com", "RunInstances", false)
                .request(json!({
                    "instancesSet": {"items": [{"imageId": "ami-0abcdef1234567890", "minCount": 1, "maxCount": 1}]},
                    "instanceType": "t3.micro",
                    "blockDeviceMapping": {},
                    "monitoring": {"enabled": false},
                    "disableApiTermination": false,
                    "clientToken": text(rng, 36, HEX),
                }))
                .failed("Client.UnauthorizedOperation", message);
            (caller, call)
        }
        4 => {
            let leaked = iam_user(
                "",
                "svc-reporting",
                "AKIAZ7LEAKEDEXAMPLE1",
                &format!("185.220.101.{}", round % 8),
                BOTO,
            );
            let name = [
                "ListUsers",
                "ListRoles",
                "ListPolicies",
                "ListAccessKeys",
                "GetAccountAuthorizationDetails",
            ][round / 10 % 5];
            let message = not_authorized(
                &leaked,
                &format!("iam:{name}"),
                &format!("arn:aws:iam::{ACCOUNT}:user/"),
                &format!("because no identity-based policy allows the iam:{name} action"),
            );
            let call = Call::new("iam.amazonaws.com", name, true).failed("AccessDenied", message);
            (leaked, call)
        }
        5 => {
            let mut alice = sso("Developer", "alice@example.com", "AWS Internal");
            alice.agent = CONSOLE_INTERNAL;
            let call = Call::new("s3.amazonaws.com", "GetBucketObjectLockConfiguration", true)
                .request(json!({"bucketName": "example-reports", "object-lock": ""}))
                .failed("AccessDenied", "Access Denied".to_owned());
            (alice, call)
        }
        6 => {
            let mut analyzer = session(
                "AWSServiceRoleForAccessAnalyzer",
                "aws-service-role/access-analyzer.amazonaws.com/",
                "access-analyzer",
                "access-analyzer.amazonaws.com",
                "access-analyzer.amazonaws.com",
            );
            analyzer.ip = "access-analyzer.amazonaws.com".to_owned();
            let key =
                format!("arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
            let message = not_authorized(
                &analyzer,
                "kms:GetKeyPolicy",
                &key,
                "because no resource-based policy allows the kms:GetKeyPolicy action",
            );
            let call = Call::new("kms.amazonaws.com", "GetKeyPolicy", true)
                .request(json!({"keyId": key, "policyName": "default"}))
                .failed("AccessDeniedException", message);
            (analyzer, call)
        }
        7 => {
            let caller = app(round % 3);
            let key = format!("data/{}.json", text(rng, 12, HEX));
            let message = not_authorized(
                &caller,
                "s3:GetObject",
                &format!("\"arn:aws:s3:::example-other/{key}\""),
                "because no VPC endpoint policy allows the s3:GetObject action",
            );
            let mut call = Call::new("s3.amazonaws.com", "GetObject", true)
                .s3_object("example-other", &key, rng)
                .failed("AccessDenied", message);
            call.vpc_endpoint = true;
            call.additional = None;
            (caller, call)
        }
        8 => {
            let carol = sso("AdministratorAccess", "carol@example.com", "192.0.2.31");
            let role = format!("arn:aws:iam::{ACCOUNT}:role/OrgAdmin");
            let message = format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role}",
                carol.arn
            );
            let call = Call::new("sts.amazonaws.com", "AssumeRole", false)
                .request(json!({"roleArn": role, "roleSessionName": "carol"}))
                .failed("AccessDenied", message);
            (carol, call)
        }
        _ => match round / 10 % 5 {
            0 => {
                let caller = Caller {
                    identity: json!({
                        "type": "Root",
                        "principalId": ACCOUNT,
                        "arn": format!("arn:aws:iam::{ACCOUNT}:root"),
                        "accountId": ACCOUNT,
                        "accessKeyId": "ASIAROOTSESSIONEXAMPLE",
                    }),
                    arn: format!("arn:aws:iam::{ACCOUNT}:root"),
                    ip: "192.0.2.44".to_owned(),
                    agent: BROWSER,
                    region: "eu-west-1",
                };
                let message = not_authorized(
                    &caller,
                    "s3:GetObject",
                    "\"arn:aws:s3:::example-finance/q4.csv\"",
                    "with an explicit deny in a resource control policy",
                );
                let call = Call::new("s3.amazonaws.com", "GetObject", true)
                    .s3_object("example-finance", "q4.csv", rng)
                    .failed("AccessDenied", message);
                (caller, call)
            }
            1 => {
                let intern = iam_user("", "intern", "AKIAI44QH8DHBEXAMPLF", "192.0.2.21", CLI);
                let message = not_authorized(
                    &intern,
                    "iam:CreateRole",
                    &format!("arn:aws:iam::{ACCOUNT}:role/intern-test"),
                    "because no permissions boundary allows the iam:CreateRole action",
                );
                let call = Call::new("iam.amazonaws.com", "CreateRole", false)
                    .request(json!({"roleName": "intern-test"}))
                    .failed("AccessDenied", message);
                (intern, call)
            }
            2 => {
                let call = Call::new("s3.amazonaws.com", "GetBucketPolicy", true)
                    .request(json!({"bucketName": "example-locked", "policy": ""}))
                    .failed("AccessDenied", "Access Denied".to_owned());
                (service("config.amazonaws.com"), call)
            }
            3 => {
                let dave = sso("ReadOnly", "dave@example.com", "192.0.2.47");
                let call = Call::new("ec2.amazonaws.com", "ModifyInstanceAttribute", false)
                    .request(json!({"instanceId": "i-0abcdef1234567890",
                        "disableApiTermination": {"value": false}}))
                    .failed(
                        "UnauthorizedOperation",
                        "You are not authorized to perform this operation.".to_owned(),
                    );
                (dave, call)
            }
            _ => {
                let caller = Caller {
                    identity: json!({
                        "type": "IdentityCenterUser",
                        "accountId": ACCOUNT,
                        "onBehalfOf": {
                            "userId": "906724a2d3-2d37f7b2-8c5c-4c8b-9f0e-example",
                            "identityStoreArn": "arn:aws:identitystore::111122223333:identitystore/d-906724a2d3",
                        },
                        "credentialId": text(rng, 60, BASE64),
                    }),
                    arn: String::new(),
                    ip: "192.0.2.20".to_owned(),
                    agent: CLI,
                    region: "eu-west-1",
                };
                let call = Call::new("sso.amazonaws.com", "GetRoleCredentials", true)
                    .request(json!({"roleName": "Developer", "accountId": ACCOUNT}))
                    .failed(
                        "UnauthorizedException",
                        "Session token not found or invalid".to_owned(),
                    );
                (caller, call)
            }
        },
    }
}
