//! config-triage in the demo: a stream of AWS Config compliance changes for
//! a demo product account goes through the real handler; the demo prints
//! what each change led to, what every Slack channel and the pager received,
//! the state table afterwards, and the digest.
//!
//! moto has no Config compliance APIs, so the digest reads them from the
//! Config stand-in the tests use too (`toilkit_tests::config_service`),
//! which pages its answers, so the function's pagination is exercised.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ssm::types::ParameterType;
use config_triage::config::Config;
use config_triage::{App, handle};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use shared::config::Env;
use toilkit_tests::config_service::{ConfigService, Violation};

use super::Ctx;
use crate::Result;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const SG: &str = "sg-0a1b2c3d4e5f60718";
const TABLE: &str = "AWS::DynamoDB::Table";
const SECURITY_GROUP: &str = "AWS::EC2::SecurityGroup";
const STATE_TABLE: &str = "toilkit-config-triage-state";

pub async fn run(ctx: &Ctx) -> Result {
    let now = now_secs();
    let topic = seed_account(ctx).await?;
    let settings = settings(&topic)?;
    let config = ConfigService::start(open_at_the_end(now));
    let config_client = aws_sdk_config::Client::new(&config.sdk_config(&ctx.sdk));
    let app = App::new(settings, &ctx.sdk, ctx.output.clone())
        .with_config_client(config_client, &ctx.sdk);

    replay_changes(&app, now).await?;
    replay_sqs_batch(ctx, &app, now).await?;
    print_received(ctx, &topic);
    print_state(ctx).await?;
    print_digest(ctx, &app, &config).await
}

fn channel(name: &str) -> String {
    format!("triage-{name}")
}

/// The demo account: resources with owner tags, webhooks, exemptions and
/// the pager topic. Returns the topic's ARN.
async fn seed_account(ctx: &Ctx) -> Result<String> {
    let dynamodb = aws_sdk_dynamodb::Client::new(&ctx.sdk);
    toilkit_tests::tables::create_pk_table(&dynamodb, STATE_TABLE).await?;
    let resources: [(&str, &[(&str, &str)]); 8] = [
        (
            "payments-ledger",
            &[("owner", "payments"), ("Name", "payments-ledger")],
        ),
        ("payments-orders", &[("owner", "payments")]),
        ("analytics-events", &[("owner", "data")]),
        ("flappy-cache", &[("owner", "data")]),
        (
            "public-catalog",
            &[("owner", "data"), ("data-class", "public")],
        ),
        ("scratch-tmp", &[]),
        ("ml-features", &[("owner", "ml")]),
        ("legacy-sessions", &[("owner", "payments")]),
    ];
    for (name, tags) in resources {
        toilkit_tests::tables::create_tagged_table(&dynamodb, name, "id", tags).await?;
    }
    let ssm = aws_sdk_ssm::Client::new(&ctx.sdk);
    for name in ["default", "payments", "data"] {
        ssm.put_parameter()
            .name(format!("/toilkit/config-triage/slack/{name}"))
            .value(ctx.slack.webhook_url(&channel(name)))
            .r#type(ParameterType::SecureString)
            .send()
            .await?;
    }
    ssm.put_parameter()
        .name("/toilkit/config-triage/exemptions")
        .value(
            json!([
                {"resource": "scratch-*", "reason": "throwaway tables"},
                {"rule": "dynamodb-autoscaling-enabled", "resource": "payments-orders",
                 "expires": "2025-12-31", "reason": "capacity review"}
            ])
            .to_string(),
        )
        .r#type(ParameterType::String)
        .send()
        .await?;
    let sns = aws_sdk_sns::Client::new(&ctx.sdk);
    let topic = sns
        .create_topic()
        .name("toilkit-config-triage-critical")
        .send()
        .await?
        .topic_arn
        .unwrap_or_default();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("http")
        .endpoint(ctx.slack.webhook_url(&channel("pager")))
        .send()
        .await?;
    Ok(topic)
}

