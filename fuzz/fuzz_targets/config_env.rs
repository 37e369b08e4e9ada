//! Every function's configuration parser (`Config::from_env` over
//! `shared::config::Env`), JSON settings included
//! (`URI_RULES`, `RETENTION_RULES`, `S3_PRUNE`, `SEVERITY_RULES`,
//! `EXEMPTIONS`, `ROUTES`, `RULES`, ...).
//!
//! The first byte picks the function; the rest is NUL-separated
//! `index value` chunks (see `toilkit_fuzz::env`) over the variables that
//! function declares (its `config::SETTINGS`). A configuration must either
//! be reported as invalid or be usable: when `finish()` accepts it, the
//! function's first uses of it must not panic either.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use shared::config::Setting;
use time::macros::datetime;
use toilkit_fuzz::env;

/// Every function's settings, in the order of the repository's registry
/// (`toilkit_tests::registry`; a test in xtask holds the two equal): the
/// fuzz crate is a workspace of its own and does not link the registry.
const FUNCTIONS: [&[Setting]; 7] = [
    waf_ip_blocker::config::SETTINGS,
    rds_audit_notifier::config::SETTINGS,
    maintenance_switch::config::SETTINGS,
    config_triage::config::SETTINGS,
    log_retention::config::SETTINGS,
    access_denied_triage::config::SETTINGS,
    patch_waves::config::SETTINGS,
];

fn names(function: usize) -> &'static [String] {
    static NAMES: OnceLock<Vec<Vec<String>>> = OnceLock::new();
    &NAMES.get_or_init(|| {
        FUNCTIONS
            .iter()
            .map(|s| s.iter().map(|s| s.name.to_owned()).collect())
            .collect()
    })[function]
}

fuzz_target!(|input: &[u8]| {
    let Some((&choice, rest)) = input.split_first() else {
        return;
    };
    let function = usize::from(choice) % FUNCTIONS.len();
    let mut env = env(names(function), rest);
    match function {
        0 => {
            let config = waf_ip_blocker::config::Config::from_env(&mut env);
            if env.finish().is_ok() {
                let mut counter = waf_ip_blocker::detect::Counter::new(config.detection.clone());
                counter.line(
                    include_bytes!("../seeds/waf_log/line")
                        .get(1..)
                        .unwrap_or_default(),
                );
                let _ = config.allowed("203.0.113.9".parse().expect("an IP"));
            }
        }
        1 => {
            let config = rds_audit_notifier::Config::from_env(&mut env);
            if env.finish().is_ok() {
                let data = toilkit_fuzz::log_data(
                    "/aws/rds/instance/db-1/audit",
                    b"20231114 22:13:25,ip-10-0-1-23,payroll_app,10.0.2.15,3051,152312,QUERY,appdb,'ALTER TABLE payroll ADD COLUMN note varchar(255)',0",
                );
                let _ = rds_audit_notifier::plan::plan(&data, &config.rules);
            }
        }
        2 => {
            let config = maintenance_switch::Config::from_env(&mut env);
            if env.finish().is_ok() {
                let event = json!({
                    "action": "enable",
                    "window_id": "release-2026-12-01",
                    "listener_arns": ["arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2"],
                    "bypass_cidrs": ["203.0.113.0/24"]
                });
                let _ = maintenance_switch::request::Request::parse(
                    &event,
                    &config,
                    datetime!(2026-11-21 10:00 UTC),
                );
            }
        }
        3 => {
            let config = config_triage::config::Config::from_env(&mut env);
            if env.finish().is_ok() {
                let _ = config.severity.severity_of("restricted-ssh");
                let tags = BTreeMap::from([("team".to_owned(), "payments".to_owned())]);
                let subject = config_triage::exemption::Subject {
                    rule: "restricted-ssh",
                    resource_id: "sg-0123456789abcdef0",
                    arn: Some(
                        "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0123456789abcdef0",
                    ),
                    resource_type: "AWS::EC2::SecurityGroup",
                    tags: &tags,
                };
                let _ = config
                    .exemptions
                    .check(&subject, datetime!(2026-11-21 10:00 UTC));
                let _ = config.exemptions.expired(datetime!(2026-11-21 10:00 UTC));
                let _ = config.routes.route(&tags);
            }
        }
        4 => {
            let config = log_retention::Config::from_env(&mut env);
            if env.finish().is_ok() {
                for group in ["/aws/lambda/checkout", "/ecs/shop-prod", "/audit/trail", ""] {
                    let _ = config.policy.decide(group);
                }
            }
        }
        5 => {
            let config = access_denied_triage::Config::from_env(&mut env);
            if env.finish().is_ok() {
                let record = access_denied_triage::record::Record::parse(include_str!(
                    "../seeds/cloudtrail_record/assumed-role-sso.json"
                ));
                if let Ok(record) = record {
                    let _ = access_denied_triage::plan::plan(
                        &[record],
                        &config,
                        &access_denied_triage::plan::Facts::default(),
                        datetime!(2026-11-21 10:00 UTC),
                    );
                }
            }
        }
        6 => {
            let config = patch_waves::Config::from_env(&mut env);
            if env.finish().is_ok() {
                let _ = config.routes.route(&Default::default());
                let _ = patch_waves::plan::Release::from_ami_name(&config.al2023_latest_parameter);
            }
        }
        _ => unreachable!("one arm per entry of FUNCTIONS"),
    }
});
