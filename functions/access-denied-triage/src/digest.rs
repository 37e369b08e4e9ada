//! The daily digest, decided: from one day's counts (see
//! [`crate::state::StateStore::day`]) the principals and actions most
//! denied, the principals first seen that day, and the rules that have
//! expired. Delivery is [`crate::apply::digest`].

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use shared::slack::{Finding, Message, build_messages};
use time::Date;

use crate::state::Day;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub day: String,
    pub denials: u64,
    pub groups: usize,
    /// Most denied first: (who, count).
    pub top_principals: Vec<(String, u64)>,
    /// Most denied first: (action, count).
    pub top_actions: Vec<(String, u64)>,
    pub new_principals: Vec<String>,
    pub expired_rules: Vec<String>,
}

pub fn summarize(day: Date, counted: &Day, expired_rules: Vec<String>, top: usize) -> Digest {
    let mut by_principal: BTreeMap<&str, (u64, &str)> = BTreeMap::new();
    let mut by_action: BTreeMap<&str, u64> = BTreeMap::new();
    for group in &counted.groups {
        let entry = by_principal
            .entry(group.principal.as_str())
            .or_insert((0, group.who.as_str()));
        entry.0 += group.count;
        *by_action.entry(group.action.as_str()).or_default() += group.count;
    }
    let names: BTreeMap<&str, &str> = by_principal
        .iter()
        .map(|(principal, (_, who))| (*principal, *who))
        .collect();
    let mut top_principals: Vec<(String, u64)> = by_principal
        .values()
        .map(|(count, who)| ((*who).to_owned(), *count))
        .collect();
    most_first(&mut top_principals, top);
    let mut top_actions: Vec<(String, u64)> = by_action
        .into_iter()
        .map(|(action, count)| (action.to_owned(), count))
        .collect();
    most_first(&mut top_actions, top);
    let new_principals: BTreeSet<String> = counted
        .new_principals
        .iter()
        .map(|p| {
            names
                .get(p.as_str())
                .map_or(p.clone(), |who| (*who).to_owned())
        })
        .collect();
    Digest {
        day: day.to_string(),
        denials: counted.groups.iter().map(|g| g.count).sum(),
        groups: counted.groups.len(),
        top_principals,
        top_actions,
        new_principals: new_principals.into_iter().collect(),
        expired_rules,
    }
}

fn most_first(items: &mut Vec<(String, u64)>, top: usize) {
    items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    items.truncate(top);
}

impl Digest {
    pub fn title(&self) -> String {
        format!("Access denied digest for {}", self.day)
    }

    pub fn slack(&self) -> Vec<Message> {
        // The digest is where what was held back is told: repeats of a
        // group within its renotify period are counted here, not posted.
        let summary = format!(
            "{} denied call(s) after noise, in {} group(s) of principal and action, repeats held back from alerts included.",
            self.denials, self.groups
        );
        let counted = |items: &[(String, u64)]| -> Vec<(String, String)> {
            items
                .iter()
                .map(|(name, count)| (name.clone(), count.to_string()))
                .collect()
        };
        let mut findings = Vec::new();
        if !self.top_principals.is_empty() {
            findings.push(Finding {
                title: "Most denied principals".to_owned(),
                fields: counted(&self.top_principals),
                body: None,
            });
            findings.push(Finding {
                title: "Most denied actions".to_owned(),
                fields: counted(&self.top_actions),
                body: None,
            });
        }
        findings.push(Finding {
            title: "New principals".to_owned(),
            fields: vec![(
                "First denied this day".to_owned(),
                if self.new_principals.is_empty() {
                    "none".to_owned()
                } else {
                    self.new_principals.join(", ")
                },
            )],
            body: None,
        });
        if !self.expired_rules.is_empty() {
            findings.push(Finding {
                title: "Expired rules (no longer applied: renew or remove them)".to_owned(),
                fields: self
                    .expired_rules
                    .iter()
                    .map(|r| ("Rule".to_owned(), r.clone()))
                    .collect(),
                body: None,
            });
        }
        build_messages(&self.title(), Some(&summary), &findings)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::state::Counted;

    fn counted(principal: &str, who: &str, action: &str, count: u64) -> Counted {
        Counted {
            principal: principal.into(),
            who: who.into(),
            action: action.into(),
            count,
        }
    }

    #[test]
    fn the_most_denied_come_first_and_new_principals_are_named() {
        let day = Day {
            groups: vec![
                counted("arn:u/bob", "IAM user bob", "s3:ListObjects", 3),
                counted("arn:u/bob", "IAM user bob", "s3:GetObject", 4),
                counted("arn:r/ci", "role ci", "s3:GetObject", 1),
                counted("arn:r/dev", "role dev", "kms:Decrypt", 2),
            ],
            new_principals: BTreeSet::from(["arn:r/dev".to_owned()]),
        };
        let digest = summarize(date!(2026 - 12 - 05), &day, vec!["old rule".into()], 2);
        assert_eq!(digest.denials, 10);
        assert_eq!(digest.groups, 4);
        assert_eq!(
            digest.top_principals,
            [("IAM user bob".to_owned(), 7), ("role dev".to_owned(), 2)]
        );
        assert_eq!(
            digest.top_actions,
            [
                ("s3:GetObject".to_owned(), 5),
                ("s3:ListObjects".to_owned(), 3)
            ]
        );
        assert_eq!(digest.new_principals, ["role dev"]);
        let text = serde_json::to_string(&digest.slack()).unwrap();
        assert!(
            text.contains("Access denied digest for 2026-12-05"),
            "{text}"
        );
        assert!(text.contains("Expired rules"), "{text}");
        assert!(text.contains("old rule"), "{text}");
    }

    #[test]
    fn a_quiet_day_still_says_so() {
        let digest = summarize(date!(2026 - 12 - 05), &Day::default(), vec![], 10);
        let text = serde_json::to_string(&digest.slack()).unwrap();
        assert!(text.contains("0 denied call(s)"), "{text}");
        assert!(text.contains("none"), "{text}");
    }
}
