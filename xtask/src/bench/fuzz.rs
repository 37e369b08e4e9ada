//! `cargo xtask fuzz [seconds]`: every cargo-fuzz target in `fuzz/` for a
//! bounded time each (default 60 s). Not part of CI.
//!
//! cargo-fuzz needs nightly compiler flags (`-Zsanitizer`, sancov passes).
//! This machine has the stable toolchain only, so the build runs with
//! `RUSTC_BOOTSTRAP=1`, which lets stable rustc accept them. cargo-fuzz
//! itself is installed from crates.io into `.tools/` (git-ignored) on first
//! use, at a pinned version.
//!
//! Targets are built once, without AddressSanitizer: the code under test is
//! safe Rust, where the crashes to find are panics (slicing, overflow — debug
//! assertions and overflow checks are on — unwraps, unbounded recursion),
//! which libFuzzer catches without it; leaving it out doubles the executions
//! per second on two cores. `--sanitizer address` brings it back.
//!
//! Each target starts from the checked-in seeds in `fuzz/seeds/<target>/`
//! (real-format samples) and keeps what it learns in `fuzz/corpus/<target>/`;
//! a crash lands in `fuzz/artifacts/<target>/`. The run goes on through every
//! target and fails at the end if any of them crashed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Result;
use crate::cmd::{exec, root};

const CARGO_FUZZ_VERSION: &str = "0.13.2";
const DEFAULT_SECONDS: u64 = 60;

pub fn run(args: &[String]) -> Result {
    let mut seconds = DEFAULT_SECONDS;
    let mut sanitizer = "none".to_owned();
    let mut only = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sanitizer" => {
                sanitizer = args
                    .next()
                    .ok_or("--sanitizer takes a name (address, none)")?
                    .clone()
            }
            n if n.parse::<u64>().is_ok() => seconds = n.parse()?,
            name => only.push(name.to_owned()),
        }
    }
    let root = root();
    let cargo_fuzz = install(&root)?;
    let mut targets = targets(&root)?;
    if !only.is_empty() {
        targets.retain(|t| only.contains(t));
        if targets.is_empty() {
            return Err(format!("no fuzz target named {}", only.join(", ")).into());
        }
    }

    let mut build = fuzz_command(&root, &cargo_fuzz);
    build.args(["build", "--sanitizer", &sanitizer, "--codegen-units", "16"]);
    // A release build of the SDK with coverage instrumentation: at a lower
    // priority, so it does not starve everyone else's work.
    let mut nice = Command::new("nice");
    nice.args(["-n", "10"])
        .arg(build.get_program())
        .args(build.get_args())
        .envs(build.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .current_dir(&root);
    exec(nice)?;

    let mut crashed = Vec::new();
    for target in &targets {
        println!("\n=== fuzz {target} for {seconds} s");
        let corpus = root.join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        let seeds = root.join("fuzz/seeds").join(target);
        let mut command = fuzz_command(&root, &cargo_fuzz);
        command
            .args(["run", "--sanitizer", &sanitizer, "--codegen-units", "16"])
            .arg(target)
            .arg(&corpus);
        if seeds.is_dir() {
            command.arg(&seeds);
        }
        command.arg("--").args([
            format!("-max_total_time={seconds}"),
            "-print_final_stats=1".to_owned(),
            // Hostile lines are long; give the mutator room past one.
            "-max_len=16384".to_owned(),
            "-timeout=10".to_owned(),
            "-rss_limit_mb=1024".to_owned(),
        ]);
        if let Err(why) = exec(command) {
            eprintln!("fuzz {target}: {why}");
            crashed.push(target.clone());
        }
    }
    if crashed.is_empty() {
        println!(
            "\nfuzz: {} target(s) ran {seconds} s each without a crash",
            targets.len()
        );
        Ok(())
    } else {
        Err(format!(
            "crashed: {} (inputs in fuzz/artifacts/<target>/; replay with \
             `RUSTC_BOOTSTRAP=1 .tools/bin/cargo-fuzz run --sanitizer none <target> <file>`)",
            crashed.join(", ")
        )
        .into())
    }
}

/// `cargo fuzz` with stable rustc allowed the nightly flags it passes.
fn fuzz_command(root: &Path, cargo_fuzz: &Path) -> Command {
    let mut command = Command::new(cargo_fuzz);
    command
        .current_dir(root)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", root.join("fuzz/target"));
    command
}

/// cargo-fuzz in `.tools/bin`, installed there if missing.
fn install(root: &Path) -> Result<PathBuf> {
    let tools = root.join(".tools");
    let binary = tools.join("bin/cargo-fuzz");
    if binary.exists() {
        return Ok(binary);
    }
    let mut command = crate::cmd::cargo();
    command
        .args(["install", "cargo-fuzz", "--locked", "--version"])
        .arg(CARGO_FUZZ_VERSION)
        .arg("--root")
        .arg(&tools);
    exec(command)?;
    Ok(binary)
}

/// The targets: one file per target in `fuzz/fuzz_targets/`.
fn targets(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("fuzz/fuzz_targets");
    let mut targets: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .filter_map(|entry| {
            let path = entry.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    targets.sort();
    Ok(targets)
}
