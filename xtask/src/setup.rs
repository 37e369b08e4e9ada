//! Installs the pinned tools the tests and the demo need, once.
//!
//! - `.venv/`: moto, cfn-lint, the SAM translator, cargo-lambda (and zig for
//!   its cross builds), parliament, from `tools/python/requirements.txt`;
//! - `.venv-checkov/`: checkov, from `tools/python/requirements-checkov.txt`
//!   (its own venv: it pins older boto3 and networkx than moto and cfn-lint);
//! - `tools/node/node_modules/`: asl-validator, from `tools/node/package-lock.json`;
//! - for the test command only ([`for_tests`]), Chromium, for the hub dashboard's browser test (headless: it renders the
//!   page, dumps its DOM and takes a screenshot): Debian's `chromium`
//!   package, `apt-get install -y chromium`, when no `chromium` is on `PATH`.
//!   `apt-get update` runs first only when apt knows no candidate for it
//!   (a fresh image has empty package lists). Not root, or no apt-get: setup
//!   says so and goes on, and the browser test then reports NOT RUN (a
//!   failure under `CI=true`). It is the machine's package, not pinned: the
//!   test checks what any current browser shows.
//!
//! Each pinned tool is reinstalled when its pin file changes (a stamp records
//! the last installed contents), and skipped otherwise, so `cargo xtask test`
//! is cheap to repeat.

use std::path::Path;
use std::process::Command;

use crate::Result;
use toilkit_tests::tool::which;

use crate::cmd::{exec, root};

pub fn run() -> Result {
    python(".venv", "tools/python/requirements.txt")?;
    python(".venv-checkov", "tools/python/requirements-checkov.txt")?;
    node()
}

/// What only the test command needs beyond [`run`]: the browser. Packaging
/// and the demo never install a browser on the machine.
pub fn for_tests() -> Result {
    run()?;
    chromium()
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

fn chromium() -> Result {
    if which("chromium").is_some() {
        return Ok(());
    }
    let why_not = if which("apt-get").is_none() {
        Some("there is no apt-get")
    } else if !is_root() {
        Some("installing it needs root")
    } else {
        None
    };
    if let Some(why_not) = why_not {
        eprintln!(
            "setup: chromium is not on PATH and {why_not}: the hub dashboard's browser test will report NOT RUN \
             (install Debian's `chromium` package, or put a `chromium` on PATH)"
        );
        return Ok(());
    }
    if !apt_has_candidate("chromium") {
        let mut update = Command::new("apt-get");
        update.args(["update", "-q"]);
        exec(update)?;
    }
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-q", "chromium"])
        .env("DEBIAN_FRONTEND", "noninteractive");
    exec(install)
}

/// Whether apt's package lists offer `package`: a fresh image has none until
/// `apt-get update`.
fn apt_has_candidate(package: &str) -> bool {
    Command::new("apt-cache")
        .args(["policy", package])
        .output()
        .is_ok_and(|output| offers(&String::from_utf8_lossy(&output.stdout)))
}

/// Whether `apt-cache policy` output names a candidate version.
fn offers(policy: &str) -> bool {
    policy.lines().any(|line| {
        line.trim()
            .strip_prefix("Candidate:")
            .is_some_and(|candidate| candidate.trim() != "(none)")
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apt_is_updated_only_when_it_offers_no_chromium() {
        let known = "chromium:\n  Installed: (none)\n  Candidate: 156.0.8078.129-1~deb12u1\n  Version table:\n";
        assert!(offers(known));
        assert!(!offers(
            "chromium:\n  Installed: (none)\n  Candidate: (none)\n"
        ));
        // A package apt has never heard of: no output at all.
        assert!(!offers(""));
    }
}
