//! What would change and why: pure decisions over a log group's state.
//!
//! Nothing here calls AWS. A group is first judged from what
//! DescribeLogGroups returned ([`plan_group`]); only groups that would change
//! or might be deleted go on to have their tags read, and only deletion
//! candidates have their streams and subscription filters read
//! ([`deletion_verdict`]).

use std::time::Duration;

use serde_json::json;
use shared::report::Action;

use crate::policy::{Policy, Target};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What DescribeLogGroups says about a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    /// The ARN without the `:*` suffix, as the tagging API knows it.
    pub arn: String,
    pub retention: Option<i32>,
    pub created_ms: i64,
    pub stored_bytes: i64,
    pub deletion_protected: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The group had no retention ("Never expire").
    Set,
    Lengthen,
    /// Data older than the new retention will be deleted by CloudWatch.
    Shorten,
}

impl ChangeKind {
    pub fn action(self) -> &'static str {
        match self {
            Self::Set => "set_retention",
            Self::Lengthen => "lengthen_retention",
            Self::Shorten => "shorten_retention",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub from: Option<i32>,
    pub to: i32,
    pub kind: ChangeKind,
    pub why: String,
}

impl Change {
    /// `never → 30`, `3653 → 90`.
    pub fn transition(&self) -> String {
        let from = self
            .from
            .map_or_else(|| "never".to_owned(), |d| d.to_string());
        format!("{from} → {}", self.to)
    }

    pub fn action(&self, group: &str) -> Action {
        let reason = match self.kind {
            ChangeKind::Set => format!("no retention; {} says {} days", self.why, self.to),
            ChangeKind::Lengthen | ChangeKind::Shorten => format!(
                "retention {} days differs from {} ({} days)",
                self.from.unwrap_or_default(),
                self.why,
                self.to
            ),
        };
        Action::new(self.kind.action(), group, reason)
            .with_detail(json!({"before": self.from, "after": self.to}))
    }
}

/// The retention decision for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retention {
    /// Already as the policy wants, or set and OVERRIDE_EXISTING is off.
    Unchanged,
    /// A `keep` rule matched.
    KeptByRule(String),
    Change(Change),
}

/// The plan for one group, before its tags are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    pub retention: Retention,
    /// Old and empty enough that its streams and filters must be checked.
    pub deletion_candidate: bool,
}

impl GroupPlan {
    /// Whether anything would be done to the group, so its tags are needed.
    pub fn needs_tags(&self) -> bool {
        self.deletion_candidate || matches!(self.retention, Retention::Change(_))
    }
}

pub fn plan_retention(group: &Group, policy: &Policy, override_existing: bool) -> Retention {
    let decision = policy.decide(&group.name);
    let to = match decision.target {
        Target::Keep => return Retention::KeptByRule(decision.why),
        Target::Days(days) => days,
    };
    let kind = match group.retention {
        None => ChangeKind::Set,
        Some(current) if current == to || !override_existing => return Retention::Unchanged,
        Some(current) if current < to => ChangeKind::Lengthen,
        Some(_) => ChangeKind::Shorten,
    };
    Retention::Change(Change {
        from: group.retention,
        to,
        kind,
        why: decision.why,
    })
}

/// Whether the group passes the guards DescribeLogGroups can answer: old
/// enough, no stored bytes, not protected, not kept by a rule.
pub fn is_deletion_candidate(
    group: &Group,
    retention: &Retention,
    delete_after_days: Option<u32>,
    now_ms: i64,
) -> bool {
    let Some(days) = delete_after_days else {
        return false;
    };
    !matches!(retention, Retention::KeptByRule(_))
        && !group.deletion_protected
        && group.stored_bytes == 0
        && group.created_ms < now_ms - i64::from(days) * DAY_MS
}

pub fn plan_group(
    group: &Group,
    policy: &Policy,
    override_existing: bool,
    delete_after_days: Option<u32>,
    now_ms: i64,
) -> GroupPlan {
    let retention = plan_retention(group, policy, override_existing);
    let deletion_candidate = is_deletion_candidate(group, &retention, delete_after_days, now_ms);
    GroupPlan {
        retention,
        deletion_candidate,
    }
}

/// What the streams and subscription filters of a candidate say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Activity {
    pub subscription_filters: usize,
    /// The latest of any stream's last event, last ingestion or creation.
    pub last_activity_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delete,
    Keep(String),
}

/// The final deletion decision; every guard must hold.
pub fn deletion_verdict(
    group: &Group,
    exempt: bool,
    activity: &Activity,
    delete_after_days: u32,
    now_ms: i64,
) -> Verdict {
    let window_ms = i64::from(delete_after_days) * DAY_MS;
    if exempt {
        return Verdict::Keep("exempt tag".to_owned());
    }
    if group.stored_bytes != 0 {
        return Verdict::Keep(format!("stores {} bytes", group.stored_bytes));
    }
    if group.created_ms >= now_ms - window_ms {
        return Verdict::Keep(format!("created less than {delete_after_days} days ago"));
    }
    if group.deletion_protected {
        return Verdict::Keep("deletion protection is on".to_owned());
    }
    if activity.subscription_filters > 0 {
        return Verdict::Keep(format!(
            "has {} subscription filter(s)",
            activity.subscription_filters
        ));
    }
    if let Some(last) = activity.last_activity_ms
        && last >= now_ms - window_ms
    {
        let ago = Duration::from_millis((now_ms - last).max(0) as u64);
        return Verdict::Keep(format!(
            "a stream received an event {} day(s) ago, within {delete_after_days} days",
            ago.as_secs() / 86_400
        ));
    }
    Verdict::Delete
}

