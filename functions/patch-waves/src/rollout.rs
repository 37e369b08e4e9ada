//! The wave rollout (part 2): the state machine invokes this again and
//! again; each invocation moves the current wave on as far as it can
//! without waiting, writes where it got to, and answers whether the
//! rollout is working (and how long to wait before the next call), done,
//! stopped or frozen. No Lambda waits for minutes: the state machine does.
//!
//! Each step that acts writes its intent first, under the wave record's
//! version, so two invocations never both act on one step, and one that
//! dies half-way leaves a record the next one finishes from: deregistered
//! targets are listed before they are deregistered (and so always put
//! back), and commands are found again by their comment before any is
//! sent.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use shared::Deadline;
use shared::elbv2::{self, Target, TargetHealth};
use shared::envelope::Item;
use shared::report::Report;
use time::{Duration, OffsetDateTime};

use crate::command::{self, Run};
use crate::error::Error;
use crate::wave::{self, Fleet, Outcome, Phase, Step, Wave};
use crate::{App, Calls, instances, ssm};

/// How long the state machine waits between polls of draining and health.
const POLL_SECONDS: i64 = 30;
/// Between polls of a patch command, which runs for many minutes: each poll
/// costs the execution history events, which are limited.
const COMMAND_POLL_SECONDS: i64 = 60;
/// How long past `COMMAND_TIMEOUT_MINUTES` a run that started is still
/// waited for: `AWS-RunPatchBaseline` stops itself after two hours.
const RUNNING_GRACE_SECONDS: i64 = 3 * 3600;
/// The longest single wait asked of the state machine, so a bake or a
/// drain is re-checked now and then.
const LONGEST_WAIT: i64 = 300;

/// Which rollout an invocation works on, and for which execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub rollout: String,
    pub execution: String,
    /// The execution failed: put back what its wave drained, and stop it.
    pub put_back: bool,
}

/// What the state machine does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Working { wait_seconds: i64 },
    Done,
    Stopped { wave: String, reason: String },
    Frozen { window: String },
}

impl Status {
    fn name(&self) -> &'static str {
        match self {
            Self::Working { .. } => "working",
            Self::Done => "done",
            Self::Stopped { .. } => "stopped",
            Self::Frozen { .. } => "frozen",
        }
    }
}

/// What one phase handler did.
enum Next {
    /// Go straight on to the wave's new phase.
    Continue,
    /// Come back in this many seconds.
    Wait(i64),
}

/// Moves the rollout on, and says so in `report`: `details.rollout` (the
/// status, which is all the function answers the state machine) and
/// `details.waves`.
pub async fn advance(
    app: &App,
    request: &Request,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
    calls: &mut Calls,
) -> Result<Status, Error> {
    let status = if request.put_back {
        put_back(app, request, report, calls).await?
    } else if app.settings.dry_run {
        match in_progress(app, request, calls).await? {
            // DRY_RUN turned on under a running rollout: nothing is done,
            // and the rollout must not end as if it had finished.
            Some(wave) => Status::Stopped {
                reason: format!(
                    "DRY_RUN is on while wave {} is at its {} step ({} target(s) drained): nothing was done; turn DRY_RUN off and start the rollout again to finish it",
                    wave.name,
                    wave.phase.name(),
                    wave.drained.len()
                ),
                wave: wave.name,
            },
            None => plan_all(app, request, now, report, calls).await?,
        }
    } else {
        run(app, request, now, deadline, report, calls).await?
    };
    // `wait_seconds` is always there: the state machine's ResultSelector
    // reads it whatever the status.
    let mut said = json!({"id": request.rollout, "status": status.name(), "wait_seconds": 0});
    match &status {
        Status::Working { wait_seconds } => said["wait_seconds"] = json!(wait_seconds),
        Status::Stopped { wave, reason } => {
            said["stopped_in"] = json!(wave);
            said["reason"] = json!(reason);
        }
        Status::Frozen { window } => said["freeze_window"] = json!(window),
        Status::Done => {}
    }
    report.detail("rollout", said);
    Ok(status)
}

