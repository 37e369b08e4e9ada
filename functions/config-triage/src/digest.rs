//! The periodic digest: every open violation, less the exempted, counted by
//! severity and rule, with the oldest listed, posted to the default route.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use shared::Deadline;
use shared::report::{Action, Report};
use shared::slack::{Finding, Message, build_messages};
use time::OffsetDateTime;

use crate::change::{Compliance, ComplianceChange, state_key};
use crate::compliance::{self, OpenViolation};
use crate::error::Error;
use crate::exemption::{Exemptions, Outcome, Subject};
use crate::plan::human_duration;
use crate::resource::ResourceRef;
use crate::severity::Severity;
use crate::state::Write;
use crate::{App, apply, item, notify, plan};
use shared::routing::DEFAULT_ROUTE;

/// At most this many rules are listed by name; the rest are counted.
pub const MAX_RULES_LISTED: usize = 25;

/// Kept back from the listing for posting the digest: a listing that runs
/// to the deadline would leave nothing to post it with, and the INCOMPLETE
/// digest would never arrive. Covers the webhook read and a few messages,
/// each with its retries cut to what is left.
pub const POST_RESERVE: Duration = Duration::from_secs(10);

/// One open violation, ready for the digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub violation: OpenViolation,
    pub severity: Severity,
    /// When it became non-compliant, as far as toilkit knows (epoch seconds).
    pub since: Option<i64>,
    pub name: Option<String>,
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Digest {
    pub total: usize,
    pub by_severity: BTreeMap<Severity, usize>,
    /// (rule, severity, open violations), most violations first.
    pub by_rule: Vec<(String, Severity, usize)>,
    pub oldest: Vec<Entry>,
    pub exempted: usize,
    pub expired_exemptions: Vec<String>,
    pub stopped_early: bool,
}

/// Counts and orders the entries (pure).
pub fn summarize(
    entries: Vec<Entry>,
    exempted: usize,
    expired_exemptions: Vec<String>,
    oldest: usize,
    stopped_early: bool,
) -> Digest {
    let mut by_severity = BTreeMap::new();
    let mut rules: BTreeMap<String, (Severity, usize)> = BTreeMap::new();
    for e in &entries {
        *by_severity.entry(e.severity).or_insert(0) += 1;
        rules
            .entry(e.violation.rule.clone())
            .or_insert((e.severity, 0))
            .1 += 1;
    }
    let mut by_rule: Vec<(String, Severity, usize)> =
        rules.into_iter().map(|(r, (s, n))| (r, s, n)).collect();
    by_rule.sort_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    let total = entries.len();
    let mut sorted = entries;
    // Unknown ages sort last: they are the least informative.
    sorted.sort_by_key(|e| {
        (
            e.since.unwrap_or(i64::MAX),
            e.severity,
            e.violation.resource_id.clone(),
        )
    });
    sorted.truncate(oldest);
    Digest {
        total,
        by_severity,
        by_rule,
        oldest: sorted,
        exempted,
        expired_exemptions,
        stopped_early,
    }
}

impl Digest {
    pub fn headline(&self) -> String {
        let counts: Vec<String> = Severity::ALL
            .iter()
            .map(|s| format!("{} {}", self.by_severity.get(s).copied().unwrap_or(0), s))
            .collect();
        let mut line = format!(
            "{} open violation(s): {}; {} exempted",
            self.total,
            counts.join(", "),
            self.exempted
        );
        if !self.expired_exemptions.is_empty() {
            line.push_str(&format!(
                "; {} exemption(s) expired",
                self.expired_exemptions.len()
            ));
        }
        if self.stopped_early {
            line.push_str("; INCOMPLETE: the listing stopped at the time limit");
        }
        line
    }