pub fn delete_action(group: &Group, delete_after_days: u32) -> Action {
    Action::new(
        "delete_log_group",
        &group.name,
        format!(
            "empty (0 bytes), created over {delete_after_days} days ago, no event for {delete_after_days} days, no subscription filter"
        ),
    )
    .with_detail(json!({"created_ms": group.created_ms, "retention": group.retention}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Rule, Selector};

    const NOW: i64 = 1_800_000_000_000;

    fn group(name: &str, retention: Option<i32>) -> Group {
        Group {
            name: name.into(),
            arn: format!("arn:aws:logs:us-east-1:123456789012:log-group:{name}"),
            retention,
            created_ms: NOW - 100 * DAY_MS,
            stored_bytes: 0,
            deletion_protected: false,
        }
    }

    fn policy() -> Policy {
        Policy {
            default_days: 30,
            rules: vec![
                Rule {
                    selector: Selector::Prefix("/audit/".into()),
                    target: Target::Keep,
                },
                Rule {
                    selector: Selector::Prefix("/aws/lambda/".into()),
                    target: Target::Days(14),
                },
            ],
        }
    }

    #[test]
    fn only_unset_groups_change_unless_overriding() {
        let p = policy();
        let never = plan_retention(&group("/app", None), &p, false);
        let Retention::Change(change) = never else {
            panic!("{never:?}")
        };
        assert_eq!(change.kind, ChangeKind::Set);
        assert_eq!(change.transition(), "never → 30");
        assert_eq!(
            plan_retention(&group("/app", Some(3653)), &p, false),
            Retention::Unchanged
        );
        let Retention::Change(shorter) = plan_retention(&group("/app", Some(3653)), &p, true)
        else {
            panic!()
        };
        assert_eq!(shorter.kind, ChangeKind::Shorten);
        assert_eq!(shorter.action("/app").action, "shorten_retention");
        let Retention::Change(longer) = plan_retention(&group("/aws/lambda/f", Some(7)), &p, true)
        else {
            panic!()
        };
        assert_eq!((longer.kind, longer.to), (ChangeKind::Lengthen, 14));
        assert_eq!(
            plan_retention(&group("/app", Some(30)), &p, true),
            Retention::Unchanged
        );
        assert!(matches!(
            plan_retention(&group("/audit/x", None), &p, true),
            Retention::KeptByRule(_)
        ));
    }

    #[test]
    fn deletion_candidates_need_age_emptiness_and_no_keep_rule() {
        let p = policy();
        let plan = |g: &Group| plan_group(g, &p, false, Some(30), NOW);
        assert!(plan(&group("/old/empty", None)).deletion_candidate);
        let mut young = group("/young", None);
        young.created_ms = NOW - 29 * DAY_MS;
        assert!(!plan(&young).deletion_candidate);
        let mut full = group("/full", None);
        full.stored_bytes = 1;
        assert!(!plan(&full).deletion_candidate);
        let mut protected = group("/protected", None);
        protected.deletion_protected = true;
        assert!(!plan(&protected).deletion_candidate);
        assert!(!plan(&group("/audit/old", None)).deletion_candidate);
        assert!(
            !plan_group(&group("/old/empty", None), &p, false, None, NOW).deletion_candidate,
            "unset DELETE_EMPTY_AFTER_DAYS never deletes"
        );
    }

    #[test]
    fn every_guard_keeps_the_group() {
        let g = group("/old/empty", None);
        let quiet = Activity {
            subscription_filters: 0,
            last_activity_ms: Some(NOW - 40 * DAY_MS),
        };
        assert_eq!(
            deletion_verdict(&g, false, &quiet, 30, NOW),
            Verdict::Delete
        );
        assert_eq!(
            deletion_verdict(&g, false, &Activity::default(), 30, NOW),
            Verdict::Delete
        );
        let keep = |v: Verdict| match v {
            Verdict::Keep(why) => why,
            Verdict::Delete => panic!("deleted"),
        };
        assert_eq!(
            keep(deletion_verdict(&g, true, &quiet, 30, NOW)),
            "exempt tag"
        );
        let filtered = Activity {
            subscription_filters: 1,
            ..quiet
        };
        assert!(keep(deletion_verdict(&g, false, &filtered, 30, NOW)).contains("subscription"));
        let recent = Activity {
            last_activity_ms: Some(NOW - 2 * DAY_MS),
            ..quiet
        };
        assert!(keep(deletion_verdict(&g, false, &recent, 30, NOW)).contains("2 day(s) ago"));
        let mut full = g.clone();
        full.stored_bytes = 10;
        assert!(keep(deletion_verdict(&full, false, &quiet, 30, NOW)).contains("10 bytes"));
        let mut young = g.clone();
        young.created_ms = NOW - DAY_MS;
        assert!(keep(deletion_verdict(&young, false, &quiet, 30, NOW)).contains("less than 30"));
    }
}