/// The first wave of the rollout that started and has not ended.
async fn in_progress(
    app: &App,
    request: &Request,
    calls: &mut Calls,
) -> Result<Option<Wave>, Error> {
    for name in &app.settings.rollout.waves {
        if let Some(w) = app.state.wave(&request.rollout, name, calls).await?
            && !matches!(w.phase, Phase::Done | Phase::Stopped { .. })
        {
            return Ok(Some(w));
        }
    }
    Ok(None)
}

/// Whether `wave` may be acted on by `request`'s execution: its own, or one
/// whose execution has ended (failed, or stopped by hand). A wave another
/// running execution owns is left alone.
async fn owned(app: &App, wave: &Wave, request: &Request) -> Result<bool, Error> {
    if wave.execution == request.execution {
        return Ok(true);
    }
    let running = shared::step_functions::is_running(&app.sfn, &wave.execution)
        .await
        .map_err(|e| Error::Aws {
            operation: "DescribeExecution",
            target: wave.execution.clone(),
            source: shared::aws::cause(e),
        })?;
    Ok(!running)
}

/// The execution failed (its retries spent, a timeout): every target its
/// wave drained goes back, and the wave stops, saying why. Leaving a
/// rollout must always make progress.
async fn put_back(
    app: &App,
    request: &Request,
    report: &mut Report,
    calls: &mut Calls,
) -> Result<Status, Error> {
    let Some(mut wave) = in_progress(app, request, calls).await? else {
        return Ok(Status::Stopped {
            wave: String::new(),
            reason: "the execution failed with no wave in progress: nothing was drained".to_owned(),
        });
    };
    if !owned(app, &wave, request).await? {
        return Err(Error::Busy {
            rollout: wave.rollout,
            wave: wave.name,
            owner: wave.execution,
        });
    }
    restore(app, &mut wave, calls).await?;
    let reason = format!(
        "the execution failed at the {} step of wave {}; its {} drained target(s) were put back, and the wave stopped",
        wave.phase.name(),
        wave.name,
        wave.drained.len()
    );
    wave.execution.clone_from(&request.execution);
    wave.phase = Phase::Stopped {
        reason: reason.clone(),
    };
    app.state.save_wave(&mut wave, calls).await?;
    let described = describe(&wave, report, true);
    report.detail("waves", json!([described]));
    Ok(Status::Stopped {
        wave: wave.name,
        reason,
    })
}

/// A dry run: every wave planned from the fleet as it is now, nothing
/// written, nothing touched.
async fn plan_all(
    app: &App,
    request: &Request,
    now: OffsetDateTime,
    report: &mut Report,
    calls: &mut Calls,
) -> Result<Status, Error> {
    let settings = &app.settings.rollout;
    let (instances, _) = instances::present(&app.ec2, calls).await?;
    let agents = ssm::agents(&app.ssm, calls).await?;
    let fleet = Fleet {
        instances: &instances,
        agents: &agents,
    };
    if let Some(window) = settings.freeze.frozen_at(now) {
        report.detail("frozen", json!(window));
    }
    let mut waves = Vec::new();
    for (index, name) in settings.waves.iter().enumerate() {
        let planned = wave::plan(
            &request.rollout,
            name,
            &request.execution,
            index == 0,
            &fleet,
            settings,
            None,
            now.date(),
            now.unix_timestamp(),
        );
        waves.push(describe(&planned, report, false));
    }
    report.detail("waves", json!(waves));
    Ok(Status::Done)
}

