//! The hub's template, deploy/hub/template.yaml (the toilkit-hub
//! application): it lints and transforms, takes exactly the collector's
//! settings, wires the bus, the rules and the schedules, keeps what it
//! stores private and encrypted, grants the collector exactly the calls it
//! makes, and creates in moto's CloudFormation.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};
use shared::config::Source;
use toilkit_tests::tool;

use crate::distribution::*;

use super::iam::{actions, statements};

const STEM: &str = "HubCollector";
/// The hub receives on its account's default bus (deploy/hub/template.yaml).
const DEFAULT_BUS: &str =
    "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default";

/// The hub's functions as the template tests walk them, (name, stem), as
/// `distribution::FUNCTIONS` lists the product's.
pub(super) fn functions() -> impl Iterator<Item = (&'static str, &'static str)> {
    toilkit_tests::registry::HUB_FUNCTIONS
        .iter()
        .map(|f| (f.name, f.stem))
}

fn hub_template_path() -> std::path::PathBuf {
    root().join("deploy/hub/template.yaml")
}

/// The hub's template as JSON, intrinsics in long form.
fn hub_template() -> &'static Value {
    static TEMPLATE: OnceLock<Value> = OnceLock::new();
    TEMPLATE.get_or_init(|| run_tool(&["decode", &hub_template_path().to_string_lossy()], None))
}

/// What the SAM transform makes of it, with an organization named (the
/// template's rule wants a sender).
pub(super) fn hub_translated() -> &'static Value {
    static TRANSLATED: OnceLock<Value> = OnceLock::new();
    TRANSLATED.get_or_init(|| {
        run_tool(
            &[
                "translate",
                &hub_template_path().to_string_lossy(),
                &json!({"OrganizationId": "o-a1b2c3d4e5"}).to_string(),
            ],
            None,
        )
    })
}

#[test]
fn cfn_lint_passes_on_the_hub_template() {
    tool::succeed(
        Command::new(require_tool("cfn-lint"))
            .arg(hub_template_path())
            .current_dir(root()),
    );
}

/// The hub is registered apart from the product's functions, and its
/// template holds exactly its one function, always deployed.
#[test]
fn the_hub_template_deploys_the_registered_hub_function_unswitched() {
    let registered: Vec<&str> = toilkit_tests::registry::HUB_FUNCTIONS
        .iter()
        .map(|f| f.stem)
        .collect();
    assert_eq!(registered, [STEM]);
    let out = hub_translated();
    let functions = of_type(out, "AWS::Lambda::Function");
    assert_eq!(functions.len(), 1, "the collector only");
    let (id, function) = functions[0];
    assert_eq!(id, &format!("{STEM}Function"));
    assert!(function.get("Condition").is_none(), "always deployed");
    assert!(hub_template()["Parameters"][format!("Enable{STEM}")].is_null());
    let p = &function["Properties"];
    assert_eq!(p["Runtime"], "provided.al2023");
    assert_eq!(p["Handler"], "bootstrap");
    // The same architecture the product template states, which
    // `cargo xtask package --arch` rewrites.
    assert_eq!(p["Architectures"], json!(["x86_64"]));
    assert_eq!(
        hub_template()["Resources"][format!("{STEM}Function")]["Metadata"]["BuildProperties"]["Binary"],
        "hub-collector"
    );
    let log_group = referenced(&p["LoggingConfig"]["LogGroup"]).expect("its own log group");
    assert_eq!(
        resources(out)[log_group]["Properties"]["RetentionInDays"],
        json!({"Ref": "FunctionLogRetentionDays"})
    );
    let app = &hub_template()["Metadata"]["AWS::ServerlessRepo::Application"];
    assert_eq!(app["Name"], "toilkit-hub");
    assert_eq!(
        app["SemanticVersion"],
        template()["Metadata"]["AWS::ServerlessRepo::Application"]["SemanticVersion"],
        "the hub is released with the product application"
    );
}

