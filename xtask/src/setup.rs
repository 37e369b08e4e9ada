//! Installs the pinned tools the tests and the demo need, once.
//!
//! - `.venv/`: moto, cfn-lint, the SAM translator, cargo-lambda (and zig for
//!   its cross builds), parliament, from `tools/python/requirements.txt`;
//! - `.venv-checkov/`: checkov, from `tools/python/requirements-checkov.txt`
//!   (its own venv: it pins older boto3 and networkx than moto and cfn-lint);
//! - `tools/node/node_modules/`: asl-validator, from `tools/node/package-lock.json`.
//!
//! Each is reinstalled when its pin file changes (a stamp records the last
//! installed contents), and skipped otherwise, so `cargo xtask test` is cheap
//! to repeat.

use std::path::Path;
use std::process::Command;

use crate::Result;
use crate::cmd::{exec, root};

pub fn run() -> Result {
    python(".venv", "tools/python/requirements.txt")?;
    python(".venv-checkov", "tools/python/requirements-checkov.txt")?;
    node()
}

fn up_to_date(pins: &Path, stamp: &Path) -> bool {
    match (std::fs::read(pins), std::fs::read(stamp)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn python(venv: &str, pins: &str) -> Result {
    let root = root();
    let venv = root.join(venv);
    let pins = root.join(pins);
    let stamp = venv.join(".toilkit-requirements");
    if up_to_date(&pins, &stamp) {
        return Ok(());
    }
    if !venv.join("bin/python").exists() {
        let mut command = Command::new("python3");
        command.args(["-m", "venv"]).arg(&venv);
        exec(command)?;
    }
    let mut command = Command::new(venv.join("bin/pip"));
    command
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&pins);
    exec(command)?;
    std::fs::copy(&pins, &stamp)?;
    Ok(())
}

fn node() -> Result {
    let dir = root().join("tools/node");
    let pins = dir.join("package-lock.json");
    let stamp = dir.join("node_modules/.toilkit-lock");
    if !pins.exists() || up_to_date(&pins, &stamp) {
        return Ok(());
    }
    let mut command = Command::new("npm");
    command
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir);
    exec(command)?;
    std::fs::copy(&pins, &stamp)?;
    Ok(())
}
