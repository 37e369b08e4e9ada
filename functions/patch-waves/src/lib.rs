//! patch-waves: EC2 patching as SRE teams need to see it. Part 1, the
//! report (scheduled, read-only): every running instance and whether Systems
//! Manager covers it, each managed instance's patch state, Amazon Linux 2023
//! releases left behind, Auto Scaling instances named as such, grouped by
//! owner and patch group, with a digest per owner of what is new, fixed and
//! still open since the last report.
//!
//! - [`trigger`]: the schedule, or `{"action": "report"}`;
//! - [`instances`]: EC2 (instances, AMIs, VPC endpoints, route tables);
//! - [`ssm`]: Systems Manager (managed instances, patch states, the latest
//!   AL2023 AMI's public parameter);
//! - [`state`]: the DynamoDB table of each instance's open findings;
//! - [`plan`]: the pure decisions; [`apply`]: digests sent, state written;
//! - [`notify`]: the digest and its delivery.
//!
//! Part 2, the wave rollout (Step Functions; acts only on instances that
//! opt in by tag):
//! - [`wave`]: the pure part: a wave's members, its record, its verdict;
//! - [`rollout`]: one step of the rollout per invocation, written before
//!   it acts;
//! - [`command`]: `AWS-RunPatchBaseline` sent and its results read;
//! - [`freeze`] and [`exemption`]: when and what the rollout leaves alone.

pub mod apply;
pub mod command;
pub mod config;
pub mod error;
pub mod exemption;
pub mod freeze;
pub mod instances;
pub mod notify;
pub mod plan;
pub mod rollout;
pub mod ssm;
pub mod state;
pub mod trigger;
pub mod wave;

use std::collections::{BTreeMap, BTreeSet};

use aws_types::SdkConfig;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::Deadline;
use shared::envelope::Item;
use shared::output::Output;
use shared::report::Report;
use shared::secret::SecretStore;
use shared::slack::SlackClient;
use time::OffsetDateTime;

pub use crate::config::Config;
pub use crate::error::Error;
use crate::plan::{Change, Facts, Instance, Plan, rfc3339};
use crate::state::StateStore;
use crate::trigger::Trigger;

pub const FUNCTION: &str = "patch-waves";
/// Findings listed in the report's `details.findings`; the result event has
/// every one as an item.
pub const FINDINGS_LISTED: usize = 200;

/// Everything built once per cold start.
pub struct App {
    pub settings: Config,
    pub ec2: aws_sdk_ec2::Client,
    pub ssm: aws_sdk_ssm::Client,
    /// For draining instances from their target groups.
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    /// Whether the execution that owns a wave still runs.
    pub sfn: aws_sdk_sfn::Client,
    pub state: StateStore,
    pub secrets: SecretStore,
    pub slack: SlackClient,
    pub output: Output,
    /// The Region, for the name of its SSM endpoint service.
    pub region: String,
}

impl App {
    pub fn new(settings: Config, sdk: &SdkConfig, output: Output) -> Self {
        Self {
            ec2: aws_sdk_ec2::Client::new(sdk),
            ssm: aws_sdk_ssm::Client::new(sdk),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(sdk),
            sfn: aws_sdk_sfn::Client::new(sdk),
            state: StateStore::new(aws_sdk_dynamodb::Client::new(sdk), &settings.state_table),
            secrets: SecretStore::new(sdk),
            slack: SlackClient::default(),
            output,
            region: sdk
                .region()
                .map(ToString::to_string)
                .unwrap_or_else(|| "us-east-1".to_owned()),
            settings,
        }
    }

    pub fn with_slack(mut self, slack: SlackClient) -> Self {
        self.slack = slack;
        self
    }
}

