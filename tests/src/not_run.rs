//! A check that cannot run on this machine, because a tool it needs is
//! missing, must never pass silently.
//!
//! On a developer's machine it prints `NOT RUN: <test>: <why>` and is listed
//! again in the summary `cargo xtask test` prints at its end (the test
//! command points `TOILKIT_NOT_RUN_LOG` at a file that collects them across
//! test binaries). Under `CI=true` it is a failure naming what to install.

use std::io::Write;

/// The variable through which the test command collects the checks that did
/// not run.
pub const LOG_VAR: &str = "TOILKIT_NOT_RUN_LOG";

/// Whether this run is CI's, where every check must run.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Records that `test` could not run, and why (what to install). Panics under
/// `CI=true`.
pub fn not_run(test: &str, why: &str) {
    assert!(
        !in_ci(),
        "{test} cannot run in CI: {why}. Every check must run in CI."
    );
    eprintln!("NOT RUN: {test}: {why}");
    if let Some(path) = std::env::var_os(LOG_VAR) {
        // Appends of one short line are atomic enough for test binaries
        // running one after another; a lost line would only shorten the
        // summary, never turn a failure into a pass.
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(file, "{test}: {}", why.replace('\n', " "));
        }
    }
}
