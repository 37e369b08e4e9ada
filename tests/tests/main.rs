//! The test support itself and the shared Slack client, in one binary: each
//! test binary links the AWS SDK, so one link instead of one a file.

mod harness;
mod slack_delivery;
