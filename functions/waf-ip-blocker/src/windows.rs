//! Window counts that add up across log objects.
//!
//! WAF delivers an object about every five minutes, so one window's requests
//! are often split over two or three objects. A counter that reached its
//! threshold within this run's input needs nothing stored: the IP is flagged
//! now. Every other counter is added to its item in DynamoDB (`ADD`, which is
//! atomic across concurrent runs), and the returned total is what is
//! compared with the threshold.
//!
//! Each `ADD` names the delivery it comes from, and a delivery adds to a
//! window once ([`Ledger::add_to_window`]): a retry of a delivery that
//! failed halfway (within Lambda's 6 hours of retries) stores the rest and
//! counts nothing twice.

use shared::Deadline;
use tokio::task::JoinSet;

use crate::config::Config;
use crate::detect::{Counts, Key};
use crate::error::BlockerError;
use crate::ledger::Ledger;
use crate::plan::Observation;

/// Window updates in flight at once.
const CONCURRENCY: usize = 16;
/// Kept after a window ends, for objects delivered late.
const WINDOW_GRACE_SECONDS: i64 = 3600;

/// What storing one delivery's window counts did.
#[derive(Debug, Default)]
pub struct Stored {
    /// The deadline stopped the updates.
    pub stopped: bool,
    /// Windows whose update failed, and the first error.
    pub failed: usize,
    pub first_error: Option<BlockerError>,
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
) -> Result<(Vec<Observation>, Stored), BlockerError> {
    let detection = &config.detection;
    let mut out = Vec::with_capacity(counts.tallies.len());
    let mut pending: Vec<(String, Key, u32, i64, i64)> = Vec::new();
    for (key, tally) in &counts.tallies {
        let local = tally.count;
        let obs = Observation {
            key: *key,
            local,
            total: u64::from(local),
            last_seen_ms: tally.last_seen_ms,
        };
        if local >= detection.threshold_for(key.rule) || config.allowed(key.ip) {
            out.push(obs);
        } else {
            let pk = format!(
                "win#{}#{}#{}",
                key.window,
                detection.rule_name(key.rule),
                key.ip
            );
            let ttl = key.window + detection.window_seconds + WINDOW_GRACE_SECONDS;
            pending.push((pk, *key, local, tally.last_seen_ms, ttl));
        }
    }
    if config.dry_run {
        // A dry run reads what is stored and changes nothing.
        let pks: Vec<String> = pending.iter().map(|p| p.0.clone()).collect();
        let stored = ledger.read_windows(&pks, now).await?;
        for (pk, key, local, last_seen_ms, _) in pending {
            let total = stored.get(&pk).copied().unwrap_or(0) + u64::from(local);
            out.push(Observation {
                key,
                local,
                total,
                last_seen_ms,
            });
        }
        return Ok((out, Stored::default()));
    }
    let mut tasks = JoinSet::new();
    let mut stopped = false;
    let mut stored = Stored::default();
    let mut rest = pending.into_iter();
    loop {
        while tasks.len() < CONCURRENCY && !stopped {
            let Some((pk, key, local, last_seen_ms, ttl)) = rest.next() else {
                break;
            };
            if deadline.expired() {
                stopped = true;
                out.push(Observation {
                    key,
                    local,
                    total: u64::from(local),
                    last_seen_ms,
                });
                break;
            }
            let ledger = ledger.clone();
            let by = by.to_owned();
            tasks.spawn(async move {
                let result = ledger.add_to_window(&pk, local, ttl, &by, now).await;
                let total = result.as_ref().copied().unwrap_or(u64::from(local));
                (
                    Observation {
                        key,
                        local,
                        total,
                        last_seen_ms,
                    },
                    result.err(),
                )
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
                stored.first_error.get_or_insert(BlockerError::Ledger {
                    table: String::new(),
                    operation: "UpdateItem".to_owned(),
                    message: e.to_string(),
                });
            }
            None => break,
        }
    }
    if stopped {
        out.extend(rest.map(|(_, key, local, last_seen_ms, _)| Observation {
            key,
            local,
            total: u64::from(local),
            last_seen_ms,
        }));
    }
    stored.stopped = stopped;
    Ok((out, stored))
}

/// Observations of several deliveries of one event, one per counter. When
/// two deliveries hit the same counter, the larger stored total already
/// holds the other's stored part; a part not stored (it reached the
/// threshold alone) may be missing from it, so the total is at least the
/// sum of the local counts. It errs low only where the threshold is reached
/// anyway.
pub fn merge(into: &mut Vec<Observation>, more: Vec<Observation>) {
    if into.is_empty() {
        *into = more;
        return;
    }
    let mut index: std::collections::HashMap<Key, usize> =
        into.iter().enumerate().map(|(i, o)| (o.key, i)).collect();
    for obs in more {
        match index.get(&obs.key) {
            Some(&i) => {
                let old = &mut into[i];
                let local = old.local.saturating_add(obs.local);
                old.total = old.total.max(obs.total).max(u64::from(local));
                old.local = local;
                old.last_seen_ms = old.last_seen_ms.max(obs.last_seen_ms);
            }
            None => {
                index.insert(obs.key, into.len());
                into.push(obs);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_totals_never_fall_below_the_local_counts() {
        let key = Key {
            ip: "192.0.2.1".parse().unwrap(),
            window: 0,
            rule: None,
        };
        let obs = |local, total| Observation {
            key,
            local,
            total,
            last_seen_ms: 0,
        };
        let mut all = vec![obs(30, 70)];
        merge(&mut all, vec![obs(120, 120)]);
        assert_eq!(all, [obs(150, 150)]);
        merge(&mut all, vec![obs(5, 200)]);
        assert_eq!(all, [obs(155, 200)]);
    }
}
