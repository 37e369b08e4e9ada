//! The retention policy: which retention each log group should have.
//!
//! `RETENTION_RULES` is an ordered list; the first rule whose prefix or
//! pattern matches a group's name decides, and `RETENTION_DAYS` applies to
//! every group no rule matches. A rule may say `keep`, which leaves the group
//! exactly as it is (never changed, never deleted).

use std::fmt;

use serde::Deserialize;
use shared::pattern::Pattern;
use shared::settings::LOG_RETENTION_DAYS;

/// Parses a retention in days, accepting only CloudWatch's values.
pub fn parse_days(text: &str) -> Result<i32, String> {
    let days: i32 = text
        .trim()
        .parse()
        .map_err(|_| "expected a whole number of days".to_owned())?;
    check_days(days)
}

pub fn check_days(days: i32) -> Result<i32, String> {
    // The template's list is the one list: a retention it offers is one
    // this check takes, and no other.
    if LOG_RETENTION_DAYS.contains(&days.to_string().as_str()) {
        Ok(days)
    } else {
        Err(format!(
            "{days} is not a CloudWatch Logs retention; use one of {}",
            LOG_RETENTION_DAYS.join(", ")
        ))
    }
}

/// How a rule recognises its groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Prefix(String),
    Pattern(Pattern),
}

impl Selector {
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Self::Prefix(prefix) => name.starts_with(prefix.as_str()),
            Self::Pattern(pattern) => pattern.matches(name),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Prefix(prefix) => write!(f, "prefix {prefix}"),
            Self::Pattern(pattern) => write!(f, "pattern {pattern}"),
        }
    }
}

/// What a rule wants for its groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Days(i32),
    Keep,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub selector: Selector,
    pub target: Target,
}

/// The rule as operators write it in `RETENTION_RULES`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    prefix: Option<String>,
    pattern: Option<String>,
    days: Option<i32>,
    keep: Option<bool>,
}

/// Parses `RETENTION_RULES`, naming every bad rule by its position.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, String> {
    let raw: Vec<RawRule> = shared::config::parse_json(text).map_err(|e| {
        format!(
            "is not a JSON array of rules like {{\"prefix\": \"/aws/lambda/\", \"days\": 14}}: {e}"
        )
    })?;
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for (i, rule) in raw.into_iter().enumerate() {
        let n = i + 1;
        let selector = match (rule.prefix, rule.pattern) {
            (Some(p), None) if !p.is_empty() => Some(Selector::Prefix(p)),
            (None, Some(p)) if !p.is_empty() => Some(Selector::Pattern(Pattern::new(&p))),
            _ => {
                problems.push(format!(
                    "rule {n} needs exactly one non-empty \"prefix\" or \"pattern\""
                ));
                None
            }
        };
        let target = match (rule.days, rule.keep) {
            (Some(days), None | Some(false)) => match check_days(days) {
                Ok(days) => Some(Target::Days(days)),
                Err(why) => {
                    problems.push(format!("rule {n}: {why}"));
                    None
                }
            },
            (None, Some(true)) => Some(Target::Keep),
            _ => {
                problems.push(format!(
                    "rule {n} needs exactly one of \"days\" or \"keep\": true"
                ));
                None
            }
        };
        if let (Some(selector), Some(target)) = (selector, target) {
            rules.push(Rule { selector, target });
        }
    }
    if problems.is_empty() {
        Ok(rules)
    } else {
        Err(problems.join("; "))
    }
}

/// The policy: ordered rules, then the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub default_days: i32,
    pub rules: Vec<Rule>,
}

/// What the policy wants for one group, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub target: Target,
    pub why: String,
}

impl Policy {
    pub fn decide(&self, name: &str) -> Decision {
        match self.rules.iter().find(|r| r.selector.matches(name)) {
            Some(rule) => Decision {
                target: rule.target,
                why: format!("rule {}", rule.selector),
            },
            None => Decision {
                target: Target::Days(self.default_days),
                why: "default RETENTION_DAYS".to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cloudwatch_values_are_accepted() {
        assert_eq!(parse_days("30"), Ok(30));
        assert_eq!(parse_days("1096"), Ok(1096));
        let err = parse_days("31").unwrap_err();
        assert!(
            err.contains("31 is not a CloudWatch Logs retention"),
            "{err}"
        );
        assert!(err.contains("3653"), "{err}");
        assert!(parse_days("thirty").is_err());
        assert!(parse_days("0").is_err());
    }

    #[test]
    fn the_issue_example_parses_and_first_match_wins() {
        let rules = parse_rules(
            r#"[{"prefix": "/aws/lambda/", "days": 14}, {"pattern": "/ecs/*-prod", "days": 90},
                {"prefix": "/audit/", "keep": true}, {"prefix": "/aws/", "days": 365}]"#,
        )
        .unwrap();
        let policy = Policy {
            default_days: 30,
            rules,
        };
        assert_eq!(policy.decide("/aws/lambda/api").target, Target::Days(14));
        assert_eq!(policy.decide("/aws/rds/db").target, Target::Days(365));
        assert_eq!(policy.decide("/ecs/web-prod").target, Target::Days(90));
        assert_eq!(policy.decide("/ecs/web-dev").target, Target::Days(30));
        assert_eq!(policy.decide("/audit/trail").target, Target::Keep);
        assert_eq!(
            policy.decide("/ecs/web-prod").why,
            "rule pattern /ecs/*-prod"
        );
    }

    #[test]
    fn every_bad_rule_is_named() {
        let err = parse_rules(
            r#"[{"prefix": "/a/", "days": 31}, {"days": 14}, {"prefix": "/b/", "pattern": "x", "days": 1},
                {"prefix": "/c/"}, {"prefix": "/d/", "days": 14, "keep": true}]"#,
        )
        .unwrap_err();
        assert!(err.contains("rule 1: 31 is not"), "{err}");
        assert!(err.contains("rule 2 needs exactly one non-empty"), "{err}");
        assert!(err.contains("rule 3 needs exactly one non-empty"), "{err}");
        assert!(err.contains("rule 4 needs exactly one of"), "{err}");
        assert!(err.contains("rule 5 needs exactly one of"), "{err}");
        let err = parse_rules(r#"[{"prefix": "/a/", "dayz": 14}]"#).unwrap_err();
        assert!(err.contains("unknown field `dayz`"), "{err}");
    }
}
