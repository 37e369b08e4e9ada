//! patch-waves's integration tests, one binary: each links the AWS SDK, so
//! one link instead of one a file.

mod common;
mod e2e;
mod faults;
mod report;
mod rollout;
mod state_machine;
