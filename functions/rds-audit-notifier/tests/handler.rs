//! The handler against moto (Secrets Manager, SSM, DynamoDB) and a real
//! Slack receiver: samples, redaction, filters, unparsed lines, Slack
//! failures and idempotent retries.

use crate::common::{Fixture, sample_lines, subscription, subscription_event};
use serde_json::{Value, json};
use toilkit_tests::Reply;

fn lines(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn the_mysql_sample_posts_ddl_grant_and_failed_login_grouped_by_user() {
    let f = Fixture::new().await;
    let app = f.app();
    let sample = sample_lines("rds-mysql-audit.log");
    let report = f
        .invoke(
            &app,
            subscription("/aws/rds/instance/product-db/audit", &lines(&sample)),
        )
        .await
        .unwrap();
    assert_eq!(report.counter("log_events"), 7);
    assert_eq!(report.counter("alerts"), 3);
    assert_eq!(
        report.counter("ignored"),
        1,
        "rdsadmin is ignored by default"
    );
    assert_eq!(report.counter("unparsed"), 0);
    assert_eq!(report.counter("messages_delivered"), 1);

    let texts = f.delivered_texts();
    assert_eq!(texts.len(), 1);
    let t = &texts[0];
    for needle in [
        "RDS audit: product-db: 3 events",
        "👤 admin: 2 events",
        "👤 mallory: 1 failed login",
        "Schema change · ALTER TABLE",
        "ALTER TABLE orders ADD COLUMN note varchar(255)",
        "Account change · GRANT",
        "GRANT SELECT, INSERT ON appdb.* TO 'report'@'%'",
        "Failed login · access denied (error 1045)",
        "*From:* 198.51.100.23",
        "*When:* 2023-11-14 22:13:25 UTC",
        "*Database:* appdb",
        "*Result:* refused",
    ] {
        assert!(t.contains(needle), "{needle:?} missing from {t}");
    }
    assert!(
        !t.contains("SELECT 1"),
        "a plain SELECT does not alert: {t}"
    );
    assert!(!t.contains("rdsadmin"));
}

#[tokio::test]
async fn the_real_subscription_sample_decodes_and_posts() {
    let f = Fixture::new().await;
    let app = f.app();
    let event: Value = serde_json::from_str(&toilkit_tests::workspace::sample(
        "cloudwatch-logs-subscription.json",
    ))
    .unwrap();
    // The payload holds exactly the documented decoded batch.
    let decoded: Value = serde_json::from_str(&toilkit_tests::workspace::sample(
        "cloudwatch-logs-subscription.decoded.json",
    ))
    .unwrap();
    let data = shared::input::decode_logs_subscription(event.clone()).unwrap();
    assert_eq!(data.log_group, decoded["logGroup"]);
    let messages: Vec<&str> = data.log_events.iter().map(|e| e.message.as_str()).collect();
    let expected: Vec<&str> = decoded["logEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, expected);

    let report = f.invoke(&app, event).await.unwrap();
    assert_eq!(report.counter("log_events"), 7);
    assert_eq!(report.counter("alerts"), 3);
    assert_eq!(
        report.details["log_group"],
        "/aws/rds/instance/product-db/audit"
    );
    assert_eq!(report.planned.len(), 3);
    assert_eq!(report.planned[0].target, "product-db");
    assert_eq!(f.delivered_texts().len(), 1);
}

#[tokio::test]
async fn the_aurora_sample_folds_table_rows_and_names_the_instance() {
    let f = Fixture::new().await;
    let app = f.app();
    let sample = sample_lines("aurora-mysql-audit.log");
    let report = f
        .invoke(
            &app,
            subscription("/aws/rds/cluster/aurora-prod/audit", &lines(&sample)),
        )
        .await
        .unwrap();
    assert_eq!(report.counter("table_rows_folded"), 1);
    assert_eq!(
        report.counter("alerts"),
        2,
        "DROP TABLE and GRANT; the UPDATE does not alert"
    );
    let t = &f.delivered_texts()[0];
    for needle in [
        "RDS audit: aurora-prod-instance-1: 2 events",
        "cluster aurora-prod",
        "DROP TABLE tmp_import",
        "GRANT SELECT, INSERT ON *.* TO 'ethan'@'%'",
        "*When:* 2023-11-14 22:13:20 UTC",
        "*From:* 10.0.3.44",
    ] {
        assert!(t.contains(needle), "{needle:?} missing from {t}");
    }
}

#[tokio::test]
async fn the_pgaudit_sample_alerts_on_ddl_role_and_failed_password() {
    let f = Fixture::new().await;
    let app = f.app();
    let sample = sample_lines("rds-postgres-pgaudit.log");
    let report = f
        .invoke(
            &app,
            subscription("/aws/rds/instance/pg-prod/postgresql", &lines(&sample)),
        )
        .await
        .unwrap();
    assert_eq!(report.counter("unparsed"), 0);
    assert_eq!(report.counter("alerts"), 3);
    assert_eq!(report.counter("alerts_ddl"), 1);
    assert_eq!(report.counter("alerts_account"), 1);
    assert_eq!(report.counter("alerts_failed_login"), 1);
    let t = &f.delivered_texts()[0];
    for needle in [
        "drop table t3;",
        "GRANT SELECT ON public.orders TO report;",
        "Failed login · password authentication failed",
        "👤 intruder: 1 failed login",
        "*From:* 198.51.100.9",
        "*Object:* TABLE public.t3",
    ] {
        assert!(t.contains(needle), "{needle:?} missing from {t}");
    }
    assert!(!t.contains("x, y"), "the UPDATE does not alert");
}

#[tokio::test]
async fn passwords_never_reach_slack_or_the_report() {
    let f = Fixture::new().await;
    let app = f.app();
    let mysql = [
        r"20231114 22:13:40,h,admin,10.0.2.15,1,1,QUERY,appdb,'CREATE USER \'app\'@\'%\' IDENTIFIED BY \'Sup3r,\\\'secret\\\'\'',0",
        r"20231114 22:13:41,h,admin,10.0.2.15,1,2,QUERY,appdb,'ALTER USER app IDENTIFIED WITH caching_sha2_password BY \'Wh1te,Rabbit\'',0",
        r"20231114 22:13:42,h,admin,10.0.2.15,1,3,QUERY,,'SET PASSWORD FOR \'bob\'@\'%\' = \'Or4nge\'\'s,Juice\'',0",
        r"20231114 22:13:43,h,admin,10.0.2.15,1,4,QUERY,,'GRANT ALL ON *.* TO \'old\'@\'%\' IDENTIFIED BY PASSWORD \'*ABCDEF0123\'',1064",
        r"20231114 22:13:44,h,admin,10.0.2.15,1,5,QUERY,,'CREATE USER typo IDENTIFIED BY Unquoted9',1064",
    ];
    f.invoke(&app, subscription("/aws/rds/instance/db-1/audit", &mysql))
        .await
        .unwrap();
    let pg = [
        "2023-11-14 22:24:10 UTC:10.0.5.20(50223):postgres@appdb:[1]:LOG:  AUDIT: SESSION,1,1,ROLE,CREATE ROLE,,,\"CREATE ROLE app LOGIN PASSWORD 'Bl4ck''Cat,99'\",<not logged>",
        "2023-11-14 22:24:11 UTC:10.0.5.20(50223):postgres@appdb:[1]:LOG:  AUDIT: SESSION,2,1,ROLE,ALTER ROLE,,,\"ALTER USER app WITH ENCRYPTED PASSWORD 'md5Gr33nTea'\",<not logged>",
        "2023-11-14 22:24:12 UTC:10.0.5.20(50223):postgres@appdb:[1]:LOG:  AUDIT: SESSION,3,1,DDL,CREATE SUBSCRIPTION,,,\"CREATE SUBSCRIPTION s CONNECTION 'host=h password=Purpl3Rain user=r' PUBLICATION p\",<not logged>",
    ];
    let report = f
        .invoke(&app, subscription("/aws/rds/instance/pg-1/postgresql", &pg))
        .await
        .unwrap();
    let slack: String = f.delivered_texts().concat();
    let report = serde_json::to_string(&report).unwrap();
    for secret in [
        "Sup3r",
        "secret\\",
        "Wh1te",
        "Rabbit",
        "Or4nge",
        "Juice",
        "ABCDEF",
        "Unquoted9",
        "Bl4ck",
        "Cat,99",
        "Gr33nTea",
        "Purpl3Rain",
    ] {
        assert!(!slack.contains(secret), "{secret} reached Slack: {slack}");
        assert!(!report.contains(secret), "{secret} reached the report");
    }
    // What is around the secret is still there for the reader.
    for kept in [
        // `\'` in the password: its end depends on NO_BACKSLASH_ESCAPES.
        "CREATE USER 'app'@'%' IDENTIFIED BY ***",
        "IDENTIFIED WITH caching_sha2_password BY '***'",
        "SET PASSWORD FOR 'bob'@'%' = '***'",
        "CREATE ROLE app LOGIN PASSWORD '***'",
        "password=*** user=r",
        "failed with error 1064",
    ] {
        assert!(slack.contains(kept), "{kept} missing from {slack}");
    }
}

#[tokio::test]
async fn configuration_chooses_categories_and_filters() {
    let mut f = Fixture::new().await;
    f.setup
        .env
        .set("ALERT_ON", "failed_login,watched_user,custom");
    f.setup.env.set("IGNORE_USERS", "rdsadmin,svc-*");
    f.setup.env.set("IGNORE_HOSTS", "10.9.0.0/16,bastion-*");
    f.setup.env.set("WATCH_USERS", "contractor-*");
    f.setup.env.set("MATCH_REGEX", "(?i)from\\s+payroll");
    let app = f.app();
    let lines = [
        // watched: any activity, even a connect.
        "20231114 22:13:20,h,contractor-1,10.0.2.15,1,0,CONNECT,appdb,,0",
        // custom: matches the regex.
        "20231114 22:13:21,h,app,10.0.2.16,2,1,QUERY,appdb,'SELECT * FROM payroll',0",
        // ddl is not in ALERT_ON here.
        "20231114 22:13:22,h,admin,10.0.2.17,3,2,QUERY,appdb,'DROP TABLE x',0",
        // ignored user and ignored hosts, even for failed logins.
        "20231114 22:13:23,h,svc-backup,10.0.2.18,4,0,FAILED_CONNECT,,,1045",
        "20231114 22:13:24,h,eve,10.9.1.1,5,0,FAILED_CONNECT,,,1045",
        "20231114 22:13:25,h,contractor-2,bastion-7,6,3,QUERY,appdb,'DROP TABLE y',0",
        // a failed login that alerts.
        "20231114 22:13:26,h,mallory,203.0.113.9,7,0,FAILED_CONNECT,,,1045",
    ];
    let report = f
        .invoke(&app, subscription("/aws/rds/instance/db-2/audit", &lines))
        .await
        .unwrap();
    assert_eq!(report.counter("alerts"), 3);
    assert_eq!(report.counter("ignored"), 3);
    assert_eq!(report.counter("not_alerting"), 1);
    assert_eq!(report.counter("alerts_watched_user"), 1);
    assert_eq!(report.counter("alerts_custom"), 1);
    assert_eq!(report.counter("alerts_failed_login"), 1);
    let t = f.delivered_texts().concat();
    for needle in [
        "contractor-1",
        "Watched user · CONNECT",
        "Matched pattern · SELECT",
        "mallory",
    ] {
        assert!(t.contains(needle), "{needle} missing from {t}");
    }
    for absent in ["DROP TABLE", "svc-backup", "👤 eve", "contractor-2"] {
        assert!(!t.contains(absent), "{absent} should not alert: {t}");
    }
}

#[tokio::test]
async fn unparsed_lines_are_counted_and_shown_redacted() {
    let f = Fixture::new().await;
    let app = f.app();
    let lines = [
        "20231114 22:13:25,ip,admin,10.0.2.15,1,2,QUERY,appdb,'DROP TABLE x',0",
        "this is not an audit line",
        "20231114 22:13:26,ip,admin,10.0.2.15,1,3,QUERY,appdb,'oops' IDENTIFIED BY 'Leaky99',0",
        "{\"some\":\"json\"}",
    ];
    let report = f
        .invoke(&app, subscription("/aws/rds/instance/db-3/audit", &lines))
        .await
        .unwrap();
    assert_eq!(report.counter("unparsed"), 3);
    assert_eq!(report.counter("alerts"), 1);
    let examples = report.details["unparsed_examples"].as_array().unwrap();
    assert_eq!(examples.len(), 3);
    // Masked whole: an unparsed line is never known to hold no secret.
    assert_eq!(examples[0]["line"], "***");
    assert_eq!(examples[0]["chars"], 25);
    assert!(examples[0]["event_id"].as_str().unwrap().ends_with("0001"));
    let text = serde_json::to_string(&report).unwrap();
    assert!(!text.contains("Leaky99"), "{text}");
    assert_eq!(examples[1]["line"], "***");
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_until_delivered() {
    let f = Fixture::new().await;
    let app = f.app();
    f.setup.slack.script([
        Reply::RateLimited {
            retry_after_secs: 1,
        },
        Reply::Status(500),
        Reply::Status(503),
    ]);
    let started = std::time::Instant::now();
    let report = f
        .invoke(
            &app,
            subscription(
                "/aws/rds/instance/db-4/audit",
                &["20231114 22:13:25,ip,admin,10.0.2.15,1,2,QUERY,appdb,'DROP TABLE x',0"],
            ),
        )
        .await
        .unwrap();
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After was honoured"
    );
    let statuses: Vec<u16> = f.setup.slack.received().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 500, 503, 200]);
    assert_eq!(report.counter("messages_delivered"), 1);
    assert!(report.succeeded());
}

