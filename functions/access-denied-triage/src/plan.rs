//! The pure decision for one batch of records: what is noise, what the
//! operator expects, which denials group together, which alert at once, and
//! what is new.
//!
//! What the function remembers (what was announced and when, which keys,
//! networks, principals and Regions it has seen, a principal's denials in the
//! reconnaissance window) comes in as [`Facts`]; what it should remember
//! next goes out in the [`Plan`]. Nothing here calls AWS or reads a clock.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::config::Config;
use crate::noise::{self, Noise};
use crate::reason::{self, Denial};
use crate::record::{Kind, Record, Who, role_name};
use crate::rules::Verdict;

/// Denied calls kept per principal for the reconnaissance window.
pub const RECENT_KEPT: usize = 1_000;

/// What the function remembers, read before planning.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// When each group or reconnaissance alert was last announced, by key.
    pub announced: BTreeMap<String, OffsetDateTime>,
    /// The severity each was announced at: a group that turns worse (a new
    /// key joins a known denial) is announced again at once.
    pub announced_severity: BTreeMap<String, Severity>,
    pub known_keys: BTreeSet<String>,
    pub known_networks: BTreeSet<IpNet>,
    pub known_principals: BTreeSet<String>,
    pub known_regions: BTreeSet<String>,
    /// Each principal's denied actions within the reconnaissance window
    /// before this batch: a burst spread over two deliveries is one burst.
    pub recent: BTreeMap<String, Vec<(OffsetDateTime, String)>>,
    /// The state keys of sightings seen again whose expiry is due to be
    /// pushed out (the state's own bookkeeping; the plan does not read it).
    pub stale_sightings: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Medium,
    High,
    Critical,
}

impl Severity {
    /// As the state table keeps it, ordered like the severities.
    pub fn rank(self) -> u8 {
        match self {
            Self::Medium => 1,
            Self::High => 2,
            Self::Critical => 3,
        }
    }

    pub fn from_rank(rank: u8) -> Option<Self> {
        match rank {
            1 => Some(Self::Medium),
            2 => Some(Self::High),
            3 => Some(Self::Critical),
            _ => None,
        }
    }
}

/// Why a group is more than a missing permission.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case", tag = "flag")]
pub enum Flag {
    Root,
    /// A long-term key never seen before, from a network never seen before
    /// and not the operator's own.
    NewKeyFromNewNetwork {
        key: String,
        network: IpNet,
    },
    /// A long-term key already known, from a network never seen before and
    /// not the operator's own: a key in use elsewhere is how leaks look.
    KnownKeyNewNetwork {
        key: String,
        network: IpNet,
    },
    /// A denied write to a sensitive control plane.
    SensitiveWrite,
    /// Only an expired rule would have silenced it.
    ExpiredRule {
        rule: String,
    },
    NewPrincipal,
    NewRegion {
        region: String,
    },
}

