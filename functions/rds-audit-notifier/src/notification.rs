//! The Slack messages for a batch's alerts: one message (split into parts
//! when long) per instance, events grouped by user under a heading, each
//! showing who, from where, when, the database, the category and the
//! redacted statement. Each message part carries a key derived from the log
//! event ids it shows, which is what the idempotency table records.

use std::collections::{BTreeMap, HashSet};

use shared::slack::{Finding, Message, build_messages};

use crate::alert::Alert;
use crate::classify::Category;
use crate::dialect::Source;
use crate::event::format_time;

/// Events shown in full per invocation; beyond this, events are summarised
/// per instance and user (counted, never dropped), so a mass migration does
/// not flood the channel or outlast the invocation at Slack's one message
/// per second.
pub const MAX_DETAILED: usize = 100;

/// One message part to post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Identifies this part by the log events it shows: the idempotency key.
    pub key: String,
    pub instance: String,
    /// 1-based part number of this instance's message, and how many parts.
    pub part: usize,
    pub parts: usize,
    /// Alerts this part shows in detail or summarises.
    pub alerts: usize,
    pub message: Message,
}

/// Builds every message part for `alerts` (oldest first).
pub fn deliveries(source: &Source, alerts: &[Alert]) -> Vec<Delivery> {
    let mut instances: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, alert) in alerts.iter().enumerate() {
        match instances
            .iter_mut()
            .find(|(name, _)| *name == alert.instance)
        {
            Some((_, list)) => list.push(i),
            None => instances.push((&alert.instance, vec![i])),
        }
    }
    let mut out = Vec::new();
    for (instance, indexes) in instances {
        let mut users: Vec<(&str, Vec<usize>)> = Vec::new();
        for &i in &indexes {
            match users.iter_mut().find(|(u, _)| *u == alerts[i].user) {
                Some((_, list)) => list.push(i),
                None => users.push((&alerts[i].user, vec![i])),
            }
        }
        // The findings, and beside each the log event ids and the number of
        // alerts it stands for: kept apart, so the findings go to the
        // message builder without a copy.
        let mut cards: Vec<Finding> = Vec::new();
        let mut findings: Vec<(Vec<&str>, usize)> = Vec::new();
        for (user, list) in &users {
            let group: Vec<&Alert> = list.iter().map(|&i| &alerts[i]).collect();
            cards.push(Finding {
                title: format!("👤 {user}: {}", count_phrase(&group)),
                fields: vec![("From".to_owned(), hosts(&group))],
                body: None,
            });
            findings.push((Vec::new(), 0));
            let (detailed, overflow): (Vec<usize>, Vec<usize>) =
                list.iter().partition(|&&i| i < MAX_DETAILED);
            for i in detailed {
                let alert = &alerts[i];
                cards.push(event_finding(alert));
                findings.push((ids(&[alert]), 1));
            }
            if !overflow.is_empty() {
                let rest: Vec<&Alert> = overflow.iter().map(|&i| &alerts[i]).collect();
                cards.push(overflow_finding(user, &rest));
                findings.push((ids(&rest), rest.len()));
            }
        }
        let group: Vec<&Alert> = indexes.iter().map(|&i| &alerts[i]).collect();
        let title = format!("RDS audit: {instance}: {}", count_phrase(&group));
        let summary = summary(source, &group, users.len());
        let messages = build_messages(&title, Some(&summary), &cards);
        let parts = messages.len();
        let mut next = 0;
        for (n, message) in messages.into_iter().enumerate() {
            // Each part holds a header, the context line, then its sections.
            let sections = message.blocks().len().saturating_sub(2);
            let shown = &findings[next..(next + sections).min(findings.len())];
            next += sections;
            let mut event_ids: Vec<&str> = shown
                .iter()
                .flat_map(|(ids, _)| ids.iter().copied())
                .collect();
            // Each user's ids tend to come in runs already in order, which the stable
            // sort merges instead of partitioning them all; equal ids are
            // identical, so the order is the unstable sort's.
            event_ids.sort();
            out.push(Delivery {
                key: key(&source.log_group, instance, &event_ids),
                instance: instance.to_owned(),
                part: n + 1,
                parts,
                alerts: shown.iter().map(|(_, n)| n).sum(),
                message,
            });
        }
    }
    out
}

fn ids<'a>(alerts: &[&'a Alert]) -> Vec<&'a str> {
    alerts
        .iter()
        .flat_map(|a| a.event_ids.iter().map(String::as_str))
        .collect()
}

fn event_finding(alert: &Alert) -> Finding {
    let labels: Vec<&str> = alert.categories.iter().map(Category::label).collect();
    let mut fields = vec![
        ("Who".to_owned(), alert.user.clone()),
        ("From".to_owned(), alert.host.clone()),
        ("When".to_owned(), alert.time.clone()),
        ("Database".to_owned(), alert.database.clone()),
        ("Category".to_owned(), alert.categories.names()),
        ("Result".to_owned(), alert.outcome.clone()),
    ];
    if let Some(object) = &alert.object {
        fields.push(("Object".to_owned(), object.clone()));
    }
    if let Some(note) = alert.note {
        fields.push(("Note".to_owned(), note.to_owned()));
    }
    Finding {
        title: format!("{} · {}", labels.join(" + "), alert.operation),
        fields,
        body: alert.statement.clone(),
    }
}

fn overflow_finding(user: &str, rest: &[&Alert]) -> Finding {
    Finding {
        title: format!(
            "…and {} more by {user}, not shown in detail (the function's report lists them)",
            rest.len()
        ),
        fields: vec![
            ("Categories".to_owned(), category_counts(rest)),
            ("Between".to_owned(), time_span(rest)),
        ],
        body: None,
    }
}

