//! patch-waves's part of the demo: the patch report over a fleet of twelve
//! instances of three owners. Two are not managed by Systems Manager, one
//! agent has lost its connection, one Amazon Linux 2023 instance runs a
//! release behind, and Patch Manager has found missing and failed patches.
//! EC2 is moto's; the Systems Manager calls moto lacks come from the
//! stand-in (`toilkit_tests::patch_manager`). It prints the report and the
//! digest each owner's channel received, then a second report a day later
//! with what changed.
//!
//! Then a patch rollout over the instances that opt in by tag: the canary
//! (pay-api-1) is snapshotted, drained from its target group, patched and put
//! back; in wave 1 etl-1's patch fails (a held yum lock), and the rollout
//! stops there. Each step is the function's real answer; the state
//! machine's path is then run in moto's Step Functions executor on those
//! answers.

use aws_sdk_ec2::types::{
    IamInstanceProfileSpecification, InstanceType, ResourceType, Tag, TagSpecification,
};
use patch_waves::{App, Config, Outcome, process};
use serde_json::json;
use shared::Deadline;
use shared::config::Env;
use time::OffsetDateTime;
use time::macros::datetime;
use toilkit_tests::patch_manager::{CommandRun, Fleet, Node, PatchCounts, PatchManager};
use toilkit_tests::step_functions;

use super::{Ctx, print_message};
use crate::Result;

/// A Region of its own, so no other demo's instances are in the fleet.
const REGION: &str = "eu-west-3";
const BASE_IMAGE: &str = "ami-12c6146b";
const LATEST: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
const NOW: OffsetDateTime = datetime!(2026-12-07 06:00 UTC);
const DAY: i64 = 86_400;

struct Spec {
    owner: &'static str,
    name: &'static str,
    group: &'static str,
    profile: bool,
    asg: Option<&'static str>,
}

const FLEET: [Spec; 12] = [
    Spec {
        owner: "payments",
        name: "pay-api-1",
        group: "payments-prod",
        profile: true,
        asg: None,
    },
    Spec {
        owner: "payments",
        name: "pay-api-2",
        group: "payments-prod",
        profile: true,
        asg: None,
    },
    Spec {
        owner: "payments",
        name: "pay-web-a",
        group: "payments-prod",
        profile: true,
        asg: Some("pay-web"),
    },
    Spec {
        owner: "payments",
        name: "pay-web-b",
        group: "payments-prod",
        profile: true,
        asg: Some("pay-web"),
    },
    Spec {
        owner: "search",
        name: "search-idx-1",
        group: "search",
        profile: true,
        asg: None,
    },
    Spec {
        owner: "search",
        name: "search-idx-2",
        group: "search",
        profile: true,
        asg: None,
    },
    Spec {
        owner: "search",
        name: "search-batch",
        group: "search",
        profile: false,
        asg: None,
    },
    Spec {
        owner: "search",
        name: "search-legacy",
        group: "search",
        profile: true,
        asg: None,
    },
    Spec {
        owner: "data",
        name: "etl-1",
        group: "data",
        profile: true,
        asg: None,
    },
    Spec {
        owner: "data",
        name: "etl-2",
        group: "data",
        profile: true,
        asg: None,
    },
    Spec {
        owner: "data",
        name: "bastion",
        group: "data",
        profile: false,
        asg: None,
    },
    Spec {
        owner: "data",
        name: "airflow",
        group: "data",
        profile: true,
        asg: None,
    },
];