/// The AWS calls of one run, by operation, for the report's counters.
#[derive(Debug, Default, Clone)]
pub struct Calls(pub BTreeMap<&'static str, u64>);

impl Calls {
    pub fn incr(&mut self, operation: &'static str) {
        *self.0.entry(operation).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// What one invocation produced: the report, and the Lambda response.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    pub response: Result<Value, Error>,
}

/// The Lambda handler.
pub async fn handle(event: LambdaEvent<Value>, app: &App) -> Result<Value, Error> {
    let deadline = Deadline::from_context(&event.context, shared::deadline::DEFAULT_MARGIN);
    let outcome = process(event.payload, app, OffsetDateTime::now_utc(), &deadline).await;
    match &outcome.response {
        Ok(_) => app.output.emit(&outcome.report).await,
        Err(error) => app.output.emit_failed(&outcome.report, error).await,
    }
    outcome.response
}

/// One invocation, from the payload to the report.
pub async fn process(
    payload: Value,
    app: &App,
    now: OffsetDateTime,
    deadline: &Deadline,
) -> Outcome {
    let mut report = Report::new(FUNCTION, app.settings.dry_run);
    let mut calls = Calls::default();
    let response = run(payload, app, now, deadline, &mut report, &mut calls).await;
    for (operation, n) in &calls.0 {
        report.add(&format!("api_calls.{operation}"), *n);
    }
    report.add("api_calls", calls.total());
    // A rollout step answers the state machine with its status alone: the
    // whole report (every wave's members) goes to the log and the result
    // event, and could pass Step Functions' 256 KB.
    let response = response.map(|()| match report.details.get("rollout") {
        Some(rollout) => json!({"function": FUNCTION, "rollout": rollout}),
        None => serde_json::to_value(&report).unwrap_or(Value::Null),
    });
    if let Err(error) = &response {
        report.detail("error", json!(error.to_string()));
    }
    Outcome { report, response }
}

async fn run(
    payload: Value,
    app: &App,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
    calls: &mut Calls,
) -> Result<(), Error> {
    let event_id = match trigger::parse(payload)? {
        Trigger::Report { event_id } => event_id,
        Trigger::Rollout(request) => {
            rollout::advance(app, &request, now, deadline, report, calls).await?;
            return Ok(());
        }
    };
    if let Some(id) = &event_id {
        report.detail("schedule_event", json!(id));
    }
    let Some(facts) = read(app, deadline, report, calls).await? else {
        return Ok(());
    };
    let plan = plan::plan(&facts, &app.settings, now);
    describe(&plan, report);
    if app.settings.dry_run {
        return Ok(());
    }
    apply::apply(
        app,
        &plan,
        &facts.previous,
        event_id.as_deref(),
        now,
        deadline,
        report,
        calls,
    )
    .await
}

/// Everything the report needs, read with paged and batched calls; `None`
/// when the deadline came first (the run then sends and writes nothing, and
/// says so).
pub async fn read(
    app: &App,
    deadline: &Deadline,
    report: &mut Report,
    calls: &mut Calls,
) -> Result<Option<Facts>, Error> {
    let stop = |report: &mut Report, after: &str| {
        report.stop_early(format!(
            "deadline: stopped after reading {after}; nothing was sent or written, the next report starts afresh"
        ));
    };
    let (instances, paused) = instances::present(&app.ec2, calls).await?;
    if deadline.expired() {
        stop(report, "the instances");
        return Ok(None);
    }
    let agents = ssm::agents(&app.ssm, calls).await?;
    let managed: Vec<&str> = instances
        .iter()
        .map(|i| i.id.as_str())
        .filter(|id| agents.contains_key(*id))
        .collect();
    let patch_states = ssm::patch_states(&app.ssm, &managed, calls).await?;
    if deadline.expired() {
        stop(report, "the patch states");
        return Ok(None);
    }
    let latest_image =
        ssm::latest_image(&app.ssm, &app.settings.al2023_latest_parameter, calls).await;
    let mut images: BTreeSet<String> = instances
        .iter()
        .filter_map(|i| i.image_id.clone())
        .collect();
    if let Ok(image) = &latest_image {
        images.insert(image.clone());
    }
    let releases = instances::al2023_releases(&app.ec2, &images, calls).await?;
    let latest = match latest_image {
        Ok(image) => releases.get(&image).cloned().ok_or_else(|| {
            format!(
                "{image}, named by {}, is not an Amazon Linux 2023 AMI EC2 lists",
                app.settings.al2023_latest_parameter
            )
        }),
        Err(error) => Err(error.to_string()),
    };
    let unmanaged: Vec<&Instance> = instances
        .iter()
        .filter(|i| !agents.contains_key(&i.id))
        .collect();
    let reach = if unmanaged.is_empty() {
        BTreeMap::new()
    } else {
        instances::reach(&app.ec2, &app.region, &unmanaged, calls).await?
    };
    let previous = app.state.previous(calls).await?;
    if deadline.expired() {
        stop(report, "the state table");
        return Ok(None);
    }
    Ok(Some(Facts {
        instances,
        paused,
        agents,
        patch_states,
        releases,
        latest,
        reach,
        previous,
    }))
}

/// The report of a plan: counters, one result event item per finding
/// (open) and per finding that ended (closed), the owners' summaries, the
/// findings listed, and each digest planned.
pub fn describe(plan: &Plan, report: &mut Report) {
    report.add("instances_running", plan.running as u64);
    report.add("managed_online", plan.online as u64);
    report.add("agent_offline", plan.agent_offline as u64);
    report.add("unmanaged", plan.unmanaged as u64);
    report.add("in_auto_scaling_groups", plan.in_auto_scaling_groups as u64);
    for (kind, n) in &plan.by_kind {
        report.add(&format!("findings.{}", kind.as_str()), *n as u64);
    }
    match &plan.latest {
        Ok(release) => report.detail("al2023_latest", json!(release.version)),
        Err(why) => report.detail("al2023_latest_unknown", json!(why)),
    }
    let mut listed = Vec::new();
    let mut omitted = 0_usize;
    let mut owners = Vec::new();
    let (mut new, mut open, mut fixed) = (0_u64, 0_u64, 0_u64);
    for owner in plan.owners.values() {
        let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
        for instance in &owner.instances {
            if instance.running {
                *groups.entry(instance.patch_group.as_str()).or_default() += 1;
            }
            for f in &instance.findings {
                let key = format!("{}/{}", instance.id, f.kind.as_str());
                match f.change {
                    Change::New => new += 1,
                    Change::StillOpen => open += 1,
                }
                report.item(
                    Item::open("patch_finding", &key)
                        .with("instance", instance.id.as_str())
                        .with("name", json!(instance.name))
                        .with("owner", instance.owner.as_str())
                        .with("patch_group", instance.patch_group.as_str())
                        .with("finding", f.kind.as_str())
                        .with("detail", f.detail.as_str())
                        .with("since", rfc3339(f.since))
                        .with("change", json!(f.change))
                        .with("coverage", json!(instance.coverage))
                        .with("auto_scaling_group", json!(instance.auto_scaling_group)),
                );
                if listed.len() < FINDINGS_LISTED {
                    listed.push(json!({
                        "instance": instance.id, "name": instance.name, "owner": instance.owner,
                        "patch_group": instance.patch_group, "finding": f.kind, "change": f.change,
                        "since": rfc3339(f.since), "detail": f.detail,
                        "auto_scaling_group": instance.auto_scaling_group,
                    }));
                } else {
                    omitted += 1;
                }
            }
            for f in &instance.fixed {
                fixed += 1;
                report.item(
                    Item::closed(
                        "patch_finding",
                        format!("{}/{}", instance.id, f.kind.as_str()),
                    )
                    .with("instance", instance.id.as_str())
                    .with("owner", instance.owner.as_str())
                    .with("finding", f.kind.as_str())
                    .with("since", rfc3339(f.since))
                    .with("ended", f.how.as_str()),
                );
            }
        }
        owners.push(json!({
            "owner": owner.owner, "route": owner.route, "running": owner.running,
            "new": owner.new, "fixed": owner.fixed, "still_open": owner.still_open,
            "instances_with_findings_by_patch_group": groups,
        }));
        if owner.worth_sending() {
            report.plan(apply::action(owner));
        }
    }
    report.add("findings_new", new);
    report.add("findings_still_open", open);
    report.add("findings_fixed", fixed);
    report.detail(
        "coverage",
        json!({
            "running": plan.running, "managed_online": plan.online,
            "agent_offline": plan.agent_offline, "unmanaged": plan.unmanaged,
            "in_auto_scaling_groups": plan.in_auto_scaling_groups,
        }),
    );
    report.detail("owners", json!(owners));
    report.detail("findings", json!(listed));
    if omitted > 0 {
        report.detail("findings_omitted", json!(omitted));
    }
}
