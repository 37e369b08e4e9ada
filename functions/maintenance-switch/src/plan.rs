//! Deciding what enable and disable change on one listener. No AWS here:
//! the plan is computed from the listener's current rules and the window,
//! so every decision can be tested and shown before anything changes.
//!
//! Layout during maintenance: bypass rules first, then the maintenance rule
//! (a catch-all), then every rule the listener had. When the lowest
//! priorities are taken, the fewest existing rules are moved up by the
//! least amount that keeps their order; each moved rule is tagged with its
//! original priority first, so a disable (or a retry after a crash) always
//! knows how to put it back.

use std::collections::BTreeSet;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, HttpHeaderConditionConfig,
    PathPatternConditionConfig, RuleCondition, SourceIpConditionConfig,
};
use serde_json::{Value, json};

use crate::rules::{
    ListenerState, MAX_PRIORITY, Role, RuleState, TAG_ROLE, TAG_SINCE, TAG_WINDOW, action_key,
    condition_key,
};
use crate::window::{BypassHeader, Page, WindowSpec};

/// ALB allows five values per condition (source-ip or http-header).
pub const VALUES_PER_CONDITION: usize = 5;

/// A rule enable creates.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRule {
    pub priority: u32,
    pub role: Role,
    pub conditions: Vec<RuleCondition>,
    pub actions: Vec<Action>,
    pub tags: Vec<(String, String)>,
    /// What it matches, as a report may show it (secrets hidden).
    pub shown: Value,
}

/// An existing rule moved to make room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift<'a> {
    pub rule_arn: &'a str,
    pub from: u32,
    pub to: u32,
    /// Where disable puts it back.
    pub original: u32,
    /// False when the rule already carries its original priority (a retry).
    pub needs_tag: bool,
}

/// What enable does on one listener, in the order it is done.
#[derive(Debug, Clone, PartialEq)]
pub struct EnableChange<'a> {
    /// Rules of this window left by an enable that stopped before adding
    /// the maintenance rule; removed and built again.
    pub remove_partial: Vec<&'a str>,
    /// Highest first, so that no move lands on a priority still in use.
    pub shifts: Vec<Shift<'a>>,
    /// Bypass rules first, the maintenance rule last: until it exists,
    /// nobody is locked out.
    pub create: Vec<NewRule>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EnablePlan<'a> {
    /// This window is already on with these settings.
    AlreadyOn {
        since: Option<String>,
    },
    Change(EnableChange<'a>),
}

