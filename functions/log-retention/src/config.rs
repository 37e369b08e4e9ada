//! The function's configuration, read once at cold start.

use serde::Deserialize;
use shared::config::Env;

use crate::policy::{self, Policy};

pub const DEFAULT_EXEMPT_TAG_KEY: &str = "toilkit:keep";
pub const DEFAULT_MAX_GROUP_DELETIONS: u64 = 50;
pub const DEFAULT_MAX_OBJECT_DELETIONS: u64 = 100_000;
/// CloudWatch Logs' default quota for DescribeLogGroups, DescribeLogStreams
/// and DeleteLogGroup: 5 transactions per second per account and region, the
/// lowest among the operations this function calls.
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
        let default_days = env.required_with("RETENTION_DAYS", "30", policy::parse_days);
        let rules = env
            .optional_with(
                "RETENTION_RULES",
                r#"[{"prefix": "/aws/lambda/", "days": 14}, {"prefix": "/audit/", "keep": true}]"#,
                policy::parse_rules,
            )
            .unwrap_or_default();
        let override_existing = env.flag("OVERRIDE_EXISTING", false);
        let exempt_tag_key = env
            .raw("EXEMPT_TAG_KEY")
            .unwrap_or(DEFAULT_EXEMPT_TAG_KEY)
            .to_owned();
        let delete_empty_after_days =
            env.optional_with("DELETE_EMPTY_AFTER_DAYS", "90", |v| {
                match v.parse::<u32>() {
                    Ok(n) if n >= 1 => Ok(n),
                    _ => Err("expected a whole number of days, at least 1".to_owned()),
                }
            });
        let s3_prune = env
            .optional_with(
                "S3_PRUNE",
                r#"[{"bucket": "app-logs-123", "prefix": "app/", "days": 90}]"#,
                parse_prune,
            )
            .unwrap_or_default();
        let max_group_deletions = env.or_default(
            "MAX_GROUP_DELETIONS_PER_RUN",
            DEFAULT_MAX_GROUP_DELETIONS,
            "50",
        );
        let max_object_deletions = env.or_default(
            "MAX_OBJECT_DELETIONS_PER_RUN",
            DEFAULT_MAX_OBJECT_DELETIONS,
            "100000",
        );
        let regions = env.list("REGIONS");
        for region in &regions {
            if !region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                env.problem(
                    "REGIONS",
                    format!("{region:?} is not a region name"),
                    "eu-west-1,us-east-1",
                );
            }
        }
        let dry_run = env.flag("DRY_RUN", false);
        let max_api_rps = env
            .optional_with("MAX_API_RPS", "5", |v| match v.parse::<f64>() {
                Ok(n) if n > 0.0 && n.is_finite() => Ok(n),
                _ => Err("expected a number of calls per second above 0".to_owned()),
            })
            .unwrap_or(DEFAULT_MAX_API_RPS);
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
