//! Enable, disable and status across a window's listeners.
//!
//! Everything is read and planned for every listener before the first
//! change; a refusal on any listener changes nothing anywhere. If a change
//! then fails on one listener, the listeners this invocation changed are
//! rolled back, and whatever could not be rolled back is named.

use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::types::Action;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};
use shared::Deadline;
use shared::report::Report;
use time::OffsetDateTime;

use crate::App;
use crate::apply;
use crate::error::Error;
use crate::listener;
use crate::plan::{self, DisablePlan, EnablePlan};
use crate::rules::{ListenerState, ListenerStatus};
use crate::window::{Page, WindowSpec};

/// Every listener's state, in the order given; fails before any change if
/// a listener (or the maintenance target group) does not exist.
pub async fn read(
    app: &App,
    listener_arns: &[String],
    page: Option<&Page>,
) -> Result<Vec<ListenerState>, Error> {
    let defaults = listener::describe_listeners(&app.elb, listener_arns).await?;
    if let Some(Page::Forward { target_group_arn }) = page {
        listener::check_target_group(&app.elb, target_group_arn).await?;
    }
    let mut states = Vec::with_capacity(listener_arns.len());
    for arn in listener_arns {
        let default_actions: Vec<Action> = defaults.get(arn).cloned().unwrap_or_default();
        states.push(listener::load(&app.elb, arn, default_actions).await?);
    }
    Ok(states)
}

pub async fn status(app: &App, listener_arns: &[String], report: &mut Report) -> Result<(), Error> {
    let states = read(app, listener_arns, None).await?;
    record_status(&states, report);
    Ok(())
}

fn record_status(states: &[ListenerState], report: &mut Report) {
    let statuses: Vec<ListenerStatus> = states.iter().map(ListenerState::status).collect();
    report.add(
        "listeners_in_maintenance",
        statuses.iter().filter(|s| s.maintenance).count() as u64,
    );
    crate::item::listeners(report, &statuses);
    report.detail("listeners", json!(statuses));
}

async fn record_fresh_status(app: &App, states: &[ListenerState], report: &mut Report) {
    let mut fresh = Vec::new();
    for state in states {
        match listener::load(&app.elb, &state.arn, state.default_actions.clone()).await {
            Ok(s) => fresh.push(s),
            Err(e) => report.fail(&state.arn, "status", e),
        }
    }
    record_status(&fresh, report);
}

/// Every listener that exists, in the order given, and the ARNs of those
/// that do not. Leaving maintenance uses this: a listener deleted during
/// the window must not keep the others in maintenance.
async fn read_present(
    app: &App,
    listener_arns: &[String],
) -> Result<(Vec<ListenerState>, Vec<String>), Error> {
    let (defaults, mut missing) = listener::find_listeners(&app.elb, listener_arns).await?;
    let mut states = Vec::with_capacity(defaults.len());
    for arn in listener_arns {
        let Some(default_actions) = defaults.get(arn) else {
            continue;
        };
        match listener::load(&app.elb, arn, default_actions.clone()).await {
            Ok(state) => states.push(state),
            Err(Error::ListenersNotFound(_)) => missing.push(arn.clone()),
            Err(e) => return Err(e),
        }
    }
    Ok((states, missing))
}

/// `Some(status)` when the window's execution is no longer running: the
/// window was cancelled (or is over) and must not be switched on.
async fn not_running(app: &App, execution_arn: &str) -> Result<Option<String>, Error> {
    Ok(
        match crate::windows::execution_status(app, execution_arn).await? {
            Some(ExecutionStatus::Running) => None,
            Some(other) => Some(other.as_str().to_owned()),
            None => Some("not found".to_owned()),
        },
    )
}