#[tokio::test]
async fn a_permanent_failure_fails_the_invocation_without_leaking_the_webhook() {
    let f = Fixture::new().await;
    let app = f.app();
    f.setup.slack.script([Reply::Status(404)]);
    let error = f
        .invoke(
            &app,
            subscription(
                "/aws/rds/instance/db-5/audit",
                &["20231114 22:13:25,ip,admin,10.0.2.15,1,2,QUERY,appdb,'DROP TABLE x',0"],
            ),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("Slack delivery for /aws/rds/instance/db-5/audit failed"),
        "{error}"
    );
    assert!(error.contains("HTTP 404"), "{error}");
    assert!(!error.contains("xoxSECRET"), "{error}");
    assert!(f.setup.slack.delivered().is_empty());

    // Server errors that never stop fail the invocation too.
    f.setup
        .slack
        .script([Reply::Status(500), Reply::Status(500), Reply::Status(500)]);
    let error = f
        .invoke(
            &app,
            subscription(
                "/aws/rds/instance/db-5/audit",
                &["20231114 22:13:26,ip,admin,10.0.2.15,1,3,QUERY,appdb,'DROP TABLE y',0"],
            ),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("after 3 attempt(s)"), "{error}");
}

#[tokio::test]
async fn a_retry_after_partial_delivery_sends_only_what_is_missing() {
    let mut f = Fixture::new().await;
    let table = f.idempotency_table().await;
    let app = f.app();
    // Two instances of a cluster: two message parts.
    let event = subscription(
        "/aws/rds/cluster/aurora-prod/audit",
        &[
            "1700000000123456,aurora-prod-instance-1,admin,10.0.3.44,47,1,QUERY,appdb,'DROP TABLE a',0",
            "1700000000223456,aurora-prod-instance-2,admin,10.0.3.44,48,2,QUERY,appdb,'DROP TABLE b',0",
        ],
    );
    // The first part goes through; the second is refused.
    f.setup.slack.script([Reply::Ok, Reply::Status(400)]);
    let error = f.invoke(&app, event.clone()).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("1 of 2 pending part(s) delivered"),
        "{error}"
    );
    assert_eq!(f.setup.slack.delivered().len(), 1);

    // Lambda retries the same event: only the missing part is posted.
    let report = f.invoke(&app, event.clone()).await.unwrap();
    assert_eq!(report.counter("messages_already_delivered"), 1);
    assert_eq!(report.counter("messages_delivered"), 1);
    let delivered = f.delivered_texts();
    assert_eq!(delivered.len(), 2);
    assert!(delivered[0].contains("DROP TABLE a") && delivered[1].contains("DROP TABLE b"));

    // A third attempt posts nothing at all.
    let report = f.invoke(&app, event).await.unwrap();
    assert_eq!(report.counter("messages_already_delivered"), 2);
    assert_eq!(report.counter("messages_delivered"), 0);
    assert_eq!(f.setup.slack.delivered().len(), 2);

    // The records expire on their own.
    let items = aws_sdk_dynamodb::Client::new(&f.setup.sdk)
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    assert_eq!(items.count(), 2);
    for item in items.items() {
        assert!(
            item["pk"]
                .as_s()
                .unwrap()
                .starts_with("rds-audit-notifier#")
        );
        let expires: u64 = item["expires_at"].as_n().unwrap().parse().unwrap();
        assert!(expires > 1_700_000_000);
    }
}

