//! The Python equivalent of a function's cold start: what users would deploy
//! instead on the `python3.11` runtime.
//!
//! It imports boto3, builds one client per AWS service the Rust function uses
//! (at module level, as Python functions do so that warm invocations reuse
//! them), then asks the same Runtime API for its first invocation. That is
//! the work done before a Python handler can run; the managed runtime's own
//! bootstrap would only add to it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The script, run as `python -c SCRIPT service...`.
pub const SCRIPT: &str = r#"
import os, sys, urllib.request
import boto3
clients = [boto3.client(service) for service in sys.argv[1:]]
api = os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
with urllib.request.urlopen(api + "next") as event:
    request_id = event.headers["Lambda-Runtime-Aws-Request-Id"]
    event.read()
urllib.request.urlopen(api + request_id + "/response", data=b"null").read()
"#;

/// The venv's Python (3.11, with boto3 installed alongside moto).
pub fn interpreter(root: &Path) -> PathBuf {
    root.join(".venv/bin/python")
}

pub fn command(root: &Path, services: &[String]) -> Command {
    let mut command = Command::new(interpreter(root));
    command.arg("-c").arg(SCRIPT).args(services);
    command
}

/// `Python 3.11.7, boto3 1.x` as the venv reports it.
pub fn describe(root: &Path) -> String {
    Command::new(interpreter(root))
        .args([
            "-c",
            "import sys, boto3; print(f'Python {sys.version.split()[0]}, boto3 {boto3.__version__}')",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "Python (version unknown)".to_owned())
}
