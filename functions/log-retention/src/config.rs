//! The function's configuration, read once at cold start.

use serde::Deserialize;
use shared::config::{Constraint, Env, Kind, Parameter, Required, Setting, Source};
use shared::settings;

use crate::policy::{self, Policy};

/// CloudWatch Logs' default quota for DescribeLogGroups, DescribeLogStreams
/// and DeleteLogGroup: 5 transactions per second per account and region, the
/// lowest among the operations this function calls. `MAX_API_RPS` declares
/// it as its default (a test keeps the two equal).
pub const DEFAULT_MAX_API_RPS: f64 = 5.0;

/// One `S3_PRUNE` entry: delete objects under `prefix` older than `days`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneTarget {
    pub bucket: String,
    /// Required, so that pruning a whole bucket is a deliberate `""`.
    pub prefix: String,
    pub days: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub policy: Policy,
    pub override_existing: bool,
    pub exempt_tag_key: String,
    pub delete_empty_after_days: Option<u32>,
    pub s3_prune: Vec<PruneTarget>,
    pub max_group_deletions: u64,
    pub max_object_deletions: u64,
    /// Empty means the function's own region.
    pub regions: Vec<String>,
    pub dry_run: bool,
    /// Calls per second to any one API operation, per region.
    pub max_api_rps: f64,
}

impl Config {
    /// Reads every variable; problems are recorded in `env` and reported
    /// together by `env.finish()`.
    pub fn from_env(env: &mut Env) -> Self {
        let default_days = env.required_with(&RETENTION_DAYS, policy::parse_days);
        let rules = env
            .optional_with(&RETENTION_RULES, policy::parse_rules)
            .unwrap_or_default();
        let override_existing = env.flag(&OVERRIDE_EXISTING);
        // Any text is a tag key: read as is, not parsed.
        let exempt_tag_key: String = env.or_default(&EXEMPT_TAG_KEY);
        let delete_empty_after_days =
            env.optional_with(&DELETE_EMPTY_AFTER_DAYS, |v| match v.parse::<u32>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err("expected a whole number of days, at least 1".to_owned()),
            });
        let s3_prune = env
            .optional_with(&S3_PRUNE, parse_prune)
            .unwrap_or_default();
        let max_group_deletions = env.or_default(&MAX_GROUP_DELETIONS_PER_RUN);
        let max_object_deletions = env.or_default(&MAX_OBJECT_DELETIONS_PER_RUN);
        let regions = env.list(&REGIONS);
        for region in &regions {
            if !region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                env.invalid(&REGIONS, format!("{region:?} is not a region name"));
            }
        }
        let dry_run = env.flag(&DRY_RUN);
        let max_api_rps = env.or_default_with(&MAX_API_RPS, |v| match v.parse::<f64>() {
            Ok(n) if n > 0.0 && n.is_finite() => Ok(n),
            _ => Err("expected a number of calls per second above 0".to_owned()),
        });
        Self {
            policy: Policy {
                default_days,
                rules,
            },
            override_existing,
            exempt_tag_key,
            delete_empty_after_days,
            s3_prune,
            max_group_deletions,
            max_object_deletions,
            regions,
            dry_run,
            max_api_rps,
        }
    }

    /// The configuration from explicit variables; tests use this.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, shared::config::ConfigError> {
        let mut env = Env::from_pairs(pairs);
        let config = Self::from_env(&mut env);
        env.finish()?;
        Ok(config)
    }
}

/// Every variable the function reads, in the order the README and the
/// template list them (`cargo xtask gen` writes both from this list).
pub const SETTINGS: &[Setting] = &[
    RETENTION_DAYS,
    RETENTION_RULES,
    OVERRIDE_EXISTING,
    EXEMPT_TAG_KEY,
    DELETE_EMPTY_AFTER_DAYS,
    S3_PRUNE,
    MAX_GROUP_DELETIONS_PER_RUN,
    MAX_OBJECT_DELETIONS_PER_RUN,
    REGIONS,
    DRY_RUN,
    MAX_API_RPS,
    settings::RESULT_EVENT_BUS,
    settings::RESULT_LABEL,
];