#[tokio::test]
async fn without_a_table_idempotency_is_off_and_a_retry_posts_again() {
    let f = Fixture::new().await;
    let app = f.app();
    let event = subscription(
        "/aws/rds/instance/db-6/audit",
        &["20231114 22:13:25,ip,admin,10.0.2.15,1,2,QUERY,appdb,'DROP TABLE x',0"],
    );
    f.invoke(&app, event.clone()).await.unwrap();
    f.invoke(&app, event).await.unwrap();
    assert_eq!(f.setup.slack.delivered().len(), 2);
}

#[tokio::test]
async fn a_webhook_in_ssm_works_and_quiet_batches_post_nothing() {
    let mut f = Fixture::new().await;
    let parameter = f.setup.slack.webhook_parameter(&f.setup.sdk, "audit").await;
    f.setup.env.remove("SLACK_WEBHOOK_SECRET_ARN");
    f.setup.env.set("SLACK_WEBHOOK_PARAMETER", &parameter);
    let app = f.app();
    let quiet = f
        .invoke(
            &app,
            subscription(
                "/aws/rds/instance/db-7/audit",
                &["20231114 22:13:21,ip,admin,10.0.2.15,1,1,QUERY,appdb,'SELECT 1',0"],
            ),
        )
        .await
        .unwrap();
    assert_eq!(quiet.counter("alerts"), 0);
    assert!(f.setup.slack.received().is_empty());
    f.invoke(
        &app,
        subscription(
            "/aws/rds/instance/db-7/audit",
            &["20231114 22:13:25,ip,admin,10.0.2.15,1,2,QUERY,appdb,'TRUNCATE TABLE orders',0"],
        ),
    )
    .await
    .unwrap();
    assert!(f.delivered_texts()[0].contains("TRUNCATE TABLE orders"));
}

