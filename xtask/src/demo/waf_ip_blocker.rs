//! waf-ip-blocker's part of the demo: a generated flood in a WAF log bucket,
//! counted and blocked through the function's real handler, then expired by
//! the schedule.

use std::io::Write;

use aws_sdk_dynamodb as dynamodb;
use aws_sdk_s3 as s3;
use aws_sdk_secretsmanager as secretsmanager;
use aws_sdk_wafv2 as wafv2;
use aws_sdk_wafv2::types::{IpAddressVersion, Scope};
use flate2::{Compression, write::GzEncoder};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use shared::config::Env;
use shared::report::Report;
use waf_ip_blocker::config::Config;
use waf_ip_blocker::{App, handle};

use super::Ctx;
use crate::Result;

const BUCKET: &str = "aws-waf-logs-product-web";
const TABLE: &str = "toilkit-waf-ledger";

pub async fn run(ctx: &Ctx) -> Result {
    let sdk = &ctx.sdk;
    let waf = wafv2::Client::new(sdk);
    let s3 = shared::aws::s3_client(sdk);
    seed_table(&dynamodb::Client::new(sdk)).await?;
    s3.create_bucket().bucket(BUCKET).send().await?;
    let mut arns = Vec::new();
    for (name, version, seed) in [
        (
            "blocked-v4",
            IpAddressVersion::Ipv4,
            vec!["203.0.113.0/24".to_owned()],
        ),
        ("blocked-v6", IpAddressVersion::Ipv6, vec![]),
    ] {
        let out = waf
            .create_ip_set()
            .name(name)
            .scope(Scope::Regional)
            .ip_address_version(version)
            .set_addresses(Some(seed))
            .description("attackers (managed by toilkit waf-ip-blocker and the SOC)")
            .send()
            .await?;
        arns.push(out.summary.and_then(|s| s.arn).unwrap_or_default());
    }
    let secret = secretsmanager::Client::new(sdk)
        .create_secret()
        .name("toilkit/slack-security")
        .secret_string(ctx.slack.webhook_url("security"))
        .send()
        .await?
        .arn
        .unwrap_or_default();

    let mut env = Env::from_pairs([
        ("LEDGER_TABLE", TABLE),
        ("IPSET_V4_ARN", arns[0].as_str()),
        ("IPSET_V6_ARN", arns[1].as_str()),
        ("THRESHOLD", "100"),
        (
            "URI_RULES",
            r#"[{"path": "/login", "threshold": 20}, {"path": "/static/*", "ignore": true}]"#,
        ),
        ("ALLOW_CIDRS", "198.51.100.0/28"),
        ("BLOCK_MINUTES", "240"),
        ("SLACK_WEBHOOK_SECRET_ARN", secret.as_str()),
    ]);
    let config = Config::from_env(&mut env);
    env.finish()?;
    let app = App::new(config, sdk, ctx.output.clone());

    let now_ms = waf_ip_blocker::now() * 1000;
    let window = now_ms - now_ms.rem_euclid(300_000);
    let (first, second) = flood_log(window);
    put(
        &s3,
        "AWSLogs/123456789012/WAFLogs/eu-west-1/product-web/part-1.log.gz",
        &first,
    )
    .await?;
    put(
        &s3,
        "AWSLogs/123456789012/WAFLogs/eu-west-1/product-web/part-2.log.gz",
        &second,
    )
    .await?;
    println!(
        "Seeded: bucket {BUCKET} with two gzip WAF log objects of the same 5-minute window ({} + {} records: normal traffic, a /login brute force, \
         a scanner over IPv6, a flood split across both objects, the office NAT 198.51.100.5 (allowlisted) and two broken lines); \
         IP sets blocked-v4 (holding the SOC's 203.0.113.0/24) and blocked-v6; ledger table {TABLE}.",
        first.len(),
        second.len()
    );
    print_sets("IP sets before", &waf, &arns).await?;

    let notification = json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "eu-west-1",
        "eventTime": "2026-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "EXAMPLE"}, "requestParameters": {"sourceIPAddress": "10.0.0.1"},
        "responseElements": {},
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}")},
            "object": {"key": "AWSLogs/123456789012/WAFLogs/eu-west-1/product-web/part-1.log.gz", "eTag": "1"}}}]});
    let report = invoke(&app, notification).await?;
    summary("S3 notification for part-1", &report);

    let object_created = json!({"version": "0", "source": "aws.s3", "detail-type": "Object Created", "region": "eu-west-1",
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": "AWSLogs/123456789012/WAFLogs/eu-west-1/product-web/part-2.log.gz", "etag": "2"}}});
    let report = invoke(&app, object_created).await?;
    summary(
        "EventBridge Object Created for part-2 (the split flood now adds up)",
        &report,
    );
    print_sets("IP sets after", &waf, &arns).await?;
    println!(
        "Slack #security received {} message(s).",
        ctx.slack.delivered_to("security").len()
    );

    let schedule = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    let later = waf_ip_blocker::now() + 241 * 60;
    let report = waf_ip_blocker::run(schedule, &app, &shared::Deadline::unbounded(), later).await?;
    println!(
        "\nScheduled run 4 h 1 min later: {} block(s) expired.",
        report
            .applied
            .iter()
            .filter(|a| a.action == "unblock_ip")
            .count()
    );
    print_sets("IP sets after expiry", &waf, &arns).await?;
    Ok(())
}

async fn invoke(app: &App, event: Value) -> Result<Report> {
    handle(LambdaEvent::new(event, Context::default()), app)
        .await
        .map_err(|e| e.to_string().into())
}

fn summary(title: &str, report: &Report) {
    println!("\n{title}:");
    println!(
        "  {} lines read, {} requests counted, {} malformed line(s) skipped, {} newly blocked, {} extended, {} UpdateIPSet call(s)",
        report.counter("lines"),
        report.counter("requests_counted"),
        report.counter("lines_malformed"),
        report.counter("new_blocks"),
        report.counter("extended_blocks"),
        report.counter("ipset_writes"),
    );
    let mut blocks: Vec<_> = report
        .planned
        .iter()
        .filter(|a| a.action == "block_ip" || a.action == "extend_block")
        .collect();
    blocks.sort_by_key(|a| {
        std::cmp::Reverse(
            a.detail
                .as_ref()
                .and_then(|d| d["hits"].as_u64())
                .unwrap_or(0),
        )
    });
    if !blocks.is_empty() {
        println!("  top offenders:");
    }
    for a in blocks.iter().take(8) {
        let hits = a
            .detail
            .as_ref()
            .and_then(|d| d["hits"].as_u64())
            .unwrap_or(0);
        println!(
            "    {:<28} {:>5} hits  {:<12} {}",
            a.target, hits, a.action, a.reason
        );
    }
    for s in &report.skipped {
        println!("  left alone: {} ({})", s.target, s.reason);
    }
    if let Some(examples) = report
        .details
        .get("malformed_examples")
        .and_then(Value::as_array)
    {
        for e in examples {
            println!(
                "  malformed: line {} of {}: {}",
                e["line"],
                e["source"].as_str().unwrap_or_default(),
                e["reason"].as_str().unwrap_or_default()
            );
        }
    }
}

async fn print_sets(title: &str, waf: &wafv2::Client, arns: &[String]) -> Result {
    println!("\n{title}:");
    for arn in arns {
        let mut parts = arn.rsplitn(3, '/');
        let (id, name) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let set = waf
            .get_ip_set()
            .name(name)
            .id(id)
            .scope(Scope::Regional)
            .send()
            .await?;
        let mut addresses = set.ip_set.map(|s| s.addresses).unwrap_or_default();
        addresses.sort();
        println!(
            "  {name:<11} {}",
            if addresses.is_empty() {
                "(empty)".to_owned()
            } else {
                addresses.join(", ")
            }
        );
    }
    Ok(())
}

async fn seed_table(ddb: &dynamodb::Client) -> Result {
    toilkit_tests::tables::create_pk_table(ddb, TABLE).await?;
    Ok(())
}

async fn put(s3: &s3::Client, key: &str, lines: &[String]) -> Result {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    for line in lines {
        gz.write_all(line.as_bytes())?;
        gz.write_all(b"\n")?;
    }
    s3.put_object()
        .bucket(BUCKET)
        .key(key)
        .body(gz.finish()?.into())
        .send()
        .await?;
    Ok(())
}

fn record(ts: i64, ip: &str, action: &str, uri: &str, ua: &str) -> String {
    json!({
        "timestamp": ts, "formatVersion": 1,
        "webaclId": "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/product-web/a1b2c3d4",
        "terminatingRuleId": if action == "BLOCK" { "AWS-AWSManagedRulesCommonRuleSet" } else { "Default_Action" },
        "terminatingRuleType": "REGULAR", "action": action, "terminatingRuleMatchDetails": [],
        "httpSourceName": "ALB", "httpSourceId": "123456789012-app/product-alb/0123456789abcdef",
        "ruleGroupList": [], "rateBasedRuleList": [], "nonTerminatingMatchingRules": [],
        "httpRequest": {"clientIp": ip, "country": "NL",
            "headers": [{"name": "host", "value": "shop.example.com"}, {"name": "user-agent", "value": ua}],
            "uri": uri, "args": "", "httpVersion": "HTTP/1.1", "httpMethod": "GET", "requestId": format!("req-{ts}")},
        "labels": []
    })
    .to_string()
}

/// Two objects of one window: normal visitors everywhere; the attackers.
fn flood_log(window_ms: i64) -> (Vec<String>, Vec<String>) {
    let mut first = Vec::new();
    let mut second = Vec::new();
    let browser = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15";
    for i in 0..400i64 {
        let ip = format!("192.0.2.{}", 1 + i % 120);
        let uri = ["/", "/products", "/static/app.js", "/cart"][(i % 4) as usize];
        let part = if i % 2 == 0 { &mut first } else { &mut second };
        part.push(record(window_ms + i * 300, &ip, "ALLOW", uri, browser));
    }
    // A credential-stuffing bot on /login (threshold 20 there).
    for i in 0..45 {
        first.push(record(
            window_ms + 1000 + i * 200,
            "203.0.114.66",
            "ALLOW",
            "/login",
            "python-requests/2.31",
        ));
    }
    // A scanner over IPv6, blocked by WAF already, still hammering.
    for i in 0..160 {
        first.push(record(
            window_ms + 2000 + i * 100,
            "2001:db8:bad::1",
            "BLOCK",
            &format!("/wp-admin/{i}.php"),
            "Nuclei",
        ));
    }
    // A flood split across both objects: 70 + 70 in one window.
    for i in 0..70 {
        first.push(record(
            window_ms + 3000 + i * 100,
            "198.18.0.77",
            "ALLOW",
            "/search",
            "curl/8.4",
        ));
        second.push(record(
            window_ms + 200_000 + i * 100,
            "198.18.0.77",
            "ALLOW",
            "/search",
            "curl/8.4",
        ));
    }
    // The office NAT: busy, and allowlisted.
    for i in 0..300 {
        second.push(record(
            window_ms + 5000 + i * 50,
            "198.51.100.5",
            "ALLOW",
            "/admin",
            browser,
        ));
    }
    // A header crafted to look like another client IP: it must not count as one.
    let hostile = record(
        window_ms + 7000,
        "192.0.2.200",
        "ALLOW",
        "/",
        r#"x","clientIp":"198.51.100.9"#,
    );
    first.push(hostile);
    first.push("{\"timestamp\":".to_owned());
    second.push("not json at all".to_owned());
    (first, second)
}