pub const RETENTION_DAYS: Setting = Setting {
    name: "RETENTION_DAYS",
    kind: Kind::Number,
    required: Required::Yes,
    default: None,
    example: "30",
    description: "Retention for groups no rule matches; one of the values CloudWatch Logs accepts, from 1 to 3653 (anything else stops the function at init).",
    source: Source::Parameter(Parameter {
        name: "LogRetentionDays",
        constraint: Constraint::Numbers(shared::settings::LOG_RETENTION_DAYS),
        max_length: None,
        default: Some("30"),
        attribute: Some("retention_days"),
    }),
};

pub const RETENTION_RULES: Setting = Setting {
    name: "RETENTION_RULES",
    kind: Kind::Json(
        "list(object({\n  prefix  = optional(string)\n  pattern = optional(string)\n  days    = optional(number)\n  keep    = optional(bool)\n}))",
    ),
    required: Required::No,
    default: None,
    example: r#"[{"prefix": "/aws/lambda/", "days": 14}, {"prefix": "/audit/", "keep": true}]"#,
    description: r#"JSON array of rules, first match wins: a `prefix` or a `pattern`, and `days` or `"keep": true` (leave the group as it is)."#,
    source: Source::Parameter(Parameter {
        name: "LogRetentionRules",
        constraint: settings::JSON_ARRAY,
        max_length: Some(2048),
        default: None,
        attribute: Some("rules"),
    }),
};

pub const OVERRIDE_EXISTING: Setting = Setting {
    name: "OVERRIDE_EXISTING",
    kind: Kind::Flag,
    required: Required::No,
    default: Some("false"),
    example: "true",
    description: "`false`: change only groups with no retention. `true`: also change groups whose retention differs from their rule; shortened ones are reported apart.",
    source: Source::Parameter(Parameter {
        name: "LogRetentionOverrideExisting",
        constraint: Constraint::Values(&["true", "false"]),
        max_length: None,
        default: None,
        attribute: Some("override_existing"),
    }),
};

pub const EXEMPT_TAG_KEY: Setting = Setting {
    name: "EXEMPT_TAG_KEY",
    kind: Kind::Text,
    required: Required::No,
    default: Some("toilkit:keep"),
    example: "toilkit:keep",
    description: "A group carrying this tag key is never changed or deleted.",
    source: Source::Parameter(Parameter {
        name: "LogRetentionExemptTagKey",
        constraint: Constraint::Pattern {
            pattern: r#"^[A-Za-z0-9 _.:/=+\-@]{1,128}$"#,
            description: Some("A tag key."),
        },
        max_length: None,
        default: None,
        attribute: Some("exempt_tag_key"),
    }),
};

pub const DELETE_EMPTY_AFTER_DAYS: Setting = Setting {
    name: "DELETE_EMPTY_AFTER_DAYS",
    kind: Kind::Number,
    required: Required::No,
    default: None,
    example: "90",
    description: "Delete a group created more than N days ago that stores 0 bytes, had no stream created and no event for N days (stream timestamps, then one FilterLogEvents search), has no subscription or metric filter, data protection policy, account-level or resource policy naming it, and is not exempt by the index's tags or its own (the README's Safety section says more). Unset: never delete.",
    source: Source::Parameter(Parameter {
        name: "LogRetentionDeleteEmptyAfterDays",
        constraint: Constraint::Pattern {
            pattern: "^$|^[1-9][0-9]{0,4}$",
            description: Some("Empty, or a whole number of days."),
        },
        max_length: None,
        default: None,
        attribute: Some("delete_empty_after_days"),
    }),
};