impl Flag {
    fn severity(&self) -> Severity {
        match self {
            Self::Root | Self::NewKeyFromNewNetwork { .. } => Severity::Critical,
            Self::SensitiveWrite | Self::KnownKeyNewNetwork { .. } => Severity::High,
            Self::ExpiredRule { .. } | Self::NewPrincipal | Self::NewRegion { .. } => {
                Severity::Medium
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Decision {
    Announce,
    /// Announced within the renotify period: counted, not sent again.
    Held {
        #[serde(with = "time::serde::rfc3339")]
        last_announced: OffsetDateTime,
    },
    /// One of the actions of a reconnaissance burst by the same principal:
    /// the burst's alert names it, fifteen more messages would bury it.
    InBurst,
}

/// Denials of one principal, service, action and policy type.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub key: String,
    pub who: Who,
    pub action: String,
    pub denial: Denial,
    pub count: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub first: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last: OffsetDateTime,
    /// The people behind the sessions (a role is used by many).
    pub persons: BTreeSet<String>,
    pub source_ips: BTreeSet<IpAddr>,
    /// Every source IP is in `OWN_CIDRS` (false when there is none).
    pub from_own_network: bool,
    pub regions: BTreeSet<String>,
    pub accounts: BTreeSet<String>,
    pub resources: BTreeSet<String>,
    pub flags: BTreeSet<Flag>,
    pub severity: Severity,
    pub decision: Decision,
    /// The `RULES` entry to paste if this is expected.
    pub suggested_rule: String,
    /// The CloudTrail event ids, so that the digest counts a retried
    /// delivery once.
    #[serde(skip)]
    pub event_ids: BTreeSet<String>,
}

/// A burst of distinct denied actions from one principal.
#[derive(Debug, Clone, Serialize)]
pub struct Recon {
    pub key: String,
    pub who: Who,
    pub actions: BTreeSet<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    pub decision: Decision,
    /// What the groups told in this alert noticed (a new key, a new Region).
    pub flags: BTreeSet<Flag>,
    /// Critical with a leaked-looking key or the root user; otherwise high:
    /// a person clicking through console pages can be denied fifteen reads.
    pub severity: Severity,
}

/// What was seen for the first time, for the state to remember.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Seen {
    pub principals: BTreeSet<String>,
    pub keys: BTreeSet<String>,
    pub networks: BTreeSet<IpNet>,
    pub regions: BTreeSet<String>,
}

/// What a batch needs read from the state before planning: every key,
/// network, principal and Region in it, and the announcements of every group
/// and burst it may form. A superset is harmless: an unread fact is unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    pub announced: BTreeSet<String>,
    pub seen: Seen,
}

pub fn wanted(records: &[Record]) -> Wanted {
    let mut wanted = Wanted::default();
    let nothing_known = Facts::default();
    for record in records {
        let who = record.who();
        observe(&mut wanted.seen, record, &who, &nothing_known);
        if noise::classify(record, &who).is_none() {
            let denial = reason::classify(record.error_message.as_deref());
            wanted
                .announced
                .insert(group_key(&who, &record.action(), &denial));
            wanted.announced.insert(recon_key(&who.principal));
        }
    }
    wanted
}

/// The state table's key of a group's announcement.
pub fn group_key(who: &Who, action: &str, denial: &Denial) -> String {
    bounded(format!(
        "group#{}#{}#{}",
        who.principal,
        action,
        denial.policy.label()
    ))
}

/// The state table's key of a burst's announcement.
pub fn recon_key(principal: &str) -> String {
    bounded(format!("recon#{principal}"))
}

/// Keys the state table accepts: DynamoDB refuses a partition key over
/// 2,048 bytes, and a caller chooses some principals' names (a web identity's
/// subject). A longer key keeps its start and gains a hash of the whole, so
/// it stays one key per text and readable.
pub fn bounded(key: String) -> String {
    const MAX: usize = 1024;
    if key.len() <= MAX {
        return key;
    }
    let mut cut = MAX - 20;
    while !key.is_char_boundary(cut) {
        cut -= 1;
    }
    let hash = shared::dynamo::stable_hash(key.as_bytes());
    format!("{}#{hash:016x}", &key[..cut])
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub records: u64,
    pub dropped: BTreeMap<Noise, u64>,
    /// Denials the operator's live rules expect, by rule.
    pub expected: BTreeMap<String, u64>,
    /// Every rule past its last day, for the digest.
    pub expired_rules: Vec<String>,
    /// Most severe first, then most frequent.
    pub groups: Vec<Group>,
    pub recon: Vec<Recon>,
    pub new: Seen,
    /// Each principal's denied actions still inside the reconnaissance
    /// window at the batch's last record, for the next batch.
    pub recent: BTreeMap<String, Vec<(OffsetDateTime, String)>>,
}

impl Plan {
    /// Groups and bursts to announce now.
    pub fn announcements(&self) -> usize {
        self.groups
            .iter()
            .filter(|g| g.decision == Decision::Announce)
            .count()
            + self
                .recon
                .iter()
                .filter(|r| r.decision == Decision::Announce)
                .count()
    }
}

pub fn plan(records: &[Record], config: &Config, facts: &Facts, now: OffsetDateTime) -> Plan {
    let mut plan = Plan {
        records: records.len() as u64,
        expired_rules: config
            .rules
            .expired(now)
            .into_iter()
            .map(|r| r.to_string())
            .collect(),
        ..Plan::default()
    };
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut whos: BTreeMap<String, Who> = BTreeMap::new();
    let mut recent = facts.recent.clone();
    let mut earliest: BTreeMap<String, OffsetDateTime> = BTreeMap::new();
    for record in records {
        let who = record.who();
        // Every call a person or workload made is a sighting, allowed or
        // not: on the Logs path the successful calls teach which keys and
        // networks are usual before any of them is denied.
        if who.kind != Kind::AwsService && who.invoked_by.is_none() {
            observe(&mut plan.new, record, &who, facts);
        }
        if let Some(noise) = noise::classify(record, &who) {
            *plan.dropped.entry(noise).or_default() += 1;
            continue;
        }
        let action = record.action();
        let mut flags: BTreeSet<Flag> = record_flags(record, &who, &action, config, facts)
            .into_iter()
            .collect();
        // A rule says a denial is expected, not that the root user or a key
        // never seen from a network never seen is: those are told anyway.
        let alarming = flags
            .iter()
            .any(|f| matches!(f, Flag::Root | Flag::NewKeyFromNewNetwork { .. }));
        match config.rules.verdict(&who, &action, now) {
            Verdict::Expected(rule) if !alarming => {
                *plan.dropped.entry(Noise::OperatorRule).or_default() += 1;
                *plan.expected.entry(rule.to_string()).or_default() += 1;
                continue;
            }
            Verdict::Expected(_) | Verdict::None => {}
            Verdict::Expired(rule) => {
                flags.insert(Flag::ExpiredRule {
                    rule: rule.to_string(),
                });
            }
        }
        recent
            .entry(who.principal.clone())
            .or_default()
            .push((record.event_time, action.clone()));
        earliest
            .entry(who.principal.clone())
            .and_modify(|t: &mut OffsetDateTime| *t = (*t).min(record.event_time))
            .or_insert(record.event_time);
        whos.entry(who.principal.clone())
            .or_insert_with(|| who.clone());

        let denial = reason::classify(record.error_message.as_deref());
        let key = group_key(&who, &action, &denial);
        let group = groups.entry(key.clone()).or_insert_with(|| Group {
            suggested_rule: suggested_rule(&who, &action, now),
            key,
            action: action.clone(),
            denial,
            count: 0,
            first: record.event_time,
            last: record.event_time,
            persons: BTreeSet::new(),
            source_ips: BTreeSet::new(),
            from_own_network: false,
            regions: BTreeSet::new(),
            accounts: BTreeSet::new(),
            resources: BTreeSet::new(),
            flags: BTreeSet::new(),
            severity: Severity::Medium,
            decision: Decision::Announce,
            event_ids: BTreeSet::new(),
            who: who.clone(),
        });
        group.event_ids.insert(record.identity());
        group.count += 1;
        group.first = group.first.min(record.event_time);
        group.last = group.last.max(record.event_time);
        group.persons.extend(who.person.clone());
        group.source_ips.extend(record.source_ip());
        group.regions.extend(record.aws_region.clone());
        group
            .accounts
            .extend(record.recipient_account_id.clone().or(who.account.clone()));
        group.resources.extend(record.resource().map(str::to_owned));
        group.flags.extend(flags);
    }

    for group in groups.values_mut() {
        group.severity = group
            .flags
            .iter()
            .map(Flag::severity)
            .max()
            .unwrap_or(Severity::Medium);
        group.from_own_network = !group.source_ips.is_empty()
            && group
                .source_ips
                .iter()
                .all(|ip| config.own_cidrs.iter().any(|n| n.contains(ip)));
        group.decision = decide(&group.key, group.severity, facts, config, now);
    }
    plan.groups = groups.into_values().collect();
    plan.groups
        .sort_by(|a, b| b.severity.cmp(&a.severity).then(b.count.cmp(&a.count)));

    let window = Duration::try_from(config.recon_window).unwrap_or(Duration::minutes(10));
    for (principal, events) in &mut recent {
        events.sort();
        let Some(who) = whos.get(principal) else {
            continue;
        };
        // What the state remembers may be older than its TTL lets on
        // (DynamoDB deletes expired items late): only denials within a
        // window of this batch's can make a burst with it.
        if let Some(earliest) = earliest.get(principal) {
            events.retain(|(t, _)| *t >= *earliest - window);
        }
        if let Some((from, to, actions)) = burst(events, window, config.recon_threshold) {
            let key = recon_key(principal);
            plan.recon.push(Recon {
                decision: Decision::Announce,
                severity: Severity::High,
                key,
                who: who.clone(),
                actions,
                from,
                to,
                flags: BTreeSet::new(),
            });
        }
    }
    // A burst is one alert: its principal's groups are told in it (a key
    // first seen from a new network makes every one of them critical, and
    // fifteen pages would bury the one that matters); a denied write to a
    // sensitive control plane still alerts alone.
    for recon in &mut plan.recon {
        for group in plan.groups.iter_mut().filter(|g| {
            g.who.principal == recon.who.principal
                && g.decision == Decision::Announce
                && !g.flags.contains(&Flag::SensitiveWrite)
        }) {
            group.decision = Decision::InBurst;
            recon.flags.extend(group.flags.iter().cloned());
        }
        if recon
            .flags
            .iter()
            .any(|f| matches!(f, Flag::Root | Flag::NewKeyFromNewNetwork { .. }))
        {
            recon.severity = Severity::Critical;
        }
        recon.decision = decide(&recon.key, recon.severity, facts, config, now);
    }
    // Only what can still take part in a burst is kept.
    for (principal, mut events) in recent {
        let Some(&(latest, _)) = events.last() else {
            continue;
        };
        events.retain(|(t, _)| latest - *t < window);
        // The window is one DynamoDB item (at most 400 KB): a principal
        // hammering thousands of calls keeps its latest, which still make a
        // burst.
        if events.len() > RECENT_KEPT {
            events.drain(..events.len() - RECENT_KEPT);
        }
        plan.recent.insert(principal, events);
    }
    plan
}

fn record_flags(
    record: &Record,
    who: &Who,
    action: &str,
    config: &Config,
    facts: &Facts,
) -> Vec<Flag> {
    let mut flags = Vec::new();
    if who.kind == Kind::Root {
        flags.push(Flag::Root);
    }
    if let (Some(key), Some(ip)) = (who.long_term_key(), record.source_ip()) {
        let net = network(ip);
        let own = config.own_cidrs.iter().any(|n| n.contains(&ip));
        if !own && !facts.known_networks.contains(&net) {
            flags.push(if facts.known_keys.contains(key) {
                Flag::KnownKeyNewNetwork {
                    key: key.to_owned(),
                    network: net,
                }
            } else {
                Flag::NewKeyFromNewNetwork {
                    key: key.to_owned(),
                    network: net,
                }
            });
        }
    }
    if sensitive(record, action, config) {
        flags.push(Flag::SensitiveWrite);
    }
    if !facts.known_principals.contains(&who.principal) {
        flags.push(Flag::NewPrincipal);
    }
    if let Some(region) = &record.aws_region
        && !facts.known_regions.contains(region)
    {
        flags.push(Flag::NewRegion {
            region: region.clone(),
        });
    }
    flags
}

/// A denied write matching `SENSITIVE_ACTIONS`; an `sts:AssumeRole*` only
/// when the role asked for matches `PRIVILEGED_ROLES` (a denied AssumeRole
/// into an ordinary role is a missing trust, not an escalation).
fn sensitive(record: &Record, action: &str, config: &Config) -> bool {
    if record.is_read() {
        return false;
    }
    let action = action.to_ascii_lowercase();
    if !config.sensitive_actions.iter().any(|p| p.matches(&action)) {
        return false;
    }
    if action.starts_with("sts:assumerole") {
        let role = record.resource().and_then(role_name);
        return role.is_some_and(|r| config.privileged_roles.iter().any(|p| p.matches(r)));
    }
    true
}

fn observe(new: &mut Seen, record: &Record, who: &Who, facts: &Facts) {
    if !facts.known_principals.contains(&who.principal) {
        new.principals.insert(who.principal.clone());
    }
    if let Some(key) = who.long_term_key()
        && !facts.known_keys.contains(key)
    {
        new.keys.insert(key.to_owned());
    }
    if let Some(ip) = record.source_ip() {
        let net = network(ip);
        if !facts.known_networks.contains(&net) {
            new.networks.insert(net);
        }
    }
    if let Some(region) = &record.aws_region
        && !facts.known_regions.contains(region)
    {
        new.regions.insert(region.clone());
    }
}

/// The network an address is "from": its IPv4 /24 or IPv6 /48, about one
/// site or provider allocation.
pub fn network(ip: IpAddr) -> IpNet {
    let prefix = if ip.is_ipv4() { 24 } else { 48 };
    IpNet::new(ip, prefix)
        .expect("24 and 48 are valid prefix lengths")
        .trunc()
}

/// Announce unless announced within the renotify period at this severity
/// or worse.
fn decide(
    key: &str,
    severity: Severity,
    facts: &Facts,
    config: &Config,
    now: OffsetDateTime,
) -> Decision {
    let renotify = Duration::try_from(config.renotify).unwrap_or(Duration::hours(24));
    let was = facts
        .announced_severity
        .get(key)
        .copied()
        .unwrap_or(Severity::Medium);
    match facts.announced.get(key) {
        Some(&last) if now - last < renotify && was >= severity => Decision::Held {
            last_announced: last,
        },
        _ => Decision::Announce,
    }
}

/// The widest window of at most `window` holding `threshold` or more
/// distinct actions, over events sorted by time.
fn burst(
    events: &[(OffsetDateTime, String)],
    window: Duration,
    threshold: usize,
) -> Option<(OffsetDateTime, OffsetDateTime, BTreeSet<String>)> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut best: Option<(usize, usize, usize)> = None;
    let mut left = 0;
    for (right, (t, action)) in events.iter().enumerate() {
        *counts.entry(action).or_default() += 1;
        while *t - events[left].0 > window {
            let a = events[left].1.as_str();
            if let Some(n) = counts.get_mut(a) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(a);
                }
            }
            left += 1;
        }
        if counts.len() >= threshold && best.is_none_or(|(n, _, _)| counts.len() > n) {
            best = Some((counts.len(), left, right));
        }
    }
    best.map(|(_, l, r)| {
        let actions = events[l..=r].iter().map(|(_, a)| a.clone()).collect();
        (events[l].0, events[r].0, actions)
    })
}

