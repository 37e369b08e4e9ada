//! What a function is started with for the cold-start benchmark: a valid
//! configuration, and the AWS services it builds clients for.
//!
//! The configuration comes from the function's own README (the `Example`
//! column of its configuration table, which a drift test keeps in step with
//! the template), so the benchmark starts each function as an operator's
//! documented deployment would, without a second list to keep up to date.
//! The services come from the function's `aws-sdk-*` dependencies; the Python
//! equivalent builds one boto3 client for each.

use std::path::Path;

use crate::Result;

/// One row of a README configuration table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub required: bool,
    pub example: Option<String>,
}

/// How one function is started.
#[derive(Debug, Clone)]
pub struct Profile {
    pub function: String,
    pub env: Vec<(String, String)>,
    /// boto3 service names, one per SDK client the function builds.
    pub boto3_services: Vec<String>,
    /// The event of the one invocation measured after init, and its name.
    pub probe: (&'static str, serde_json::Value),
}

/// The event each function is invoked with once after init, so that the
/// peak resident set includes a first invocation (the first SDK call opens
/// connections and fills caches). The account behind it is empty: the point
/// is the memory of a real code path, not its result.
fn probe(function: &str) -> Result<(&'static str, serde_json::Value)> {
    let sample = match function {
        "rds-audit-notifier" => "cloudwatch-logs-subscription.json",
        "config-triage" => "config-compliance-change.json",
        "maintenance-switch" => {
            return Ok((
                "{\"action\": \"status\"}",
                serde_json::json!({"action": "status"}),
            ));
        }
        // waf-ip-blocker: expire and reconcile; log-retention: the sweep.
        _ => "scheduled-event.json",
    };
    let text = std::fs::read_to_string(toilkit_tests::workspace::samples_dir().join(sample))?;
    Ok((sample, serde_json::from_str(&text)?))
}

/// Optional variables set on top of the required ones, so that the clients
/// behind them are built at init too (as in a typical deployment), where the
/// README's example alone would not make a consistent configuration.
fn extra_variables(function: &str) -> &'static [&'static str] {
    match function {
        "waf-ip-blocker" => &["IPSET_V6_ARN", "SLACK_WEBHOOK_SECRET_ARN"],
        // One of the two Slack variables is required; the README marks
        // neither alone as required.
        "rds-audit-notifier" => &["SLACK_WEBHOOK_SECRET_ARN", "IDEMPOTENCY_TABLE"],
        "config-triage" => &["SLACK_WEBHOOK_SECRET_ARN", "CRITICAL_TOPIC_ARN"],
        _ => &[],
    }
}

pub fn load(root: &Path, function: &str) -> Result<Profile> {
    let dir = root.join("functions").join(function);
    let readme = std::fs::read_to_string(dir.join("README.md"))
        .map_err(|e| format!("{function}: no README with a configuration table yet ({e})"))?;
    let variables = configuration_table(&readme);
    if variables.is_empty() {
        return Err(format!("{function}: its README has no `## Configuration` table").into());
    }
    let extras = extra_variables(function);
    let mut env = Vec::new();
    for variable in &variables {
        if !(variable.required || extras.contains(&variable.name.as_str())) {
            continue;
        }
        let Some(example) = &variable.example else {
            return Err(format!(
                "{function}: README gives no example for required {}",
                variable.name
            )
            .into());
        };
        env.push((variable.name.clone(), example.clone()));
    }
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml"))?;
    let mut services = boto3_services(&manifest);
    // shared's SecretStore builds a Secrets Manager and an SSM client.
    if sources_mention(&dir.join("src"), "SecretStore") {
        services.extend(["secretsmanager".to_owned(), "ssm".to_owned()]);
        services.sort();
        services.dedup();
    }
    Ok(Profile {
        function: function.to_owned(),
        env,
        boto3_services: services,
        probe: probe(function)?,
    })
}

fn sources_mention(dir: &Path, needle: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            sources_mention(&path, needle)
        } else {
            std::fs::read_to_string(&path).is_ok_and(|text| text.contains(needle))
        }
    })
}

