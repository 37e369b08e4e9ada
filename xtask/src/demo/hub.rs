//! toilkit-hub's part of the demo, the last: every function above published
//! its reports to the demo's result bus, as a product account's functions
//! publish to the hub's. The collector stores them twice, as two product
//! accounts (the demo's own and a second with a label of its own), runs its
//! heartbeat and digest, and writes the dashboard to a file to open in a
//! browser.

use hub_collector::{App, Config};
use serde_json::{Value, json};
use shared::Deadline;
use shared::config::Env;
use shared::output::Output;
use time::Duration;
use toilkit_tests::ResultBus;

use super::{Ctx, print_message};
use crate::Result;
use crate::cmd::root;

/// The second demo account: the same reports, as another product's.
const SECOND_ACCOUNT: &str = "210987654321";

pub async fn run(ctx: &Ctx, bus: &ResultBus) -> Result {
    // moto's rule delivers an event without EventBridge's `account` field,
    // which the hub reads as the sender: the demo puts it back.
    let events: Vec<Value> = bus
        .events()
        .await
        .into_iter()
        .map(|mut event| {
            if event.get("account").is_none() {
                event["account"] = json!(toilkit_tests::moto::ACCOUNT_ID);
            }
            event
        })
        .collect();
    let table = ctx.moto.unique("toilkit-hub-state");
    toilkit_tests::tables::create_pk_sk_table(&aws_sdk_dynamodb::Client::new(&ctx.sdk), &table)
        .await?;
    let s3 = shared::aws::s3_client(&ctx.sdk);
    let history = ctx.moto.unique("toilkit-hub-history");
    let dashboard = ctx.moto.unique("toilkit-hub-dashboard");
    for bucket in [&history, &dashboard] {
        s3.create_bucket().bucket(bucket).send().await?;
    }
    let webhook = ctx.slack.webhook_secret(&ctx.sdk, "hub").await;
    let mut env = Env::from_pairs([
        ("STATE_TABLE", table.as_str()),
        ("HISTORY_BUCKET", history.as_str()),
        ("DASHBOARD_BUCKET", dashboard.as_str()),
        ("SLACK_WEBHOOK_SECRET_ARN", webhook.as_str()),
        // The demo's maintenance switch reports on demand; watched hourly, it
        // is silent by the heartbeat two hours later.
        ("EXPECTED_INTERVALS", r#"{"maintenance-switch": 60}"#),
        ("SILENCE_MARGIN_MINUTES", "30"),
    ]);
    let config = Config::from_env(&mut env);
    env.finish()?;
    let app = App::new(config.clone(), &ctx.sdk, Output::quiet());
    let later = App::new(config, &ctx.sdk, Output::quiet()).with_clock_offset(Duration::hours(2));

    let first_account = toilkit_tests::moto::ACCOUNT_ID;
    println!(
        "{} result event(s) were published by the functions above. The collector stores each twice: as account \
         {first_account} (label demo-shop) and as account {SECOND_ACCOUNT} (label demo-search).",
        events.len()
    );
    let functions: std::collections::BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e["detail"]["function"].as_str())
        .collect();
    println!(
        "They came from: {}.",
        functions.into_iter().collect::<Vec<_>>().join(", ")
    );
    let mut stored = 0;
    let mut rejected = 0;
    for event in &events {
        for copy in [event.clone(), as_second_account(event)] {
            let report = hub_collector::run(copy, &app, &Deadline::unbounded()).await?;
            stored += report.counter("reports_stored");
            rejected += report.counter("rejected");
        }
    }
    // A redelivery, as EventBridge may make: stored once.
    if let Some(event) = events.first() {
        let again = hub_collector::run(event.clone(), &app, &Deadline::unbounded()).await?;
        println!(
            "{stored} report(s) stored, {rejected} rejected; one redelivered: {}.",
            again
                .skipped
                .first()
                .map_or("stored again?", |s| s.reason.as_str())
        );
    }

    let heartbeat =
        hub_collector::run(json!({"job": "heartbeat"}), &later, &Deadline::unbounded()).await?;
    println!(
        "\nTwo hours later, the heartbeat: {} silent, {} failing in a row. It says so in Slack once:",
        heartbeat.counter("silent"),
        heartbeat.counter("failing")
    );
    for message in ctx.slack.delivered_to("hub") {
        print_message(&message);
    }
    let before = ctx.slack.delivered_to("hub").len();
    hub_collector::run(json!({"job": "digest"}), &later, &Deadline::unbounded()).await?;
    println!("The daily digest, with a pre-signed link to the page:");
    for message in ctx.slack.delivered_to("hub").iter().skip(before) {
        print_message(message);
    }

    let page = s3
        .get_object()
        .bucket(&dashboard)
        .key(hub_collector::DASHBOARD_KEY)
        .send()
        .await?
        .body
        .collect()
        .await?
        .into_bytes();
    let path = root().join("target/demo/toilkit-hub-dashboard.html");
    std::fs::create_dir_all(path.parent().expect("a folder"))?;
    std::fs::write(&path, &page)?;
    println!(
        "The dashboard ({} KB, self-contained): open it in a browser:\n  file://{}",
        page.len() / 1024,
        path.display()
    );
    Ok(())
}

/// The same report as the second account's: another account, id and label.
fn as_second_account(event: &Value) -> Value {
    let mut copy = event.clone();
    copy["account"] = json!(SECOND_ACCOUNT);
    copy["id"] = json!(format!("{}-b", event["id"].as_str().unwrap_or("event")));
    if copy["detail"].get("account").is_some() {
        copy["detail"]["account"] = json!(SECOND_ACCOUNT);
    }
    copy["detail"]["label"] = json!("demo-search");
    copy
}
