//! What the template and Terraform tests share: the tools that read
//! `template.yaml`, and the check of a value against a parameter.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Value, json};

pub use toilkit_tests::workspace::{require_tool, root};

/// Each function: its crate, and the stem of its logical ids in the template,
/// from the registry (`toilkit_tests::registry`).
pub const FUNCTIONS: [(&str, &str); FUNCTION_COUNT] = {
    let mut pairs = [("", ""); FUNCTION_COUNT];
    let mut i = 0;
    while i < FUNCTION_COUNT {
        let f = &toilkit_tests::registry::FUNCTIONS[i];
        pairs[i] = (f.name, f.stem);
        i += 1;
    }
    pairs
};

const FUNCTION_COUNT: usize = toilkit_tests::registry::FUNCTIONS.len();

// ---------------------------------------------------------------------------
// Running the tools
// ---------------------------------------------------------------------------

/// What `tools/python/template_tool.py <args>` prints, as JSON, after it
/// read `stdin`.
pub fn run_tool(args: &[&str], stdin: Option<&str>) -> Value {
    require_tool("python");
    toilkit_tests::tool::json(
        toilkit_tests::tool::template_tool().args(args),
        stdin.unwrap_or_default(),
    )
}

pub fn template_path() -> PathBuf {
    root().join("template.yaml")
}

/// `template.yaml` as JSON, intrinsics in long form.
pub fn template() -> &'static Value {
    static TEMPLATE: OnceLock<Value> = OnceLock::new();
    TEMPLATE.get_or_init(|| run_tool(&["decode", &template_path().to_string_lossy()], None))
}

/// The CloudFormation template the SAM transform makes of it, with every
/// function switched on.
pub fn translated() -> &'static Value {
    static TRANSLATED: OnceLock<Value> = OnceLock::new();
    TRANSLATED.get_or_init(|| {
        let all_on: serde_json::Map<String, Value> = FUNCTIONS
            .iter()
            .map(|(_, stem)| (format!("Enable{stem}"), json!("true")))
            .collect();
        run_tool(
            &[
                "translate",
                &template_path().to_string_lossy(),
                &Value::Object(all_on).to_string(),
            ],
            None,
        )
    })
}

pub fn resources(template: &Value) -> &serde_json::Map<String, Value> {
    template["Resources"]
        .as_object()
        .expect("the template has Resources")
}

pub fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    resources(template)
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

/// The logical id a value refers to (`Ref` or `Fn::GetAtt`), if it does.
pub fn referenced(value: &Value) -> Option<&str> {
    if let Some(name) = value.get("Ref").and_then(Value::as_str) {
        return Some(name);
    }
    value
        .get("Fn::GetAtt")
        .and_then(|a| a.get(0))
        .and_then(Value::as_str)
}

/// Both branches of `Fn::If` (not `AWS::NoValue`), or the value itself.
pub fn branches(value: &Value) -> Vec<&Value> {
    match value.get("Fn::If").and_then(Value::as_array) {
        Some(parts) if parts.len() == 3 => parts[1..]
            .iter()
            .filter(|v| v.get("Ref").and_then(Value::as_str) != Some("AWS::NoValue"))
            .flat_map(branches)
            .collect(),
        _ => vec![value],
    }
}

pub fn strings(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        other => branches(other)
            .into_iter()
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().flat_map(strings).collect(),
                v => vec![v],
            })
            .collect(),
    }
}

/// A parameter's default as SAR lists it and the Terraform module compares
/// it: a string, lists joined by commas, "" when it has none.
pub fn parameter_default(parameter: &Value) -> String {
    match &parameter["Default"] {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
            .join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Whether `value` is one the parameter accepts.
pub fn accepts(parameter: &Value, value: &str) -> Result<(), String> {
    if let Some(allowed) = parameter["AllowedValues"].as_array() {
        let ok = allowed.iter().any(|a| match a {
            Value::String(s) => s == value,
            other => value.parse::<Value>().is_ok_and(|v| v == *other),
        });
        if !ok {
            return Err(format!(
                "{value:?} is not one of {parameter}",
                parameter = parameter["AllowedValues"]
            ));
        }
    }
    let max_length = parameter["MaxLength"]
        .as_u64()
        .or_else(|| parameter["MaxLength"].as_str()?.parse().ok());
    // CloudFormation counts characters (UTF-16 units; the template's text
    // settings are ASCII, where they are the same).
    if max_length.is_some_and(|max| value.encode_utf16().count() as u64 > max) {
        return Err(format!(
            "{} characters, above the parameter's MaxLength {}",
            value.encode_utf16().count(),
            parameter["MaxLength"]
        ));
    }
    if parameter["Type"] == "Number" {
        let n: f64 = value
            .parse()
            .map_err(|_| format!("{value:?} is not a number"))?;
        let bound = |key: &str| {
            parameter[key]
                .as_f64()
                .or_else(|| parameter[key].as_str()?.parse().ok())
        };
        if bound("MinValue").is_some_and(|min| n < min)
            || bound("MaxValue").is_some_and(|max| n > max)
        {
            return Err(format!("{value} is outside the parameter's range"));
        }
    }
    if let Some(pattern) = parameter["AllowedPattern"].as_str() {
        // CloudFormation's patterns are Java regular expressions; the ones
        // the template uses mean the same in Rust's syntax.
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 28)
            .build()
            .map_err(|e| format!("pattern {pattern:?}: {e}"))?;
        let items: Vec<&str> = if parameter["Type"] == "CommaDelimitedList" {
            value.split(',').collect()
        } else {
            vec![value]
        };
        if let Some(bad) = items.iter().find(|v| !re.is_match(v)) {
            return Err(format!("{bad:?} does not match {pattern:?}"));
        }
    }
    Ok(())
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".terraform" || name == ".terraform.lock.hcl" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

pub use toilkit_tests::cloudformation::{call as cloudformation, xml_value};
