//! What would change and why: pure decisions over a log group's state.
//!
//! Nothing here calls AWS. A group is first judged from what
//! DescribeLogGroups returned ([`plan_group`]); only groups that would change
//! or might be deleted go on to have their tags read, and only deletion
//! candidates have their streams, filters and the account's policies read
//! ([`deletion_verdict`]).
//!
//! Deletion fails closed: whatever is not known (a creation time, a log
//! class, a stream's timestamps, an attachment the API would not show) keeps
//! the group, and the reason is reported.

use std::time::Duration;

use serde_json::json;
use shared::report::Action;

use crate::policy::{Policy, Target};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The log class (`logGroupClass`), which decides what "empty" and
/// "retention" mean for the group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LogClass {
    /// The API's default when it names no class.
    #[default]
    Standard,
    InfrequentAccess,
    /// Events stay in CloudWatch one day on their way to S3 or Firehose:
    /// `storedBytes` says nothing about use, and the retention is not the
    /// owner's to set.
    Delivery,
    /// A class this function does not know: nothing is assumed about it.
    Other(String),
}

impl LogClass {
    pub fn from_api(class: Option<&str>) -> Self {
        match class {
            None | Some("STANDARD") => Self::Standard,
            Some("INFREQUENT_ACCESS") => Self::InfrequentAccess,
            Some("DELIVERY") => Self::Delivery,
            Some(other) => Self::Other(other.to_owned()),
        }
    }

    /// Why the function leaves this class alone entirely, if it does.
    fn hands_off(&self) -> Option<String> {
        match self {
            Self::Standard | Self::InfrequentAccess => None,
            Self::Delivery => Some(
                "Delivery log class: CloudWatch keeps its events one day and 0 stored bytes does not mean unused"
                    .to_owned(),
            ),
            Self::Other(class) => Some(format!(
                "log class {class} is not one this function knows"
            )),
        }
    }
}

/// What DescribeLogGroups says about a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    /// The ARN without the `:*` suffix, as the tagging API knows it.
    pub arn: String,
    pub retention: Option<i32>,
    /// `None` when not reported: the group is then not known to be old.
    pub created_ms: Option<i64>,
    pub stored_bytes: i64,
    pub deletion_protected: bool,
    pub class: LogClass,
    /// `metricFilterCount`; it may lag, so candidates are also asked
    /// DescribeMetricFilters.
    pub metric_filters: i32,
    /// `dataProtectionStatus`, when the group has or had a data protection
    /// policy.
    pub data_protection: Option<String>,
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
    /// The log class decides the retention, or is not one this function
    /// knows; why.
    KeptByClass(String),
    Change(Change),
}

/// What DescribeLogGroups alone says about deleting a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// Not to be deleted, and nothing worth reporting: deletion is off, or
    /// the group is young, stores bytes, is protected or kept by a rule.
    No,
    /// Old and empty: its tags, streams, filters and the account's policies
    /// must be checked.
    Candidate,
    /// Would be a candidate, but something already shows it may be in use
    /// or would lose an attachment; why.
    Kept(String),
}

/// The plan for one group, before its tags are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    pub retention: Retention,
    pub deletion: Deletion,
}

impl GroupPlan {
    /// Whether anything would be done to the group, so its tags are needed.
    pub fn needs_tags(&self) -> bool {
        self.deletion_candidate() || matches!(self.retention, Retention::Change(_))
    }

    pub fn deletion_candidate(&self) -> bool {
        self.deletion == Deletion::Candidate
    }
}