/// The rows of the table under `## Configuration`.
pub fn configuration_table(readme: &str) -> Vec<Variable> {
    let mut rows = Vec::new();
    let mut in_section = false;
    for line in readme.lines() {
        if line.starts_with("## ") {
            in_section = line.trim() == "## Configuration";
            continue;
        }
        if !in_section || !line.trim_start().starts_with('|') {
            continue;
        }
        let cells = cells(line);
        if cells.len() < 4 {
            continue;
        }
        let name = unquote(&cells[0]);
        // Header and separator rows have no backticked variable name.
        if !cells[0].trim().starts_with('`') || name.is_empty() {
            continue;
        }
        let example = unquote(&cells[3]);
        rows.push(Variable {
            name,
            required: cells[1].trim().eq_ignore_ascii_case("yes"),
            example: (!example.is_empty() && example != "—" && example != "-").then_some(example),
        });
    }
    rows
}

/// Splits a Markdown table row on `|`, honouring `\|` inside a cell.
fn cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = line.trim().trim_start_matches('|').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    if !cell.trim().is_empty() {
        cells.push(cell);
    }
    cells
}

/// A cell's value without its surrounding backticks.
fn unquote(cell: &str) -> String {
    let cell = cell.trim();
    cell.strip_prefix('`')
        .and_then(|c| c.strip_suffix('`'))
        .unwrap_or(cell)
        .to_owned()
}

/// boto3's name for each `aws-sdk-*` crate in the manifest's
/// `[dependencies]` (test-only clients are not part of the function).
pub fn boto3_services(manifest: &str) -> Vec<String> {
    let mut section = "";
    let mut services: Vec<String> = manifest
        .lines()
        .map(str::trim)
        .filter(|line| {
            if line.starts_with('[') {
                section = line;
            }
            section == "[dependencies]"
        })
        .filter_map(|line| line.strip_prefix("aws-sdk-"))
        .filter_map(|rest| rest.split(['.', ' ', '=']).next())
        .map(|name| boto3_name(name).to_owned())
        .collect();
    services.sort();
    services.dedup();
    services
}

fn boto3_name(sdk_crate: &str) -> &str {
    match sdk_crate {
        "cloudwatchlogs" => "logs",
        "elasticloadbalancingv2" => "elbv2",
        "eventbridge" => "events",
        "resourcegroupstagging" => "resourcegroupstaggingapi",
        "sfn" => "stepfunctions",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_table_gives_names_requirement_and_examples() {
        let readme = "# x\n\n## Configuration\n\
            | Variable | Required | Default | Example | Meaning |\n\
            |---|---|---|---|---|\n\
            | `THRESHOLD` | yes | — | `100` | Requests per window. |\n\
            | `URI_RULES` | no | — | `[{\"path\": \"/a\\|b\"}]` | Rules. |\n\
            | `NOTE` | no | `x` | — | No example. |\n\
            \n## Safety\n| `NOT_CONFIG` | yes | — | `1` | elsewhere |\n";
        let rows = configuration_table(readme);
        assert_eq!(rows.len(), 3, "{rows:?}");
        assert_eq!(
            rows[0],
            Variable {
                name: "THRESHOLD".into(),
                required: true,
                example: Some("100".into())
            }
        );
        assert_eq!(rows[1].example.as_deref(), Some("[{\"path\": \"/a|b\"}]"));
        assert!(!rows[1].required);
        assert_eq!(rows[2].example, None);
    }

    #[test]
    fn sdk_crates_map_to_boto3_service_names() {
        let manifest = "[dependencies]\naws-sdk-wafv2.workspace = true\n\
            aws-sdk-cloudwatchlogs = { workspace = true }\naws-sdk-sfn.workspace = true\n\
            aws-sdk-s3.workspace = true\n[dev-dependencies]\naws-sdk-s3.workspace = true\n";
        assert_eq!(
            boto3_services(manifest),
            ["logs", "s3", "stepfunctions", "wafv2"]
        );
    }
}
