//! rds-audit-notifier's part of the demo: the audit logs of a demo account's
//! three databases (RDS MySQL, Aurora MySQL, RDS PostgreSQL with pgaudit) go
//! through the real handler as CloudWatch Logs subscription events; then
//! Lambda's retry of one batch shows that nothing is posted twice. It prints
//! what the local Slack channel received.

use aws_sdk_dynamodb as dynamodb;
use aws_sdk_secretsmanager as secretsmanager;
use lambda_runtime::{Context, LambdaEvent};
use rds_audit_notifier::{App, handle};
use serde_json::Value;
use shared::config::Env;
use toilkit_tests::logs_subscription::{self, log_data};

use super::{Ctx, print_message};
use crate::Result;

const CHANNEL: &str = "db-audit";

pub async fn run(ctx: &Ctx) -> Result {
    let secret = ctx.moto.unique("rds-demo-slack");
    let secret_arn = secretsmanager::Client::new(&ctx.sdk)
        .create_secret()
        .name(&secret)
        .secret_string(ctx.slack.webhook_url(CHANNEL))
        .send()
        .await?
        .arn
        .unwrap_or_default();
    let table = ctx.moto.unique("rds-demo-idempotency");
    create_table(ctx, &table).await?;
    println!(
        "Seeded: the Slack webhook in Secrets Manager ({secret}), the idempotency table {table}."
    );

    let settings = [
        ("SLACK_WEBHOOK_SECRET_ARN", secret_arn.as_str()),
        ("IDEMPOTENCY_TABLE", table.as_str()),
        ("ALERT_ON", "ddl,account,failed_login,watched_user"),
        ("WATCH_USERS", "contractor-*"),
        ("IGNORE_USERS", "rdsadmin"),
    ];
    println!("Configuration:");
    for (name, value) in &settings[2..] {
        println!("  {name}={value}");
    }
    let mut env = Env::from_pairs(settings);
    let app = App::new(
        rds_audit_notifier::Config::from_env(&mut env),
        &ctx.sdk,
        ctx.output.clone(),
    );
    env.finish()?;
    println!(
        "Before: #{CHANNEL} has {} message(s).\n",
        ctx.slack.delivered_to(CHANNEL).len()
    );

    let mut mysql = sample_lines("rds-mysql-audit.log");
    mysql.push(r"20231114 22:15:30,ip-10-0-1-23,admin,10.0.2.15,3051,152320,QUERY,mysql,'CREATE USER \'etl\'@\'10.0.%\' IDENTIFIED BY \'Tr0ub4dor,\\\'3\'',0".to_owned());
    mysql.push("20231114 22:16:02,ip-10-0-1-23,contractor-ann,10.0.7.31,3060,152321,QUERY,appdb,'SELECT email FROM customers LIMIT 500',0".to_owned());
    mysql.push("-- a line from somewhere else --".to_owned());
    let mut postgres = sample_lines("rds-postgres-pgaudit.log");
    postgres.push("2023-11-14 22:26:40 UTC:10.0.5.20(50230):postgres@appdb:[28210]:LOG:  AUDIT: SESSION,7,1,ROLE,ALTER ROLE,,,\"ALTER ROLE report WITH ENCRYPTED PASSWORD 'md5,c0ffee''s'\",<not logged>".to_owned());
    postgres.push(
        "2023-11-14 22:26:41 UTC::@:[560]:LOG:  checkpoint complete: wrote 12 buffers".to_owned(),
    );
    let batches = [
        (
            "/aws/rds/instance/product-db/audit",
            "product-db.audit.log.0",
            mysql,
            "RDS MySQL audit sample + a password change, a watched contractor, a stray line",
        ),
        (
            "/aws/rds/cluster/aurora-prod/audit",
            "aurora-prod-instance-1.audit.log.0",
            sample_lines("aurora-mysql-audit.log"),
            "Aurora MySQL advanced auditing sample",
        ),
        (
            "/aws/rds/instance/pg-prod/postgresql",
            "pg-prod.postgresql.log",
            postgres,
            "RDS PostgreSQL pgaudit sample + a role password change",
        ),
    ];

    let mut first_event = None;
    for (group, stream, lines, what) in &batches {
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let event = logs_subscription::event(&log_data(group, stream, 1_700_000_000_000, &refs));
        first_event.get_or_insert_with(|| event.clone());
        println!("Batch {group} ({what}): {} log events", lines.len());
        let report = handle(LambdaEvent::new(event, Context::default()), &app).await?;
        summarise(&report);
    }

    println!("Lambda retries the first batch (as after a timeout):");
    let retry = first_event.expect("a batch was sent");
    let report = handle(LambdaEvent::new(retry, Context::default()), &app).await?;
    summarise(&report);

    let delivered = ctx.slack.delivered_to(CHANNEL);
    println!("After: #{CHANNEL} has {} message(s):\n", delivered.len());
    for message in &delivered {
        print_message(message);
    }
    let everything: String = delivered.iter().map(Value::to_string).collect();
    for secret in ["Tr0ub4dor", "c0ffee", "xoxSECRET"] {
        if everything.contains(secret) {
            return Err(format!("demo failure: {secret} reached Slack").into());
        }
    }
    println!("No password and no webhook URL reached Slack, the reports or the log.");
    Ok(())
}

fn summarise(report: &shared::Report) {
    let c = |name: &str| report.counter(name);
    println!(
        "  -> {} alert(s), {} ignored, {} not alerting, {} unparsed, {} ordinary log line(s); {} message(s) posted, {} already delivered",
        c("alerts"),
        c("ignored"),
        c("not_alerting"),
        c("unparsed"),
        c("not_audit_lines"),
        c("messages_delivered"),
        c("messages_already_delivered"),
    );
    if let Some(examples) = report
        .details
        .get("unparsed_examples")
        .and_then(Value::as_array)
    {
        for example in examples {
            // The line itself is masked whole: it may hold a secret.
            println!(
                "     unparsed: log event {}, {} characters, masked ({})",
                example["event_id"].as_str().unwrap_or(""),
                example["chars"],
                example["reason"].as_str().unwrap_or("")
            );
        }
    }
    println!();
}

fn sample_lines(name: &str) -> Vec<String> {
    toilkit_tests::workspace::sample(name)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

async fn create_table(ctx: &Ctx, table: &str) -> Result {
    toilkit_tests::tables::create_pk_table(&dynamodb::Client::new(&ctx.sdk), table).await?;
    Ok(())
}
