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
use crate::error::TriageError;
use crate::exemption::{Exemptions, Outcome, Subject};
use crate::plan::human_duration;
use crate::resource::ResourceRef;
use crate::routing::DEFAULT_ROUTE;
use crate::severity::Severity;
use crate::{App, apply, plan};

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

/// Lists, filters, summarizes and posts the digest.
pub async fn run(
    app: &App,
    exemptions: &Exemptions,
    home: &Home,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), TriageError> {
    let work = deadline.less(POST_RESERVE);
    let listing = match &app.settings.aggregator_name {
        Some(aggregator) => compliance::list_aggregate(&app.config, aggregator, &work).await?,
        None => compliance::list_account(&app.config, &home.account, &home.region, &work).await?,
    };
    report.add("rules_non_compliant", listing.rules as u64);
    report.add("config_pages", listing.pages as u64);
    report.add("open_violations_listed", listing.violations.len() as u64);
    if listing.stopped_early {
        report.stop_early("deadline reached while listing compliance; the digest is partial");
    }
    // One entry per rule and resource: Config may report a resource once per
    // evaluation mode, and DynamoDB refuses duplicate keys in one batch.
    let mut seen = std::collections::HashSet::new();
    let mut listing = listing;
    listing.violations.retain(|v| {
        seen.insert(state_key(
            &v.account,
            &v.region,
            &v.rule,
            &v.resource_type,
            &v.resource_id,
        ))
    });
    let refs: Vec<ResourceRef> = listing
        .violations
        .iter()
        .map(|v| ResourceRef {
            account: v.account.clone(),
            region: v.region.clone(),
            resource_type: v.resource_type.clone(),
            resource_id: v.resource_id.clone(),
        })
        .collect();
    let resources = app.enricher.enrich(&refs).await;
    let keys: Vec<String> = listing
        .violations
        .iter()
        .map(|v| {
            state_key(
                &v.account,
                &v.region,
                &v.rule,
                &v.resource_type,
                &v.resource_id,
            )
        })
        .collect();
    let states = app.state.get_many(&keys).await?;
    let mut entries = Vec::new();
    let mut exempted = 0;
    let mut held = Vec::new();
    for ((v, r), key) in listing.violations.into_iter().zip(&refs).zip(&keys) {
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
            report.skip(target_of(&v), format!("exempted: {}", e.describe()));
            continue;
        }
        if states.get(key).is_some_and(|s| {
            plan::decide_held(Some(s), &outcome, now, app.settings.renotify)
                .notice
                .is_some()
        }) {
            held.push(v.clone());
        }
        let since = states
            .get(key)
            .and_then(|s| s.since)
            .into_iter()
            .chain(v.evaluated_at)
            .min();
        entries.push(Entry {
            severity: app.settings.severity.severity_of(&v.rule),
            since,
            name: resource.name.clone(),
            owner: app.settings.routes.owner(&resource.tags).map(str::to_owned),
            violation: v,
        });
    }
    let held_failure = if app.settings.dry_run {
        for v in &held {
            report.skip(
                target_of(v),
                "held as flapping and due; dry run, not announced",
            );
        }
        None
    } else {
        announce_held(app, exemptions, &held, now, &work, report).await
    };
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
        listing.stopped_early,
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
    let webhook = app
        .secrets
        .get(&app.settings.routes.default)
        .await
        .map_err(|source| TriageError::Webhook {
            route: DEFAULT_ROUTE.into(),
            source,
        })?;
    match app
        .slack
        .send_all(&webhook, &digest.messages(now), deadline)
        .await
    {
        Ok(()) => {
            report.applied(action);
            // The digest is out; a held violation that could not be
            // announced still fails the run, so Lambda retries it.
            held_failure.map_or(Ok(()), Err)
        }
        Err(source) => {
            let error = TriageError::Slack {
                target: "digest".into(),
                route: DEFAULT_ROUTE.into(),
                source,
            };
            report.fail("digest", "post_digest", &error);
            Err(error)
        }
    }
}

fn target_of(v: &OpenViolation) -> String {
    format!("{} {} ({})", v.resource_type, v.resource_id, v.rule)
}

/// Announces the violations held back as flapping whose window has passed:
/// Config sends no event while a violation stays broken, so without this a
/// held one (even a critical one) would never be told. Each goes through the
/// same claim, delivery and release as an event's; the first failure is
/// returned once the digest is posted.
async fn announce_held(
    app: &App,
    exemptions: &Exemptions,
    held: &[OpenViolation],
    now: OffsetDateTime,
    work: &Deadline,
    report: &mut Report,
) -> Option<TriageError> {
    let mut failure = None;
    for (i, v) in held.iter().enumerate() {
        if work.expired() {
            report.stop_early(format!(
                "deadline: {} held violation(s) left for the next scheduled run",
                held.len() - i
            ));
            break;
        }
        let at = v
            .evaluated_at
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
            .unwrap_or(now);
        let change = ComplianceChange {
            account: v.account.clone(),
            region: v.region.clone(),
            rule: v.rule.clone(),
            resource_type: v.resource_type.clone(),
            resource_id: v.resource_id.clone(),
            new: Compliance::NonCompliant,
            old: Some(Compliance::NonCompliant),
            annotation: v.annotation.clone(),
            at,
        };
        report.incr("held_due");
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
