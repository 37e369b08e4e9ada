//! Project tasks, run as `cargo xtask <task>`:
//!
//! - `setup`: installs the pinned tools (Python venv, npm tools) and Chromium if missing;
//! - `demo`: the main job, a local demo of every function against the emulator;
//! - `gen [--check]`: every copy of the functions' settings, from their declarations;
//! - `test`: formatting, lints, the generated files, every test and the template checks;
//! - `package`: `bootstrap.zip` per function for `provided.al2023`;
//! - `publish --regions r1,r2 --bucket-prefix p`: one version to SAR in each Region;
//! - `bench [function]`: benchmarks with their targets;
//! - `fuzz [seconds]`: each fuzz target for a bounded time.

mod bench;
mod cmd;
mod demo;
mod generate;
mod package;
mod publish;
mod setup;
mod test;

use std::process::ExitCode;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let rest = &args[args.len().min(1)..];
    let outcome = match task {
        "setup" => setup::for_tests(),
        "demo" => demo::run(rest),
        "gen" => generate::run(rest),
        "test" => test::run(rest),
        "package" => package::run(rest),
        "publish" => publish::run(rest),
        "bench" => bench::run(rest),
        "fuzz" => bench::fuzz(rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <setup|demo|gen [--check]|test|package|publish --regions r1,r2 --bucket-prefix p [--app toilkit|toilkit-hub]|bench [function]|fuzz [seconds]>"
            );
            return if task == "help" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask {task}: {error}");
            ExitCode::FAILURE
        }
    }
}