/// The `RULES` entry that would silence this group, for the message: the
/// role or user name (stable across sessions), the action, an expiry a
/// month out so that the exception is revisited.
fn suggested_rule(who: &Who, action: &str, now: OffsetDateTime) -> String {
    /// A struct, not `json!`: its fields keep this order whichever way
    /// serde_json was built, so the line reads the same everywhere.
    #[derive(Serialize)]
    struct Suggested<'a> {
        principal: &'a str,
        action: &'a str,
        reason: &'a str,
        expires: String,
    }
    serde_json::to_string(&Suggested {
        principal: who.name.as_deref().unwrap_or(&who.principal),
        action,
        reason: "why this is expected",
        expires: (now + Duration::days(30)).date().to_string(),
    })
    .expect("strings serialize")
}

#[cfg(test)]
mod tests {
    use shared::config::Env;
    use time::macros::datetime;

    use super::*;
    use crate::record::tests::fixture;

    const NOW: OffsetDateTime = datetime!(2026-12-06 09:30 UTC);

    fn config(extra: &[(&str, &str)]) -> Config {
        let mut pairs = vec![
            ("STATE_TABLE", "t"),
            ("SLACK_WEBHOOK_PARAMETER", "/toilkit/slack"),
        ];
        pairs.extend_from_slice(extra);
        let mut env = Env::from_pairs(pairs);
        let config = Config::from_env(&mut env);
        env.finish().unwrap();
        config
    }

