//! A loopback stand-in for the Lambda Runtime API, for what happens at init.
//!
//! cargo-lambda's emulator (1.9) accepts `POST /runtime/init/error` but
//! keeps nothing: it hands the body to an invocation that is already
//! waiting, as a success, and otherwise drops it. Lambda itself records the
//! init error and answers the next invocation with it. So tests of a failed
//! init run the real binary against this stand-in, a real HTTP server that
//! records the init error exactly as the binary sent it (path, the
//! `Lambda-Runtime-Function-Error-Type` header, the JSON body). A binary whose
//! init succeeds polls `/runtime/invocation/next`, which is held open.

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::Method;

use crate::loopback::{self, Server};
use crate::process::ChildGuard;

/// An init error as the function reported it.
#[derive(Debug, Clone)]
pub struct InitError {
    /// The `Lambda-Runtime-Function-Error-Type` header, if sent.
    pub error_type_header: Option<String>,
    /// The JSON body: `{"errorMessage": ..., "errorType": ...}`.
    pub body: serde_json::Value,
}

/// What a binary did during its init.
#[derive(Debug)]
pub struct InitRun {
    /// `None` if it was still running when the wait ended (init passed).
    pub exit: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    /// Every init error it posted.
    pub init_errors: Vec<InitError>,
    /// Whether it asked for an invocation (only a successful init does).
    pub polled_next: bool,
}

#[derive(Default)]
struct State {
    init_errors: Vec<InitError>,
    polled_next: bool,
}

/// Runs `binary` with only `env` (plus the variables Lambda sets) against a
/// stand-in Runtime API, waits up to `timeout` for it to exit, and returns
/// what it did. `AWS_LAMBDA_RUNTIME_API` is `127.0.0.1:<port>`, the form
/// Lambda uses.
pub fn run_init(binary: &Path, env: &[(String, String)], timeout: Duration) -> InitRun {
    let state = Arc::new(Mutex::new(State::default()));
    let server_state = state.clone();
    let server = Server::start(move |req| record(server_state.clone(), req));

    let stdout = tempfile::NamedTempFile::new().expect("stdout file");
    let stderr = tempfile::NamedTempFile::new().expect("stderr file");
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", server.addr().to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "toilkit-under-test")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(stdout.reopen().expect("stdout file"))
        .stderr(stderr.reopen().expect("stderr file"));
    let mut function = ChildGuard::spawn("function binary", command).expect("the binary starts");
    let exit = function.wait_for(timeout);
    function.stop();

    drop(server);
    let state = state.lock().unwrap();
    InitRun {
        exit,
        stdout: std::fs::read_to_string(stdout.path()).unwrap_or_default(),
        stderr: std::fs::read_to_string(stderr.path()).unwrap_or_default(),
        init_errors: state.init_errors.clone(),
        polled_next: state.polled_next,
    }
}

async fn record(state: Arc<Mutex<State>>, req: loopback::Request) -> loopback::Response {
    let json = [("Content-Type", "application/json")];
    match (&req.method, req.path.as_str()) {
        (&Method::POST, "/2018-06-01/runtime/init/error") => {
            state.lock().unwrap().init_errors.push(InitError {
                error_type_header: req
                    .header("Lambda-Runtime-Function-Error-Type")
                    .map(str::to_owned),
                body: req.json(),
            });
            loopback::response(202, &json, r#"{"status":"OK"}"#)
        }
        (&Method::GET, "/2018-06-01/runtime/invocation/next") => {
            state.lock().unwrap().polled_next = true;
            // No invocation is ever given: this stand-in is for init only.
            std::future::pending::<()>().await;
            unreachable!("pending never resolves")
        }
        _ => loopback::response(
            404,
            &json,
            r#"{"errorMessage":"not in the stand-in","errorType":"NotFound"}"#,
        ),
    }
}

impl InitRun {
    /// Panics unless the init failed with exactly one init error of the
    /// invalid-configuration kind; returns its message.
    pub fn expect_invalid_configuration(&self) -> String {
        assert!(
            self.exit.is_some_and(|s| !s.success()),
            "init must fail and the process exit non-zero: {:?}\nstderr:\n{}\nstdout:\n{}",
            self.exit,
            self.stderr,
            self.stdout
        );
        assert!(!self.polled_next, "a failed init must not ask for events");
        assert_eq!(
            self.init_errors.len(),
            1,
            "one init error is reported to the Runtime API; stderr:\n{}",
            self.stderr
        );
        let error = &self.init_errors[0];
        assert_eq!(
            error.error_type_header.as_deref(),
            Some("Runtime.ConfigInvalid")
        );
        assert_eq!(
            error.body["errorType"], "InvalidConfiguration",
            "{}",
            error.body
        );
        error.body["errorMessage"]
            .as_str()
            .expect("errorMessage is a string")
            .to_owned()
    }
}

/// The lines an operator reads for a bad configuration, as the README shows
/// them: the count, then `  - VAR: what is wrong (example: ...)` per problem.
pub fn assert_readme_form(text: &str, variables: &[&str]) {
    let lines: Vec<&str> = text.lines().collect();
    let problems = lines.iter().filter(|l| l.starts_with("  - ")).count();
    let header = format!("invalid configuration: {problems} problem(s)");
    assert!(
        problems > 0 && lines.contains(&header.as_str()),
        "{header:?} missing from:\n{text}"
    );
    for variable in variables {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("  - {variable}: ")) && l.contains("(example: ")),
            "no `  - {variable}: ... (example: ...)` line in:\n{text}"
        );
    }
    assert!(
        !text.contains("ConfigError {") && !text.contains("Problem {"),
        "Rust's Debug form reached the operator:\n{text}"
    );
}

/// Runs `binary` with only `env` and checks what an operator sees of a bad
/// configuration: the init fails, the log holds the README's text naming
/// each of `variables`, and the init error the Runtime API gets (what the
/// invocation answers) says the same.
pub fn assert_bad_configuration_reported(binary: &Path, env: &[(&str, &str)], variables: &[&str]) {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let run = run_init(binary, &env, INIT_TIMEOUT);
    let message = run.expect_invalid_configuration();
    assert_readme_form(&run.stderr, variables);
    assert_readme_form(&message, variables);
    assert_eq!(message.trim(), run.stderr.trim());
}

/// How long a binary gets to fail its init: it reads no network but the
/// Runtime API, so a few seconds are plenty even on a busy machine.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(30);
