//! One cold start, measured: a fresh process under a fresh Runtime API, timed
//! from spawn to its first request for an invocation, and its memory read
//! once it sits idle waiting for that invocation.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use toilkit_tests::process::ChildGuard;

use super::memory::{self, Rss};
use super::runtime_api::{Record, RuntimeApi};
use crate::Result;

/// How long a process may take to reach the Runtime API before the run is
/// declared failed (Lambda's own init limit is 10 s).
const INIT_LIMIT: Duration = Duration::from_secs(10);

/// Time given to an idle process before its memory is read: background
/// threads (the tokio workers, the SDK's connection pool) settle by then.
const SETTLE: Duration = Duration::from_millis(200);

/// How long the probe invocation may take.
const INVOCATION_LIMIT: Duration = Duration::from_secs(60);

/// What one start measured.
#[derive(Debug, Clone)]
pub struct Start {
    /// Spawn to the first `GET /runtime/invocation/next`.
    pub init: Duration,
    /// Resident set while idle, and the peak reached during init.
    pub idle: Rss,
    /// The probe invocation, when one was asked for.
    pub invocation: Option<Invocation>,
}

/// One invocation after init: how long it took, how it ended, and the peak
/// resident set through init and that invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub duration: Duration,
    pub outcome: Outcome,
    pub peak: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Response,
    /// The handler's error, as it reported it.
    Error(String),
}

/// Starts `command` with exactly `env` (plus `PATH` and the Runtime API
/// variables Lambda sets) and measures its cold start, then, given a `probe`
/// event, one invocation with it.
pub fn measure(
    mut command: Command,
    env: &[(String, String)],
    probe: Option<&serde_json::Value>,
) -> Result<Start> {
    let api = RuntimeApi::start()?;
    let log = tempfile::NamedTempFile::new()?;
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", api.url())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.reopen()?)
        .stderr(log.reopen()?);
    let started = Instant::now();
    let mut child = ChildGuard::spawn("cold start", command)?;
    let deadline = started + INIT_LIMIT;
    let init = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match api.next_record(left.min(Duration::from_millis(50))) {
            Some(Record::Next(at)) => break at.duration_since(started),
            Some(Record::Error { body, .. }) => {
                return Err(format!("init failed: {body}\n{}", tail(&log)).into());
            }
            Some(Record::Response) => {}
            None if !child.is_running() => {
                return Err(
                    format!("exited before asking for an invocation:\n{}", tail(&log)).into(),
                );
            }
            None if left.is_zero() => {
                return Err(format!(
                    "did not ask for an invocation within {INIT_LIMIT:?}:\n{}",
                    tail(&log)
                )
                .into());
            }
            None => {}
        }
    };
    std::thread::sleep(SETTLE);
    let idle = memory::read(child.id()).ok_or("the process exited while idle")?;
    let invocation = match probe {
        Some(event) => Some(invoke(&api, &mut child, event, &log)?),
        None => None,
    };
    child.stop();
    Ok(Start {
        init,
        idle,
        invocation,
    })
}

fn invoke(
    api: &RuntimeApi,
    child: &mut ChildGuard,
    event: &serde_json::Value,
    log: &tempfile::NamedTempFile,
) -> Result<Invocation> {
    let sent = Instant::now();
    api.deliver(event.clone());
    let outcome = loop {
        match api.next_record(INVOCATION_LIMIT) {
            Some(Record::Response) => break Outcome::Response,
            Some(Record::Error { body, .. }) => break Outcome::Error(error_message(&body)),
            Some(Record::Next(_)) => {}
            None => {
                return Err(format!(
                    "no answer to the probe invocation within {INVOCATION_LIMIT:?}:\n{}",
                    tail(log)
                )
                .into());
            }
        }
    };
    let duration = sent.elapsed();
    // The answer is posted before the runtime asks for the next event; the
    // peak cannot grow past this point without another event.
    let peak = memory::read(child.id())
        .ok_or_else(|| format!("exited after the probe invocation:\n{}", tail(log)))?
        .peak;
    Ok(Invocation {
        duration,
        outcome,
        peak,
    })
}

/// The `errorMessage` of a Runtime API error body, shortened.
fn error_message(body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["errorMessage"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.to_owned());
    let first = message.lines().next().unwrap_or_default();
    first.chars().take(160).collect()
}

/// The end of what the process printed, for an error message.
fn tail(log: &tempfile::NamedTempFile) -> String {
    let mut text = String::new();
    if let Ok(mut file) = log.reopen() {
        let _ = file.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::python;

    #[test]
    fn a_start_is_timed_to_its_first_next_request_and_a_probe_is_answered() {
        let root = toilkit_tests::workspace::root();
        if !python::interpreter(&root).exists() {
            eprintln!("skipped: no .venv (cargo xtask setup)");
            return;
        }
        let services = ["s3".to_owned()];
        let env = [("AWS_REGION".to_owned(), "us-east-1".to_owned())];
        let event = serde_json::json!({"probe": true});
        let start = measure(python::command(&root, &services), &env, Some(&event)).unwrap();
        // Importing boto3 alone takes tens of milliseconds.
        assert!(start.init > Duration::from_millis(5), "{start:?}");
        assert!(start.init < INIT_LIMIT, "{start:?}");
        assert!(start.idle.current > 1_000_000, "{start:?}");
        let invocation = start.invocation.expect("probe measured");
        assert_eq!(invocation.outcome, Outcome::Response);
        assert!(invocation.peak >= start.idle.peak);
    }

    #[test]
    fn a_process_that_exits_during_init_is_reported_with_its_output() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo 'invalid configuration: THRESHOLD' >&2; exit 1"]);
        let err = measure(command, &[], None).unwrap_err().to_string();
        assert!(
            err.contains("exited before asking for an invocation"),
            "{err}"
        );
        assert!(err.contains("invalid configuration: THRESHOLD"), "{err}");
    }
}
