//! What the template and Terraform tests share: the tools that read
//! `template.yaml`, and the check of a value against a parameter.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};

/// The repository root, from this test crate's own manifest directory (not
/// the support library's: with a build directory shared between checkouts,
/// that one may have been compiled from another checkout).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

/// A tool installed into the project's venv by `cargo xtask setup`.
pub fn require_tool(tool: &str) -> PathBuf {
    let path = root().join(".venv/bin").join(tool);
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask setup` (or `cargo xtask test`, which runs it)",
        path.display()
    );
    path
}

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

pub fn run_tool(args: &[&str], stdin: Option<&str>) -> Value {
    let python = require_tool("python");
    let script = root().join("tools/python/template_tool.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    {
        let mut input = child.stdin.take().expect("stdin is piped");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write to the tool");
        }
    }
    let output = child.wait_with_output().expect("tool ran");
    assert!(
        output.status.success(),
        "template_tool.py {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the tool prints JSON")
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
