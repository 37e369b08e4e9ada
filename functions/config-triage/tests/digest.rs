//! The scheduled digest. moto has no Config compliance APIs, so those are
//! served by aws-smithy-mocks with JSON bodies shaped as in the AWS Config
//! API reference (DescribeComplianceByConfigRule,
//! GetComplianceDetailsByConfigRule, their aggregator variants and
//! BatchGetResourceConfig); the SDK parses them as it would AWS's. Tags,
//! state and Slack are real (moto, the receiver).

use crate::common::*;
use aws_sdk_config::Client;
use aws_sdk_config::types::ComplianceType;
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use config_triage::App;
use serde_json::{Value, json};
use shared::output::Output;
use toilkit_tests::config_service::{ConfigService, Violation, evaluation, rule_compliance};

const SCHEDULE: &str = "scheduled-event.json";

fn http<O, E>(body: Value) -> MockResponse<O, E> {
    MockResponse::Http(HttpResponse::new(
        StatusCode::try_from(200).unwrap(),
        SdkBody::from(body.to_string()),
    ))
}

const JAN_1: f64 = 1_767_225_600.0; // 2026-01-01T00:00:00Z
const FEB_1: f64 = 1_769_904_000.0; // 2026-02-01T00:00:00Z
const MAR_1: f64 = 1_772_323_200.0; // 2026-03-01T00:00:00Z

struct Account {
    fx: Fixture,
    public_table: String,
    old_table: String,
    new_table: String,
}

async fn account() -> Account {
    let mut fx = Fixture::new().await;
    fx.setup.env.set(
        "SEVERITY_RULES",
        r#"[{"rule": "restricted-ssh", "severity": "critical"}, {"rule": "dynamodb-*", "severity": "high"}]"#,
    );
    fx.setup.env.set(
        "EXEMPTIONS",
        r#"[{"tag": {"key": "data-class", "value": "public"}, "reason": "open data"},
            {"rule": "restricted-ssh", "resource": "sg-0bastion*", "reason": "bastion host"},
            {"rule": "approved-amis-by-id", "expires": "2026-02-15", "reason": "AMI rollout"}]"#,
    );
    fx.setup.env.set("DIGEST_OLDEST", "3");
    let public_table = fx
        .tagged_table("opendata", &[("data-class", "public")])
        .await;
    let old_table = fx
        .tagged_table("ledger", &[("owner", "payments"), ("Name", "ledger-prod")])
        .await;
    let new_table = fx.tagged_table("cache", &[]).await;
    Account {
        fx,
        public_table,
        old_table,
        new_table,
    }
}

fn app(fx: &Fixture, config: Client) -> App {
    App::new(fx.settings(), &fx.setup.sdk, Output::default())
        .with_config_client(config, &fx.setup.sdk)
        .with_slack(fast_slack())
}