#[tokio::test]
async fn control_messages_and_wrong_events() {
    let f = Fixture::new().await;
    let app = f.app();
    let control = subscription_event(&json!({
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": 1700000000000i64, "message": "CWL CONTROL MESSAGE: Checking health of destination Lambda."}],
    }));
    let report = f.invoke(&app, control).await.unwrap();
    assert_eq!(report.counter("control_messages"), 1);
    assert_eq!(report.counter("unparsed"), 0);

    let error = f
        .invoke(
            &app,
            json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("CloudWatch Logs subscription events"),
        "{error}"
    );
    assert!(error.contains("Scheduled Event"), "{error}");

    let error = f
        .invoke(&app, json!({"awslogs": {"data": "bm90IGd6aXA="}}))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("base64 of gzip"), "{error}");
    assert!(f.setup.slack.received().is_empty());
}

#[tokio::test]
async fn a_dry_run_plans_and_posts_nothing() {
    let mut f = Fixture::new().await;
    f.setup.env.set("DRY_RUN", "true");
    let app = f.app();
    let report = f
        .invoke(
            &app,
            subscription(
                "/aws/rds/instance/db-8/audit",
                &["20231114 22:13:25,ip,admin,10.0.2.15,1,2,QUERY,appdb,'DROP TABLE x',0"],
            ),
        )
        .await
        .unwrap();
    assert!(report.dry_run);
    assert_eq!(report.planned.len(), 1);
    assert_eq!(report.skipped[0].reason, "dry run: not posted");
    assert!(f.setup.slack.received().is_empty());
}

