//! A listener's rules as the function sees them: its default action, its
//! rules in priority order, and the tags by which the function recognises
//! the rules it added and the rules it moved. Read from ELBv2 by
//! [`crate::listener`]; no calls here.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{Action, Rule, RuleCondition};
use serde::Serialize;

/// On the rules the function adds: the window they belong to.
pub const TAG_WINDOW: &str = "toilkit:maintenance-window";
/// On the rules the function adds: `bypass` or `maintenance`.
pub const TAG_ROLE: &str = "toilkit:maintenance-role";
/// On the maintenance rule: when maintenance was turned on (RFC 3339).
pub const TAG_SINCE: &str = "toilkit:maintenance-since";
/// On an existing rule that enable moved: the priority to restore.
pub const TAG_ORIGINAL_PRIORITY: &str = "toilkit:maintenance-original-priority";
/// On an existing rule that enable moved: the window that moved it.
pub const TAG_SHIFTED_BY: &str = "toilkit:maintenance-shifted-by";

/// ALB's highest rule priority.
pub const MAX_PRIORITY: u32 = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Bypass,
    Maintenance,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bypass => "bypass",
            Self::Maintenance => "maintenance",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "bypass" => Some(Self::Bypass),
            "maintenance" => Some(Self::Maintenance),
            _ => None,
        }
    }
}

/// One non-default rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleState {
    pub arn: String,
    pub priority: u32,
    pub conditions: Vec<RuleCondition>,
    pub actions: Vec<Action>,
    pub tags: BTreeMap<String, String>,
}

impl RuleState {
    /// The window of a rule the function added.
    pub fn window(&self) -> Option<&str> {
        self.tags.get(TAG_WINDOW).map(String::as_str)
    }

    pub fn role(&self) -> Option<Role> {
        self.tags.get(TAG_ROLE).and_then(|r| Role::parse(r))
    }

    /// For an existing rule enable moved: where it was and which window moved it.
    pub fn shifted(&self) -> Option<(u32, &str)> {
        let original = self.tags.get(TAG_ORIGINAL_PRIORITY)?.parse().ok()?;
        let by = self
            .tags
            .get(TAG_SHIFTED_BY)
            .map(String::as_str)
            .unwrap_or("");
        Some((original, by))
    }
}

/// A listener's routing.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerState {
    pub arn: String,
    pub default_actions: Vec<Action>,
    /// Non-default rules, lowest priority first.
    pub rules: Vec<RuleState>,
}

/// Whether maintenance is on, as `status` reports it per listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListenerStatus {
    pub listener_arn: String,
    pub maintenance: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    pub bypass_rules: usize,
    /// Existing rules moved to make room, to be put back by disable.
    pub shifted_rules: usize,
    /// Rules the function added, or moved, that a disable has not yet
    /// cleaned up although maintenance itself is off.
    pub leftover_rules: usize,
}

impl ListenerState {
    /// Builds the state from DescribeRules and DescribeTags output.
    pub fn from_sdk(
        arn: &str,
        default_actions: Vec<Action>,
        rules: Vec<Rule>,
        tags: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Self {
        let mut out: Vec<RuleState> = rules
            .into_iter()
            .filter(|r| !r.is_default.unwrap_or(false))
            .filter_map(|r| {
                let rule_arn = r.rule_arn?;
                let priority = r.priority.as_deref()?.parse().ok()?;
                Some(RuleState {
                    tags: tags.get(&rule_arn).cloned().unwrap_or_default(),
                    arn: rule_arn,
                    priority,
                    conditions: r.conditions.unwrap_or_default(),
                    actions: r.actions.unwrap_or_default(),
                })
            })
            .collect();
        out.sort_by_key(|r| r.priority);
        Self {
            arn: arn.to_owned(),
            default_actions,
            rules: out,
        }
    }

    pub fn status(&self) -> ListenerStatus {
        let maintenance = self
            .rules
            .iter()
            .find(|r| r.role() == Some(Role::Maintenance));
        let own = self.rules.iter().filter(|r| r.window().is_some()).count();
        let shifted = self.rules.iter().filter(|r| r.shifted().is_some()).count();
        let window_id = maintenance
            .and_then(RuleState::window)
            .or_else(|| self.rules.iter().find_map(RuleState::window))
            .map(str::to_owned);
        ListenerStatus {
            listener_arn: self.arn.clone(),
            maintenance: maintenance.is_some(),
            window_id,
            since: maintenance.and_then(|r| r.tags.get(TAG_SINCE).cloned()),
            bypass_rules: self
                .rules
                .iter()
                .filter(|r| r.role() == Some(Role::Bypass))
                .count(),
            shifted_rules: shifted,
            leftover_rules: if maintenance.is_some() {
                0
            } else {
                own + shifted
            },
        }
    }
}

/// A condition reduced to what decides a match, for comparing what a rule
/// has with what the function would create (the API may echo conditions
/// back in either the legacy `Values` or the `*Config` form).
pub fn condition_key(c: &RuleCondition) -> (String, Vec<String>) {
    let field = c.field.clone().unwrap_or_default();
    let mut values: Vec<String> = c.values.clone().unwrap_or_default();
    if let Some(cfg) = &c.source_ip_config {
        values.extend(cfg.values.clone().unwrap_or_default());
    }
    if let Some(cfg) = &c.http_header_config {
        values.push(format!(
            "header:{}",
            cfg.http_header_name.as_deref().unwrap_or("").to_lowercase()
        ));
        values.extend(cfg.values.clone().unwrap_or_default());
    }
    if let Some(cfg) = &c.path_pattern_config {
        values.extend(cfg.values.clone().unwrap_or_default());
    }
    if let Some(cfg) = &c.host_header_config {
        values.extend(cfg.values.clone().unwrap_or_default());
    }
    values.sort();
    values.dedup();
    (field, values)
}

/// An action reduced to where it sends a request.
pub fn action_key(a: &Action) -> String {
    let kind = a.r#type.as_ref().map(|t| t.as_str()).unwrap_or("");
    let mut groups: Vec<&str> = a.target_group_arn.iter().map(String::as_str).collect();
    if let Some(fc) = &a.forward_config {
        for tg in fc.target_groups.iter().flatten() {
            if let Some(arn) = tg.target_group_arn.as_deref() {
                groups.push(arn);
            }
        }
    }
    groups.sort();
    groups.dedup();
    let fixed = a
        .fixed_response_config
        .as_ref()
        .map(|f| {
            format!(
                "{}|{}|{}",
                f.status_code.as_deref().unwrap_or(""),
                f.content_type.as_deref().unwrap_or(""),
                f.message_body.as_deref().unwrap_or("")
            )
        })
        .unwrap_or_default();
    format!("{kind}|{}|{fixed}", groups.join(","))
}
