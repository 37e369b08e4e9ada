//! A function's own part of template.yaml, `functions/<name>/template-fragment.yaml`.
//!
//! Top-level keys name where their text goes; a key holds either a one-line
//! YAML scalar or a block indented by two spaces. Blocks are copied as text,
//! not re-serialized, so the comments that say why a grant or a resource is
//! there reach the template. Comments at column 0 are notes about the file
//! and stay in it.

use std::collections::BTreeMap;

/// Every section a fragment may have, and whether it must. `Enable` is
/// required of the product application's functions only (the composer
/// checks it): the hub's function is the hub, never switched off.
const SECTIONS: &[(&str, bool)] = &[
    ("Enable", false),
    ("Function", true),
    ("EventInvokeConfig", false),
    ("Alarms", true),
    ("Output", false),
    ("Parameters", false),
    ("Conditions", false),
    ("Statements", false),
    ("Resources", false),
    ("Outputs", false),
];

#[derive(Debug, Default)]
pub struct Fragment {
    /// The `Enable<Stem>` parameter's description; empty for a function
    /// that is always deployed.
    pub enable: String,
    /// The function's own properties (Description, MemorySize, Timeout,
    /// Events), at indent 2.
    pub function: String,
    /// Retries of asynchronous invocations, if not the default two in six
    /// hours.
    pub event_invoke_config: Option<String>,
    /// The errors alarm's and the dead-letter alarm's descriptions.
    pub errors_alarm: String,
    pub dead_letter_alarm: String,
    /// The `<Stem>FunctionArn` output's description, if it says more than
    /// the default.
    pub output: Option<String>,
    /// Blocks at indent 2, each possibly empty.
    pub parameters: String,
    pub conditions: String,
    pub statements: String,
    pub resources: String,
    pub outputs: String,
}

enum Value {
    Scalar(String),
    Block(String),
}

impl Fragment {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut sections: Vec<(String, String, Vec<&str>)> = Vec::new();
        for (number, line) in text.lines().enumerate() {
            if line.starts_with('#') {
                continue;
            }
            if line.starts_with(' ') || line.trim().is_empty() {
                match sections.last_mut() {
                    Some((_, _, lines)) => lines.push(line),
                    None if line.trim().is_empty() => {}
                    None => {
                        return Err(format!(
                            "line {}: indented text before the first section",
                            number + 1
                        ));
                    }
                }
                continue;
            }
            let (key, rest) = line
                .split_once(':')
                .ok_or_else(|| format!("line {}: expected `Section:`", number + 1))?;
            sections.push((key.to_owned(), rest.trim().to_owned(), Vec::new()));
        }
        let mut values = BTreeMap::new();
        for (key, scalar, lines) in sections {
            if !SECTIONS.iter().any(|(name, _)| *name == key) {
                let known: Vec<_> = SECTIONS.iter().map(|(name, _)| *name).collect();
                return Err(format!(
                    "unknown section {key:?}; the sections are {known:?}"
                ));
            }
            let value = if scalar.is_empty() {
                Value::Block(block(&key, &lines)?)
            } else if lines.iter().all(|l| l.trim().is_empty()) {
                Value::Scalar(scalar)
            } else {
                return Err(format!(
                    "{key}: a one-line value, or a block below it, not both"
                ));
            };
            if values.insert(key.clone(), value).is_some() {
                return Err(format!("{key} appears twice"));
            }
        }
        for (name, required) in SECTIONS {
            if *required && !values.contains_key(*name) {
                return Err(format!("the {name} section is missing"));
            }
        }
        let take_scalar = |values: &mut BTreeMap<String, Value>, key: &str| match values.remove(key)
        {
            Some(Value::Scalar(s)) => Ok(Some(s)),
            Some(Value::Block(_)) => Err(format!("{key}: a one-line value")),
            None => Ok(None),
        };
        let take_block = |values: &mut BTreeMap<String, Value>, key: &str| match values.remove(key)
        {
            Some(Value::Block(b)) => Ok(b),
            Some(Value::Scalar(_)) => Err(format!("{key}: a block indented below it")),
            None => Ok(String::new()),
        };
        let alarms = take_block(&mut values, "Alarms")?;
        let alarm = |name: &str| {
            alarms
                .lines()
                .find_map(|l| l.strip_prefix(&format!("  {name}: ")))
                .map(str::to_owned)
                .ok_or_else(|| format!("Alarms: `{name}: <the alarm's description>` is missing"))
        };
        let event_invoke_config = take_block(&mut values, "EventInvokeConfig")?;
        Ok(Self {
            enable: take_scalar(&mut values, "Enable")?.unwrap_or_default(),
            function: take_block(&mut values, "Function")?,
            event_invoke_config: (!event_invoke_config.is_empty()).then_some(event_invoke_config),
            errors_alarm: alarm("Errors")?,
            dead_letter_alarm: alarm("DeadLetters")?,
            output: take_scalar(&mut values, "Output")?,
            parameters: take_block(&mut values, "Parameters")?,
            conditions: take_block(&mut values, "Conditions")?,
            statements: take_block(&mut values, "Statements")?,
            resources: take_block(&mut values, "Resources")?,
            outputs: take_block(&mut values, "Outputs")?,
        })
    }

    /// Every logical id, parameter, condition and output the fragment
    /// declares (the keys at indent 2 of those sections).
    pub fn declared(&self) -> Vec<&str> {
        [
            &self.parameters,
            &self.conditions,
            &self.resources,
            &self.outputs,
        ]
        .into_iter()
        .flat_map(|b| keys(b))
        .collect()
    }

    pub fn parameter_names(&self) -> Vec<&str> {
        keys(&self.parameters)
    }
}

