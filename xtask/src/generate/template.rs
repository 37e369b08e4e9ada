//! template.yaml: its hand-written head (metadata, shared parameters,
//! conditions and resources) and, in generated regions, each function of
//! the registry: what every function has (boilerplate.rs), the parameters
//! and environment its settings declare, and its own fragment
//! (`functions/<name>/template-fragment.yaml`). The hub's template
//! (hub.rs) composes its function the same way, without the switch.

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

/// The generated text of one application's functions, section by section.
#[derive(Default)]
pub struct Parts {
    /// The `Enable<Stem>` list of the console's first parameter group.
    pub deploy: String,
    /// One console parameter group per function.
    pub groups: String,
    pub enables: String,
    pub parameters: String,
    pub conditions: String,
    pub resources: String,
    pub outputs: String,
}

/// Each function's part of an application's template; `switched`: each
/// sits behind its own `Enable<Stem>` parameter (the product application),
/// or is always deployed (the hub); `code_uri`: the workspace root from the
/// template's folder.
pub fn compose(
    root: &Path,
    functions: &[Function],
    switched: bool,
    code_uri: &str,
) -> Result<Parts, String> {
    let mut parts = Parts::default();
    for f in functions {
        let registered = toilkit_tests::registry::find(f.name)
            .ok_or_else(|| format!("{} is not in tests/src/registry.rs", f.name))?;
        let stem = registered.stem;
        let names = Names {
            name: f.name,
            stem,
            switched,
            code_uri,
        };
        let own = fragment(root, registered)?;
        if switched == own.enable.is_empty() {
            return Err(format!(
                "{}: {}",
                registered.template_fragment(),
                if switched {
                    "the Enable section is missing"
                } else {
                    "a function of the hub is always deployed: remove the Enable section"
                }
            ));
        }
        let declared: Vec<(&Setting, &Parameter)> = f
            .settings
            .iter()
            .filter_map(|s| s.parameter().map(|p| (s, p)))
            .collect();

        parts.groups.push_str(&format!(
            "      - Label: {{default: {}}}\n        Parameters:\n",
            f.name
        ));
        for name in own
            .parameter_names()
            .into_iter()
            .chain(declared.iter().map(|(_, p)| p.name))
        {
            parts.groups.push_str(&format!("          - {name}\n"));
        }
        parts
            .parameters
            .push_str(&format!("\n{}", banner(f.name, '-')));
        parts.parameters.push_str(&own.parameters);
        for (s, p) in &declared {
            parts.parameters.push_str(&parameter(s, p));
        }
        parts.conditions.push('\n');
        if switched {
            parts
                .deploy
                .push_str(&format!("          - Enable{stem}\n"));
            parts
                .enables
                .push_str(&boilerplate::enable_parameter(&names, &own));
            parts
                .conditions
                .push_str(&boilerplate::enabled_condition(&names));
        }
        parts.conditions.push_str(&own.conditions);

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
        parts
            .resources
            .push_str(&format!("\n{}", banner(f.name, '=')));
        parts.resources.push_str(&boilerplate::resources(
            &names,
            &own,
            &grants,
            &environment(f.settings),
        ));
        if !own.resources.is_empty() {
            parts.resources.push('\n');
            parts.resources.push_str(&own.resources);
        }
        parts.resources.push('\n');
        parts.resources.push_str(&boilerplate::alarms(&names, &own));
        parts.outputs.push_str(&boilerplate::output(&names, &own));
        parts.outputs.push_str(&own.outputs);
    }
    Ok(parts)
}

