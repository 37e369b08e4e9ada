//! The handler against moto (Secrets Manager, SSM, DynamoDB) and a real
//! Slack receiver: samples, redaction, filters, unparsed lines, Slack
//! failures and idempotent retries.

mod common;

use common::{Fixture, sample_lines, subscription, subscription_event};
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
        "CREATE USER 'app'@'%' IDENTIFIED BY '***'",
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
    f.set("ALERT_ON", "failed_login,watched_user,custom");
    f.set("IGNORE_USERS", "rdsadmin,svc-*");
    f.set("IGNORE_HOSTS", "10.9.0.0/16,bastion-*");
    f.set("WATCH_USERS", "contractor-*");
    f.set("MATCH_REGEX", "(?i)from\\s+payroll");
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
    assert_eq!(examples[0]["line"], "this is not an audit line");
    assert!(examples[0]["event_id"].as_str().unwrap().ends_with("0001"));
    let text = serde_json::to_string(&report).unwrap();
    assert!(!text.contains("Leaky99"), "{text}");
    assert!(examples[1]["line"].as_str().unwrap().ends_with("***"));
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_until_delivered() {
    let f = Fixture::new().await;
    let app = f.app();
    f.slack.script([
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
    let statuses: Vec<u16> = f.slack.received().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 500, 503, 200]);
    assert_eq!(report.counter("messages_delivered"), 1);
    assert!(report.succeeded());
}

#[tokio::test]
async fn a_permanent_failure_fails_the_invocation_without_leaking_the_webhook() {
    let f = Fixture::new().await;
    let app = f.app();
    f.slack.script([Reply::Status(404)]);
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
    assert!(f.slack.delivered().is_empty());

    // Server errors that never stop fail the invocation too.
    f.slack
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
    f.slack.script([Reply::Ok, Reply::Status(400)]);
    let error = f.invoke(&app, event.clone()).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("1 of 2 pending part(s) delivered"),
        "{error}"
    );
    assert_eq!(f.slack.delivered().len(), 1);

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
    assert_eq!(f.slack.delivered().len(), 2);

    // The records expire on their own.
    let items = aws_sdk_dynamodb::Client::new(&f.sdk)
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
    assert_eq!(f.slack.delivered().len(), 2);
}

#[tokio::test]
async fn a_webhook_in_ssm_works_and_quiet_batches_post_nothing() {
    let mut f = Fixture::new().await;
    let parameter = f.webhook_parameter("audit").await;
    f.env.retain(|(k, _)| k != "SLACK_WEBHOOK_SECRET_ARN");
    f.set("SLACK_WEBHOOK_PARAMETER", &parameter);
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
    assert!(f.slack.received().is_empty());
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
    assert!(f.slack.received().is_empty());
}

#[tokio::test]
async fn a_dry_run_plans_and_posts_nothing() {
    let mut f = Fixture::new().await;
    f.set("DRY_RUN", "true");
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
    assert!(f.slack.received().is_empty());
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
    assert!(f.slack.received().is_empty());
    // The retry, with time, delivers.
    let report = f.invoke(&app, event).await.unwrap();
    assert_eq!(report.counter("messages_delivered"), 1);
}