#[tokio::test]
async fn the_digest_pages_through_every_rule_and_result_and_leaves_out_the_exempted() {
    let acct = account().await;
    let fx = &acct.fx;
    let rules = mock!(Client::describe_compliance_by_config_rule).then_compute_response(|req| {
        assert_eq!(req.compliance_types(), &[ComplianceType::NonCompliant]);
        match req.next_token() {
            None => http(json!({
                "ComplianceByConfigRules": [rule_compliance("dynamodb-pitr-enabled", "NON_COMPLIANT", 3)],
                "NextToken": "rules-page-2"
            })),
            Some("rules-page-2") => http(json!({
                "ComplianceByConfigRules": [
                    rule_compliance("restricted-ssh", "NON_COMPLIANT", 2),
                    rule_compliance("rds-storage-encrypted", "NON_COMPLIANT", 1)
                ]
            })),
            Some(other) => panic!("unexpected token {other}"),
        }
    });
    let (public_table, old_table, new_table) = (
        acct.public_table.clone(),
        acct.old_table.clone(),
        acct.new_table.clone(),
    );
    let details = mock!(Client::get_compliance_details_by_config_rule).then_compute_response(
        move |req| {
            assert_eq!(req.compliance_types(), &[ComplianceType::NonCompliant]);
            let t = "AWS::DynamoDB::Table";
            match (req.config_rule_name().unwrap(), req.next_token()) {
                ("dynamodb-pitr-enabled", None) => http(json!({
                    "EvaluationResults": [
                        evaluation("dynamodb-pitr-enabled", t, &public_table, FEB_1, "PITR off"),
                        evaluation("dynamodb-pitr-enabled", t, &old_table, MAR_1, "PITR off"),
                    ],
                    "NextToken": "pitr-2"
                })),
                ("dynamodb-pitr-enabled", Some("pitr-2")) => http(json!({
                    "EvaluationResults": [
                        evaluation("dynamodb-pitr-enabled", t, &new_table, MAR_1, "PITR off"),
                        // The same resource again (another evaluation mode): counted once.
                        evaluation("dynamodb-pitr-enabled", t, &old_table, MAR_1, "PITR off"),
                    ]
                })),
                ("restricted-ssh", None) => http(json!({
                    "EvaluationResults": [
                        evaluation("restricted-ssh", "AWS::EC2::SecurityGroup", "sg-0web", FEB_1, "22 open to the world"),
                        evaluation("restricted-ssh", "AWS::EC2::SecurityGroup", "sg-0bastion1", JAN_1, "22 open to the world"),
                    ]
                })),
                ("rds-storage-encrypted", None) => http(json!({
                    "EvaluationResults": [evaluation("rds-storage-encrypted", "AWS::RDS::DBInstance", "db-ABCDEFGHIJKLMNOP", FEB_1 + 3600.0, "unencrypted")]
                })),
                other => panic!("unexpected request {other:?}"),
            }
        },
    );
    let resource_config = mock!(Client::batch_get_resource_config).then_compute_response(|req| {
        assert_eq!(req.resource_keys()[0].resource_id(), "db-ABCDEFGHIJKLMNOP");
        http(json!({
            "baseConfigurationItems": [{
                "version": "1.3",
                "accountId": "123456789012",
                "configurationItemCaptureTime": FEB_1,
                "configurationItemStatus": "OK",
                "configurationStateId": "1706745600000",
                "arn": "arn:aws:rds:us-east-1:123456789012:db:orders-db",
                "resourceType": "AWS::RDS::DBInstance",
                "resourceId": "db-ABCDEFGHIJKLMNOP",
                "resourceName": "orders-db",
                "awsRegion": "us-east-1",
                "availabilityZone": "us-east-1a",
                "configuration": "{}",
                "supplementaryConfiguration": {}
            }],
            "unprocessedResourceKeys": []
        }))
    });
    let config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [&rules, &details, &resource_config]
    );
    let app = app(fx, config);

    // toilkit saw the ledger table go non-compliant in December, before
    // Config's latest evaluation: the digest ages it from then.
    let december = at("2025-12-01T00:00:00Z");
    let seen = event(
        "dynamodb-pitr-enabled",
        "AWS::DynamoDB::Table",
        &acct.old_table,
        "NON_COMPLIANT",
        None,
        december,
    );
    fx.run(&app, &seen, december).await.response.unwrap();

    let now = at("2026-03-02T09:00:00Z");
    let schedule: Value =
        serde_json::from_str(&toilkit_tests::workspace::sample(SCHEDULE)).unwrap();
    let out = fx.run(&app, &schedule, now).await;
    out.response.as_ref().expect("digest posted");
    assert_eq!(rules.num_calls(), 2, "both pages of rules");
    assert_eq!(
        details.num_calls(),
        4,
        "two pages for one rule, one for each other"
    );
    assert_eq!(resource_config.num_calls(), 1);

    let digest = &out.report.details["digest"];
    assert_eq!(digest["total"], 4, "{digest:#}");
    assert_eq!(digest["exempted"], 2);
    assert_eq!(
        digest["by_severity"],
        json!({"critical": 1, "high": 2, "medium": 1})
    );
    assert_eq!(out.report.counter("open_critical"), 1);
    let oldest: Vec<&str> = digest["oldest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        oldest,
        [acct.old_table.as_str(), "sg-0web", "db-ABCDEFGHIJKLMNOP"]
    );
    assert_eq!(digest["oldest"][0]["owner"], "payments");
    let skipped: Vec<&str> = out
        .report
        .skipped
        .iter()
        .map(|s| s.reason.as_str())
        .collect();
    assert!(
        skipped.iter().any(|r| r.contains("open data")),
        "{skipped:?}"
    );
    assert!(
        skipped.iter().any(|r| r.contains("bastion host")),
        "{skipped:?}"
    );

    let posted = texts(&fx.setup.slack, "default");
    let digest_text = posted.last().unwrap();
    assert!(
        digest_text.contains("4 open violation(s): 1 critical, 2 high, 1 medium, 0 low; 2 exempted; 1 exemption(s) expired"),
        "{digest_text}"
    );
    assert!(digest_text.contains("Oldest: ledger-prod"), "{digest_text}");
    assert!(
        digest_text.contains("Oldest: orders-db"),
        "name from Config's resource configuration: {digest_text}"
    );
    assert!(digest_text.contains("AMI rollout"), "{digest_text}");
    assert!(
        !digest_text.contains(&acct.public_table),
        "exempted resources are left out"
    );
    assert!(!digest_text.contains("sg-0bastion1"));

    // The result event lists every open violation with its severity and
    // owner, and closes the exempted ones, each under its state-table key.
    let items = &out.report.items;
    let open: Vec<_> = items
        .iter()
        .filter(|i| i.state == shared::envelope::ItemState::Open)
        .collect();
    assert_eq!(open.len(), 4, "{items:#?}");
    assert!(open.iter().all(|i| i.kind == "violation"
        && i.key.ends_with(i.fields["resource_id"].as_str().unwrap())
        && i.fields["severity"].is_string()));
    let ledger = open
        .iter()
        .find(|i| i.fields["resource_id"] == acct.old_table.as_str())
        .expect("the oldest violation is an item");
    assert_eq!(ledger.fields["owner"], "payments");
    assert_eq!(items.len() - open.len(), 2, "the two exempted, closed");
}

