//! access-denied-triage's part of the demo: a day in an account, as
//! CloudTrail records through the real handler. A developer's role misses
//! one permission; the console fans out calls it may not make; a CI role
//! hits an SCP; a leaked key probes IAM from a network never seen; the same
//! key bursts through fifteen reads; the next morning, the digest. It prints
//! what each delivery decided and what Slack and the pager received.

use access_denied_triage::{App, Config, Outcome, process};
use aws_sdk_iam as iam;
use aws_sdk_secretsmanager as secretsmanager;
use aws_sdk_sns as sns;
use serde_json::{Value, json};
use shared::Deadline;
use shared::config::Env;
use time::OffsetDateTime;
use time::macros::datetime;
use toilkit_tests::logs_subscription;

use super::{Ctx, print_message};
use crate::Result;

const CHANNEL: &str = "security";
const PAYMENTS: &str = "payments";
const PAGER: &str = "pager";
const ACCOUNT: &str = "111122223333";

/// The repository's CloudTrail fixtures, in the record format AWS documents.
fn fixture(name: &str) -> Value {
    let path = toilkit_tests::workspace::root()
        .join("functions/access-denied-triage/tests/fixtures")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("a fixture is JSON")
}

fn with(mut record: Value, changes: &[(&str, Value)]) -> Value {
    for (pointer, value) in changes {
        *record
            .pointer_mut(pointer)
            .expect("the fixture has the field") = value.clone();
    }
    record
}

pub async fn run(ctx: &Ctx) -> Result {
    let secrets = secretsmanager::Client::new(&ctx.sdk);
    let mut webhooks = Vec::new();
    for channel in [CHANNEL, PAYMENTS] {
        webhooks.push(
            secrets
                .create_secret()
                .name(ctx.moto.unique(&format!("adt-demo-{channel}")))
                .secret_string(ctx.slack.webhook_url(channel))
                .send()
                .await?
                .arn
                .unwrap_or_default(),
        );
    }
    let table = ctx.moto.unique("adt-demo-state");
    toilkit_tests::tables::create_pk_table(&aws_sdk_dynamodb::Client::new(&ctx.sdk), &table)
        .await?;
    let iam = iam::Client::new(&ctx.sdk);
    iam.create_user()
        .user_name("svc-reporting")
        .tags(
            iam::types::Tag::builder()
                .key("owner")
                .value(PAYMENTS)
                .build()?,
        )
        .send()
        .await?;
    let sns = sns::Client::new(&ctx.sdk);
    let topic = sns
        .create_topic()
        .name(ctx.moto.unique("adt-demo-pager"))
        .send()
        .await?
        .topic_arn
        .unwrap_or_default();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("http")
        .endpoint(ctx.slack.webhook_url(PAGER))
        .send()
        .await?;
    println!(
        "Seeded: the state table {table}, webhooks for #{CHANNEL} (default) and #{PAYMENTS}, the IAM user svc-reporting tagged owner={PAYMENTS}, a pager topic."
    );

    let routes = json!({ PAYMENTS: webhooks[1] }).to_string();
    let settings = [
        ("STATE_TABLE", table.as_str()),
        ("SLACK_WEBHOOK_SECRET_ARN", webhooks[0].as_str()),
        ("CRITICAL_TOPIC_ARN", topic.as_str()),
        ("ROUTES", routes.as_str()),
        ("OWN_CIDRS", "192.0.2.0/24"),
        (
            "RULES",
            r#"[{"principal":"ci-deploy","action":"ec2:Describe*","reason":"CI checks every Region","expires":"2026-11-30"}]"#,
        ),
    ];
    println!("Configuration:");
    for (name, value) in &settings[3..] {
        println!("  {name}={value}");
    }
    let mut env = Env::from_pairs(settings);
    let app = App::new(Config::from_env(&mut env), &ctx.sdk, ctx.output.clone());
    env.finish()?;

    // 09:00 - 09:05: a developer (Identity Center) lists a bucket she may not.
    let developer: Vec<Value> = (0..4)
        .map(|i| {
            with(
                fixture("assumed-role-sso"),
                &[
                    ("/eventID", json!(format!("demo-dev-{i}"))),
                    ("/eventTime", json!(format!("2026-12-06T09:0{i}:00Z"))),
                ],
            )
        })
        .collect();
    step(
        ctx,
        &app,
        "A developer's role is missing one permission (four tries, one alert with the fix)",
        logs(&developer),
        datetime!(2026-12-06 09:05 UTC),
    )
    .await?;

    let console: Vec<Value> = (0..6)
        .map(|i| {
            with(
                fixture("console-internal"),
                &[("/eventID", json!(format!("demo-console-{i}")))],
            )
        })
        .chain([fixture("aws-service"), fixture("scanner-access-analyzer")])
        .collect();
    step(
        ctx,
        &app,
        "The console's own calls, a service and Access Analyzer (silent, counted)",
        logs(&console),
        datetime!(2026-12-06 09:10 UTC),
    )
    .await?;

    step(
        ctx,
        &app,
        "A CI role hits an SCP (EventBridge; the SCP named; its expired rule no longer silences)",
        eventbridge(&fixture("assumed-role-ci")),
        datetime!(2026-12-06 09:15 UTC),
    )
    .await?;

    step(
        ctx,
        &app,
        "A leaked key probes IAM from a network never seen before (critical, paged)",
        eventbridge(&fixture("leaked-key")),
        datetime!(2026-12-06 09:20 UTC),
    )
    .await?;

    let probe: Vec<Value> = [
        "ListRoles",
        "ListPolicies",
        "ListGroups",
        "GetAccountSummary",
        "ListAccessKeys",
        "ListAttachedUserPolicies",
        "GetAccountAuthorizationDetails",
        "ListInstanceProfiles",
        "ListMFADevices",
        "ListSAMLProviders",
        "ListOpenIDConnectProviders",
        "ListServerCertificates",
        "ListVirtualMFADevices",
        "GetCredentialReport",
        "ListAccountAliases",
    ]
    .iter()
    .enumerate()
    .map(|(i, action)| {
        with(
            fixture("leaked-key"),
            &[
                ("/eventName", json!(action)),
                ("/eventID", json!(format!("demo-probe-{i}"))),
                (
                    "/eventTime",
                    json!(format!(
                        "2026-12-06T09:2{}:{:02}Z",
                        1 + i / 10,
                        (i % 10) * 5
                    )),
                ),
            ],
        )
    })
    .collect();
    let burst = step(
        ctx,
        &app,
        "The same key bursts through fifteen reads (reconnaissance: one alert, high; critical had the key been new)",
        logs(&probe),
        datetime!(2026-12-06 09:25 UTC),
    )
    .await?;
    if burst.report.applied.len() != 1 {
        return Err("demo failure: the burst was not one alert".into());
    }

    println!("Lambda retries the leaked key's delivery (as after a timeout):");
    let retry = run_once(
        &app,
        eventbridge(&fixture("leaked-key")),
        datetime!(2026-12-06 09:26 UTC),
    )
    .await;
    ctx.output.emit(&retry.report).await;
    summarise(&retry)?;

    let digest = json!({
        "version": "0", "id": "demo-digest-2026-12-07", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": ACCOUNT, "time": "2026-12-07T08:00:00Z",
        "region": "eu-west-1", "resources": [], "detail": {}
    });
    step(
        ctx,
        &app,
        "The next morning at 08:00 UTC: the digest of the day before",
        digest,
        datetime!(2026-12-07 08:00 UTC),
    )
    .await?;
    Ok(())
}

