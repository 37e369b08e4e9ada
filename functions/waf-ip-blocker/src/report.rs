//! What the report says of the counts and of the plan. Pure: it writes to
//! the report and decides nothing.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use shared::envelope::Item;
use shared::report::{Action, Report};

use crate::config::Config;
use crate::detect::{self, BadLine, Counts};
use crate::entry::Entry;
use crate::ipset::ConfiguredSet;
use crate::notify::rfc3339;
use crate::plan::Plan;
use crate::trigger::Delivery;
use crate::windows::Stored;

/// What one delivery's counting saw; malformed lines keep a few examples.
pub fn counts(report: &mut Report, counts: &Counts, malformed: &mut Vec<BadLine>) {
    report.add("lines", counts.lines);
    report.add("requests_counted", counts.counted);
    report.add("requests_not_counted", counts.not_counted);
    report.add("lines_malformed", counts.malformed);
    report.add("client_ip_header_fallbacks", counts.client_ip_fallbacks);
    report.add("counters", counts.tallies.len() as u64);
    let room = detect::MALFORMED_EXAMPLES.saturating_sub(malformed.len());
    malformed.extend(counts.malformed_examples.iter().take(room).cloned());
}

/// Every decision of the plan, as the report's `planned` and `skipped`.
pub fn plan(report: &mut Report, plan: &Plan, config: &Config, configured: &[ConfiguredSet]) {
    for block in &plan.blocks {
        let action = if block.new {
            "block_ip"
        } else {
            "extend_block"
        };
        report.plan(
            Action::new(
                action,
                block.entry.net.addr().to_string(),
                &block.entry.reason,
            )
            .with_detail(json!({
                "hits": block.entry.hits,
                "window_count": block.window_count,
                "threshold": block.threshold,
                "rule": block.rule,
                "expires_at": rfc3339(block.entry.expires_at),
                "source": block.entry.source,
            })),
        );
    }
    report.add(
        "new_blocks",
        plan.blocks.iter().filter(|b| b.new).count() as u64,
    );
    report.add(
        "extended_blocks",
        plan.blocks.iter().filter(|b| !b.new).count() as u64,
    );
    report.add("capped_new_blocks", plan.capped as u64);
    if plan.capped > 0 {
        report.stop_early(format!(
            "MAX_NEW_BLOCKS_PER_RUN ({}) reached: {} more address(es) qualified and are listed in skipped",
            config.max_new_blocks, plan.capped
        ));
    }
    for entry in &plan.expired {
        report.plan(
            Action::new("unblock_ip", entry.net.addr().to_string(), "block expired").with_detail(
                json!({
                    "expired_at": rfc3339(entry.expires_at),
                    "hits": entry.hits,
                }),
            ),
        );
    }
    for entry in &plan.released {
        report.plan(Action::new(
            "unblock_ip",
            entry.net.addr().to_string(),
            "now in ALLOW_CIDRS",
        ));
    }
    for skip in &plan.skipped {
        report.skip(&skip.target, &skip.reason);
    }
    let mut sets = serde_json::Map::new();
    for set in &plan.sets {
        let arn = configured
            .iter()
            .find(|c| c.family == set.family)
            .map(|c| c.set.arn.clone())
            .unwrap_or_default();
        if !set.delta.is_empty() {
            report.plan(
                Action::new(
                    "update_ip_set",
                    &arn,
                    format!(
                        "bring the {} set in line with the ledger",
                        set.family.name()
                    ),
                )
                .with_detail(json!({
                    "add": set.delta.add.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
                    "remove": set.delta.remove.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
                })),
            );
        }
        report.add("not_fit", set.not_fit.len() as u64);
        for (rank, entry) in set.not_fit.iter().enumerate() {
            report.skip(
                entry.net.to_string(),
                format!(
                    "did not fit in the {} set's {} addresses (rank {} of {}; {} hits)",
                    set.family.name(),
                    config.capacity,
                    set.ours + rank + 1,
                    set.ours + set.not_fit.len(),
                    entry.hits
                ),
            );
        }
        sets.insert(
            set.family.name().to_owned(),
            json!({
                "arn": arn,
                "ours": set.ours,
                "other_writers": set.foreign,
                "not_fit": set.not_fit.len(),
            }),
        );
    }
    report.detail("ip_sets", Value::Object(sets));
}