#[tokio::test]
async fn with_an_aggregator_the_digest_covers_every_account_and_region() {
    let mut acct = account().await;
    acct.fx.setup.env.set("AGGREGATOR_NAME", "org-aggregator");
    acct.fx.setup.env.set("DIGEST_OLDEST", "10");
    let fx = &acct.fx;
    // A table of this account in another region: its tags are read there.
    let ireland = fx.setup.moto.sdk_config_in("eu-west-1").await;
    let remote = fx.setup.moto.unique("eu-orders");
    toilkit_tests::tables::create_tagged_table(
        &aws_sdk_dynamodb::Client::new(&ireland),
        &remote,
        "id",
        &[("owner", "data")],
    )
    .await
    .unwrap();
    let remote_id = remote.clone();
    let rules =
        mock!(Client::describe_aggregate_compliance_by_config_rules).then_compute_response(|req| {
            assert_eq!(req.configuration_aggregator_name(), Some("org-aggregator"));
            assert_eq!(
                req.filters().and_then(|f| f.compliance_type()),
                Some(&ComplianceType::NonCompliant)
            );
            let entry = |account: &str, region: &str| {
                let mut e = rule_compliance("restricted-ssh", "NON_COMPLIANT", 2);
                e["AccountId"] = json!(account);
                e["AwsRegion"] = json!(region);
                e
            };
            match req.next_token() {
                None => http(json!({
                    "AggregateComplianceByConfigRules": [entry("111111111111", "eu-west-1")],
                    "NextToken": "agg-2"
                })),
                Some(_) => {
                    let mut pitr = rule_compliance("dynamodb-pitr-enabled", "NON_COMPLIANT", 1);
                    pitr["AccountId"] = json!(ACCOUNT);
                    pitr["AwsRegion"] = json!("eu-west-1");
                    http(json!({
                        "AggregateComplianceByConfigRules": [entry("222222222222", "us-east-1"), pitr]
                    }))
                }
            }
        });
    let details = mock!(Client::get_aggregate_compliance_details_by_config_rule).then_compute_response(move |req| {
        let account = req.account_id().unwrap().to_owned();
        let region = req.aws_region().unwrap().to_owned();
        let result = |id: &str, at: f64| {
            let mut r = evaluation("restricted-ssh", "AWS::EC2::SecurityGroup", id, at, "22 open");
            r["AccountId"] = json!(account);
            r["AwsRegion"] = json!(region);
            r
        };
        match (account.as_str(), req.next_token()) {
            ("111111111111", None) => http(json!({
                "AggregateEvaluationResults": [result("sg-0aaa", FEB_1)],
                "NextToken": "acct1-2"
            })),
            ("111111111111", Some("acct1-2")) => http(json!({
                "AggregateEvaluationResults": [result("sg-0bbb", JAN_1), result("sg-0bastion9", JAN_1)]
            })),
            ("222222222222", None) => http(json!({
                "AggregateEvaluationResults": [result("sg-0ccc", MAR_1)]
            })),
                (ACCOUNT, None) => {
                    let mut r = evaluation("dynamodb-pitr-enabled", "AWS::DynamoDB::Table", &remote_id, MAR_1 + 60.0, "PITR off");
                    r["AccountId"] = json!(ACCOUNT);
                    r["AwsRegion"] = json!("eu-west-1");
                    http(json!({"AggregateEvaluationResults": [r]}))
                }
            other => panic!("unexpected request {other:?}"),
        }
    });
    let config = mock_client!(aws_sdk_config, RuleMode::MatchAny, [&rules, &details]);
    let app = app(fx, config);
    let now = at("2026-03-02T09:00:00Z");
    let out = fx.run(&app, &json!({"action": "digest"}), now).await;
    out.response.as_ref().expect("digest posted");
    assert_eq!(rules.num_calls(), 2);
    assert_eq!(details.num_calls(), 4);
    let digest = &out.report.details["digest"];
    assert_eq!(digest["total"], 4, "{digest:#}");
    assert_eq!(digest["exempted"], 1);
    let accounts: Vec<(&str, &str)> = digest["oldest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["resource_id"].as_str().unwrap(),
                e["account"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        accounts,
        [
            ("sg-0bbb", "111111111111"),
            ("sg-0aaa", "111111111111"),
            ("sg-0ccc", "222222222222"),
            (remote.as_str(), ACCOUNT),
        ]
    );
    assert_eq!(digest["oldest"][3]["region"], "eu-west-1");
    assert_eq!(
        digest["oldest"][3]["owner"], "data",
        "tags are read in the resource's own region"
    );
    let posted = texts(&fx.setup.slack, "default");
    assert!(posted.last().unwrap().contains("111111111111 / eu-west-1"));
}

#[tokio::test]
async fn a_config_error_fails_the_digest_with_the_operation_named() {
    let acct = account().await;
    let rules: Rule = mock!(Client::describe_compliance_by_config_rule).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(400).unwrap(),
            SdkBody::from(r#"{"__type":"InvalidNextTokenException","message":"The specified next token is invalid."}"#),
        )
    });
    let config = mock_client!(aws_sdk_config, RuleMode::MatchAny, [&rules]);
    let app = app(&acct.fx, config);
    let out = acct
        .fx
        .run(
            &app,
            &json!({"action": "digest"}),
            at("2026-03-02T09:00:00Z"),
        )
        .await;
    let error = out.response.expect_err("the digest cannot be built");
    assert!(
        error.to_string().contains("DescribeComplianceByConfigRule"),
        "{error}"
    );
    assert!(error.to_string().contains("InvalidNextToken"), "{error}");
    assert!(acct.fx.setup.slack.received().is_empty());
}

