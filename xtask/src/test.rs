//! The test command: what `.ci/run` and the README run.
//!
//! One moto server serves the whole run (tests isolate themselves by unique
//! names); it is owned by this process and stops with it, whatever happens.

use toilkit_tests::Moto;

use crate::Result;
use crate::cmd::{cargo, exec};

pub fn run(args: &[String]) -> Result {
    crate::setup::run()?;

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

    let moto = Moto::dedicated();
    let mut test = cargo();
    test.args(["test", "--workspace", "--no-fail-fast"])
        .args(args)
        .env("TOILKIT_MOTO_ENDPOINT", moto.endpoint());
    let outcome = exec(test);
    drop(moto);
    outcome
}
