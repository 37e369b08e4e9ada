//! Window counts that add up across log objects: storing them in the ledger
//! table. Which counters need storing is decided in [`crate::tally`]; they
//! are added to their window items in DynamoDB, many in one `UpdateItem`,
//! and the returned totals are what is compared with the threshold.
//!
//! Each count is stored tagged with its delivery ([`Ledger::add_to_window`]):
//! a retry of a delivery that failed halfway (within Lambda's 6 hours of
//! retries) stores the rest, and what the first attempt stored is there
//! once.

use std::collections::BTreeMap;

use shared::Deadline;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::detect::Counts;
use crate::error::Error;
use crate::ledger::Ledger;
use crate::plan::Observation;
use crate::tally::{self, WindowAdd};

/// Window updates in flight at once.
const CONCURRENCY: usize = 16;

/// Counts one `UpdateItem` adds: about 40 KB of set elements, a tenth of
/// what an item may hold.
pub const COUNTERS_PER_UPDATE: usize = 1000;

/// Where a delivery's window counts go.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Read the stored totals and add nothing (`DRY_RUN`).
    pub read_only: bool,
    /// Before every window item's key: a dry-run backfill counts into
    /// items of its own (`whatif#<run>#`), never into the live windows.
    pub prefix: String,
    /// Items live at least until then. A backfill reads windows that
    /// ended long ago: their items must outlast the execution, not the
    /// window.
    pub keep_until: i64,
}

/// What storing one delivery's window counts did.
#[derive(Debug, Default)]
pub struct Stored {
    /// The deadline stopped the updates.
    pub stopped: bool,
    /// Counters whose update failed, and the first error.
    pub failed: usize,
    pub first_error: Option<Error>,
    /// Counts whose window item is full (DynamoDB's 400 KB): they count
    /// this delivery's part only, and a retry could not change that.
    pub item_full: usize,
    pub full_error: Option<Error>,
}

impl Stored {
    /// Everything the delivery contributed is stored.
    pub fn complete(&self) -> bool {
        !self.stopped && self.failed == 0
    }
}

/// The counters of one delivery (`by`, its id) with their window totals.
/// A counter not stored (the deadline stopped the updates, or its update
/// failed) counts only this delivery's part, and the delivery is not fully
/// stored: the other parts go on, so one failing item does not keep the
/// delivery's other attackers from being blocked.
pub async fn observe(
    counts: &Counts,
    config: &Config,
    ledger: &Ledger,
    now: i64,
    deadline: &Deadline,
    by: &str,
    scope: &Scope,
) -> Result<(Vec<Observation>, Stored), Error> {
    let (mut out, mut pending) = tally::split(counts, config);
    for add in &mut pending {
        if !scope.prefix.is_empty() {
            add.pk.insert_str(0, &scope.prefix);
        }
        add.expires_at = add.expires_at.max(scope.keep_until);
    }
    out.reserve(pending.len());
    if scope.read_only {
        // A dry run reads what is stored and changes nothing.
        let mut pks: Vec<String> = pending.iter().map(|add| add.pk.clone()).collect();
        pks.sort_unstable();
        pks.dedup();
        let stored = ledger.read_windows(&pks, now, &tag(by)).await?;
        for add in pending {
            let before = stored
                .get(&add.pk)
                .and_then(|item| item.get(&add.counter))
                .copied()
                .unwrap_or(0);
            out.push(add.with_total(before + u64::from(add.local)));
        }
        return Ok((out, Stored::default()));
    }
    // One task per item, its parts one after the other: DynamoDB applies
    // writes to one item in turn anyway, and a part never races its own
    // delivery's other part to create the item.
    let mut tasks = JoinSet::new();
    let mut stopped = false;
    let mut stored = Stored::default();
    let tag = tag(by);
    let mut rest = parts(pending).into_iter();
    loop {
        while tasks.len() < CONCURRENCY && !stopped {
            let Some(item) = rest.next() else {
                break;
            };
            if deadline.expired() {
                stopped = true;
                out.extend(item.iter().flat_map(|p| &p.adds).map(WindowAdd::alone));
                break;
            }
            let ledger = ledger.clone();
            let deadline = *deadline;
            let tag = tag.clone();
            tasks.spawn(async move {
                let mut done = Vec::with_capacity(item.len());
                for part in item {
                    if deadline.expired() {
                        done.push((part, None));
                        continue;
                    }
                    let counts: Vec<(String, u32)> = part
                        .adds
                        .iter()
                        .map(|add| (add.counter.clone(), add.local))
                        .collect();
                    let result = ledger
                        .add_to_window(&part.pk, &counts, part.expires_at, &tag)
                        .await;
                    done.push((part, Some(result)));
                }
                done
            });
        }
        match tasks.join_next().await {
            Some(Ok(done)) => {
                for (part, result) in done {
                    match result {
                        Some(Ok(totals)) => out.extend(part.adds.iter().map(|add| {
                            let total = totals.get(&add.counter).copied();
                            add.with_total(total.unwrap_or(u64::from(add.local)))
                        })),
                        Some(Err(e)) => {
                            out.extend(part.adds.iter().map(WindowAdd::alone));
                            if matches!(e, Error::WindowItemFull { .. }) {
                                stored.item_full += part.adds.len();
                                stored.full_error.get_or_insert(e);
                            } else {
                                stored.failed += part.adds.len();
                                stored.first_error.get_or_insert(e);
                            }
                        }
                        None => {
                            stopped = true;
                            out.extend(part.adds.iter().map(WindowAdd::alone));
                        }
                    }
                }
            }
            Some(Err(e)) => {
                // A panicked task: its counters are lost to this run, and
                // the retry stores them.
                stored.failed += 1;
                stored.first_error.get_or_insert(Error::Ledger {
                    table: String::new(),
                    operation: "UpdateItem",
                    source: Box::new(e),
                });
            }
            None => break,
        }
    }
    if stopped {
        out.extend(
            rest.flatten()
                .flat_map(|part| part.adds)
                .map(|add| add.alone()),
        );
    }
    stored.stopped = stopped;
    Ok((out, stored))
}

/// A delivery's tag in the window items: 48 bits of a stable hash of its
/// id. Two deliveries would have to share a tag and give one address the
/// same count in one window for one count to be lost.
fn tag(by: &str) -> String {
    format!(
        "{:012x}",
        shared::dynamo::stable_hash(by.as_bytes()) & 0xffff_ffff_ffff
    )
}

/// One `UpdateItem`: a delivery's counters for one window item, or a part
/// of them.
struct Part {
    pk: String,
    expires_at: i64,
    adds: Vec<WindowAdd>,
}

/// Groups counters by item, in parts of at most [`COUNTERS_PER_UPDATE`]:
/// one list of parts per item.
fn parts(pending: Vec<WindowAdd>) -> Vec<Vec<Part>> {
    let mut items: BTreeMap<String, Vec<WindowAdd>> = BTreeMap::new();
    for add in pending {
        items.entry(add.pk.clone()).or_default().push(add);
    }
    let mut out = Vec::new();
    for (pk, adds) in items {
        let expires_at = adds.iter().map(|a| a.expires_at).max().unwrap_or(0);
        let mut adds = adds.into_iter().peekable();
        let mut item = Vec::new();
        while adds.peek().is_some() {
            let chunk: Vec<WindowAdd> = adds.by_ref().take(COUNTERS_PER_UPDATE).collect();
            item.push(Part {
                pk: pk.clone(),
                expires_at,
                adds: chunk,
            });
        }
        out.push(item);
    }
    out
}