/// GetComplianceDetailsByResource for one table, as the held-check asks it:
/// `rule` still finds it non-compliant.
fn still_open(rule: &'static str, table: String) -> Rule {
    mock!(Client::get_compliance_details_by_resource).then_compute_response(move |req| {
        assert_eq!(req.resource_id(), Some(table.as_str()));
        assert_eq!(req.compliance_types(), &[ComplianceType::NonCompliant]);
        http(json!({"EvaluationResults": [
            evaluation(rule, "AWS::DynamoDB::Table", &table, MAR_1, "PITR off")
        ]}))
    })
}

/// Config's view while one table stays broken: one rule, one result, from
/// the Config stand-in; and the app that reads it.
fn one_open_violation(fx: &Fixture, rule: &str, table: &str) -> (ConfigService, App) {
    let config = ConfigService::start(vec![Violation::new(
        rule,
        "AWS::DynamoDB::Table",
        table,
        MAR_1,
        "PITR off",
    )]);
    let app = app(fx, Client::new(&config.sdk_config(&fx.setup.sdk)));
    (config, app)
}

#[tokio::test]
async fn a_violation_held_as_flapping_is_announced_by_the_schedule_once_its_window_has_passed() {
    let mut fx = Fixture::new().await;
    let topic = fx.pager_topic().await;
    fx.route_team("payments").await;
    fx.setup.env.set("CRITICAL_TOPIC_ARN", &topic);
    fx.setup.env.set(
        "SEVERITY_RULES",
        r#"[{"rule": "dynamodb-pitr-enabled", "severity": "critical"}]"#,
    );
    fx.setup.env.set("RENOTIFY_HOURS", "6");
    let rule = "dynamodb-pitr-enabled";
    let t = "AWS::DynamoDB::Table";
    let table = fx.tagged_table("ledger", &[("owner", "payments")]).await;
    let (_config, app) = one_open_violation(&fx, rule, &table);
    let pages = || {
        fx.setup
            .slack
            .delivered_to("pager")
            .into_iter()
            .filter(|b| b["Type"] == "Notification")
            .count()
    };

    // Broken, fixed, broken again ten minutes later: the second break is
    // held as flapping, and Config, having nothing new to say, stays quiet.
    let t0 = at("2026-03-02T09:00:00Z");
    for (minutes, new, old) in [
        (0, "NON_COMPLIANT", "COMPLIANT"),
        (10, "COMPLIANT", "NON_COMPLIANT"),
        (20, "NON_COMPLIANT", "COMPLIANT"),
    ] {
        let when = t0 + time::Duration::minutes(minutes);
        let out = fx
            .run(&app, &event(rule, t, &table, new, Some(old), when), when)
            .await;
        out.response.expect("triaged");
    }
    assert_eq!(
        texts(&fx.setup.slack, "payments").len(),
        2,
        "the second break is held"
    );
    assert_eq!(pages(), 1);

    let schedule: Value =
        serde_json::from_str(&toilkit_tests::workspace::sample(SCHEDULE)).unwrap();
    // Within the window: still held.
    let early = fx.run(&app, &schedule, t0 + time::Duration::hours(2)).await;
    early.response.expect("digest posted");
    assert_eq!(texts(&fx.setup.slack, "payments").len(), 2);
    assert_eq!(pages(), 1);

    // The window has passed and it is still broken: the next scheduled run
    // (a new event, with its own id) tells the team, in its channel, and
    // pages, without any new compliance event.
    let mut next = schedule.clone();
    next["id"] = json!("5c2b7e0a-4f6d-4c1e-9a3b-2d8f1e6c7b90");
    let due = fx.run(&app, &next, t0 + time::Duration::hours(7)).await;
    due.response.expect("digest posted");
    let applied: Vec<&str> = due
        .report
        .applied
        .iter()
        .map(|a| a.action.as_str())
        .collect();
    assert_eq!(
        applied,
        ["notify_violation", "post_digest"],
        "{:?}",
        due.report
    );
    let to_payments = texts(&fx.setup.slack, "payments");
    assert_eq!(to_payments.len(), 3, "{to_payments:#?}");
    assert!(
        to_payments[2].contains("CRITICAL Config violation: dynamodb-pitr-enabled")
            && to_payments[2].contains(&table),
        "{}",
        to_payments[2]
    );
    assert_eq!(pages(), 2, "the critical violation pages");

    // Announced once: the next schedule says nothing more to the team.
    let next = fx.run(&app, &schedule, t0 + time::Duration::hours(8)).await;
    next.response.expect("digest posted");
    assert_eq!(texts(&fx.setup.slack, "payments").len(), 3);
    assert_eq!(pages(), 2);

    // And its end is told, since its start was.
    let fixed_at = t0 + time::Duration::hours(9);
    let fixed = event(
        rule,
        t,
        &table,
        "COMPLIANT",
        Some("NON_COMPLIANT"),
        fixed_at,
    );
    fx.run(&app, &fixed, fixed_at)
        .await
        .response
        .expect("triaged");
    let to_payments = texts(&fx.setup.slack, "payments");
    assert_eq!(to_payments.len(), 4);
    assert!(to_payments[3].contains("Resolved: dynamodb-pitr-enabled"));
}

