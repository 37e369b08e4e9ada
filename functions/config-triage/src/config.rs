//! The function's configuration, read once at cold start.

use std::time::Duration;

use shared::config::Env;
use shared::secret::SecretRef;

use crate::exemption::Exemptions;
use crate::routing::Routes;
use crate::severity::SeverityRules;

pub const DEFAULT_RENOTIFY_HOURS: u64 = 24;
pub const DEFAULT_OWNER_TAG_KEY: &str = "owner";
pub const DEFAULT_DIGEST_OLDEST: usize = 10;

#[derive(Debug, Clone)]
pub struct Config {
    pub state_table: String,
    pub severity: SeverityRules,
    /// From `EXEMPTIONS`; the parameter's are added per invocation.
    pub exemptions: Exemptions,
    pub exemptions_parameter: Option<String>,
    pub renotify: Duration,
    pub routes: Routes,
    pub critical_topic_arn: Option<String>,
    pub aggregator_name: Option<String>,
    pub digest_oldest: usize,
    pub dry_run: bool,
}

impl Config {
    pub fn from_env(env: &mut Env) -> Self {
        let state_table: String = env.required("STATE_TABLE", "toilkit-config-triage-state");
        let severity = env
            .json::<SeverityRules>(
                "SEVERITY_RULES",
                r#"[{"rule":"restricted-ssh","severity":"critical"},{"rule":"s3-*","severity":"high"}]"#,
            )
            .unwrap_or_default();
        let exemptions = env
            .optional_with(
                "EXEMPTIONS",
                r#"[{"rule":"s3-bucket-logging-enabled","tag":{"key":"data-class","value":"public"},"expires":"2026-12-31","reason":"public assets"}]"#,
                Exemptions::parse,
            )
            .unwrap_or_default();
        let exemptions_parameter = env.raw("EXEMPTIONS_PARAMETER").map(str::to_owned);
        let renotify_hours: u64 = env.or_default("RENOTIFY_HOURS", DEFAULT_RENOTIFY_HOURS, "24");
        // Hours become seconds: a value past u64 seconds would overflow
        // (a panic at cold start, or a wrapped, wrong silence period).
        let renotify = match renotify_hours.checked_mul(3600) {
            Some(secs) => Duration::from_secs(secs),
            None => {
                env.problem(
                    "RENOTIFY_HOURS",
                    format!("{renotify_hours} hours is too long"),
                    "24",
                );
                Duration::from_secs(DEFAULT_RENOTIFY_HOURS * 3600)
            }
        };
        let owner_tag_key: String =
            env.or_default("OWNER_TAG_KEY", DEFAULT_OWNER_TAG_KEY.to_owned(), "team");
        // Read by hand: the generic parser quotes the bad value, and a value
        // holding a webhook URL by mistake must not reach the log.
        let by_owner = match env.raw("ROUTES").map(str::to_owned) {
            None => Default::default(),
            Some(value) => Routes::parse_owners(&value).unwrap_or_else(|why| {
                env.problem(
                    "ROUTES",
                    why,
                    r#"{"payments":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-payments","data":"/toilkit/slack/data"}"#,
                );
                Default::default()
            }),
        };
        let default = SecretRef::slack_webhook_from_env(env);
        if default.is_none()
            && env.raw("SLACK_WEBHOOK_SECRET_ARN").is_none()
            && env.raw("SLACK_WEBHOOK_PARAMETER").is_none()
        {
            env.problem(
                "SLACK_WEBHOOK_SECRET_ARN",
                "one of SLACK_WEBHOOK_SECRET_ARN or SLACK_WEBHOOK_PARAMETER is required (the default route and the digest)",
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-abc123",
            );
        }
        let critical_topic_arn = env.raw("CRITICAL_TOPIC_ARN").map(str::to_owned);
        let aggregator_name = env.raw("AGGREGATOR_NAME").map(str::to_owned);
        let digest_oldest: usize = env.or_default("DIGEST_OLDEST", DEFAULT_DIGEST_OLDEST, "10");
        let dry_run = env.flag("DRY_RUN", false);
        Self {
            state_table,
            severity,
            exemptions,
            exemptions_parameter,
            renotify,
            routes: Routes {
                owner_tag_key,
                by_owner,
                default: default.unwrap_or(SecretRef::Parameter(String::new())),
            },
            critical_topic_arn,
            aggregator_name,
            digest_oldest,
            dry_run,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_setting_is_reported_together() {
        let mut env = Env::from_pairs([
            ("SEVERITY_RULES", r#"[{"rule":"x","severity":"urgent"}]"#),
            ("EXEMPTIONS", r#"[{"reason":"all"}]"#),
            ("ROUTES", r#"{"a":"https://hooks.slack.com/x"}"#),
            ("RENOTIFY_HOURS", "soon"),
        ]);
        let _ = Config::from_env(&mut env);
        let text = env.finish().unwrap_err().to_string();
        for variable in [
            "STATE_TABLE",
            "SEVERITY_RULES",
            "EXEMPTIONS",
            "ROUTES",
            "RENOTIFY_HOURS",
            "SLACK_WEBHOOK_SECRET_ARN",
        ] {
            assert!(text.contains(variable), "{variable} missing from:\n{text}");
        }
        assert!(!text.contains("hooks.slack.com/x"), "{text}");
    }

    #[test]
    fn defaults_apply() {
        let mut env = Env::from_pairs([
            ("STATE_TABLE", "t"),
            ("SLACK_WEBHOOK_PARAMETER", "/toilkit/slack"),
        ]);
        let s = Config::from_env(&mut env);
        env.finish().unwrap();
        assert_eq!(s.renotify, Duration::from_secs(24 * 3600));
        assert_eq!(s.routes.owner_tag_key, "owner");
        assert_eq!(
            s.routes.default,
            SecretRef::Parameter("/toilkit/slack".into())
        );
        assert!(!s.dry_run);
        assert!(s.exemptions.0.is_empty());
    }
}