/// `cargo xtask gen` writes the hub's parameters and the collector's
/// environment from its SETTINGS; this holds the composed template to them,
/// and each documented example and default to what its parameter accepts.
#[test]
fn the_hub_parameters_and_environment_are_the_collector_settings() {
    let t = hub_template();
    let environment =
        &resources(t)[&format!("{STEM}Function")]["Properties"]["Environment"]["Variables"];
    let settings = hub_collector::config::SETTINGS;
    // Those the template leaves unset are not in the environment.
    let declared: BTreeSet<&str> = settings
        .iter()
        .filter(|s| !matches!(s.source, Source::Unset))
        .map(|s| s.name)
        .collect();
    let set: BTreeSet<&str> = environment
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        set, declared,
        "the environment is exactly the settings it sets"
    );
    let mut problems = Vec::new();
    for s in settings {
        let value = &environment[s.name];
        let parameter = match &s.source {
            Source::Parameter(p) => Some(p.name),
            Source::SharedParameter(name) => Some(*name),
            Source::Template(expression) => {
                let resource = expression.trim_start_matches("!Ref ");
                assert_eq!(value["Ref"], resource, "{}", s.name);
                None
            }
            Source::Unset => None,
        };
        let Some(parameter) = parameter else { continue };
        assert_eq!(value["Ref"], parameter, "{} comes from {parameter}", s.name);
        let spec = &t["Parameters"][parameter];
        assert!(!spec.is_null(), "{} needs parameter {parameter}", s.name);
        for value in [Some(s.example), s.default].into_iter().flatten() {
            if let Err(why) = accepts(spec, value) {
                problems.push(format!("{}: {value:?}: {why}", s.name));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Who may send: the organization, listed accounts, or both; the template's
/// rule refuses a deployment naming neither.
#[test]
fn the_bus_takes_events_only_from_the_organization_or_the_accounts_named() {
    let t = hub_template();
    let assertion = &t["Rules"]["SendersAreNamed"]["Assertions"][0]["Assert"]["Fn::Or"];
    assert_eq!(
        *assertion,
        json!([
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "SourceAccounts"}, ""]}]}
        ])
    );
    let organization = &resources(t)["HubBusOrganizationPolicy"];
    assert_eq!(organization["Condition"], "HasOrganization");
    let statement = &organization["Properties"]["Statement"];
    assert_eq!(statement["Action"], "events:PutEvents");
    assert_eq!(
        statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
        json!({"Ref": "OrganizationId"})
    );
    let accounts = &resources(t)["HubBusAccountsPolicy"];
    assert_eq!(accounts["Condition"], "HasSourceAccounts");
    let statement = &accounts["Properties"]["Statement"];
    assert_eq!(statement["Action"], "events:PutEvents");
    assert_eq!(
        statement["Principal"]["AWS"],
        json!({"Fn::Split": [",", {"Ref": "SourceAccounts"}]})
    );
    // The account's default bus, and only the sources the result rule
    // takes: the organization cannot feed the account's other rules.
    let rule_sources: BTreeSet<&str> =
        resources(hub_translated())["HubCollectorResultRule"]["Properties"]["EventPattern"]["$or"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["source"].as_array().unwrap())
            .map(|s| s.as_str().unwrap())
            .collect();
    assert_eq!(rule_sources.len(), 4, "{rule_sources:?}");
    for policy in [organization, accounts] {
        assert_eq!(policy["Properties"]["EventBusName"], "default");
        assert_eq!(
            policy["Properties"]["Statement"]["Resource"],
            json!({"Fn::Sub": DEFAULT_BUS})
        );
        let sources: BTreeSet<&str> = policy["Properties"]["Statement"]["Condition"]
            ["ForAllValues:StringEquals"]["events:source"]
            .as_array()
            .unwrap_or_else(|| panic!("no events:source condition: {policy}"))
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(sources, rule_sources, "{policy}");
    }
    let parameter = &t["Parameters"]["SourceAccounts"];
    assert!(accepts(parameter, "111122223333,444455556666").is_ok());
    assert!(accepts(parameter, "111122223333, 444455556666").is_err());
    assert!(accepts(&t["Parameters"]["OrganizationId"], "o-a1b2c3d4e5").is_ok());
    assert_eq!(
        t["Outputs"]["BusArn"]["Value"],
        json!({"Fn::Sub": DEFAULT_BUS}),
        "what product accounts set as ResultEventForwardBusArn"
    );
}

