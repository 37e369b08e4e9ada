//! log-retention's part of the demo: a product account with a few hundred
//! log groups (mixed retention and tags, some stale and empty) and an S3
//! prefix of application logs, swept through the function's real handler.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_cloudwatchlogs::Client as Logs;
use aws_sdk_cloudwatchlogs::operation::describe_account_policies::DescribeAccountPoliciesOutput;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_s3::Client as S3;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, mock};
use lambda_runtime::{Context, LambdaEvent};
use log_retention::{App, CallCounter, Config, RegionClients, handle};
use serde_json::{Value, json};
use shared::aws::s3_client;
use shared::output::Output;
use shared::report::Report;

use super::Ctx;
use crate::Result;

const BUCKET: &str = "app-logs-123456789012";
const DAYS: u64 = 90;

/// One seeded group: name, retention, tags, whether it holds events.
struct Seed {
    name: String,
    retention: Option<i32>,
    tags: HashMap<String, String>,
    events: bool,
}

fn seed_plan() -> Vec<Seed> {
    let mut seeds = Vec::new();
    let mut add = |name: String, retention: Option<i32>, tag: Option<&str>, events: bool| {
        seeds.push(Seed {
            name,
            retention,
            tags: tag
                .map(|k| HashMap::from([(k.to_owned(), "owner-request".to_owned())]))
                .unwrap_or_default(),
            events,
        })
    };
    for i in 0..120 {
        let retention = [None, None, None, Some(14), Some(30)][i % 5];
        let tag = (i % 40 == 7).then_some("toilkit:keep");
        add(format!("/aws/lambda/orders-{i:03}"), retention, tag, true);
    }
    for i in 0..60 {
        let retention = [None, Some(3653), Some(90)][i % 3];
        add(format!("/ecs/svc-{i:02}-prod"), retention, None, true);
    }
    for i in 0..80 {
        let retention = [None, Some(3653), None, Some(365)][i % 4];
        let tag = (i % 20 == 3).then_some("toilkit:keep");
        add(format!("/app/batch-{i:02}"), retention, tag, true);
    }
    for i in 0..10 {
        add(format!("/audit/trail-{i}"), None, None, true);
    }
    // Stale and empty: no streams at all.
    for i in 0..12 {
        add(format!("/old/job-{i:02}"), None, None, false);
    }
    add("/old/job-exempt".into(), None, Some("toilkit:keep"), false);
    seeds
}

/// Seeding runs in spawned tasks, whose errors must be `Send`.
type TaskResult = std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

async fn create(logs: Logs, seed: Seed) -> TaskResult {
    logs.create_log_group()
        .log_group_name(&seed.name)
        .set_tags((!seed.tags.is_empty()).then_some(seed.tags))
        .send()
        .await?;
    if let Some(days) = seed.retention {
        logs.put_retention_policy()
            .log_group_name(&seed.name)
            .retention_in_days(days)
            .send()
            .await?;
    }
    if seed.events {
        logs.create_log_stream()
            .log_group_name(&seed.name)
            .log_stream_name("main")
            .send()
            .await?;
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH)?;
        logs.put_log_events()
            .log_group_name(&seed.name)
            .log_stream_name("main")
            .log_events(
                InputLogEvent::builder()
                    .timestamp(now.as_millis() as i64)
                    .message("GET /health 200")
                    .build()?,
            )
            .send()
            .await?;
    }
    Ok(())
}

async fn put_objects(s3: &S3, keys: impl Iterator<Item = String>) -> Result {
    for key in keys {
        s3.put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from_static(b"{\"level\":\"info\"}\n"))
            .send()
            .await?;
    }
    Ok(())
}

/// Counts by retention (`never` for none) and the number of groups.
async fn census(logs: &Logs) -> Result<BTreeMap<String, usize>> {
    let mut by_retention = BTreeMap::new();
    let mut token = None;
    loop {
        let page = logs
            .describe_log_groups()
            .set_next_token(token)
            .send()
            .await?;
        for group in page.log_groups() {
            let key = group
                .retention_in_days()
                .map_or_else(|| "never".to_owned(), |d| format!("{d:>4} days"));
            *by_retention.entry(key).or_insert(0) += 1;
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(by_retention);
        }
    }
}

