//! The operator's rules (`RULES`): denials a team expects, by principal
//! and/or action pattern, each with a reason and possibly an expiry date.
//!
//! A rule must name a principal or an action, and must give a reason, so a
//! typo cannot silence everything and every silence can be explained. Unknown
//! fields are refused (`"principle"` is a configuration error, not a rule
//! that matches everyone). An expired rule no longer applies; the plan lists
//! it, so the digest can say which rules to renew or delete.

use std::fmt;

use serde::Deserialize;
use shared::pattern::Pattern;
use time::{Date, OffsetDateTime, macros::format_description};

use crate::record::Who;

/// A rule as operators write it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    #[serde(default)]
    principal: Option<String>,
    #[serde(default)]
    action: Option<String>,
    reason: String,
    #[serde(default)]
    expires: Option<String>,
}

/// One rule, ready to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// As written, for reports and for the digest.
    pub principal: Option<String>,
    pub action: Option<String>,
    pub reason: String,
    /// The last day the rule applies (UTC).
    pub expires: Option<Date>,
    principal_pattern: Option<Pattern>,
    /// Lower-cased: IAM action names are case-insensitive.
    action_pattern: Option<Pattern>,
}

impl Rule {
    /// The rule has passed its last day.
    pub fn expired(&self, now: OffsetDateTime) -> bool {
        self.expires.is_some_and(|last| now.date() > last)
    }

    /// Whether the rule's criteria match this denial, expired or not. A
    /// principal pattern may name the principal's ARN, its role or user name,
    /// or the person behind a session.
    pub fn matches(&self, who: &Who, action: &str) -> bool {
        let principal = self.principal_pattern.as_ref().is_none_or(|p| {
            who.names()
                .iter()
                .any(|name| p.matches(name) || p.matches(&name.to_ascii_lowercase()))
        });
        let action = self
            .action_pattern
            .as_ref()
            .is_none_or(|p| p.matches(&action.to_ascii_lowercase()));
        principal && action
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(p) = &self.principal {
            parts.push(format!("principal {p}"));
        }
        if let Some(a) = &self.action {
            parts.push(format!("action {a}"));
        }
        write!(f, "{} ({})", parts.join(", "), self.reason)?;
        if let Some(last) = self.expires {
            write!(f, ", expires {last}")?;
        }
        Ok(())
    }
}

/// Every rule, in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules(pub Vec<Rule>);

/// What the rules say about one denial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// A live rule expects it.
    Expected(&'a Rule),
    /// Only expired rules would have matched: the denial is reported, saying so.
    Expired(&'a Rule),
    None,
}

impl Rules {
    /// Parses `RULES`; every bad rule is named by its position.
    pub fn parse(json: &str) -> Result<Self, String> {
        let specs: Vec<Spec> = shared::config::parse_json(json)
            .map_err(|e| format!("is not a JSON list of rules: {e}"))?;
        let mut rules = Vec::with_capacity(specs.len());
        let mut problems = Vec::new();
        for (i, spec) in specs.into_iter().enumerate() {
            match Rule::from_spec(spec) {
                Ok(rule) => rules.push(rule),
                Err(why) => problems.push(format!("rule {}: {why}", i + 1)),
            }
        }
        if problems.is_empty() {
            Ok(Self(rules))
        } else {
            Err(problems.join("; "))
        }
    }

    pub fn verdict(&self, who: &Who, action: &str, now: OffsetDateTime) -> Verdict<'_> {
        let mut expired = None;
        for rule in self.0.iter().filter(|r| r.matches(who, action)) {
            if !rule.expired(now) {
                return Verdict::Expected(rule);
            }
            expired.get_or_insert(rule);
        }
        expired.map_or(Verdict::None, Verdict::Expired)
    }

    /// The rules past their last day.
    pub fn expired(&self, now: OffsetDateTime) -> Vec<&Rule> {
        self.0.iter().filter(|r| r.expired(now)).collect()
    }
}