pub async fn run(ctx: &Ctx) -> Result {
    let sdk = ctx.moto.sdk_config_in(REGION).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let mut routes = serde_json::Map::new();
    let mut default = String::new();
    for channel in ["ops", "payments", "search", "data"] {
        let arn = secrets
            .create_secret()
            .name(ctx.moto.unique(&format!("pw-demo-{channel}")))
            .secret_string(ctx.slack.webhook_url(&format!("pw-{channel}")))
            .send()
            .await?
            .arn
            .unwrap_or_default();
        if channel == "ops" {
            default = arn;
        } else {
            routes.insert(channel.to_owned(), json!(arn));
        }
    }
    let table = ctx.moto.unique("pw-demo-state");
    toilkit_tests::tables::create_pk_table(&aws_sdk_dynamodb::Client::new(&sdk), &table).await?;
    let profile = ctx.moto.unique("pw-demo-ssm-core");
    aws_sdk_iam::Client::new(&sdk)
        .create_instance_profile()
        .instance_profile_name(&profile)
        .send()
        .await?;

    // Two AL2023 releases: the one etl-2 was launched from, and the latest.
    let mut images = Vec::new();
    for version in ["2023.6.20241212.0", "2023.9.20251110.0"] {
        let seed = launch(&ec2, BASE_IMAGE, &[], None).await?;
        let image = ec2
            .create_image()
            .instance_id(&seed)
            .name(format!("al2023-ami-{version}-kernel-6.1-x86_64"))
            .send()
            .await?
            .image_id
            .unwrap_or_default();
        ec2.terminate_instances().instance_ids(&seed).send().await?;
        images.push(image);
    }
    let (old, latest) = (images[0].clone(), images[1].clone());

    let mut ids = Vec::new();
    for spec in &FLEET {
        let mut tags = vec![
            ("owner", spec.owner),
            ("Name", spec.name),
            ("Patch Group", spec.group),
        ];
        if let Some(asg) = spec.asg {
            tags.push(("aws:autoscaling:groupName", asg));
        }
        let image = if spec.name == "etl-2" { &old } else { &latest };
        let id = launch(&ec2, image, &tags, spec.profile.then_some(profile.as_str())).await?;
        ids.push(id);
    }
    let now = NOW.unix_timestamp();
    let id = |name: &str| {
        let i = FLEET
            .iter()
            .position(|s| s.name == name)
            .expect("in the fleet");
        ids[i].clone()
    };
    let mut fleet = Fleet {
        parameter: Some((LATEST.to_owned(), latest.clone())),
        ..Fleet::default()
    };
    for (spec, instance) in FLEET.iter().zip(&ids) {
        if !spec.profile {
            continue;
        }
        let node = if spec.name == "search-legacy" {
            Node {
                ping_status: "ConnectionLost".into(),
                ..Node::online(instance, now - 4 * DAY)
            }
        } else {
            Node::online(instance, now - 120)
        };
        fleet.nodes.push(node);
        fleet
            .patch_states
            .push(PatchCounts::scanned(instance, spec.group, now - DAY / 2));
    }
    let counts = |fleet: &mut Fleet, name: &str, change: &dyn Fn(&mut PatchCounts)| {
        let target = id(name);
        if let Some(state) = fleet
            .patch_states
            .iter_mut()
            .find(|s| s.instance_id == target)
        {
            change(state);
        }
    };
    counts(&mut fleet, "pay-api-1", &|s| {
        s.critical = 2;
        s.security = 5;
        s.missing = 9;
    });
    counts(&mut fleet, "pay-web-a", &|s| {
        s.security = 1;
        s.missing = 1;
    });
    counts(&mut fleet, "search-idx-2", &|s| s.pending_reboot = 3);
    counts(&mut fleet, "etl-1", &|s| {
        s.failed = 1;
        s.operation = "Install".into();
    });
    counts(&mut fleet, "airflow", &|s| s.operation_end = now - 12 * DAY);
    let ssm = PatchManager::start(&ctx.moto, fleet);

    let mut env = Env::from_pairs([
        ("STATE_TABLE", table.as_str()),
        ("SLACK_WEBHOOK_SECRET_ARN", default.as_str()),
        ("ROUTES", &serde_json::Value::Object(routes).to_string()),
    ]);
    let config = Config::from_env(&mut env);
    env.finish()?;
    let app = App::new(config, &ssm.sdk_config(&sdk), ctx.output.clone());

    println!(
        "A fleet of 12 running instances of payments, search and data in {REGION}: two without an \
         instance profile, one agent offline for 4 days, one Amazon Linux 2023 release behind, \
         two in an Auto Scaling group."
    );
    let before = ctx.slack.received().len();
    let first = report(&app, 0).await;
    // As the handler does: the hub at the end of the demo reads it.
    ctx.output.emit(&first.report).await;
    show(ctx, "The weekday report", &first, before);

    // A day later: pay-api-1 installed its critical patches and rebooted,
    // search-idx-2 rebooted, and data stopped the bastion.
    ssm.update(|fleet| {
        counts(fleet, "pay-api-1", &|s| {
            s.critical = 0;
            s.missing = 5;
        });
        counts(fleet, "search-idx-2", &|s| s.pending_reboot = 0);
    });
    ec2.stop_instances()
        .instance_ids(id("bastion"))
        .send()
        .await?;
    let before = ctx.slack.received().len();
    let second = report(&app, 1).await;
    ctx.output.emit(&second.report).await;
    show(ctx, "The next day's report: what changed", &second, before);

    rollout(ctx, &sdk, &ssm, &table, &id).await
}