#[tokio::test]
async fn a_digest_that_reaches_the_time_limit_is_still_posted_marked_incomplete() {
    let fx = Fixture::new().await;
    const RULES: usize = 100;
    let rules = mock!(Client::describe_compliance_by_config_rule).then_compute_response(|_| {
        http(json!({"ComplianceByConfigRules": (0..RULES)
            .map(|i| rule_compliance(&format!("rule-{i:03}"), "NON_COMPLIANT", 1))
            .collect::<Vec<_>>()}))
    });
    // Config answering slowly: listing every rule would take 25 s.
    let details =
        mock!(Client::get_compliance_details_by_config_rule).then_compute_response(|req| {
            std::thread::sleep(std::time::Duration::from_millis(250));
            let rule = req.config_rule_name().unwrap();
            http(json!({"EvaluationResults": [evaluation(
                rule,
                "AWS::EC2::SecurityGroup",
                &format!("sg-0{}", &rule[5..]),
                MAR_1,
                "22 open to the world"
            )]}))
        });
    let config = mock_client!(aws_sdk_config, RuleMode::MatchAny, [&rules, &details]);
    let app = app(&fx, config);
    let schedule: Value =
        serde_json::from_str(&toilkit_tests::workspace::sample(SCHEDULE)).unwrap();
    // The invocation's deadline (after the runtime's margin): 2 s of work,
    // then what the digest keeps back for posting.
    let deadline = shared::Deadline::after(
        config_triage::digest::POST_RESERVE + std::time::Duration::from_secs(2),
    );
    let out = config_triage::process(
        &schedule,
        &app,
        &home(),
        at("2026-03-02T09:00:00Z"),
        &deadline,
    )
    .await;
    out.response
        .as_ref()
        .expect("the partial digest is posted, not failed");
    assert!(out.report.stopped_early);
    assert!(
        out.report
            .stop_reason
            .as_deref()
            .unwrap_or("")
            .contains("deadline"),
        "{:?}",
        out.report.stop_reason
    );
    assert!(details.num_calls() < RULES, "{}", details.num_calls());
    let posted = texts(&fx.setup.slack, "default");
    assert_eq!(posted.len(), 1, "{posted:#?}");
    assert!(
        posted[0].contains("INCOMPLETE: the listing stopped at the time limit"),
        "{}",
        posted[0]
    );
    let applied: Vec<&str> = out
        .report
        .applied
        .iter()
        .map(|a| a.action.as_str())
        .collect();
    assert_eq!(applied, ["post_digest"]);
}