    /// The team's own keys and networks, long known: only the leaked key is
    /// new.
    fn team() -> Facts {
        let mut facts = Facts::default();
        facts
            .known_keys
            .extend(["AKIAIOSFODNN7EXAMPLE".into(), "AKIAI44QH8DHBEXAMPLE".into()]);
        facts.known_networks.extend([
            "198.51.100.0/24".parse::<IpNet>().unwrap(),
            "192.0.2.0/24".parse().unwrap(),
        ]);
        facts
    }

    fn at(mut record: Record, minute: i64) -> Record {
        record.event_time = datetime!(2026-12-06 09:00 UTC) + Duration::minutes(minute);
        record
    }

    #[test]
    fn a_developers_missing_permission_is_one_group_with_the_rule_to_paste() {
        let records: Vec<Record> = (0..3)
            .map(|m| at(fixture("iam-user-no-identity-policy"), m))
            .collect();
        let plan = plan(&records, &config(&[]), &team(), NOW);
        assert_eq!(plan.groups.len(), 1);
        let group = &plan.groups[0];
        assert_eq!(group.count, 3);
        assert_eq!(group.severity, Severity::Medium);
        assert_eq!(group.action, "s3:ListObjects");
        assert_eq!(group.who.describe(), "IAM user bob");
        assert_eq!(
            group.denial.describe(),
            "no identity-based policy allows it"
        );
        assert_eq!(group.decision, Decision::Announce);
        assert_eq!(
            group.resources.iter().collect::<Vec<_>>(),
            ["arn:aws:s3:::example-reports"]
        );
        assert_eq!(
            group.suggested_rule,
            r#"{"principal":"bob","action":"s3:ListObjects","reason":"why this is expected","expires":"2027-01-05"}"#
        );
        // The pasted rule silences the group.
        let pasted = group
            .suggested_rule
            .replace("why this is expected", "reports migration");
        let quiet = super::plan(
            &records,
            &config(&[("RULES", &format!("[{pasted}]"))]),
            &team(),
            NOW,
        );
        assert!(quiet.groups.is_empty());
        assert_eq!(quiet.dropped[&Noise::OperatorRule], 3);
    }