/// The rollout: waves by tag, a target group to drain, etl-1's patch
/// failing; each step printed, then the state machine's path.
async fn rollout(
    ctx: &Ctx,
    sdk: &aws_types::SdkConfig,
    ssm: &PatchManager,
    table: &str,
    id: &dyn Fn(&str) -> String,
) -> Result {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let waves = [
        ("pay-api-1", "canary"),
        ("pay-api-2", "1"),
        ("search-idx-1", "1"),
        ("etl-1", "1"),
        ("search-batch", "1"),
        ("pay-web-a", "2"),
        ("airflow", "2"),
    ];
    for (name, wave) in waves {
        ec2.create_tags()
            .resources(id(name))
            .tags(Tag::builder().key("toilkit:patch-wave").value(wave).build())
            .send()
            .await?;
    }
    let group = target_group(sdk, &[id("pay-api-1"), id("pay-api-2")], &ctx.moto).await?;
    ssm.update(|fleet| {
        fleet.runs.insert(
            id("etl-1"),
            CommandRun::failed(
                "Checking for updates...\nError: rpmdb open failed\nAnother app is currently holding the yum lock; waiting for it to exit...",
            ),
        );
    });
    let mut env = Env::from_pairs([
        ("STATE_TABLE", table),
        ("SLACK_WEBHOOK_PARAMETER", "/toilkit/demo/unused"),
        ("SNAPSHOT_BEFORE_PATCH", "true"),
        ("DRAIN_TARGET_GROUPS", group.as_str()),
        ("BAKE_MINUTES", "10"),
    ]);
    let config = Config::from_env(&mut env);
    env.finish()?;
    let app = App::new(config, &ssm.sdk_config(sdk), ctx.output.clone());
    println!(
        "\n--- A patch rollout: waves canary, 1 and 2 by the toilkit:patch-wave tag; pay-api-1 and \
         pay-api-2 serve one target group"
    );
    let execution =
        "arn:aws:states:eu-west-3:123456789012:execution:toilkit-patch-waves-rollout:dec-2026";
    let mut now = 0_i64;
    let mut answers = Vec::new();
    let last = loop {
        let outcome = process(
            json!({"action": "rollout", "execution": execution, "input": {}}),
            &app,
            NOW + time::Duration::days(2) + time::Duration::seconds(now),
            &Deadline::unbounded(),
        )
        .await;
        let said = outcome
            .report
            .details
            .get("rollout")
            .cloned()
            .unwrap_or_default();
        let waves = outcome
            .report
            .details
            .get("waves")
            .cloned()
            .unwrap_or_default();
        let current = waves
            .as_array()
            .and_then(|w| w.last())
            .cloned()
            .unwrap_or_default();
        println!(
            "  +{:>5}s  {:<8} wave {:<6} step {:<9} waits {}s",
            now,
            said["status"].as_str().unwrap_or("?"),
            current["wave"].as_str().unwrap_or("-"),
            current["phase"].as_str().unwrap_or("-"),
            said["wait_seconds"]
        );
        answers.push(json!({"rollout": {"status": said["status"], "wait_seconds": 0}}).to_string());
        if let Err(error) = &outcome.response {
            println!("  the step failed: {error}");
            break outcome;
        }
        if said["status"] != "working" || answers.len() > 40 {
            break outcome;
        }
        now += said["wait_seconds"].as_i64().unwrap_or(30).max(1);
    };
    let said = &last.report.details["rollout"];
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().replace('\n', " / ");
    println!(
        "  The rollout {}: {}",
        text(&said["status"]),
        text(&said["reason"])
    );
    for wave in last.report.details["waves"]
        .as_array()
        .into_iter()
        .flatten()
    {
        println!("  wave {} ({}):", text(&wave["wave"]), text(&wave["phase"]));
        for (instance, member) in wave["members"].as_object().into_iter().flatten() {
            println!(
                "    {instance} {:<14} {}{}",
                member["name"].as_str().unwrap_or(""),
                member["outcome"].as_str().unwrap_or(""),
                member["detail"]
                    .as_str()
                    .map(|_| format!(" at {}: {}", text(&member["step"]), text(&member["detail"])))
                    .unwrap_or_default()
            );
        }
        for left in wave["left_out"].as_array().into_iter().flatten() {
            println!(
                "    {} left out: {}",
                text(&left["instance"]),
                text(&left["reason"])
            );
        }
    }
    println!(
        "  {} patch command(s) sent; wave 2 never started.",
        ssm.sent().len()
    );

    // The same answers, through the state machine as deployed.
    let executor = step_functions::executor().await;
    let sfn = aws_sdk_sfn::Client::new(&executor.sdk_config().await);
    let machine = step_functions::create_machine(
        &sfn,
        "toilkit-patch-waves-rollout",
        &crate::cmd::root().join("statemachines/patch-waves-rollout.asl.json"),
        &[(
            "PatchWavesFunctionArn",
            "arn:aws:lambda:us-east-1:123456789012:function:toilkit-patch-waves",
        )],
    )
    .await;
    step_functions::queue_lambda_results(&executor, &answers).await;
    let started = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name("dec-2026")
        .input("{}")
        .send()
        .await?;
    let taken = step_functions::path_taken(&sfn, started.execution_arn()).await;
    println!(
        "  The state machine's path on those answers (its waits shortened to 0 s) ({:?}): {}",
        taken.status,
        taken.states.join(" → ")
    );
    Ok(())
}