/// Plans enable of `window` on `listener`; `Err` says why it must not
/// happen (and then nothing is changed on any listener).
pub fn plan_enable<'a>(
    window: &WindowSpec,
    listener: &'a ListenerState,
    since: &str,
) -> Result<EnablePlan<'a>, String> {
    let id = window.window_id.as_str();
    if let Some(other) = listener
        .rules
        .iter()
        .filter_map(RuleState::window)
        .find(|w| *w != id)
    {
        return Err(format!(
            "{}: maintenance window {other} is on; disable it first",
            listener.arn
        ));
    }
    if let Some((rule, (original, by))) = listener
        .rules
        .iter()
        .filter_map(|r| r.shifted().map(|s| (r, s)))
        .find(|(_, (_, by))| *by != id)
    {
        return Err(format!(
            "{}: rule {} is still moved by window {by} (its priority was {original}); disable window {by} first",
            listener.arn, rule.arn
        ));
    }

    let desired = desired_rules(window, listener, since);
    let copies_default = desired.iter().any(|r| r.role == Role::Bypass);
    if copies_default
        && listener
            .default_actions
            .iter()
            .any(|a| a.r#type == Some(ActionTypeEnum::AuthenticateOidc))
    {
        // AWS never returns an OIDC client secret, so the default action
        // cannot be copied into a bypass rule.
        return Err(format!(
            "{}: the listener's default action authenticates with OIDC, which bypass rules cannot copy (AWS does not return the client secret); enable without bypass_cidrs and bypass_header, or use forward mode with a target group",
            listener.arn
        ));
    }
    let own: Vec<&RuleState> = listener
        .rules
        .iter()
        .filter(|r| r.window() == Some(id))
        .collect();
    if let Some(maintenance) = own.iter().find(|r| r.role() == Some(Role::Maintenance)) {
        return if same_rules(&own, &desired) {
            Ok(EnablePlan::AlreadyOn {
                since: maintenance.tags.get(TAG_SINCE).cloned(),
            })
        } else {
            Err(format!(
                "{}: window {id} is already on with different settings; disable it first to change them",
                listener.arn
            ))
        };
    }

    let others: Vec<&RuleState> = listener
        .rules
        .iter()
        .filter(|r| r.window() != Some(id))
        .collect();
    let needed = desired.len() as u32;
    let mut shifts = Vec::new();
    let mut previous = needed;
    for rule in &others {
        let to = rule.priority.max(previous + 1);
        if to > MAX_PRIORITY {
            return Err(format!(
                "{}: no room for {needed} rules ahead of the existing ones: moving rule {} would exceed priority {MAX_PRIORITY}",
                listener.arn, rule.arn
            ));
        }
        if to != rule.priority {
            let recorded = rule.shifted().map(|(original, _)| original);
            shifts.push(Shift {
                rule_arn: &rule.arn,
                from: rule.priority,
                to,
                original: recorded.unwrap_or(rule.priority),
                needs_tag: recorded.is_none(),
            });
        }
        previous = to;
    }
    shifts.reverse();
    let create = desired
        .into_iter()
        .enumerate()
        .map(|(i, mut rule)| {
            rule.priority = i as u32 + 1;
            rule
        })
        .collect();
    Ok(EnablePlan::Change(EnableChange {
        remove_partial: own.iter().map(|r| r.arn.as_str()).collect(),
        shifts,
        create,
    }))
}

/// The window's rules for this listener, priorities not yet assigned.
pub fn desired_rules(window: &WindowSpec, listener: &ListenerState, since: &str) -> Vec<NewRule> {
    let tags = |role: Role| {
        let mut tags = vec![
            (TAG_WINDOW.to_owned(), window.window_id.clone()),
            (TAG_ROLE.to_owned(), role.as_str().to_owned()),
        ];
        if role == Role::Maintenance {
            tags.push((TAG_SINCE.to_owned(), since.to_owned()));
        }
        tags
    };
    let mut rules = Vec::new();
    for chunk in window.bypass_cidrs.chunks(VALUES_PER_CONDITION) {
        let values: Vec<String> = chunk.iter().map(|c| c.to_string()).collect();
        rules.push(NewRule {
            priority: 0,
            role: Role::Bypass,
            conditions: vec![
                RuleCondition::builder()
                    .field("source-ip")
                    .source_ip_config(
                        SourceIpConditionConfig::builder()
                            .set_values(Some(values.clone()))
                            .build(),
                    )
                    .build(),
            ],
            actions: listener.default_actions.clone(),
            tags: tags(Role::Bypass),
            shown: json!({"source_ip": values}),
        });
    }
    for header in &window.bypass_headers {
        for chunk in header.values.chunks(VALUES_PER_CONDITION) {
            let part = BypassHeader {
                name: header.name.clone(),
                values: chunk.to_vec(),
            };
            rules.push(NewRule {
                priority: 0,
                role: Role::Bypass,
                conditions: vec![
                    RuleCondition::builder()
                        .field("http-header")
                        .http_header_config(
                            HttpHeaderConditionConfig::builder()
                                .http_header_name(&header.name)
                                .set_values(Some(chunk.to_vec()))
                                .build(),
                        )
                        .build(),
                ],
                actions: listener.default_actions.clone(),
                tags: tags(Role::Bypass),
                shown: json!({"http_header": header.name, "values": part.shown_values()}),
            });
        }
    }
    rules.push(NewRule {
        priority: 0,
        role: Role::Maintenance,
        conditions: vec![catch_all()],
        actions: vec![maintenance_action(&window.page)],
        tags: tags(Role::Maintenance),
        shown: json!({"path_pattern": ["*"]}),
    });
    rules
}

/// Every request matches: ALB requires a rule to have a condition.
fn catch_all() -> RuleCondition {
    RuleCondition::builder()
        .field("path-pattern")
        .path_pattern_config(PathPatternConditionConfig::builder().values("*").build())
        .build()
}