    #[test]
    fn sessions_of_one_role_are_one_group_naming_each_person() {
        let alice = fixture("assumed-role-sso");
        let mut bob = fixture("assumed-role-sso");
        bob.user_identity.arn = Some(
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Developer_0123456789abcdef/bob@example.com".into(),
        );
        let plan = plan(&[alice, bob], &config(&[]), &Facts::default(), NOW);
        assert_eq!(plan.groups.len(), 1);
        assert_eq!(
            plan.groups[0].persons.iter().collect::<Vec<_>>(),
            ["alice@example.com", "bob@example.com"]
        );
    }

    #[test]
    fn a_group_is_announced_once_per_renotify_period() {
        let records = [fixture("assumed-role-ci")];
        let key = "group#arn:aws:iam::111122223333:role/ci/ci-deploy#lambda:CreateFunction#SCP";
        let mut facts = Facts::default();
        facts.announced.insert(key.into(), NOW - Duration::hours(2));
        let held = plan(&records, &config(&[]), &facts, NOW);
        assert_eq!(held.groups[0].key, key);
        assert_eq!(
            held.groups[0].decision,
            Decision::Held {
                last_announced: NOW - Duration::hours(2)
            }
        );
        assert_eq!(held.announcements(), 0);
        facts
            .announced
            .insert(key.into(), NOW - Duration::hours(25));
        let again = plan(&records, &config(&[]), &facts, NOW);
        assert_eq!(again.groups[0].decision, Decision::Announce);
    }

    #[test]
    fn a_group_that_turns_critical_is_announced_again_at_once() {
        let records = [fixture("leaked-key")];
        let key = "group#arn:aws:iam::111122223333:user/svc-reporting#iam:ListUsers#identity-based policy";
        let mut facts = Facts::default();
        facts.announced.insert(key.into(), NOW - Duration::hours(2));
        facts
            .announced_severity
            .insert(key.into(), Severity::Medium);
        let worse = plan(&records, &config(&[]), &facts, NOW);
        assert_eq!(worse.groups[0].key, key);
        assert_eq!(worse.groups[0].severity, Severity::Critical);
        assert_eq!(worse.groups[0].decision, Decision::Announce);
        facts
            .announced_severity
            .insert(key.into(), Severity::Critical);
        let same = plan(&records, &config(&[]), &facts, NOW);
        assert!(matches!(same.groups[0].decision, Decision::Held { .. }));
    }

