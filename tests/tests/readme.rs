//! The README documents the report's JSON and the result event's; this
//! keeps them in step with the code.

use std::collections::BTreeSet;

use serde_json::json;
use shared::envelope::{Envelope, Item};
use shared::report::{Action, Report};

/// The README's text after `marker`.
fn after(marker: &str) -> String {
    let readme =
        std::fs::read_to_string(toilkit_tests::workspace::root().join("README.md")).unwrap();
    readme
        .split(marker)
        .nth(1)
        .unwrap_or_else(|| panic!("README has {marker}"))
        .to_owned()
}

/// The JSON block following `marker`.
fn documented_json(marker: &str) -> serde_json::Value {
    let after_marker = after(marker);
    let block = after_marker
        .split("```json")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a json block follows the marker");
    serde_json::from_str(block).expect("the README's example is valid JSON")
}

fn documented_report() -> serde_json::Value {
    documented_json("<!-- report-example -->")
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
fn the_result_event_in_the_readme_is_an_envelope_with_exactly_the_documented_fields() {
    let marker = "<!-- result-event-example -->";
    let event = documented_json(marker);
    assert_eq!(event["source"], "toilkit");
    let detail = event["detail"].clone();
    let envelope: Envelope = serde_json::from_value(detail.clone())
        .unwrap_or_else(|e| panic!("the README's detail is not an envelope: {e}"));
    assert_eq!(
        event["detail-type"],
        format!("{} report", envelope.function),
        "the detail type names the function"
    );
    assert_eq!(envelope.schema_version, shared::envelope::SCHEMA_VERSION);
    assert_eq!(event["account"], json!(envelope.account));
    assert_eq!(event["region"], json!(envelope.region));
    // Read back the same: the example holds nothing the type would drop or
    // write otherwise.
    assert_eq!(serde_json::to_value(&envelope).unwrap(), detail);
    assert_eq!(
        envelope.items_total,
        envelope.items.len() as u64 + envelope.items_omitted
    );

    // The field table that follows the example names every field the type
    // can write, and no other.
    let after_example = after(marker)
        .split("```json")
        .nth(1)
        .and_then(|rest| rest.split("```").nth(1))
        .expect("a table follows the example")
        .to_owned();
    let table: Vec<String> = after_example
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| l.split('|').nth(1).unwrap_or_default().to_owned())
        .collect();
    let documented: BTreeSet<String> = table
        .iter()
        .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_owned))
        .collect();
    let mut every = envelope.clone();
    every.stop_reason = Some("deadline".into());
    every.error = Some("Throttled".into());
    every
        .items_omitted_by_kind
        .insert("blocked_address".into(), 1);
    let written: BTreeSet<String> = serde_json::to_value(&every)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(documented, written, "README fields against the envelope's");
    let item = serde_json::to_value(Item::open("k", "x").with("f", 1)).unwrap();
    let item_fields: Vec<&String> = item.as_object().unwrap().keys().collect();
    let items_row = table.iter().position(|c| c.contains("`items`")).unwrap();
    let items_meaning = after_example
        .lines()
        .find(|l| l.starts_with(&format!("|{}|", table[items_row])))
        .unwrap_or_default()
        .to_owned();
    for field in item_fields {
        assert!(
            items_meaning.contains(&format!("`{field}`")),
            "the items row names {field}: {items_meaning}"
        );
    }
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

/// A number at the start of `text` ("8,640", "$0.0000166667", "0.644 s").
fn leading_number(text: &str) -> f64 {
    let digits: String = text
        .trim()
        .trim_start_matches('$')
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{text:?} starts with no number"))
}

#[test]
fn the_cost_table_arithmetic_gives_each_rows_cost_and_the_total() {
    let readme =
        std::fs::read_to_string(toilkit_tests::workspace::root().join("README.md")).unwrap();
    let table = readme
        .split("<!-- cost-table -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- /cost-table -->").next())
        .expect("README marks its cost table");
    let mut total = 0.0;
    let mut rows = 0;
    let mut problems = Vec::new();
    for line in table.lines().skip(3).filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        assert_eq!(cells.len(), 4, "{line}");
        // "a × b × c / d": products, and one divisor at most.
        let (product, divisor) = cells[2].split_once(" / ").unwrap_or((cells[2], "1"));
        let computed: f64 =
            product.split(" × ").map(leading_number).product::<f64>() / leading_number(divisor);
        let stated_text = cells[3].trim().trim_start_matches('$');
        let stated = leading_number(stated_text);
        let decimals = stated_text.split('.').nth(1).map_or(0, str::len);
        // Within the rounding of the stated figure.
        if (computed - stated).abs() > 0.5 * 10f64.powi(-(decimals as i32)) + 1e-12 {
            problems.push(format!(
                "{}: {} = {computed:.6}, the table says {stated}",
                cells[0], cells[2]
            ));
        }
        total += stated;
        rows += 1;
    }
    assert!(rows >= 10, "the table has its rows: {rows}");
    assert!(problems.is_empty(), "\n  - {}", problems.join("\n  - "));
    let summary = format!("About **${total:.2} a month**");
    assert!(
        readme.contains(&summary),
        "the README states the table's total: {summary}"
    );
}

/// The README's "Adding a function" names the places outside the function's
/// folder that a new function needs: each must exist, there are at most five
/// of them, and template.yaml is not one (the fragment in the folder is).
#[test]
fn every_place_named_in_adding_a_function_exists() {
    let root = toilkit_tests::workspace::root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split("\n## Adding a function\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has an \"Adding a function\" section");
    let steps = section
        .lines()
        .filter(|l| {
            l.split_once(". ")
                .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        })
        .count();
    assert!(
        (1..=5).contains(&steps),
        "\"Adding a function\" lists {steps} places; the promise is at most five"
    );
    // The paragraph before the list speaks of the function's own folder.
    let places = &section[section.find("\n1. ").expect("a numbered list")..];
    let paths: Vec<&str> = places
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| {
            !quoted.contains(['<', '*', ' '])
                && (quoted.contains('/') || quoted.ends_with(".yaml") || quoted.ends_with(".toml"))
        })
        .collect();
    assert!(
        paths.contains(&"tests/src/registry.rs"),
        "the section names the registry: {paths:?}"
    );
    // The template is no longer a place to edit: the function's part of it
    // sits in its folder, where the paragraph before the list says.
    let list = &places[..places.find("\n\n").unwrap_or(places.len())];
    assert!(
        !list.contains("`template.yaml`"),
        "\"Adding a function\" sends the reader to template.yaml; its part is the fragment"
    );
    let fragment = toilkit_tests::registry::TEMPLATE_FRAGMENT;
    assert!(
        section[..section.len() - places.len()].contains(&format!("`functions/<name>/{fragment}`")),
        "the section names the fragment, functions/<name>/{fragment}"
    );
    for f in toilkit_tests::registry::FUNCTIONS {
        let path = format!("functions/{}/{fragment}", f.name);
        assert!(root.join(&path).is_file(), "{path} does not exist");
    }
    let missing: Vec<_> = paths
        .iter()
        .filter(|path| !root.join(path).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "\"Adding a function\" names places that do not exist: {missing:?}"
    );
}
