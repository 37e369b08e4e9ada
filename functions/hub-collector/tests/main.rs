//! hub-collector's integration tests, one binary: each links the AWS SDK, so
//! one link instead of one a file.

mod collect;
mod common;
mod dashboard;
mod e2e;
mod heartbeat;
mod hostile;
