//! config-triage in the demo: a stream of AWS Config compliance changes for
//! a demo product account goes through the real handler; the demo prints
//! what each change led to, what every Slack channel and the pager received,
//! the state table afterwards, and the digest.
//!
//! moto has no Config compliance APIs, so the digest reads them from a small
//! local stand-in that answers DescribeComplianceByConfigRule and
//! GetComplianceDetailsByConfigRule in the AWS JSON protocol, two results a
//! page, so the function's pagination is exercised too.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, Tag,
};
use aws_sdk_ssm::types::ParameterType;
use config_triage::config::Config;
use config_triage::{App, handle};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use shared::config::Env;
use shared::output::Output;

use super::Ctx;
use crate::Result;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const SG: &str = "sg-0a1b2c3d4e5f60718";
const TABLE: &str = "AWS::DynamoDB::Table";
const SECURITY_GROUP: &str = "AWS::EC2::SecurityGroup";

/// One open violation as the stand-in Config service reports it.
struct Open {
    rule: &'static str,
    kind: &'static str,
    id: &'static str,
    minutes_ago: i64,
    annotation: &'static str,
}

pub async fn run(ctx: &Ctx) -> Result {
    let now = now_secs();
    let channel = |name: &str| format!("triage-{name}");

    // The demo account: resources with owner tags, webhooks, the pager topic.
    let dynamodb = aws_sdk_dynamodb::Client::new(&ctx.sdk);
    let state_table = "toilkit-config-triage-state";
    create_table(&dynamodb, state_table, "pk", &[]).await?;
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
        create_table(&dynamodb, name, "id", tags).await?;
    }
    let app_sdk = &ctx.sdk;
    let ssm = aws_sdk_ssm::Client::new(app_sdk);
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
    let sns = aws_sdk_sns::Client::new(app_sdk);
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

    let settings = json!({
        "STATE_TABLE": state_table,
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
    for (k, v) in settings.as_object().into_iter().flatten() {
        println!("  {k}={}", v.as_str().unwrap_or_default());
    }
    let pairs: Vec<(String, String)> = settings
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let mut env = Env::from_pairs(pairs);
    let settings = Config::from_env(&mut env);
    env.finish()?;

    // The stand-in Config service, answering with what is open at the end.
    let open = vec![
        Open {
            rule: "restricted-ssh",
            kind: SECURITY_GROUP,
            id: SG,
            minutes_ago: 50,
            annotation: "Port 22 is open to 0.0.0.0/0",
        },
        Open {
            rule: "dynamodb-pitr-enabled",
            kind: TABLE,
            id: "payments-ledger",
            minutes_ago: 45,
            annotation: "Point-in-time recovery is off",
        },
        Open {
            rule: "dynamodb-pitr-enabled",
            kind: TABLE,
            id: "public-catalog",
            minutes_ago: 44,
            annotation: "Point-in-time recovery is off",
        },
        Open {
            rule: "dynamodb-pitr-enabled",
            kind: TABLE,
            id: "scratch-tmp",
            minutes_ago: 43,
            annotation: "Point-in-time recovery is off",
        },
        Open {
            rule: "dynamodb-pitr-enabled",
            kind: TABLE,
            id: "flappy-cache",
            minutes_ago: 10,
            annotation: "Point-in-time recovery is off",
        },
        Open {
            rule: "dynamodb-pitr-enabled",
            kind: TABLE,
            id: "ml-features",
            minutes_ago: 3,
            annotation: "Point-in-time recovery is off",
        },
        Open {
            rule: "dynamodb-pitr-enabled",
            kind: TABLE,
            id: "legacy-sessions",
            minutes_ago: 40 * 24 * 60,
            annotation: "Point-in-time recovery is off",
        },
        Open {
            rule: "dynamodb-autoscaling-enabled",
            kind: TABLE,
            id: "payments-orders",
            minutes_ago: 35,
            annotation: "No auto scaling policy",
        },
    ];
    let (config_url, config_calls) = stand_in_config(open, now)?;
    let config_sdk = ctx.sdk.to_builder().endpoint_url(&config_url).build();
    let app = App::new(settings, &ctx.sdk, Output::quiet())
        .with_config_client(aws_sdk_config::Client::new(&config_sdk), &ctx.sdk);

    println!("\nBefore: no state, no notifications. A stream of compliance changes arrives:");
    let ch = |rule: &str, kind: &str, id: &str, new: &str, old: Option<&str>, ago: i64| {
        change_event(rule, kind, id, new, old, now - ago * 60)
    };
    let stream = [
        (
            "SSH opened to the world",
            ch(
                "restricted-ssh",
                SECURITY_GROUP,
                SG,
                "NON_COMPLIANT",
                Some("COMPLIANT"),
                50,
            ),
        ),
        (
            "the same event delivered twice",
            ch(
                "restricted-ssh",
                SECURITY_GROUP,
                SG,
                "NON_COMPLIANT",
                Some("COMPLIANT"),
                50,
            ),
        ),
        (
            "PITR off on the ledger",
            ch(
                "dynamodb-pitr-enabled",
                TABLE,
                "payments-ledger",
                "NON_COMPLIANT",
                Some("COMPLIANT"),
                45,
            ),
        ),
        (
            "public data set, exempted by tag",
            ch(
                "dynamodb-pitr-enabled",
                TABLE,
                "public-catalog",
                "NON_COMPLIANT",
                None,
                44,
            ),
        ),
        (
            "scratch table, exempted by pattern",
            ch(
                "dynamodb-pitr-enabled",
                TABLE,
                "scratch-tmp",
                "NON_COMPLIANT",
                None,
                43,
            ),
        ),
        (
            "unencrypted analytics table",
            ch(
                "dynamodb-table-encrypted-kms",
                TABLE,
                "analytics-events",
                "NON_COMPLIANT",
                None,
                40,
            ),
        ),
        (
            "exemption expired in December",
            ch(
                "dynamodb-autoscaling-enabled",
                TABLE,
                "payments-orders",
                "NON_COMPLIANT",
                None,
                35,
            ),
        ),
        (
            "flapping 1: broken",
            ch(
                "dynamodb-pitr-enabled",
                TABLE,
                "flappy-cache",
                "NON_COMPLIANT",
                Some("COMPLIANT"),
                30,
            ),
        ),
        (
            "flapping 2: fixed",
            ch(
                "dynamodb-pitr-enabled",
                TABLE,
                "flappy-cache",
                "COMPLIANT",
                Some("NON_COMPLIANT"),
                25,
            ),
        ),
        (
            "SSH rule re-evaluated, still open",
            ch(
                "restricted-ssh",
                SECURITY_GROUP,
                SG,
                "NON_COMPLIANT",
                Some("NON_COMPLIANT"),
                20,
            ),
        ),
        (
            "flapping 3: broken again",
            ch(
                "dynamodb-pitr-enabled",
                TABLE,
                "flappy-cache",
                "NON_COMPLIANT",
                Some("COMPLIANT"),
                20,
            ),
        ),
        (
            "flapping 4: fixed again",
            ch(
                "dynamodb-pitr-enabled",
                TABLE,
                "flappy-cache",
                "COMPLIANT",
                Some("NON_COMPLIANT"),
                15,
            ),
        ),
        (
            "flapping 5: broken again",
            ch(
                "dynamodb-pitr-enabled",
                TABLE,
                "flappy-cache",
                "NON_COMPLIANT",
                Some("COMPLIANT"),
                10,
            ),
        ),
        (
            "analytics table encrypted",
            ch(
                "dynamodb-table-encrypted-kms",
                TABLE,
                "analytics-events",
                "COMPLIANT",
                Some("NON_COMPLIANT"),
                5,
            ),
        ),
    ];
    for (i, (what, event)) in stream.iter().enumerate() {
        let report = invoke(&app, event.clone()).await?;
        println!("  {:>2}. {:<36} {}", i + 1, what, outcome(&report));
    }

    println!("\nThe same changes can arrive batched through SQS; one record is corrupt:");
    let batch = json!({"Records": [
        sqs_record("msg-1", &ch("dynamodb-pitr-enabled", TABLE, "ml-features", "NON_COMPLIANT", None, 3).to_string()),
        sqs_record("msg-2", "{\"detail-type\": \"Config Rules Compliance Change\", \"detail\": "),
    ]});
    let seen = ctx.slack.received().len();
    let response = invoke(&app, batch).await?;
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

    println!("\nAfter: the state table ({state_table}):");
    let items = dynamodb
        .scan()
        .table_name(state_table)
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

    println!("\nThe daily schedule fires; the digest:");
    let schedule: Value =
        serde_json::from_str(&toilkit_tests::workspace::sample("scheduled-event.json"))?;
    let report = invoke(&app, schedule).await?;
    println!(
        "  Config API calls: {} (paginated); posted: {}",
        config_calls.load(Ordering::SeqCst),
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

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    key: &str,
    tags: &[(&str, &str)],
) -> Result {
    let mut request = client
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()?,
        )
        .billing_mode(BillingMode::PayPerRequest);
    for (k, v) in tags {
        request = request.tags(Tag::builder().key(*k).value(*v).build()?);
    }
    request.send().await?;
    Ok(())
}

/// A local stand-in for the two Config compliance operations, in the AWS
/// JSON 1.1 protocol. Returns its URL and a call counter.
fn stand_in_config(open: Vec<Open>, now: i64) -> Result<(String, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    // Detached: it lives as long as the demo process, which ends soon after.
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let (mut target, mut length) = (String::new(), 0usize);
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                let trimmed = line.trim_end();
                if trimmed.is_empty() {
                    break;
                }
                let lower = trimmed.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("x-amz-target:") {
                    target = trimmed[trimmed.len() - v.trim().len()..].to_owned();
                } else if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let (status, answer) = answer(&open, now, &target, &request);
            let text = answer.to_string();
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    Ok((url, calls))
}

/// Two results a page, so the function has to follow NextToken.
fn answer(open: &[Open], now: i64, target: &str, request: &Value) -> (&'static str, Value) {
    const PAGE: usize = 2;
    let start: usize = request["NextToken"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let page = |total: usize| (start + PAGE < total).then(|| (start + PAGE).to_string());
    match target.rsplit('.').next().unwrap_or_default() {
        "DescribeComplianceByConfigRule" => {
            let mut rules: Vec<&str> = open.iter().map(|o| o.rule).collect();
            rules.sort();
            rules.dedup();
            let items: Vec<Value> = rules
                .iter()
                .skip(start)
                .take(PAGE)
                .map(|r| {
                    let n = open.iter().filter(|o| o.rule == *r).count();
                    json!({"ConfigRuleName": r, "Compliance": {
                        "ComplianceType": "NON_COMPLIANT",
                        "ComplianceContributorCount": {"CappedCount": n, "CapExceeded": false}}})
                })
                .collect();
            (
                "200 OK",
                with_token(json!({"ComplianceByConfigRules": items}), page(rules.len())),
            )
        }
        "GetComplianceDetailsByConfigRule" => {
            let rule = request["ConfigRuleName"].as_str().unwrap_or_default();
            let matching: Vec<&Open> = open.iter().filter(|o| o.rule == rule).collect();
            let items: Vec<Value> = matching
                .iter()
                .skip(start)
                .take(PAGE)
                .map(|o| {
                    let at = (now - o.minutes_ago * 60) as f64;
                    json!({
                        "EvaluationResultIdentifier": {
                            "EvaluationResultQualifier": {"ConfigRuleName": o.rule, "ResourceType": o.kind, "ResourceId": o.id, "EvaluationMode": "DETECTIVE"},
                            "OrderingTimestamp": at
                        },
                        "ComplianceType": "NON_COMPLIANT",
                        "ResultRecordedTime": at + 20.0,
                        "ConfigRuleInvokedTime": at + 10.0,
                        "Annotation": o.annotation
                    })
                })
                .collect();
            (
                "200 OK",
                with_token(json!({"EvaluationResults": items}), page(matching.len())),
            )
        }
        other => (
            "400 Bad Request",
            json!({"__type": "UnknownOperationException", "message": format!("the demo stand-in does not serve {other}")}),
        ),
    }
}

fn with_token(mut body: Value, token: Option<String>) -> Value {
    if let Some(token) = token {
        body["NextToken"] = json!(token);
    }
    body
}