pub fn maintenance_action(page: &Page) -> Action {
    match page {
        Page::FixedResponse {
            status_code,
            content_type,
            body,
        } => Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code(status_code.to_string())
                    .content_type(content_type)
                    .message_body(body)
                    .build(),
            )
            .build(),
        Page::Forward { target_group_arn } => Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(target_group_arn)
            .build(),
    }
}

/// Whether the window's rules on the listener are the ones it would create:
/// bypass rules compared by what they match, the maintenance rule by what
/// it answers.
fn same_rules(own: &[&RuleState], desired: &[NewRule]) -> bool {
    let key = |role: Role, conditions: &[RuleCondition], actions: &[Action]| match role {
        Role::Bypass => format!(
            "{:?}",
            conditions.iter().map(condition_key).collect::<Vec<_>>()
        ),
        Role::Maintenance => actions.iter().map(action_key).collect::<Vec<_>>().join(";"),
    };
    let mut have: Vec<String> = own
        .iter()
        .filter_map(|r| Some(key(r.role()?, &r.conditions, &r.actions)))
        .collect();
    let mut want: Vec<String> = desired
        .iter()
        .map(|r| key(r.role, &r.conditions, &r.actions))
        .collect();
    have.sort();
    want.sort();
    have == want
}

/// An existing rule put back where it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restore<'a> {
    pub rule_arn: &'a str,
    pub from: u32,
    pub to: u32,
}

/// What disable does on one listener, in the order it is done.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DisablePlan<'a> {
    /// The maintenance rule first: users get through again at once.
    pub delete: Vec<(&'a RuleState, Role)>,
    /// Lowest first, so each lands on a priority already vacated.
    pub restore: Vec<Restore<'a>>,
    /// Moved rules whose original-priority tags are removed once they are back.
    pub untag: Vec<&'a str>,
    /// Moved rules that cannot go back, and why (the tag stays, so a later
    /// disable can finish once the way is clear).
    pub blocked: Vec<String>,
    /// Maintenance on the listener belongs to other windows.
    pub other_windows: BTreeSet<String>,
}

impl DisablePlan<'_> {
    pub fn is_empty(&self) -> bool {
        self.delete.is_empty() && self.restore.is_empty() && self.untag.is_empty()
    }
}