/// A target group in the Region's default VPC serving `instances`.
async fn target_group(
    sdk: &aws_types::SdkConfig,
    instances: &[String],
    moto: &toilkit_tests::Moto,
) -> Result<String> {
    use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetDescription, TargetTypeEnum};
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let vpc = ec2
        .describe_vpcs()
        .send()
        .await?
        .vpcs()
        .iter()
        .find(|v| v.is_default() == Some(true))
        .and_then(|v| v.vpc_id().map(str::to_owned))
        .unwrap_or_default();
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
    let group = elb
        .create_target_group()
        .name(moto.unique("pw-demo").chars().take(32).collect::<String>())
        .protocol(ProtocolEnum::Http)
        .port(80)
        .vpc_id(vpc)
        .target_type(TargetTypeEnum::Instance)
        .send()
        .await?
        .target_groups()
        .first()
        .and_then(|g| g.target_group_arn())
        .unwrap_or_default()
        .to_owned();
    elb.register_targets()
        .target_group_arn(&group)
        .set_targets(Some(
            instances
                .iter()
                .map(|i| TargetDescription::builder().id(i).port(80).build())
                .collect(),
        ))
        .send()
        .await?;
    Ok(group)
}

async fn launch(
    ec2: &aws_sdk_ec2::Client,
    image: &str,
    tags: &[(&str, &str)],
    profile: Option<&str>,
) -> Result<String> {
    let mut spec = TagSpecification::builder().resource_type(ResourceType::Instance);
    for (k, v) in tags {
        spec = spec.tags(Tag::builder().key(*k).value(*v).build());
    }
    let out = ec2
        .run_instances()
        .image_id(image)
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .set_tag_specifications((!tags.is_empty()).then(|| vec![spec.build()]))
        .set_iam_instance_profile(
            profile.map(|p| IamInstanceProfileSpecification::builder().name(p).build()),
        )
        .send()
        .await?;
    Ok(out
        .instances()
        .first()
        .and_then(|i| i.instance_id())
        .unwrap_or_default()
        .to_owned())
}

async fn report(app: &App, days: i64) -> Outcome {
    process(
        json!({"action": "report"}),
        app,
        NOW + time::Duration::days(days),
        &Deadline::unbounded(),
    )
    .await
}

fn show(ctx: &Ctx, title: &str, outcome: &Outcome, before: usize) {
    println!("\n--- {title}");
    if let Err(error) = &outcome.response {
        println!("  the report failed: {error}");
    }
    let r = &outcome.report;
    let c = |name: &str| r.counters.get(name).copied().unwrap_or(0);
    println!(
        "  {} running: {} managed and online, {} agent offline, {} unmanaged, {} in Auto Scaling groups",
        c("instances_running"),
        c("managed_online"),
        c("agent_offline"),
        c("unmanaged"),
        c("in_auto_scaling_groups")
    );
    println!(
        "  findings: {} new, {} still open, {} fixed; {} AWS calls; {} digest(s) sent",
        c("findings_new"),
        c("findings_still_open"),
        c("findings_fixed"),
        c("api_calls"),
        c("digests_sent")
    );
    for received in ctx.slack.received().iter().skip(before) {
        let channel = received
            .path
            .split("/B0")
            .nth(1)
            .and_then(|p| p.split('/').next())
            .unwrap_or("?");
        println!("  #{channel}:");
        print_message(&received.body);
    }
}