/// A backfill's blocks that would already have ended (old logs): who would
/// have been blocked, and until when; never written to the ledger or a set.
pub fn would_block(report: &mut Report, plan: &Plan, now: i64) {
    for block in &plan.past {
        report.skip(
            block.entry.net.addr().to_string(),
            format!(
                "{}: its block would have ended {} s ago ({}); reported, not written",
                block.entry.reason,
                now - block.entry.expires_at,
                rfc3339(block.entry.expires_at)
            ),
        );
    }
    report.add("blocks_already_over", plan.past.len() as u64);
}

/// Counts whose window item is full: the delivery is stored as far as
/// DynamoDB allows, and the report says what that costs.
pub fn stored(report: &mut Report, done: &Stored) {
    if done.item_full > 0 {
        report.add("window_counts_item_full", done.item_full as u64);
        if let Some(e) = &done.full_error {
            report.detail("window_items_full", json!(e.to_string()));
        }
    }
}

/// A delivery whose counts or blocks are not all stored: not marked
/// counted, and named in `failed` so the invocation fails and Lambda's
/// retry finishes it.
pub fn unfinished(report: &mut Report, delivery: &Delivery, done: Stored) {
    match done.first_error {
        Some(e) if done.failed > 0 => report.fail(
            &delivery.label,
            "count",
            format!(
                "{} window count(s) could not be stored (first: {e}); the others were, and the retry finishes it and counts nothing twice",
                done.failed
            ),
        ),
        _ => report.fail(
            &delivery.label,
            "count",
            "the Lambda deadline came before its counts and blocks were stored; the retry finishes it and counts nothing twice",
        ),
    }
}

/// The result event's items: every block the ledger holds once the plan is
/// carried out (this run's first, then the rest, latest expiry first), and
/// the blocks and aggregates this run ended, so a collector keeps the
/// blocked addresses from events alone. Keyed by the network
/// (`192.0.2.7/32`), which a block keeps across runs and extensions.
///
/// `ended`: the ledger keys this run deleted ([`crate::apply::Applied`]).
/// Only these are closed: an expired block another run re-opened, or one a
/// failed set write left in place, is still a block.
pub fn items(report: &mut Report, plan: &Plan, ledger: &[Entry], now: i64, ended: &[String]) {
    let ended: BTreeMap<String, &Entry> = ledger
        .iter()
        .filter(|e| ended.contains(&e.pk()))
        .map(|e| (e.pk(), e))
        .collect();
    let mut current: BTreeMap<String, &Entry> = ledger
        .iter()
        .filter(|e| e.expires_at > now && !ended.contains_key(&e.pk()))
        .map(|e| (e.pk(), e))
        .collect();
    for block in plan.blocks.iter().chain(&plan.catch_up) {
        current.remove(&block.entry.pk());
        report.item(blocked(&block.entry));
    }
    for entry in ended.values() {
        report.item(
            Item::closed(BLOCKED, entry.net.to_string())
                .with("ended_at", rfc3339(entry.expires_at.min(now))),
        );
    }
    let mut rest: Vec<&Entry> = current.into_values().collect();
    rest.sort_by_key(|e| std::cmp::Reverse(e.expires_at));
    for entry in rest {
        report.item(blocked(entry));
    }
}

const BLOCKED: &str = "blocked_address";

