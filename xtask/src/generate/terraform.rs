//! The Terraform modules (deploy/terraform/modules/toilkit for the product
//! application, .../toilkit-hub for the hub): each function's attributes,
//! the template parameters they become, which variable each parameter sets,
//! and the template's defaults, length limits and the free text it takes in
//! ASCII only.

use std::path::Path;

use shared::config::{Constraint, Kind, Parameter, Setting};

use super::text::{hcl, hcl_attributes};
use super::{Function, Target};

pub const MODULE: &str = "deploy/terraform/modules/toilkit";
pub const HUB_MODULE: &str = "deploy/terraform/modules/toilkit-hub";

/// The generated regions of the module at `module`, which deploys the
/// application of `functions`.
pub fn targets(module: &str, functions: &[Function]) -> Vec<Target> {
    let module = Path::new(module);
    let mut variables = Vec::new();
    let mut main = Vec::new();
    let mut defaults = Vec::new();
    let mut max_lengths = Vec::new();
    let mut ascii = Vec::new();
    for f in functions {
        let mut attributes = Vec::new();
        let mut parameters = Vec::new();
        for (s, p) in f
            .settings
            .iter()
            .filter_map(|s| s.parameter().map(|p| (s, p)))
        {
            defaults.push((p.name.to_owned(), hcl(super::template::default(s, p))));
            if let Constraint::Pattern { pattern, .. } = p.constraint
                && pattern.contains(r"\x20-\x7E")
            {
                ascii.push(hcl(p.name));
            }
            if let Some(max) = p.max_length {
                max_lengths.push((p.name.to_owned(), max.to_string()));
            }
            let Some(attribute) = p.attribute else {
                continue;
            };
            attributes.push((attribute.to_owned(), format!("optional({})", hcl_type(s))));
            parameters.push((
                p.name.to_owned(),
                value(s, &format!("local.{}.{attribute}", f.local)),
            ));
        }
        variables.push((
            format!("attributes: {}", f.name),
            hcl_attributes("    ", &attributes),
        ));
        variables.push((format!("validations: {}", f.name), validations(f)));
        main.push((
            format!("parameters: {}", f.name),
            hcl_attributes("    ", &parameters),
        ));
    }
    main.push(("environment".to_owned(), environment(functions)));
    main.push((
        "ascii".to_owned(),
        format!("  ascii_parameters = [{}]\n", ascii.join(", ")),
    ));
    vec![
        Target {
            path: module.join("variables.tf"),
            regions: variables,
        },
        Target {
            path: module.join("main.tf"),
            regions: main,
        },
        Target {
            path: module.join("template_defaults.tf"),
            regions: vec![
                ("defaults".to_owned(), hcl_attributes("    ", &defaults)),
                (
                    "max-lengths".to_owned(),
                    hcl_attributes("    ", &max_lengths),
                ),
            ],
        },
    ]
}

/// One validation per attribute whose parameter the template constrains: a
/// value the template would refuse when CloudFormation deploys the stack is
/// refused at plan, naming the attribute. The check runs on the very string
/// the module passes as the parameter. A flag's HCL type already admits only
/// true and false.
fn validations(f: &Function) -> String {
    let variable = f.name.replace('-', "_");
    let mut out = String::new();
    for (s, p) in f
        .settings
        .iter()
        .filter_map(|s| s.parameter().map(|p| (s, p)))
    {
        let Some(attribute) = p.attribute else {
            continue;
        };
        if s.kind == Kind::Flag {
            continue;
        }
        let reference = format!("var.{variable}.{attribute}");
        let value = value(s, &reference);
        let (check, rule) = match p.constraint {
            Constraint::Pattern { pattern, .. } if checked_by_ascii_precondition(s, pattern) => {
                continue;
            }
            Constraint::Pattern {
                pattern,
                description,
            } => (
                format!("can(regex({}, {value}))", hcl(&format!("^(?:{pattern})$"))),
                description.map_or_else(|| format!("match {pattern}"), sentence),
            ),
            Constraint::Values(values) | Constraint::Numbers(values) => (
                format!("contains([{}], {value})", quoted(values)),
                format!("one of {}", values.join(", ")),
            ),
            Constraint::Range { min, max } => (
                format!(
                    "can(regex(\"^[0-9]+$\", {value})) && {reference} >= {min} && {reference} <= {max}"
                ),
                format!("a whole number from {min} to {max}"),
            ),
        };
        // Terraform evaluates both sides of `||`: `try` keeps a null value
        // from turning the check into an error.
        out.push_str(&validation(
            &format!("{reference} == null || try({check}, false)"),
            &format!("{variable}.{attribute} must be {rule}."),
        ));
    }
    out
}