/// The result events from the bus, with EventBridge's retries and a queue
/// for what it could not deliver; the three jobs on their schedules; each
/// rule with its permission.
#[test]
fn the_rules_and_schedules_invoke_the_collector() {
    let out = hub_translated();
    let function = format!("{STEM}Function");
    let rule = |id: &str| &resources(out)[id]["Properties"];
    let results = rule("HubCollectorResultRule");
    assert_eq!(results["EventBusName"], "default");
    assert_eq!(
        results["EventPattern"],
        json!({"$or": [
            {"source": ["toilkit"]},
            {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]},
            {"source": ["aws.securityhub"], "detail-type": ["Security Hub Findings - Imported"]},
            {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
        ]})
    );
    let target = &results["Targets"][0];
    assert_eq!(referenced(&target["Arn"]), Some(function.as_str()));
    assert!(target["RetryPolicy"]["MaximumRetryAttempts"].as_u64() > Some(0));
    let undelivered =
        referenced(&target["DeadLetterConfig"]["Arn"]).expect("a dead-letter queue of the stack");
    assert_eq!(resources(out)[undelivered]["Type"], "AWS::SQS::Queue");
    let queue_policy = of_type(out, "AWS::SQS::QueuePolicy")
        .into_iter()
        .find(|(_, p)| {
            p["Properties"]["Queues"]
                .as_array()
                .is_some_and(|q| q.iter().any(|q| referenced(q) == Some(undelivered)))
        })
        .expect("EventBridge may send to the undelivered queue")
        .1;
    assert_eq!(
        referenced(
            &queue_policy["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]
                ["aws:SourceArn"]
        ),
        Some("HubCollectorResultRule"),
        "only the result rule may"
    );
    for (id, schedule, input) in [
        (
            "HubCollectorHeartbeatRule",
            json!("rate(15 minutes)"),
            "heartbeat",
        ),
        ("HubCollectorRenderRule", json!("rate(1 hour)"), "render"),
        (
            "HubCollectorDigestRule",
            json!({"Ref": "DigestSchedule"}),
            "digest",
        ),
    ] {
        let r = rule(id);
        assert_eq!(r["ScheduleExpression"], schedule, "{id}");
        let target = &r["Targets"][0];
        assert_eq!(referenced(&target["Arn"]), Some(function.as_str()), "{id}");
        let sent: Value = serde_json::from_str(target["Input"].as_str().unwrap()).unwrap();
        assert_eq!(sent, json!({"job": input}), "{id}");
    }
    assert_eq!(
        hub_template()["Parameters"]["DigestSchedule"]["Default"],
        "cron(0 8 * * ? *)"
    );
    let permissions = of_type(out, "AWS::Lambda::Permission");
    let rules = of_type(out, "AWS::Events::Rule");
    assert_eq!(rules.len(), 4);
    for (id, _) in rules {
        assert!(
            permissions.iter().any(|(_, p)| {
                referenced(&p["Properties"]["FunctionName"]) == Some(function.as_str())
                    && referenced(&p["Properties"]["SourceArn"]) == Some(id.as_str())
                    && p["Properties"]["Principal"] == "events.amazonaws.com"
            }),
            "{id} may invoke the collector, and only it"
        );
    }
    assert_eq!(permissions.len(), 4, "no permission without its rule");
    // Lambda's own retries end in the function's dead-letter queue, and
    // both queues and the errors are alarmed.
    let config = of_type(out, "AWS::Lambda::EventInvokeConfig")[0].1;
    let dead_letters =
        referenced(&config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]).unwrap();
    let alarms = of_type(out, "AWS::CloudWatch::Alarm");
    for watched in [function.as_str(), dead_letters, undelivered] {
        assert!(
            alarms.iter().any(|(_, a)| a["Properties"]["Dimensions"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| referenced(&d["Value"]) == Some(watched)))),
            "{watched} has an alarm"
        );
    }
}

