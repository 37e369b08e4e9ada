//! `cargo xtask bench cold-start`: each function's package size, init time
//! and memory, beside the Python 3.11 + boto3 equivalent, in one run.
//!
//! The release binaries are the ones `cargo xtask package` builds (the
//! `bootstrap` inside each `bootstrap.zip`), so what is measured is what is
//! deployed. Each function starts with the configuration its README documents
//! and its AWS endpoint pointed at a moto server, so its real init (read and
//! validate configuration, load the SDK configuration, build every client)
//! runs in full. Rust and Python starts alternate, so both see the same
//! machine load.

use std::path::Path;
use std::process::Command;

use toilkit_tests::Moto;

use super::launch::{self, Invocation, Outcome, Start};
use super::memory::mb;
use super::profile::{self, Profile};
use super::python;
use super::scorecard::Scorecard;
use super::stats::{Samples, Spread};
use super::workload::LAMBDA_MB;
use crate::Result;
use crate::cmd::{exec, root};
use crate::package::FUNCTIONS;

pub const INIT_TARGET_MS: f64 = 30.0;
pub const SPEEDUP_TARGET: f64 = 10.0;
pub const ZIP_TARGET_MB: f64 = 4.0;
pub const IDLE_RSS_TARGET_MB: f64 = 24.0;

/// Measured starts per function and runtime (after one discarded warm-up).
pub const DEFAULT_RUNS: usize = 9;

pub struct Options {
    pub runs: usize,
    /// Build the zips first with `cargo xtask package` (the default).
    pub package: bool,
}

pub fn run(options: &Options, card: &mut Scorecard) -> Result {
    let root = root();
    if options.package {
        // Release builds with LTO take minutes on two shared cores: at a
        // lower priority they do not starve everyone else's work.
        let mut command = Command::new("nice");
        command
            .args(["-n", "10"])
            .arg(std::env::current_exe()?)
            .arg("package")
            .current_dir(&root);
        exec(command)?;
    }
    let moto = Moto::dedicated();
    println!(
        "\n=== cold start: init = process start -> first GET /runtime/invocation/next \
         (configuration read, SDK clients built); median (min–max) of {} starts after one \
         warm-up, Rust and {} alternating",
        options.runs,
        python::describe(&root)
    );
    for function in FUNCTIONS {
        println!("\n{function}");
        match profile::load(&root, function) {
            Ok(profile) => measure_function(&root, &moto, &profile, options.runs, card)?,
            Err(why) => card.unmeasured(function, &why.to_string()),
        }
    }
    Ok(())
}

