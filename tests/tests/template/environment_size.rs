//! Lambda's 4 KB environment: no function's can exceed it, whatever the
//! parameters hold.

use serde_json::Value;

use crate::distribution::*;

/// The longest value, in bytes, that CloudFormation lets a parameter take:
/// from AllowedValues, a Number's bounds, or MaxLength and AllowedPattern.
/// A pattern that admits characters outside ASCII counts 4 bytes (UTF-8's
/// longest) for each character MaxLength allows. `None`: unbounded.
fn worst_parameter_bytes(parameter: &Value) -> Option<usize> {
    if let Some(values) = parameter["AllowedValues"].as_array() {
        return values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string().len(), str::len))
            .max();
    }
    if parameter["Type"] == "Number" {
        // The functions take whole numbers; the longest is a bound's digits.
        let digits = |key: &str| parameter[key].as_i64().map(|n| n.to_string().len());
        return Some(digits("MaxValue")?.max(digits("MinValue").unwrap_or(1)));
    }
    let max_length = parameter["MaxLength"]
        .as_u64()
        .or_else(|| parameter["MaxLength"].as_str()?.parse().ok())
        .map(|n| n as usize);
    let Some(pattern) = parameter["AllowedPattern"].as_str() else {
        return max_length.map(|n| n * 4);
    };
    // Java's `\s` and `\x..` are ASCII, as in regex-syntax without Unicode;
    // a pattern that could then match non-UTF-8 bytes admits non-ASCII.
    let ascii = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .build()
        .parse(pattern)
        .ok();
    match ascii {
        Some(hir) => match (hir.properties().maximum_len(), max_length) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
        None => max_length.map(|n| n * 4),
    }
}

/// The longest a `Fn::Sub` string can become: pseudo parameters at their
/// longest (partition "aws-us-gov" and Regions well under these), template
/// parameters at theirs.
fn worst_sub_bytes(template: &Value, text: &str) -> Option<usize> {
    let mut total = 0;
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        total += start;
        let end = rest[start..].find('}')? + start;
        total += match &rest[start + 2..end] {
            "AWS::Partition" => 16,
            "AWS::Region" => 20,
            "AWS::AccountId" => 12,
            name => worst_parameter_bytes(&template["Parameters"][name])?,
        };
        rest = &rest[end + 1..];
    }
    Some(total + rest.len())
}

#[test]
fn no_function_environment_can_exceed_the_4_kb_lambda_allows() {
    // Lambda: "The total size of all environment variables doesn't exceed
    // 4 KB" (names and values). CloudFormation cannot add lengths up, so each
    // parameter's MaxLength is chosen for this sum to stay under it whatever
    // an operator sets.
    check_environments(template(), FUNCTIONS.len());
}

/// The hub's collector, likewise.
#[test]
fn the_hub_collector_environment_cannot_exceed_the_4_kb_lambda_allows() {
    let path = root().join("deploy/hub/template.yaml");
    check_environments(&run_tool(&["decode", &path.to_string_lossy()], None), 1);
}

/// Every function of `t` (there are `count`), its variables at their
/// longest, stays within 4 KB.
fn check_environments(t: &Value, count: usize) {
    let mut problems = Vec::new();
    let mut sizes = Vec::new();
    for (id, function) in of_type(t, "AWS::Serverless::Function") {
        let variables = function["Properties"]["Environment"]["Variables"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut total = 0;
        for (name, value) in &variables {
            let worst = if let Some(text) = value.as_str() {
                Some(text.len())
            } else if let Some(name) = value.get("Ref").and_then(Value::as_str) {
                match t["Parameters"].get(name) {
                    Some(parameter) => worst_parameter_bytes(parameter),
                    // A table's generated name: DynamoDB allows 255 (a
                    // bucket's, 63).
                    None => Some(255),
                }
            } else if let Some(text) = value.get("Fn::Sub").and_then(Value::as_str) {
                worst_sub_bytes(t, text)
            } else {
                None
            };
            match worst {
                Some(bytes) => total += name.len() + bytes,
                None => problems.push(format!(
                    "{id}: {name} = {value} has no bound (give its parameter a MaxLength, AllowedValues or MaxValue)"
                )),
            }
        }
        sizes.push(format!("{id}: {total} bytes"));
        if total > 4096 {
            problems.push(format!(
                "{id}: its variables can reach {total} bytes, above Lambda's 4096"
            ));
        }
    }
    assert_eq!(sizes.len(), count, "every function counted: {sizes:?}");
    assert!(
        problems.is_empty(),
        "{}\n  - {}",
        sizes.join(", "),
        problems.join("\n  - ")
    );
    eprintln!("worst-case environments: {}", sizes.join(", "));
}