/// The table the collector's state.rs lays out, and buckets that are
/// private, encrypted and reachable over TLS only.
#[test]
fn what_the_hub_keeps_is_private_encrypted_and_laid_out_as_the_collector_writes_it() {
    let out = hub_translated();
    let table = &resources(out)["StateTable"]["Properties"];
    assert_eq!(
        table["KeySchema"],
        json!([
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"}
        ])
    );
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        table["TimeToLiveSpecification"],
        json!({"AttributeName": "expires", "Enabled": true})
    );
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    for side in branches(&table["SSESpecification"]) {
        assert_eq!(side["SSEEnabled"], true);
    }
    for (bucket, policy) in [
        ("HistoryBucket", "HistoryBucketPolicy"),
        ("DashboardBucket", "DashboardBucketPolicy"),
    ] {
        let p = &resources(out)[bucket]["Properties"];
        assert_eq!(
            p["PublicAccessBlockConfiguration"],
            json!({
                "BlockPublicAcls": true,
                "BlockPublicPolicy": true,
                "IgnorePublicAcls": true,
                "RestrictPublicBuckets": true
            }),
            "{bucket}"
        );
        let encryption = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"];
        assert!(
            branches(encryption)
                .iter()
                .all(|e| e["SSEAlgorithm"].is_string()),
            "{bucket} is encrypted either way"
        );
        let statement = &resources(out)[policy]["Properties"]["PolicyDocument"]["Statement"][0];
        assert_eq!(
            referenced(&resources(out)[policy]["Properties"]["Bucket"]),
            Some(bucket)
        );
        assert_eq!(statement["Effect"], "Deny");
        assert_eq!(
            statement["Condition"],
            json!({"Bool": {"aws:SecureTransport": "false"}}),
            "{bucket} refuses plain HTTP"
        );
    }
    let expiry =
        &resources(out)["HistoryBucket"]["Properties"]["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(
        expiry["ExpirationInDays"],
        json!({"Ref": "HistoryRetentionDays"})
    );
    assert_eq!(
        hub_template()["Parameters"]["HistoryRetentionDays"]["Default"],
        400
    );
}

/// The Athena table reads the collector's history objects: its columns are
/// the keys of each line (history.rs), the date partition is projected
/// from the key layout, and the account is a column (see the template on
/// why it is not projected).
#[test]
fn the_athena_table_reads_the_history_the_collector_writes() {
    let input = &resources(hub_translated())["HistoryTable"]["Properties"]["TableInput"];
    let parameters = &input["Parameters"];
    assert_eq!(parameters["projection.enabled"], "true");
    assert_eq!(parameters["projection.date.type"], "date");
    assert_eq!(parameters["projection.date.format"], "yyyy-MM-dd");
    assert!(
        parameters["projection.date.range"]
            .as_str()
            .unwrap()
            .ends_with(",NOW")
    );
    assert_eq!(
        parameters["storage.location.template"],
        json!({"Fn::Sub": "s3://${HistoryBucket}/reports/date=${!date}/"})
    );
    assert!(
        parameters
            .as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("projection.account")),
        "no account projection: every query would have to name the accounts"
    );
    assert_eq!(
        input["PartitionKeys"],
        json!([{"Name": "date", "Type": "string"}])
    );
    let storage = &input["StorageDescriptor"];
    assert_eq!(
        storage["SerdeInfo"]["SerializationLibrary"],
        "org.openx.data.jsonserde.JsonSerDe"
    );
    assert_eq!(
        storage["Location"],
        json!({"Fn::Sub": "s3://${HistoryBucket}/reports/"})
    );
    // The collector's own line, of the README's result event.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let example = readme
        .split_once("<!-- result-event-example -->")
        .and_then(|(_, rest)| rest.split_once("```json\n"))
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(json, _)| json)
        .expect("the README's result event example");
    let event: Value = serde_json::from_str(example).unwrap();
    let received = hub_collector::plan::receive(&event).expect("a report");
    let line =
        hub_collector::history::report_line(&received, &event, time::OffsetDateTime::UNIX_EPOCH);
    let line: Value = serde_json::from_str(&line).unwrap();
    let keys: BTreeSet<&str> = line
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let columns: BTreeSet<&str> = storage["Columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, keys, "one column per key of the line");
    // The OpenX JSON SerDe reads a value only into a column of its type: a
    // string where an int is declared fails the whole query, not one row.
    for column in storage["Columns"].as_array().unwrap() {
        let (name, kind) = (
            column["Name"].as_str().unwrap(),
            column["Type"].as_str().unwrap(),
        );
        assert!(
            reads_as(kind, &line[name]),
            "column {name} is {kind}, the line has {}",
            line[name]
        );
    }
    let filled = columns.iter().filter(|c| !line[**c].is_null()).count();
    assert!(
        filled + 1 >= columns.len(),
        "the example fills the columns: {line}"
    );
}

