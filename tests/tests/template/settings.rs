//! Configuration: what generation from the settings cannot guarantee.

use crate::distribution::*;

/// Each function's settings, as declared in its `src/config.rs`, in the
/// registry's order.
fn settings() -> Vec<(&'static str, &'static [shared::config::Setting])> {
    FUNCTIONS
        .iter()
        .map(|&(name, _)| {
            let settings = match name {
                "waf-ip-blocker" => waf_ip_blocker::config::SETTINGS,
                "rds-audit-notifier" => rds_audit_notifier::config::SETTINGS,
                "maintenance-switch" => maintenance_switch::config::SETTINGS,
                "config-triage" => config_triage::config::SETTINGS,
                "log-retention" => log_retention::config::SETTINGS,
                "access-denied-triage" => access_denied_triage::config::SETTINGS,
                "patch-waves" => patch_waves::config::SETTINGS,
                other => panic!(
                    "{other}: add its config::SETTINGS to settings() in tests/tests/template/settings.rs"
                ),
            };
            (name, settings)
        })
        .collect()
}

/// `cargo xtask gen` writes each parameter from its setting, so they agree
/// by construction; what it cannot see is whether the constraint it copied
/// admits the values the README documents. Each must deploy.
#[test]
fn every_documented_example_and_default_is_accepted_by_its_parameter() {
    let t = template();
    let mut problems = Vec::new();
    for (function, settings) in settings() {
        for setting in settings {
            let parameter_name = match &setting.source {
                shared::config::Source::Parameter(p) => p.name,
                shared::config::Source::SharedParameter(name) => name,
                _ => continue,
            };
            let parameter = &t["Parameters"][parameter_name];
            if parameter.is_null() {
                problems.push(format!(
                    "{function}: {} is set from parameter {parameter_name}, which template.yaml lacks",
                    setting.name
                ));
                continue;
            }
            let values = [
                ("example", Some(setting.example)),
                ("default", setting.default),
            ];
            for (what, value) in values {
                if let Some(value) = value
                    && let Err(why) = accepts(parameter, value)
                {
                    problems.push(format!(
                        "{function}: the {what} of {} cannot be deployed: parameter {parameter_name} rejects it: {why}",
                        setting.name
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "settings the template cannot take:\n  - {}",
        problems.join("\n  - ")
    );
}

/// The variables every function shares are set in the template from the
/// shared parameters, in each function that reads them.
#[test]
fn every_function_gets_the_shared_settings_it_declares() {
    let t = template();
    for ((function, settings), (name, stem)) in settings().into_iter().zip(FUNCTIONS) {
        assert_eq!(function, name);
        let environment =
            &resources(t)[&format!("{stem}Function")]["Properties"]["Environment"]["Variables"];
        for setting in settings {
            if let shared::config::Source::SharedParameter(parameter) = setting.source {
                assert_eq!(
                    environment[setting.name]["Ref"], parameter,
                    "{function}: {} comes from parameter {parameter}",
                    setting.name
                );
            }
        }
    }
}
