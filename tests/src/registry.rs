//! The functions of toilkit, listed once.
//!
//! Packaging, the demo, the benchmarks, the generator and the template and
//! Terraform tests all walk this list, so a new function is one entry here
//! (the README's "Adding a function" names the few other places). Each
//! function's settings stay in its own `src/config.rs`: this crate cannot
//! link the function crates (they use it for their tests), so xtask looks
//! their `SETTINGS` up by name and a test there checks every entry has one.

/// One function, as the repository's tooling names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    /// Its folder under `functions/`, its crate and its binary.
    pub name: &'static str,
    /// The stem of its logical ids in `template.yaml`: `{stem}Function`,
    /// `{stem}Role`, `Enable{stem}`, ...
    pub stem: &'static str,
    /// The local through which the Terraform module's main.tf reads the
    /// function's object variable (`local.waf`).
    pub terraform_local: &'static str,
    /// What it does, in one line (the demo's heading).
    pub summary: &'static str,
    /// Whether an issue asks for a workload benchmark
    /// (`functions/<name>/benches/<name>.rs`), which `cargo xtask bench` runs.
    pub workload: bool,
}

/// The file in `functions/<name>/` that holds the function's own part of
/// `template.yaml` (its triggers, grants, resources); `cargo xtask gen` adds
/// what every function has and composes the template.
pub const TEMPLATE_FRAGMENT: &str = "template-fragment.yaml";

impl Function {
    /// Its template fragment, from the repository root.
    pub fn template_fragment(&self) -> String {
        format!("functions/{}/{TEMPLATE_FRAGMENT}", self.name)
    }
}

pub const FUNCTIONS: &[Function] = &[
    Function {
        name: "waf-ip-blocker",
        stem: "WafIpBlocker",
        terraform_local: "waf",
        summary: "block attacking IPs from WAF logs",
        workload: true,
    },
    Function {
        name: "rds-audit-notifier",
        stem: "RdsAuditNotifier",
        terraform_local: "rds",
        summary: "important RDS audit events to Slack",
        workload: true,
    },
    Function {
        name: "maintenance-switch",
        stem: "MaintenanceSwitch",
        terraform_local: "maintenance",
        summary: "an ALB maintenance window",
        workload: false,
    },
    Function {
        name: "config-triage",
        stem: "ConfigTriage",
        terraform_local: "config",
        summary: "AWS Config compliance changes, triaged",
        workload: false,
    },
    Function {
        name: "log-retention",
        stem: "LogRetention",
        terraform_local: "logs",
        summary: "log retention and pruning",
        workload: true,
    },
    Function {
        name: "access-denied-triage",
        stem: "AccessDeniedTriage",
        terraform_local: "denied",
        summary: "denied API calls from CloudTrail, triaged",
        workload: true,
    },
    Function {
        name: "patch-waves",
        stem: "PatchWaves",
        terraform_local: "patch",
        summary: "EC2 patch coverage and state, reported by owner",
        workload: true,
    },
];

/// The functions of the second application, toilkit-hub, deployed once in
/// a central account: its own template and Terraform module, so the
/// product application's tooling (its template, its module, its
/// environment budget) does not walk them.
pub const HUB_FUNCTIONS: &[Function] = &[Function {
    name: "hub-collector",
    stem: "HubCollector",
    terraform_local: "collector",
    summary: "every account's results in one place, a dashboard and a heartbeat",
    workload: true,
}];

/// A function of either application, by name.
pub fn find(name: &str) -> Option<&'static Function> {
    FUNCTIONS
        .iter()
        .chain(HUB_FUNCTIONS)
        .find(|f| f.name == name)
}

/// The names, in registry order.
pub fn names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|f| f.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry and the `functions/` folders name the same functions.
    #[test]
    fn every_function_folder_has_an_entry_and_every_entry_a_folder() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("tests/ sits in the workspace root")
            .join("functions");
        let mut folders: Vec<String> = std::fs::read_dir(&root)
            .expect("functions/ is readable")
            .map(|e| e.expect("a directory entry"))
            .filter(|e| e.path().join("Cargo.toml").is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        folders.sort_unstable();
        let mut problems = Vec::new();
        for folder in &folders {
            if find(folder).is_none() {
                problems.push(format!(
                    "functions/{folder} has no entry: add `Function {{ name: \"{folder}\", .. }}` to FUNCTIONS in tests/src/registry.rs"
                ));
            }
        }
        for f in FUNCTIONS.iter().chain(HUB_FUNCTIONS) {
            if !folders.iter().any(|folder| folder == f.name) {
                problems.push(format!(
                    "the registry lists {} but functions/{}/Cargo.toml does not exist: add the crate or remove the entry from tests/src/registry.rs",
                    f.name, f.name
                ));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn names_and_stems_are_unique() {
        let all: Vec<&Function> = FUNCTIONS.iter().chain(HUB_FUNCTIONS).collect();
        for (i, f) in all.iter().enumerate() {
            for g in &all[i + 1..] {
                assert_ne!(f.name, g.name, "a function is listed twice");
                assert_ne!(
                    f.stem, g.stem,
                    "{} and {} share a template stem",
                    f.name, g.name
                );
                assert_ne!(
                    f.terraform_local, g.terraform_local,
                    "{} and {} share a Terraform local",
                    f.name, g.name
                );
            }
        }
    }
}