/// Switches the window on. Sent by the window state machine, it names its
/// execution: a cancel stops the execution but not this task, so the
/// execution is checked before the first write (a cancelled window changes
/// nothing) and after the last (a window cancelled meanwhile is rolled
/// back here, since the cancel's own disable may have run before these
/// writes and no execution is left to end the window).
pub async fn enable(
    app: &App,
    window: &WindowSpec,
    execution_arn: Option<&str>,
    since: &str,
    dry_run: bool,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    report.detail("window", window.summary());
    if let Some(execution) = execution_arn {
        report.detail("execution_arn", json!(execution));
        if let Some(status) = not_running(app, execution).await? {
            return Err(Error::Cancelled {
                window_id: window.window_id.clone(),
                execution_arn: execution.to_owned(),
                status,
                summary: "nothing was changed, maintenance was not switched on".into(),
            });
        }
    }
    let states = read(app, &window.listener_arns, Some(&window.page)).await?;
    let mut plans = Vec::new();
    let mut refusals = Vec::new();
    for state in &states {
        match plan::plan_enable(window, state, since) {
            Ok(p) => plans.push(p),
            Err(why) => refusals.push(why),
        }
    }
    if !refusals.is_empty() {
        return Err(Error::Refused(refusals));
    }
    for (state, p) in states.iter().zip(&plans) {
        match p {
            EnablePlan::AlreadyOn { since } => report.skip(
                &state.arn,
                format!(
                    "window {} is already on here (since {})",
                    window.window_id,
                    since.as_deref().unwrap_or("an unknown time")
                ),
            ),
            EnablePlan::Change(change) => {
                for arn in &change.remove_partial {
                    report.plan(apply::remove_partial_step(state, arn));
                }
                for s in &change.shifts {
                    report.plan(apply::shift_step(state, s.rule_arn, s.from, s.to));
                }
                for rule in &change.create {
                    report.plan(apply::create_step(state, rule));
                }
            }
        }
    }
    if dry_run {
        record_status(&states, report);
        return Ok(());
    }

    let mut changed: Vec<&ListenerState> = Vec::new();
    for (state, p) in states.iter().zip(&plans) {
        let EnablePlan::Change(change) = p else {
            continue;
        };
        let result = match reach(deadline, state, report) {
            Err(why) => Err(why),
            Ok(()) => {
                changed.push(state);
                apply::enable(&app.elb, state, &window.window_id, change, report)
                    .await
                    .map_err(|e| {
                        let text = e.to_string();
                        report.fail(&state.arn, "enable", &text);
                        text
                    })
            }
        };
        if let Err(why) = result {
            let summary = roll_back(app, &window.window_id, &changed, deadline, report)
                .await
                .summary();
            record_fresh_status(app, &states, report).await;
            return Err(Error::EnableFailed {
                window_id: window.window_id.clone(),
                summary: format!("{why}; {summary}"),
            });
        }
    }
    if let Some(execution) = execution_arn {
        let stopped = match not_running(app, execution).await {
            Ok(None) => None,
            Ok(Some(status)) => {
                let why = format!("the window's execution is {status}");
                Some((Stopped::Status(status), why))
            }
            // Unsure whether the window still stands: fail closed.
            Err(e) => {
                let why =
                    format!("could not tell whether the window was cancelled meanwhile ({e})");
                Some((Stopped::Unknown(e), why))
            }
        };
        if let Some((stopped, why)) = stopped {
            report.fail(execution, "enable", &why);
            // Every listener of the window, not only those changed now: an
            // earlier attempt of this task may have switched the others.
            let all: Vec<&ListenerState> = states.iter().collect();
            let rollback = roll_back(app, &window.window_id, &all, deadline, report).await;
            let mut summary = rollback.summary();
            if !rollback.left.is_empty() {
                // A cancelled execution runs no CleanUp or Disable, and the
                // cancel's own disable may already be over: something else
                // must end what is left.
                summary.push_str("; ");
                summary.push_str(&start_clean_up(app, window, execution, report).await);
            }
            record_fresh_status(app, &states, report).await;
            return Err(match stopped {
                Stopped::Status(status) => Error::Cancelled {
                    window_id: window.window_id.clone(),
                    execution_arn: execution.to_owned(),
                    status,
                    summary,
                },
                // The check before the writes fails as Throttled too, and
                // the state machine retries Enable on it: one throttle must
                // not lose the window. The retry checks again before writing.
                Stopped::Unknown(Error::Throttled {
                    operation,
                    resource,
                    message,
                    source,
                }) => Error::Throttled {
                    operation,
                    resource,
                    message: format!(
                        "{message}; so enable could not tell whether window {} was cancelled meanwhile, and undid it until it can: {summary}",
                        window.window_id
                    ),
                    source,
                },
                Stopped::Unknown(_) => Error::EnableFailed {
                    window_id: window.window_id.clone(),
                    summary: format!("{why}; {summary}"),
                },
            });
        }
    }
    record_fresh_status(app, &states, report).await;
    Ok(())
}

/// Why enable undoes a window after its writes.
enum Stopped {
    /// The execution's status, not RUNNING.
    Status(String),
    /// The execution could not be read.
    Unknown(Error),
}