pub fn plan_retention(group: &Group, policy: &Policy, override_existing: bool) -> Retention {
    let decision = policy.decide(&group.name);
    let to = match decision.target {
        Target::Keep => return Retention::KeptByRule(decision.why),
        Target::Days(days) => days,
    };
    if let Some(why) = group.class.hands_off() {
        return Retention::KeptByClass(why);
    }
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

/// The guards DescribeLogGroups can answer: old enough, no stored bytes, not
/// protected, not kept by a rule, then nothing reported that shows use or an
/// attachment deletion would lose.
pub fn plan_deletion(
    group: &Group,
    retention: &Retention,
    delete_after_days: Option<u32>,
    now_ms: i64,
) -> Deletion {
    let Some(days) = delete_after_days else {
        return Deletion::No;
    };
    let young = group
        .created_ms
        .is_some_and(|created| created >= now_ms - i64::from(days) * DAY_MS);
    if matches!(retention, Retention::KeptByRule(_))
        || group.deletion_protected
        || group.stored_bytes != 0
        || young
    {
        return Deletion::No;
    }
    if group.created_ms.is_none() {
        return Deletion::Kept(
            "its creation time is not known, so it is not known to be old".into(),
        );
    }
    if let Some(why) = group.class.hands_off() {
        return Deletion::Kept(why);
    }
    if group.metric_filters > 0 {
        return Deletion::Kept(metric_filters_kept(group.metric_filters as usize));
    }
    if let Some(status) = &group.data_protection
        && status != "DELETED"
    {
        return Deletion::Kept(format!(
            "has a data protection policy (status {status}), which deleting the group would lose"
        ));
    }
    Deletion::Candidate
}

fn metric_filters_kept(n: usize) -> String {
    format!("has {n} metric filter(s); an alarm on their metrics would go silent")
}

pub fn plan_group(
    group: &Group,
    policy: &Policy,
    override_existing: bool,
    delete_after_days: Option<u32>,
    now_ms: i64,
) -> GroupPlan {
    let retention = plan_retention(group, policy, override_existing);
    let deletion = plan_deletion(group, &retention, delete_after_days, now_ms);
    GroupPlan {
        retention,
        deletion,
    }
}

/// An account-level policy of the region (DescribeAccountPolicies) that can
/// select log groups by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountPolicy {
    /// `SUBSCRIPTION_FILTER_POLICY`, `TRANSFORMER_POLICY`...
    pub kind: String,
    pub name: String,
    pub selection_criteria: Option<String>,
}

impl AccountPolicy {
    /// Whether its selection criteria name the group: any quoted string in
    /// them that is the group's name or a prefix of it. A prefix is enough
    /// for `LogGroupNamePrefix IN [...]`; for `LogGroupName NOT IN [...]` it
    /// may name more groups than it selects, which only keeps more groups.
    /// A policy with no criteria applies to every group and loses nothing
    /// when one of them goes.
    pub fn names(&self, group: &str) -> bool {
        self.selection_criteria
            .as_deref()
            .is_some_and(|c| quoted(c).iter().any(|s| group.starts_with(s.as_str())))
    }

    /// Whether its selection criteria are a form this function reads:
    /// none, blank, or one of `LogGroupName NOT IN [...]` (the only form a
    /// subscription filter policy accepts) and `LogGroupNamePrefix IN [...]`
    /// with a list of quoted strings. Criteria it cannot read might name
    /// any group, so they keep every candidate.
    pub fn readable(&self) -> bool {
        let Some(criteria) = self.selection_criteria.as_deref() else {
            return true;
        };
        if criteria.trim().is_empty() {
            return true;
        }
        let after = |text: &'_ str, words: &[&str]| -> Option<String> {
            let mut rest = text.trim_start();
            for word in words {
                rest = rest.strip_prefix(word)?;
                // A keyword ends at whitespace or at the list.
                if !rest.starts_with(char::is_whitespace) && !rest.starts_with('[') {
                    return None;
                }
                rest = rest.trim_start();
            }
            Some(rest.to_owned())
        };
        let list = after(criteria, &["LogGroupName", "NOT", "IN"])
            .or_else(|| after(criteria, &["LogGroupNamePrefix", "IN"]));
        list.is_some_and(|l| quoted_list(&l))
    }
}