fn summary(source: &Source, group: &[&Alert], users: usize) -> String {
    let cluster = group
        .first()
        .and_then(|a| a.cluster.as_deref())
        .map(|c| format!(" · cluster {c}"))
        .unwrap_or_default();
    format!(
        "{}{cluster} · {users} user(s) · {} · {}",
        source.log_group,
        category_counts(group),
        time_span(group)
    )
}

fn count_phrase(group: &[&Alert]) -> String {
    let n = group.len();
    let failed = group
        .iter()
        .filter(|a| a.categories.contains(Category::FailedLogin))
        .count();
    let noun = if n == 1 { "event" } else { "events" };
    if failed == n {
        format!("{n} failed login{}", if n == 1 { "" } else { "s" })
    } else {
        format!("{n} {noun}")
    }
}

/// `ddl 2, account 1`.
fn category_counts(group: &[&Alert]) -> String {
    let mut counts: BTreeMap<Category, usize> = BTreeMap::new();
    for alert in group {
        for c in alert.categories.iter() {
            *counts.entry(c).or_default() += 1;
        }
    }
    counts
        .iter()
        .map(|(c, n)| format!("{} {n}", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn time_span(group: &[&Alert]) -> String {
    let first = group.iter().map(|a| a.time_us).min().unwrap_or_default();
    let last = group.iter().map(|a| a.time_us).max().unwrap_or_default();
    if first / 1_000_000 == last / 1_000_000 {
        format_time(first)
    } else {
        format!("{} – {}", format_time(first), format_time(last))
    }
}

fn hosts(group: &[&Alert]) -> String {
    // A set alongside the list: a mass change from many clients would make
    // a linear search quadratic in the batch.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut hosts: Vec<&str> = Vec::new();
    for a in group {
        if seen.insert(&a.host) {
            hosts.push(&a.host);
        }
    }
    if hosts.len() > 5 {
        format!("{} and {} more", hosts[..5].join(", "), hosts.len() - 5)
    } else {
        hosts.join(", ")
    }
}

/// A stable key for a message part: FNV-1a of the group and the sorted log
/// event ids. CloudWatch Logs event ids are unique, so a retried batch gives
/// the same keys, and a different batch different ones.
fn key(log_group: &str, instance: &str, event_ids: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [log_group, instance]
        .into_iter()
        .chain(event_ids.iter().copied())
    {
        for b in part.bytes().chain(std::iter::once(b'\n')) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("rds-audit-notifier#{hash:016x}#{}", event_ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(i: usize, user: &str, instance: &str) -> Alert {
        Alert {
            instance: instance.into(),
            cluster: None,
            user: user.into(),
            host: format!("10.0.0.{}", i % 7),
            database: "appdb".into(),
            time_us: 1_700_000_000_000_000 + i as i64 * 1_000_000,
            time: format_time(1_700_000_000_000_000 + i as i64 * 1_000_000),
            categories: [Category::Ddl].into_iter().collect(),
            operation: "DROP TABLE".into(),
            outcome: "ok".into(),
            statement: Some(format!("DROP TABLE t{i}")),
            object: None,
            note: None,
            event_ids: vec![format!("{i:056}")],
        }
    }

    fn text(d: &Delivery) -> String {
        serde_json::to_string(&d.message).unwrap()
    }

    #[test]
    fn grouped_by_instance_then_user_with_every_field() {
        let source = Source::new("/aws/rds/cluster/c/audit", "s");
        let alerts = vec![
            alert(0, "admin", "i-1"),
            alert(1, "bob", "i-2"),
            alert(2, "admin", "i-1"),
        ];
        let out = deliveries(&source, &alerts);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].instance, "i-1");
        assert_eq!(out[0].alerts, 2);
        let t = text(&out[0]);
        for needle in [
            "RDS audit: i-1: 2 events",
            "👤 admin: 2 events",
            "*Who:* admin",
            "*From:* 10.0.0.2",
            "*When:* 2023-11-14 22:13:22 UTC",
            "*Database:* appdb",
            "*Category:* ddl",
            "DROP TABLE t2",
            "Schema change · DROP TABLE",
        ] {
            assert!(t.contains(needle), "{needle} missing in {t}");
        }
        assert!(!t.contains("bob"));
        assert_ne!(out[0].key, out[1].key);
        // The same alerts give the same keys.
        assert_eq!(deliveries(&source, &alerts), out);
    }

    #[test]
    fn many_alerts_split_into_parts_and_the_rest_is_summarised() {
        let source = Source::new("/aws/rds/instance/db/audit", "s");
        let alerts: Vec<Alert> = (0..130)
            .map(|i| alert(i, if i % 2 == 0 { "a" } else { "b" }, "db"))
            .collect();
        let out = deliveries(&source, &alerts);
        assert!(out.len() >= 3, "{}", out.len());
        assert_eq!(
            out.iter().map(|d| d.alerts).sum::<usize>(),
            130,
            "every alert shown or summarised"
        );
        assert!(out.iter().all(|d| d.parts == out.len()));
        let all: String = out.iter().map(text).collect();
        assert_eq!(all.matches("*Who:*").count(), MAX_DETAILED);
        assert!(all.contains("…and 15 more by a"), "{all}");
        let mut keys: Vec<&str> = out.iter().map(|d| d.key.as_str()).collect();
        keys.dedup();
        assert_eq!(keys.len(), out.len());
    }
}
