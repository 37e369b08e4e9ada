//! Installs the pinned tools the tests and the demo need, once.
//!
//! - `.venv/`: moto, cfn-lint, the SAM translator, cargo-lambda (and zig for
//!   its cross builds), from `tools/python/requirements.txt`;
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
    python()?;
    node()
}

fn up_to_date(pins: &Path, stamp: &Path) -> bool {
    match (std::fs::read(pins), std::fs::read(stamp)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn python() -> Result {
    let root = root();
    let venv = root.join(".venv");
    let pins = root.join("tools/python/requirements.txt");
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