/// The function's settings for the demo account, printed and read through
/// the function's own declaration.
fn settings(topic: &str) -> Result<Config> {
    let settings = json!({
        "STATE_TABLE": STATE_TABLE,
        "SLACK_WEBHOOK_PARAMETER": "/toilkit/config-triage/slack/default",
        "ROUTES": json!({"payments": "/toilkit/config-triage/slack/payments", "data": "/toilkit/config-triage/slack/data"}).to_string(),
        "SEVERITY_RULES": json!([
            {"rule": "restricted-ssh", "severity": "critical"},
            {"rule": "dynamodb-pitr-*", "severity": "high"},
            {"rule": "*-autoscaling-*", "severity": "low"}
        ]).to_string(),
        "EXEMPTIONS": json!([{"tag": {"key": "data-class", "value": "public"}, "reason": "open data set"}]).to_string(),
        "EXEMPTIONS_PARAMETER": "/toilkit/config-triage/exemptions",
        "CRITICAL_TOPIC_ARN": topic,
        "RENOTIFY_HOURS": "12",
        "DIGEST_OLDEST": "4",
    });
    println!(
        "Demo account {ACCOUNT} / {REGION}: 8 DynamoDB tables tagged by owner, one security group."
    );
    println!("Configuration:");
    let pairs: Vec<(String, String)> = settings
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    for (k, v) in &pairs {
        println!("  {k}={v}");
    }
    let mut env = Env::from_pairs(pairs);
    let settings = Config::from_env(&mut env);
    env.finish()?;
    Ok(settings)
}

/// What Config reports open once the stream below has been played.
fn open_at_the_end(now: i64) -> Vec<Violation> {
    let pitr_off = "Point-in-time recovery is off";
    [
        (
            "restricted-ssh",
            SECURITY_GROUP,
            SG,
            50,
            "Port 22 is open to 0.0.0.0/0",
        ),
        (
            "dynamodb-pitr-enabled",
            TABLE,
            "payments-ledger",
            45,
            pitr_off,
        ),
        (
            "dynamodb-pitr-enabled",
            TABLE,
            "public-catalog",
            44,
            pitr_off,
        ),
        ("dynamodb-pitr-enabled", TABLE, "scratch-tmp", 43, pitr_off),
        ("dynamodb-pitr-enabled", TABLE, "flappy-cache", 10, pitr_off),
        ("dynamodb-pitr-enabled", TABLE, "ml-features", 3, pitr_off),
        (
            "dynamodb-pitr-enabled",
            TABLE,
            "legacy-sessions",
            40 * 24 * 60,
            pitr_off,
        ),
        (
            "dynamodb-autoscaling-enabled",
            TABLE,
            "payments-orders",
            35,
            "No auto scaling policy",
        ),
    ]
    .into_iter()
    .map(|(rule, kind, id, minutes_ago, annotation)| {
        Violation::new(rule, kind, id, (now - minutes_ago * 60) as f64, annotation)
    })
    .collect()
}

/// One compliance change, `minutes_ago` before `now`.
struct Change {
    what: &'static str,
    rule: &'static str,
    kind: &'static str,
    id: &'static str,
    new: &'static str,
    old: Option<&'static str>,
    minutes_ago: i64,
}

const BROKEN: (&str, Option<&str>) = ("NON_COMPLIANT", Some("COMPLIANT"));
const FIXED: (&str, Option<&str>) = ("COMPLIANT", Some("NON_COMPLIANT"));
const FOUND: (&str, Option<&str>) = ("NON_COMPLIANT", None);
const STILL: (&str, Option<&str>) = ("NON_COMPLIANT", Some("NON_COMPLIANT"));

/// The stream of changes the demo account goes through, oldest first.
fn stream() -> Vec<Change> {
    let pitr = "dynamodb-pitr-enabled";
    let kms = "dynamodb-table-encrypted-kms";
    [
        (
            "SSH opened to the world",
            "restricted-ssh",
            SECURITY_GROUP,
            SG,
            BROKEN,
            50,
        ),
        (
            "the same event delivered twice",
            "restricted-ssh",
            SECURITY_GROUP,
            SG,
            BROKEN,
            50,
        ),
        (
            "PITR off on the ledger",
            pitr,
            TABLE,
            "payments-ledger",
            BROKEN,
            45,
        ),
        (
            "public data set, exempted by tag",
            pitr,
            TABLE,
            "public-catalog",
            FOUND,
            44,
        ),
        (
            "scratch table, exempted by pattern",
            pitr,
            TABLE,
            "scratch-tmp",
            FOUND,
            43,
        ),
        (
            "unencrypted analytics table",
            kms,
            TABLE,
            "analytics-events",
            FOUND,
            40,
        ),
        (
            "exemption expired in December",
            "dynamodb-autoscaling-enabled",
            TABLE,
            "payments-orders",
            FOUND,
            35,
        ),
        (
            "flapping 1: broken",
            pitr,
            TABLE,
            "flappy-cache",
            BROKEN,
            30,
        ),
        ("flapping 2: fixed", pitr, TABLE, "flappy-cache", FIXED, 25),
        (
            "SSH rule re-evaluated, still open",
            "restricted-ssh",
            SECURITY_GROUP,
            SG,
            STILL,
            20,
        ),
        (
            "flapping 3: broken again",
            pitr,
            TABLE,
            "flappy-cache",
            BROKEN,
            20,
        ),
        (
            "flapping 4: fixed again",
            pitr,
            TABLE,
            "flappy-cache",
            FIXED,
            15,
        ),
        (
            "flapping 5: broken again",
            pitr,
            TABLE,
            "flappy-cache",
            BROKEN,
            10,
        ),
        (
            "analytics table encrypted",
            kms,
            TABLE,
            "analytics-events",
            FIXED,
            5,
        ),
    ]
    .into_iter()
    .map(|(what, rule, kind, id, (new, old), minutes_ago)| Change {
        what,
        rule,
        kind,
        id,
        new,
        old,
        minutes_ago,
    })
    .collect()
}