/// Starts an execution of the window state machine that only disables the
/// window (`cleanup_of` names the window's execution; the state machine
/// goes straight to its Disable, with its retries and notifications).
/// Returns what an operator needs to read.
async fn start_clean_up(
    app: &App,
    window: &WindowSpec,
    execution_arn: &str,
    report: &mut Report,
) -> String {
    let now = OffsetDateTime::now_utc();
    let machine = crate::windows::state_machine_of(execution_arn)
        .or_else(|| app.config.state_machine_arn.clone());
    let by_hand = format!(
        "run {} by hand",
        json!({"action": "disable", "window_id": window.window_id, "listener_arns": window.listener_arns})
    );
    let Some(machine) = machine else {
        return format!(
            "no state machine is known to clean up, so nothing may end maintenance: {by_hand}"
        );
    };
    match crate::windows::start_clean_up(app, &machine, window, execution_arn, now, report).await {
        Ok(arn) => format!(
            "started clean-up execution {arn} of the window state machine, which disables the window (with retries) and notifies"
        ),
        Err(e) => {
            report.fail(&machine, "start_clean_up", &e);
            format!(
                "the clean-up execution could not be started ({e}), so nothing may end maintenance: {by_hand}"
            )
        }
    }
}

/// Whether there is time to start on `listener`. The deadline is checked
/// between listeners, never between the changes on one, so that no
/// listener is left half-switched; past it, the run is marked stopped early
/// and the error names the first listener not reached.
fn reach(deadline: &Deadline, listener: &ListenerState, report: &mut Report) -> Result<(), String> {
    if deadline.expired() {
        report.stop_early("the invocation's deadline came before every listener was switched");
        Err(format!(
            "the deadline came before listener {}",
            listener.arn
        ))
    } else {
        Ok(())
    }
}

/// How often one listener's rollback is tried when a call fails (a
/// throttle past the SDK's own retries, a 5xx): leaving maintenance must
/// make progress, and such errors are usually gone a moment later.
const ROLLBACK_ATTEMPTS: u32 = 5;
/// The wait before the second attempt; it doubles after each.
const ROLLBACK_FIRST_WAIT: Duration = Duration::from_millis(250);

/// What a rollback did: the listeners back as before, and a description of
/// each one that is not.
struct Rollback {
    clean: Vec<String>,
    left: Vec<String>,
}

impl Rollback {
    /// Exactly what state the listeners are in.
    fn summary(&self) -> String {
        let rolled = match (self.clean.is_empty(), self.left.is_empty()) {
            (true, true) => return "no listener needed rolling back".to_owned(),
            (true, false) => None,
            (false, _) => Some(format!("rolled back {} (as before)", self.clean.join(", "))),
        };
        if self.left.is_empty() {
            return rolled.unwrap_or_default();
        }
        let not = format!("NOT rolled back: {}", self.left.join(" | "));
        match rolled {
            Some(rolled) => format!("{rolled}; {not}"),
            None => not,
        }
    }
}

/// One listener's rollback: its fresh state, and the restores that are
/// blocked (another rule took an old priority).
async fn roll_back_one(
    app: &App,
    window_id: &str,
    state: &ListenerState,
    report: &mut Report,
) -> Result<(ListenerState, Vec<String>), Error> {
    let fresh = listener::load(&app.elb, &state.arn, state.default_actions.clone()).await?;
    let plan = plan::plan_disable(Some(window_id), &fresh);
    apply::disable(&app.elb, &fresh, &plan, report).await?;
    let after = listener::load(&app.elb, &state.arn, state.default_actions.clone()).await?;
    Ok((after, plan.blocked))
}

/// Disables the window on every listener this invocation changed. A failed
/// call is retried with a growing wait while the deadline allows (the
/// first attempt is always made: undoing is never skipped for time). The
/// retries stop at the deadline, which keeps its margin for what follows:
/// starting a clean-up and returning the report.
async fn roll_back(
    app: &App,
    window_id: &str,
    changed: &[&ListenerState],
    deadline: &Deadline,
    report: &mut Report,
) -> Rollback {
    let mut clean = Vec::new();
    let mut left = Vec::new();
    for state in changed {
        let mut wait = ROLLBACK_FIRST_WAIT;
        let mut attempt = 1;
        let outcome = loop {
            let outcome = roll_back_one(app, window_id, state, report).await;
            match outcome {
                Err(e) if attempt < ROLLBACK_ATTEMPTS && deadline.allows(wait) => {
                    tracing::warn!(listener = %state.arn, attempt, error = %e, "rollback failed; trying again");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    attempt += 1;
                }
                outcome => break outcome,
            }
        };
        match outcome {
            Ok((after, blocked)) if blocked.is_empty() && after.status().leftover_rules == 0 => {
                clean.push(state.arn.clone())
            }
            Ok((after, blocked)) => {
                left.push(leftovers(&after, window_id, &blocked));
            }
            Err(e) => {
                report.fail(&state.arn, "roll_back", &e);
                let why = format!("{e} (tried {attempt} times)");
                // Read once more to say exactly what is left.
                let what = match listener::load(&app.elb, &state.arn, state.default_actions.clone())
                    .await
                {
                    Ok(after) => leftovers(&after, window_id, &[why]),
                    Err(_) => format!(
                        "{}: unknown, the listener could not be read ({why})",
                        state.arn
                    ),
                };
                left.push(what);
            }
        }
    }
    report.detail(
        "rollback",
        json!({"rolled_back": clean, "left": left.clone()}),
    );
    Rollback { clean, left }
}