    #[test]
    fn noise_is_dropped_and_counted_by_reason() {
        let records: Vec<Record> = [
            "not-denied",
            "aws-service",
            "invoked-by-cloudformation",
            "console-internal",
            "console-internal",
            "scanner-access-analyzer",
            "assumed-role-ci",
        ]
        .into_iter()
        .map(fixture)
        .collect();
        let plan = plan(
            &records,
            &config(&[(
                "RULES",
                r#"[{"principal":"ci-deploy","reason":"CI is being set up"}]"#,
            )]),
            &Facts::default(),
            NOW,
        );
        assert!(plan.groups.is_empty());
        assert_eq!(plan.records, 7);
        let counted: BTreeMap<&str, u64> = plan
            .dropped
            .iter()
            .map(|(n, c)| (n.counter(), *c))
            .collect();
        assert_eq!(
            counted,
            BTreeMap::from([
                ("dropped_not_denied", 1),
                ("dropped_service_principal", 1),
                ("dropped_invoked_by_service", 1),
                ("dropped_console_internal", 2),
                ("dropped_scanner", 1),
                ("dropped_operator_rule", 1),
            ])
        );
        assert_eq!(plan.expected["principal ci-deploy (CI is being set up)"], 1);
    }

    #[test]
    fn an_expired_rule_no_longer_silences_and_is_named() {
        let config = config(&[(
            "RULES",
            r#"[{"principal":"ci-deploy","reason":"CI set-up","expires":"2026-11-30"}]"#,
        )]);
        let plan = plan(
            &[fixture("assumed-role-ci")],
            &config,
            &Facts::default(),
            NOW,
        );
        assert_eq!(plan.groups.len(), 1);
        assert!(plan.groups[0].flags.contains(&Flag::ExpiredRule {
            rule: "principal ci-deploy (CI set-up), expires 2026-11-30".into()
        }));
        assert_eq!(
            plan.expired_rules,
            ["principal ci-deploy (CI set-up), expires 2026-11-30"]
        );
    }

    #[test]
    fn a_rule_does_not_silence_root_or_a_new_key_from_a_new_network() {
        let config = config(&[(
            "RULES",
            r#"[{"action":"iam:List*","reason":"reporting migration"},{"action":"s3:*","reason":"noise"}]"#,
        )]);
        let leaked = plan(&[fixture("leaked-key")], &config, &Facts::default(), NOW);
        assert_eq!(leaked.groups.len(), 1, "a new key from a new network");
        let mut known = Facts::default();
        known.known_keys.insert("AKIAZ7LEAKEDEXAMPLE1".into());
        let quiet = plan(&[fixture("leaked-key")], &config, &known, NOW);
        assert!(quiet.groups.is_empty(), "a known key is the rule's");
    }

    #[test]
    fn a_ci_role_hitting_an_scp_names_the_scp() {
        let plan = plan(
            &[fixture("assumed-role-ci")],
            &config(&[]),
            &Facts::default(),
            NOW,
        );
        let group = &plan.groups[0];
        assert_eq!(
            group.denial.policy,
            crate::reason::PolicyType::ServiceControl
        );
        assert!(
            group
                .denial
                .describe()
                .starts_with("explicit deny in an SCP (arn:aws:organizations::")
        );
        assert_eq!(group.severity, Severity::Medium);
    }

    #[test]
    fn a_new_long_term_key_from_a_new_network_is_critical() {
        let records = [fixture("leaked-key")];
        let fresh = plan(&records, &config(&[]), &Facts::default(), NOW);
        let group = &fresh.groups[0];
        assert_eq!(group.severity, Severity::Critical);
        assert!(group.flags.contains(&Flag::NewKeyFromNewNetwork {
            key: "AKIAZ7LEAKEDEXAMPLE1".into(),
            network: "185.220.101.0/24".parse().unwrap(),
        }));
        assert!(fresh.new.keys.contains("AKIAZ7LEAKEDEXAMPLE1"));
        assert!(
            fresh
                .new
                .networks
                .contains(&"185.220.101.0/24".parse().unwrap())
        );

        // A known key from a network never seen: high, not paged.
        let mut known_key = Facts::default();
        known_key.known_keys.insert("AKIAZ7LEAKEDEXAMPLE1".into());
        let elsewhere = plan(&records, &config(&[]), &known_key, NOW);
        assert_eq!(elsewhere.groups[0].severity, Severity::High);
        assert!(
            elsewhere.groups[0]
                .flags
                .contains(&Flag::KnownKeyNewNetwork {
                    key: "AKIAZ7LEAKEDEXAMPLE1".into(),
                    network: "185.220.101.0/24".parse().unwrap(),
                })
        );

        let mut known_network = Facts::default();
        known_network
            .known_networks
            .insert("185.220.101.0/24".parse().unwrap());
        assert_eq!(
            plan(&records, &config(&[]), &known_network, NOW).groups[0].severity,
            Severity::Medium
        );

        let own = plan(
            &records,
            &config(&[("OWN_CIDRS", "185.220.100.0/22")]),
            &Facts::default(),
            NOW,
        );
        assert_eq!(own.groups[0].severity, Severity::Medium);
        assert!(own.groups[0].from_own_network);

        // A session key is new at every session: never a leak by itself.
        let session = plan(
            &[fixture("assumed-role-ci")],
            &config(&[]),
            &Facts::default(),
            NOW,
        );
        assert!(
            !session.groups[0]
                .flags
                .iter()
                .any(|f| matches!(f, Flag::NewKeyFromNewNetwork { .. }))
        );
    }