async fn run(
    app: &App,
    request: &Request,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
    calls: &mut Calls,
) -> Result<Status, Error> {
    let settings = &app.settings.rollout;
    let mut described = Vec::new();
    let mut fleet: Option<(
        Vec<crate::plan::Instance>,
        BTreeMap<String, crate::plan::Agent>,
    )> = None;
    for (index, name) in settings.waves.iter().enumerate() {
        let first = index == 0;
        let stored = app.state.wave(&request.rollout, name, calls).await?;
        let mut current = match stored {
            Some(w) if w.phase == Phase::Done => {
                described.push(describe(&w, report, true));
                continue;
            }
            Some(w)
                if matches!(w.phase, Phase::Stopped { .. }) && w.execution == request.execution =>
            {
                described.push(describe(&w, report, true));
                report.detail("waves", json!(described));
                let Phase::Stopped { reason } = w.phase else {
                    unreachable!("matched above")
                };
                return Ok(Status::Stopped {
                    wave: w.name,
                    reason,
                });
            }
            Some(mut w) if !matches!(w.phase, Phase::Stopped { .. }) => {
                // An earlier execution of this rollout left it half-way (it
                // failed, or was stopped by hand): this one finishes it, and
                // owns it from here, so that a stop is final for it too. One
                // that still runs keeps it: two would both act.
                if !owned(app, &w, request).await? {
                    return Err(Error::Busy {
                        rollout: w.rollout,
                        wave: w.name,
                        owner: w.execution,
                    });
                }
                w.execution.clone_from(&request.execution);
                w
            }
            earlier => {
                // A new wave, or a stopped one that another execution of
                // the same rollout re-runs: planned afresh, keeping what
                // was patched.
                if let Some(window) = settings.freeze.frozen_at(now) {
                    report.detail("waves", json!(described));
                    return Ok(Status::Frozen {
                        window: window.to_owned(),
                    });
                }
                if fleet.is_none() {
                    let (instances, _) = instances::present(&app.ec2, calls).await?;
                    let agents = ssm::agents(&app.ssm, calls).await?;
                    fleet = Some((instances, agents));
                }
                let (instances, agents) = fleet.as_ref().expect("read above");
                let mut planned = wave::plan(
                    &request.rollout,
                    name,
                    &request.execution,
                    first,
                    &Fleet { instances, agents },
                    settings,
                    earlier.as_ref(),
                    now.date(),
                    now.unix_timestamp(),
                );
                app.state.save_wave(&mut planned, calls).await?;
                planned
            }
        };
        loop {
            if matches!(current.phase, Phase::Done) {
                break;
            }
            if let Phase::Stopped { reason } = &current.phase {
                let reason = reason.clone();
                described.push(describe(&current, report, true));
                report.detail("waves", json!(described));
                return Ok(Status::Stopped {
                    wave: current.name.clone(),
                    reason,
                });
            }
            if deadline.expired() {
                report.stop_early(format!(
                    "deadline: wave {} stopped at its {} step; the next invocation goes on from there",
                    current.name,
                    current.phase.name()
                ));
                described.push(describe(&current, report, true));
                report.detail("waves", json!(described));
                return Ok(Status::Working { wait_seconds: 0 });
            }
            match step(app, &mut current, first, now, calls).await? {
                Next::Continue => {}
                Next::Wait(seconds) => {
                    described.push(describe(&current, report, true));
                    report.detail("waves", json!(described));
                    return Ok(Status::Working {
                        wait_seconds: seconds.clamp(0, LONGEST_WAIT),
                    });
                }
            }
        }
        described.push(describe(&current, report, true));
    }
    report.detail("waves", json!(described));
    Ok(Status::Done)
}