impl Change {
    fn event(&self, now: i64) -> Value {
        change_event(
            self.rule,
            self.kind,
            self.id,
            self.new,
            self.old,
            now - self.minutes_ago * 60,
        )
    }
}

async fn replay_changes(app: &App, now: i64) -> Result {
    println!("\nBefore: no state, no notifications. A stream of compliance changes arrives:");
    for (i, change) in stream().iter().enumerate() {
        let report = invoke(app, change.event(now)).await?;
        println!("  {:>2}. {:<36} {}", i + 1, change.what, outcome(&report));
    }
    Ok(())
}

async fn replay_sqs_batch(ctx: &Ctx, app: &App, now: i64) -> Result {
    println!("\nThe same changes can arrive batched through SQS; one record is corrupt:");
    let found = change_event(
        "dynamodb-pitr-enabled",
        TABLE,
        "ml-features",
        "NON_COMPLIANT",
        None,
        now - 3 * 60,
    );
    let batch = json!({"Records": [
        sqs_record("msg-1", &found.to_string()),
        sqs_record("msg-2", "{\"detail-type\": \"Config Rules Compliance Change\", \"detail\": "),
    ]});
    let seen = ctx.slack.received().len();
    let response = invoke(app, batch).await?;
    // The batch response names only the failed records; what msg-1 led to
    // shows in what was delivered during the invocation.
    let sent = ctx.slack.received().split_off(seen);
    if sent.is_empty() {
        println!("  record msg-1 => nothing sent");
    }
    for sent in &sent {
        println!(
            "  record msg-1 => notified #{}: {}",
            channel_of(&sent.path),
            sent.body["text"].as_str().unwrap_or_default()
        );
    }
    println!("  Lambda response: {response}");
    println!(
        "  (msg-2 is cut short, so not a change: SQS redelivers only it, then dead-letters it)"
    );
    Ok(())
}

fn print_received(ctx: &Ctx, topic: &str) {
    println!("\nWhat people received:");
    for name in ["payments", "data", "default"] {
        let messages = ctx.slack.delivered_to(&channel(name));
        println!("  Slack #{name} ({} message(s)):", messages.len());
        for m in messages {
            println!("    - {}", m["text"].as_str().unwrap_or_default());
        }
    }
    let pages: Vec<Value> = ctx
        .slack
        .delivered_to(&channel("pager"))
        .into_iter()
        .filter(|b| b["Type"] == "Notification")
        .collect();
    println!("  Pager (SNS {topic}): {} page(s)", pages.len());
    for p in &pages {
        println!("    - {}", p["Subject"].as_str().unwrap_or_default());
    }
}

async fn print_state(ctx: &Ctx) -> Result {
    println!("\nAfter: the state table ({STATE_TABLE}):");
    let items = aws_sdk_dynamodb::Client::new(&ctx.sdk)
        .scan()
        .table_name(STATE_TABLE)
        .send()
        .await?
        .items
        .unwrap_or_default();
    let mut rows: Vec<String> = items
        .iter()
        .map(|item| {
            let s = |k: &str| match item.get(k) {
                Some(AttributeValue::S(v)) => v.clone(),
                Some(AttributeValue::N(v)) => v.clone(),
                Some(AttributeValue::Bool(b)) => b.to_string(),
                _ => "-".into(),
            };
            format!(
                "{:<30} {:<22} {:<14} announced={}",
                s("rule"),
                s("resource_id"),
                s("status"),
                s("announced")
            )
        })
        .collect();
    rows.sort();
    for row in rows {
        println!("  {row}");
    }
    Ok(())
}

