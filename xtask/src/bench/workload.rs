//! The functions' own workload benchmarks (`functions/<fn>/benches/<fn>.rs`),
//! run with their peak memory held against a 128 MB Lambda.
//!
//! Each benchmark prints its own figures and targets. The peak resident set
//! of the benchmark process is read from `/proc` while it runs: it includes
//! the benchmark's harness (moto clients, generated data), so it is an upper
//! bound on what the function itself needs for that workload.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::memory::{PeakWatcher, mb};
use super::scorecard::Scorecard;
use crate::Result;
use crate::cmd::{cargo, describe, root};

/// The functions whose issues ask for a workload benchmark (`workload` in
/// the registry).
pub fn workloads() -> Vec<&'static str> {
    toilkit_tests::registry::FUNCTIONS
        .iter()
        .chain(toilkit_tests::registry::HUB_FUNCTIONS)
        .filter(|f| f.workload)
        .map(|f| f.name)
        .collect()
}

/// Lambda's smallest common memory size, which every workload must fit.
pub const LAMBDA_MB: f64 = 128.0;

pub fn is_written(function: &str) -> bool {
    root()
        .join("functions")
        .join(function)
        .join("benches")
        .join(format!("{function}.rs"))
        .exists()
}

pub fn run(function: &str, card: &mut Scorecard) -> Result {
    println!("\n=== workload: {function}");
    let executable = build(function)?;
    let mut command = Command::new(&executable);
    command
        .arg("--bench")
        .current_dir(root().join("functions").join(function))
        .env(
            "CARGO_MANIFEST_DIR",
            root().join("functions").join(function),
        )
        .stdin(Stdio::null());
    eprintln!("$ {}", describe(&command));
    let mut child = command.spawn()?;
    let mut watcher = PeakWatcher::new(child.id());
    let status = loop {
        watcher.sample();
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(PeakWatcher::INTERVAL);
    };
    if !status.success() {
        return Err(format!("the {function} benchmark failed ({status})").into());
    }
    let peak = mb(watcher.peak());
    println!("\n{function} workload");
    card.check(
        function,
        "peak RSS (bench process)",
        &format!("{peak:.1} MB"),
        &format!("≤ {LAMBDA_MB} MB"),
        peak <= LAMBDA_MB,
    );
    Ok(())
}

/// Builds the benchmark with the release (bench) profile and returns its
/// executable, as cargo reports it.
fn build(function: &str) -> Result<PathBuf> {
    let mut command = cargo();
    command
        .args([
            "bench",
            "--package",
            function,
            "--bench",
            function,
            "--no-run",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit());
    eprintln!("$ {}", describe(&command));
    let output = command.output()?;
    if !output.status.success() {
        return Err(format!("`{}` failed", describe(&command)).into());
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact"
                && message["target"]["name"] == function
                && message["target"]["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|k| k == "bench"))
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("cargo built no {function} benchmark executable").into())
}
