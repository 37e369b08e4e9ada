//! The wave rollout as the state machine drives it: each test calls the
//! function's rollout step again and again, its clock moved on by the wait
//! it asked for, until the rollout is done, stopped or frozen. EC2, ELBv2,
//! DynamoDB and `SendCommand` are moto's; the command's results
//! (`ListCommandInvocations`, which moto lacks) come from the stand-in.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_elasticloadbalancingv2::Client as Elb;
use aws_sdk_elasticloadbalancingv2::config::retry::RetryPartition;
use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetDescription, TargetTypeEnum};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture};
use aws_smithy_types::body::SdkBody;
use patch_waves::{App, Outcome, process};
use serde_json::{Value, json};
use shared::Deadline;
use toilkit_tests::faults::{self, on_virtual_clock};
use toilkit_tests::patch_manager::{CommandRun, Node};

use crate::common::{BASE_IMAGE, Fixture, NOW, now_secs};

const WAVE: &str = "toilkit:patch-wave";
const UNBOUNDED: Deadline = Deadline::unbounded();

fn execution(name: &str) -> String {
    format!("arn:aws:states:us-east-1:123456789012:execution:toilkit-patch-waves:{name}")
}

/// One rollout step at `now` (seconds after [`NOW`]).
async fn step(app: &App, exec: &str, now: i64, deadline: &Deadline) -> Outcome {
    step_as(
        app,
        json!({"action": "rollout", "execution": exec}),
        now,
        deadline,
    )
    .await
}

/// One step with the state machine's whole payload (an input, put back).
async fn step_as(app: &App, payload: Value, now: i64, deadline: &Deadline) -> Outcome {
    process(payload, app, NOW + time::Duration::seconds(now), deadline).await
}

/// What the state machine reads of a step.
fn rollout(outcome: &Outcome) -> Value {
    outcome
        .report
        .details
        .get("rollout")
        .cloned()
        .unwrap_or_else(|| panic!("no rollout in {:?}", outcome.response))
}

/// Steps until the rollout is no longer working, as the state machine
/// loops; returns the last step and the clock it ended at.
async fn drive(app: &App, exec: &str, now: i64) -> (Outcome, i64) {
    drive_as(app, json!({"action": "rollout", "execution": exec}), now).await
}

/// [`drive`] with the state machine's whole payload.
async fn drive_as(app: &App, payload: Value, mut now: i64) -> (Outcome, i64) {
    for _ in 0..40 {
        let outcome = step_as(app, payload.clone(), now, &UNBOUNDED).await;
        let said = rollout(&outcome);
        if said["status"] != "working" {
            return (outcome, now);
        }
        now += said["wait_seconds"].as_i64().unwrap().max(1);
    }
    panic!("the rollout was still working after 40 steps");
}

/// A target group in the Region's default VPC with `instances` registered
/// on port 80.
async fn target_group(f: &Fixture, instances: &[&str]) -> String {
    let vpc = f
        .ec2
        .describe_vpcs()
        .send()
        .await
        .expect("VPCs")
        .vpcs()
        .iter()
        .find(|v| v.is_default() == Some(true))
        .and_then(|v| v.vpc_id().map(str::to_owned))
        .expect("moto's default VPC");
    let elb = Elb::new(&f.sdk);
    let group = elb
        .create_target_group()
        .name(f.moto.unique("pw-web").chars().take(32).collect::<String>())
        .protocol(ProtocolEnum::Http)
        .port(80)
        .vpc_id(vpc)
        .target_type(TargetTypeEnum::Instance)
        .send()
        .await
        .expect("target group created")
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_owned();
    let targets: Vec<TargetDescription> = instances
        .iter()
        .map(|id| TargetDescription::builder().id(*id).port(80).build())
        .collect();
    elb.register_targets()
        .target_group_arn(&group)
        .set_targets(Some(targets))
        .send()
        .await
        .expect("targets registered");
    group
}

