//! The distribution, checked offline the way a security reviewer and an
//! operator would: `template.yaml` lints and transforms, uses only resource
//! types the Serverless Application Repository accepts, grants least
//! privilege, wires every trigger, dead letter and alarm, and can take every
//! documented setting (`cargo xtask gen --check` keeps the parameters, the
//! README tables and the Terraform module equal to the settings each function
//! declares). The Terraform module has its own file, terraform.rs.
//!
//! The tools come from the project's venvs (`cargo xtask setup`):
//! cfn-lint, the SAM translator and parliament through
//! `tools/python/template_tool.py`, checkov from `.venv-checkov`.

mod distribution;
// The checks sit beside this file; a directory named after the binary would
// clash with it, hence the path.
#[path = "template/mod.rs"]
mod checks;
