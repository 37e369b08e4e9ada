//! template.yaml: each function's parameters (in the console's groups and
//! in `Parameters`) and its environment.

use std::path::PathBuf;

use shared::config::{Constraint, Parameter, Setting, Source};

use super::text::yaml;
use super::{Function, Target};

pub fn target(functions: &[Function]) -> Target {
    let mut regions = Vec::new();
    for f in functions {
        let parameters: Vec<(&Setting, &Parameter)> = f
            .settings
            .iter()
            .filter_map(|s| s.parameter().map(|p| (s, p)))
            .collect();
        regions.push((
            format!("parameter-group: {}", f.name),
            parameters
                .iter()
                .map(|(_, p)| format!("          - {}\n", p.name))
                .collect(),
        ));
        regions.push((
            format!("parameters: {}", f.name),
            parameters.iter().map(|(s, p)| parameter(s, p)).collect(),
        ));
        regions.push((format!("environment: {}", f.name), environment(f.settings)));
    }
    Target {
        path: PathBuf::from("template.yaml"),
        regions,
    }
}

/// The parameter's default as the template states it.
pub fn default(setting: &Setting, parameter: &Parameter) -> &'static str {
    parameter.default.or(setting.default).unwrap_or("")
}

fn parameter(setting: &Setting, p: &Parameter) -> String {
    let kind = p.constraint.parameter_type();
    let mut out = format!("  {}:\n    Type: {kind}\n", p.name);
    if let Some(max) = p.max_length {
        out.push_str(&format!("    MaxLength: {max}\n"));
    }
    let default = default(setting, p);
    let default = if kind == "Number" {
        default.to_owned()
    } else {
        yaml(default, false)
    };
    out.push_str(&format!("    Default: {default}\n"));
    match p.constraint {
        Constraint::Pattern {
            pattern,
            description,
        } => {
            // Always quoted, like every pattern written by hand: escapes read
            // the same to YAML and to the eye.
            let quoted = serde_json::to_string(pattern).expect("a string serializes");
            out.push_str(&format!("    AllowedPattern: {quoted}\n"));
            if let Some(d) = description {
                out.push_str(&format!("    ConstraintDescription: {}\n", yaml(d, false)));
            }
        }
        Constraint::Values(values) => {
            let values: Vec<String> = values.iter().map(|v| yaml(v, true)).collect();
            out.push_str(&format!("    AllowedValues: [{}]\n", values.join(", ")));
        }
        Constraint::Numbers(values) => {
            out.push_str(&format!("    AllowedValues: [{}]\n", values.join(", ")));
        }
        Constraint::Range { min, max } => {
            out.push_str(&format!("    MinValue: {min}\n    MaxValue: {max}\n"));
        }
    }
    let description = format!("{}. {}", setting.name, setting.description.replace('`', ""));
    out.push_str(&format!("    Description: {}\n", yaml(&description, false)));
    out
}

fn environment(settings: &[Setting]) -> String {
    settings
        .iter()
        .filter_map(|s| {
            let value = match &s.source {
                Source::Parameter(p) => format!("!Ref {}", p.name),
                Source::SharedParameter(name) => format!("!Ref {name}"),
                Source::Template(value) => (*value).to_owned(),
                Source::Unset => return None,
            };
            Some(format!("          {}: {value}\n", s.name))
        })
        .collect()
}
