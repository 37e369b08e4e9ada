//! Window counts that add up across log objects.
//!
//! WAF delivers an object about every five minutes, so one window's requests
//! are often split over two or three objects. A counter that reached its
//! threshold within this run's input needs nothing stored: the IP is flagged
//! now. Every other counter is added to its item in DynamoDB (`ADD`, which is
//! atomic across concurrent runs), and the returned total is what is
//! compared with the threshold.

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

/// The counters of this run with their window totals. The flag is true when
/// the deadline stopped the updates (the rest count only this run's part).
pub async fn observe(
    counts: &Counts,
    config: &Config,
    ledger: &Ledger,
    now: i64,
    deadline: &Deadline,
) -> Result<(Vec<Observation>, bool), BlockerError> {
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
        return Ok((out, false));
    }
    let mut tasks = JoinSet::new();
    let mut stopped = false;
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
            tasks.spawn(async move {
                let total = ledger.add_to_window(&pk, local, ttl).await?;
                Ok::<_, BlockerError>(Observation {
                    key,
                    local,
                    total,
                    last_seen_ms,
                })
            });
        }
        match tasks.join_next().await {
            Some(done) => out.push(done.map_err(|e| BlockerError::Ledger {
                table: String::new(),
                operation: "UpdateItem".to_owned(),
                message: e.to_string(),
            })??),
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
    Ok((out, stopped))
}
