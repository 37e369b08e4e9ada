//! A backfill: a Step Functions Distributed Map runs the function over the
//! log objects of a prefix, in batches, then once more to finish
//! (`statemachines/waf-backfill.asl.json`). Pure: what a dry run's
//! scratch items say, and what the last step reports of them.
//!
//! A batch counts its objects as deliveries are counted (each window count
//! tagged with its object, so a retried batch adds nothing twice, and
//! windows that span objects or batches add up). A live backfill decides
//! into the ledger and leaves the IP sets to the last step, which writes
//! them once: WAF allows one `UpdateIPSet` a second, and a map of many
//! batches would otherwise queue for it. A dry run must add windows up
//! across batches too, yet touch neither the live windows nor the ledger:
//! it counts into items of its own (`whatif#<run>#...`, with a TTL), and
//! records there each address and window that would have been blocked.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::notify::rfc3339;
use crate::plan::Block;

/// How long a backfill's items (its window counts, a dry run's scratch
/// items) outlive the step that wrote them: longer than an execution of a
/// month's objects takes, and short enough that nobody has to clean up.
pub const ITEM_SECONDS: i64 = 24 * 3600;

/// The key prefix of a dry-run backfill's scratch items.
pub fn scratch_prefix(run: &str) -> String {
    format!("whatif#{run}#")
}

/// One address and window a dry-run backfill would have blocked, as a batch
/// records it in its scratch item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WouldBlock {
    pub address: String,
    /// The start of the window in which it reached the threshold.
    pub window: i64,
    pub rule: String,
    pub threshold: u32,
    /// Requests in that window, as the batch that recorded it saw them;
    /// the largest of the batches' is kept (they only grow).
    pub requests: u64,
    /// When its block would have ended (from the offence, not from now).
    pub until: i64,
}

impl WouldBlock {
    pub fn of(block: &Block) -> Self {
        Self {
            address: block.entry.net.addr().to_string(),
            window: block.window,
            rule: block.rule.clone(),
            threshold: block.threshold,
            requests: block.window_count,
            until: block.entry.expires_at,
        }
    }

    /// Its scratch item: one per address, window and rule, so every batch
    /// that sees the same crossing writes the same item.
    pub fn pk(&self, run: &str) -> String {
        format!(
            "{}blk#{}#{}#{}",
            scratch_prefix(run),
            self.address,
            self.window,
            self.rule
        )
    }
}

/// Who would have been blocked and when: one entry per address, its
/// windows in order, the first crossing first.
pub fn summary(records: &[WouldBlock], now: i64) -> Vec<Value> {
    let mut by_address: BTreeMap<&str, Vec<&WouldBlock>> = BTreeMap::new();
    for record in records {
        by_address.entry(&record.address).or_default().push(record);
    }
    let mut out: Vec<(i64, &str, Value)> = by_address
        .into_iter()
        .map(|(address, mut windows)| {
            windows.sort_by(|a, b| (a.window, &a.rule).cmp(&(b.window, &b.rule)));
            let first = windows[0];
            let until = windows.iter().map(|w| w.until).max().unwrap_or(0);
            let entry = json!({
                "address": address,
                "first_blocked_in_window": rfc3339(first.window),
                "blocked_until": rfc3339(until),
                "block_over": until <= now,
                "windows": windows.iter().map(|w| json!({
                    "window": rfc3339(w.window),
                    "rule": w.rule,
                    "requests": w.requests,
                    "threshold": w.threshold,
                })).collect::<Vec<_>>(),
            });
            (first.window, address, entry)
        })
        .collect();
    out.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    out.into_iter().map(|(_, _, entry)| entry).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(address: &str, window: i64, requests: u64, until: i64) -> WouldBlock {
        WouldBlock {
            address: address.into(),
            window,
            rule: "*".into(),
            threshold: 100,
            requests,
            until,
        }
    }

    #[test]
    fn the_summary_names_each_address_once_by_its_first_window() {
        let now = 1_800_000_000;
        let records = [
            record("192.0.2.9", now - 600, 150, now + 60),
            record("192.0.2.1", now - 300, 120, now - 1),
            record("192.0.2.9", now - 1200, 100, now - 100),
        ];
        let summary = summary(&records, now);
        assert_eq!(summary.len(), 2);
        assert_eq!(summary[0]["address"], "192.0.2.9");
        assert_eq!(summary[0]["first_blocked_in_window"], rfc3339(now - 1200));
        assert_eq!(summary[0]["windows"].as_array().unwrap().len(), 2);
        assert_eq!(summary[0]["block_over"], false);
        assert_eq!(summary[1]["address"], "192.0.2.1");
        assert_eq!(summary[1]["block_over"], true);
        assert_eq!(summary[1]["windows"][0]["requests"], 120);
    }

    #[test]
    fn one_crossing_is_one_item_whichever_batch_sees_it() {
        let a = record("192.0.2.1", 600, 100, 0);
        let b = record("192.0.2.1", 600, 140, 60);
        assert_eq!(a.pk("run-1"), b.pk("run-1"));
        assert_eq!(a.pk("run-1"), "whatif#run-1#blk#192.0.2.1#600#*");
        assert_ne!(a.pk("run-1"), a.pk("run-2"));
    }
}
