//! template.yaml: its hand-written head (metadata, shared parameters,
//! conditions and resources) and, in generated regions, each function of
//! the registry: what every function has (boilerplate.rs), the parameters
//! and environment its settings declare, and its own fragment
//! (`functions/<name>/template-fragment.yaml`).

use std::path::{Path, PathBuf};

use shared::config::{Constraint, Parameter, Setting, Source};
use toilkit_tests::registry::Function as Registered;

use super::boilerplate::{self, Names, SharedGrants};
use super::fragment::Fragment;
use super::text::yaml;
use super::{Function, Target};

/// A function's fragment, read and checked against the boilerplate.
pub fn fragment(root: &Path, function: &Registered) -> Result<Fragment, String> {
    let path = function.template_fragment();
    let text = std::fs::read_to_string(root.join(&path)).map_err(|e| format!("{path}: {e}"))?;
    let fragment = Fragment::parse(&text).map_err(|e| format!("{path}: {e}"))?;
    let generated = boilerplate::ids(function.stem);
    if let Some(id) = fragment
        .declared()
        .into_iter()
        .find(|id| generated.iter().any(|g| g == id))
    {
        return Err(format!(
            "{path}: {id} is written for every function by xtask/src/generate/boilerplate.rs; remove it from the fragment"
        ));
    }
    Ok(fragment)
}

pub fn target(root: &Path, functions: &[Function]) -> Result<Target, String> {
    let mut deploy = String::new();
    let mut groups = String::new();
    let mut enables = String::new();
    let mut parameters = String::new();
    let mut conditions = String::new();
    let mut resources = String::new();
    let mut outputs = String::new();
    for f in functions {
        let registered = toilkit_tests::registry::find(f.name)
            .ok_or_else(|| format!("{} is not in tests/src/registry.rs", f.name))?;
        let stem = registered.stem;
        let names = Names { name: f.name, stem };
        let own = fragment(root, registered)?;
        let declared: Vec<(&Setting, &Parameter)> = f
            .settings
            .iter()
            .filter_map(|s| s.parameter().map(|p| (s, p)))
            .collect();

        deploy.push_str(&format!("          - Enable{stem}\n"));
        groups.push_str(&format!(
            "      - Label: {{default: {}}}\n        Parameters:\n",
            f.name
        ));
        for name in own
            .parameter_names()
            .into_iter()
            .chain(declared.iter().map(|(_, p)| p.name))
        {
            groups.push_str(&format!("          - {name}\n"));
        }
        enables.push_str(&boilerplate::enable_parameter(&names, &own));
        parameters.push_str(&format!("\n{}", banner(f.name, '-')));
        parameters.push_str(&own.parameters);
        for (s, p) in &declared {
            parameters.push_str(&parameter(s, p));
        }
        conditions.push('\n');
        conditions.push_str(&boilerplate::enabled_condition(&names));
        conditions.push_str(&own.conditions);

        let shares = |name: &str| {
            f.settings
                .iter()
                .any(|s| matches!(s.source, Source::SharedParameter(p) if p == name))
        };
        let grants = SharedGrants {
            slack_secret: shares("SlackWebhookSecretArn"),
            slack_parameter: shares("SlackWebhookParameter"),
            result_events: shares("ResultEventBus"),
        };
        resources.push_str(&format!("\n{}", banner(f.name, '=')));
        resources.push_str(&boilerplate::resources(
            &names,
            &own,
            &grants,
            &environment(f.settings),
        ));
        if !own.resources.is_empty() {
            resources.push('\n');
            resources.push_str(&own.resources);
        }
        resources.push('\n');
        resources.push_str(&boilerplate::alarms(&names, &own));
        outputs.push_str(&boilerplate::output(&names, &own));
        outputs.push_str(&own.outputs);
    }
    Ok(Target {
        path: PathBuf::from("template.yaml"),
        regions: vec![
            ("functions-to-deploy".to_owned(), deploy),
            ("function-parameter-groups".to_owned(), groups),
            ("enable-parameters".to_owned(), enables),
            ("function-parameters".to_owned(), parameters),
            ("function-conditions".to_owned(), conditions),
            ("function-resources".to_owned(), resources),
            ("function-outputs".to_owned(), outputs),
        ],
    })
}

/// A function's heading in a section: `# --- name ---...` for parameters,
/// a boxed `# === name` for resources, naming where its parts come from.
fn banner(function: &str, rule: char) -> String {
    if rule == '-' {
        let line = format!("  # --- {function} ");
        let fill = 77usize.saturating_sub(line.len()).max(3);
        return format!("{line}{}\n", "-".repeat(fill));
    }
    let bar = format!("  # {}\n", "=".repeat(73));
    format!(
        "{bar}  # {function}: functions/{function}/template-fragment.yaml,\n  # the settings of its src/config.rs and xtask/src/generate/boilerplate.rs\n{bar}"
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A fragment cannot replace what every function gets: the generator
    /// refuses it, naming the id, instead of writing it twice.
    #[test]
    fn a_fragment_redefining_the_boilerplate_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let function = toilkit_tests::registry::FUNCTIONS[0];
        let path = root.path().join(function.template_fragment());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let stem = function.stem;
        std::fs::write(
            &path,
            format!(
                "Enable: x\nFunction:\n  Description: x\nAlarms:\n  Errors: e\n  DeadLetters: d\nResources:\n  {stem}DeadLetterQueue:\n    Type: AWS::SQS::Queue\n"
            ),
        )
        .unwrap();
        let err = fragment(root.path(), &function).unwrap_err();
        assert!(err.contains(&format!("{stem}DeadLetterQueue")), "{err}");
        assert!(err.contains("boilerplate.rs"), "{err}");
    }
}
