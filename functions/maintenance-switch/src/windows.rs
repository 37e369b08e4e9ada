//! Maintenance windows as executions of the window state machine: one
//! execution per window, named by its `window_id`, so the same window
//! cannot be scheduled twice and operators never need the console.

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};
use shared::Deadline;
use shared::report::{Action as Step, Report};
use time::OffsetDateTime;

use crate::App;
use crate::error::Error;
use crate::executions;
use crate::item;
use crate::switch;
use crate::window::{Times, WindowSpec, format_time, parse_time};

/// How many executions `windows` describes at most; an account does not
/// run that many maintenance windows at once.
const MAX_LISTED_WINDOWS: usize = 100;

fn state_machine(app: &App) -> Result<&str, Error> {
    app.config
        .state_machine_arn
        .as_deref()
        .ok_or(Error::NoStateMachine)
}

/// `arn:...:stateMachine:NAME` → `arn:...:execution:NAME:WINDOW`.
pub fn execution_arn(state_machine_arn: &str, window_id: &str) -> String {
    format!(
        "{}:{window_id}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// `arn:...:execution:NAME:WINDOW` → `arn:...:stateMachine:NAME`: the
/// state machine an execution belongs to.
pub fn state_machine_of(execution_arn: &str) -> Option<String> {
    let parts: Vec<&str> = execution_arn.split(':').collect();
    (parts.len() == 8 && parts[0] == "arn" && parts[2] == "states" && parts[5] == "execution")
        .then(|| format!("{}:stateMachine:{}", parts[..5].join(":"), parts[6]))
}

/// Starts an execution of the window state machine that only disables the
/// window: its input has `cleanup_of` (the window's execution), which sends
/// it straight to Disable; `start_at` and `end_at` are now, so `windows`
/// lists it as `ending`. Returns its ARN.
pub async fn start_clean_up(
    app: &App,
    machine: &str,
    window: &WindowSpec,
    cleanup_of: &str,
    now: OffsetDateTime,
    report: &mut Report,
) -> Result<String, Error> {
    // Execution names are at most 80 characters, and never reused.
    let suffix = format!("-cleanup-{}", now.unix_timestamp());
    let keep = 80 - suffix.len();
    let name = format!(
        "{}{suffix}",
        &window.window_id[..window.window_id.len().min(keep)]
    );
    let input = json!({
        "window_id": window.window_id,
        "listener_arns": window.listener_arns,
        "cleanup_of": cleanup_of,
        "start_at": format_time(now),
        "end_at": format_time(now),
    });
    let step = Step::new(
        "start_clean_up",
        &window.window_id,
        "the window's execution will not end it: a clean-up execution of the window state machine disables it",
    )
    .with_detail(json!({"state_machine_arn": machine, "name": name, "cleanup_of": cleanup_of}));
    report.plan(step.clone());
    let arn = executions::start(&app.sfn, machine, &name, &input).await?;
    report.applied(step);
    Ok(arn)
}

/// A clean-up execution's disable: the window is left to its own execution
/// while that still runs (its Enable retries or its CleanUp end it, and
/// disabling now would end a window that stands); otherwise disabled.
pub async fn clean_up(
    app: &App,
    cleanup_of: &str,
    window_id: Option<&str>,
    listener_arns: &[String],
    dry_run: bool,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    report.detail("cleanup_of", json!(cleanup_of));
    // Unreadable: fail (Throttled or AwsError), which the state machine's
    // Disable retries and, in the end, notifies as disable_failed.
    if execution_status(app, cleanup_of).await? == Some(ExecutionStatus::Running) {
        report.skip(
            cleanup_of,
            "the window's own execution is still running and ends the window itself (its Enable retry, CleanUp or Disable); nothing to clean up",
        );
        return Ok(());
    }
    switch::disable(app, window_id, listener_arns, dry_run, deadline, report).await
}

/// The status of a window's execution; `None` when it does not exist.
pub async fn execution_status(app: &App, arn: &str) -> Result<Option<ExecutionStatus>, Error> {
    Ok(executions::describe(&app.sfn, arn).await?.map(|e| e.status))
}

pub async fn schedule(
    app: &App,
    window: &WindowSpec,
    times: Times,
    notify_topic_arn: Option<&str>,
    dry_run: bool,
    report: &mut Report,
) -> Result<(), Error> {
    let machine = state_machine(app)?;
    report.detail("window", window.summary());
    // The same checks enable makes, now rather than at start_at.
    switch::read(app, &window.listener_arns, Some(&window.page)).await?;
    let arn = execution_arn(machine, &window.window_id);
    if let Some(existing) = executions::describe(&app.sfn, &arn).await? {
        return Err(Error::AlreadyScheduled {
            window_id: window.window_id.clone(),
            execution_arn: arn,
            status: existing.status.as_str().to_owned(),
        });
    }
    let mut input = window.to_fields();
    input.insert("start_at".into(), json!(format_time(times.start_at)));
    input.insert("end_at".into(), json!(format_time(times.end_at)));
    if let Some(topic) = notify_topic_arn {
        input.insert("notify_topic_arn".into(), json!(topic));
    }
    let step = Step::new(
        "schedule_window",
        &window.window_id,
        "an execution of the maintenance window state machine, named by the window id",
    )
    .with_detail(json!({
        "execution_arn": arn,
        "start_at": input["start_at"], "end_at": input["end_at"],
        "listener_arns": window.listener_arns,
    }));
    report.plan(step.clone());
    let scheduled = WindowEntry {
        window_id: window.window_id.clone(),
        phase: phase(
            OffsetDateTime::now_utc(),
            Some(times.start_at),
            Some(times.end_at),
        ),
        start_at: Some(format_time(times.start_at)),
        end_at: Some(format_time(times.end_at)),
        listener_arns: window.listener_arns.clone(),
        execution_arn: arn.clone(),
    };
    if dry_run {
        report.item(item::window(&scheduled));
        return Ok(());
    }
    let input = Value::Object(input);
    match executions::start(&app.sfn, machine, &window.window_id, &input).await {
        Ok(_) => {
            report.applied(step);
            report.item(item::window(&scheduled));
            Ok(())
        }
        Err(Error::Aws { code, .. }) if code == executions::ALREADY_EXISTS => {
            Err(Error::AlreadyScheduled {
                window_id: window.window_id.clone(),
                execution_arn: arn,
                status: "RUNNING".into(),
            })
        }
        Err(e) => Err(e),
    }
}

pub async fn cancel(
    app: &App,
    window_id: &str,
    listener_arns: &[String],
    dry_run: bool,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    let machine = state_machine(app)?;
    let arn = execution_arn(machine, window_id);
    let mut listeners = listener_arns.to_vec();
    match executions::describe(&app.sfn, &arn).await? {
        None => {
            if listeners.is_empty() {
                return Err(Error::NotScheduled(window_id.to_owned()));
            }
            report.skip(&arn, "no such execution; disabling on the listeners given");
        }
        Some(execution) => {
            if listeners.is_empty() {
                listeners = execution
                    .input
                    .get("listener_arns")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
            }
            if execution.status == ExecutionStatus::Running {
                let step = Step::new(
                    "stop_execution",
                    &arn,
                    "the window is cancelled; its state machine must not switch anything later",
                );
                report.plan(step.clone());
                if !dry_run {
                    executions::stop(
                        &app.sfn,
                        &arn,
                        "Cancelled",
                        "cancelled through maintenance-switch",
                    )
                    .await?;
                    report.applied(step);
                }
                report.item(item::cancelled(window_id));
            } else {
                report.skip(
                    &arn,
                    format!("the execution is already {}", execution.status.as_str()),
                );
            }
        }
    }
    if listeners.is_empty() {
        return Ok(());
    }
    switch::disable(app, Some(window_id), &listeners, dry_run, deadline, report).await
}

/// One window as `windows` lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WindowEntry {
    pub window_id: String,
    /// `upcoming`, `on` (between start and end) or `ending` (past its end,
    /// the state machine is switching it off).
    pub phase: &'static str,
    pub start_at: Option<String>,
    pub end_at: Option<String>,
    pub listener_arns: Vec<String>,
    pub execution_arn: String,
}

pub fn phase(
    now: OffsetDateTime,
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
) -> &'static str {
    match (start, end) {
        (Some(s), _) if now < s => "upcoming",
        (_, Some(e)) if now >= e => "ending",
        _ => "on",
    }
}

