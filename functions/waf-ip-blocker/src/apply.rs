//! Carrying out a plan: the ledger first, then the IP sets, then cleanup.
//!
//! The order makes every stop safe: an address is in the ledger before it
//! is in a set (so it will expire), and an expired entry leaves the ledger
//! only after it left its set (so the next run still removes it).

use aws_sdk_wafv2::types::IpAddressVersion;
use serde_json::json;
use shared::Deadline;
use shared::report::{Action, Report};

use crate::error::BlockerError;
use crate::ipset::{self, CurrentSet, IpSetRef, WriteGate};
use crate::ledger::Ledger;
use crate::plan::{Family, Plan};

/// One configured set with its client and the content read for the plan.
pub struct SetState<'a> {
    pub family: Family,
    pub set: &'a IpSetRef,
    pub client: &'a aws_sdk_wafv2::Client,
    pub current: CurrentSet,
}

pub fn version(family: Family) -> IpAddressVersion {
    match family {
        Family::V4 => IpAddressVersion::Ipv4,
        Family::V6 => IpAddressVersion::Ipv6,
    }
}

/// What reached the IP sets, for the summary: it names only blocks that are
/// in place, and what kept the others out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Blocked (or extended) addresses that are in their set now.
    pub in_place: Vec<ipnet::IpNet>,
    /// Sets that could not be written, with the error or the reason.
    pub failed: Vec<(String, String)>,
}

/// Writes the ledger: new and extended blocks, aggregates. Returns false
/// when the deadline stopped it first; then nothing else may be written (a
/// set must never hold an address the ledger does not know: it would never
/// expire).
pub async fn record(
    plan: &Plan,
    ledger: &Ledger,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<bool, BlockerError> {
    let written = ledger.put(&plan.ledger_puts, deadline).await?;
    report.add("ledger_items_written", written as u64);
    if written < plan.ledger_puts.len() {
        report.stop_early("the Lambda deadline came before the ledger was written; the IP sets were left as they were");
        return Ok(false);
    }
    Ok(true)
}

/// Brings each set in line with the plan, then deletes the ledger items of
/// blocks that ended (only once their address left the set). Call after
/// [`record`].
#[allow(clippy::too_many_arguments)]
pub async fn sets(
    plan: &Plan,
    sets: Vec<SetState<'_>>,
    ledger: &Ledger,
    gate: &WriteGate,
    capacity: usize,
    now: i64,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<Applied, BlockerError> {
    let mut applied = Applied::default();
    for state in sets {
        let Some(set_plan) = plan.sets.iter().find(|s| s.family == state.family) else {
            continue;
        };
        if deadline.expired() {
            report.stop_early(format!(
                "the Lambda deadline came before {} was written; the next run reconciles it",
                state.set.arn
            ));
            applied.failed.push((
                state.set.arn.clone(),
                "not written: the Lambda deadline came first".to_owned(),
            ));
            continue;
        }
        let result = ipset::write(
            state.client,
            state.set,
            version(state.family),
            state.current,
            &set_plan.delta,
            capacity,
            gate,
        )
        .await;
        let w = match result {
            Ok(w) => w,
            Err(e) => {
                report.fail(&state.set.arn, "update_ip_set", &e);
                applied.failed.push((state.set.arn.clone(), e.to_string()));
                continue;
            }
        };
        report.add("ipset_writes", u64::from(w.writes));
        report.add("lock_conflicts", u64::from(w.conflicts));
        for net in &w.dropped {
            report.skip(
                net.addr().to_string(),
                "did not fit: another writer filled the IP set meanwhile",
            );
        }
        if w.writes > 0 {
            report.applied(
                Action::new(
                    "update_ip_set",
                    &state.set.arn,
                    format!("{} set updated", state.family.name()),
                )
                .with_detail(json!({
                    "added": set_plan.delta.add.len() - w.dropped.len(),
                    "removed": set_plan.delta.remove.len(),
                    "size": w.size,
                    "lock_conflicts": w.conflicts,
                })),
            );
        }
        for block in plan
            .blocks
            .iter()
            .filter(|b| Family::of(&b.entry.net) == state.family)
        {
            let in_set = !w.dropped.contains(&block.entry.net)
                && !set_plan.not_fit.iter().any(|e| e.net == block.entry.net);
            if in_set {
                applied.in_place.push(block.entry.net);
                let action = if block.new {
                    "block_ip"
                } else {
                    "extend_block"
                };
                report.applied(Action::new(
                    action,
                    block.entry.net.addr().to_string(),
                    &block.entry.reason,
                ));
            }
        }
        for entry in plan
            .expired
            .iter()
            .filter(|e| Family::of(&e.net) == state.family)
        {
            if ledger.delete_expired(entry, now).await? {
                report.applied(Action::new(
                    "unblock_ip",
                    entry.net.addr().to_string(),
                    entry.end_reason("block expired"),
                ));
            }
        }
        for entry in plan
            .released
            .iter()
            .filter(|e| Family::of(&e.net) == state.family)
        {
            ledger.delete(&[entry.pk()]).await?;
            report.applied(Action::new(
                "unblock_ip",
                entry.net.addr().to_string(),
                entry.end_reason("now in ALLOW_CIDRS"),
            ));
        }
        if state.family == Family::V4 {
            ledger.delete(&plan.dropped_aggregates).await?;
        }
    }
    Ok(applied)
}
