//! Severity of a violation, from the rule's name (`SEVERITY_RULES`).

use std::fmt;

use serde::{Deserialize, Serialize};
use shared::pattern::Pattern;

/// How urgent a violation is. Ordered from most to least urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Self::Critical, Self::High, Self::Medium, Self::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `SEVERITY_RULES`: rules whose name matches `rule` get `severity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityRule {
    #[serde(alias = "pattern")]
    pub rule: Pattern,
    pub severity: Severity,
}

/// The ordered list; the first matching entry wins, so specific patterns go first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SeverityRules(pub Vec<SeverityRule>);

/// Rules nobody classified are worth a look, not a page.
pub const DEFAULT_SEVERITY: Severity = Severity::Medium;

impl SeverityRules {
    pub fn severity_of(&self, rule_name: &str) -> Severity {
        self.0
            .iter()
            .find(|r| r.rule.matches(rule_name))
            .map_or(DEFAULT_SEVERITY, |r| r.severity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_pattern_wins_and_unmatched_rules_are_medium() {
        let rules: SeverityRules = serde_json::from_str(
            r#"[{"rule": "restricted-ssh", "severity": "critical"},
                {"rule": "restricted-*", "severity": "high"},
                {"pattern": "*-logging-*", "severity": "low"}]"#,
        )
        .unwrap();
        assert_eq!(rules.severity_of("restricted-ssh"), Severity::Critical);
        assert_eq!(rules.severity_of("restricted-common-ports"), Severity::High);
        assert_eq!(
            rules.severity_of("s3-bucket-logging-enabled"),
            Severity::Low
        );
        assert_eq!(rules.severity_of("encrypted-volumes"), Severity::Medium);
    }

    #[test]
    fn an_unknown_severity_is_refused() {
        let err = serde_json::from_str::<SeverityRules>(r#"[{"rule": "x", "severity": "urgent"}]"#)
            .unwrap_err();
        assert!(err.to_string().contains("urgent"), "{err}");
    }
}
