//! The test command: what `.ci/run` and the README run.
//!
//! One moto server serves the whole run (tests isolate themselves by unique
//! names); it is owned by this process and stops with it, whatever happens.
//!
//! A check whose tool is missing is not a pass: it is listed at the end, under
//! "NOT RUN", with what to install (and under `CI=true` it fails).

use std::path::Path;

use toilkit_tests::Moto;
use toilkit_tests::not_run;

use crate::Result;
use crate::cmd::{cargo, exec};

pub fn run(args: &[String]) -> Result {
    crate::setup::for_tests()?;

    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    exec(fmt)?;

    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--quiet",
        "--",
        "-D",
        "warnings",
    ]);
    exec(clippy)?;

    // Before the tests, which read the generated template and module.
    eprintln!("$ cargo xtask gen --check");
    crate::generate::run(&["--check".to_owned()])?;

    let not_run_log = crate::cmd::root().join("target/not-run.log");
    // A summary from an earlier run must not be read as this one's.
    match std::fs::remove_file(&not_run_log) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }

    let moto = Moto::dedicated();
    let mut test = cargo();
    test.args(["test", "--workspace", "--no-fail-fast"])
        .args(args)
        .env("TOILKIT_MOTO_ENDPOINT", moto.endpoint())
        .env(not_run::LOG_VAR, &not_run_log);
    let outcome = exec(test);
    drop(moto);
    eprintln!("{}", summary(&not_run_log));
    outcome
}

/// The end of the test command's output: every check that did not run, or a
/// line saying that all ran.
fn summary(log: &Path) -> String {
    let lines: Vec<String> = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    if lines.is_empty() {
        return "NOT RUN: none; every check ran.".to_owned();
    }
    let mut text = format!(
        "NOT RUN: {} check(s) could not run on this machine (they fail under CI=true):",
        lines.len()
    );
    for line in lines {
        text.push_str("\n  - ");
        text.push_str(&line);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn the_summary_lists_every_check_that_did_not_run() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("not-run.log");
        std::fs::write(
            &log,
            "terraform_is_formatted: no terraform binary on PATH\nterraform_apply: no provider\n",
        )
        .unwrap();
        let text = summary(&log);
        assert!(text.starts_with("NOT RUN: 2 check(s)"), "{text}");
        assert!(text.contains("\n  - terraform_is_formatted: no terraform binary on PATH"));
        assert!(text.contains("\n  - terraform_apply: no provider"));
    }

    #[test]
    fn a_run_where_everything_ran_says_so() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            summary(&dir.path().join("absent.log")),
            "NOT RUN: none; every check ran."
        );
    }
}
