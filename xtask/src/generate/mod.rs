//! `cargo xtask gen [--check]`: every copy of the functions' settings,
//! written from their declarations (`SETTINGS` in each `src/config.rs`),
//! and of the parameters both applications share (application.rs),
//! and each function's part of its application's template (template.yaml,
//! or deploy/hub/template.yaml for the hub's), composed from its
//! `template-fragment.yaml` and the boilerplate every function shares.
//!
//! Each target file keeps its hand-written text; only the regions between a
//! `BEGIN generated: <id> ...` line and its `END generated: <id>` line are
//! rewritten. `--check` writes nothing and fails naming every stale file;
//! the test command runs it.

mod application;
mod boilerplate;
mod fragment;
mod hub;
mod markdown;
mod regions;
mod template;
mod terraform;
mod text;

use std::path::{Path, PathBuf};

use shared::config::Setting;

use application::App;

use crate::Result;

/// One function, as the generated files name it.
pub struct Function {
    /// Crate and folder name.
    pub name: &'static str,
    /// The local that the Terraform module's main.tf reads the function's
    /// object variable through (`waf`).
    pub local: &'static str,
    pub settings: &'static [Setting],
}

/// Every function of the registry with its settings declaration.
pub fn functions() -> Vec<Function> {
    with_settings(toilkit_tests::registry::FUNCTIONS)
}

/// The hub application's functions, likewise.
pub fn hub_functions() -> Vec<Function> {
    with_settings(toilkit_tests::registry::HUB_FUNCTIONS)
}

fn with_settings(registered: &[toilkit_tests::registry::Function]) -> Vec<Function> {
    registered
        .iter()
        .map(|f| Function {
            name: f.name,
            local: f.terraform_local,
            settings: settings(f.name).unwrap_or_else(|| {
                panic!(
                    "{}: add its config::SETTINGS to xtask/src/generate/mod.rs",
                    f.name
                )
            }),
        })
        .collect()
}

/// A function's settings, by name: the registry cannot link the function
/// crates, xtask can.
pub fn settings(function: &str) -> Option<&'static [Setting]> {
    Some(match function {
        "waf-ip-blocker" => waf_ip_blocker::config::SETTINGS,
        "rds-audit-notifier" => rds_audit_notifier::config::SETTINGS,
        "maintenance-switch" => maintenance_switch::config::SETTINGS,
        "config-triage" => config_triage::config::SETTINGS,
        "log-retention" => log_retention::config::SETTINGS,
        "access-denied-triage" => access_denied_triage::config::SETTINGS,
        "patch-waves" => patch_waves::config::SETTINGS,
        "hub-collector" => hub_collector::config::SETTINGS,
        _ => return None,
    })
}

/// A file and the text of each of its generated regions, by id.
pub struct Target {
    pub path: PathBuf,
    pub regions: Vec<(String, String)>,
}

/// Every generated region of the repository, from the sources under `root`.
pub fn targets(root: &Path) -> Result<Vec<Target>> {
    let functions = functions();
    let hub = hub_functions();
    let mut targets: Vec<Target> = functions
        .iter()
        .chain(&hub)
        .map(|f| Target {
            path: Path::new("functions").join(f.name).join("README.md"),
            regions: vec![("configuration".to_owned(), markdown::table(f.settings))],
        })
        .collect();
    for (mut target, app) in [
        (template::target(root, &functions)?, App::Product),
        (hub::target(root, &hub)?, App::Hub),
    ] {
        target.regions.extend(application::template_regions(app));
        targets.push(target);
    }
    for (module, functions, app) in [
        (terraform::MODULE, &functions, App::Product),
        (terraform::HUB_MODULE, &hub, App::Hub),
    ] {
        let mut files = terraform::targets(module, functions);
        for (file, id, body) in application::terraform_regions(app) {
            let path = Path::new(module).join(file);
            files
                .iter_mut()
                .find(|t| t.path == path)
                .unwrap_or_else(|| panic!("no target {}", path.display()))
                .regions
                .push((id, body));
        }
        targets.extend(files);
    }
    Ok(targets)
}

pub fn run(args: &[String]) -> Result {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => return Err("usage: cargo xtask gen [--check]".into()),
    };
    let stale = write(&crate::cmd::root(), check)?;
    if check && !stale.is_empty() {
        return Err(format!(
            "generated regions are stale in {}: run `cargo xtask gen` (the settings are declared in each function's src/config.rs, its part of template.yaml in its template-fragment.yaml, the parameters both applications share in xtask/src/generate/application.rs)",
            stale.join(", ")
        )
        .into());
    }
    for path in &stale {
        eprintln!("gen: wrote {path}");
    }
    Ok(())
}

