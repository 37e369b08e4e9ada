//! Deciding what to block, extend, release and write; no AWS calls.
//!
//! The ledger is the desired state; each IP set is its best-fitting
//! projection. A set keeps every address another writer put there; this
//! function's own entries (those in the ledger) fill the rest of the
//! 10,000-address budget, most hits first, then most recent. What does not
//! fit is reported, never an error.
//!
//! An address that was already in a set, put there by someone else, when
//! this function blocked it is recorded as such (`preexisting`): this
//! function neither adds nor removes it, and the end of its block leaves it
//! where it is.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::Config;
use crate::delta::SetDelta;
use crate::detect::Key;
use crate::entry::{Entry, pk_for};
use crate::family::Family;

/// A counter after adding what earlier objects stored for its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    pub key: Key,
    /// Requests counted from this run's input.
    pub local: u32,
    /// Requests in the window so far, this run's included.
    pub total: u64,
    pub last_seen_ms: i64,
}

/// A block decided this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The ledger entry as it will be written.
    pub entry: Entry,
    pub new: bool,
    /// The offending window's count and the threshold it reached.
    pub window_count: u64,
    pub threshold: u32,
    pub rule: String,
    /// The start of the offending window (0 when not decided from one).
    pub window: i64,
}

/// An address left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub target: String,
    pub reason: String,
}

/// The plan for one IP set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetPlan {
    pub family: Family,
    pub delta: SetDelta,
    /// This function's entries that qualify but do not fit, best first.
    pub not_fit: Vec<Entry>,
    /// Addresses in the set that this function did not put there.
    pub foreign: usize,
    /// This function's entries the set will hold.
    pub ours: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub blocks: Vec<Block>,
    pub skipped: Vec<Skipped>,
    /// New blocks left for a later run by `MAX_NEW_BLOCKS_PER_RUN`.
    pub capped: usize,
    /// Ledger items to write before the sets (new, extended, aggregates).
    pub ledger_puts: Vec<Entry>,
    /// New blocks of addresses found in a set and unknown to the ledger,
    /// recorded as `preexisting` only if no run recorded the address
    /// meanwhile (`Ledger::claim_preexisting`); else
    /// [`extend`]ed as this function's.
    pub claims: Vec<Entry>,
    /// Entries whose block ended: out of the sets, then out of the ledger.
    pub expired: Vec<Entry>,
    /// Entries now covered by `ALLOW_CIDRS`: out of the sets and the ledger.
    pub released: Vec<Entry>,
    /// Aggregate items no longer wanted, deleted after the sets are written.
    pub dropped_aggregates: Vec<String>,
    pub sets: Vec<SetPlan>,
    /// Blocks recorded by an earlier run that this run's set writes add
    /// (the earlier `UpdateIPSet` failed, or they did not fit then): the
    /// run that puts them in the set is the one that announces them.
    pub catch_up: Vec<Block>,
    /// A backfill's blocks that would already have ended (old logs): who
    /// would have been blocked and when, reported and never written.
    pub past: Vec<Block>,
}

/// Everything the plan looks at.
pub struct Inputs<'a> {
    pub config: &'a Config,
    pub now: i64,
    pub source: &'a str,
    /// The id of the deliveries this run counts (empty for a reconcile):
    /// the same on Lambda's retry of the same event.
    pub run_id: &'a str,
    pub observations: &'a [Observation],
    pub ledger: &'a [Entry],
    /// The current content of each configured set.
    pub sets: &'a [(Family, Vec<IpNet>)],
    /// A backfill: a block lasts from the offence, not from now, so logs
    /// read late block no longer than they would have on time.
    pub from_log_time: bool,
}