    pub fn messages(&self, now: OffsetDateTime) -> Vec<Message> {
        let mut findings = Vec::new();
        if !self.by_rule.is_empty() {
            let mut fields: Vec<(String, String)> = self
                .by_rule
                .iter()
                .take(MAX_RULES_LISTED)
                .map(|(rule, sev, n)| (rule.clone(), format!("{n} ({sev})")))
                .collect();
            if self.by_rule.len() > MAX_RULES_LISTED {
                fields.push((
                    "Other rules".into(),
                    format!("{}", self.by_rule.len() - MAX_RULES_LISTED),
                ));
            }
            findings.push(Finding {
                title: "By rule".into(),
                fields,
                body: None,
            });
        }
        for e in &self.oldest {
            let v = &e.violation;
            let mut fields = vec![
                ("Rule".to_owned(), format!("{} ({})", v.rule, e.severity)),
                (
                    "Resource".to_owned(),
                    format!("{} {}", v.resource_type, v.resource_id),
                ),
                (
                    "Account / region".to_owned(),
                    format!("{} / {}", v.account, v.region),
                ),
                (
                    "Owner".to_owned(),
                    e.owner.clone().unwrap_or_else(|| "(no owner tag)".into()),
                ),
            ];
            if let Some(since) = e.since {
                let age = (now.unix_timestamp() - since).max(0) as u64;
                fields.push(("Non-compliant for".into(), human_duration(age)));
            }
            if let Some(a) = &v.annotation {
                fields.push(("Why".into(), a.clone()));
            }
            let name = e.name.clone().unwrap_or_else(|| v.resource_id.clone());
            findings.push(Finding {
                title: format!("Oldest: {name}"),
                fields,
                body: None,
            });
        }
        if !self.expired_exemptions.is_empty() {
            findings.push(Finding {
                title: "Expired exemptions (no longer applied; renew or remove them)".into(),
                fields: self
                    .expired_exemptions
                    .iter()
                    .map(|e| ("Expired".to_owned(), e.clone()))
                    .collect(),
                body: None,
            });
        }
        build_messages(
            "AWS Config compliance digest",
            Some(&self.headline()),
            &findings,
        )
    }

    pub fn to_json(&self) -> Value {
        json!({
            "total": self.total,
            "by_severity": self.by_severity.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "by_rule": self.by_rule.iter().map(|(r, s, n)| json!({"rule": r, "severity": s, "open": n})).collect::<Vec<_>>(),
            "oldest": self.oldest.iter().map(|e| json!({
                "rule": e.violation.rule,
                "resource_type": e.violation.resource_type,
                "resource_id": e.violation.resource_id,
                "account": e.violation.account,
                "region": e.violation.region,
                "severity": e.severity,
                "since": e.since,
                "owner": e.owner,
            })).collect::<Vec<_>>(),
            "exempted": self.exempted,
            "expired_exemptions": self.expired_exemptions,
        })
    }
}

/// Violations enriched and matched against the state per batch; the time
/// left is checked before each, so a long listing still leaves the reserve.
const BATCH: usize = 100;