/// A held violation whose announcement fails once fails the scheduled run
/// after the digest went out, so that Lambda retries it; the retry (same
/// EventBridge event id) announces the held violation but does not post the
/// digest again: the first post is claimed per event id in the state table.
#[tokio::test]
async fn a_retried_scheduled_run_announces_what_failed_but_does_not_post_the_digest_twice() {
    let mut fx = Fixture::new().await;
    fx.route_team("payments").await;
    fx.setup.env.set("RENOTIFY_HOURS", "6");
    let rule = "dynamodb-pitr-enabled";
    let t = "AWS::DynamoDB::Table";
    let table = fx.tagged_table("ledger", &[("owner", "payments")]).await;
    let (_config, app) = one_open_violation(&fx, rule, &table);
    let t0 = at("2026-03-02T09:00:00Z");
    for (minutes, new, old) in [
        (0, "NON_COMPLIANT", "COMPLIANT"),
        (10, "COMPLIANT", "NON_COMPLIANT"),
        (20, "NON_COMPLIANT", "COMPLIANT"),
    ] {
        let when = t0 + time::Duration::minutes(minutes);
        fx.run(&app, &event(rule, t, &table, new, Some(old), when), when)
            .await
            .response
            .expect("triaged");
    }
    assert_eq!(
        texts(&fx.setup.slack, "payments").len(),
        2,
        "the second break is held"
    );
    let schedule: Value =
        serde_json::from_str(&toilkit_tests::workspace::sample(SCHEDULE)).unwrap();

    // The held announcement (the first request of the run) is refused once.
    fx.setup.slack.script([toilkit_tests::Reply::Status(404)]);
    let due = t0 + time::Duration::hours(7);
    let first = fx.run(&app, &schedule, due).await;
    assert!(first.response.is_err(), "the held failure fails the run");
    assert_eq!(
        texts(&fx.setup.slack, "default").len(),
        1,
        "the digest went out"
    );

    // Lambda retries the failed asynchronous invocation with the same event.
    let retry = fx
        .run(&app, &schedule, due + time::Duration::minutes(1))
        .await;
    retry
        .response
        .expect("the retry announces the held violation");
    assert_eq!(texts(&fx.setup.slack, "payments").len(), 3);
    let digests = texts(&fx.setup.slack, "default");
    assert_eq!(
        digests.len(),
        1,
        "one scheduled run, one digest; the retry posted it again: {digests:#?}"
    );
}

/// A digest too long for one Slack message goes out in parts. When Slack
/// refuses a part after earlier parts went out, the run fails naming the
/// parts people did not get, and the claim on the scheduled event is kept:
/// the retry must not post the delivered parts a second time.
#[tokio::test]
async fn a_digest_posted_in_part_names_the_missing_parts_and_is_not_posted_again() {
    let mut fx = Fixture::new().await;
    const OPEN: usize = 60;
    fx.setup.env.set("DIGEST_OLDEST", &OPEN.to_string());
    let config = ConfigService::start(
        (0..OPEN)
            .map(|i| {
                Violation::new(
                    "required-tags",
                    "AWS::EC2::SecurityGroup",
                    &format!("sg-0{i:03}"),
                    MAR_1,
                    "no owner tag",
                )
            })
            .collect(),
    );
    let app = app(&fx, Client::new(&config.sdk_config(&fx.setup.sdk)));
    let schedule: Value =
        serde_json::from_str(&toilkit_tests::workspace::sample(SCHEDULE)).unwrap();

    // Part 1 is delivered, part 2 refused.
    fx.setup
        .slack
        .script([toilkit_tests::Reply::Ok, toilkit_tests::Reply::Status(404)]);
    let now = at("2026-03-02T09:00:00Z");
    let first = fx.run(&app, &schedule, now).await;
    let error = first
        .response
        .expect_err("a digest not wholly posted fails the run");
    let message = error.to_string();
    assert!(
        message.contains("part 2/2") && message.contains("1 of 2"),
        "{message}"
    );
    let posted = texts(&fx.setup.slack, "default");
    assert_eq!(posted.len(), 1, "{posted:#?}");
    assert!(posted[0].contains("(1/2)"), "{}", posted[0]);
    let failed: Vec<String> = first
        .report
        .failed
        .iter()
        .map(|f| format!("{} {}", f.target, f.error))
        .collect();
    assert!(
        failed.iter().any(|f| f.contains("part 2/2")),
        "the report names the missing part: {failed:#?}"
    );

    // Lambda retries the failed invocation with the same event.
    let retry = fx
        .run(&app, &schedule, now + time::Duration::minutes(1))
        .await;
    retry.response.expect("the retry finds the digest claimed");
    let posted = texts(&fx.setup.slack, "default");
    assert_eq!(
        posted.len(),
        1,
        "the retry posted delivered parts again: {posted:#?}"
    );
}