pub fn plan(input: &Inputs<'_>) -> Plan {
    let config = input.config;
    let now = input.now;
    let mut plan = Plan::default();
    let mut ledger: HashMap<String, Entry> =
        input.ledger.iter().map(|e| (e.pk(), e.clone())).collect();
    let configured: HashSet<Family> = input.sets.iter().map(|(f, _)| *f).collect();

    // Offending IPs: the allowlist is checked before anything else.
    let mut offenders: BTreeMap<IpAddr, Offence> = BTreeMap::new();
    let mut allowlisted: BTreeMap<IpAddr, u64> = BTreeMap::new();
    for obs in input.observations {
        let threshold = config.detection.threshold_for(obs.key.rule);
        if obs.total < u64::from(threshold) {
            continue;
        }
        let ip = crate::detect::normalise(obs.key.ip);
        if config.allowed(ip) {
            *allowlisted.entry(ip).or_default() += obs.total;
            continue;
        }
        let before = obs.total - u64::from(obs.local);
        // A window that had already reached the threshold was counted then;
        // only this run's requests are new hits.
        let hits = if before >= u64::from(threshold) {
            u64::from(obs.local)
        } else {
            obs.total
        };
        let offence = offenders.entry(ip).or_default();
        offence.hits += hits;
        offence.last_seen_ms = offence.last_seen_ms.max(obs.last_seen_ms);
        if obs.total > offence.window_count {
            offence.window_count = obs.total;
            offence.threshold = threshold;
            offence.window = obs.key.window;
            offence.rule = config.detection.rule_name(obs.key.rule).to_owned();
        }
    }
    for (ip, requests) in allowlisted {
        plan.skipped.push(Skipped {
            target: ip.to_string(),
            reason: format!("reached a threshold ({requests} requests) but is in ALLOW_CIDRS"),
        });
    }

    let mut new_blocks = Vec::new();
    for (ip, offence) in offenders {
        let net = IpNet::from(ip);
        if !configured.contains(&Family::of(&net)) {
            let var = if ip.is_ipv4() {
                "IPSET_V4_ARN"
            } else {
                "IPSET_V6_ARN"
            };
            plan.skipped.push(Skipped {
                target: ip.to_string(),
                reason: format!("reached a threshold but {var} is not set"),
            });
            continue;
        }
        let reason = offence.reason(config.detection.window_seconds);
        let pk = pk_for(&net, false);
        let block_until = if input.from_log_time {
            // A record's own timestamp, bounded: one from the future must not
            // block for longer than a live offence would.
            (offence.last_seen_ms.div_euclid(1000) + config.block_seconds)
                .min(now + config.block_seconds)
        } else {
            now + config.block_seconds
        };
        let mut block = Block {
            entry: Entry {
                net,
                aggregate: false,
                first_blocked: now,
                last_blocked: now,
                expires_at: block_until,
                hits: offence.hits,
                last_seen_ms: offence.last_seen_ms,
                offences: 1,
                reason,
                source: input.source.to_owned(),
                preexisting: false,
                legacy_ttl: false,
                by: input.run_id.to_owned(),
                opened_by: input.run_id.to_owned(),
            },
            new: true,
            window_count: offence.window_count,
            threshold: offence.threshold,
            rule: offence.rule,
            window: offence.window,
        };
        if block_until <= now {
            plan.past.push(block);
            continue;
        }
        let in_set = input
            .sets
            .iter()
            .any(|(family, current)| *family == Family::of(&net) && current.contains(&net));
        let own_write = ledger
            .get(&pk)
            .filter(|old| !input.run_id.is_empty() && old.by == input.run_id);
        if let Some(old) = own_write {
            // An earlier attempt of this run recorded it before failing:
            // its hits are in already. It is new if that attempt opened it
            // and did not get it into the set: an attempt that did also
            // announced it, and the retry must not announce it again.
            block.new = old.opened_by == input.run_id && !in_set;
            block.entry = Entry {
                legacy_ttl: false,
                ..old.clone()
            };
        } else if let Some(old) = ledger.get(&pk) {
            block.new = extend(&mut block.entry, old, now);
        } else {
            // Not in the ledger but in the set: someone else put it there,
            // unless another run recorded it meanwhile (checked when it is
            // written: `claims`).
            block.entry.preexisting = in_set;
        }
        // Someone else's address stays theirs only while it is in the set:
        // once they took it out, this block is this function's to add (and
        // to remove when it ends).
        block.entry.preexisting &= in_set;
        if block.new {
            new_blocks.push(block);
        } else {
            plan.blocks.push(block);
        }
    }
    new_blocks.sort_by(|a, b| rank(&a.entry, &b.entry));
    for block in new_blocks {
        if plan.blocks.iter().filter(|b| b.new).count() < config.max_new_blocks {
            plan.blocks.push(block);
        } else {
            plan.capped += 1;
            plan.skipped.push(Skipped {
                target: block.entry.net.addr().to_string(),
                reason: format!(
                    "MAX_NEW_BLOCKS_PER_RUN ({}) reached; {} hits",
                    config.max_new_blocks, block.entry.hits
                ),
            });
        }
    }
    for block in &plan.blocks {
        if block.entry.preexisting && !ledger.contains_key(&block.entry.pk()) {
            plan.claims.push(block.entry.clone());
        } else {
            plan.ledger_puts.push(block.entry.clone());
        }
        ledger.insert(block.entry.pk(), block.entry.clone());
    }
    // Items of the old shape still carry a TTL at the block's end: rewritten,
    // TTL can no longer delete them while their address is in a set.
    for entry in ledger.values_mut() {
        if entry.legacy_ttl && !entry.aggregate && entry.is_active(now) {
            entry.legacy_ttl = false;
            plan.ledger_puts.push(entry.clone());
        }
    }

    for entry in ledger.values().filter(|e| !e.aggregate) {
        if config.allowed(entry.net.addr()) {
            plan.released.push(entry.clone());
        } else if !entry.is_active(now) {
            plan.expired.push(entry.clone());
        }
    }
    plan.released.sort_by_key(|e| e.net);
    plan.expired.sort_by_key(|e| e.net);

    // What this function may take out of a set: what it put there.
    let ours: HashSet<IpNet> = input
        .ledger
        .iter()
        .chain(plan.ledger_puts.iter())
        .filter(|e| !e.preexisting)
        .map(|e| e.net)
        .collect();
    let mut wanted_aggregates = HashSet::new();
    for (family, current) in input.sets {
        let set = plan_set(config, now, *family, current, &ledger, &ours);
        for agg in &set.1 {
            wanted_aggregates.insert(agg.pk());
            if ledger.get(&agg.pk()) != Some(agg) {
                plan.ledger_puts.push(agg.clone());
            }
        }
        plan.sets.push(set.0);
    }
    plan.dropped_aggregates = ledger
        .values()
        .filter(|e| e.aggregate && !wanted_aggregates.contains(&e.pk()))
        .map(Entry::pk)
        .collect();
    plan.dropped_aggregates.sort();
    let decided: HashSet<IpNet> = plan.blocks.iter().map(|b| b.entry.net).collect();
    for set in &plan.sets {
        for net in set.delta.add.iter().filter(|n| !decided.contains(n)) {
            let Some(entry) = ledger
                .get(&pk_for(net, false))
                .filter(|e| !e.aggregate && e.net == *net)
            else {
                continue;
            };
            plan.catch_up.push(Block {
                entry: entry.clone(),
                new: true,
                window_count: entry.hits,
                threshold: 0,
                rule: String::new(),
                window: 0,
            });
        }
    }
    plan
}

