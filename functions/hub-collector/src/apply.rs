//! Carries a received report into the hub's state, in an order that a
//! crash or a retry at any point leaves right:
//!
//! 1. the history object (named by the event id: written again, never twice);
//! 2. the source's open items (each write conditioned on the report's order);
//! 3. the day's summary (once per event id, in one transaction);
//! 4. last, the current record, conditioned on the one read: once it is
//!    written, every step before it is done, and a redelivery finds it and
//!    stops.

use serde_json::{Value, json};
use shared::report::{Action, Report};
use time::OffsetDateTime;

use crate::App;
use crate::error::Error;
use crate::plan::{self, Received};
use crate::{bucket, history};

/// Two reports of one source racing for its current record: the loser reads
/// again and merges on top. More than a few rounds means something else is
/// wrong, and the invocation fails so that Lambda retries it.
const ROUNDS: usize = 4;

/// Item writes in flight at once: well inside the table's on-demand rate,
/// and quick for an event of a thousand items.
const CONCURRENT_WRITES: usize = 16;

/// What storing one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A new current state: the dashboard may be rendered again.
    Changed,
    /// A redelivery, or a report older than the stored one: history and day
    /// counted (once), nothing else.
    Unchanged,
    /// Not a report: kept under `rejected/`.
    Rejected,
}

pub async fn ingest(
    app: &App,
    event: &Value,
    now: OffsetDateTime,
    report: &mut Report,
) -> Result<Stored, Error> {
    let received = match plan::receive(event) {
        Ok(received) => plan::bound(received, now),
        Err(rejected) => {
            let raw = event.to_string();
            let key = history::rejected_key(&rejected, now, raw.as_bytes());
            app.history.put(&key, raw, &bucket::JSON).await?;
            report.skip(
                key,
                format!(
                    "not a toilkit report, kept for a person to read: {}",
                    rejected.why
                ),
            );
            report.incr("rejected");
            return Ok(Stored::Rejected);
        }
    };
    let target = crate::state::source_key(&received.source);
    for flag in &received.flags {
        report.skip(&target, format!("flagged: {flag}"));
        report.incr("flagged");
    }

    let key = history::report_key(&received);
    app.history
        .put(
            &key,
            history::report_line(&received, event, now),
            &bucket::JSON,
        )
        .await?;
    report.applied(Action::new(
        "store_history",
        &key,
        "every report is kept whole",
    ));

    let order = received.order();
    let mut counted = None;
    for _ in 0..ROUNDS {
        let stored = app.state.current(&received.source).await?;
        if stored.as_ref().is_some_and(|(o, _)| *o == order) {
            // The current record is written last: everything before it is done.
            report.skip(&target, "a redelivered report, stored already");
            report.incr("duplicates");
            return Ok(Stored::Unchanged);
        }
        // A report older than the stored one (it arrived late) still closes
        // and refreshes the items it was the last to speak of: each item's
        // write is conditioned on its own order.
        let items = app.state.items_of(&received.source).await?;
        // A late report may not close what the newer, stored one named open.
        let protected = match &stored {
            Some((stored_order, current)) if *stored_order > order => {
                current.named_unchanged.as_slice()
            }
            _ => &[],
        };
        let changes = plan::item_changes(&received, &items, protected, now);
        write_items(app, &received, &changes, &order, now).await?;
        report.add("items_written", changes.put.len() as u64);
        report.add("items_closed", changes.delete.len() as u64);
        report.add("items_unchanged", changes.unchanged);
        if changes.over_cap > 0 {
            report.add("items_over_cap", changes.over_cap);
            report.skip(
                &target,
                format!(
                    "{} open item(s) not stored: the source already has {} (MAX_ITEMS_PER_SOURCE)",
                    changes.over_cap,
                    plan::MAX_ITEMS_PER_SOURCE
                ),
            );
        }
        let delta = plan::day_delta(&received, changes.open_by_kind.clone());
        // Counted in the first round; a later round (after a race) finds the
        // marker its own first round wrote.
        let first_count = app.state.add_to_day(&delta, &received.event_id).await?;
        let counted = *counted.get_or_insert(first_count);
        app.state.set_day_open(&delta, &order).await?;
        let Some(next) =
            plan::next_current(&received, stored.as_ref(), changes.named_unchanged.clone())
        else {
            if counted {
                report.skip(
                    &target,
                    "a report older than the stored one: its items and its day are counted, the current state stays",
                );
                report.incr("late");
            } else {
                report.skip(&target, "a redelivered report, stored already");
                report.incr("duplicates");
            }
            return Ok(Stored::Unchanged);
        };
        let previous = stored.as_ref().map(|(order, _)| order.as_str());
        if app.state.put_current(&next, &order, previous).await? {
            report.applied(
                Action::new(
                    "store_current",
                    &target,
                    format!("report {} ({:?})", received.run_id, received.outcome),
                )
                .with_detail(json!({
                    "items_written": changes.put.len(),
                    "items_closed": changes.delete.len(),
                    "failures_in_a_row": next.failures_in_a_row,
                })),
            );
            report.incr("reports_stored");
            return Ok(Stored::Changed);
        }
        report.incr("current_races");
    }
    Err(Error::Conflict {
        key: target,
        rounds: ROUNDS,
    })
}

async fn write_items(
    app: &App,
    received: &Received,
    changes: &plan::ItemChanges,
    order: &str,
    now: OffsetDateTime,
) -> Result<(), Error> {
    let mut tasks = tokio::task::JoinSet::new();
    let puts = changes.put.iter().cloned().map(Some);
    let deletes = changes.delete.iter().map(|_| None);
    for (i, put) in puts.chain(deletes).enumerate() {
        if tasks.len() >= CONCURRENT_WRITES {
            joined(tasks.join_next().await)?;
        }
        let state = app.state.clone();
        let order = order.to_owned();
        match put {
            Some(item) => tasks.spawn(async move { state.put_item(&item, &order).await }),
            None => {
                let (kind, key) = changes.delete[i - changes.put.len()].clone();
                let source = received.source.clone();
                tasks
                    .spawn(async move { state.close_item(&source, &kind, &key, &order, now).await })
            }
        };
    }
    while let Some(result) = tasks.join_next().await {
        joined(Some(result))?;
    }
    Ok(())
}

fn joined(result: Option<Result<Result<(), Error>, tokio::task::JoinError>>) -> Result<(), Error> {
    match result {
        Some(Ok(written)) => written,
        // A write task only panics on a bug; the invocation fails and is retried.
        Some(Err(join)) => std::panic::resume_unwind(join.into_panic()),
        None => Ok(()),
    }
}
