//! The template's checks, one concept per module.

use std::collections::BTreeSet;

use crate::distribution::root;

mod boilerplate;
mod data_at_rest;
mod environment_size;
mod event_patterns;
mod hub;
mod iam;
mod lint;
mod sar;
mod sdk_calls;
mod settings;
mod stackset;

/// The resource types the Serverless Application Repository accepts
/// (tests/template-support/sar-supported-resources.txt): `sam publish`
/// refuses any other.
fn sar_supported() -> BTreeSet<String> {
    let path = root().join("tests/template-support/sar-supported-resources.txt");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The Query API pairs of a CreateStack call (CAPABILITY_IAM) of
/// `template_body` as `stack`, with these parameters.
fn create_stack(
    stack: &str,
    template_body: &str,
    parameters: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = vec![
        ("Action".into(), "CreateStack".into()),
        ("StackName".into(), stack.into()),
        ("TemplateBody".into(), template_body.into()),
        ("Capabilities.member.1".into(), "CAPABILITY_IAM".into()),
    ];
    for (i, (key, value)) in parameters.iter().enumerate() {
        pairs.push((
            format!("Parameters.member.{}.ParameterKey", i + 1),
            (*key).into(),
        ));
        pairs.push((
            format!("Parameters.member.{}.ParameterValue", i + 1),
            (*value).into(),
        ));
    }
    pairs
}