/// Makes `entry`, a block decided now, the continuation of `old`, the
/// address's stored block: whose it is, its history and, while it runs,
/// its end and opener. Returns whether the block is new (`old` had ended).
pub fn extend(entry: &mut Entry, old: &Entry, now: i64) -> bool {
    entry.preexisting = old.preexisting;
    entry.first_blocked = old.first_blocked;
    entry.hits += old.hits;
    entry.offences += old.offences;
    entry.last_seen_ms = entry.last_seen_ms.max(old.last_seen_ms);
    if old.is_active(now) {
        entry.expires_at = entry.expires_at.max(old.expires_at);
        entry.opened_by = old.opened_by.clone();
        false
    } else {
        true
    }
}

#[derive(Debug, Default)]
struct Offence {
    hits: u64,
    last_seen_ms: i64,
    window_count: u64,
    threshold: u32,
    window: i64,
    rule: String,
}

impl Offence {
    fn reason(&self, window_seconds: i64) -> String {
        let from = OffsetDateTime::from_unix_timestamp(self.window)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| self.window.to_string());
        let scope = if self.rule == "*" {
            String::new()
        } else {
            format!(" on {}", self.rule)
        };
        format!(
            "{} requests{scope} in the {window_seconds} s window from {from} (threshold {})",
            self.window_count, self.threshold
        )
    }
}