/// Announces the held violations that are due, then lists, filters,
/// summarizes and posts the digest. `event_id` (the scheduled event's `id`)
/// makes the post happen once per event, however often Lambda retries it.
pub async fn run(
    app: &App,
    exemptions: &Exemptions,
    home: &Home,
    event_id: Option<&str>,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    let work = deadline.less(POST_RESERVE);
    // First, and from the state table: a listing that always reaches the
    // deadline would otherwise never get to them.
    let held_failure = announce_held(app, exemptions, home, now, &work, report).await;
    let listing = match &app.settings.aggregator_name {
        Some(aggregator) => compliance::list_aggregate(&app.config, aggregator, &work).await?,
        None => compliance::list_account(&app.config, &home.account, &home.region, &work).await?,
    };
    report.add("rules_non_compliant", listing.rules as u64);
    report.add("config_pages", listing.pages as u64);
    report.add("open_violations_listed", listing.violations.len() as u64);
    let mut stopped_early = listing.stopped_early;
    if stopped_early {
        report.stop_early("deadline reached while listing compliance; the digest is partial");
    }
    // One entry per rule and resource: Config may report a resource once per
    // evaluation mode, and DynamoDB refuses duplicate keys in one batch.
    let mut seen = std::collections::HashSet::new();
    let mut violations = listing.violations;
    violations.retain(|v| seen.insert(key_of(v)));
    let mut entries = Vec::new();
    let mut exempted = 0;
    let mut examined = 0;
    for batch in violations.chunks(BATCH) {
        if work.expired() {
            if !stopped_early {
                report.stop_early(
                    "deadline reached while reading tags and state; the digest is partial",
                );
            }
            stopped_early = true;
            break;
        }
        examined += batch.len();
        let refs: Vec<ResourceRef> = batch
            .iter()
            .map(|v| ResourceRef {
                account: v.account.clone(),
                region: v.region.clone(),
                resource_type: v.resource_type.clone(),
                resource_id: v.resource_id.clone(),
            })
            .collect();
        let resources = app.enricher.enrich(&refs).await;
        let keys: Vec<String> = batch.iter().map(key_of).collect();
        let states = app.state.get_many(&keys).await?;
        for ((v, r), key) in batch.iter().zip(&refs).zip(&keys) {
            let resource = resources.get(r).cloned().unwrap_or_default();
            let outcome = exemptions.check(
                &Subject {
                    rule: &v.rule,
                    resource_id: &v.resource_id,
                    arn: resource.arn.as_deref(),
                    resource_type: &v.resource_type,
                    tags: &resource.tags,
                },
                now,
            );
            if let Outcome::Exempt(e) = outcome {
                exempted += 1;
                report.item(item::exempted(key.clone(), v, &e));
                report.skip(target_of(v), format!("exempted: {}", e.describe()));
                continue;
            }
            let since = states
                .get(key)
                .and_then(|s| s.since)
                .into_iter()
                .chain(v.evaluated_at)
                .min();
            let entry = Entry {
                severity: app.settings.severity.severity_of(&v.rule),
                since,
                name: resource.name.clone(),
                owner: app.settings.routes.owner(&resource.tags).map(str::to_owned),
                violation: v.clone(),
            };
            report.item(item::listed(key.clone(), &entry));
            entries.push(entry);
        }
    }
    if examined < violations.len() {
        report.add(
            "open_violations_not_examined",
            (violations.len() - examined) as u64,
        );
    }
    let expired: Vec<String> = exemptions
        .expired(now)
        .iter()
        .map(|e| e.describe())
        .collect();
    let digest = summarize(
        entries,
        exempted,
        expired,
        app.settings.digest_oldest,
        stopped_early,
    );
    for s in Severity::ALL {
        report.add(
            &format!("open_{s}"),
            digest.by_severity.get(&s).copied().unwrap_or(0) as u64,
        );
    }
    report.detail("digest", digest.to_json());
    let action = Action::new("post_digest", DEFAULT_ROUTE, digest.headline());
    if app.settings.dry_run {
        report.plan(action);
        return Ok(());
    }
    report.plan(action.clone());
    // A held violation that could not be announced fails the run so Lambda
    // retries it; the retry finds this claim and does not post again.
    let mut claimed = false;
    if let Some(id) = event_id {
        match app.state.claim_digest(id, now.unix_timestamp()).await {
            Ok(Write::Done) => claimed = true,
            Ok(Write::Conflict) => {
                report.incr("digest_already_posted");
                report.skip(
                    "digest",
                    format!(
                        "already posted (in whole or in part) for scheduled event {id}: this is a retry of that run"
                    ),
                );
                return held_failure.map_or(Ok(()), Err);
            }
            // Posted anyway: a digest twice is better than none.
            Err(e) => report.fail("digest", "claim_digest", &e),
        }
    }
    match notify::post_digest(app, &digest.messages(now), deadline).await {
        Ok(()) => {
            report.applied(action);
            held_failure.map_or(Ok(()), Err)
        }
        Err(mut error) => {
            // Given back only when nothing reached Slack: a retry that posted
            // again would show people the delivered parts twice.
            if let Error::DigestPartlyPosted {
                delivered,
                claimed: held,
                ..
            } = &mut error
            {
                *held = claimed;
                report.add("digest_parts_delivered", *delivered as u64);
            } else if claimed
                && let Some(id) = event_id
                && let Err(e) = app.state.release_digest(id).await
            {
                report.fail("digest", "release_digest_claim", &e);
            }
            report.fail("digest", "post_digest", &error);
            Err(error)
        }
    }
}

fn key_of(v: &OpenViolation) -> String {
    state_key(
        &v.account,
        &v.region,
        &v.rule,
        &v.resource_type,
        &v.resource_id,
    )
}

fn target_of(v: &OpenViolation) -> String {
    format!("{} {} ({})", v.resource_type, v.resource_id, v.rule)
}

/// The scheduled held-check on its own (`{"action": "announce_held"}`), for
/// a schedule more frequent than the digest's: a held critical violation
/// then waits for that schedule, not for the next digest.
pub async fn run_held(
    app: &App,
    exemptions: &Exemptions,
    home: &Home,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    announce_held(app, exemptions, home, now, deadline, report)
        .await
        .map_or(Ok(()), Err)
}

