//! A function's real binary under the Lambda Runtime API, as Lambda runs it.
//!
//! cargo-lambda's emulator (`cargo lambda watch --only-lambda-apis`) serves
//! the Runtime API and the Invoke API; the binary, already built by cargo,
//! polls the Runtime API exactly as it does in Lambda; `cargo lambda invoke`
//! sends the event. Both processes stop when the emulator is dropped.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::process::{ChildGuard, free_port, wait_for_port};
use crate::workspace;

/// The function name cargo-lambda gives a function it does not start itself.
const FUNCTION: &str = "_";

/// Longer than any invocation in the tests; a hung one fails instead of
/// holding the test run.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(120);

/// What an invocation returned.
#[derive(Debug)]
pub enum Invocation {
    /// The handler's response.
    Response(serde_json::Value),
    /// The handler failed; the text is what cargo lambda invoke printed.
    Error(String),
}

impl Invocation {
    /// The response, or a panic naming the error.
    pub fn expect_response(self) -> serde_json::Value {
        match self {
            Self::Response(value) => value,
            Self::Error(text) => panic!("the invocation failed: {text}"),
        }
    }

    pub fn expect_error(self) -> String {
        match self {
            Self::Response(value) => panic!("the invocation succeeded: {value}"),
            Self::Error(text) => text,
        }
    }
}

/// The emulator and one function binary attached to it.
pub struct LambdaEmulator {
    port: u16,
    function: ChildGuard,
    // Dropped after the function, which would otherwise log connection errors.
    _emulator: ChildGuard,
    log: tempfile::NamedTempFile,
}

impl LambdaEmulator {
    /// Starts the emulator and `binary` with `env` (plus the Runtime API
    /// variables). The binary's output goes to a log file, see [`Self::log`].
    pub fn start(binary: &Path, env: &[(String, String)]) -> Self {
        let cargo_lambda = workspace::require_tool("cargo-lambda");
        let port = free_port();
        let mut command = Command::new(&cargo_lambda);
        command
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
            ])
            .arg(port.to_string())
            .current_dir(workspace::root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut emulator =
            ChildGuard::spawn("cargo lambda watch", command).expect("cargo lambda watch starts");
        wait_for_port(port, &mut emulator, Duration::from_secs(60))
            .expect("the Runtime API listens");

        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.reopen().expect("log file"))
            .stderr(log.reopen().expect("log file"));
        let function =
            ChildGuard::spawn("function binary", command).expect("the function binary starts");
        Self {
            port,
            function,
            _emulator: emulator,
            log,
        }
    }

    /// Invokes the function with `event` through `cargo lambda invoke`.
    pub fn invoke(&mut self, event: &serde_json::Value) -> Invocation {
        // Nothing would pick the invocation up, and `cargo lambda invoke`
        // would wait for ever.
        if !self.function.is_running() {
            return Invocation::Error(format!(
                "the function binary is not running (its init failed?); it printed:\n{}",
                self.log()
            ));
        }
        let mut data = tempfile::NamedTempFile::new().expect("event file");
        data.write_all(event.to_string().as_bytes())
            .expect("write event");
        let stdout = tempfile::NamedTempFile::new().expect("stdout file");
        let stderr = tempfile::NamedTempFile::new().expect("stderr file");
        let mut command = Command::new(workspace::require_tool("cargo-lambda"));
        command
            .args([
                "lambda",
                "invoke",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
            ])
            .arg(self.port.to_string())
            .arg("--data-file")
            .arg(data.path())
            .args(["--output-format", "json", FUNCTION])
            .current_dir(workspace::root())
            .stdin(Stdio::null())
            .stdout(stdout.reopen().expect("stdout file"))
            .stderr(stderr.reopen().expect("stderr file"));
        let mut invoke =
            ChildGuard::spawn("cargo lambda invoke", command).expect("cargo lambda invoke runs");
        let status = invoke.wait_for(INVOKE_TIMEOUT);
        let stdout = std::fs::read_to_string(stdout.path()).unwrap_or_default();
        let stderr = std::fs::read_to_string(stderr.path()).unwrap_or_default();
        match status {
            Some(status) if status.success() => Invocation::Response(
                serde_json::from_str(stdout.trim())
                    .unwrap_or_else(|e| panic!("response is not JSON ({e}): {stdout}")),
            ),
            Some(_) => Invocation::Error(format!("{stdout}{stderr}")),
            None => Invocation::Error(format!(
                "no answer within {INVOKE_TIMEOUT:?}; the function printed:\n{}",
                self.log()
            )),
        }
    }

    /// Whether the function process is still alive (it exits if its init fails).
    pub fn function_running(&mut self) -> bool {
        self.function.is_running()
    }

    /// Everything the function binary has printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}