pub const S3_PRUNE: Setting = Setting {
    name: "S3_PRUNE",
    kind: Kind::Json(
        "list(object({\n  bucket = string\n  prefix = optional(string, \"\")\n  days   = number\n}))",
    ),
    required: Required::No,
    default: None,
    example: r#"[{"bucket": "app-logs-123", "prefix": "app/", "days": 90}]"#,
    description: "JSON array: delete objects under each bucket and prefix last modified more than `days` ago (DeleteObjects, 1,000 a call). In versioned buckets this adds delete markers; noncurrent versions remain. The template also needs every bucket in `LogRetentionPruneBuckets`.",
    source: Source::Parameter(Parameter {
        name: "LogRetentionS3Prune",
        constraint: settings::JSON_ARRAY,
        max_length: Some(768),
        default: None,
        attribute: Some("s3_prune"),
    }),
};

pub const MAX_GROUP_DELETIONS_PER_RUN: Setting = Setting {
    name: "MAX_GROUP_DELETIONS_PER_RUN",
    kind: Kind::Number,
    required: Required::No,
    default: Some("50"),
    example: "50",
    description: "At most this many log groups deleted per run.",
    source: Source::Parameter(Parameter {
        name: "LogRetentionMaxGroupDeletionsPerRun",
        constraint: Constraint::Range {
            min: 0,
            max: 999999999,
        },
        max_length: None,
        default: None,
        attribute: Some("max_group_deletions_per_run"),
    }),
};

pub const MAX_OBJECT_DELETIONS_PER_RUN: Setting = Setting {
    name: "MAX_OBJECT_DELETIONS_PER_RUN",
    kind: Kind::Number,
    required: Required::No,
    default: Some("100000"),
    example: "100000",
    description: "At most this many S3 objects deleted per run.",
    source: Source::Parameter(Parameter {
        name: "LogRetentionMaxObjectDeletionsPerRun",
        constraint: Constraint::Range {
            min: 0,
            max: 999999999,
        },
        max_length: None,
        default: None,
        attribute: Some("max_object_deletions_per_run"),
    }),
};

pub const REGIONS: Setting = Setting {
    name: "REGIONS",
    kind: Kind::List,
    required: Required::No,
    default: None,
    example: "eu-west-1,us-east-1",
    description: "Comma-separated regions to sweep; unset: the function's own region.",
    source: Source::Parameter(Parameter {
        name: "LogRetentionRegions",
        constraint: Constraint::Pattern {
            pattern: "^$|^[a-z]{2}(-[a-z]+)+-[0-9](,[a-z]{2}(-[a-z]+)+-[0-9])*$",
            description: Some("Empty, or comma-separated Region names."),
        },
        max_length: Some(512),
        default: None,
        attribute: Some("regions"),
    }),
};

pub const MAX_API_RPS: Setting = Setting {
    name: "MAX_API_RPS",
    kind: Kind::Number,
    required: Required::No,
    default: Some("5"),
    example: "5",
    description: "At most this many calls per second to any one API operation, per region (5 is CloudWatch Logs' default quota for DescribeLogGroups, DescribeLogStreams and DeleteLogGroup).",
    source: Source::Parameter(Parameter {
        name: "LogRetentionMaxApiRps",
        constraint: Constraint::Pattern {
            pattern: r#"^[0-9]+(\.[0-9]+)?$"#,
            description: Some("A number of calls per second."),
        },
        max_length: Some(16),
        default: None,
        attribute: Some("max_api_rps"),
    }),
};

pub const DRY_RUN: Setting = settings::dry_run(
    "LogRetentionDryRun",
    r#"Plan and report only; change nothing. `{"dry_run": ...}` in a manual invoke overrides it for one run."#,
);