#[tokio::test]
async fn the_deadline_stops_delivery_and_fails_so_the_retry_resumes() {
    let mut f = Fixture::new().await;
    f.idempotency_table().await;
    let app = f.app();
    let event = subscription(
        "/aws/rds/instance/db-9/audit",
        &["20231114 22:13:25,ip,admin,10.0.2.15,1,2,QUERY,appdb,'DROP TABLE x',0"],
    );
    // Less time left than the shared margin keeps for the report.
    let mut context = lambda_runtime::Context::default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    context.deadline = (now + std::time::Duration::from_secs(2)).as_millis() as u64;
    let error = rds_audit_notifier::handle(
        lambda_runtime::LambdaEvent::new(event.clone(), context),
        &app,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("no time left"), "{error}");
    assert!(f.setup.slack.received().is_empty());
    // The retry, with time, delivers.
    let report = f.invoke(&app, event).await.unwrap();
    assert_eq!(report.counter("messages_delivered"), 1);
}

/// Everything a user can see of an invocation: the Slack texts, the Lambda
/// response and the report's log line (the result bus gets the same report).
fn everything_shown(f: &Fixture, report: &shared::Report) -> String {
    format!(
        "{}\n{}\n{}",
        f.delivered_texts().concat(),
        serde_json::to_string(report).unwrap(),
        shared::output::report_line(report)
    )
}

fn pg_audit(n: u32, class: &str, command: &str, sql: &str) -> String {
    format!(
        "2023-11-14 22:24:{n:02} UTC:10.0.5.20(50223):etl@appdb:[4711]:LOG:  AUDIT: SESSION,{n},1,{class},{command},,,\"{}\",<not logged>",
        sql.replace('"', "\"\"")
    )
}