/// The function as `App::new` builds it, except that DescribeAccountPolicies,
/// which moto does not implement (it answers 500, and the function then keeps
/// every deletion candidate), is answered "no account-level policies", as in
/// an account that has none. Every other call reaches the emulator.
fn on_the_emulator(config: Config, sdk: &aws_types::SdkConfig, output: Output) -> App {
    let calls = CallCounter::default();
    let none = mock!(aws_sdk_cloudwatchlogs::Client::describe_account_policies)
        .then_output(|| DescribeAccountPoliciesOutput::builder().build());
    let region = sdk
        .region()
        .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string());
    let clients = log_retention::region_clients(sdk, &region, &calls);
    let logs = clients
        .logs
        .config()
        .to_builder()
        .interceptor(
            MockResponseInterceptor::new()
                .rule_mode(RuleMode::MatchAny)
                .with_rule(&none)
                .allow_passthrough(),
        )
        .build();
    let clients = RegionClients {
        logs: Logs::from_conf(logs),
        ..clients
    };
    let s3 = s3_client(sdk)
        .config()
        .to_builder()
        .interceptor(calls.clone())
        .build();
    App::from_parts(config, vec![clients], S3::from_conf(s3), output, calls)
}

async fn objects(s3: &S3) -> Result<usize> {
    Ok(s3
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await?
        .key_count()
        .unwrap_or(0) as usize)
}

async fn invoke(app: &App, payload: Value) -> Result<Report> {
    Ok(handle(LambdaEvent::new(payload, Context::default()), app).await?)
}

fn line(label: &str, before: impl std::fmt::Display, after: impl std::fmt::Display) {
    println!("  {label:<34} {before:>6} → {after}");
}