/// Announces the violations held back as flapping whose window has passed:
/// Config sends no event while a violation stays broken, so without this a
/// held one (even a critical one) would never be told. They are read from
/// the state table (what was held, and when), and each is checked with
/// Config for that one resource before it is announced, so this takes a few
/// calls per held violation however large the account. Each goes through the
/// same claim, delivery and release as an event's; the first failure is
/// returned.
async fn announce_held(
    app: &App,
    exemptions: &Exemptions,
    home: &Home,
    now: OffsetDateTime,
    work: &Deadline,
    report: &mut Report,
) -> Option<Error> {
    let (held, complete) = match app.state.held(work).await {
        Ok(found) => found,
        Err(e) => {
            report.fail("held violations", "read_held", &e);
            return Some(e);
        }
    };
    if !complete {
        report.stop_early(
            "deadline reached while reading held violations from the state table; the rest are left for the next scheduled run",
        );
    }
    let due: Vec<_> = held
        .into_iter()
        .filter(|h| {
            plan::decide_held(Some(&h.record), &Outcome::None, now, app.settings.renotify)
                .notice
                .is_some()
        })
        .collect();
    let mut failure = None;
    for (i, h) in due.iter().enumerate() {
        if work.expired() {
            report.stop_early(format!(
                "deadline: {} held violation(s) left for the next scheduled run",
                due.len() - i
            ));
            break;
        }
        let target = format!(
            "{} {} ({})",
            h.labels.resource_type, h.labels.resource_id, h.labels.rule
        );
        report.incr("held_due");
        // Only this account and region can be asked; elsewhere the state
        // table is all there is, and a notifier in doubt tells.
        let current = if h.account == home.account && h.region == home.region {
            match compliance::still_open(
                &app.config,
                &h.account,
                &h.region,
                &h.labels.rule,
                &h.labels.resource_type,
                &h.labels.resource_id,
                work,
            )
            .await
            {
                Ok(Some(v)) => Some(v),
                Ok(None) => {
                    report.incr("held_no_longer_open");
                    report.skip(
                        target,
                        "held as flapping, but Config no longer finds it non-compliant: not announced",
                    );
                    continue;
                }
                Err(e) => {
                    tracing::warn!(%e, %target, "held violation not confirmed with Config");
                    report.incr("held_unconfirmed");
                    None
                }
            }
        } else {
            report.incr("held_unconfirmed");
            None
        };
        if app.settings.dry_run {
            report.skip(target, "held as flapping and due; dry run, not announced");
            continue;
        }
        let change = ComplianceChange {
            account: h.account.clone(),
            region: h.region.clone(),
            rule: h.labels.rule.clone(),
            resource_type: h.labels.resource_type.clone(),
            resource_id: h.labels.resource_id.clone(),
            new: Compliance::NonCompliant,
            old: Some(Compliance::NonCompliant),
            annotation: current.as_ref().and_then(|v| v.annotation.clone()),
            at: current
                .as_ref()
                .and_then(|v| v.evaluated_at)
                .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                .unwrap_or(now),
        };
        if let Err(e) = apply::announce_held(app, exemptions, &change, now, work, report).await {
            failure.get_or_insert(e);
        }
    }
    failure
}

/// The account and region the function runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    pub account: String,
    pub region: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn entry(rule: &str, id: &str, severity: Severity, since: Option<i64>) -> Entry {
        Entry {
            violation: OpenViolation {
                rule: rule.into(),
                account: "123456789012".into(),
                region: "us-east-1".into(),
                resource_type: "AWS::S3::Bucket".into(),
                resource_id: id.into(),
                annotation: None,
                evaluated_at: since,
            },
            severity,
            since,
            name: None,
            owner: None,
        }
    }

    #[test]
    fn counts_by_severity_and_rule_and_lists_the_oldest_first() {
        let d = summarize(
            vec![
                entry("s3-a", "b1", Severity::High, Some(300)),
                entry("s3-a", "b2", Severity::High, Some(100)),
                entry("ssh", "sg", Severity::Critical, Some(200)),
                entry("tags", "t", Severity::Low, None),
            ],
            2,
            vec!["rule x (old)".into()],
            3,
            false,
        );
        assert_eq!(d.total, 4);
        assert_eq!(d.by_severity[&Severity::High], 2);
        assert_eq!(d.by_severity[&Severity::Critical], 1);
        assert_eq!(d.by_rule[0], ("ssh".to_owned(), Severity::Critical, 1));
        assert_eq!(d.by_rule[1], ("s3-a".to_owned(), Severity::High, 2));
        let oldest: Vec<&str> = d
            .oldest
            .iter()
            .map(|e| e.violation.resource_id.as_str())
            .collect();
        assert_eq!(oldest, ["b2", "sg", "b1"]);
        assert_eq!(
            d.headline(),
            "4 open violation(s): 1 critical, 2 high, 0 medium, 1 low; 2 exempted; 1 exemption(s) expired"
        );
        let text = serde_json::to_string(&d.messages(datetime!(2026-01-01 0:00 UTC))).unwrap();
        assert!(text.contains("Expired exemptions"), "{text}");
        assert!(text.contains("Oldest: b2"), "{text}");
    }
}