    #[test]
    fn a_key_seen_in_a_successful_call_is_handed_on_as_known() {
        let plan = plan(
            &[fixture("not-denied")],
            &config(&[]),
            &Facts::default(),
            NOW,
        );
        assert!(plan.groups.is_empty());
        assert!(plan.new.keys.contains("AKIAIOSFODNN7EXAMPLE"));
        assert!(
            plan.new
                .networks
                .contains(&"198.51.100.0/24".parse().unwrap())
        );
        let services = super::plan(
            &[fixture("aws-service")],
            &config(&[]),
            &Facts::default(),
            NOW,
        );
        assert_eq!(
            services.new,
            Seen::default(),
            "a service's calls teach nothing"
        );
    }

    #[test]
    fn root_is_critical() {
        let plan = plan(&[fixture("root")], &config(&[]), &Facts::default(), NOW);
        assert_eq!(plan.groups[0].severity, Severity::Critical);
        assert!(plan.groups[0].flags.contains(&Flag::Root));
        assert_eq!(
            plan.groups[0].denial.policy,
            crate::reason::PolicyType::ResourceControl
        );
    }

    #[test]
    fn a_denied_write_to_a_sensitive_control_plane_is_high() {
        let boundary = plan(
            &[fixture("iam-user-permissions-boundary")],
            &config(&[]),
            &team(),
            NOW,
        );
        assert_eq!(boundary.groups[0].severity, Severity::High);
        assert!(boundary.groups[0].flags.contains(&Flag::SensitiveWrite));

        let admin = plan(
            &[fixture("assumed-role-into-admin")],
            &config(&[]),
            &Facts::default(),
            NOW,
        );
        assert_eq!(
            admin.groups[0].severity,
            Severity::High,
            "AssumeRole into OrgAdmin"
        );

        let mut ordinary = fixture("assumed-role-into-admin");
        ordinary.request_parameters.as_mut().unwrap().role_arn =
            Some("arn:aws:iam::111122223333:role/reports-reader".into());
        let plain = plan(&[ordinary], &config(&[]), &Facts::default(), NOW);
        assert_eq!(
            plain.groups[0].severity,
            Severity::Medium,
            "AssumeRole into an ordinary role"
        );

        // A read of IAM is not a write; the list is the operator's.
        let read = plan(
            &[fixture("leaked-key")],
            &config(&[("OWN_CIDRS", "185.220.101.0/24")]),
            &Facts::default(),
            NOW,
        );
        assert_eq!(read.groups[0].severity, Severity::Medium);
        let narrowed = plan(
            &[fixture("iam-user-permissions-boundary")],
            &config(&[("SENSITIVE_ACTIONS", "kms:PutKeyPolicy")]),
            &team(),
            NOW,
        );
        assert_eq!(narrowed.groups[0].severity, Severity::Medium);
    }

    fn probe(actions: usize, minutes_apart: i64) -> Vec<Record> {
        (0..actions)
            .map(|i| {
                let mut r = at(fixture("leaked-key"), i as i64 * minutes_apart);
                r.event_name = format!("List{i}");
                r
            })
            .collect()
    }

    #[test]
    fn fifteen_distinct_denials_in_ten_minutes_is_reconnaissance() {
        let config = config(&[]);
        let burst = plan(&probe(15, 0), &config, &Facts::default(), NOW);
        assert_eq!(burst.recon.len(), 1);
        let recon = &burst.recon[0];
        assert_eq!(
            recon.key,
            "recon#arn:aws:iam::111122223333:user/svc-reporting"
        );
        assert_eq!(recon.actions.len(), 15);
        assert_eq!(recon.decision, Decision::Announce);
        assert_eq!(burst.groups.len(), 15, "each action is still its own group");
        assert!(
            burst.groups.iter().all(|g| g.decision == Decision::InBurst),
            "the burst's groups are told in its alert"
        );
        assert_eq!(burst.announcements(), 1, "one page, not sixteen");
        assert!(
            recon
                .flags
                .iter()
                .any(|f| matches!(f, Flag::NewKeyFromNewNetwork { .. })),
            "the burst's alert says the key is new"
        );

        assert!(
            plan(&probe(14, 0), &config, &Facts::default(), NOW)
                .recon
                .is_empty()
        );
        // Fifteen over 28 minutes never has fifteen inside ten.
        assert!(
            plan(&probe(15, 2), &config, &Facts::default(), NOW)
                .recon
                .is_empty()
        );
        // The same action fifteen times is a retry loop, not a probe.
        let retries: Vec<Record> = (0..15).map(|m| at(fixture("leaked-key"), m / 2)).collect();
        assert!(
            plan(&retries, &config, &Facts::default(), NOW)
                .recon
                .is_empty()
        );
    }