/// The keys at indent 2 of a block.
fn keys(block: &str) -> Vec<&str> {
    block
        .lines()
        .filter(|l| l.starts_with("  ") && !l[2..].starts_with([' ', '#', '-']))
        .filter_map(|l| l[2..].split_once(':').map(|(k, _)| k))
        .collect()
}

/// A section's lines, blank lines around it dropped; every line indented by
/// at least two spaces and the first by exactly two.
fn block(key: &str, lines: &[&str]) -> Result<String, String> {
    let start = lines.iter().position(|l| !l.trim().is_empty());
    let end = lines.iter().rposition(|l| !l.trim().is_empty());
    let (Some(start), Some(end)) = (start, end) else {
        return Ok(String::new());
    };
    let lines = &lines[start..=end];
    if !lines[0].starts_with("  ") || lines[0][2..].starts_with(' ') {
        return Err(format!("{key}: indent its block by two spaces"));
    }
    let mut out = String::new();
    for line in lines {
        if line.trim().is_empty() {
            out.push('\n');
        } else if !line.starts_with("  ") {
            return Err(format!("{key}: {line:?} is indented less than two spaces"));
        } else {
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    Ok(out)
}

/// `block` shifted right by `by` spaces; blank lines stay empty.
pub fn indent(block: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    block
        .lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_owned()
            } else {
                format!("{pad}{l}\n")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "# a note\nEnable: Deploy x.\nFunction:\n  Description: x\nAlarms:\n  Errors: e\n  DeadLetters: d\n";

    #[test]
    fn sections_are_read_with_their_comments() {
        let text = format!(
            "{MINIMAL}Statements:\n  # why this grant\n  - Sid: A\n\n    Effect: Allow\n\nOutputs:\n  Out:\n    Value: 1\n"
        );
        let f = Fragment::parse(&text).unwrap();
        assert_eq!(f.enable, "Deploy x.");
        assert_eq!(f.function, "  Description: x\n");
        assert_eq!(
            (f.errors_alarm.as_str(), f.dead_letter_alarm.as_str()),
            ("e", "d")
        );
        assert_eq!(
            f.statements,
            "  # why this grant\n  - Sid: A\n\n    Effect: Allow\n"
        );
        assert_eq!(f.declared(), ["Out"]);
        assert_eq!(
            indent(&f.statements, 2),
            "    # why this grant\n    - Sid: A\n\n      Effect: Allow\n"
        );
    }

    #[test]
    fn a_fragment_without_its_required_sections_is_refused() {
        // Enable is required of the product's functions by the composer
        // (template::compose), not here: the hub's function has none.
        let parts = [
            ("Function", "Function:\n  Description: x\n"),
            ("Alarms", "Alarms:\n  Errors: e\n  DeadLetters: d\n"),
        ];
        for (section, _) in parts {
            let text: String = parts
                .iter()
                .filter(|(name, _)| *name != section)
                .map(|(_, text)| *text)
                .collect();
            let err = Fragment::parse(&text).unwrap_err();
            assert!(err.contains(section), "{err}");
        }
        let err = Fragment::parse(&MINIMAL.replace("  DeadLetters: d\n", "")).unwrap_err();
        assert!(err.contains("DeadLetters"), "{err}");
    }

    #[test]
    fn unknown_sections_and_bad_indentation_are_refused() {
        let err = Fragment::parse(&format!("{MINIMAL}Role:\n  X: 1\n")).unwrap_err();
        assert!(err.contains("unknown section \"Role\""), "{err}");
        let err = Fragment::parse(&format!("{MINIMAL}Outputs:\n    X: 1\n")).unwrap_err();
        assert!(err.contains("two spaces"), "{err}");
        let err = Fragment::parse(&format!("{MINIMAL}Enable: again\n")).unwrap_err();
        assert!(err.contains("twice"), "{err}");
    }
}
