//! Benchmarks. Each prints its figures beside its targets; none is a test.
//!
//! - `cargo xtask bench`: the cold-start benchmark, then every workload;
//! - `cargo xtask bench cold-start`: package sizes, init time and memory of
//!   every function beside the Python equivalent ([`cold_start`]);
//! - `cargo xtask bench <function>`: that function's workload benchmark
//!   (`functions/<function>/benches/`), built with the release profile.
//!
//! Options: `--runs N` (cold starts per function, default 9), `--no-package`
//! (measure the zips already in `target/lambda` instead of rebuilding them).
//! The run fails if any target is missed or any figure could not be taken.

mod cold_start;
mod fuzz;
mod launch;
mod memory;
mod profile;
mod python;
mod runtime_api;
mod scorecard;
mod stats;
mod workload;

pub use fuzz::run as fuzz;

use scorecard::Scorecard;

use crate::Result;

pub fn run(args: &[String]) -> Result {
    crate::setup::run()?;
    let mut options = cold_start::Options {
        runs: cold_start::DEFAULT_RUNS,
        package: true,
    };
    let mut selected = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--no-package" => options.package = false,
            "--runs" => {
                options.runs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--runs takes a positive number")?;
            }
            name => selected.push(name.to_owned()),
        }
    }
    for name in &selected {
        if name != "cold-start" && !workload::workloads().contains(&name.as_str()) {
            return Err(format!(
                "no benchmark named {name}; known: cold-start, {}",
                workload::workloads().join(", ")
            )
            .into());
        }
    }

    let mut card = Scorecard::default();
    if selected.is_empty() {
        cold_start::run(&options, &mut card)?;
        for function in workload::workloads() {
            if workload::is_written(function) {
                workload::run(function, &mut card)?;
            } else {
                println!("\n=== workload: {function}");
                card.unmeasured(function, "its benchmark is not written yet");
            }
        }
    } else {
        for name in &selected {
            if name == "cold-start" {
                cold_start::run(&options, &mut card)?;
            } else {
                workload::run(name, &mut card)?;
            }
        }
    }
    println!("\n=== {}", card.summary());
    if card.all_met() {
        Ok(())
    } else {
        Err("not every target was met (see above)".into())
    }
}