/// One step of `wave`: acts, writes the wave's next phase, and says whether
/// to go straight on or wait.
async fn step(
    app: &App,
    wave: &mut Wave,
    first: bool,
    now: OffsetDateTime,
    calls: &mut Calls,
) -> Result<Next, Error> {
    let settings = &app.settings.rollout;
    let at = now.unix_timestamp();
    match wave.phase.clone() {
        Phase::Snapshot => {
            if settings.snapshot {
                snapshot(app, wave, now, calls).await;
            }
            wave.phase = Phase::Drain;
        }
        Phase::Drain => return drain(app, wave, at, calls).await,
        Phase::Draining { until } => {
            let healths = healths(app, &wave.drained, calls).await?;
            let still: Vec<&Target> = wave
                .drained
                .iter()
                .filter(|t| !member_failed(wave, &t.id))
                .filter(|t| healths.get(*t).is_some_and(TargetHealth::in_service))
                .collect();
            if !still.is_empty() {
                // An invocation listed them and died before (or while)
                // deregistering: finish that, not a second drain.
                let still: Vec<Target> = still.into_iter().cloned().collect();
                deregister(app, wave, &still, calls).await;
                app.state.save_wave(wave, calls).await?;
                return Ok(Next::Wait(POLL_SECONDS));
            }
            let draining = wave
                .drained
                .iter()
                .any(|t| healths.get(t).is_some_and(|h| h.state == "draining"));
            if draining && at < until {
                return Ok(Next::Wait((until - at).min(POLL_SECONDS)));
            }
            wave.phase = Phase::Patch;
        }
        Phase::Patch => {
            if let Some(window) = settings.freeze.frozen_at(now) {
                for id in wave.pending() {
                    if let Some(m) = wave.members.get_mut(&id) {
                        m.fail(
                            Step::Patch,
                            format!("freeze window {window} began before the command was sent"),
                        );
                    }
                }
                wave.phase = Phase::Restore;
            } else if wave.pending().is_empty() {
                wave.phase = Phase::Restore;
            } else {
                wave.phase = Phase::Sending { at };
            }
        }
        Phase::Sending { at: began } => {
            let commands = send(app, wave, calls).await?;
            let timeout = i64::from(settings.command_timeout_minutes) * 60;
            wave.phase = Phase::Patching {
                commands,
                until: began + timeout,
            };
        }
        Phase::Patching { commands, until } => {
            let mut results = BTreeMap::new();
            for command in &commands {
                results.extend(command::results(&app.ssm, command, calls).await?);
            }
            let mut running = false;
            for id in wave.pending() {
                let member = wave.members.get_mut(&id).expect("pending lists members");
                match results.get(&id) {
                    Some(Run::Succeeded) => member.outcome = Outcome::Patched,
                    Some(Run::Failed { status, excerpt }) => {
                        member.fail(Step::Patch, format!("{status}: {excerpt}"));
                    }
                    // A run that started is waited for past the timeout (the
                    // delivery timeout stops new ones): putting an instance
                    // back while it patches would serve from it as it
                    // reboots.
                    Some(Run::Running) if at < until + RUNNING_GRACE_SECONDS => running = true,
                    None if at < until => running = true,
                    Some(Run::Running) => member.fail(
                        Step::Patch,
                        format!(
                            "still running {} hours after the {}-minute timeout; put back, though Systems Manager may still finish it",
                            RUNNING_GRACE_SECONDS / 3600,
                            settings.command_timeout_minutes
                        ),
                    ),
                    None => member.fail(
                        Step::Patch,
                        format!(
                            "Systems Manager listed no run of the command for it within {} minutes",
                            settings.command_timeout_minutes
                        ),
                    ),
                }
            }
            if running {
                app.state.save_wave(wave, calls).await?;
                return Ok(Next::Wait(COMMAND_POLL_SECONDS));
            }
            wave.phase = Phase::Restore;
        }
        Phase::Restore => {
            restore(app, wave, calls).await?;
            wave.phase = Phase::Health {
                until: at + i64::from(settings.healthy_timeout_minutes) * 60,
            };
        }
        Phase::Health { until } => {
            let healths = healths(app, &wave.drained, calls).await?;
            let unhealthy: Vec<(&Target, String)> = wave
                .drained
                .iter()
                .filter_map(|t| match healths.get(t) {
                    Some(h) if h.healthy() => None,
                    Some(h) => Some((
                        t,
                        format!(
                            "{} in {}{}",
                            h.state,
                            t.target_group,
                            h.reason
                                .as_deref()
                                .map(|r| format!(" ({r})"))
                                .unwrap_or_default()
                        ),
                    )),
                    None => Some((t, format!("not registered in {}", t.target_group))),
                })
                .collect();
            if !unhealthy.is_empty() && at < until {
                return Ok(Next::Wait(POLL_SECONDS.min(until - at)));
            }
            let unhealthy: Vec<(String, String)> = unhealthy
                .into_iter()
                .map(|(t, why)| (t.id.clone(), why))
                .collect();
            for (id, why) in unhealthy {
                if let Some(m) = wave.members.get_mut(&id) {
                    m.fail(
                        Step::Health,
                        format!(
                            "not healthy {} minutes after it was put back: {why}",
                            settings.healthy_timeout_minutes
                        ),
                    );
                }
            }
            wave.phase = match wave::verdict(wave, first, settings.failure_percent) {
                Ok(()) => Phase::Bake {
                    until: at + i64::from(settings.bake_minutes) * 60,
                },
                Err(reason) => Phase::Stopped { reason },
            };
        }
        Phase::Bake { until } => {
            if at < until {
                return Ok(Next::Wait(until - at));
            }
            // Healthy when put back is not enough: still healthy after the
            // bake, or the rollout stops here.
            let healths = healths(app, &wave.drained, calls).await?;
            let sick: Vec<(String, String)> = wave
                .drained
                .iter()
                .filter_map(|t| match healths.get(t) {
                    Some(h) if h.healthy() => None,
                    Some(h) => Some((t.id.clone(), format!("{} in {}", h.state, t.target_group))),
                    None => Some((
                        t.id.clone(),
                        format!("not registered in {}", t.target_group),
                    )),
                })
                .collect();
            for (id, why) in sick {
                if let Some(m) = wave.members.get_mut(&id) {
                    m.fail(
                        Step::Health,
                        format!(
                            "not healthy at the end of the {}-minute bake: {why}",
                            settings.bake_minutes
                        ),
                    );
                }
            }
            wave.phase = match wave::verdict(wave, first, settings.failure_percent) {
                Ok(()) => Phase::Done,
                Err(reason) => Phase::Stopped { reason },
            };
        }
        Phase::Done | Phase::Stopped { .. } => return Ok(Next::Continue),
    }
    app.state.save_wave(wave, calls).await?;
    Ok(Next::Continue)
}

