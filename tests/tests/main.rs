//! toilkit-tests' integration tests, one binary: each links the AWS SDK, so
//! one link instead of one a concern.
//!
//! - `harness`, `slack_delivery`: the test support itself and the shared Slack
//!   client.
//! - `template`: the distribution, checked offline the way a security reviewer
//!   and an operator would: `template.yaml` lints and transforms, uses only
//!   resource types the Serverless Application Repository accepts, grants
//!   least privilege, wires every trigger, dead letter and alarm, and can take
//!   every documented setting (`cargo xtask gen --check` keeps the parameters,
//!   the README tables and the Terraform module equal to the settings each
//!   function declares); and the hub's, `deploy/hub/template.yaml`
//!   (`template::hub`).
//! - `terraform`: the Terraform modules (the product's and the hub's) and
//!   their examples.
//! - `readme`: what the README states that code can check.
//! - `distribution`: what the template and Terraform checks share.
//!
//! The tools come from the project's venvs (`cargo xtask setup`): cfn-lint,
//! the SAM translator and parliament through `tools/python/template_tool.py`,
//! checkov from `.venv-checkov`; terraform from the machine.

mod distribution;
mod harness;
mod readme;
mod slack_delivery;
mod template;
mod terraform;