/// Names the rules of `window_id` still on a listener, and the rules still moved.
fn leftovers(state: &ListenerState, window_id: &str, why: &[String]) -> String {
    let own: Vec<String> = state
        .rules
        .iter()
        .filter(|r| r.window() == Some(window_id))
        .map(|r| format!("{} (priority {})", r.arn, r.priority))
        .collect();
    let moved: Vec<String> = state
        .rules
        .iter()
        .filter_map(|r| {
            r.shifted()
                .filter(|(_, by)| *by == window_id)
                .map(|(orig, _)| format!("{} (at {}, was {orig})", r.arn, r.priority))
        })
        .collect();
    let on = if state.status().maintenance {
        "; maintenance is still ON here"
    } else {
        "; maintenance is off here"
    };
    format!(
        "{}: rules still there: [{}]; rules still moved: [{}]{on}{}",
        state.arn,
        own.join(", "),
        moved.join(", "),
        if why.is_empty() {
            String::new()
        } else {
            format!("; because: {}", why.join("; "))
        }
    )
}

/// Unlike enable, a disable that stops part-way is not undone: every
/// listener it restored is the goal reached, and the error makes the state
/// machine's retry (or the operator) run it again for the ones not reached.
pub async fn disable(
    app: &App,
    window_id: Option<&str>,
    listener_arns: &[String],
    dry_run: bool,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    let (states, missing) = read_present(app, listener_arns).await?;
    for arn in &missing {
        report.fail(
            arn,
            "disable",
            "listener not found: nothing to restore there (deleting a listener deletes its rules, the window's with them)",
        );
    }
    let plans: Vec<DisablePlan> = states
        .iter()
        .map(|s| plan::plan_disable(window_id, s))
        .collect();
    for (state, p) in states.iter().zip(&plans) {
        if !p.other_windows.is_empty() {
            let others: Vec<&str> = p.other_windows.iter().map(String::as_str).collect();
            report.skip(
                &state.arn,
                format!("maintenance of window(s) {} left alone", others.join(", ")),
            );
        }
        if p.is_empty() && p.blocked.is_empty() && p.other_windows.is_empty() {
            report.skip(&state.arn, "maintenance is not on; nothing to do");
        }
        for (rule, role) in &p.delete {
            report.plan(apply::delete_step(
                state,
                &rule.arn,
                role.as_str(),
                rule.priority,
            ));
        }
        for r in &p.restore {
            report.plan(apply::restore_step(state, r.rule_arn, r.from, r.to));
        }
        for why in &p.blocked {
            report.fail(&state.arn, "restore_priority", why);
        }
    }
    if dry_run {
        record_status(&states, report);
        return Ok(());
    }
    let mut problems: Vec<String> = plans.iter().flat_map(|p| p.blocked.clone()).collect();
    let mut restored: Vec<&str> = Vec::new();
    let mut not_reached: Vec<&str> = Vec::new();
    for (state, p) in states.iter().zip(&plans) {
        if p.is_empty() {
            continue;
        }
        if !not_reached.is_empty() {
            not_reached.push(&state.arn);
            continue;
        }
        if let Err(why) = reach(deadline, state, report) {
            problems.push(why);
            not_reached.push(&state.arn);
            continue;
        }
        match apply::disable(&app.elb, state, p, report).await {
            // A blocked restore is already reported as failed.
            Ok(()) if p.blocked.is_empty() => restored.push(&state.arn),
            Ok(()) => {}
            Err(e) => {
                report.fail(&state.arn, "disable", &e);
                problems.push(format!("{}: {e}", state.arn));
            }
        }
    }
    for arn in &not_reached {
        report.skip(
            *arn,
            "not reached: the invocation's deadline came first; the next disable restores it",
        );
    }
    report.detail(
        "disable",
        json!({"restored": restored, "not_reached": not_reached, "missing": missing}),
    );
    record_fresh_status(app, &states, report).await;
    if problems.is_empty() {
        Ok(())
    } else {
        let left = report
            .details
            .get("listeners")
            .cloned()
            .unwrap_or(Value::Null);
        Err(Error::DisableFailed {
            summary: format!("{}; listeners now: {left}", problems.join("; ")),
        })
    }
}
