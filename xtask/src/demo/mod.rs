//! The main job: a local demo of every function against the emulator.
//!
//! It installs what is missing, starts moto and a Slack receiver, seeds a
//! demo product account, runs each function through its real handler, prints
//! what each one found and changed, and stops everything it started.

mod access_denied_triage;
mod config_triage;
mod hub;
mod log_retention;
mod maintenance_switch;
mod patch_waves;
mod rds_audit_notifier;
mod waf_ip_blocker;

use aws_types::SdkConfig;
use serde_json::Value;
use shared::output::Output;
use toilkit_tests::{Moto, ResultBus, SlackReceiver};

use crate::Result;

/// What every function's demo gets.
pub struct Ctx {
    pub moto: Moto,
    pub slack: SlackReceiver,
    pub sdk: SdkConfig,
    /// Writes no log lines (the demo prints its own account of each run),
    /// and publishes each report to the demo's result bus, which the hub
    /// reads at the end.
    pub output: Output,
}

pub fn run(args: &[String]) -> Result {
    crate::setup::run()?;
    let only: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Some(unknown) = only
        .iter()
        .find(|name| toilkit_tests::registry::find(name).is_none())
    {
        let known: Vec<_> = toilkit_tests::registry::FUNCTIONS
            .iter()
            .chain(toilkit_tests::registry::HUB_FUNCTIONS)
            .map(|f| f.name)
            .collect();
        return Err(format!("no function named {unknown}; known: {}", known.join(", ")).into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let moto = Moto::dedicated();
        let sdk = moto.sdk_config().await;
        let bus = ResultBus::create(&moto, &sdk).await;
        let ctx = Ctx {
            output: Output::quiet().publishing_to(&sdk, &bus.name, Some("demo-shop".to_owned())),
            moto,
            slack: SlackReceiver::start(),
            sdk,
        };
        for function in toilkit_tests::registry::FUNCTIONS {
            if !only.is_empty() && !only.contains(&function.name) {
                continue;
            }
            section(&format!("{}: {}", function.name, function.summary));
            match function.name {
                "waf-ip-blocker" => waf_ip_blocker::run(&ctx).await?,
                "rds-audit-notifier" => rds_audit_notifier::run(&ctx).await?,
                "maintenance-switch" => maintenance_switch::run(&ctx).await?,
                "config-triage" => config_triage::run(&ctx).await?,
                "log-retention" => log_retention::run(&ctx).await?,
                "access-denied-triage" => access_denied_triage::run(&ctx).await?,
                "patch-waves" => patch_waves::run(&ctx).await?,
                other => println!("{other} has no demo yet (xtask/src/demo/)"),
            }
        }
        for hub in toilkit_tests::registry::HUB_FUNCTIONS {
            if only.is_empty() || only.contains(&hub.name) {
                section(&format!("{}: {}", hub.name, hub.summary));
                hub::run(&ctx, &bus).await?;
            }
        }
        println!("\nDemo finished; the emulator and the Slack receiver are stopped.");
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}

/// Renders a Block Kit message roughly as Slack shows it.
pub fn print_message(message: &Value) {
    let blocks = message["blocks"].as_array().cloned().unwrap_or_default();
    for block in blocks {
        let text = block["text"]["text"].as_str().unwrap_or("");
        match block["type"].as_str() {
            Some("header") => println!("  ┏━ {text}"),
            Some("context") => {
                for element in block["elements"].as_array().into_iter().flatten() {
                    println!("  ┃  {}", element["text"].as_str().unwrap_or(""));
                }
            }
            Some("section") => {
                println!("  ┃");
                for line in text.lines() {
                    println!("  ┃  {line}");
                }
            }
            _ => {}
        }
    }
    println!("  ┗━\n");
}

fn section(title: &str) {
    println!("\n=== {title}");
}
