//! Carrying out a plan: the ledger first, then the IP sets, then cleanup.
//!
//! The order makes every stop safe: an address is in the ledger before it
//! is in a set (so it will expire), and an expired entry leaves the ledger
//! only after it left its set (so the next run still removes it).

use serde_json::json;
use shared::Deadline;
use shared::report::{Action, Report};

use crate::delta::SetDelta;
use crate::error::Error;
use crate::family::Family;
use crate::ipset::{self, IpSetRef, SetState, WriteGate, version};
use crate::ledger::Ledger;
use crate::plan::Plan;

/// What reached the IP sets, for the summary: it names only blocks that are
/// in place, and what kept the others out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Blocked (or extended) addresses that are in their set now.
    pub in_place: Vec<ipnet::IpNet>,
    /// Sets that could not be written, with the error or the reason.
    pub failed: Vec<(String, String)>,
    /// The ledger keys of the blocks and aggregates this run ended, deleted
    /// from the ledger: only these are reported ended. One that another run
    /// re-opened, or that a set write failing or the deadline left in
    /// place, is still a block.
    pub ended: Vec<String>,
}

/// Writes the ledger: new and extended blocks, aggregates. Returns false
/// when the deadline stopped it first; then nothing else may be written (a
/// set must never hold an address the ledger does not know: it would never
/// expire).
pub async fn record(
    plan: &Plan,
    ledger: &Ledger,
    now: i64,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<bool, Error> {
    let written = ledger.put(&plan.ledger_puts, deadline).await?;
    report.add("ledger_items_written", written as u64);
    if written < plan.ledger_puts.len() {
        report.stop_early("the Lambda deadline came before the ledger was written; the IP sets were left as they were");
        return Ok(false);
    }
    for claim in &plan.claims {
        if deadline.expired() {
            report.stop_early("the Lambda deadline came before the ledger was written; the IP sets were left as they were");
            return Ok(false);
        }
        if let Some(stored) = ledger.claim_preexisting(claim).await? {
            if stored.by == claim.by {
                // This run's earlier attempt, which a stale Scan missed:
                // recorded already, hits included.
                report.incr("ledger_items_written");
                continue;
            }
            // Another run recorded the address between this run's reads:
            // its block, so the address is as much this function's as the
            // stored item says, and this block extends it.
            let mut entry = claim.clone();
            crate::plan::extend(&mut entry, &stored, now);
            ledger.put(std::slice::from_ref(&entry), deadline).await?;
            report.incr("blocks_recorded_by_another_run");
        }
        report.incr("ledger_items_written");
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
) -> Result<Applied, Error> {
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
        let state_ref = (state.client, state.set, state.family);
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
            // Only what the set holds now is called blocked.
            if w.content.contains(&block.entry.net) {
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
        for block in plan
            .catch_up
            .iter()
            .filter(|b| Family::of(&b.entry.net) == state.family)
        {
            if w.content.contains(&block.entry.net) {
                applied.in_place.push(block.entry.net);
                report.applied(Action::new(
                    "block_ip",
                    block.entry.net.addr().to_string(),
                    format!(
                        "{} (recorded by an earlier run, in the set now)",
                        block.entry.reason
                    ),
                ));
            }
        }
        let mut reopened = Vec::new();
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
                applied.ended.push(entry.pk());
                continue;
            }
            if set_plan.delta.remove.contains(&entry.net) && !w.content.contains(&entry.net) {
                // Another run re-opened the block after this run read the
                // ledger; seeing the address still in the set, it did not
                // add it. This run took it out, so puts it back.
                reopened.push(entry.net);
            }
        }
        if !reopened.is_empty() {
            restore(&state_ref, &reopened, capacity, gate, report, &mut applied).await;
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
            applied.ended.push(entry.pk());
        }
        if state.family == Family::V4 {
            ledger.delete(&plan.dropped_aggregates).await?;
            applied
                .ended
                .extend(plan.dropped_aggregates.iter().cloned());
        }
    }
    Ok(applied)
}

/// Puts back addresses this run took out of a set while another run
/// re-opened their blocks. A failure is reported; the next run, reading the
/// re-opened ledger item, adds them again.
async fn restore(
    (client, set, family): &(&aws_sdk_wafv2::Client, &IpSetRef, Family),
    nets: &[ipnet::IpNet],
    capacity: usize,
    gate: &WriteGate,
    report: &mut Report,
    applied: &mut Applied,
) {
    let delta = SetDelta {
        add: nets.to_vec(),
        remove: Default::default(),
    };
    let result = match ipset::read(client, set, version(*family)).await {
        Ok(current) => {
            ipset::write(
                client,
                set,
                version(*family),
                current,
                &delta,
                capacity,
                gate,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(w) => {
            report.add("ipset_writes", u64::from(w.writes));
            for net in nets.iter().filter(|n| w.content.contains(n)) {
                applied.in_place.push(*net);
                report.applied(Action::new(
                    "block_ip",
                    net.addr().to_string(),
                    "its block was re-opened by another run while this run took it out of the set: put back",
                ));
            }
        }
        Err(e) => {
            report.fail(&set.arn, "update_ip_set", &e);
            applied.failed.push((set.arn.clone(), e.to_string()));
        }
    }
}