/// Each target of `group` and its state.
async fn targets(f: &Fixture, group: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Elb::new(&f.sdk)
        .describe_target_health()
        .target_group_arn(group)
        .send()
        .await
        .expect("target health")
        .target_health_descriptions()
        .iter()
        .map(|d| {
            (
                d.target()
                    .and_then(|t| t.id())
                    .unwrap_or_default()
                    .to_owned(),
                d.target_health()
                    .and_then(|h| h.state())
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Launches one managed, online instance per `(wave, name)`.
async fn fleet(f: &Fixture, waves: &[(&str, &str)]) -> Vec<String> {
    let mut ids = Vec::new();
    for (wave, name) in waves {
        let id = f
            .launch(1, BASE_IMAGE, &[(WAVE, wave), ("Name", name)], None, None)
            .await
            .remove(0);
        ids.push(id);
    }
    let nodes: Vec<Node> = ids.iter().map(|id| Node::online(id, now_secs())).collect();
    f.ssm.update(|fleet| fleet.nodes.extend(nodes));
    ids
}

fn member<'a>(outcome: &'a Outcome, wave: &str, id: &str) -> &'a Value {
    let waves = &outcome.report.details["waves"];
    let wave = waves
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["wave"] == wave)
        .unwrap_or_else(|| panic!("no wave {wave} in {waves}"));
    &wave["members"][id]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_snapshots_drains_patches_and_puts_back_each_wave_in_turn() {
    let mut f = Fixture::new("us-east-2").await;
    f.set("WAVES", "canary,1");
    f.set("SNAPSHOT_BEFORE_PATCH", "true");
    f.set("BAKE_MINUTES", "5");
    let ids = fleet(&f, &[("canary", "web-1"), ("1", "web-2"), ("1", "web-3")]).await;
    let bystander = f
        .launch(1, BASE_IMAGE, &[("Name", "not opted in")], None, None)
        .await
        .remove(0);
    f.ssm
        .update(|fleet| fleet.nodes.push(Node::online(&bystander, now_secs())));
    let all: Vec<&str> = ids.iter().chain([&bystander]).map(String::as_str).collect();
    let group = target_group(&f, &all).await;
    f.set("DRAIN_TARGET_GROUPS", &group);
    let app = f.app();

    let (done, ended) = drive(&app, &execution("dec"), 0).await;
    assert_eq!(
        rollout(&done)["status"],
        "done",
        "{:?}",
        done.report.details
    );
    assert!(ended >= 600, "each wave baked 5 minutes: ended at {ended}s");

    let sent = f.ssm.sent();
    assert_eq!(sent.len(), 2, "one command per wave: {sent:?}");
    assert_eq!(sent[0].instance_ids, [ids[0].clone()]);
    let mut wave1 = sent[1].instance_ids.clone();
    wave1.sort();
    let mut expected = ids[1..].to_vec();
    expected.sort();
    assert_eq!(wave1, expected);
    for command in &sent {
        assert_eq!(command.document, "AWS-RunPatchBaseline");
        assert_eq!(
            command.parameters,
            json!({"Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]})
        );
        assert_eq!(command.max_concurrency, "25%");
        assert_eq!(command.max_errors, "0");
        assert_eq!(
            command.timeout_seconds,
            Some(7200),
            "no instance is reached after the wave stops waiting"
        );
    }
    for id in &ids {
        let wave = if id == &ids[0] { "canary" } else { "1" };
        assert_eq!(member(&done, wave, id)["outcome"], "patched");
    }
    // Everyone is back in service; the bystander was never touched.
    let health = targets(&f, &group).await;
    assert_eq!(health.len(), 4, "{health:?}");
    assert!(health.iter().all(|(_, s)| s == "healthy"), "{health:?}");
    // One snapshot set per patched instance, tagged to expire.
    let snapshots = f
        .ec2
        .describe_snapshots()
        .owner_ids("self")
        .send()
        .await
        .expect("snapshots");
    let tagged: Vec<_> = snapshots
        .snapshots()
        .iter()
        .filter(|s| {
            s.tags()
                .iter()
                .any(|t| t.key() == Some("toilkit:rollout") && t.value() == Some("dec"))
        })
        .collect();
    assert_eq!(tagged.len(), 3, "one root volume each");
    assert!(tagged.iter().all(|s| {
        s.tags()
            .iter()
            .any(|t| t.key() == Some("toilkit:expires-at") && t.value() == Some("2026-12-14"))
    }));

    // The state machine asking again, or a new execution of the same
    // rollout, patches nothing twice.
    let again = step(&app, &execution("dec"), ended, &Deadline::unbounded()).await;
    assert_eq!(rollout(&again)["status"], "done");
    assert_eq!(f.ssm.sent().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_canary_stops_the_rollout_and_the_report_says_where_and_why() {
    let mut f = Fixture::new("us-west-2").await;
    f.set("WAVES", "canary,1");
    let ids = fleet(
        &f,
        &[("canary", "web-1"), ("canary", "web-2"), ("1", "web-3")],
    )
    .await;
    let group = target_group(&f, &[&ids[0], &ids[1], &ids[2]]).await;
    f.set("DRAIN_TARGET_GROUPS", &group);
    f.ssm.update(|fleet| {
        fleet.runs.insert(
            ids[1].clone(),
            CommandRun::failed(
                "Installing kernel-6.1.119...\nhttps://deploy:s3cr3t-t0ken@repo.example.com/al2023 failed\nError: rpmdb open failed\nThe yum lock is held by another process <!channel>",
            ),
        );
    });
    let app = f.app();

    let (stopped, _) = drive(&app, &execution("dec"), 0).await;
    let said = rollout(&stopped);
    assert_eq!(said["status"], "stopped", "{said}");
    assert_eq!(said["stopped_in"], "canary");
    assert!(
        said["reason"]
            .as_str()
            .unwrap()
            .contains("1 failure(s) of 2"),
        "{said}"
    );
    let failed = member(&stopped, "canary", &ids[1]);
    assert_eq!(failed["outcome"], "failed");
    assert_eq!(failed["step"], "patch");
    assert!(
        failed["detail"]
            .as_str()
            .unwrap()
            .contains("Failed: Installing kernel")
            && failed["detail"]
                .as_str()
                .unwrap()
                .contains("rpmdb open failed"),
        "{failed}"
    );
    assert_eq!(member(&stopped, "canary", &ids[0])["outcome"], "patched");
    // A repository's credentials in the output reach neither the report
    // nor the wave's record.
    let report = serde_json::to_string(&stopped.report).unwrap();
    assert!(!report.contains("s3cr3t"), "{report}");
    assert!(report.contains("https://***@repo.example.com"), "{report}");
    assert!(!wave_record(&f, "dec", "canary").await.contains("s3cr3t"));
    // Wave 1 never started: nothing was sent to it, nothing drained.
    assert_eq!(f.ssm.sent().len(), 1);
    assert!(
        stopped.report.details["waves"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["wave"] != "1")
    );
    // The failed instance was put back all the same.
    let health = targets(&f, &group).await;
    assert!(health.iter().all(|(_, s)| s == "healthy"), "{health:?}");
    assert!(f.records().await.iter().all(|pk| !pk.ends_with("#1")));
    // The result event names the failure.
    let key = format!("dec/{}", ids[1]);
    let item = crate::common::item(&stopped, &key).expect("an item per member");
    assert_eq!(item["state"], "open");
    assert_eq!(item["fields"]["step"], "patch");

    // Asked again by the same execution: still stopped, nothing sent.
    let again = step(&app, &execution("dec"), 10_000, &Deadline::unbounded()).await;
    assert_eq!(rollout(&again)["status"], "stopped");
    assert_eq!(f.ssm.sent().len(), 1);

    // Fixed, and re-run by a new execution of the same rollout: only the
    // instance that failed is patched again, then wave 1.
    f.ssm.update(|fleet| fleet.runs.clear());
    let (last, _) = drive_as(
        &app,
        json!({"action": "rollout", "execution": execution("dec-2"), "rollout_id": "dec"}),
        20_000,
    )
    .await;
    assert_eq!(
        rollout(&last)["status"],
        "done",
        "{:?}",
        last.report.details
    );
    let sent: Vec<Vec<String>> = f
        .ssm
        .sent()
        .iter()
        .map(|c| c.instance_ids.clone())
        .collect();
    assert_eq!(
        sent[1..],
        [vec![ids[1].clone()], vec![ids[2].clone()]],
        "{sent:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_cut_short_by_the_deadline_or_lost_after_sending_never_acts_twice() {
    let mut f = Fixture::new("eu-west-2").await;
    f.set("WAVES", "canary");
    let ids = fleet(&f, &[("canary", "web-1")]).await;
    let other = f.launch(1, BASE_IMAGE, &[], None, None).await.remove(0);
    let group = target_group(&f, &[&ids[0], &other]).await;
    f.set("DRAIN_TARGET_GROUPS", &group);
    f.ssm.update(|fleet| {
        fleet.runs.insert(ids[0].clone(), CommandRun::in_progress());
    });
    let app = f.app();
    let exec = execution("nov");

    // Drained and sent; the command runs, so the step asks to wait.
    let first = step(&app, &exec, 0, &Deadline::unbounded()).await;
    assert_eq!(rollout(&first)["status"], "working");
    assert_eq!(f.ssm.sent().len(), 1);
    // Out of service (moto drops a deregistered target from the list at
    // once; ELBv2 lists it draining for the group's delay).
    let drained = targets(&f, &group).await;
    assert!(
        drained
            .iter()
            .all(|(id, state)| id != &ids[0] || state == "draining"),
        "{drained:?}"
    );

    // An invocation whose deadline has passed does nothing and says so.
    let late = step(&app, &exec, 30, &Deadline::after(std::time::Duration::ZERO)).await;
    assert_eq!(rollout(&late)["status"], "working");
    assert_eq!(rollout(&late)["wait_seconds"], 0);
    assert!(late.report.stopped_early);

    // An invocation that sent the command and died before writing its id
    // down: the record says "sending"; the next finds the command instead
    // of sending another.
    rewind_to_sending(&f, "nov", "canary").await;
    let found = step(&app, &exec, 60, &Deadline::unbounded()).await;
    assert_eq!(rollout(&found)["status"], "working");
    assert_eq!(
        f.ssm.sent().len(),
        1,
        "the command was found, not sent again"
    );

    // The execution fails here (its retries spent); a new one of the same
    // rollout takes the wave over at its step, without sending again, and
    // the canary's failure is final for it: asked again, it stays stopped.
    f.ssm.update(|fleet| {
        fleet.runs.insert(
            ids[0].clone(),
            CommandRun::failed("Error: rpmdb open failed"),
        );
    });
    let nov_2 = json!({"action": "rollout", "execution": execution("nov-2"),
                       "input": {"rollout_id": "nov"}});
    let (last, now) = drive_as(&app, nov_2.clone(), 90).await;
    assert_eq!(
        rollout(&last)["status"],
        "stopped",
        "{:?}",
        last.report.details
    );
    assert_eq!(member(&last, "canary", &ids[0])["step"], "patch");
    let again = step_as(&app, nov_2, now + 60, &UNBOUNDED).await;
    assert_eq!(rollout(&again)["status"], "stopped");
    assert_eq!(f.ssm.sent().len(), 1, "nothing was ever sent twice");
    // Failed, and put back all the same.
    let health = targets(&f, &group).await;
    assert!(health.iter().all(|(_, s)| s == "healthy"), "{health:?}");
    assert_eq!(health.len(), 2);
}

/// The wave's record as the state table holds it.
async fn wave_record(f: &Fixture, rollout: &str, wave: &str) -> String {
    use aws_sdk_dynamodb::types::AttributeValue;
    aws_sdk_dynamodb::Client::new(&f.sdk)
        .get_item()
        .table_name(&f.table)
        .key("pk", AttributeValue::S(format!("rollout#{rollout}#{wave}")))
        .send()
        .await
        .expect("get")
        .item()
        .and_then(|i| i.get("wave"))
        .and_then(|v| v.as_s().ok())
        .cloned()
        .expect("the wave's record")
}

/// Puts the wave's record back to "sending", as an invocation that died
/// between `SendCommand` and its write would have left it.
async fn rewind_to_sending(f: &Fixture, rollout: &str, wave: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let db = aws_sdk_dynamodb::Client::new(&f.sdk);
    let pk = format!("rollout#{rollout}#{wave}");
    let item = db
        .get_item()
        .table_name(&f.table)
        .key("pk", AttributeValue::S(pk.clone()))
        .send()
        .await
        .expect("get")
        .item()
        .cloned()
        .expect("the wave's record");
    let mut record: Value = serde_json::from_str(item["wave"].as_s().unwrap()).unwrap();
    assert_eq!(record["phase"], "patching", "{record}");
    record["phase"] = json!("sending");
    record["at"] = json!(now_secs());
    let object = record.as_object_mut().unwrap();
    object.remove("commands");
    object.remove("until");
    db.update_item()
        .table_name(&f.table)
        .key("pk", AttributeValue::S(pk))
        .update_expression("SET wave = :w")
        .expression_attribute_values(":w", AttributeValue::S(record.to_string()))
        .send()
        .await
        .expect("rewound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_drain_is_retried_and_one_that_keeps_failing_fails_the_instance_not_the_fleet()
{
    let mut f = Fixture::new("eu-central-1").await;
    f.set("WAVES", "canary,1");
    let ids = fleet(&f, &[("canary", "web-1"), ("1", "web-2")]).await;
    let other = f.launch(1, BASE_IMAGE, &[], None, None).await.remove(0);
    let group = target_group(&f, &[&ids[0], &ids[1], &other]).await;
    f.set("DRAIN_TARGET_GROUPS", &group);
    let mut app = f.app();
    let throttles = Arc::new(AtomicUsize::new(2));
    app.elb = throttling_elb(&f, throttles.clone());

    // Two throttles: the SDK's retries get through, and the canary goes on
    // to bake.
    let exec = execution("jan");
    let first = step(&app, &exec, 0, &Deadline::unbounded()).await;
    assert_eq!(
        rollout(&first)["status"],
        "working",
        "{:?}",
        first.report.details
    );
    assert_eq!(
        throttles.load(Ordering::SeqCst),
        0,
        "both throttles were met"
    );
    assert_eq!(member(&first, "canary", &ids[0])["outcome"], "patched");

    // A throttling storm outlasts every retry: wave 1's instance fails at
    // its drain, is never patched, stays in service, and the rollout stops.
    throttles.store(1_000, Ordering::SeqCst);
    let (stopped, _) = drive(&app, &exec, 900).await;
    assert_eq!(rollout(&stopped)["status"], "stopped");
    assert_eq!(rollout(&stopped)["stopped_in"], "1");
    let failed = member(&stopped, "1", &ids[1]);
    assert_eq!(failed["step"], "drain", "{failed}");
    assert!(
        failed["detail"].as_str().unwrap().contains("Throttling"),
        "{failed}"
    );
    assert_eq!(f.ssm.sent().len(), 1, "nothing was sent to wave 1");
    let health = targets(&f, &group).await;
    assert!(health.iter().all(|(_, s)| s == "healthy"), "{health:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_plans_every_wave_a_freeze_starts_none_and_no_group_is_drained_empty() {
    let mut f = Fixture::new("me-south-1").await;
    f.set("WAVES", "canary,1");
    f.set(
        "EXEMPTIONS",
        r#"[{"tag":{"key":"Name","value":"vendor"},"reason":"vendor appliance","expires":"2027-03-31"}]"#,
    );
    let ids = fleet(
        &f,
        &[
            ("canary", "web-1"),
            ("1", "web-2"),
            ("1", "vendor"),
            ("3", "odd"),
        ],
    )
    .await;
    let group = target_group(&f, &[&ids[0]]).await;
    f.set("DRAIN_TARGET_GROUPS", &group);

    f.set("DRY_RUN", "true");
    let dry = step(&f.app(), &execution("plan"), 0, &Deadline::unbounded()).await;
    assert_eq!(rollout(&dry)["status"], "done");
    assert_eq!(member(&dry, "canary", &ids[0])["outcome"], "pending");
    assert_eq!(member(&dry, "1", &ids[1])["outcome"], "pending");
    let text = dry.report.details["waves"].to_string();
    assert!(text.contains("vendor appliance"), "{text}");
    assert!(
        text.contains(r#"\"3\", which is not one of the waves"#),
        "{text}"
    );
    assert!(dry.report.items.is_empty(), "a dry run changes nothing");
    assert!(f.ssm.sent().is_empty());
    assert!(f.records().await.is_empty(), "a dry run writes nothing");
    f.set("DRY_RUN", "false");

    f.set("FREEZE_WINDOWS", r#"["2026-12-01..2026-12-31"]"#);
    let frozen = step(&f.app(), &execution("xmas"), 0, &Deadline::unbounded()).await;
    assert_eq!(rollout(&frozen)["status"], "frozen");
    assert_eq!(rollout(&frozen)["freeze_window"], "2026-12-01..2026-12-31");
    assert!(f.records().await.is_empty() && f.ssm.sent().is_empty());
    f.set("FREEZE_WINDOWS", "[]");

    // The canary is the group's only target: draining it would leave the
    // group empty, so it is not drained, nor patched.
    let (stopped, _) = drive(&f.app(), &execution("jan"), 0).await;
    assert_eq!(rollout(&stopped)["status"], "stopped");
    let canary = member(&stopped, "canary", &ids[0]);
    assert_eq!(canary["step"], "drain");
    assert!(
        canary["detail"]
            .as_str()
            .unwrap()
            .contains("no healthy target"),
        "{canary}"
    );
    assert!(f.ssm.sent().is_empty());
    assert_eq!(
        targets(&f, &group).await,
        [(ids[0].clone(), "healthy".to_owned())]
    );
}

/// The function's ELB client, through a transport that answers the next
/// `throttles` `DeregisterTargets` with ELBv2's throttling error (awsQuery
/// XML, as the SDK parses and retries it) and sends the rest to moto.
fn throttling_elb(f: &Fixture, throttles: Arc<AtomicUsize>) -> Elb {
    let transport = refusing(
        f,
        move |body| {
            body.starts_with("Action=DeregisterTargets&")
                && throttles
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
        },
        400,
        "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>5f1c0b52-0f0e-4a4c-9d55-3a9f1c2b7e10</RequestId></ErrorResponse>",
    );
    let config = aws_sdk_elasticloadbalancingv2::config::Builder::from(&on_virtual_clock(&f.sdk))
        .http_client(transport)
        .retry_partition(RetryPartition::new(f.moto.unique("pw-elb")))
        .build();
    Elb::from_conf(config)
}

/// moto's HTTP client, except that a request whose (query protocol) body
/// `refuse` picks is answered `status` with the XML error `body`, as the
/// service would, for the SDK to parse and classify.
fn refusing(
    f: &Fixture,
    refuse: impl Fn(&str) -> bool + Send + Sync + 'static,
    status: u16,
    body: &'static str,
) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    let moto = f
        .sdk
        .http_client()
        .expect("shared::aws puts its HTTP client in every SdkConfig");
    faults::transport([moto], move |request, [moto]| {
        let text = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let refused = refuse(&text);
        let moto = moto.clone();
        HttpConnectorFuture::new(async move {
            if refused {
                let mut response = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
                    aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
                    SdkBody::from(body),
                );
                response
                    .headers_mut()
                    .insert("content-type", "text/xml;charset=UTF-8".to_owned());
                return Ok(response);
            }
            moto.call(request).await
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_whose_snapshot_fails_is_neither_drained_nor_patched() {
    let mut f = Fixture::new("af-south-1").await;
    f.set("WAVES", "canary");
    f.set("SNAPSHOT_BEFORE_PATCH", "true");
    let ids = fleet(&f, &[("canary", "web-1"), ("canary", "web-2")]).await;
    let other = f.launch(1, BASE_IMAGE, &[], None, None).await.remove(0);
    let group = target_group(&f, &[&ids[0], &ids[1], &other]).await;
    f.set("DRAIN_TARGET_GROUPS", &group);
    let mut app = f.app();
    app.ec2 = refusing_snapshots_of(&f, &ids[1]);

    let (stopped, _) = drive(&app, &execution("feb"), 0).await;
    assert_eq!(rollout(&stopped)["status"], "stopped");
    let failed = member(&stopped, "canary", &ids[1]);
    assert_eq!(failed["step"], "snapshot", "{failed}");
    assert!(
        failed["detail"]
            .as_str()
            .unwrap()
            .contains("UnauthorizedOperation"),
        "{failed}"
    );
    assert_eq!(member(&stopped, "canary", &ids[0])["outcome"], "patched");
    let sent = f.ssm.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].instance_ids,
        [ids[0].clone()],
        "only the snapshotted one"
    );
    let health = targets(&f, &group).await;
    assert_eq!(health.len(), 3, "nobody left out of service: {health:?}");
    assert!(health.iter().all(|(_, s)| s == "healthy"), "{health:?}");
}

/// The function's EC2 client, answering `CreateSnapshots` of `instance`
/// with EC2's `UnauthorizedOperation` and sending the rest to moto.
fn refusing_snapshots_of(f: &Fixture, instance: &str) -> aws_sdk_ec2::Client {
    let marker = format!("InstanceSpecification.InstanceId={instance}");
    let transport = refusing(
        f,
        move |body| body.starts_with("Action=CreateSnapshots&") && body.contains(&marker),
        403,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestID></Response>",
    );
    let config = aws_sdk_ec2::config::Builder::from(&on_virtual_clock(&f.sdk))
        .http_client(transport)
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_that_fails_puts_its_wave_back_and_one_still_running_keeps_it() {
    let mut f = Fixture::new("ap-southeast-4").await;
    f.set("WAVES", "canary");
    let ids = fleet(&f, &[("canary", "web-1"), ("canary", "web-2")]).await;
    let other = f.launch(1, BASE_IMAGE, &[], None, None).await.remove(0);
    let group = target_group(&f, &[&ids[0], &ids[1], &other]).await;
    f.set("DRAIN_TARGET_GROUPS", &group);
    f.ssm.update(|fleet| {
        for id in &ids {
            fleet.runs.insert(id.clone(), CommandRun::in_progress());
        }
    });
    let app = f.app();
    // A real execution of moto's, still running, owns the rollout.
    let sfn = aws_sdk_sfn::Client::new(&f.sdk);
    let machine = sfn
        .create_state_machine()
        .name(f.moto.unique("pw-rollout"))
        .definition(r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}"#)
        .role_arn("arn:aws:iam::123456789012:role/pw")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let running = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name("mar")
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_owned();
    let first = step(&app, &running, 0, &UNBOUNDED).await;
    assert_eq!(rollout(&first)["status"], "working");
    assert_eq!(f.ssm.sent().len(), 1);
    let drained = targets(&f, &group).await;
    assert_eq!(drained.len(), 1, "both members drained: {drained:?}");

    // A second execution of the same rollout, while the first runs: it
    // touches nothing, neither steps nor puts back.
    for put_back in [false, true] {
        let second = json!({"action": "rollout", "execution": execution("mar-2"),
                            "input": {"rollout_id": "mar"}, "put_back": put_back});
        let busy = step_as(&app, second, 60, &UNBOUNDED).await;
        let error = busy.response.expect_err("another execution owns the wave");
        assert_eq!(error.kind(), "RolloutBusy", "{error}");
        assert_eq!(targets(&f, &group).await.len(), 1, "nothing put back");
    }
    assert_eq!(f.ssm.sent().len(), 1);

    // The owner fails past its retries: its catch puts every drained target
    // back and stops the wave, saying why.
    let put_back = step_as(
        &app,
        json!({"action": "rollout", "execution": running, "input": {}, "put_back": true}),
        90,
        &UNBOUNDED,
    )
    .await;
    let said = rollout(&put_back);
    assert_eq!(said["status"], "stopped", "{said}");
    assert!(
        said["reason"]
            .as_str()
            .unwrap()
            .contains("2 drained target(s) were put back"),
        "{said}"
    );
    let health = targets(&f, &group).await;
    assert_eq!(health.len(), 3, "{health:?}");
    assert!(health.iter().all(|(_, s)| s == "healthy"), "{health:?}");
    // The rollout's response to the state machine is its status, not the
    // whole report.
    let response = put_back.response.unwrap();
    assert_eq!(response["rollout"]["status"], "stopped");
    assert!(response.get("details").is_none(), "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_terminated_mid_wave_does_not_keep_the_others_out_of_service() {
    let mut f = Fixture::new("ap-south-2").await;
    f.set("WAVES", "canary,1");
    let ids = fleet(&f, &[("canary", "web-1"), ("canary", "web-2")]).await;
    let other = f.launch(1, BASE_IMAGE, &[], None, None).await.remove(0);
    let group = target_group(&f, &[&ids[0], &ids[1], &other]).await;
    f.set("DRAIN_TARGET_GROUPS", &group);
    f.ssm.update(|fleet| {
        fleet.runs.insert(ids[1].clone(), CommandRun::in_progress());
    });
    let app = f.app();
    let exec = execution("apr");
    let first = step(&app, &exec, 0, &UNBOUNDED).await;
    assert_eq!(rollout(&first)["status"], "working");
    f.terminate(&ids[1]).await;
    f.ssm.update(|fleet| {
        fleet
            .runs
            .insert(ids[1].clone(), CommandRun::failed("Instance terminated"));
    });

    let (stopped, _) = drive(&app, &exec, 60).await;
    assert_eq!(rollout(&stopped)["status"], "stopped");
    assert_eq!(member(&stopped, "canary", &ids[0])["outcome"], "patched");
    let gone = member(&stopped, "canary", &ids[1]);
    assert_eq!(gone["outcome"], "failed");
    let health = targets(&f, &group).await;
    assert!(
        health.contains(&(ids[0].clone(), "healthy".to_owned())),
        "the patched instance is back: {health:?}"
    );
    assert!(health.contains(&(other.clone(), "healthy".to_owned())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_under_a_running_rollout_and_an_empty_canary_both_stop_it() {
    let mut f = Fixture::new("eu-central-2").await;
    f.set("WAVES", "canary,1");
    let ids = fleet(&f, &[("canary", "web-1"), ("1", "web-2")]).await;
    f.ssm.update(|fleet| {
        fleet.runs.insert(ids[0].clone(), CommandRun::in_progress());
    });
    let exec = execution("may");
    let first = step(&f.app(), &exec, 0, &UNBOUNDED).await;
    assert_eq!(rollout(&first)["status"], "working");
    f.set("DRY_RUN", "true");
    let dry = step(&f.app(), &exec, 60, &UNBOUNDED).await;
    let said = rollout(&dry);
    assert_eq!(said["status"], "stopped", "{said}");
    assert!(
        said["reason"]
            .as_str()
            .unwrap()
            .contains("DRY_RUN is on while wave canary"),
        "{said}"
    );
    assert_eq!(f.ssm.sent().len(), 1);

    // The canary's only instance lost its agent before the rollout: the
    // canary is empty, and wave 1 does not go ahead untested.
    f.set("DRY_RUN", "false");
    f.ssm.update(|fleet| {
        fleet.runs.clear();
        fleet.nodes.retain(|n| n.instance_id != ids[0]);
    });
    let (stopped, _) = drive(&f.app(), &execution("jun"), 0).await;
    let said = rollout(&stopped);
    assert_eq!(said["status"], "stopped", "{said}");
    assert!(
        said["reason"]
            .as_str()
            .unwrap()
            .contains("patched no instance"),
        "{said}"
    );
    assert_eq!(f.ssm.sent().len(), 1, "wave 1 was never sent a command");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_still_patching_at_the_timeout_is_waited_for_not_put_back() {
    let mut f = Fixture::new("ap-southeast-5").await;
    f.set("WAVES", "canary");
    f.set("COMMAND_TIMEOUT_MINUTES", "10");
    let ids = fleet(&f, &[("canary", "web-1")]).await;
    let other = f.launch(1, BASE_IMAGE, &[], None, None).await.remove(0);
    let group = target_group(&f, &[&ids[0], &other]).await;
    f.set("DRAIN_TARGET_GROUPS", &group);
    f.ssm.update(|fleet| {
        fleet.runs.insert(ids[0].clone(), CommandRun::in_progress());
    });
    let app = f.app();
    let exec = execution("jul");
    assert_eq!(
        rollout(&step(&app, &exec, 0, &UNBOUNDED).await)["status"],
        "working"
    );
    assert_eq!(f.ssm.sent()[0].timeout_seconds, Some(600));

    // Past the timeout, still patching: waited for, and still out of service.
    let late = step(&app, &exec, 900, &UNBOUNDED).await;
    assert_eq!(rollout(&late)["status"], "working");
    assert_eq!(member(&late, "canary", &ids[0])["outcome"], "pending");
    assert_eq!(targets(&f, &group).await.len(), 1);

    // Hours past it, the wave gives up on it: failed, and put back.
    let (stopped, _) = drive(&app, &exec, 600 + 3 * 3600 + 60).await;
    let failed = member(&stopped, "canary", &ids[0]);
    assert_eq!(failed["step"], "patch");
    assert!(
        failed["detail"].as_str().unwrap().contains("still running"),
        "{failed}"
    );
    assert_eq!(targets(&f, &group).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_group_of_ip_targets_is_not_drained_and_a_canary_sick_after_its_bake_stops_it() {
    let mut f = Fixture::new("mx-central-1").await;
    f.set("WAVES", "canary,1");
    f.set("BAKE_MINUTES", "5");
    let ids = fleet(&f, &[("canary", "web-1"), ("1", "web-2")]).await;
    let other = f.launch(1, BASE_IMAGE, &[], None, None).await.remove(0);
    let group = target_group(&f, &[&ids[0], &other]).await;

    // An NLB's group of IP targets: the instances are in it by address, so
    // draining by id would leave them serving; refused.
    let elb = Elb::new(&f.sdk);
    let vpc = f.ec2.describe_vpcs().send().await.unwrap().vpcs()[0]
        .vpc_id()
        .unwrap()
        .to_owned();
    let ip_group = elb
        .create_target_group()
        .name(f.moto.unique("pw-ip").chars().take(32).collect::<String>())
        .protocol(ProtocolEnum::Tcp)
        .port(80)
        .vpc_id(vpc)
        .target_type(TargetTypeEnum::Ip)
        .send()
        .await
        .expect("ip target group")
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_owned();
    f.set("DRAIN_TARGET_GROUPS", &ip_group);
    let (refused, _) = drive(&f.app(), &execution("aug"), 0).await;
    let canary = member(&refused, "canary", &ids[0]);
    assert_eq!(canary["step"], "drain", "{canary}");
    assert!(
        canary["detail"].as_str().unwrap().contains("of type ip"),
        "{canary}"
    );
    assert!(f.ssm.sent().is_empty());

    // Healthy when put back, stopped during the bake: the canary fails its
    // last health check, and wave 1 does not start.
    f.set("DRAIN_TARGET_GROUPS", &group);
    let app = f.app();
    let exec = execution("sep");
    let baking = step(&app, &exec, 0, &UNBOUNDED).await;
    assert_eq!(rollout(&baking)["status"], "working");
    assert_eq!(member(&baking, "canary", &ids[0])["outcome"], "patched");
    f.stop(&ids[0]).await;
    let (stopped, _) = drive(&app, &exec, 400).await;
    assert_eq!(rollout(&stopped)["status"], "stopped");
    let sick = member(&stopped, "canary", &ids[0]);
    assert_eq!(sick["step"], "health", "{sick}");
    assert!(
        sick["detail"]
            .as_str()
            .unwrap()
            .contains("end of the 5-minute bake"),
        "{sick}"
    );
    assert_eq!(f.ssm.sent().len(), 1, "wave 1 was never sent a command");
}
