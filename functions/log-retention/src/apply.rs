//! Carries out what the plan decided for one group, step by step into the
//! report: each step is planned first, then applied, skipped or failed by
//! CloudWatch Logs' answer. A dry run stops at planned.

use shared::envelope::Item;

use crate::api::Api;
use crate::error::Error;
use crate::logs::{self, Deleted, RegionClients};
use crate::plan::{self, Change, ChangeKind, Group};
use crate::sweep::Run;

/// What became of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Done, or deliberately left (recorded either way).
    Done,
    /// Failed, and recorded as a failure: the group's other steps still apply.
    Failed,
    /// Stopped by the deadline or left unanswered: the group is done again
    /// on resume.
    Stopped,
}

/// Deletes a group the plan found stale and empty.
pub async fn delete_group(
    run: &Run,
    clients: &RegionClients,
    api: &Api,
    group: &Group,
    days: u32,
) -> Step {
    let name = group.name.as_str();
    let action = plan::delete_action(group, days);
    run.report(|r| r.plan(action.clone()));
    if run.dry_run {
        // No item: a dry run's result event lists none (nothing changed).
        return Step::Done;
    }
    match logs::delete_group(clients, api, name).await {
        Ok(Deleted::Now) => {
            run.report(|r| {
                r.applied(action);
                r.incr("groups_deleted");
                r.item(deleted(&clients.region, name, days));
            });
            Step::Done
        }
        Ok(Deleted::AlreadyGone) => {
            run.report(|r| {
                r.item(deleted(&clients.region, name, days));
                r.incr("groups_already_gone");
                r.skip(
                    name,
                    "already gone: DeleteLogGroup found no such group; it was deleted before this call",
                );
            });
            Step::Done
        }
        Err(e @ Error::Unanswered { .. }) => {
            run.report(|r| {
                r.incr("groups_maybe_deleted");
                r.skip(
                    name,
                    format!("may have been deleted: {e}; the next run will see"),
                );
            });
            Step::Stopped
        }
        Err(e) if e.is_deadline() => Step::Stopped,
        Err(e) => {
            run.report(|r| r.fail(name, "delete_log_group", &e));
            Step::Failed
        }
    }
}

/// Sets, lengthens or shortens a group's retention.
pub async fn set_retention(
    run: &Run,
    clients: &RegionClients,
    api: &Api,
    name: &str,
    change: &Change,
) -> Step {
    let action = change.action(name);
    run.report(|r| {
        r.plan(action.clone());
        if change.kind == ChangeKind::Shorten {
            r.incr("shortening_planned");
        }
    });
    if !run.dry_run {
        match logs::put_retention(clients, api, name, change.to).await {
            Ok(()) => run.report(|r| {
                r.applied(action);
                r.incr("groups_changed");
                if change.kind == ChangeKind::Shorten {
                    r.incr("groups_shortened");
                }
                r.item(retained(&clients.region, name, change));
            }),
            Err(e) if e.is_deadline() => return Step::Stopped,
            Err(e) => {
                run.report(|r| r.fail(name, change.kind.action(), &e));
                return Step::Failed;
            }
        }
    }
    run.tally(change.transition());
    Step::Done
}

/// The result event's item for a group: keyed by Region and name, since
/// one function may sweep several Regions.
const GROUP: &str = "log_group";

fn key(region: &str, name: &str) -> String {
    format!("{region}:{name}")
}

/// A group whose retention this run set.
fn retained(region: &str, name: &str, change: &Change) -> Item {
    Item::open(GROUP, key(region, name))
        .with("retention_days", change.to)
        .with("retention_before", change.from)
        .with("change", change.kind.action())
}

/// A group this run deleted (or found deleted): empty and unused for
/// `delete_after_days`.
fn deleted(region: &str, name: &str, delete_after_days: u32) -> Item {
    Item::closed(GROUP, key(region, name))
        .with("deleted", true)
        .with("delete_after_days", delete_after_days)
}