pub fn target(root: &Path, functions: &[Function]) -> Result<Target, String> {
    let app = &crate::package::PRODUCT;
    let parts = compose(root, functions, true, app.code_uri)?;
    Ok(Target {
        path: PathBuf::from(app.template),
        regions: vec![
            ("functions-to-deploy".to_owned(), parts.deploy),
            ("function-parameter-groups".to_owned(), parts.groups),
            ("enable-parameters".to_owned(), parts.enables),
            ("function-parameters".to_owned(), parts.parameters),
            ("function-conditions".to_owned(), parts.conditions),
            ("function-resources".to_owned(), parts.resources),
            ("function-outputs".to_owned(), parts.outputs),
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
    let description = format!("{}. {}", setting.name, setting.description.replace('`', ""));
    parameter_entry(
        p.name,
        p.max_length,
        &p.constraint,
        default(setting, p),
        &yaml(&description, false),
    )
}

/// A template parameter: its type from its constraint, its length limit,
/// default and constraint, and `description` as written (a YAML scalar).
pub fn parameter_entry(
    name: &str,
    max_length: Option<u32>,
    c: &Constraint,
    default: &str,
    description: &str,
) -> String {
    let kind = c.parameter_type();
    let mut out = format!("  {name}:\n    Type: {kind}\n");
    if let Some(max) = max_length {
        out.push_str(&format!("    MaxLength: {max}\n"));
    }
    let default = if kind == "Number" {
        default.to_owned()
    } else {
        yaml(default, false)
    };
    out.push_str(&format!("    Default: {default}\n"));
    out.push_str(&constraint(c));
    out.push_str(&format!("    Description: {description}\n"));
    out
}

/// The lines of a parameter that say what it accepts.
pub fn constraint(constraint: &Constraint) -> String {
    match *constraint {
        Constraint::Pattern {
            pattern,
            description,
        } => {
            // Always quoted, like every pattern written by hand: escapes read
            // the same to YAML and to the eye.
            let quoted = serde_json::to_string(pattern).expect("a string serializes");
            let mut out = format!("    AllowedPattern: {quoted}\n");
            if let Some(d) = description {
                out.push_str(&format!("    ConstraintDescription: {}\n", yaml(d, false)));
            }
            out
        }
        Constraint::Values(values) => {
            let values: Vec<String> = values.iter().map(|v| yaml(v, true)).collect();
            format!("    AllowedValues: [{}]\n", values.join(", "))
        }
        Constraint::Numbers(values) => format!("    AllowedValues: [{}]\n", values.join(", ")),
        Constraint::Range { min, max } => format!("    MinValue: {min}\n    MaxValue: {max}\n"),
    }
}

/// A long text as a folded block scalar (`>-`), its lines indented by
/// `indent` and at most about 120 columns wide; a short one, or one of up to
/// 180 characters that needs no quotes, as a scalar on the key's line.
pub fn yaml_folded(text: &str, indent: &str) -> String {
    const WIDTH: usize = 120;
    let plain = yaml(text, false) == text;
    if text.len() <= 100
        || (plain && text.len() <= 180)
        || text.contains("  ")
        || text.contains('\n')
    {
        return yaml(text, false);
    }
    let mut out = String::from(">-");
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > WIDTH {
            out.push_str(&format!("\n{indent}{line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&format!("\n{indent}{line}"));
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

    /// A long description is folded into lines of at most 120 columns that
    /// a YAML reader joins back into the very text; a short one stays on
    /// the key's line.
    #[test]
    fn a_long_text_folds_into_lines_that_join_back_into_it() {
        let text = "The KMS key that encrypts the functions' logs and queues. ".repeat(6);
        let text = text.trim_end();
        let indent = "      ";
        let folded = yaml_folded(text, indent);
        let mut lines = folded.lines();
        assert_eq!(lines.next(), Some(">-"));
        let body: Vec<&str> = lines.collect();
        assert!(body.len() > 2, "{folded}");
        for line in &body {
            assert!(line.starts_with(indent), "{line:?}");
            assert!(line.len() <= 120, "{} columns: {line:?}", line.len());
        }
        let joined: Vec<&str> = body.iter().map(|l| &l[indent.len()..]).collect();
        assert_eq!(joined.join(" "), text);
        assert_eq!(yaml_folded("Short.", indent), "Short.");
    }

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

    /// A product function is switched by its Enable parameter, whose
    /// description its fragment gives; the hub's is always deployed, and a
    /// switch there would switch nothing.
    #[test]
    fn enable_is_required_of_switched_functions_and_refused_of_the_hub() {
        let root = tempfile::tempdir().unwrap();
        let product = toilkit_tests::registry::FUNCTIONS[0];
        let hub = toilkit_tests::registry::HUB_FUNCTIONS[0];
        let body = "Function:\n  Description: x\nAlarms:\n  Errors: e\n  DeadLetters: d\n";
        for (function, text) in [
            (product, body.to_owned()),
            (hub, format!("Enable: x\n{body}")),
        ] {
            let path = root.path().join(function.template_fragment());
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        let function = |f: &Registered| Function {
            name: f.name,
            local: f.terraform_local,
            settings: &[],
        };
        let Err(err) = compose(root.path(), &[function(&product)], true, ".") else {
            panic!("a product fragment without Enable is refused");
        };
        assert!(err.contains("Enable section is missing"), "{err}");
        let Err(err) = compose(root.path(), &[function(&hub)], false, "../..") else {
            panic!("a hub fragment with Enable is refused");
        };
        assert!(err.contains("always deployed"), "{err}");
    }
}