async fn print_digest(ctx: &Ctx, app: &App, config: &ConfigService) -> Result {
    println!("\nThe daily schedule fires; the digest:");
    let schedule: Value =
        serde_json::from_str(&toilkit_tests::workspace::sample("scheduled-event.json"))?;
    let report = invoke(app, schedule).await?;
    println!(
        "  Config API calls: {} (paginated); posted: {}",
        config.all_calls(),
        report["applied"][0]["reason"].as_str().unwrap_or("nothing")
    );
    if let Some(digest) = ctx.slack.delivered_to(&channel("default")).last() {
        for block in digest["blocks"].as_array().into_iter().flatten() {
            let text = block["text"]["text"]
                .as_str()
                .or_else(|| block["elements"][0]["text"].as_str())
                .unwrap_or_default();
            for line in text.lines() {
                println!("  | {line}");
            }
        }
    }
    Ok(())
}

/// Invokes the real handler as the Lambda runtime would, and returns its
/// response: the report for a single change or the digest, the batch
/// response for an SQS batch.
async fn invoke(app: &App, payload: Value) -> Result<Value> {
    let mut context = Context::default();
    // The digest lists the compliance of the account the function runs in.
    context.invoked_function_arn =
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:config-triage");
    handle(LambdaEvent::new(payload, context), app)
        .await
        .map_err(|e| e.to_string().into())
}

/// The demo channel a webhook path belongs to (see `webhook_url`).
fn channel_of(path: &str) -> &str {
    path.split("/B0triage-")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("?")
}

fn outcome(report: &Value) -> String {
    if let Some(a) = report["applied"].as_array().and_then(|a| a.first()) {
        let d = &a["detail"];
        let paged = if d["page"] == true { " + paged" } else { "" };
        return format!(
            "=> {} to #{} ({}{paged}): {}",
            a["action"].as_str().unwrap_or_default().replace('_', " "),
            d["route"].as_str().unwrap_or_default(),
            d["severity"].as_str().unwrap_or_default(),
            a["reason"].as_str().unwrap_or_default()
        );
    }
    if let Some(s) = report["skipped"].as_array().and_then(|s| s.first()) {
        return format!("=> silent: {}", s["reason"].as_str().unwrap_or_default());
    }
    format!("=> {report}")
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Epoch seconds as `YYYY-MM-DDTHH:MM:SSZ`, as Config writes its times.
fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .expect("demo times are near now")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a UTC time formats as RFC 3339")
}

fn change_event(rule: &str, kind: &str, id: &str, new: &str, old: Option<&str>, at: i64) -> Value {
    let qualifier = json!({"configRuleName": rule, "resourceType": kind, "resourceId": id});
    let mut detail = json!({
        "resourceId": id,
        "awsRegion": REGION,
        "awsAccountId": ACCOUNT,
        "configRuleName": rule,
        "recordVersion": "1.0",
        "configRuleARN": format!("arn:aws:config:{REGION}:{ACCOUNT}:config-rule/config-rule-{rule}"),
        "messageType": "ComplianceChangeNotification",
        "newEvaluationResult": {
            "evaluationResultIdentifier": {
                "evaluationResultQualifier": qualifier,
                "orderingTimestamp": rfc3339(at),
            },
            "complianceType": new,
            "resultRecordedTime": rfc3339(at + 20),
            "configRuleInvokedTime": rfc3339(at + 10),
        },
        "notificationCreationTime": rfc3339(at + 21),
        "resourceType": kind,
    });
    if let Some(old) = old {
        detail["oldEvaluationResult"] = json!({
            "evaluationResultIdentifier": {
                "evaluationResultQualifier": qualifier,
                "orderingTimestamp": rfc3339(at - 3600),
            },
            "complianceType": old,
        });
    }
    json!({
        "version": "0",
        "id": format!("{rule}-{id}-{at}"),
        "detail-type": "Config Rules Compliance Change",
        "source": "aws.config",
        "account": ACCOUNT,
        "time": rfc3339(at + 21),
        "region": REGION,
        "resources": [],
        "detail": detail,
    })
}

fn sqs_record(id: &str, body: &str) -> Value {
    json!({
        "messageId": id,
        "receiptHandle": format!("AQEB{id}"),
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:toilkit-config-triage"),
        "awsRegion": REGION,
    })
}
