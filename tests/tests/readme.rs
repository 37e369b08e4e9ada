//! The README documents the report's JSON; this keeps the two in step.

use serde_json::json;
use shared::report::{Action, Report};

fn documented_report() -> serde_json::Value {
    let readme =
        std::fs::read_to_string(toilkit_tests::workspace::root().join("README.md")).unwrap();
    let after_marker = readme
        .split("<!-- report-example -->")
        .nth(1)
        .expect("README marks its report example");
    let block = after_marker
        .split("```json")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a json block follows the marker");
    serde_json::from_str(block).expect("the README's example is valid JSON")
}

#[test]
fn a_report_serializes_to_the_json_documented_in_the_readme() {
    let mut report = Report::new("log-retention", false);
    let action = Action::new(
        "set_retention",
        "/aws/lambda/api",
        "no retention; rule prefix /aws/lambda/",
    )
    .with_detail(json!({"before": null, "after": 14}));
    report.plan(action.clone());
    report.applied(action);
    report.skip("/audit/trail", "exempt: tag toilkit:keep");
    report.fail(
        "/ecs/web",
        "set_retention",
        "ThrottlingException: Rate exceeded",
    );
    report.add("groups_scanned", 3);
    report.stop_early("deadline: 5 s left; resumes from /ecs/web on the next run");

    assert_eq!(serde_json::to_value(&report).unwrap(), documented_report());
}

#[test]
fn the_readme_starts_with_the_two_commands_and_ci_runs_the_test_one() {
    let root = toilkit_tests::workspace::root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let first_block = readme
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    assert!(first_block.contains("cargo xtask demo"));
    assert!(first_block.contains("cargo xtask test"));
    let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
    assert!(
        ci.lines().any(|l| l.trim() == "exec cargo xtask test"),
        "{ci}"
    );
}