/// One rule with many non-compliant resources: the time left is checked
/// before every result page (and every batch of tag and state reads), not
/// only between rules, so POST_RESERVE is kept and the INCOMPLETE digest is
/// posted.
#[tokio::test]
async fn a_rule_with_many_result_pages_still_leaves_time_to_post_the_digest() {
    let fx = Fixture::new().await;
    const PAGES: usize = 60;
    let rules = mock!(Client::describe_compliance_by_config_rule).then_compute_response(|_| {
        http(json!({"ComplianceByConfigRules": [
            rule_compliance("required-tags", "NON_COMPLIANT", 100)
        ]}))
    });
    // 60 pages of 250 ms: 15 s for the one rule.
    let details =
        mock!(Client::get_compliance_details_by_config_rule).then_compute_response(|req| {
            std::thread::sleep(std::time::Duration::from_millis(250));
            let page: usize = req
                .next_token()
                .map_or(0, |t| t.trim_start_matches("p").parse().unwrap());
            let mut body = json!({"EvaluationResults": [evaluation(
                "required-tags",
                "AWS::EC2::SecurityGroup",
                &format!("sg-0{page:04}"),
                MAR_1,
                "no owner tag"
            )]});
            if page + 1 < PAGES {
                body["NextToken"] = json!(format!("p{}", page + 1));
            }
            http(body)
        });
    let config = mock_client!(aws_sdk_config, RuleMode::MatchAny, [&rules, &details]);
    let app = app(&fx, config);
    let schedule: Value =
        serde_json::from_str(&toilkit_tests::workspace::sample(SCHEDULE)).unwrap();
    let deadline = shared::Deadline::after(
        config_triage::digest::POST_RESERVE + std::time::Duration::from_secs(2),
    );
    let out = config_triage::process(
        &schedule,
        &app,
        &home(),
        at("2026-03-02T09:00:00Z"),
        &deadline,
    )
    .await;
    let posted = texts(&fx.setup.slack, "default");
    assert_eq!(
        posted.len(),
        1,
        "no digest posted ({} result pages read); response {:?}",
        details.num_calls(),
        out.response.as_ref().err().map(ToString::to_string)
    );
}

/// A listing that always reaches the time limit (a large account, Config
/// answering slowly) once stopped before the held violations it found, at
/// the same place every run. Held violations are now read from the state
/// table and checked per resource before the listing: the first run
/// announces it.
#[tokio::test]
async fn a_held_violation_is_announced_even_when_every_listing_reaches_the_time_limit() {
    let mut fx = Fixture::new().await;
    fx.route_team("payments").await;
    fx.setup.env.set("RENOTIFY_HOURS", "6");
    const RULES: usize = 100;
    let held_rule = "rule-000";
    let t = "AWS::DynamoDB::Table";
    let table = fx.tagged_table("ledger", &[("owner", "payments")]).await;
    let rules = mock!(Client::describe_compliance_by_config_rule).then_compute_response(|_| {
        http(json!({"ComplianceByConfigRules": (0..RULES)
            .map(|i| rule_compliance(&format!("rule-{i:03}"), "NON_COMPLIANT", 1))
            .collect::<Vec<_>>()}))
    });
    let held_table = table.clone();
    let details =
        mock!(Client::get_compliance_details_by_config_rule).then_compute_response(move |req| {
            std::thread::sleep(std::time::Duration::from_millis(250));
            let rule = req.config_rule_name().unwrap();
            let result = if rule == "rule-000" {
                evaluation(rule, "AWS::DynamoDB::Table", &held_table, MAR_1, "PITR off")
            } else {
                evaluation(
                    rule,
                    "AWS::EC2::SecurityGroup",
                    &format!("sg-0{}", &rule[5..]),
                    MAR_1,
                    "22 open to the world",
                )
            };
            http(json!({"EvaluationResults": [result]}))
        });
    let by_resource = still_open(held_rule, table.clone());
    let config = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [&rules, &details, &by_resource]
    );
    let app = app(&fx, config);
    let t0 = at("2026-03-02T09:00:00Z");
    for (minutes, new, old) in [
        (0, "NON_COMPLIANT", "COMPLIANT"),
        (10, "COMPLIANT", "NON_COMPLIANT"),
        (20, "NON_COMPLIANT", "COMPLIANT"),
    ] {
        let when = t0 + time::Duration::minutes(minutes);
        fx.run(
            &app,
            &event(held_rule, t, &table, new, Some(old), when),
            when,
        )
        .await
        .response
        .expect("triaged");
    }
    assert_eq!(
        texts(&fx.setup.slack, "payments").len(),
        2,
        "the second break is held"
    );
    let schedule: Value =
        serde_json::from_str(&toilkit_tests::workspace::sample(SCHEDULE)).unwrap();
    let mut reasons = Vec::new();
    for hours in [7, 8, 9] {
        let deadline = shared::Deadline::after(
            config_triage::digest::POST_RESERVE + std::time::Duration::from_secs(2),
        );
        let out = config_triage::process(
            &schedule,
            &app,
            &home(),
            t0 + time::Duration::hours(hours),
            &deadline,
        )
        .await;
        reasons.push(out.report.stop_reason.clone());
    }
    assert_eq!(
        texts(&fx.setup.slack, "payments").len(),
        3,
        "three scheduled runs found the held violation due and none announced it: {reasons:#?}"
    );
}

