//! Window counts that add up across log objects: storing them in the ledger
//! table. Which counters need storing is decided in [`crate::tally`]; each
//! of those is added to its item in DynamoDB (`ADD`, which is atomic across
//! concurrent runs), and the returned total is what is compared with the
//! threshold.
//!
//! Each `ADD` names the delivery it comes from, and a delivery adds to a
//! window once ([`Ledger::add_to_window`]): a retry of a delivery that
//! failed halfway (within Lambda's 6 hours of retries) stores the rest and
//! counts nothing twice.

use shared::Deadline;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::detect::Counts;
use crate::error::Error;
use crate::ledger::Ledger;
use crate::plan::Observation;
use crate::tally;

/// Window updates in flight at once.
const CONCURRENCY: usize = 16;

/// What storing one delivery's window counts did.
#[derive(Debug, Default)]
pub struct Stored {
    /// The deadline stopped the updates.
    pub stopped: bool,
    /// Windows whose update failed, and the first error.
    pub failed: usize,
    pub first_error: Option<Error>,
}

impl Stored {
    /// Everything the delivery contributed is stored.
    pub fn complete(&self) -> bool {
        !self.stopped && self.failed == 0
    }
}

/// The counters of one delivery (`by`, its id) with their window totals.
/// A window not stored (the deadline stopped the updates, or its update
/// failed) counts only this delivery's part, and the delivery is not fully
/// stored: the other windows go on, so one failing window does not keep
/// the delivery's other attackers from being blocked.
pub async fn observe(
    counts: &Counts,
    config: &Config,
    ledger: &Ledger,
    now: i64,
    deadline: &Deadline,
    by: &str,
) -> Result<(Vec<Observation>, Stored), Error> {
    let (mut out, pending) = tally::split(counts, config);
    out.reserve(pending.len());
    if config.dry_run {
        // A dry run reads what is stored and changes nothing.
        let pks: Vec<String> = pending.iter().map(|add| add.pk.clone()).collect();
        let stored = ledger.read_windows(&pks, now).await?;
        for add in pending {
            let before = stored.get(&add.pk).copied().unwrap_or(0);
            out.push(add.with_total(before + u64::from(add.local)));
        }
        return Ok((out, Stored::default()));
    }
    let mut tasks = JoinSet::new();
    let mut stopped = false;
    let mut stored = Stored::default();
    let mut rest = pending.into_iter();
    loop {
        while tasks.len() < CONCURRENCY && !stopped {
            let Some(add) = rest.next() else {
                break;
            };
            if deadline.expired() {
                stopped = true;
                out.push(add.alone());
                break;
            }
            let ledger = ledger.clone();
            let by = by.to_owned();
            tasks.spawn(async move {
                let result = ledger
                    .add_to_window(&add.pk, add.local, add.expires_at, &by, now)
                    .await;
                let total = result.as_ref().copied().unwrap_or(u64::from(add.local));
                (add.with_total(total), result.err())
            });
        }
        match tasks.join_next().await {
            Some(Ok((obs, error))) => {
                out.push(obs);
                if let Some(e) = error {
                    stored.failed += 1;
                    stored.first_error.get_or_insert(e);
                }
            }
            Some(Err(e)) => {
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
        out.extend(rest.map(|add| add.alone()));
    }
    stored.stopped = stopped;
    Ok((out, stored))
}