    #[test]
    fn a_burst_split_across_deliveries_is_still_a_burst() {
        let config = config(&[]);
        let records = probe(15, 0);
        let first = plan(&records[..8], &config, &Facts::default(), NOW);
        assert!(first.recon.is_empty());
        let facts = Facts {
            recent: first.recent.clone(),
            ..Facts::default()
        };
        let second = plan(&records[8..], &config, &facts, NOW);
        assert_eq!(second.recon.len(), 1);
        assert_eq!(second.recon[0].actions.len(), 15);
    }

    #[test]
    fn yesterdays_burst_left_in_the_state_is_not_announced_again() {
        let config = config(&[]);
        let records = probe(15, 0);
        let yesterday = plan(&records, &config, &Facts::default(), NOW);
        assert_eq!(yesterday.recon.len(), 1);
        // A day later, TTL has not yet removed the window; one more denial.
        let facts = Facts {
            recent: yesterday.recent.clone(),
            ..Facts::default()
        };
        let today = plan(
            &[at(fixture("leaked-key"), 24 * 60)],
            &config,
            &facts,
            NOW + Duration::days(1),
        );
        assert!(today.recon.is_empty(), "{:?}", today.recon);
    }

    #[test]
    fn a_principal_s_window_keeps_its_latest_calls_only() {
        let records: Vec<Record> = (0..RECENT_KEPT + 500)
            .map(|i| {
                let mut r = fixture("leaked-key");
                r.event_name = format!("List{i}");
                r
            })
            .collect();
        let plan = plan(&records, &config(&[]), &Facts::default(), NOW);
        let kept = &plan.recent["arn:aws:iam::111122223333:user/svc-reporting"];
        assert_eq!(kept.len(), RECENT_KEPT);
        assert_eq!(plan.recon.len(), 1, "still a burst");
    }

    #[test]
    fn only_the_window_is_kept_for_the_next_batch() {
        let plan = plan(&probe(6, 4), &config(&[]), &Facts::default(), NOW);
        let kept = &plan.recent["arn:aws:iam::111122223333:user/svc-reporting"];
        let minutes: Vec<String> = kept.iter().map(|(_, a)| a.clone()).collect();
        // Last at minute 20: minutes 12, 16 and 20 are within ten minutes.
        assert_eq!(minutes, ["iam:List3", "iam:List4", "iam:List5"]);
    }

    #[test]
    fn first_sightings_are_flagged_and_handed_on() {
        let plan = plan(
            &[fixture("assumed-role-ci")],
            &config(&[]),
            &Facts::default(),
            NOW,
        );
        let group = &plan.groups[0];
        assert!(group.flags.contains(&Flag::NewPrincipal));
        assert!(group.flags.contains(&Flag::NewRegion {
            region: "eu-central-1".into()
        }));
        assert_eq!(
            plan.new,
            Seen {
                principals: BTreeSet::from(["arn:aws:iam::111122223333:role/ci/ci-deploy".into()]),
                keys: BTreeSet::new(),
                networks: BTreeSet::from(["203.0.113.0/24".parse().unwrap()]),
                regions: BTreeSet::from(["eu-central-1".into()]),
            }
        );
        assert_eq!(
            network("2001:db8:1:2::7".parse().unwrap()).to_string(),
            "2001:db8:1::/48"
        );
    }

    #[test]
    fn what_to_read_covers_every_group_and_sighting_the_plan_can_use() {
        let records: Vec<Record> = ["assumed-role-ci", "leaked-key", "console-internal"]
            .into_iter()
            .map(fixture)
            .collect();
        let wanted = wanted(&records);
        let planned = plan(&records, &config(&[]), &Facts::default(), NOW);
        for group in &planned.groups {
            assert!(wanted.announced.contains(&group.key), "{}", group.key);
        }
        assert!(
            wanted
                .announced
                .contains("recon#arn:aws:iam::111122223333:user/svc-reporting")
        );
        assert!(wanted.seen.keys.contains("AKIAZ7LEAKEDEXAMPLE1"));
        assert_eq!(wanted.announced.len(), 4, "console noise forms no group");
    }

    #[test]
    fn a_principal_too_long_for_a_table_key_still_has_one_key() {
        let long = "x".repeat(3000);
        let key = bounded(format!("recon#{long}"));
        assert!(key.len() <= 1024, "{}", key.len());
        assert_eq!(key, bounded(format!("recon#{long}")));
        assert_ne!(key, bounded(format!("recon#{long}y")));
        assert_eq!(bounded("recon#short".into()), "recon#short");
    }

    #[test]
    fn groups_are_ordered_most_severe_first() {
        let records: Vec<Record> = [
            "iam-user-no-identity-policy",
            "iam-user-no-identity-policy",
            "root",
            "iam-user-permissions-boundary",
        ]
        .into_iter()
        .map(fixture)
        .collect();
        let plan = plan(&records, &config(&[]), &team(), NOW);
        let order: Vec<Severity> = plan.groups.iter().map(|g| g.severity).collect();
        assert_eq!(
            order,
            [Severity::Critical, Severity::High, Severity::Medium]
        );
    }
}