/// Whether `text` is `[` quoted strings separated by commas `]`, and nothing
/// else but whitespace.
fn quoted_list(text: &str) -> bool {
    let mut chars = text.trim().chars().peekable();
    if chars.next() != Some('[') {
        return false;
    }
    let skip_space = |chars: &mut std::iter::Peekable<std::str::Chars>| {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
    };
    skip_space(&mut chars);
    if chars.peek() == Some(&']') {
        chars.next();
        return chars.next().is_none();
    }
    loop {
        skip_space(&mut chars);
        if chars.next() != Some('"') {
            return false;
        }
        loop {
            match chars.next() {
                None => return false,
                Some('"') => break,
                Some('\\') => {
                    if chars.next().is_none() {
                        return false;
                    }
                }
                Some(_) => {}
            }
        }
        skip_space(&mut chars);
        match chars.next() {
            Some(',') => continue,
            Some(']') => return chars.next().is_none(),
            _ => return false,
        }
    }
}

/// A CloudWatch Logs resource policy (DescribeResourcePolicies): it lets a
/// service (EventBridge, Route 53 query logging, a vended log source...)
/// write to the log groups its `Resource` names, which is how those
/// services' destinations are configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePolicy {
    pub name: String,
    /// The `Resource` patterns of every statement; `None` when the document
    /// could not be read (or uses `NotResource`), which names every group.
    pub resources: Option<Vec<String>>,
}

impl ResourcePolicy {
    pub fn from_document(name: &str, document: &str) -> Self {
        Self {
            name: name.to_owned(),
            resources: policy_resources(document),
        }
    }

    /// Whether the policy lets a service write to the group whose ARN (no
    /// `:*`) is `arn`: a pattern matches the group, or a stream of it. A
    /// group whose ARN is not known is named by any policy.
    pub fn names(&self, arn: &str) -> bool {
        let Some(resources) = &self.resources else {
            return true;
        };
        if arn.is_empty() {
            return !resources.is_empty();
        }
        resources.iter().any(|p| arn_pattern_names(p, arn))
    }
}

/// Whether an IAM `Resource` pattern matches the group's ARN or one of its
/// streams (`<arn>:*`, `<arn>:log-stream:...`). As in IAM, a wildcard in
/// the partition, service, Region or account stays in its segment, and one
/// in the resource part may match anything.
fn arn_pattern_names(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || a.len() != 6 {
        // Not an ARN pattern (`*`, or malformed): matched whole, which can
        // only name more groups.
        return glob_matches(pattern, arn) || glob_prefix_alive(pattern, &format!("{arn}:"));
    }
    p[..5].iter().zip(&a[..5]).all(|(p, a)| glob_matches(p, a))
        && (glob_matches(p[5], a[5]) || glob_prefix_alive(p[5], &format!("{}:", a[5])))
}

/// The `Resource` strings of every statement of an IAM policy document;
/// `None` if it is not one this function can read.
pub fn policy_resources(document: &str) -> Option<Vec<String>> {
    let doc: serde_json::Value = serde_json::from_str(document).ok()?;
    let statements = match doc.get("Statement")? {
        serde_json::Value::Array(list) => list.clone(),
        one @ serde_json::Value::Object(_) => vec![one.clone()],
        _ => return None,
    };
    let mut found = Vec::new();
    for statement in &statements {
        if statement.get("NotResource").is_some() {
            return None;
        }
        match statement.get("Resource")? {
            serde_json::Value::String(s) => found.push(s.clone()),
            serde_json::Value::Array(list) => {
                for r in list {
                    found.push(r.as_str()?.to_owned());
                }
            }
            _ => return None,
        }
    }
    Some(found)
}