#[tokio::test]
async fn connection_string_passwords_never_reach_slack_the_report_or_the_log() {
    let mut f = Fixture::new().await;
    // dblink_connect is a SELECT: it alerts here because etl is watched.
    f.setup.env.set("ALERT_ON", "ddl,account,watched_user");
    f.setup.env.set("WATCH_USERS", "etl");
    let app = f.app();
    let lines = [
        pg_audit(
            1,
            "DDL",
            "CREATE SUBSCRIPTION",
            "CREATE SUBSCRIPTION s1 CONNECTION 'postgresql://repl:Fake-Uri-Pw1@db.example.test:5432/app' PUBLICATION p",
        ),
        pg_audit(
            2,
            "FUNCTION",
            "SELECT",
            "SELECT dblink_connect('c1', 'host=h user=u password=''fake correct horse'' dbname=d')",
        ),
        pg_audit(
            3,
            "DDL",
            "CREATE SERVER",
            "CREATE SERVER s2 FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'h', dbname 'd', password 'Fake-Opt-Pw3')",
        ),
        pg_audit(
            4,
            "DDL",
            "CREATE USER MAPPING",
            "CREATE USER MAPPING FOR etl SERVER s2 OPTIONS (user 'u', password 'Fake''Map,Pw4')",
        ),
        pg_audit(
            5,
            "DDL",
            "ALTER SUBSCRIPTION",
            r"ALTER SUBSCRIPTION s1 CONNECTION E'host=h password=\'fake battery staple\' user=u'",
        ),
        pg_audit(
            6,
            "DDL",
            "CREATE SUBSCRIPTION",
            "CREATE SUBSCRIPTION s3 CONNECTION 'postgres://repl:Fake%40Pct-Pw6@[2001:db8::1]/app?sslmode=require' PUBLICATION p",
        ),
        pg_audit(
            7,
            "FUNCTION",
            "SELECT",
            "SELECT dblink_connect('postgresql://u:Fake-Dbl-Pw7@h/d')",
        ),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let report = f
        .invoke(
            &app,
            subscription("/aws/rds/instance/pg-cs/postgresql", &lines),
        )
        .await
        .unwrap();
    assert_eq!(report.counter("alerts"), 7, "{report:?}");
    let shown = everything_shown(&f, &report);
    for secret in [
        "Fake-Uri-Pw1",
        "correct horse",
        "Fake-Opt-Pw3",
        "Map,Pw4",
        "battery staple",
        "Pct-Pw6",
        "Fake-Dbl-Pw7",
    ] {
        assert!(!shown.contains(secret), "{secret} was shown: {shown}");
    }
    // What is around a secret is still there for the reader.
    for kept in [
        "postgresql://repl:***@db.example.test:5432/app",
        "dbname=d",
        "OPTIONS (host 'h', dbname 'd', password '***')",
        "postgresql://u:***@h/d",
    ] {
        assert!(shown.contains(kept), "{kept} missing from {shown}");
    }
}

#[tokio::test]
async fn a_statement_cut_across_deliveries_alerts_once_and_its_rest_is_masked() {
    let f = Fixture::new().await;
    let app = f.app();
    // The log events of one statement, one per line, delivered in two batches.
    let first = [
        "2023-11-14 22:24:01 UTC:10.0.5.20(50223):admin@appdb:[4712]:LOG:  AUDIT: SESSION,8,1,DDL,DROP TABLE,TABLE,public.a,drop table a;,<not logged>",
        "2023-11-14 22:24:02 UTC:10.0.5.20(50223):admin@appdb:[4712]:LOG:  AUDIT: SESSION,9,1,ROLE,ALTER ROLE,,,\"ALTER ROLE app WITH LOGIN PASSWORD",
    ];
    let second = [
        "  'Fake-Split-Pw9' VALID UNTIL 'infinity'\",<not logged>",
        "2023-11-14 22:24:03 UTC:10.0.5.20(50223):admin@appdb:[4712]:LOG:  AUDIT: SESSION,10,1,DDL,DROP TABLE,TABLE,public.b,drop table b;,<not logged>",
    ];
    let group = "/aws/rds/instance/pg-split/postgresql";
    let report = f.invoke(&app, subscription(group, &first)).await.unwrap();
    assert_eq!(
        report.counter("alerts"),
        2,
        "the cut ALTER ROLE alerts: {report:?}"
    );
    assert_eq!(report.counter("statements_cut"), 1, "{report:?}");
    assert_eq!(report.counter("unparsed"), 0, "{report:?}");
    let slack = f.delivered_texts().concat();
    assert!(
        slack.contains("ALTER ROLE app WITH LOGIN PASSWORD"),
        "{slack}"
    );
    assert!(slack.contains("cut across deliveries"), "{slack}");
    assert!(
        serde_json::to_string(&report)
            .unwrap()
            .contains("cut across deliveries"),
        "{report:?}"
    );

    let report = f.invoke(&app, subscription(group, &second)).await.unwrap();
    let shown = everything_shown(&f, &report);
    assert!(
        !shown.contains("Fake-Split-Pw9"),
        "the rest was shown: {shown}"
    );
    assert!(!shown.contains("infinity"), "the rest was shown: {shown}");
    assert_eq!(report.counter("alerts"), 1, "{report:?}");
    assert_eq!(report.counter("continuation_lines"), 1, "{report:?}");
    let detail = &report.details["continued_from_earlier_delivery"];
    assert_eq!(detail["lines"], 1, "{report:?}");
    assert!(
        detail["note"]
            .as_str()
            .unwrap()
            .contains("cut across deliveries"),
        "{report:?}"
    );
    assert!(f.delivered_texts()[1].contains("drop table b;"));
}

#[tokio::test]
async fn a_mysql_statement_cut_across_deliveries_is_named_and_its_rest_masked() {
    let f = Fixture::new().await;
    let app = f.app();
    let group = "/aws/rds/instance/my-split/audit";
    let first = [
        r"20231114 22:13:40,h,admin,10.0.2.15,1,7,QUERY,appdb,'CREATE USER \'etl\'@\'%\' IDENTIFIED BY",
    ];
    let second = [r"\'Fake-Split-Pw8\'',0"];
    let report = f.invoke(&app, subscription(group, &first)).await.unwrap();
    assert_eq!(report.counter("alerts"), 1, "{report:?}");
    assert_eq!(report.counter("statements_cut"), 1, "{report:?}");
    let slack = f.delivered_texts().concat();
    assert!(
        slack.contains("CREATE USER 'etl'@'%' IDENTIFIED BY"),
        "{slack}"
    );
    assert!(slack.contains("cut across deliveries"), "{slack}");

    let report = f.invoke(&app, subscription(group, &second)).await.unwrap();
    let shown = everything_shown(&f, &report);
    assert!(
        !shown.contains("Fake-Split-Pw8"),
        "the rest was shown: {shown}"
    );
    assert_eq!(report.counter("continuation_lines"), 1, "{report:?}");
    assert_eq!(report.counter("unparsed"), 0, "{report:?}");
}

#[tokio::test]
async fn an_unparsed_line_is_masked_whole() {
    let f = Fixture::new().await;
    let app = f.app();
    let lines = [
        "20231114 22:13:25,ip,admin,10.0.2.15,1,2,QUERY,appdb,'DROP TABLE x',0",
        // Nothing here says "password": the line cannot be known to be safe.
        "stray text Fake-Stray-Pw5 after a record",
    ];
    let report = f
        .invoke(
            &app,
            subscription("/aws/rds/instance/db-stray/audit", &lines),
        )
        .await
        .unwrap();
    assert_eq!(report.counter("unparsed"), 1);
    let shown = everything_shown(&f, &report);
    assert!(!shown.contains("Fake-Stray-Pw5"), "{shown}");
    let example = &report.details["unparsed_examples"][0];
    assert_eq!(example["line"], "***", "{example}");
    assert_eq!(example["chars"], 40, "{example}");
}

fn mysql_query(n: u32, sql: &str) -> String {
    format!(
        "20231114 22:13:{n:02},ip-10-0-1-23,admin,10.0.2.15,3051,{n},QUERY,appdb,'{}',0",
        sql.replace('\\', "\\\\").replace('\'', "\\'")
    )
}

/// Hostile or careless SQL that the server reads otherwise than a naive
/// lexer: escapes that end a literal elsewhere, comments between tokens,
/// nested comments, escapes spelling the hint word, concatenated literals.
#[tokio::test]
async fn hostile_sql_never_shows_a_password() {
    let mut f = Fixture::new().await;
    f.setup.env.set("ALERT_ON", "ddl,account,watched_user");
    f.setup.env.set("WATCH_USERS", "etl,admin");
    let app = f.app();
    let pg = [
        // standard_conforming_strings = off: `\'` escapes the quote.
        pg_audit(
            1,
            "ROLE",
            "ALTER ROLE",
            r"ALTER ROLE app PASSWORD 'it\'s Fake-Scs-Pw1'",
        ),
        // Nested comments: the quote inside opens nothing.
        pg_audit(
            2,
            "ROLE",
            "ALTER ROLE",
            "/* old: /* x */ ' */ ALTER ROLE app PASSWORD 'Fake-Nest-Pw2'",
        ),
        // An escape spelling the hint word.
        pg_audit(
            3,
            "FUNCTION",
            "SELECT",
            r"SELECT dblink_connect(E'host=h p\x61ssword=Fake-Hex-Pw3')",
        ),
        pg_audit(
            4,
            "FUNCTION",
            "SELECT",
            r"SELECT dblink_connect(U&'host=h p\0061ssword=Fake-Uni-Pw4')",
        ),
        // A string continued on the next line is one literal.
        pg_audit(
            5,
            "ROLE",
            "ALTER ROLE",
            "ALTER ROLE app PASSWORD 'Fake-Cat-'\n'Pw5'",
        ),
        // Positional access and secret keys.
        pg_audit(
            6,
            "FUNCTION",
            "SELECT",
            "SELECT aws_s3.table_import_from_s3('t', '', '(format csv)', 'b', 'k', 'us-east-1', 'AKIAFAKE', 'Fake-S3-Pw6', '')",
        ),
        // A dollar-quote tag with a non-ASCII letter, holding a quote.
        pg_audit(
            8,
            "ROLE",
            "ALTER ROLE",
            "SELECT $é$don't$é$; ALTER ROLE app PASSWORD 'Fake-Tag-Pw14'",
        ),
        // A shell command line.
        pg_audit(
            7,
            "WRITE",
            "COPY",
            "COPY t FROM PROGRAM 'mysql -uroot -pFake-Prog-Pw7 -e \"select 1\"'",
        ),
    ];
    let pg: Vec<&str> = pg.iter().map(String::as_str).collect();
    let report_pg = f
        .invoke(&app, subscription("/aws/rds/instance/pg-h/postgresql", &pg))
        .await
        .unwrap();
    let shown_pg = everything_shown(&f, &report_pg);
    let mysql = [
        // NO_BACKSLASH_ESCAPES: the first literal ends at `\'`.
        mysql_query(
            1,
            r"CREATE USER a IDENTIFIED BY 'x\', b IDENTIFIED BY 'Fake-Nbe-Pw8'",
        ),
        // MySQL 8 `SET PASSWORD ... REPLACE 'current'`.
        mysql_query(
            2,
            "SET PASSWORD = 'Fake-New-Pw9' REPLACE 'Fake-Old-Pw10' RETAIN CURRENT PASSWORD",
        ),
        // A comment between the plugin and BY.
        mysql_query(
            3,
            "ALTER USER app IDENTIFIED WITH caching_sha2_password /* rotate */ BY 'Fake-Cmt-Pw11'",
        ),
        // ANSI_QUOTES: "password" is a column.
        mysql_query(
            4,
            "UPDATE users SET \"password\" = 'Fake-Ansi-Pw12' WHERE id = 1",
        ),
        // Adjacent literals are one string.
        mysql_query(5, "CREATE USER c IDENTIFIED BY 'Fake-Adj-' 'Pw13'"),
        // `--` without a space is two minus signs to MySQL; the line break
        // is in a string (one log event per line).
        mysql_query(
            6,
            "UPDATE users SET n = n--'\n', password = 'Fake-Dash-Pw15' WHERE id = 1",
        ),
    ];
    let mysql: Vec<&str> = mysql.iter().flat_map(|r| r.split('\n')).collect();
    let report_mysql = f
        .invoke(&app, subscription("/aws/rds/instance/my-h/audit", &mysql))
        .await
        .unwrap();
    assert_eq!(report_pg.counter("alerts"), 8, "{report_pg:?}");
    assert_eq!(report_mysql.counter("alerts"), 6, "{report_mysql:?}");
    let shown = format!("{shown_pg}\n{}", everything_shown(&f, &report_mysql));
    for secret in [
        "Fake-Scs-Pw1",
        "Fake-Nest-Pw2",
        "Fake-Hex-Pw3",
        "Fake-Uni-Pw4",
        "Pw5",
        "Fake-S3-Pw6",
        "Fake-Prog-Pw7",
        "Fake-Nbe-Pw8",
        "Fake-New-Pw9",
        "Fake-Old-Pw10",
        "Fake-Cmt-Pw11",
        "Fake-Ansi-Pw12",
        "Pw13",
        "Fake-Tag-Pw14",
        "Fake-Dash-Pw15",
    ] {
        assert!(!shown.contains(secret), "{secret} was shown: {shown}");
    }
    // What is before a secret is still there for the reader.
    for kept in [
        "ALTER ROLE app PASSWORD",
        "SET PASSWORD = &#39;***&#39; REPLACE",
        "COPY t FROM PROGRAM",
    ] {
        let kept_raw = kept.replace("&#39;", "'");
        assert!(
            shown.contains(kept) || shown.contains(&kept_raw),
            "{kept} missing from {shown}"
        );
    }
}

/// Secrets built by concatenation or `format`, given to crypto functions or
/// settings, compared with a password column, held in a variable, a column
/// named `pw` or a quoted name.
#[tokio::test]
async fn computed_and_named_secrets_never_show() {
    let mut f = Fixture::new().await;
    f.setup.env.set("ALERT_ON", "ddl,account,watched_user");
    f.setup.env.set("WATCH_USERS", "etl,admin");
    let app = f.app();
    let pg = [
        pg_audit(
            1,
            "FUNCTION",
            "SELECT",
            "SELECT dblink_connect('host=h user=u password=' || 'Fake-Cat-Pw16')",
        ),
        pg_audit(
            2,
            "FUNCTION",
            "SELECT",
            "SELECT dblink_connect(format('host=h password=%s', 'Fake-Fmt-Pw17'))",
        ),
        pg_audit(
            3,
            "WRITE",
            "INSERT",
            "INSERT INTO accounts (email, pass_hash) VALUES ('a@example.test', crypt('Fake-Crypt-Pw18', gen_salt('bf')))",
        ),
        pg_audit(
            4,
            "FUNCTION",
            "SELECT",
            "SELECT set_config('app.secret', 'Fake-Cfg-Pw19', false)",
        ),
        pg_audit(
            5,
            "READ",
            "SELECT",
            "SELECT id FROM users WHERE 'Fake-Cmp-Pw20' = password",
        ),
        // The object name is shown too.
        "2023-11-14 22:24:06 UTC:10.0.5.20(50223):etl@appdb:[4711]:LOG:  AUDIT: SESSION,6,1,DDL,CREATE TABLE,TABLE,\"public.\"\"https://u:Fake-Obj-Pw21@h\"\"\",\"CREATE TABLE \"\"https://u:Fake-Obj-Pw21@h\"\" (a int)\",<not logged>".to_owned(),
    ];
    let pg: Vec<&str> = pg.iter().map(String::as_str).collect();
    let report_pg = f
        .invoke(&app, subscription("/aws/rds/instance/pg-c/postgresql", &pg))
        .await
        .unwrap();
    let shown_pg = everything_shown(&f, &report_pg);
    let mysql = [
        mysql_query(1, "SET @pw := 'Fake-Var-Pw22'"),
        mysql_query(2, "UPDATE users SET pw = 'Fake-Col-Pw23' WHERE id = 1"),
    ];
    let mysql: Vec<&str> = mysql.iter().map(String::as_str).collect();
    let report_mysql = f
        .invoke(&app, subscription("/aws/rds/instance/my-c/audit", &mysql))
        .await
        .unwrap();
    assert_eq!(report_pg.counter("alerts"), 6, "{report_pg:?}");
    assert_eq!(report_mysql.counter("alerts"), 2, "{report_mysql:?}");
    let shown = format!("{shown_pg}\n{}", everything_shown(&f, &report_mysql));
    for secret in [
        "Fake-Cat-Pw16",
        "Fake-Fmt-Pw17",
        "Fake-Crypt-Pw18",
        "Fake-Cfg-Pw19",
        "Fake-Cmp-Pw20",
        "Fake-Obj-Pw21",
        "Fake-Var-Pw22",
        "Fake-Col-Pw23",
    ] {
        assert!(!shown.contains(secret), "{secret} was shown: {shown}");
    }
    for kept in ["SELECT dblink_connect(", "UPDATE users SET pw = "] {
        assert!(shown.contains(kept), "{kept} missing from {shown}");
    }
}

/// Key material that is not called a password: API and access keys, a
/// private key's PEM text, a key passphrase.
#[tokio::test]
async fn keys_and_passphrases_never_show() {
    let mut f = Fixture::new().await;
    f.setup.env.set("ALERT_ON", "ddl,account,watched_user");
    f.setup.env.set("WATCH_USERS", "etl,admin");
    let app = f.app();
    let pg = [
        pg_audit(
            1,
            "ROLE",
            "ALTER ROLE",
            "ALTER ROLE app SET app.api_key = 'Fake-Api-Key24'",
        ),
        pg_audit(
            2,
            "WRITE",
            "UPDATE",
            "UPDATE integrations SET access_key = 'Fake-Access-Key25' WHERE id = 1",
        ),
    ];
    let pg: Vec<&str> = pg.iter().map(String::as_str).collect();
    let report_pg = f
        .invoke(&app, subscription("/aws/rds/instance/pg-k/postgresql", &pg))
        .await
        .unwrap();
    let shown_pg = everything_shown(&f, &report_pg);
    let mysql = [
        mysql_query(
            1,
            "INSERT INTO certs (pem) VALUES ('-----BEGIN PRIVATE KEY-----Fake-Pem-Key26-----END PRIVATE KEY-----')",
        ),
        mysql_query(2, "SET GLOBAL ssl_key_passphrase = 'Fake-Passphrase27'"),
    ];
    let mysql: Vec<&str> = mysql.iter().map(String::as_str).collect();
    let report_mysql = f
        .invoke(&app, subscription("/aws/rds/instance/my-k/audit", &mysql))
        .await
        .unwrap();
    assert_eq!(report_pg.counter("alerts"), 2, "{report_pg:?}");
    assert_eq!(report_mysql.counter("alerts"), 2, "{report_mysql:?}");
    let shown = format!("{shown_pg}\n{}", everything_shown(&f, &report_mysql));
    for secret in [
        "Fake-Api-Key24",
        "Fake-Access-Key25",
        "Fake-Pem-Key26",
        "Fake-Passphrase27",
    ] {
        assert!(!shown.contains(secret), "{secret} was shown: {shown}");
    }
    assert!(
        shown.contains("UPDATE integrations SET access_key = "),
        "{shown}"
    );
}
