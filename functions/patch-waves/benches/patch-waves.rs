//! The benchmark (`cargo xtask bench patch-waves`): not a test.
//!
//! The report over fleets of 1,000 and 10,000 running instances, each in a
//! Region of its own. moto cannot hold such a fleet (its `RunInstances`
//! slows with every instance until a call passes the SDK's 60 s, and it
//! pages `DescribeInstances` by reservation), so the stand-in
//! (`toilkit_tests::patch_manager`) answers `DescribeInstances` in EC2's XML,
//! 1,000 instances a page, beside the Systems Manager calls moto lacks; the
//! AMIs, VPC, subnet, route tables, state table and webhook secret are
//! moto's. One instance in ten has no instance profile (unmanaged), one in
//! twenty runs an Amazon Linux 2023 release behind; of the managed, one in
//! ten misses critical patches and one in twenty has a stale scan; twenty
//! owners, each told by a digest on the Slack receiver. For each size: wall time, AWS calls by
//! operation, and the targets:
//!
//! - calls grow linearly, batched: each operation's calls at 10,000 are at
//!   most ten times (plus one) those at 1,000, and no operation is called
//!   once per instance (each stays within one call per 25 instances, the
//!   smallest batch, `BatchWriteItem`'s; all together within one per 10);
//! - the 10,000-instance report fits one invocation: its wall time, against
//!   moto (slower than AWS per call), is under the function's 300 s timeout
//!   less the deadline margin.
//!
//! Sizes: `PATCH_WAVES_BENCH_SIZES` (`1000,10000`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::InstanceType;
use patch_waves::{App, Config, process};
use serde_json::json;
use shared::Deadline;
use shared::config::Env;
use shared::output::Output;
use time::OffsetDateTime;
use time::macros::datetime;
use toilkit_tests::patch_manager::{Ec2Instance, Fleet, Node, PatchCounts, PatchManager};
use toilkit_tests::{Moto, SlackReceiver};

const BASE_IMAGE: &str = "ami-12c6146b";
const LATEST: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
const NOW: OffsetDateTime = datetime!(2026-12-07 06:00 UTC);
const OWNERS: usize = 20;
/// The function's timeout in the template, less `shared::deadline`'s margin.
const INVOCATION_SECONDS: f64 = 300.0 - 10.0;

static MISSED: AtomicUsize = AtomicUsize::new(0);

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        MISSED.fetch_add(1, Ordering::SeqCst);
        "MISSED"
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}