/// Whether Hive's JSON SerDe reads `value` as a column of type `kind`
/// (the types the history table declares); null reads as any. No `int`:
/// every number the collector writes is a u32 or u64, which an `int`
/// column cannot hold in full, so an `int` column fails here.
fn reads_as(kind: &str, value: &Value) -> bool {
    let integer = |v: &Value| v.is_i64() || v.is_u64();
    match (kind, value) {
        (_, Value::Null) => true,
        ("string", v) => v.is_string(),
        ("boolean", v) => v.is_boolean(),
        ("bigint", v) => integer(v),
        ("array<string>", Value::Array(a)) => a.iter().all(Value::is_string),
        ("map<string,bigint>", Value::Object(m)) => m.values().all(integer),
        _ => false,
    }
}

/// Every IAM action the collector's role grants, with the resource it is
/// granted on, both sides of each condition: exactly what the collector
/// calls, on only the hub's own resources.
#[test]
fn the_collector_role_grants_exactly_the_calls_it_makes() {
    let out = hub_translated();
    let role = &resources(out)[&format!("{STEM}Role")];
    let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"];
    assert_eq!(
        *trust,
        json!([{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}])
    );
    let mut granted: BTreeSet<(String, String)> = BTreeSet::new();
    for statement in statements(role) {
        assert_eq!(statement["Effect"], "Allow");
        assert!(statement.get("NotAction").is_none() && statement.get("NotResource").is_none());
        for action in actions(statement) {
            for resource in strings(&statement["Resource"]) {
                granted.insert((action.clone(), resource.to_string()));
            }
        }
    }
    let sub = |text: &str| json!({"Fn::Sub": text}).to_string();
    let get_att = |id: &str| json!({"Fn::GetAtt": [id, "Arn"]}).to_string();
    let reference = |name: &str| json!({"Ref": name}).to_string();
    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    let mut grant = |actions: &[&str], resource: String| {
        for action in actions {
            expected.insert(((*action).to_owned(), resource.clone()));
        }
    };
    grant(
        &["logs:CreateLogStream", "logs:PutLogEvents"],
        get_att("HubCollectorLogGroup"),
    );
    grant(&["sqs:SendMessage"], get_att("HubCollectorDeadLetterQueue"));
    grant(
        &["kms:Decrypt", "kms:GenerateDataKey"],
        reference("KmsKeyArn"),
    );
    // GetItem, PutItem, DeleteItem, Query, UpdateItem, and the writes of
    // TransactWriteItems (PutItem, UpdateItem); no ConditionCheckItem.
    grant(
        &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
        ],
        get_att("StateTable"),
    );
    grant(&["s3:PutObject"], sub("${HistoryBucket.Arn}/reports/*"));
    grant(&["s3:PutObject"], sub("${HistoryBucket.Arn}/rejected/*"));
    grant(
        &["s3:PutObject", "s3:GetObject"],
        sub("${DashboardBucket.Arn}/index.html"),
    );
    grant(
        &["secretsmanager:GetSecretValue"],
        reference("SlackWebhookSecretArn"),
    );
    grant(
        &["ssm:GetParameter"],
        sub(
            "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SlackWebhookParameter}",
        ),
    );
    let extra: Vec<_> = granted.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&granted).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "granted beyond the collector's calls: {extra:#?}\nnot granted: {missing:#?}"
    );
    // The keys the collector writes are the ones granted.
    assert_eq!(hub_collector::history::REPORTS_PREFIX, "reports/");
    assert_eq!(hub_collector::history::REJECTED_PREFIX, "rejected/");
    assert_eq!(hub_collector::DASHBOARD_KEY, "index.html");
}