/// When a resource cannot be looked up, its tag exemptions cannot be
/// checked: the violation is announced (a notifier in doubt tells), and the
/// message says plainly why, so nobody mistakes it for an exemption that
/// failed to apply.
#[tokio::test]
async fn a_violation_whose_tags_could_not_be_read_is_announced_saying_so() {
    let mut fx = Fixture::new().await;
    fx.setup.env.set(
        "EXEMPTIONS",
        r#"[{"tag": {"key": "data-class", "value": "public"}, "reason": "open data"}]"#,
    );
    let lookup = mock!(Client::batch_get_resource_config).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(400).unwrap(),
            SdkBody::from(
                r#"{"__type":"ValidationException","message":"Rate exceeded for BatchGetResourceConfig."}"#,
            ),
        )
    });
    let config = mock_client!(aws_sdk_config, RuleMode::MatchAny, [&lookup]);
    let app = app(&fx, config);
    let now = at("2026-03-02T09:00:00Z");
    fx.run(
        &app,
        &event(
            "rds-storage-encrypted",
            "AWS::RDS::DBInstance",
            "db-ABCDEFGHIJKLMNOP",
            "NON_COMPLIANT",
            Some("COMPLIANT"),
            now,
        ),
        now,
    )
    .await
    .response
    .expect("announced");
    let posted = texts(&fx.setup.slack, "default");
    assert_eq!(posted.len(), 1, "{posted:#?}");
    assert!(
        posted[0].contains("Tags could not be read")
            && posted[0].contains("BatchGetResourceConfig")
            && posted[0].contains("Tag exemptions could not be checked"),
        "{}",
        posted[0]
    );
}

/// The held-check on its own (`{"action": "announce_held"}`, for a schedule
/// more frequent than the weekday digest): a held violation is announced as
/// soon as its window has passed and the check runs, without a digest and
/// without listing every rule.
#[tokio::test]
async fn the_held_check_alone_announces_due_held_violations_without_a_digest() {
    let mut fx = Fixture::new().await;
    fx.route_team("payments").await;
    fx.setup.env.set("RENOTIFY_HOURS", "6");
    let rule = "dynamodb-pitr-enabled";
    let t = "AWS::DynamoDB::Table";
    let table = fx.tagged_table("ledger", &[("owner", "payments")]).await;
    let (config, app) = one_open_violation(&fx, rule, &table);
    let t0 = at("2026-03-02T09:00:00Z");
    for (minutes, new, old) in [
        (0, "NON_COMPLIANT", "COMPLIANT"),
        (10, "COMPLIANT", "NON_COMPLIANT"),
        (20, "NON_COMPLIANT", "COMPLIANT"),
    ] {
        let when = t0 + time::Duration::minutes(minutes);
        fx.run(&app, &event(rule, t, &table, new, Some(old), when), when)
            .await
            .response
            .expect("triaged");
    }
    assert_eq!(
        texts(&fx.setup.slack, "payments").len(),
        2,
        "the second break is held"
    );
    let check = json!({"action": "announce_held"});

    let early = fx.run(&app, &check, t0 + time::Duration::hours(2)).await;
    early.response.expect("checked");
    assert_eq!(
        texts(&fx.setup.slack, "payments").len(),
        2,
        "still within the window"
    );

    let due = fx
        .run(
            &app,
            &check,
            t0 + time::Duration::hours(6) + time::Duration::minutes(30),
        )
        .await;
    due.response.expect("announced");
    let payments_texts = texts(&fx.setup.slack, "payments");
    assert_eq!(payments_texts.len(), 3, "{:?}", due.report);
    assert!(payments_texts[2].contains(&table), "{}", payments_texts[2]);
    assert!(texts(&fx.setup.slack, "default").is_empty(), "no digest");
    assert_eq!(
        config.calls("DescribeComplianceByConfigRule")
            + config.calls("GetComplianceDetailsByConfigRule"),
        0,
        "no listing"
    );

    let again = fx.run(&app, &check, t0 + time::Duration::hours(7)).await;
    again.response.expect("checked");
    assert_eq!(
        texts(&fx.setup.slack, "payments").len(),
        3,
        "announced once"
    );
}