/// Most hits first, then most recent; the address breaks ties so the
/// choice is the same on every run.
fn rank(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    b.hits
        .cmp(&a.hits)
        .then(b.last_seen_ms.cmp(&a.last_seen_ms))
        .then(a.net.cmp(&b.net))
}

fn plan_set(
    config: &Config,
    now: i64,
    family: Family,
    current: &[IpNet],
    ledger: &HashMap<String, Entry>,
    ours: &HashSet<IpNet>,
) -> (SetPlan, Vec<Entry>) {
    let foreign = current.iter().filter(|n| !ours.contains(n)).count();
    let room = config.capacity.saturating_sub(foreign);
    let mut wanted: Vec<Entry> = ledger
        .values()
        .filter(|e| {
            !e.aggregate
                && !e.preexisting
                && Family::of(&e.net) == family
                && e.is_active(now)
                && !config.allowed(e.net.addr())
        })
        .cloned()
        .collect();
    let mut aggregates = Vec::new();
    if wanted.len() > room
        && family == Family::V4
        && let Some(agg) = config.aggregation
    {
        (wanted, aggregates) = aggregate(config, wanted, room, agg.prefix, agg.min);
    }
    wanted.extend(aggregates.iter().cloned());
    wanted.sort_by(rank);
    let not_fit = wanted.split_off(room.min(wanted.len()));
    let desired: Vec<IpNet> = wanted.iter().map(|e| e.net).collect();
    let desired_set: HashSet<IpNet> = desired.iter().copied().collect();
    let current_set: HashSet<IpNet> = current.iter().copied().collect();
    let delta = SetDelta {
        add: desired
            .iter()
            .filter(|n| !current_set.contains(n))
            .copied()
            .collect(),
        remove: current
            .iter()
            .filter(|n| ours.contains(n) && !desired_set.contains(n))
            .copied()
            .collect(),
    };
    let kept_aggregates = aggregates
        .into_iter()
        .filter(|a| desired_set.contains(&a.net))
        .collect();
    (
        SetPlan {
            family,
            delta,
            not_fit,
            foreign,
            ours: desired.len(),
        },
        kept_aggregates,
    )
}