/// parliament, on the role resolved to ARNs with every optional grant on,
/// finds nothing: each action fits the kind of resource it is granted on.
#[test]
fn parliament_finds_nothing_in_the_collector_role() {
    let report = run_tool(
        &[
            "iam-findings",
            &hub_template_path().to_string_lossy(),
            &json!({
                "OrganizationId": "o-a1b2c3d4e5",
                "SlackWebhookParameter": "/toilkit/slack-webhook",
                "SlackWebhookSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-abc123",
                "KmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            })
            .to_string(),
        ],
        None,
    );
    let policy = &report["HubCollectorRole/hub-collector"];
    assert_eq!(
        policy["document"]["Statement"].as_array().map(Vec::len),
        Some(8),
        "every statement resolved, the optional ones on: {policy}"
    );
    assert_eq!(policy["findings"], json!([]), "{policy}");
}

/// Only resource types SAR accepts (tests/template-support/
/// sar-supported-resources.txt): `sam publish` refuses any other.
#[test]
fn the_hub_uses_only_resource_types_the_repository_supports() {
    let supported = super::sar_supported();
    for t in [hub_template(), hub_translated()] {
        let unsupported: BTreeSet<&str> = resources(t)
            .values()
            .filter_map(|r| r["Type"].as_str())
            .filter(|kind| !supported.contains(*kind))
            .collect();
        assert!(unsupported.is_empty(), "{unsupported:?}");
    }
}

/// Created in moto's CloudFormation from its StackSets form (the SAM
/// transform done, the code from a bucket), with an organization named.
/// moto skips what it does not model (the Glue database and table, the bus
/// policies) and creates the rest.
#[tokio::test(flavor = "multi_thread")]
async fn the_hub_template_creates_in_moto() {
    let stackset = run_tool(&["stackset", &hub_template_path().to_string_lossy()], None);
    let moto = toilkit_tests::Moto::dedicated();
    let config = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket("hub-code").send().await.unwrap();
    s3.put_object()
        .bucket("hub-code")
        .key("toilkit/0.1.0/hub-collector/bootstrap.zip")
        .body(b"bootstrap".to_vec().into())
        .send()
        .await
        .unwrap();
    let pairs = super::create_stack(
        "toilkit-hub",
        &stackset.to_string(),
        &[
            ("CodeS3Bucket", "hub-code"),
            ("OrganizationId", "o-a1b2c3d4e5"),
            ("SourceAccounts", "111122223333"),
            ("SlackWebhookParameter", "/toilkit/slack-webhook"),
        ],
    );
    let (status, xml) = cloudformation(moto.endpoint(), &pairs);
    assert_eq!(status, 200, "CreateStack: {xml}");
    let (_, described) = cloudformation(
        moto.endpoint(),
        &[("Action", "DescribeStacks"), ("StackName", "toilkit-hub")],
    );
    assert_eq!(
        xml_value(&described, "StackStatus"),
        Some("CREATE_COMPLETE"),
        "{described}"
    );
    assert!(
        described.contains("<OutputKey>BusArn</OutputKey>")
            && described.contains(":123456789012:event-bus/default</OutputValue>"),
        "the bus ARN is an output: {described}"
    );
    let (_, listed) = cloudformation(
        moto.endpoint(),
        &[
            ("Action", "ListStackResources"),
            ("StackName", "toilkit-hub"),
        ],
    );
    for id in [
        "StateTable",
        "HistoryBucket",
        "DashboardBucket",
        "HubCollectorFunction",
        "HubCollectorResultRule",
        "HubCollectorDigestRule",
    ] {
        assert!(
            listed.contains(&format!("<LogicalResourceId>{id}</LogicalResourceId>")),
            "{id} was created: {listed}"
        );
    }
    // The result rule is on the default bus, where the product accounts'
    // forwarding rules deliver.
    let events = aws_sdk_eventbridge::Client::new(&config);
    let rule = events
        .describe_rule()
        .name("toilkit-hub-collector-results")
        .send()
        .await
        .unwrap();
    assert_eq!(rule.event_bus_name(), Some("default"));
}
