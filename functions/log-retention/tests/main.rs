//! log-retention's integration tests, one binary: each links the AWS SDK, so one
//! link instead of one a file.

mod common;
mod e2e;
mod faults;
mod s3_prune;
mod state_machine;
mod sweep;
