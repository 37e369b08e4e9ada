//! Benchmarks. Each prints its figures beside its targets; none is a test.
//!
//! - `cargo xtask bench <function>`: that function's workload benchmark
//!   (`functions/<function>/benches/`), built with the release profile;
//! - `cargo xtask bench`: every workload benchmark.

use crate::Result;
use crate::cmd::{cargo, exec};

const WORKLOADS: &[&str] = &["waf-ip-blocker", "rds-audit-notifier", "log-retention"];

pub fn run(args: &[String]) -> Result {
    crate::setup::run()?;
    let selected: Vec<&str> = if args.is_empty() {
        WORKLOADS.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    for function in selected {
        if !WORKLOADS.contains(&function) {
            return Err(format!(
                "no benchmark named {function}; known: {}",
                WORKLOADS.join(", ")
            )
            .into());
        }
        let mut command = cargo();
        command.args(["bench", "--package", function, "--bench", function]);
        exec(command)?;
    }
    Ok(())
}

pub fn fuzz(_args: &[String]) -> Result {
    Err("fuzz targets are not written yet".into())
}