pub async fn run(ctx: &Ctx) -> Result {
    let logs = Logs::new(&ctx.sdk);
    let s3 = s3_client(&ctx.sdk);
    let seeds = seed_plan();
    let groups = seeds.len();
    let mut set = tokio::task::JoinSet::<TaskResult>::new();
    for seed in seeds {
        while set.len() >= 8 {
            set.join_next().await.expect("a task")?.map_err(unsend)?;
        }
        set.spawn(create(logs.clone(), seed));
    }
    while let Some(done) = set.join_next().await {
        done?.map_err(unsend)?;
    }
    s3.create_bucket().bucket(BUCKET).send().await?;
    put_objects(&s3, (0..40).map(|i| format!("app/2025/08/{i:02}.json"))).await?;
    // The emulator stamps everything "now"; the function's clock is set 90
    // days ahead of the moment between the old and the new objects, so the
    // first 40 are past the 90-day line and the later 10 are not.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let split = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    put_objects(&s3, (0..10).map(|i| format!("app/2025/11/{i:02}.json"))).await?;
    let before = census(&logs).await?;
    let objects_before = objects(&s3).await?;
    println!(
        "Seeded {groups} log groups (13 stale and empty, 1 of those exempt), s3://{BUCKET}/app/ with 40 old + 10 new objects."
    );
    println!(
        "Policy: RETENTION_DAYS=30; /aws/lambda/ 14 days; /ecs/*-prod 90 days; /audit/ keep; exempt tag toilkit:keep;\n        DELETE_EMPTY_AFTER_DAYS=90; S3_PRUNE app/ after 90 days. (Function clock: {DAYS} days ahead.)"
    );

    let prune = format!(r#"[{{"bucket": "{BUCKET}", "prefix": "app/", "days": {DAYS}}}]"#);
    let config = Config::from_pairs([
        ("RETENTION_DAYS", "30"),
        (
            "RETENTION_RULES",
            r#"[{"prefix": "/aws/lambda/", "days": 14}, {"pattern": "/ecs/*-prod", "days": 90}, {"prefix": "/audit/", "keep": true}]"#,
        ),
        ("DELETE_EMPTY_AFTER_DAYS", "90"),
        ("S3_PRUNE", prune.as_str()),
        ("MAX_API_RPS", "200"),
    ])?;
    // Built afresh for each invocation, so that its clock stays 90 days
    // after `split` however long the previous one took.
    let app = || -> Result<App> {
        Ok(
            on_the_emulator(config.clone(), &ctx.sdk, ctx.output.clone())
                .with_clock_offset(Duration::from_secs(DAYS * 86_400) - split.elapsed()?),
        )
    };

    let dry = invoke(&app()?, json!({"dry_run": true})).await?;
    println!(
        "\nDry run ({{\"dry_run\": true}}): would change {} retentions, delete {} groups, prune {} objects; changed nothing.",
        count(&dry, "set_retention")
            + count(&dry, "lengthen_retention")
            + count(&dry, "shorten_retention"),
        count(&dry, "delete_log_group"),
        dry.counter("s3_objects_planned"),
    );

    let started = Instant::now();
    let report = invoke(
        &app()?,
        serde_json::from_str(&toilkit_tests::workspace::sample("scheduled-event.json"))?,
    )
    .await?;
    let took = started.elapsed();
    let after = census(&logs).await?;
    let objects_after = objects(&s3).await?;

    println!("\nScheduled sweep, {took:.1?}:");
    println!("  {:<34} {:>6}   after", "retention", "before");
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for key in keys {
        line(
            key,
            before.get(key).copied().unwrap_or(0),
            after.get(key).copied().unwrap_or(0),
        );
    }
    line(
        "log groups",
        before.values().sum::<usize>(),
        after.values().sum::<usize>(),
    );
    line("objects in the bucket", objects_before, objects_after);
    println!(
        "\n  changes (old → new): {}",
        report.details["retention_changes"]
    );
    for (counter, label) in [
        ("groups_scanned", "groups scanned"),
        ("groups_changed", "retentions changed"),
        ("groups_exempt", "exempt (tag) and left alone"),
        ("groups_kept_by_rule", "kept by the /audit/ rule"),
        ("groups_deleted", "stale empty groups deleted"),
        ("s3_objects_deleted", "S3 objects deleted"),
        ("errors", "errors"),
    ] {
        println!("  {label:<34} {}", report.counter(counter));
    }
    println!("  API calls by operation: {}", report.details["api_calls"]);

    logs.create_log_group()
        .log_group_name("/aws/lambda/checkout-new")
        .send()
        .await?;
    let event = json!({
        "version": "0", "id": "demo", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.logs", "account": "123456789012", "time": "2026-11-21T09:00:00Z",
        "region": "us-east-1", "resources": [],
        "detail": {"eventSource": "logs.amazonaws.com", "eventName": "CreateLogGroup",
                   "awsRegion": "us-east-1",
                   "requestParameters": {"logGroupName": "/aws/lambda/checkout-new"}}
    });
    let created = invoke(&app()?, event).await?;
    println!(
        "\nCloudTrail CreateLogGroup /aws/lambda/checkout-new: {} ({} API calls).",
        created
            .applied
            .first()
            .map_or("nothing to do".to_owned(), |a| a.reason.clone()),
        created.counter("api_calls")
    );

    let again = invoke(&app()?, json!({})).await?;
    println!(
        "Second sweep: {} changes, {} deletions, {} objects deleted ({} API calls: {}).",
        again.counter("groups_changed"),
        again.counter("groups_deleted"),
        again.counter("s3_objects_deleted"),
        again.counter("api_calls"),
        again.details["api_calls"]
    );
    Ok(())
}

fn count(report: &Report, action: &str) -> usize {
    report.planned.iter().filter(|a| a.action == action).count()
}

fn unsend(e: Box<dyn std::error::Error + Send + Sync>) -> Box<dyn std::error::Error> {
    e
}