/// The pattern positions still alive after reading `text`: IAM ARN
/// wildcards, `*` any run of characters and `?` one character.
fn glob_states(pattern: &[char], text: &str) -> Vec<bool> {
    let n = pattern.len();
    let close = |states: &mut Vec<bool>| {
        for i in 0..n {
            if states[i] && pattern[i] == '*' {
                states[i + 1] = true;
            }
        }
    };
    let mut states = vec![false; n + 1];
    states[0] = true;
    close(&mut states);
    for c in text.chars() {
        let mut next = vec![false; n + 1];
        for i in 0..n {
            if !states[i] {
                continue;
            }
            match pattern[i] {
                '*' => next[i] = true,
                '?' => next[i + 1] = true,
                p if p == c => next[i + 1] = true,
                _ => {}
            }
        }
        close(&mut next);
        if !next.iter().any(|&s| s) {
            return next;
        }
        states = next;
    }
    states
}

/// Whether `pattern` matches all of `text`.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    glob_states(&pattern, text)[pattern.len()]
}

/// Whether `pattern` matches some string that begins with `prefix`.
pub fn glob_prefix_alive(pattern: &str, prefix: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    glob_states(&pattern, prefix).iter().any(|&s| s)
}

/// The double-quoted strings of a selection criteria expression, with
/// backslash escapes resolved; an unterminated one runs to the end. An empty
/// string is left out: it would name every group.
pub fn quoted(criteria: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut chars = criteria.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => s.extend(chars.next()),
                c => s.push(c),
            }
        }
        if !s.is_empty() {
            found.push(s);
        }
    }
    found
}

/// What the streams, filters and the account's policies say of a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Activity {
    pub subscription_filters: usize,
    pub metric_filters: usize,
    /// Account-level policies that name the group (`KIND name`).
    pub named_by: Vec<String>,
    /// The latest creation, last event or last ingestion of the streams
    /// read.
    pub last_activity_ms: Option<i64>,
    /// A stream with no event timestamps yet: CloudWatch sets them up to an
    /// hour after ingestion, so it may be receiving logs now.
    pub unstamped_stream: Option<String>,
    /// More streams than were read: the newest may not have been seen.
    pub streams_unread: bool,
    /// Account-level policies whose selection criteria could not be read
    /// (`KIND name`): they may name the group.
    pub unreadable_policies: Vec<String>,
    /// Resource policies that let a service write to the group (their
    /// names): it is that service's configured destination.
    pub destination_of: Vec<String>,
    /// What FilterLogEvents found in the window, asked last, right before a
    /// deletion: the stream timestamps lag ingestion by up to an hour or
    /// more, the events themselves are searchable almost at once.
    pub recent_events: RecentEvents,
}

/// The answer of the search for events in the inactivity window.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RecentEvents {
    /// Not searched (yet): nothing is known, so the group is kept.
    #[default]
    Unsearched,
    /// The search covered the window and found no event.
    None,
    /// An event, with its ingestion (or event) time.
    Found(i64),
    /// The search stopped before covering the window (a next token and no
    /// event): an event may be there.
    Unfinished,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Delete,
    Keep(String),
}

/// The final deletion decision; every guard must hold, the search for
/// recent events and the group's own exempt tag included.
pub fn deletion_verdict(
    group: &Group,
    exempt: bool,
    activity: &Activity,
    delete_after_days: u32,
    now_ms: i64,
) -> Verdict {
    if exempt {
        return Verdict::Keep("exempt tag".to_owned());
    }
    if let Some(why) = kept_before_search(group, activity, delete_after_days, now_ms) {
        return Verdict::Keep(why);
    }
    match activity.recent_events {
        RecentEvents::None => Verdict::Delete,
        RecentEvents::Unsearched => Verdict::Keep("its recent events were not searched".to_owned()),
        RecentEvents::Unfinished => Verdict::Keep(format!(
            "the search for events in the last {delete_after_days} days did not finish; one may be there"
        )),
        RecentEvents::Found(at) => {
            let ago = Duration::from_millis((now_ms - at).max(0) as u64);
            Verdict::Keep(format!(
                "it received an event {} minute(s) ago (FilterLogEvents; the streams' timestamps lag)",
                ago.as_secs() / 60
            ))
        }
    }
}