impl Rule {
    fn from_spec(spec: Spec) -> Result<Self, String> {
        let principal = spec.principal.map(|p| p.trim().to_owned());
        let action = spec.action.map(|a| a.trim().to_owned());
        if principal.as_deref().is_none_or(str::is_empty)
            && action.as_deref().is_none_or(str::is_empty)
        {
            return Err(
                "names neither a principal nor an action (a rule for everything would silence every denial)"
                    .into(),
            );
        }
        if spec.reason.trim().is_empty() {
            return Err("has no reason: say why this denial is expected".into());
        }
        if let Some(a) = action.as_deref()
            && !a.contains(':')
        {
            return Err(format!(
                "action {a:?} is not service:Action (for example \"s3:GetObject\" or \"ec2:Describe*\")"
            ));
        }
        let expires = spec
            .expires
            .map(|text| {
                Date::parse(text.trim(), format_description!("[year]-[month]-[day]"))
                    .map_err(|_| format!("expires {text:?} is not a date (YYYY-MM-DD)"))
            })
            .transpose()?;
        Ok(Self {
            principal_pattern: principal.as_deref().map(Pattern::new),
            action_pattern: action
                .as_deref()
                .map(|a| Pattern::new(&a.to_ascii_lowercase())),
            principal,
            action,
            reason: spec.reason.trim().to_owned(),
            expires,
        })
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::record::tests::who_of;

    #[test]
    fn a_rule_matches_by_role_name_arn_or_person_and_by_action_in_any_case() {
        let rules = Rules::parse(
            r#"[{"principal": "ci-*", "action": "s3:Get*", "reason": "CI probes"},
                {"principal": "arn:aws:iam::*:role/ops/*", "reason": "ops role"},
                {"principal": "alice@example.com", "action": "kms:Decrypt", "reason": "alice"}]"#,
        )
        .unwrap();
        let now = datetime!(2026-12-06 09:00 UTC);
        let ci = who_of("assumed-role-ci");
        assert!(
            matches!(rules.verdict(&ci, "s3:getobject", now), Verdict::Expected(r) if r.reason == "CI probes")
        );
        assert_eq!(rules.verdict(&ci, "s3:PutObject", now), Verdict::None);
        let sso = who_of("assumed-role-sso");
        assert!(
            matches!(rules.verdict(&sso, "kms:Decrypt", now), Verdict::Expected(r) if r.reason == "alice")
        );
    }

    #[test]
    fn an_expired_rule_stops_applying_after_its_last_day_and_is_listed() {
        let rules = Rules::parse(
            r#"[{"principal": "ci-*", "reason": "migration", "expires": "2026-12-05"}]"#,
        )
        .unwrap();
        let ci = who_of("assumed-role-ci");
        let last_day = datetime!(2026-12-05 23:59 UTC);
        assert!(matches!(
            rules.verdict(&ci, "s3:GetObject", last_day),
            Verdict::Expected(_)
        ));
        assert!(rules.expired(last_day).is_empty());
        let after = datetime!(2026-12-06 00:00 UTC);
        assert!(
            matches!(rules.verdict(&ci, "s3:GetObject", after), Verdict::Expired(r) if r.reason == "migration")
        );
        let listed: Vec<String> = rules.expired(after).iter().map(|r| r.to_string()).collect();
        assert_eq!(listed, ["principal ci-* (migration), expires 2026-12-05"]);
    }

    #[test]
    fn a_live_rule_wins_over_an_expired_one() {
        let rules = Rules::parse(
            r#"[{"principal": "ci-*", "reason": "old", "expires": "2020-01-01"},
                {"action": "s3:*", "reason": "new"}]"#,
        )
        .unwrap();
        let ci = who_of("assumed-role-ci");
        let now = datetime!(2026-12-06 09:00 UTC);
        assert!(
            matches!(rules.verdict(&ci, "s3:GetObject", now), Verdict::Expected(r) if r.reason == "new")
        );
    }

    #[test]
    fn a_typo_or_a_rule_for_everything_is_refused_naming_the_rule() {
        for (json, says) in [
            (
                r#"[{"principle": "ci-*", "reason": "x"}]"#,
                "unknown field `principle`",
            ),
            (r#"[{"reason": "everything"}]"#, "rule 1: names neither"),
            (
                r#"[{"action": "s3:*", "reason": "ok"}, {"action": "s3:*"}]"#,
                "missing field `reason`",
            ),
            (
                r#"[{"action": "s3:*", "reason": " "}]"#,
                "rule 1: has no reason",
            ),
            (
                r#"[{"action": "GetObject", "reason": "x"}]"#,
                "not service:Action",
            ),
            (
                r#"[{"action": "s3:*", "reason": "x", "expires": "soon"}]"#,
                "expires \"soon\" is not a date",
            ),
            (r#"{"action": "s3:*"}"#, "JSON list"),
        ] {
            let err = Rules::parse(json).unwrap_err();
            assert!(err.contains(says), "{json}: {err}");
        }
    }
}