fn parse_prune(text: &str) -> Result<Vec<PruneTarget>, String> {
    let targets: Vec<PruneTarget> = shared::config::parse_json(text).map_err(|e| {
        format!("is not a JSON array of {{\"bucket\", \"prefix\", \"days\"}} objects: {e}")
    })?;
    let mut problems = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        if t.bucket.trim().is_empty() {
            problems.push(format!("entry {} has an empty bucket", i + 1));
        }
        if t.days == 0 {
            problems.push(format!("entry {} needs days of at least 1", i + 1));
        }
    }
    if problems.is_empty() {
        Ok(targets)
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_only_the_retention_is_set() {
        let config = Config::from_pairs([("RETENTION_DAYS", "30")]).unwrap();
        assert_eq!(config.policy.default_days, 30);
        assert!(config.policy.rules.is_empty());
        assert!(!config.override_existing);
        assert_eq!(config.exempt_tag_key, "toilkit:keep");
        assert_eq!(config.delete_empty_after_days, None);
        assert!(config.s3_prune.is_empty());
        assert_eq!(config.max_group_deletions, 50);
        assert_eq!(config.max_object_deletions, 100_000);
        assert!(config.regions.is_empty());
        assert!(!config.dry_run);
        assert_eq!(config.max_api_rps, 5.0);
    }

    #[test]
    fn every_option_is_read() {
        let config = Config::from_pairs([
            ("RETENTION_DAYS", "90"),
            (
                "RETENTION_RULES",
                r#"[{"prefix": "/aws/lambda/", "days": 14}]"#,
            ),
            ("OVERRIDE_EXISTING", "true"),
            ("EXEMPT_TAG_KEY", "keep-me"),
            ("DELETE_EMPTY_AFTER_DAYS", "60"),
            (
                "S3_PRUNE",
                r#"[{"bucket": "app-logs-123", "prefix": "app/", "days": 90}]"#,
            ),
            ("MAX_GROUP_DELETIONS_PER_RUN", "7"),
            ("MAX_OBJECT_DELETIONS_PER_RUN", "1000"),
            ("REGIONS", "eu-west-1, us-east-2"),
            ("DRY_RUN", "yes"),
            ("MAX_API_RPS", "2.5"),
        ])
        .unwrap();
        assert_eq!(config.policy.rules.len(), 1);
        assert!(config.override_existing);
        assert_eq!(config.exempt_tag_key, "keep-me");
        assert_eq!(config.delete_empty_after_days, Some(60));
        assert_eq!(
            config.s3_prune,
            [PruneTarget {
                bucket: "app-logs-123".into(),
                prefix: "app/".into(),
                days: 90
            }]
        );
        assert_eq!(config.max_group_deletions, 7);
        assert_eq!(config.max_object_deletions, 1000);
        assert_eq!(config.regions, ["eu-west-1", "us-east-2"]);
        assert!(config.dry_run);
        assert_eq!(config.max_api_rps, 2.5);
    }

    #[test]
    fn an_invalid_retention_is_rejected_with_every_other_problem() {
        let err = Config::from_pairs([
            ("RETENTION_DAYS", "31"),
            ("DELETE_EMPTY_AFTER_DAYS", "0"),
            ("S3_PRUNE", r#"[{"bucket": "b", "days": 3}]"#),
            ("MAX_API_RPS", "0"),
            ("REGIONS", "eu-west-1,EU WEST"),
        ])
        .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.problems.len(), 5, "{text}");
        assert!(
            text.contains("RETENTION_DAYS: \"31\" is invalid: 31 is not a CloudWatch Logs retention; use one of 1, 3, 5"),
            "{text}"
        );
        assert!(text.contains("DELETE_EMPTY_AFTER_DAYS"), "{text}");
        assert!(
            text.contains("S3_PRUNE") && text.contains("missing field `prefix`"),
            "{text}"
        );
        assert!(text.contains("MAX_API_RPS"), "{text}");
        assert!(text.contains("\"EU WEST\" is not a region name"), "{text}");
        let missing = Config::from_pairs([("DRY_RUN", "true")]).unwrap_err();
        assert!(missing.to_string().contains("RETENTION_DAYS: is required"));
    }
}
