//! waf-ip-blocker's integration tests, one binary: each links the AWS SDK, so one
//! link instead of one a file.

mod backfill;
mod common;
mod e2e;
mod faults;
mod fuzz_regressions;
mod moto;
mod races;
mod state_machine;
mod trust;
mod windows;