/// Collapses the most crowded prefixes first until the entries fit in
/// `room`; a prefix holding an allowed address is never collapsed.
fn aggregate(
    config: &Config,
    entries: Vec<Entry>,
    room: usize,
    prefix: u8,
    min: usize,
) -> (Vec<Entry>, Vec<Entry>) {
    let mut groups: BTreeMap<IpNet, Vec<Entry>> = BTreeMap::new();
    for e in entries {
        let IpAddr::V4(v4) = e.net.addr() else {
            continue;
        };
        let net = IpNet::V4(Ipv4Net::new(v4, prefix).expect("prefix validated").trunc());
        groups.entry(net).or_default().push(e);
    }
    let mut total: usize = groups.values().map(Vec::len).sum();
    let mut order: Vec<IpNet> = groups
        .iter()
        .filter(|(net, members)| members.len() >= min && !config.overlaps_allowed(net))
        .map(|(net, _)| *net)
        .collect();
    order.sort_by_key(|net| std::cmp::Reverse(groups[net].len()));
    let mut aggregates = Vec::new();
    for net in order {
        if total <= room {
            break;
        }
        let members = groups.remove(&net).expect("group exists");
        total -= members.len() - 1;
        aggregates.push(Entry {
            net,
            aggregate: true,
            first_blocked: members.iter().map(|m| m.first_blocked).min().unwrap_or(0),
            last_blocked: members.iter().map(|m| m.last_blocked).max().unwrap_or(0),
            expires_at: members.iter().map(|m| m.expires_at).max().unwrap_or(0),
            hits: members.iter().map(|m| m.hits).sum(),
            last_seen_ms: members.iter().map(|m| m.last_seen_ms).max().unwrap_or(0),
            offences: members.iter().map(|m| m.offences).sum(),
            reason: format!(
                "{} blocked addresses in {net} collapsed to fit the IP set's address limit",
                members.len()
            ),
            source: "aggregate".to_owned(),
            preexisting: false,
            legacy_ttl: false,
            by: String::new(),
            opened_by: String::new(),
        });
    }
    (groups.into_values().flatten().collect(), aggregates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::config::Env;

    const NOW: i64 = 1_700_000_000;

    fn config(extra: &[(&str, &str)]) -> Config {
        let mut vars = vec![
            ("LEDGER_TABLE", "ledger"),
            (
                "IPSET_V4_ARN",
                "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/v4/id4",
            ),
            (
                "IPSET_V6_ARN",
                "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/v6/id6",
            ),
            ("THRESHOLD", "100"),
        ];
        vars.extend_from_slice(extra);
        let mut env = Env::from_pairs(vars);
        let c = Config::from_env(&mut env);
        env.finish().unwrap();
        c
    }

    fn obs(ip: &str, local: u32, total: u64) -> Observation {
        Observation {
            key: Key {
                ip: ip.parse().unwrap(),
                window: NOW - NOW % 300,
                rule: None,
            },
            local,
            total,
            last_seen_ms: NOW * 1000,
        }
    }

    fn entry(ip: &str, hits: u64, expires_at: i64) -> Entry {
        Entry {
            net: IpNet::from(ip.parse::<IpAddr>().unwrap()),
            aggregate: false,
            first_blocked: NOW - 600,
            last_blocked: NOW - 600,
            expires_at,
            hits,
            last_seen_ms: (NOW - 600) * 1000,
            offences: 1,
            reason: "earlier".into(),
            source: "s3://b/k".into(),
            preexisting: false,
            legacy_ttl: false,
            by: "earlier-run".into(),
            opened_by: "earlier-run".into(),
        }
    }

    fn net(s: &str) -> IpNet {
        s.parse::<IpNet>().unwrap()
    }

    fn run(
        config: &Config,
        observations: &[Observation],
        ledger: &[Entry],
        sets: &[(Family, Vec<IpNet>)],
    ) -> Plan {
        plan(&Inputs {
            config,
            now: NOW,
            source: "s3://b/k",
            run_id: "this-run",
            observations,
            ledger,
            sets,
            from_log_time: false,
        })
    }

    fn empty_sets() -> Vec<(Family, Vec<IpNet>)> {
        vec![(Family::V4, vec![]), (Family::V6, vec![])]
    }

    #[test]
    fn a_backfill_blocks_from_the_offence_and_reports_blocks_already_over() {
        let c = config(&[]);
        let hours_ago = |h: i64, ip: &str| Observation {
            last_seen_ms: (NOW - h * 3600) * 1000,
            ..obs(ip, 100, 100)
        };
        let observations = [hours_ago(1, "192.0.2.1"), hours_ago(5, "192.0.2.2")];
        let p = plan(&Inputs {
            config: &c,
            now: NOW,
            source: "s3://b/k",
            run_id: "batch",
            observations: &observations,
            ledger: &[],
            sets: &empty_sets(),
            from_log_time: true,
        });
        // Four-hour blocks: the one from an hour ago has three hours left,
        // the one from five hours ago ended an hour ago.
        assert_eq!(p.blocks.len(), 1);
        assert_eq!(p.blocks[0].entry.net, net("192.0.2.1/32"));
        assert_eq!(p.blocks[0].entry.expires_at, NOW + 3 * 3600);
        assert_eq!(p.past.len(), 1);
        assert_eq!(p.past[0].entry.net, net("192.0.2.2/32"));
        assert_eq!(p.past[0].entry.expires_at, NOW - 3600);
        assert!(!p.ledger_puts.iter().any(|e| e.net == net("192.0.2.2/32")));
        assert_eq!(p.sets[0].delta.add, [net("192.0.2.1/32")]);
    }

    #[test]
    fn exactly_the_threshold_blocks_and_one_less_does_not() {
        let c = config(&[]);
        let p = run(
            &c,
            &[obs("192.0.2.1", 100, 100), obs("192.0.2.2", 99, 99)],
            &[],
            &empty_sets(),
        );
        assert_eq!(p.blocks.len(), 1);
        assert_eq!(p.blocks[0].entry.net, net("192.0.2.1/32"));
        assert!(p.blocks[0].new);
        assert_eq!(p.blocks[0].entry.expires_at, NOW + 240 * 60);
        assert_eq!(p.sets[0].delta.add, [net("192.0.2.1/32")]);
        assert!(p.sets[1].delta.is_empty());
    }

    #[test]
    fn a_window_total_from_earlier_objects_counts_and_hits_are_not_double_counted() {
        let c = config(&[]);
        // 60 stored + 60 now: flagged with 120 hits.
        let p = run(&c, &[obs("192.0.2.1", 60, 120)], &[], &empty_sets());
        assert_eq!(p.blocks[0].entry.hits, 120);
        // The same window again, in another object, already past the
        // threshold: only the 10 new.
        let mut old = p.blocks[0].entry.clone();
        old.by = "the-first-object".into();
        let p = run(
            &c,
            &[obs("192.0.2.1", 10, 130)],
            &[old],
            &[
                (Family::V4, vec![net("192.0.2.1/32")]),
                (Family::V6, vec![]),
            ],
        );
        assert!(!p.blocks[0].new);
        assert_eq!(p.blocks[0].entry.hits, 130);
        assert_eq!(p.blocks[0].entry.offences, 2);
        assert!(
            p.sets[0].delta.is_empty(),
            "already in the set: nothing to write"
        );
    }

    #[test]
    fn the_allowlist_wins_and_releases_earlier_blocks() {
        let c = config(&[("ALLOW_CIDRS", "192.0.2.0/24,2001:db8::/32")]);
        let p = run(
            &c,
            &[
                obs("192.0.2.1", 500, 500),
                obs("2001:db8::1", 500, 500),
                obs("198.51.100.1", 500, 500),
            ],
            &[entry("192.0.2.9", 10, NOW + 100)],
            &[
                (Family::V4, vec![net("192.0.2.9/32")]),
                (Family::V6, vec![]),
            ],
        );
        let blocked: Vec<String> = p.blocks.iter().map(|b| b.entry.net.to_string()).collect();
        assert_eq!(blocked, ["198.51.100.1/32"]);
        assert_eq!(p.skipped.len(), 2);
        assert!(p.skipped.iter().all(|s| s.reason.contains("ALLOW_CIDRS")));
        assert_eq!(p.released.len(), 1);
        assert!(p.sets[0].delta.remove.contains(&net("192.0.2.9/32")));
    }

    #[test]
    fn expired_blocks_leave_but_other_writers_addresses_stay() {
        let c = config(&[]);
        let current = vec![
            net("192.0.2.1/32"),
            net("192.0.2.2/32"),
            net("203.0.113.0/24"),
        ];
        let ledger = [entry("192.0.2.1", 10, NOW), entry("192.0.2.2", 10, NOW + 1)];
        let p = run(
            &c,
            &[],
            &ledger,
            &[(Family::V4, current.clone()), (Family::V6, vec![])],
        );
        assert_eq!(p.expired.len(), 1);
        assert_eq!(p.sets[0].delta.remove, HashSet::from([net("192.0.2.1/32")]));
        assert_eq!(p.sets[0].foreign, 1);
        let merged = p.sets[0].delta.apply(&current, 10_000);
        assert_eq!(merged.content, [net("192.0.2.2/32"), net("203.0.113.0/24")]);
    }

    #[test]
    fn over_capacity_keeps_most_hits_then_most_recent() {
        let mut c = config(&[]);
        c.capacity = 3;
        let mut ledger = vec![
            entry("192.0.2.1", 50, NOW + 100),
            entry("192.0.2.2", 10, NOW + 100),
            entry("192.0.2.3", 10, NOW + 100),
            entry("192.0.2.4", 5, NOW + 100),
        ];
        ledger[2].last_seen_ms += 1; // .3 is more recent than .2
        let p = run(
            &c,
            &[],
            &ledger,
            &[
                (Family::V4, vec![net("198.51.100.7/32")]),
                (Family::V6, vec![]),
            ],
        );
        // One slot goes to the other writer's address: two of ours fit.
        let set = &p.sets[0];
        assert_eq!(set.delta.add, [net("192.0.2.1/32"), net("192.0.2.3/32")]);
        let not_fit: Vec<IpNet> = set.not_fit.iter().map(|e| e.net).collect();
        assert_eq!(not_fit, [net("192.0.2.2/32"), net("192.0.2.4/32")]);
    }

    #[test]
    fn aggregation_collapses_crowded_prefixes_only_when_needed() {
        let mut c = config(&[
            ("AGGREGATE_V4_PREFIX", "24"),
            ("AGGREGATE_MIN", "3"),
            ("ALLOW_CIDRS", "198.51.100.200"),
        ]);
        c.capacity = 4;
        let mut ledger = Vec::new();
        for i in 1..=4 {
            ledger.push(entry(&format!("203.0.113.{i}"), 10, NOW + 100));
            ledger.push(entry(&format!("198.51.100.{i}"), 10, NOW + 100));
        }
        ledger.push(entry("192.0.2.1", 1, NOW + 100));
        let p = run(&c, &[], &ledger, &empty_sets());
        let set = &p.sets[0];
        // 203.0.113.0/24 collapses (4 members); 198.51.100.0/24 holds an
        // allowed address and stays as single addresses.
        assert!(set.delta.add.contains(&net("203.0.113.0/24")));
        assert_eq!(set.delta.add.len(), 4);
        assert_eq!(set.not_fit.len(), 2);
        assert!(
            p.ledger_puts
                .iter()
                .any(|e| e.aggregate && e.net == net("203.0.113.0/24"))
        );
        // With room to spare nothing is collapsed.
        c.capacity = 100;
        let p = run(&c, &[], &ledger, &empty_sets());
        assert_eq!(p.sets[0].delta.add.len(), 9);
        assert!(p.ledger_puts.is_empty());
    }

    #[test]
    fn new_blocks_are_capped_per_run_but_extensions_are_not() {
        let c = config(&[("MAX_NEW_BLOCKS_PER_RUN", "1")]);
        let p = run(
            &c,
            &[
                obs("192.0.2.1", 100, 100),
                obs("192.0.2.2", 300, 300),
                obs("192.0.2.3", 100, 100),
            ],
            &[entry("192.0.2.3", 10, NOW + 100)],
            &empty_sets(),
        );
        let mut blocked: Vec<(String, bool)> = p
            .blocks
            .iter()
            .map(|b| (b.entry.net.addr().to_string(), b.new))
            .collect();
        blocked.sort();
        assert_eq!(
            blocked,
            [
                ("192.0.2.2".to_owned(), true),
                ("192.0.2.3".to_owned(), false)
            ]
        );
        assert_eq!(p.capped, 1);
    }

    #[test]
    fn merging_after_a_conflict_keeps_the_other_writers_additions() {
        let delta = SetDelta {
            add: vec![net("192.0.2.1/32"), net("192.0.2.2/32")],
            remove: HashSet::from([net("192.0.2.9/32")]),
        };
        // Another writer added .7 and the set is now nearly full.
        let current = vec![
            net("192.0.2.7/32"),
            net("192.0.2.9/32"),
            net("192.0.2.8/32"),
        ];
        let m = delta.apply(&current, 3);
        assert_eq!(
            m.content,
            [
                net("192.0.2.1/32"),
                net("192.0.2.7/32"),
                net("192.0.2.8/32")
            ]
        );
        assert_eq!(m.dropped, [net("192.0.2.2/32")]);
    }

    #[test]
    fn an_address_already_in_the_set_is_never_ours_to_remove() {
        let c = config(&[]);
        let sets = [
            (Family::V4, vec![net("192.0.2.1/32")]),
            (Family::V6, vec![]),
        ];
        let p = run(&c, &[obs("192.0.2.1", 100, 100)], &[], &sets);
        let e = &p.blocks[0].entry;
        assert!(e.preexisting && p.blocks[0].new);
        assert!(p.sets[0].delta.is_empty());
        // Its block ends: the ledger item goes, the address stays.
        let mut ended = e.clone();
        ended.expires_at = NOW;
        let p = run(&c, &[], &[ended], &sets);
        assert_eq!(p.expired.len(), 1);
        assert!(p.sets[0].delta.is_empty(), "{:?}", p.sets[0].delta);
    }

    #[test]
    fn ipv4_mapped_observations_are_blocked_and_allowed_as_ipv4() {
        let c = config(&[("ALLOW_CIDRS", "198.51.100.0/24")]);
        let p = run(
            &c,
            &[
                obs("::ffff:198.51.100.7", 100, 100),
                obs("::ffff:203.0.113.7", 100, 100),
            ],
            &[],
            &empty_sets(),
        );
        assert_eq!(p.skipped[0].target, "198.51.100.7");
        assert_eq!(p.sets[0].delta.add, [net("203.0.113.7/32")]);
        assert!(p.sets[1].delta.is_empty());
    }

    #[test]
    fn items_of_the_old_shape_are_rewritten_without_their_ttl() {
        let c = config(&[]);
        let mut old = entry("192.0.2.3", 10, NOW + 100);
        old.legacy_ttl = true;
        let p = run(&c, &[], &[old.clone()], &empty_sets());
        assert_eq!(p.ledger_puts.len(), 1);
        assert!(!p.ledger_puts[0].legacy_ttl);
        assert_eq!(p.ledger_puts[0].expires_at, old.expires_at);
    }

    #[test]
    fn a_retry_of_the_run_that_recorded_a_block_takes_it_as_it_is() {
        let c = config(&[]);
        let first = run(&c, &[obs("192.0.2.1", 100, 100)], &[], &empty_sets());
        let recorded = first.blocks[0].entry.clone();
        let retry = run(
            &c,
            &[obs("192.0.2.1", 100, 100)],
            std::slice::from_ref(&recorded),
            &empty_sets(),
        );
        assert!(retry.blocks[0].new, "still the block this run opened");
        assert_eq!(retry.blocks[0].entry, recorded, "hits not added twice");
        assert_eq!(retry.sets[0].delta.add, [net("192.0.2.1/32")]);
    }

    #[test]
    fn an_unconfigured_family_is_reported_not_blocked() {
        let c = config(&[]);
        let p = run(
            &c,
            &[obs("2001:db8::1", 100, 100)],
            &[],
            &[(Family::V4, vec![])],
        );
        assert!(p.blocks.is_empty());
        assert!(p.skipped[0].reason.contains("IPSET_V6_ARN"));
    }

    #[test]
    fn an_address_found_in_the_set_is_recorded_as_someone_elses_only_by_a_claim() {
        let c = config(&[]);
        let sets = [
            (Family::V4, vec![net("192.0.2.1/32")]),
            (Family::V6, vec![]),
        ];
        let p = run(&c, &[obs("192.0.2.1", 100, 100)], &[], &sets);
        assert_eq!(p.claims.len(), 1);
        assert!(p.claims[0].preexisting);
        assert!(p.ledger_puts.is_empty(), "never an unconditional put");
    }

    #[test]
    fn someone_elses_address_taken_out_of_the_set_is_blocked_as_ours() {
        let c = config(&[]);
        let mut old = entry("192.0.2.1", 10, NOW + 100);
        old.preexisting = true;
        let p = run(&c, &[obs("192.0.2.1", 100, 100)], &[old], &empty_sets());
        assert!(!p.blocks[0].entry.preexisting);
        assert!(!p.ledger_puts[0].preexisting);
        assert_eq!(p.sets[0].delta.add, [net("192.0.2.1/32")]);
    }

    #[test]
    fn a_recorded_block_missing_from_its_set_is_added_and_announced() {
        let c = config(&[]);
        let p = run(&c, &[], &[entry("192.0.2.5", 10, NOW + 100)], &empty_sets());
        assert_eq!(p.sets[0].delta.add, [net("192.0.2.5/32")]);
        assert_eq!(p.catch_up.len(), 1);
        assert!(p.catch_up[0].new);
    }
}