fn member_failed(wave: &Wave, id: &str) -> bool {
    wave.members.get(id).is_some_and(wave::Member::failed)
}

/// Snapshots each pending member's volumes; one whose snapshot fails is
/// not patched.
async fn snapshot(app: &App, wave: &mut Wave, now: OffsetDateTime, calls: &mut Calls) {
    let expires = (now + Duration::days(i64::from(app.settings.rollout.snapshot_retention_days)))
        .date()
        .to_string();
    for id in wave.pending() {
        let result = instances::snapshot(&app.ec2, &id, &wave.rollout, &expires, calls).await;
        let member = wave.members.get_mut(&id).expect("pending lists members");
        match result {
            Ok(ids) => member.snapshots = ids,
            Err(e) => member.fail(Step::Snapshot, e.to_string()),
        }
    }
}

/// Takes the wave's pending members out of the configured target groups,
/// unless that would leave a group with no healthy target.
async fn drain(app: &App, wave: &mut Wave, at: i64, calls: &mut Calls) -> Result<Next, Error> {
    let groups = &app.settings.rollout.drain_target_groups;
    if groups.is_empty() {
        wave.phase = Phase::Patch;
        app.state.save_wave(wave, calls).await?;
        return Ok(Next::Continue);
    }
    let pending: BTreeSet<String> = wave.pending().into_iter().collect();
    let mut to_drain: Vec<Target> = Vec::new();
    let mut longest_delay = 0_u64;
    for group in groups {
        // An instance registered by its IP address is not found by its id:
        // such a group would be left serving from an instance being patched.
        calls.incr("DescribeTargetGroups");
        let kind = elbv2::target_type(&app.elb, group).await;
        if !matches!(kind.as_ref().map(|k| k.as_deref()), Ok(Some("instance"))) {
            let why = match kind {
                Ok(kind) => format!(
                    "target group {group} has targets of type {}; patch-waves drains instance targets only",
                    kind.as_deref().unwrap_or("unknown")
                ),
                Err(e) => format!(
                    "DescribeTargetGroups of {group} failed: {}",
                    shared::aws::cause(e)
                ),
            };
            wave.fail_all(&pending, Step::Drain, &why);
            continue;
        }
        calls.incr("DescribeTargetHealth");
        let targets = match elbv2::health(&app.elb, group).await {
            Ok(t) => t,
            Err(e) => {
                let why = format!(
                    "DescribeTargetHealth of {group} failed: {}",
                    shared::aws::cause(e)
                );
                wave.fail_all(&pending, Step::Drain, &why);
                continue;
            }
        };
        let ours: Vec<&TargetHealth> = targets
            .iter()
            .filter(|t| pending.contains(&t.target.id) && t.in_service())
            .collect();
        if ours.is_empty() {
            continue;
        }
        let healthy_left = targets
            .iter()
            .filter(|t| t.healthy() && !pending.contains(&t.target.id))
            .count();
        if healthy_left == 0 {
            for t in &ours {
                if let Some(m) = wave.members.get_mut(&t.target.id) {
                    m.fail(
                        Step::Drain,
                        format!(
                            "draining it would leave target group {group} with no healthy target"
                        ),
                    );
                }
            }
            continue;
        }
        calls.incr("DescribeTargetGroupAttributes");
        longest_delay = longest_delay.max(
            elbv2::deregistration_delay(&app.elb, group)
                .await
                .unwrap_or(elbv2::DEFAULT_DEREGISTRATION_DELAY_SECONDS),
        );
        to_drain.extend(ours.into_iter().map(|t| t.target.clone()));
    }
    // A member that failed in one group is drained from none: nothing
    // further happens to it.
    to_drain.retain(|t| !member_failed(wave, &t.id));
    for t in &to_drain {
        if !wave.drained.contains(t) {
            wave.drained.push(t.clone());
        }
    }
    let until = at + i64::try_from(longest_delay).unwrap_or(i64::MAX / 2);
    wave.phase = Phase::Draining { until };
    // Written before deregistering: whatever happens next, each target
    // listed here is put back.
    app.state.save_wave(wave, calls).await?;
    deregister(app, wave, &to_drain, calls).await;
    app.state.save_wave(wave, calls).await?;
    Ok(Next::Continue)
}