/// Fills every target's regions under `root`; returns the files whose text
/// changed (written unless `check`).
pub fn write(root: &Path, check: bool) -> Result<Vec<String>> {
    let mut changed = Vec::new();
    for target in targets(root)? {
        let path = root.join(&target.path);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let filled = regions::fill(&text, &target.regions)
            .map_err(|e| format!("{}: {e}", target.path.display()))?;
        if filled != text {
            if !check {
                std::fs::write(&path, &filled).map_err(|e| format!("{}: {e}", path.display()))?;
            }
            changed.push(target.path.display().to_string());
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_function_has_its_settings_linked() {
        let missing: Vec<_> = toilkit_tests::registry::names()
            .chain(
                toilkit_tests::registry::HUB_FUNCTIONS
                    .iter()
                    .map(|f| f.name),
            )
            .filter(|name| settings(name).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "no SETTINGS for {missing:?}: add `\"<name>\" => <crate>::config::SETTINGS` to settings() in xtask/src/generate/mod.rs"
        );
    }

    #[test]
    fn the_committed_files_equal_what_the_settings_generate() {
        let stale = write(&crate::cmd::root(), true).unwrap();
        assert!(
            stale.is_empty(),
            "stale generated regions in {stale:?}: run `cargo xtask gen`"
        );
    }

    /// Reads a function's whole configuration, as its cold start does.
    fn read(function: &str, env: &mut shared::config::Env) {
        match function {
            "waf-ip-blocker" => drop(waf_ip_blocker::config::Config::from_env(env)),
            "rds-audit-notifier" => drop(rds_audit_notifier::config::Config::from_env(env)),
            "maintenance-switch" => drop(maintenance_switch::config::Config::from_env(env)),
            "config-triage" => drop(config_triage::config::Config::from_env(env)),
            "log-retention" => drop(log_retention::config::Config::from_env(env)),
            "access-denied-triage" => drop(access_denied_triage::Config::from_env(env)),
            "patch-waves" => drop(patch_waves::Config::from_env(env)),
            "hub-collector" => {
                // The hub reads the result events; it publishes none, and
                // refuses a result bus in its own configuration.
                drop(hub_collector::Config::from_env(env));
                return;
            }
            other => panic!("no configuration reader for {other}"),
        }
        let _ = shared::events::Publisher::bus_from_env(env);
        let _ = shared::events::Publisher::label_from_env(env);
    }

    #[test]
    fn every_function_reads_exactly_the_variables_it_declares() {
        for f in functions().iter().chain(&hub_functions()) {
            let declared: std::collections::BTreeSet<&str> =
                f.settings.iter().map(|s| s.name).collect();
            // Every variable set to its example, so that the reads which
            // depend on another setting (CLIENT_IP_HOP on CLIENT_IP_HEADER)
            // happen too.
            let mut env =
                shared::config::Env::from_pairs(f.settings.iter().map(|s| (s.name, s.example)));
            read(f.name, &mut env);
            let read = env.read();
            let undeclared: Vec<_> = read.difference(&declared).collect();
            let unread: Vec<_> = declared.difference(&read).collect();
            assert!(
                undeclared.is_empty() && unread.is_empty(),
                "{}: reads {undeclared:?} without declaring them; declares {unread:?} without reading them",
                f.name
            );
        }
    }

    #[test]
    fn every_declared_default_and_example_is_a_valid_value() {
        for f in functions().iter().chain(&hub_functions()) {
            for s in f.settings {
                let mut env = shared::config::Env::from_pairs([(s.name, s.example)]);
                read(f.name, &mut env);
                let problems = env.finish().err().map(|e| e.problems).unwrap_or_default();
                let own: Vec<_> = problems.iter().filter(|p| p.variable == s.name).collect();
                assert!(
                    own.is_empty(),
                    "{}: the example of {} is refused: {own:?}",
                    f.name,
                    s.name
                );
                if let Some(default) = s.default {
                    let mut env = shared::config::Env::from_pairs([(s.name, default)]);
                    read(f.name, &mut env);
                    let problems = env.finish().err().map(|e| e.problems).unwrap_or_default();
                    assert!(
                        problems.iter().all(|p| p.variable != s.name),
                        "{}: the default of {} is refused: {problems:?}",
                        f.name,
                        s.name
                    );
                }
            }
        }
    }

    /// The configuration fuzz target lives in a workspace of its own and
    /// cannot read the registry: it lists the functions' settings itself,
    /// which this holds equal to the registry, in order (the first input
    /// byte picks the function by index).
    #[test]
    fn the_configuration_fuzz_target_covers_every_registered_function() {
        let path = crate::cmd::root().join("fuzz/fuzz_targets/config_env.rs");
        let target = std::fs::read_to_string(&path).unwrap();
        let list = target
            .split_once("const FUNCTIONS")
            .and_then(|(_, rest)| rest.split_once("= ["))
            .and_then(|(_, rest)| rest.split_once("];"))
            .map(|(list, _)| list)
            .expect("config_env.rs declares `const FUNCTIONS: [&[Setting]; N] = [...];`");
        let listed: Vec<&str> = list
            .lines()
            .filter_map(|line| line.trim().strip_suffix("::config::SETTINGS,"))
            .collect();
        let registered: Vec<String> = toilkit_tests::registry::names()
            .map(|name| name.replace('-', "_"))
            .collect();
        assert_eq!(
            listed, registered,
            "fuzz/fuzz_targets/config_env.rs: FUNCTIONS must list each registered function's config::SETTINGS in registry order, with one match arm each"
        );
        for (index, function) in registered.iter().enumerate() {
            assert!(
                target.contains(&format!("        {index} => {{")),
                "fuzz/fuzz_targets/config_env.rs has no match arm for function {index} ({function})"
            );
        }
    }

    #[test]
    fn every_function_declares_each_variable_once() {
        for f in functions().iter().chain(&hub_functions()) {
            let mut names: Vec<&str> = f.settings.iter().map(|s| s.name).collect();
            names.sort_unstable();
            let count = names.len();
            names.dedup();
            assert_eq!(names.len(), count, "{} declares a variable twice", f.name);
        }
    }
}