pub async fn windows(app: &App, now: OffsetDateTime, report: &mut Report) -> Result<(), Error> {
    let machine = state_machine(app)?;
    let arns = executions::list_running(&app.sfn, machine, MAX_LISTED_WINDOWS).await?;
    let mut entries = Vec::new();
    for arn in arns.iter().take(MAX_LISTED_WINDOWS) {
        let Some(execution) = executions::describe(&app.sfn, arn).await? else {
            continue;
        };
        let text = |k: &str| {
            execution
                .input
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let (start_at, end_at) = (text("start_at"), text("end_at"));
        entries.push(WindowEntry {
            window_id: text("window_id")
                .unwrap_or_else(|| arn.rsplit(':').next().unwrap_or(arn).to_owned()),
            phase: phase(
                now,
                start_at.as_deref().and_then(parse_time),
                end_at.as_deref().and_then(parse_time),
            ),
            start_at,
            end_at,
            listener_arns: execution
                .input
                .get("listener_arns")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            execution_arn: arn.clone(),
        });
    }
    entries.sort_by(|a, b| {
        a.start_at
            .cmp(&b.start_at)
            .then(a.window_id.cmp(&b.window_id))
    });
    for e in &entries {
        report.incr(&format!("windows_{}", e.phase));
        report.item(item::window(e));
    }
    report.detail("now", json!(format_time(now)));
    report.detail("windows", json!(entries));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn execution_arns_follow_the_state_machine() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:eu-west-1:123456789012:stateMachine:maintenance-window",
                "release-1"
            ),
            "arn:aws:states:eu-west-1:123456789012:execution:maintenance-window:release-1"
        );
    }

    #[test]
    fn phases() {
        let s = Some(datetime!(2026-12-01 22:00 UTC));
        let e = Some(datetime!(2026-12-01 23:00 UTC));
        assert_eq!(phase(datetime!(2026-12-01 21:00 UTC), s, e), "upcoming");
        assert_eq!(phase(datetime!(2026-12-01 22:00 UTC), s, e), "on");
        assert_eq!(phase(datetime!(2026-12-01 23:00 UTC), s, e), "ending");
    }
}