/// Deregisters `targets`, one call per target group; a member whose
/// deregistration fails has failed its drain (and is put back all the
/// same).
async fn deregister(app: &App, wave: &mut Wave, targets: &[Target], calls: &mut Calls) {
    let mut by_group: BTreeMap<&str, Vec<&Target>> = BTreeMap::new();
    for t in targets {
        by_group.entry(t.target_group.as_str()).or_default().push(t);
    }
    for (group, targets) in by_group {
        calls.incr("DeregisterTargets");
        if let Err(e) = elbv2::deregister(&app.elb, group, &targets).await {
            let why = format!(
                "DeregisterTargets in {group} failed: {}",
                shared::aws::cause(e)
            );
            for t in targets {
                if let Some(m) = wave.members.get_mut(&t.id) {
                    m.fail(Step::Drain, why.clone());
                }
            }
        }
    }
}

/// Puts every drained target back, failed members' too, one call per
/// target group, each group tried whatever another answered. A group that
/// refuses the call is tried target by target, so that one target cannot
/// hold the others out: a target ELBv2 refuses as invalid (its instance
/// stopped or terminated since) or whose group is gone cannot be put back;
/// its member fails saying so, and it leaves the list. Any other refusal
/// (throttling, access denied) fails the invocation with the wave still at
/// its step, so the next one tries again.
async fn restore(app: &App, wave: &mut Wave, calls: &mut Calls) -> Result<(), Error> {
    use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
    let groups: BTreeSet<String> = wave
        .drained
        .iter()
        .map(|t| t.target_group.clone())
        .collect();
    let mut gone: Vec<(Target, String)> = Vec::new();
    let mut first_error: Option<Error> = None;
    for group in groups {
        let targets: Vec<Target> = wave
            .drained
            .iter()
            .filter(|t| t.target_group == group)
            .cloned()
            .collect();
        let all: Vec<&Target> = targets.iter().collect();
        calls.incr("RegisterTargets");
        if elbv2::register(&app.elb, &group, &all).await.is_ok() {
            continue;
        }
        for t in &targets {
            calls.incr("RegisterTargets");
            match elbv2::register(&app.elb, &group, &[t]).await {
                Ok(()) => {}
                Err(e) if matches!(e.code(), Some("InvalidTarget" | "TargetGroupNotFound")) => {
                    gone.push((t.clone(), shared::aws::cause(e).to_string()));
                }
                Err(e) => {
                    first_error.get_or_insert(Error::Restore {
                        target_group: group.clone(),
                        targets: targets.len(),
                        source: shared::aws::cause(e),
                    });
                }
            }
        }
    }
    for (target, why) in &gone {
        if let Some(m) = wave.members.get_mut(&target.id) {
            m.fail(
                Step::PutBack,
                format!("could not be put back into {}: {why}", target.target_group),
            );
        }
        wave.drained.retain(|t| t != target);
    }
    match first_error {
        Some(error) => {
            if !gone.is_empty() {
                app.state.save_wave(wave, calls).await?;
            }
            Err(error)
        }
        None => Ok(()),
    }
}

