//! The function's configuration, read once at cold start.

use regex::Regex;
use shared::config::Env;
use shared::pattern::Pattern;
use shared::secret::SecretRef;

use crate::classify::{Categories, Category, HostRule, Rules};

/// Everything the environment configures.
#[derive(Debug, Clone)]
pub struct Config {
    pub rules: Rules,
    /// `IDEMPOTENCY_TABLE`; idempotency is off without it.
    pub idempotency_table: Option<String>,
    pub webhook: Option<SecretRef>,
    /// `DRY_RUN`: plan and report, post nothing.
    pub dry_run: bool,
    /// Remarks worth a warning at cold start (not errors).
    pub warnings: Vec<String>,
}

impl Config {
    /// Reads every variable; problems are recorded in `env` for `finish`.
    pub fn from_env(env: &mut Env) -> Self {
        let defaults = Rules::default();
        let alert_on: Categories = if env.raw("ALERT_ON").is_some() {
            env.list_of::<Category>("ALERT_ON", "ddl,account,failed_login")
                .into_iter()
                .collect()
        } else {
            defaults.alert_on
        };
        let ignore_users = if env.raw("IGNORE_USERS").is_some() {
            patterns(env.list("IGNORE_USERS"))
        } else {
            defaults.ignore_users
        };
        let ignore_hosts: Vec<HostRule> = env.list_of("IGNORE_HOSTS", "10.0.0.0/8,bastion-*");
        let watch_users = patterns(env.list("WATCH_USERS"));
        let match_regex = env.optional_with("MATCH_REGEX", "(?i)\\bpayroll\\b", |v| {
            Regex::new(v).map_err(|e| format!("is not a valid regular expression: {e}"))
        });
        let idempotency_table = env.raw("IDEMPOTENCY_TABLE").map(str::to_owned);
        let dry_run = env.flag("DRY_RUN", false);
        let webhook = SecretRef::slack_webhook_from_env(env);
        if webhook.is_none() && env.raw("SLACK_WEBHOOK_PARAMETER").is_none() && !dry_run {
            env.problem(
                "SLACK_WEBHOOK_SECRET_ARN",
                "is required (or SLACK_WEBHOOK_PARAMETER): the function posts alerts to Slack",
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-abc123",
            );
        }

        let mut warnings = Vec::new();
        if !watch_users.is_empty() && !alert_on.contains(Category::WatchedUser) {
            warnings.push(
                "WATCH_USERS is set but ALERT_ON does not include watched_user: watched users alert only for their other categories".to_owned(),
            );
        }
        if match_regex.is_some() && !alert_on.contains(Category::Custom) {
            warnings.push(
                "MATCH_REGEX is set but ALERT_ON does not include custom: matches alert only for their other categories".to_owned(),
            );
        }
        if alert_on.is_empty() && env.raw("ALERT_ON").is_some() {
            env.problem("ALERT_ON", "names no category", "ddl,account,failed_login");
        }
        Self {
            rules: Rules {
                alert_on,
                ignore_users,
                ignore_hosts,
                watch_users,
                match_regex,
            },
            idempotency_table,
            webhook,
            dry_run,
            warnings,
        }
    }
}

fn patterns(items: Vec<String>) -> Vec<Pattern> {
    items.iter().map(|p| Pattern::new(p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_full_configuration() {
        let mut env = Env::from_pairs([("SLACK_WEBHOOK_PARAMETER", "/toilkit/slack")]);
        let config = Config::from_env(&mut env);
        env.finish().unwrap();
        assert_eq!(config.rules.alert_on.names(), "ddl, account, failed_login");
        assert_eq!(config.rules.ignore_users[0].as_str(), "rdsadmin");
        assert!(config.idempotency_table.is_none());

        let mut env = Env::from_pairs([
            (
                "SLACK_WEBHOOK_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:s",
            ),
            ("ALERT_ON", "ddl, watched_user,CUSTOM"),
            ("IGNORE_USERS", "rdsadmin,backup-*"),
            ("IGNORE_HOSTS", "10.0.0.0/8, 192.0.2.7, bastion-*"),
            ("WATCH_USERS", "contractor-*"),
            ("MATCH_REGEX", "(?i)payroll"),
            ("IDEMPOTENCY_TABLE", "toilkit-idempotency"),
        ]);
        let config = Config::from_env(&mut env);
        env.finish().unwrap();
        assert_eq!(config.rules.alert_on.names(), "ddl, watched_user, custom");
        assert_eq!(config.rules.ignore_users.len(), 2);
        assert_eq!(config.rules.ignore_hosts.len(), 3);
        assert!(config.warnings.is_empty());
        assert_eq!(
            config.idempotency_table.as_deref(),
            Some("toilkit-idempotency")
        );
    }

    #[test]
    fn every_problem_is_reported_together() {
        let mut env = Env::from_pairs([
            ("ALERT_ON", "ddl,selects"),
            ("IGNORE_HOSTS", "10.0.0.0/33"),
            ("MATCH_REGEX", "(unclosed"),
        ]);
        let config = Config::from_env(&mut env);
        let text = env.finish().unwrap_err().to_string();
        for needle in [
            "ALERT_ON: item \"selects\"",
            "IGNORE_HOSTS: item \"10.0.0.0/33\"",
            "MATCH_REGEX",
            "SLACK_WEBHOOK_SECRET_ARN: is required",
        ] {
            assert!(text.contains(needle), "{needle} missing: {text}");
        }
        let _ = config;
    }

    #[test]
    fn a_dry_run_needs_no_webhook() {
        let mut env = Env::from_pairs([("DRY_RUN", "true")]);
        let config = Config::from_env(&mut env);
        env.finish().unwrap();
        assert!(config.dry_run);
    }

    #[test]
    fn watch_users_without_watched_user_warns() {
        let mut env = Env::from_pairs([
            ("SLACK_WEBHOOK_PARAMETER", "/s"),
            ("ALERT_ON", "ddl,account,failed_login"),
            ("WATCH_USERS", "eve"),
        ]);
        let config = Config::from_env(&mut env);
        env.finish().unwrap();
        assert_eq!(config.warnings.len(), 1);
    }
}
