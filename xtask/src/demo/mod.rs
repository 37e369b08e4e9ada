//! The main job: a local demo of every function against the emulator.
//!
//! It installs what is missing, starts moto and a Slack receiver, seeds a
//! demo product account, runs each function through its real handler, prints
//! what each one found and changed, and stops everything it started.

mod config_triage;
mod log_retention;
mod maintenance_switch;
mod rds_audit_notifier;
mod waf_ip_blocker;

use aws_types::SdkConfig;
use toilkit_tests::{Moto, SlackReceiver};

use crate::Result;

/// What every function's demo gets.
pub struct Ctx {
    pub moto: Moto,
    pub slack: SlackReceiver,
    pub sdk: SdkConfig,
}

pub fn run(args: &[String]) -> Result {
    crate::setup::run()?;
    let only: Vec<&str> = args.iter().map(String::as_str).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let moto = Moto::dedicated();
        let sdk = moto.sdk_config().await;
        let ctx = Ctx {
            moto,
            slack: SlackReceiver::start(),
            sdk,
        };
        let wanted = |name: &str| only.is_empty() || only.contains(&name);
        if wanted("waf-ip-blocker") {
            section("waf-ip-blocker: block attacking IPs from WAF logs");
            waf_ip_blocker::run(&ctx).await?;
        }
        if wanted("rds-audit-notifier") {
            section("rds-audit-notifier: important RDS audit events to Slack");
            rds_audit_notifier::run(&ctx).await?;
        }
        if wanted("maintenance-switch") {
            section("maintenance-switch: an ALB maintenance window");
            maintenance_switch::run(&ctx).await?;
        }
        if wanted("config-triage") {
            section("config-triage: AWS Config compliance changes, triaged");
            config_triage::run(&ctx).await?;
        }
        if wanted("log-retention") {
            section("log-retention: log retention and pruning");
            log_retention::run(&ctx).await?;
        }
        println!("\nDemo finished; the emulator and the Slack receiver are stopped.");
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

fn section(title: &str) {
    println!("\n=== {title}");
}