/// Why the group is kept whatever its recent events and own tags are, if
/// it is: the guards that cost no call beyond the ones already made. Only a
/// group none of them keeps has its own tags read and its events searched.
pub fn kept_before_search(
    group: &Group,
    activity: &Activity,
    delete_after_days: u32,
    now_ms: i64,
) -> Option<String> {
    match guards(group, activity, delete_after_days, now_ms) {
        Verdict::Delete => None,
        Verdict::Keep(why) => Some(why),
    }
}

fn guards(group: &Group, activity: &Activity, delete_after_days: u32, now_ms: i64) -> Verdict {
    let window_ms = i64::from(delete_after_days) * DAY_MS;
    if group.stored_bytes != 0 {
        return Verdict::Keep(format!("stores {} bytes", group.stored_bytes));
    }
    if group.deletion_protected {
        return Verdict::Keep("deletion protection is on".to_owned());
    }
    // Every guard of the listing holds again here, so that no path reaches a
    // deletion without them.
    if let Deletion::Kept(why) = plan_deletion(
        group,
        &Retention::Unchanged,
        Some(delete_after_days),
        now_ms,
    ) {
        return Verdict::Keep(why);
    }
    if group
        .created_ms
        .is_none_or(|created| created >= now_ms - window_ms)
    {
        return Verdict::Keep(format!("created less than {delete_after_days} days ago"));
    }
    if activity.subscription_filters > 0 {
        return Verdict::Keep(format!(
            "has {} subscription filter(s)",
            activity.subscription_filters
        ));
    }
    if activity.metric_filters > 0 {
        return Verdict::Keep(metric_filters_kept(activity.metric_filters));
    }
    if !activity.named_by.is_empty() {
        return Verdict::Keep(format!(
            "named by the account-level {}",
            activity.named_by.join(", ")
        ));
    }
    if !activity.unreadable_policies.is_empty() {
        return Verdict::Keep(format!(
            "the selection criteria of the account-level {} could not be read, so it may name this group",
            activity.unreadable_policies.join(", ")
        ));
    }
    if !activity.destination_of.is_empty() {
        return Verdict::Keep(format!(
            "resource policy {} lets a service write to it: it may be that service's destination",
            activity.destination_of.join(", ")
        ));
    }
    if let Some(stream) = &activity.unstamped_stream {
        return Verdict::Keep(format!(
            "stream {stream} has no event timestamps yet; it may have just started receiving logs"
        ));
    }
    if activity.streams_unread {
        return Verdict::Keep(
            "it has more streams than were read; the newest may not have been seen".to_owned(),
        );
    }
    if let Some(last) = activity.last_activity_ms
        && last >= now_ms - window_ms
    {
        let ago = Duration::from_millis((now_ms - last).max(0) as u64);
        return Verdict::Keep(format!(
            "a stream was created or received an event {} day(s) ago, within {delete_after_days} days",
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
            "empty (0 bytes), created over {delete_after_days} days ago, no stream created and no event for {delete_after_days} days, no event found by FilterLogEvents in that time, no subscription or metric filter, data protection policy, account-level or resource policy naming it, no exempt tag on the group"
        ),
    )
    .with_detail(json!({"created_ms": group.created_ms, "retention": group.retention}))
}

/// `S3_PRUNE`: whether an object last modified at `modified` (epoch
/// seconds) is more than `days` old at `now`, so its pass deletes it. An
/// object exactly `days` old is kept.
pub fn object_due(modified: i64, now: i64, days: u32) -> bool {
    modified < now - i64::from(days) * DAY_MS / 1000
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
            created_ms: Some(NOW - 100 * DAY_MS),
            stored_bytes: 0,
            deletion_protected: false,
            class: LogClass::Standard,
            metric_filters: 0,
            data_protection: None,
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
    fn an_object_is_pruned_only_once_it_is_older_than_its_days() {
        let now = 100 * 86_400;
        assert!(object_due(now - 30 * 86_400 - 1, now, 30));
        assert!(
            !object_due(now - 30 * 86_400, now, 30),
            "exactly 30 days old"
        );
        assert!(!object_due(now, now, 30));
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
        assert!(plan(&group("/old/empty", None)).deletion_candidate());
        let mut young = group("/young", None);
        young.created_ms = Some(NOW - 29 * DAY_MS);
        assert!(!plan(&young).deletion_candidate());
        let mut full = group("/full", None);
        full.stored_bytes = 1;
        assert!(!plan(&full).deletion_candidate());
        let mut protected = group("/protected", None);
        protected.deletion_protected = true;
        assert!(!plan(&protected).deletion_candidate());
        assert!(!plan(&group("/audit/old", None)).deletion_candidate());
        assert!(
            !plan_group(&group("/old/empty", None), &p, false, None, NOW).deletion_candidate(),
            "unset DELETE_EMPTY_AFTER_DAYS never deletes"
        );
    }

    #[test]
    fn every_guard_keeps_the_group() {
        let g = group("/old/empty", None);
        let quiet = Activity {
            last_activity_ms: Some(NOW - 40 * DAY_MS),
            recent_events: RecentEvents::None,
            ..Activity::default()
        };
        assert_eq!(
            deletion_verdict(&g, false, &quiet, 30, NOW),
            Verdict::Delete
        );
        let searched = Activity {
            recent_events: RecentEvents::None,
            ..Activity::default()
        };
        assert_eq!(
            deletion_verdict(&g, false, &searched, 30, NOW),
            Verdict::Delete
        );
        let keep = |v: Verdict| match v {
            Verdict::Keep(why) => why,
            Verdict::Delete => panic!("deleted"),
        };
        // The event search decides last, and only a finished search that
        // found nothing lets the group go.
        assert_eq!(kept_before_search(&g, &Activity::default(), 30, NOW), None);
        assert!(
            keep(deletion_verdict(&g, false, &Activity::default(), 30, NOW))
                .contains("not searched")
        );
        let found = Activity {
            recent_events: RecentEvents::Found(NOW - 300_000),
            ..quiet.clone()
        };
        assert!(keep(deletion_verdict(&g, false, &found, 30, NOW)).contains("5 minute(s) ago"));
        let unfinished = Activity {
            recent_events: RecentEvents::Unfinished,
            ..quiet.clone()
        };
        assert!(keep(deletion_verdict(&g, false, &unfinished, 30, NOW)).contains("did not finish"));
        let unreadable = Activity {
            unreadable_policies: vec!["TRANSFORMER_POLICY t".into()],
            ..quiet.clone()
        };
        assert!(
            keep(deletion_verdict(&g, false, &unreadable, 30, NOW)).contains("could not be read")
        );
        let destination = Activity {
            destination_of: vec!["EventBridgeToLogs".into()],
            ..quiet.clone()
        };
        assert!(
            keep(deletion_verdict(&g, false, &destination, 30, NOW)).contains("EventBridgeToLogs")
        );
        assert_eq!(
            keep(deletion_verdict(&g, true, &quiet, 30, NOW)),
            "exempt tag"
        );
        let filtered = Activity {
            subscription_filters: 1,
            ..quiet.clone()
        };
        assert!(keep(deletion_verdict(&g, false, &filtered, 30, NOW)).contains("subscription"));
        let recent = Activity {
            last_activity_ms: Some(NOW - 2 * DAY_MS),
            ..quiet.clone()
        };
        assert!(keep(deletion_verdict(&g, false, &recent, 30, NOW)).contains("2 day(s) ago"));
        let mut full = g.clone();
        full.stored_bytes = 10;
        assert!(keep(deletion_verdict(&full, false, &quiet, 30, NOW)).contains("10 bytes"));
        let mut young = g.clone();
        young.created_ms = Some(NOW - DAY_MS);
        assert!(keep(deletion_verdict(&young, false, &quiet, 30, NOW)).contains("less than 30"));
    }

    #[test]
    fn what_is_not_known_keeps_the_group() {
        let p = policy();
        let deletion = |g: &Group| plan_group(g, &p, false, Some(30), NOW).deletion;
        let kept = |d: Deletion| match d {
            Deletion::Kept(why) => why,
            other => panic!("{other:?}"),
        };
        let mut unknown_age = group("/old/empty", None);
        unknown_age.created_ms = None;
        assert!(kept(deletion(&unknown_age)).contains("creation time is not known"));
        let mut delivery = group("/delivery", Some(1));
        delivery.class = LogClass::from_api(Some("DELIVERY"));
        assert!(kept(deletion(&delivery)).contains("Delivery log class"));
        assert!(matches!(
            plan_retention(&delivery, &p, true),
            Retention::KeptByClass(_)
        ));
        let mut novel = group("/novel", None);
        novel.class = LogClass::from_api(Some("ARCHIVAL"));
        assert!(kept(deletion(&novel)).contains("ARCHIVAL"));
        let mut ia = group("/ia", None);
        ia.class = LogClass::from_api(Some("INFREQUENT_ACCESS"));
        assert_eq!(deletion(&ia), Deletion::Candidate);
        assert!(matches!(
            plan_retention(&ia, &p, false),
            Retention::Change(_)
        ));
        let mut metric = group("/metric", None);
        metric.metric_filters = 2;
        assert!(kept(deletion(&metric)).contains("2 metric filter(s)"));
        let mut masked = group("/masked", None);
        masked.data_protection = Some("ACTIVATED".into());
        assert!(kept(deletion(&masked)).contains("data protection"));
        masked.data_protection = Some("DELETED".into());
        assert_eq!(deletion(&masked), Deletion::Candidate);
        // The final verdict holds every listing guard again.
        assert!(matches!(
            deletion_verdict(&unknown_age, false, &Activity::default(), 30, NOW),
            Verdict::Keep(_)
        ));
    }

    #[test]
    fn streams_and_account_policies_keep_a_candidate() {
        let g = group("/old/empty", None);
        let keep = |a: Activity| match deletion_verdict(&g, false, &a, 30, NOW) {
            Verdict::Keep(why) => why,
            Verdict::Delete => panic!("deleted: {a:?}"),
        };
        assert!(
            keep(Activity {
                unstamped_stream: Some("i-0abc".into()),
                last_activity_ms: Some(NOW - 90 * DAY_MS),
                ..Activity::default()
            })
            .contains("i-0abc")
        );
        assert!(
            keep(Activity {
                streams_unread: true,
                ..Activity::default()
            })
            .contains("more streams")
        );
        assert!(
            keep(Activity {
                metric_filters: 1,
                ..Activity::default()
            })
            .contains("metric filter")
        );
        assert!(
            keep(Activity {
                named_by: vec!["TRANSFORMER_POLICY parse".into()],
                ..Activity::default()
            })
            .contains("TRANSFORMER_POLICY parse")
        );
    }

    #[test]
    fn a_policy_names_a_group_by_a_quoted_name_or_prefix() {
        let policy = |criteria: Option<&str>| AccountPolicy {
            kind: "SUBSCRIPTION_FILTER_POLICY".into(),
            name: "p".into(),
            selection_criteria: criteria.map(str::to_owned),
        };
        let excluded = policy(Some(r#"LogGroupName NOT IN ["/a/b", "/c"]"#));
        assert!(excluded.names("/a/b"));
        assert!(excluded.names("/c"));
        assert!(!excluded.names("/a"));
        let prefixed = policy(Some(r#"LogGroupNamePrefix IN ["/aws/lambda/"]"#));
        assert!(prefixed.names("/aws/lambda/f"));
        assert!(!prefixed.names("/aws/ecs/f"));
        assert!(
            !policy(None).names("/a"),
            "a policy for all groups names none"
        );
        assert!(!policy(Some(r#"LogGroupName NOT IN [""]"#)).names("/a"));
        assert_eq!(quoted(r#"IN ["a\"b", "c"#), ["a\"b", "c"]);
        assert!(quoted("").is_empty());
    }

    #[test]
    fn criteria_in_a_form_not_read_are_unreadable() {
        let policy = |criteria: Option<&str>| AccountPolicy {
            kind: "SUBSCRIPTION_FILTER_POLICY".into(),
            name: "p".into(),
            selection_criteria: criteria.map(str::to_owned),
        };
        for readable in [
            None,
            Some(""),
            Some("  "),
            Some(r#"LogGroupName NOT IN ["/a/b", "/c"]"#),
            Some(r#"LogGroupName  NOT IN []"#),
            Some(r#"LogGroupNamePrefix IN ["/aws/lambda/"]"#),
            Some(r#"LogGroupName NOT IN ["a\"b"]"#),
        ] {
            assert!(policy(readable).readable(), "{readable:?}");
        }
        for unreadable in [
            r#"LogGroupName IN ["/a"]"#,
            r#"LogGroupNamePattern LIKE "/a%""#,
            r#"LogGroupName NOT IN ["/a""#,
            r#"LogGroupName NOT IN ["/a"] AND x"#,
            r#"LogGroupName NOT IN [/a]"#,
            "logGroupName not in []",
        ] {
            assert!(!policy(Some(unreadable)).readable(), "{unreadable:?}");
        }
    }

    #[test]
    fn a_resource_policy_names_the_groups_its_resources_match() {
        const ARN: &str = "arn:aws:logs:us-east-1:123456789012:log-group";
        let doc = |resource: serde_json::Value| {
            json!({"Version": "2012-10-17", "Statement": [{
                "Sid": "s", "Effect": "Allow",
                "Principal": {"Service": ["events.amazonaws.com"]},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": resource
            }]})
            .to_string()
        };
        let events =
            ResourcePolicy::from_document("events", &doc(json!(format!("{ARN}:/aws/events/*:*"))));
        assert!(events.names(&format!("{ARN}:/aws/events/orders")));
        assert!(!events.names(&format!("{ARN}:/aws/lambda/orders")));
        let route53 = ResourcePolicy::from_document(
            "route53",
            &doc(json!("arn:aws:logs:*:*:log-group:/aws/route53/*")),
        );
        assert!(route53.names(&format!("{ARN}:/aws/route53/example.com")));
        assert!(!route53.names(&format!("{ARN}:/stale/other")));
        let exact = ResourcePolicy::from_document(
            "route53",
            &doc(json!([
                format!("{ARN}:/aws/route53/example.com"),
                "arn:aws:s3:::b"
            ])),
        );
        assert!(exact.names(&format!("{ARN}:/aws/route53/example.com")));
        assert!(!exact.names(&format!("{ARN}:/aws/route53/example.co")));
        assert!(!exact.names(&format!("{ARN}:/aws/route53/example.com.au")));
        let stream = ResourcePolicy::from_document(
            "vended",
            &doc(json!(format!("{ARN}:delivery:log-stream:*"))),
        );
        assert!(stream.names(&format!("{ARN}:delivery")));
        let any = ResourcePolicy::from_document("all", &doc(json!("*")));
        assert!(any.names(&format!("{ARN}:/x")));
        let question = ResourcePolicy::from_document("q", &doc(json!(format!("{ARN}:/app/?"))));
        assert!(question.names(&format!("{ARN}:/app/a")));
        assert!(!question.names(&format!("{ARN}:/app/ab")));
        // What cannot be read names every group.
        for bad in [
            "not json".to_owned(),
            json!({"Statement": [{"NotResource": "arn:aws:s3:::b"}]}).to_string(),
            json!({"Statement": [{"Effect": "Allow"}]}).to_string(),
        ] {
            let p = ResourcePolicy::from_document("bad", &bad);
            assert_eq!(p.resources, None, "{bad}");
            assert!(p.names(&format!("{ARN}:/x")));
        }
        assert!(glob_matches("a*b?c", "aXXbYc"));
        assert!(!glob_matches("a*b?c", "aXXbc"));
        assert!(glob_prefix_alive("a*:log-stream:*", "aZZ:"));
    }
}