async fn bench() {
    let sizes: Vec<usize> = std::env::var("PATCH_WAVES_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,10000".to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let moto = Moto::dedicated();
    let slack = SlackReceiver::start();
    println!("patch-waves benchmark (moto at {})", moto.endpoint());
    let regions = ["us-east-2", "us-west-2", "eu-west-2", "eu-central-1"];
    let mut measured: Vec<(usize, f64, BTreeMap<String, u64>)> = Vec::new();
    for (n, region) in sizes.iter().zip(regions) {
        let (seconds, calls) = report(&moto, &slack, region, *n).await;
        measured.push((*n, seconds, calls));
    }

    println!("\nAWS calls of one report, by operation");
    print!("{:<40}", "operation");
    for (n, _, _) in &measured {
        print!("{:>12}", format!("{n} inst."));
    }
    println!();
    let operations: std::collections::BTreeSet<&String> =
        measured.iter().flat_map(|(_, _, c)| c.keys()).collect();
    for op in &operations {
        print!("{op:<40}");
        for (_, _, calls) in &measured {
            print!("{:>12}", calls.get(*op).copied().unwrap_or(0));
        }
        println!();
    }
    print!("{:<40}", "total");
    for (_, _, calls) in &measured {
        print!("{:>12}", calls.values().sum::<u64>());
    }
    println!();
    print!("{:<40}", "wall time (s)");
    for (_, seconds, _) in &measured {
        print!("{seconds:>12.1}");
    }
    println!("\n");

    for (n, _, calls) in &measured {
        let total: u64 = calls.values().sum();
        let busiest = calls.iter().max_by_key(|(_, c)| **c);
        let per_op_ok = calls.values().all(|c| *c as usize <= n / 25 + 2);
        println!(
            "{n} instances: {total} calls (at most {} allowed), the most of one operation {:?} (at most {} allowed): {}",
            n / 10,
            busiest,
            n / 25 + 2,
            verdict(total as usize <= n / 10 && per_op_ok)
        );
    }
    if let (Some(small), Some(large)) = (measured.first(), measured.last())
        && large.0 > small.0
    {
        let factor = large.0 / small.0;
        let mut worst = String::new();
        let mut ok = true;
        for op in &operations {
            let a = small.2.get(*op).copied().unwrap_or(0);
            let b = large.2.get(*op).copied().unwrap_or(0);
            if b > a * factor as u64 + 1 {
                ok = false;
                worst = format!(" ({op}: {a} → {b})");
            }
        }
        println!(
            "calls grow at most linearly from {} to {} instances{worst}: {}",
            small.0,
            large.0,
            verdict(ok)
        );
        println!(
            "the {}-instance report fits one invocation: {:.1} s of {INVOCATION_SECONDS:.0} s: {}",
            large.0,
            large.1,
            verdict(large.1 < INVOCATION_SECONDS)
        );
    }
    let missed = MISSED.load(Ordering::SeqCst);
    if missed > 0 {
        println!("\n{missed} target(s) missed");
        std::process::exit(1);
    }
    println!("\nevery target met");
}

/// One report over a fleet of `n` running instances in `region`: its wall
/// time and AWS calls by operation.
async fn report(
    moto: &Moto,
    slack: &SlackReceiver,
    region: &str,
    n: usize,
) -> (f64, BTreeMap<String, u64>) {
    println!("\n=== {n} instances ({region})");
    let sdk = moto.sdk_config_in(region).await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let mut images = Vec::new();
    for version in ["2023.6.20241212.0", "2023.9.20251110.0"] {
        let seed = ec2
            .run_instances()
            .image_id(BASE_IMAGE)
            .instance_type(InstanceType::T3Micro)
            .min_count(1)
            .max_count(1)
            .send()
            .await
            .expect("seed launched")
            .instances()[0]
            .instance_id()
            .expect("an instance id")
            .to_owned();
        let image = ec2
            .create_image()
            .instance_id(&seed)
            .name(format!("al2023-ami-{version}-kernel-6.1-x86_64"))
            .send()
            .await
            .expect("image")
            .image_id
            .expect("an image id");
        ec2.terminate_instances()
            .instance_ids(&seed)
            .send()
            .await
            .expect("seed terminated");
        images.push(image);
    }
    let subnet = ec2
        .describe_subnets()
        .send()
        .await
        .expect("subnets")
        .subnets()
        .first()
        .cloned()
        .expect("moto's default subnet");
    let (vpc_id, subnet_id) = (
        subnet.vpc_id().unwrap_or_default().to_owned(),
        subnet.subnet_id().unwrap_or_default().to_owned(),
    );
    let instances: Vec<Ec2Instance> = (0..n)
        .map(|i| Ec2Instance {
            instance_id: format!("i-{:017x}", 0x0000_ba5e_0000_0000_u64 + i as u64),
            image_id: images[usize::from(i % 20 != 3)].clone(),
            profile: (i % 10 != 9)
                .then(|| "arn:aws:iam::123456789012:instance-profile/ssm-core".to_owned()),
            vpc_id: vpc_id.clone(),
            subnet_id: subnet_id.clone(),
            tags: vec![
                ("owner".to_owned(), format!("team-{:02}", i % OWNERS)),
                ("Name".to_owned(), format!("app-{i}")),
            ],
        })
        .collect();
    let managed: Vec<String> = instances
        .iter()
        .filter(|i| i.profile.is_some())
        .map(|i| i.instance_id.clone())
        .collect();
    let now = NOW.unix_timestamp();
    let mut fleet = Fleet {
        parameter: Some((LATEST.to_owned(), images[1].clone())),
        instances,
        ..Fleet::default()
    };
    for (i, id) in managed.iter().enumerate() {
        fleet.nodes.push(Node::online(id, now - 120));
        let mut counts = PatchCounts::scanned(id, "default", now - 86_400 / 2);
        if i % 10 == 0 {
            counts.critical = 2;
            counts.missing = 4;
        }
        if i % 20 == 7 {
            counts.operation_end = now - 30 * 86_400;
        }
        fleet.patch_states.push(counts);
    }
    let ssm = PatchManager::start(moto, fleet);
    let table = moto.unique("bench-patch-waves");
    toilkit_tests::tables::create_pk_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
        .await
        .expect("state table");
    let secret = slack
        .store_webhook_secret(&sdk, &moto.unique("bench-slack"), "patching")
        .await;
    let mut env = Env::from_pairs([
        ("STATE_TABLE", table.as_str()),
        ("SLACK_WEBHOOK_SECRET_ARN", secret.as_str()),
    ]);
    let config = Config::from_env(&mut env);
    env.finish().expect("valid configuration");
    let app = App::new(config, &ssm.sdk_config(&sdk), Output::quiet());

    let started = Instant::now();
    let outcome = process(
        json!({"action": "report"}),
        &app,
        NOW,
        &Deadline::after(Duration::from_secs(INVOCATION_SECONDS as u64)),
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();
    if let Err(error) = &outcome.response {
        println!("  the report failed: {error}");
        MISSED.fetch_add(1, Ordering::SeqCst);
    }
    let r = &outcome.report;
    let c = |name: &str| r.counters.get(name).copied().unwrap_or(0);
    println!(
        "  report: {seconds:.1} s; {} running, {} managed, {} unmanaged; {} findings new; {} digests; stopped early: {}",
        c("instances_running"),
        c("managed_online"),
        c("unmanaged"),
        c("findings_new"),
        c("digests_sent"),
        r.stopped_early
    );
    if c("instances_running") as usize != n || r.stopped_early {
        println!("  the report did not cover the fleet");
        MISSED.fetch_add(1, Ordering::SeqCst);
    }
    let calls = r
        .counters
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("api_calls.")?.to_owned(), *v)))
        .collect();
    (seconds, calls)
}