/// Plans disable on `listener`: of `window`, or of whatever window is on.
pub fn plan_disable<'a>(window: Option<&str>, listener: &'a ListenerState) -> DisablePlan<'a> {
    let mine = |w: &str| window.is_none_or(|id| id == w);
    let mut plan = DisablePlan::default();
    for rule in &listener.rules {
        if let Some(w) = rule.window() {
            if mine(w) {
                plan.delete
                    .push((rule, rule.role().unwrap_or(Role::Bypass)));
            } else {
                plan.other_windows.insert(w.to_owned());
            }
        }
    }
    plan.delete
        .sort_by_key(|(r, role)| (*role != Role::Maintenance, r.priority));

    let deleted: BTreeSet<&str> = plan.delete.iter().map(|(r, _)| r.arn.as_str()).collect();
    let mut occupied: BTreeSet<u32> = listener
        .rules
        .iter()
        .filter(|r| !deleted.contains(r.arn.as_str()))
        .map(|r| r.priority)
        .collect();
    for rule in &listener.rules {
        let Some((original, by)) = rule.shifted() else {
            continue;
        };
        if !(mine(by) || by.is_empty()) {
            plan.other_windows.insert(by.to_owned());
            continue;
        }
        if original == rule.priority {
            plan.untag.push(&rule.arn);
        } else if occupied.contains(&original) {
            let holder = listener
                .rules
                .iter()
                .find(|r| r.priority == original)
                .map(|r| r.arn.as_str())
                .unwrap_or("another rule");
            plan.blocked.push(format!(
                "rule {} cannot go back to priority {original}: {holder} now holds it",
                rule.arn
            ));
        } else {
            occupied.remove(&rule.priority);
            occupied.insert(original);
            plan.restore.push(Restore {
                rule_arn: &rule.arn,
                from: rule.priority,
                to: original,
            });
            plan.untag.push(&rule.arn);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::rules::{TAG_ORIGINAL_PRIORITY, TAG_SHIFTED_BY};

    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1";

    fn forward(tg: &str) -> Action {
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(tg)
            .build()
    }

    fn rule(n: u32, priority: u32) -> RuleState {
        RuleState {
            arn: format!("rule-{n}"),
            priority,
            conditions: vec![
                RuleCondition::builder()
                    .field("path-pattern")
                    .values(format!("/p{n}/*"))
                    .build(),
            ],
            actions: vec![forward(TG)],
            tags: BTreeMap::new(),
        }
    }

    fn listener(rules: Vec<RuleState>) -> ListenerState {
        ListenerState {
            arn: "listener".into(),
            default_actions: vec![forward(TG)],
            rules,
        }
    }

    fn window(cidrs: &[&str]) -> WindowSpec {
        WindowSpec {
            window_id: "w1".into(),
            listener_arns: vec!["listener".into()],
            page: Page::FixedResponse {
                status_code: 503,
                content_type: "text/html".into(),
                body: "<p>soon</p>".into(),
            },
            bypass_cidrs: cidrs.iter().map(|c| c.parse().unwrap()).collect(),
            bypass_headers: vec![],
        }
    }

    fn change<'a>(plan: Result<EnablePlan<'a>, String>) -> EnableChange<'a> {
        match plan.unwrap() {
            EnablePlan::Change(c) => c,
            other => panic!("expected a change, got {other:?}"),
        }
    }

    /// The listener as it would be after applying `change`.
    fn applied(before: &ListenerState, change: &EnableChange) -> ListenerState {
        let mut after = before.clone();
        after
            .rules
            .retain(|r| !change.remove_partial.contains(&r.arn.as_str()));
        for s in &change.shifts {
            assert!(
                after.rules.iter().all(|r| r.priority != s.to),
                "shift of {} onto used priority {}",
                s.rule_arn,
                s.to
            );
            let r = after
                .rules
                .iter_mut()
                .find(|r| r.arn == s.rule_arn)
                .unwrap();
            r.priority = s.to;
            r.tags
                .insert(TAG_ORIGINAL_PRIORITY.into(), s.original.to_string());
            r.tags.insert(TAG_SHIFTED_BY.into(), "w1".into());
        }
        for (i, n) in change.create.iter().enumerate() {
            assert!(
                after.rules.iter().all(|r| r.priority != n.priority),
                "new rule onto used priority {}",
                n.priority
            );
            after.rules.push(RuleState {
                arn: format!("new-{i}"),
                priority: n.priority,
                conditions: n.conditions.clone(),
                actions: n.actions.clone(),
                tags: n.tags.iter().cloned().collect(),
            });
        }
        after.rules.sort_by_key(|r| r.priority);
        after
    }

    fn disabled(state: &ListenerState, plan: &DisablePlan) -> ListenerState {
        let mut after = state.clone();
        let deleted: Vec<&str> = plan.delete.iter().map(|(r, _)| r.arn.as_str()).collect();
        after.rules.retain(|r| !deleted.contains(&r.arn.as_str()));
        for restore in &plan.restore {
            assert!(
                after.rules.iter().all(|r| r.priority != restore.to),
                "restore onto a used priority {}",
                restore.to
            );
            let r = after
                .rules
                .iter_mut()
                .find(|r| r.arn == restore.rule_arn)
                .unwrap();
            r.priority = restore.to;
        }
        for arn in &plan.untag {
            let r = after.rules.iter_mut().find(|r| r.arn == *arn).unwrap();
            r.tags.remove(TAG_ORIGINAL_PRIORITY);
            r.tags.remove(TAG_SHIFTED_BY);
        }
        after.rules.sort_by_key(|r| r.priority);
        after
    }

    #[test]
    fn free_priorities_ahead_are_used_without_moving_anything() {
        let before = listener(vec![rule(1, 10), rule(2, 20)]);
        let c = change(plan_enable(&window(&["203.0.113.0/24"]), &before, "t"));
        assert!(c.shifts.is_empty());
        let prios: Vec<u32> = c.create.iter().map(|r| r.priority).collect();
        assert_eq!(prios, [1, 2]);
        assert_eq!(c.create[0].role, Role::Bypass);
        assert_eq!(c.create[1].role, Role::Maintenance);
        assert_eq!(c.create[0].actions, before.default_actions);
    }

    #[test]
    fn taken_low_priorities_move_the_fewest_rules_the_least() {
        // Needs 3 slots (2 bypass rules for 6 CIDRs + maintenance).
        let before = listener(vec![rule(1, 1), rule(2, 2), rule(3, 7), rule(4, 8)]);
        let cidrs = [
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.2.0.0/16",
            "10.3.0.0/16",
            "10.4.0.0/16",
            "2001:db8::/32",
        ];
        let c = change(plan_enable(&window(&cidrs), &before, "t"));
        let moves: Vec<(&str, u32, u32)> = c
            .shifts
            .iter()
            .map(|s| (s.rule_arn, s.from, s.to))
            .collect();
        // Highest first; rules 3 and 4 already sit beyond the new rules.
        assert_eq!(moves, [("rule-2", 2, 5), ("rule-1", 1, 4)]);
        assert!(c.shifts.iter().all(|s| s.needs_tag && s.original == s.from));
        assert_eq!(c.create.len(), 3);
        assert_eq!(c.create[0].shown, json!({"source_ip": &cidrs[..5]}));
        assert_eq!(c.create[1].shown, json!({"source_ip": ["2001:db8::/32"]}));

        let on = applied(&before, &c);
        let order: Vec<&str> = on.rules.iter().map(|r| r.arn.as_str()).collect();
        assert_eq!(
            order,
            [
                "new-0", "new-1", "new-2", "rule-1", "rule-2", "rule-3", "rule-4"
            ]
        );
        assert!(on.status().maintenance);

        let d = plan_disable(Some("w1"), &on);
        assert!(d.blocked.is_empty(), "{:?}", d.blocked);
        assert_eq!(
            d.delete[0].1,
            Role::Maintenance,
            "maintenance rule goes first"
        );
        let off = disabled(&on, &d);
        assert_eq!(off, before, "disable restores the listener exactly");
    }

    #[test]
    fn priority_one_taken_with_a_full_run_of_rules() {
        let before = listener((1..=10).map(|n| rule(n, n)).collect());
        let c = change(plan_enable(&window(&[]), &before, "t"));
        assert_eq!(c.create.len(), 1);
        assert_eq!(c.shifts.len(), 10);
        assert_eq!(c.shifts[0].from, 10);
        assert_eq!(c.shifts[0].to, 11);
        let on = applied(&before, &c);
        let off = disabled(&on, &plan_disable(None, &on));
        assert_eq!(off, before);
    }

    #[test]
    fn no_room_below_the_highest_priority_is_refused() {
        // Far-apart rules leave room: only rule 1 moves, by one.
        let sparse = listener(vec![rule(1, 1), rule(2, MAX_PRIORITY)]);
        let c = change(plan_enable(&window(&[]), &sparse, "t"));
        assert_eq!(c.shifts.len(), 1);
        // A solid run up to the highest priority leaves none.
        let full = listener((1..=MAX_PRIORITY).map(|n| rule(n, n)).collect());
        let err = plan_enable(&window(&[]), &full, "t").unwrap_err();
        assert!(err.contains("would exceed priority 50000"), "{err}");
    }

    #[test]
    fn enabling_twice_changes_nothing_and_other_settings_are_refused() {
        let before = listener(vec![rule(1, 1)]);
        let w = window(&["203.0.113.0/24"]);
        let on = applied(
            &before,
            &change(plan_enable(&w, &before, "2026-11-21T10:00:00Z")),
        );
        assert_eq!(
            plan_enable(&w, &on, "later").unwrap(),
            EnablePlan::AlreadyOn {
                since: Some("2026-11-21T10:00:00Z".into())
            }
        );
        let err = plan_enable(&window(&["198.51.100.0/24"]), &on, "t").unwrap_err();
        assert!(err.contains("already on with different settings"), "{err}");
        let mut other = w.clone();
        other.window_id = "w2".into();
        let err = plan_enable(&other, &on, "t").unwrap_err();
        assert!(err.contains("maintenance window w1 is on"), "{err}");
    }

    #[test]
    fn a_partial_enable_is_rebuilt_and_keeps_recorded_priorities() {
        let before = listener(vec![rule(1, 1), rule(2, 2)]);
        let w = window(&["203.0.113.0/24"]);
        let full = change(plan_enable(&w, &before, "t"));
        // Stopped after moving rules and creating the bypass rule only.
        let partial = EnableChange {
            remove_partial: vec![],
            shifts: full.shifts.clone(),
            create: full.create[..1].to_vec(),
        };
        let crashed = applied(&before, &partial);
        assert!(!crashed.status().maintenance);
        assert_eq!(crashed.status().leftover_rules, 3);
        let retry = change(plan_enable(&w, &crashed, "t"));
        assert_eq!(retry.remove_partial, ["new-0"]);
        assert!(retry.shifts.is_empty(), "{:?}", retry.shifts);
        let on = applied(&crashed, &retry);
        let off = disabled(&on, &plan_disable(Some("w1"), &on));
        assert_eq!(off, before);
    }

    #[test]
    fn disable_when_off_changes_nothing_and_leaves_other_windows_alone() {
        let before = listener(vec![rule(1, 3)]);
        assert!(plan_disable(Some("w1"), &before).is_empty());
        let on = applied(&before, &change(plan_enable(&window(&[]), &before, "t")));
        let d = plan_disable(Some("w2"), &on);
        assert!(d.is_empty());
        assert_eq!(d.other_windows.into_iter().collect::<Vec<_>>(), ["w1"]);
    }

    #[test]
    fn a_restore_onto_a_priority_taken_meanwhile_is_blocked_not_forced() {
        let before = listener(vec![rule(1, 1)]);
        let mut on = applied(&before, &change(plan_enable(&window(&[]), &before, "t")));
        // Someone freed priority 1 and put a new rule there... after our
        // maintenance rule was deleted by hand.
        on.rules.retain(|r| r.role() != Some(Role::Maintenance));
        on.rules.push(rule(9, 1));
        on.rules.sort_by_key(|r| r.priority);
        let d = plan_disable(Some("w1"), &on);
        assert!(d.restore.is_empty());
        assert_eq!(d.blocked.len(), 1);
        assert!(
            d.blocked[0].contains("cannot go back to priority 1"),
            "{:?}",
            d.blocked
        );
        assert!(d.untag.is_empty(), "the record stays for a later disable");
    }

    #[test]
    fn an_oidc_default_action_cannot_be_copied_into_bypass_rules() {
        let mut before = listener(vec![]);
        before.default_actions = vec![
            Action::builder()
                .r#type(ActionTypeEnum::AuthenticateOidc)
                .order(1)
                .build(),
            forward(TG),
        ];
        let err = plan_enable(&window(&["203.0.113.0/24"]), &before, "t").unwrap_err();
        assert!(err.contains("authenticates with OIDC"), "{err}");
        assert!(plan_enable(&window(&[]), &before, "t").is_ok());
    }

    #[test]
    fn header_bypass_rules_split_by_five_and_hide_secrets() {
        let before = listener(vec![]);
        let mut w = window(&[]);
        w.bypass_headers = vec![
            BypassHeader {
                name: "X-Maintenance-Bypass".into(),
                values: (0..7).map(|i| format!("token-{i}")).collect(),
            },
            BypassHeader {
                name: "X-Forwarded-For".into(),
                values: vec!["203.0.113.*".into()],
            },
        ];
        let c = change(plan_enable(&w, &before, "t"));
        assert_eq!(c.create.len(), 4);
        let shown =
            serde_json::to_string(&c.create.iter().map(|r| &r.shown).collect::<Vec<_>>()).unwrap();
        assert!(!shown.contains("token-"), "{shown}");
        assert!(shown.contains("203.0.113.*"), "{shown}");
        let header = c.create[0].conditions[0]
            .http_header_config
            .as_ref()
            .unwrap();
        assert_eq!(header.values.as_ref().unwrap().len(), 5);
    }
}