/// The health of each of `targets`, one call per target group.
async fn healths(
    app: &App,
    targets: &[Target],
    calls: &mut Calls,
) -> Result<BTreeMap<Target, TargetHealth>, Error> {
    let groups: BTreeSet<&str> = targets.iter().map(|t| t.target_group.as_str()).collect();
    let mut out = BTreeMap::new();
    for group in groups {
        calls.incr("DescribeTargetHealth");
        let found = elbv2::health(&app.elb, group)
            .await
            .map_err(|e| Error::Aws {
                operation: "DescribeTargetHealth",
                target: group.to_owned(),
                source: shared::aws::cause(e),
            })?;
        out.extend(found.into_iter().map(|h| (h.target.clone(), h)));
    }
    Ok(out)
}

/// Sends the patch command to the pending members, 50 a command, each
/// part first looked for (an earlier invocation may have sent it). A part
/// that cannot be sent fails its members.
async fn send(app: &App, wave: &mut Wave, calls: &mut Calls) -> Result<Vec<String>, Error> {
    let pending = wave.pending();
    let mut commands = Vec::new();
    for (index, part) in pending.chunks(command::INSTANCES_PER_COMMAND).enumerate() {
        let comment = wave.command_comment(index);
        if let Some(id) = command::find(&app.ssm, &part[0], &comment, calls).await? {
            commands.push(id);
            continue;
        }
        match command::send(&app.ssm, part, &comment, &app.settings.rollout, calls).await {
            Ok(id) => commands.push(id),
            Err(e) => {
                for id in part {
                    if let Some(m) = wave.members.get_mut(id) {
                        m.fail(Step::Patch, e.to_string());
                    }
                }
            }
        }
    }
    Ok(commands)
}

/// A wave in the report: its phase, members and why others were left out;
/// one result-event item per member (`items`; a dry run changes nothing, so
/// has none).
fn describe(wave: &Wave, report: &mut Report, items: bool) -> serde_json::Value {
    for (id, member) in wave.members.iter().filter(|_| items) {
        let key = format!("{}/{id}", wave.rollout);
        let item = match &member.outcome {
            Outcome::Pending => Item::open("patch_rollout", &key).with("outcome", "pending"),
            Outcome::Patched => Item::closed("patch_rollout", &key).with("outcome", "patched"),
            Outcome::Failed { step, detail } => Item::open("patch_rollout", &key)
                .with("outcome", "failed")
                .with("step", json!(step))
                .with("detail", detail.as_str()),
        };
        report.item(
            item.with("instance", id.as_str())
                .with("wave", wave.name.as_str())
                .with("name", json!(member.name)),
        );
    }
    report.add("rollout_patched", wave.patched() as u64);
    report.add("rollout_failed", wave.failed() as u64);
    report.add("rollout_pending", wave.pending().len() as u64);
    report.add("rollout_left_out", wave.left_out.len() as u64);
    json!({
        "wave": wave.name,
        "phase": wave.phase.name(),
        "stopped_because": match &wave.phase { Phase::Stopped { reason } => Some(reason), _ => None },
        "members": wave.members,
        "left_out": wave.left_out,
        "notes": wave.notes,
        "drained": wave.drained.len(),
    })
}