fn measure_function(
    root: &Path,
    moto: &Moto,
    profile: &Profile,
    runs: usize,
    card: &mut Scorecard,
) -> Result {
    let name = profile.function.as_str();
    let zip = root.join("target/lambda").join(name).join("bootstrap.zip");
    let Ok(zip_meta) = std::fs::metadata(&zip) else {
        card.unmeasured(
            name,
            &format!("{} not built: run `cargo xtask package`", zip.display()),
        );
        return Ok(());
    };
    // cargo-lambda's zip output leaves no bare binary: the one measured is
    // the `bootstrap` inside the zip, the one deployed.
    let bytes = crate::package::bootstrap_in_zip(&zip)?;
    let unpacked = tempfile::tempdir()?;
    let binary = unpacked.path().join("bootstrap");
    std::fs::write(&binary, &bytes)?;
    std::fs::set_permissions(&binary, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    card.info(
        "clients",
        &format!(
            "{} (Python builds the same with boto3)",
            profile.boto3_services.join(", ")
        ),
    );
    card.info(
        "release binary",
        &format!("{:.2} MB", mb(bytes.len() as u64)),
    );
    let zip_mb = mb(zip_meta.len());
    card.check(
        name,
        "bootstrap.zip",
        &format!("{zip_mb:.2} MB"),
        &format!("≤ {ZIP_TARGET_MB} MB"),
        zip_mb <= ZIP_TARGET_MB,
    );

    let mut env = moto.env();
    env.extend(profile.env.iter().cloned());
    let rust = || Command::new(&binary);
    let py = || python::command(root, &profile.boto3_services);

    // Warm-up: page cache, and Python's bytecode cache.
    if let Err(why) = launch::measure(rust(), &env, None) {
        card.unmeasured(name, &format!("the function does not start: {why}"));
        return Ok(());
    }
    launch::measure(py(), &env, None).map_err(|e| format!("{name}: Python equivalent: {e}"))?;

    let probe = Some(&profile.probe.1);
    let mut rust_starts = Vec::new();
    let mut py_starts = Vec::new();
    for _ in 0..runs {
        rust_starts.push(launch::measure(rust(), &env, probe).map_err(|e| format!("{name}: {e}"))?);
        py_starts.push(
            launch::measure(py(), &env, None)
                .map_err(|e| format!("{name}: Python equivalent: {e}"))?,
        );
    }
    let rust = Summary::of(&rust_starts);
    let py = Summary::of(&py_starts);

    let init = rust.init.median().unwrap_or(f64::NAN);
    card.check(
        name,
        "init",
        &ms(&rust.init),
        &format!("≤ {INIT_TARGET_MS} ms"),
        init <= INIT_TARGET_MS,
    );
    card.info("init, Python", &ms(&py.init));
    let speedup = py.init.median().unwrap_or(f64::NAN) / init;
    card.check(
        name,
        "init speed-up",
        &format!("{speedup:.1}× (ratio of medians)"),
        &format!("≥ {SPEEDUP_TARGET}×"),
        speedup >= SPEEDUP_TARGET,
    );
    let idle = rust.idle.median().unwrap_or(f64::NAN);
    card.check(
        name,
        "idle RSS",
        &megabytes(&rust.idle),
        &format!("≤ {IDLE_RSS_TARGET_MB} MB"),
        idle <= IDLE_RSS_TARGET_MB,
    );
    card.info("peak RSS (init)", &megabytes(&rust.peak));
    let invocations: Vec<&Invocation> = rust_starts
        .iter()
        .filter_map(|s| s.invocation.as_ref())
        .collect();
    if !invocations.is_empty() {
        let mut duration = Samples::default();
        let mut peak = Samples::default();
        for invocation in &invocations {
            duration.push(invocation.duration.as_secs_f64() * 1000.0);
            peak.push(mb(invocation.peak));
        }
        card.info(
            "first invocation",
            &format!("{} with {}", ms(&duration), profile.probe.0),
        );
        card.info("  it answered", &outcomes(&invocations));
        let worst = peak.max().unwrap_or(f64::NAN);
        card.check(
            name,
            "peak RSS (+1 invoke)",
            &megabytes(&peak),
            &format!("≤ {LAMBDA_MB} MB"),
            worst <= LAMBDA_MB,
        );
    }
    card.info("idle RSS, Python", &megabytes(&py.idle));
    card.info("peak RSS, Python", &megabytes(&py.peak));
    Ok(())
}

/// How the probe invocations ended: `response` or the error, with counts.
fn outcomes(invocations: &[&Invocation]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for invocation in invocations {
        let text = match &invocation.outcome {
            Outcome::Response => "a response".to_owned(),
            Outcome::Error(message) => format!("an error: {message}"),
        };
        match counts.iter_mut().find(|(t, _)| *t == text) {
            Some((_, n)) => *n += 1,
            None => counts.push((text, 1)),
        }
    }
    counts
        .iter()
        .map(|(text, n)| format!("{n}× {text}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A runtime's starts, as samples per figure (ms and MB).
struct Summary {
    init: Samples,
    idle: Samples,
    peak: Samples,
}

impl Summary {
    fn of(starts: &[Start]) -> Self {
        let mut summary = Summary {
            init: Samples::default(),
            idle: Samples::default(),
            peak: Samples::default(),
        };
        for start in starts {
            summary.init.push(start.init.as_secs_f64() * 1000.0);
            summary.idle.push(mb(start.idle.current));
            summary.peak.push(mb(start.idle.peak));
        }
        summary
    }
}

fn ms(samples: &Samples) -> String {
    Spread {
        samples,
        unit: "ms",
        decimals: 1,
    }
    .to_string()
}

fn megabytes(samples: &Samples) -> String {
    Spread {
        samples,
        unit: "MB",
        decimals: 1,
    }
    .to_string()
}