/// One delivery: what the handler decided, then what each channel got.
async fn step(
    ctx: &Ctx,
    app: &App,
    title: &str,
    payload: Value,
    now: OffsetDateTime,
) -> Result<Outcome> {
    let before: Vec<usize> = [CHANNEL, PAYMENTS, PAGER]
        .iter()
        .map(|c| ctx.slack.delivered_to(c).len())
        .collect();
    println!("--- {title}");
    let outcome = run_once(app, payload, now).await;
    // As the handler does: the hub at the end of the demo reads it.
    ctx.output.emit(&outcome.report).await;
    summarise(&outcome)?;
    for (channel, seen) in [CHANNEL, PAYMENTS, PAGER].iter().zip(before) {
        for message in ctx.slack.delivered_to(channel).iter().skip(seen) {
            if *channel == PAGER {
                // SNS's HTTP delivery: the page is its Message.
                let text = message["Message"].as_str().unwrap_or_default();
                println!("  page: {}", text.lines().next().unwrap_or_default());
            } else {
                println!("  #{channel}:");
                print_message(message);
            }
        }
    }
    Ok(outcome)
}

async fn run_once(app: &App, payload: Value, now: OffsetDateTime) -> Outcome {
    process(payload, app, Some(ACCOUNT), now, &Deadline::unbounded()).await
}

fn summarise(outcome: &Outcome) -> Result {
    if let Err(error) = &outcome.response {
        return Err(format!("demo failure: {error}").into());
    }
    let report = &outcome.report;
    let dropped: Vec<String> = report
        .counters
        .iter()
        .filter(|(name, n)| name.starts_with("dropped_") && **n > 0)
        .map(|(name, n)| format!("{} {n}", name.trim_start_matches("dropped_")))
        .collect();
    println!(
        "  -> {} record(s), {} group(s); dropped: {}; sent {}, held {}",
        report.counter("records"),
        report.counter("groups"),
        if dropped.is_empty() {
            "none".to_owned()
        } else {
            dropped.join(", ")
        },
        report.applied.len(),
        report.counter("skipped"),
    );
    Ok(())
}

fn logs(records: &[Value]) -> Value {
    let events = records
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"id": format!("{i}"), "timestamp": 1_796_547_600_000_i64 + i as i64, "message": r.to_string()}))
        .collect();
    logs_subscription::event(&logs_subscription::document(
        "aws-cloudtrail-logs-111122223333",
        "111122223333_CloudTrail_eu-west-1",
        events,
    ))
}

fn eventbridge(record: &Value) -> Value {
    json!({
        "version": "0",
        "id": format!("eb-{}", record["eventID"].as_str().unwrap_or("x")),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.iam", "account": ACCOUNT, "time": record["eventTime"],
        "region": record["awsRegion"], "resources": [], "detail": record,
    })
}