fn blocked(entry: &Entry) -> Item {
    Item::open(BLOCKED, entry.net.to_string())
        .with("expires_at", rfc3339(entry.expires_at))
        .with("first_blocked_at", rfc3339(entry.first_blocked))
        .with("hits", entry.hits)
        .with("reason", entry.reason.as_str())
        .with("aggregate", entry.aggregate.then_some(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Block;
    use shared::envelope::ItemState;

    const NOW: i64 = 1_700_000_000;

    fn entry(net: &str, expires_at: i64) -> Entry {
        Entry {
            net: net.parse().unwrap(),
            aggregate: false,
            first_blocked: NOW - 600,
            last_blocked: NOW - 600,
            expires_at,
            hits: 50,
            last_seen_ms: (NOW - 600) * 1000,
            offences: 1,
            reason: "flood".into(),
            source: "s3://b/k".into(),
            preexisting: false,
            legacy_ttl: false,
            by: "run".into(),
            opened_by: "run".into(),
        }
    }

    #[test]
    fn items_are_the_blocks_the_ledger_keeps_and_those_the_run_ended() {
        let kept = entry("192.0.2.1/32", NOW + 60);
        let later = entry("192.0.2.2/32", NOW + 600);
        let extended = entry("192.0.2.3/32", NOW + 60);
        let expired = entry("192.0.2.4/32", NOW - 1);
        let expired_pk = expired.pk();
        let ledger = [kept, later, extended.clone(), expired.clone()];
        let plan = Plan {
            blocks: vec![Block {
                entry: Entry {
                    expires_at: NOW + 3600,
                    ..extended
                },
                new: false,
                window_count: 50,
                threshold: 40,
                rule: "default".into(),
                window: 0,
            }],
            expired: vec![expired],
            ..Plan::default()
        };
        let mut report = Report::new("waf-ip-blocker", false);
        items(&mut report, &plan, &ledger, NOW, &[expired_pk]);
        let seen: Vec<(&str, ItemState, &Value)> = report
            .items
            .iter()
            .map(|i| {
                let when = i.fields.get("expires_at").or(i.fields.get("ended_at"));
                (i.key.as_str(), i.state, when.unwrap())
            })
            .collect();
        assert_eq!(
            seen,
            [
                // This run's block first, with its new expiry.
                ("192.0.2.3/32", ItemState::Open, &json!(rfc3339(NOW + 3600))),
                ("192.0.2.4/32", ItemState::Closed, &json!(rfc3339(NOW - 1))),
                // Then the rest, latest expiry first.
                ("192.0.2.2/32", ItemState::Open, &json!(rfc3339(NOW + 600))),
                ("192.0.2.1/32", ItemState::Open, &json!(rfc3339(NOW + 60))),
            ]
        );
    }

    /// Another run extended an expired block before this one could delete
    /// it (or a failed set write kept it): the address is still blocked, so
    /// this run must not say it ended (a collector would drop it).
    #[test]
    fn an_expired_block_this_run_did_not_delete_is_not_closed() {
        let expired = entry("192.0.2.4/32", NOW - 1);
        let plan = Plan {
            expired: vec![expired.clone()],
            ..Plan::default()
        };
        let mut report = Report::new("waf-ip-blocker", false);
        items(&mut report, &plan, &[expired], NOW, &[]);
        assert!(report.items.is_empty(), "{:?}", report.items);
    }

    /// An aggregate the run dropped (its members expired) is closed like a
    /// block, or a collector would keep the /24 blocked for ever.
    #[test]
    fn a_dropped_aggregate_is_closed() {
        let aggregate = Entry {
            aggregate: true,
            ..entry("203.0.113.0/24", NOW + 60)
        };
        let plan = Plan {
            dropped_aggregates: vec![aggregate.pk()],
            ..Plan::default()
        };
        let mut report = Report::new("waf-ip-blocker", false);
        items(
            &mut report,
            &plan,
            std::slice::from_ref(&aggregate),
            NOW,
            &[aggregate.pk()],
        );
        let seen: Vec<(&str, ItemState)> = report
            .items
            .iter()
            .map(|i| (i.key.as_str(), i.state))
            .collect();
        assert_eq!(seen, [("203.0.113.0/24", ItemState::Closed)]);
    }
}
