//! What the Serverless Application Repository needs: resource types it
//! accepts, complete metadata, functions that build, parameters described
//! and constrained.

use std::collections::BTreeSet;

use serde_json::json;

use crate::distribution::*;

use super::sar_supported;

#[test]
fn only_resource_types_the_repository_supports() {
    let supported = sar_supported();
    for (label, t) in [
        ("template.yaml", template()),
        ("after the SAM transform", translated()),
    ] {
        let unsupported: BTreeSet<&str> = resources(t)
            .values()
            .filter_map(|r| r["Type"].as_str())
            .filter(|kind| !supported.contains(*kind))
            .collect();
        assert!(
            unsupported.is_empty(),
            "{label} uses resource types the Serverless Application Repository does not support: {unsupported:?}"
        );
    }
}

#[test]
fn the_repository_metadata_is_complete() {
    let app = &template()["Metadata"]["AWS::ServerlessRepo::Application"];
    for field in [
        "Name",
        "Description",
        "Author",
        "SpdxLicenseId",
        "LicenseUrl",
        "ReadmeUrl",
        "Labels",
        "SemanticVersion",
        "SourceCodeUrl",
    ] {
        assert!(
            !app[field].is_null(),
            "AWS::ServerlessRepo::Application lacks {field}"
        );
    }
    assert_eq!(app["SpdxLicenseId"], "Apache-2.0");
    let license = std::fs::read_to_string(root().join(app["LicenseUrl"].as_str().unwrap()))
        .expect("LicenseUrl names a file of the repository");
    assert!(license.contains("Apache License") && license.contains("Version 2.0, January 2004"));
    assert!(
        root().join(app["ReadmeUrl"].as_str().unwrap()).is_file(),
        "ReadmeUrl names a file of the repository"
    );
    // SAR's limits: description 1-256 characters, 1-10 labels of 1-127
    // characters from [a-zA-Z0-9+\-_:\/@].
    let description = app["Description"].as_str().unwrap();
    assert!(
        (1..=256).contains(&description.len()),
        "Description is {} characters",
        description.len()
    );
    let labels = app["Labels"].as_array().unwrap();
    assert!((1..=10).contains(&labels.len()));
    for label in labels {
        let label = label.as_str().unwrap();
        assert!(
            (1..=127).contains(&label.len())
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-_:/@".contains(c)),
            "label {label:?}"
        );
    }
    // The application version is the crates' version.
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let workspace_version = manifest
        .lines()
        .skip_while(|l| l.trim() != "[workspace.package]")
        .find_map(|l| l.trim().strip_prefix("version = "))
        .map(|v| v.trim_matches('"').to_owned())
        .expect("[workspace.package] version");
    assert_eq!(app["SemanticVersion"], workspace_version.as_str());
}

#[test]
fn functions_build_with_cargo_lambda_behind_their_own_switch() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
    for field in ["Architectures", "MemorySize", "Timeout"] {
        assert!(!globals[field].is_null(), "Globals.Function.{field}");
    }
    let serverless = of_type(t, "AWS::Serverless::Function");
    assert_eq!(serverless.len(), FUNCTIONS.len());
    for (name, stem) in FUNCTIONS {
        let function = &resources(t)[&format!("{stem}Function")];
        assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda");
        assert_eq!(function["Metadata"]["BuildProperties"]["Binary"], name);
        assert!(
            root()
                .join("functions")
                .join(name)
                .join("Cargo.toml")
                .is_file(),
            "{name} is a crate of the workspace"
        );
        let parameter = &t["Parameters"][format!("Enable{stem}")];
        assert_eq!(parameter["AllowedValues"], json!(["true", "false"]));
        assert_eq!(
            t["Conditions"][format!("{stem}Enabled")],
            json!({"Fn::Equals": [{"Ref": format!("Enable{stem}")}, "true"]})
        );
        // Everything of the function goes with its switch.
        for (id, resource) in resources(t) {
            if id.starts_with(stem)
                && resource["Type"] != "AWS::CloudFormation::WaitConditionHandle"
            {
                let condition = resource["Condition"].as_str().unwrap_or_default();
                assert!(
                    !condition.is_empty(),
                    "{id} has no condition: it would outlive Enable{stem}=false"
                );
            }
        }
    }
}

#[test]
fn every_parameter_is_described_and_constrained() {
    let parameters = template()["Parameters"].as_object().unwrap();
    for (name, p) in parameters {
        let description = p["Description"].as_str().unwrap_or_default();
        assert!(description.len() >= 10, "{name} needs a description");
        let constrained = match p["Type"].as_str().unwrap() {
            "Number" => {
                !p["AllowedValues"].is_null()
                    || !p["MinValue"].is_null()
                    || !p["MaxValue"].is_null()
            }
            _ => !p["AllowedValues"].is_null() || !p["AllowedPattern"].is_null(),
        };
        assert!(
            constrained,
            "{name} needs AllowedValues, AllowedPattern or a range"
        );
    }
}