/// A `validation` block of a variable.
pub(super) fn validation(condition: &str, message: &str) -> String {
    format!(
        "  validation {{\n    condition     = {condition}\n    error_message = {}\n  }}\n",
        hcl(message)
    )
}

/// The module's one precondition over every ASCII parameter (`ascii`)
/// admits printable ASCII, tabs and line breaks, naming every offending
/// parameter at once: a pattern that asks no more than that, or a JSON value
/// (jsonencode always writes the array or object such a pattern frames),
/// needs no validation of its own. A stricter pattern (one line) does.
fn checked_by_ascii_precondition(setting: &Setting, pattern: &str) -> bool {
    const ASCII_OR_BREAKS: &str = r"[\x20-\x7E\t\n\r]*";
    pattern == format!("^{ASCII_OR_BREAKS}$")
        || matches!(setting.kind, Kind::Json(_)) && pattern.contains(ASCII_OR_BREAKS)
}

/// A constraint's description as the end of "... must be": its first letter
/// lowercased unless it starts an acronym, and no final period.
pub(super) fn sentence(description: &str) -> String {
    let text = description.trim_end_matches('.');
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if second.is_lowercase() || !second.is_alphabetic() => {
            format!("{}{}", first.to_lowercase(), &text[first.len_utf8()..])
        }
        _ => text.to_owned(),
    }
}

fn quoted(values: &[&str]) -> String {
    values.iter().map(|v| hcl(v)).collect::<Vec<_>>().join(", ")
}

fn hcl_type(setting: &Setting) -> &'static str {
    match setting.kind {
        Kind::Text => "string",
        Kind::Number => "number",
        Kind::Flag => "bool",
        Kind::List => "list(string)",
        Kind::Json(hcl) => hcl,
    }
}

/// The parameter's string from the attribute: null stays null (the
/// template's default), lists are joined with commas, structures become JSON
/// without their null attributes.
fn value(setting: &Setting, attribute: &str) -> String {
    match setting.kind {
        Kind::Text => attribute.to_owned(),
        Kind::Number | Kind::Flag => format!("tostring({attribute})"),
        Kind::List => format!("{attribute} == null ? null : join(\",\", {attribute})"),
        Kind::Json(hcl) if hcl.starts_with("list(object(") => format!(
            "{attribute} == null ? null : jsonencode([for r in {attribute} : {{ for k, v in r : k => v if v != null }}])"
        ),
        Kind::Json(_) => format!("{attribute} == null ? null : jsonencode({attribute})"),
    }
}

/// Which parameter sets each function's variables, for the module's 4 KB
/// check of every environment.
fn environment(functions: &[Function]) -> String {
    let mut out = String::from("  environment_parameters = {\n");
    for f in functions {
        let pairs: Vec<(String, String)> = f
            .settings
            .iter()
            .filter_map(|s| {
                s.parameter()
                    .map(|p: &Parameter| (s.name.to_owned(), hcl(p.name)))
            })
            .collect();
        out.push_str(&format!("    {} = {{\n", hcl(f.name)));
        out.push_str(&hcl_attributes("      ", &pairs));
        out.push_str("    }\n");
    }
    out.push_str("  }\n");
    out
}
