//! The function's configuration, read once at cold start.

use std::time::Duration;

use shared::config::{Constraint, Env, Kind, Parameter, Required, Setting, Source};
use shared::settings::{self, SLACK_WEBHOOK_PARAMETER, SLACK_WEBHOOK_SECRET_ARN};

use crate::exemption::Exemptions;
use crate::severity::SeverityRules;
use shared::routing::Routes;

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
        let state_table: String = env.required(&STATE_TABLE);
        let severity = env
            .json::<SeverityRules>(&SEVERITY_RULES)
            .unwrap_or_default();
        let exemptions = env
            .optional_with(&EXEMPTIONS, Exemptions::parse)
            .unwrap_or_default();
        let exemptions_parameter = env.raw(&EXEMPTIONS_PARAMETER).map(str::to_owned);
        let renotify_hours: u64 = env.or_default(&RENOTIFY_HOURS);
        // Hours become seconds: a value past u64 seconds would overflow
        // (a panic at cold start, or a wrapped, wrong silence period).
        let renotify = match renotify_hours.checked_mul(3600) {
            Some(secs) => Duration::from_secs(secs),
            None => {
                env.invalid(
                    &RENOTIFY_HOURS,
                    format!("{renotify_hours} hours is too long"),
                );
                let hours: u64 = RENOTIFY_HOURS.default_value().unwrap_or_default();
                Duration::from_secs(hours * 3600)
            }
        };
        let routes = Routes::from_env(env, &OWNER_TAG_KEY, &ROUTES);
        let critical_topic_arn = env.raw(&CRITICAL_TOPIC_ARN).map(str::to_owned);
        let aggregator_name = env.raw(&AGGREGATOR_NAME).map(str::to_owned);
        let digest_oldest: usize = env.or_default(&DIGEST_OLDEST);
        let dry_run = env.flag(&DRY_RUN);
        Self {
            state_table,
            severity,
            exemptions,
            exemptions_parameter,
            renotify,
            routes,
            critical_topic_arn,
            aggregator_name,
            digest_oldest,
            dry_run,
        }
    }
}

/// Every variable the function reads, in the order the README and the
/// template list them (`cargo xtask gen` writes both from this list).
pub const SETTINGS: &[Setting] = &[
    STATE_TABLE,
    SEVERITY_RULES,
    EXEMPTIONS,
    EXEMPTIONS_PARAMETER,
    RENOTIFY_HOURS,
    OWNER_TAG_KEY,
    ROUTES,
    Setting {
        description: "Default webhook (Secrets Manager), used for unrouted owners and the digest. Set this or `SLACK_WEBHOOK_PARAMETER`.",
        ..SLACK_WEBHOOK_SECRET_ARN
    },
    Setting {
        description: "Default webhook (SSM SecureString parameter). Set this or `SLACK_WEBHOOK_SECRET_ARN`.",
        ..SLACK_WEBHOOK_PARAMETER
    },
    CRITICAL_TOPIC_ARN,
    AGGREGATOR_NAME,
    DIGEST_OLDEST,
    DRY_RUN,
    settings::RESULT_EVENT_BUS,
    settings::RESULT_LABEL,
];

pub const STATE_TABLE: Setting = Setting {
    name: "STATE_TABLE",
    kind: Kind::Text,
    required: Required::Yes,
    default: None,
    example: "toilkit-config-triage-state",
    description: "DynamoDB table (partition key `pk`, string; TTL on `expires_at`) holding the last status, whether the violation was announced, when, and to which route.",
    source: Source::Template("!Ref ConfigStateTable"),
};

pub const SEVERITY_RULES: Setting = Setting {
    name: "SEVERITY_RULES",
    kind: Kind::Json("list(object({\n  rule     = string\n  severity = string\n}))"),
    required: Required::No,
    default: None,
    example: r#"[{"rule":"restricted-ssh","severity":"critical"},{"rule":"s3-*","severity":"high"}]"#,
    description: "JSON list of rule-name patterns and severities; the first match wins, and unmatched rules are `medium`.",
    source: Source::Parameter(Parameter {
        name: "ConfigTriageSeverityRules",
        constraint: settings::JSON_ARRAY,
        max_length: Some(512),
        default: None,
        attribute: Some("severity_rules"),
    }),
};

pub const EXEMPTIONS: Setting = Setting {
    name: "EXEMPTIONS",
    kind: Kind::Json(
        "list(object({\n  rule          = optional(string)\n  resource      = optional(string)\n  resource_type = optional(string)\n  tag = optional(object({\n    key   = string\n    value = optional(string)\n  }))\n  expires = optional(string)\n  reason  = optional(string)\n}))",
    ),
    required: Required::No,
    default: None,
    example: r#"[{"rule":"s3-bucket-logging-enabled","tag":{"key":"data-class","value":"public"},"expires":"2026-12-31","reason":"public assets"}]"#,
    description: "JSON list of exemptions (the README gives the format).",
    source: Source::Parameter(Parameter {
        name: "ConfigTriageExemptions",
        constraint: settings::JSON_ARRAY,
        max_length: Some(896),
        default: None,
        attribute: Some("exemptions"),
    }),
};

pub const EXEMPTIONS_PARAMETER: Setting = Setting {
    name: "EXEMPTIONS_PARAMETER",
    kind: Kind::Text,
    required: Required::No,
    default: None,
    example: "/toilkit/config-triage/exemptions",
    description: "SSM parameter holding more exemptions in the same format, read at each invocation.",
    source: Source::Parameter(Parameter {
        name: "ConfigTriageExemptionsParameter",
        constraint: Constraint::Pattern {
            pattern: r#"^$|^/[A-Za-z0-9_.\-/]{1,255}$"#,
            description: Some(r#"Empty, or an SSM parameter name starting with "/"."#),
        },
        max_length: Some(256),
        default: None,
        attribute: Some("exemptions_parameter"),
    }),
};

pub const RENOTIFY_HOURS: Setting = Setting {
    name: "RENOTIFY_HOURS",
    kind: Kind::Number,
    required: Required::No,
    default: Some("24"),
    example: "24",
    description: "A violation that returns within this many hours of the last violation notification is held (flapping).",
    source: Source::Parameter(Parameter {
        name: "ConfigTriageRenotifyHours",
        constraint: Constraint::Range {
            min: 0,
            max: 999999999,
        },
        max_length: None,
        default: None,
        attribute: Some("renotify_hours"),
    }),
};

pub const OWNER_TAG_KEY: Setting = settings::owner_tag_key(
    "ConfigTriageOwnerTagKey",
    "Tag whose value names the owning team for routing.",
);

pub const ROUTES: Setting = settings::routes(
    "ConfigTriageRoutes",
    "JSON object mapping owner to that team's webhook secret (Secrets Manager ARN or name, or SSM parameter name). With the template, the secrets must sit under `ConfigTriageRouteSecretPrefix`.",
    384,
);

pub const CRITICAL_TOPIC_ARN: Setting = settings::critical_topic_arn(
    "ConfigTriageCriticalTopicArn",
    "SNS topic that critical violations are also published to, for paging.",
);

pub const AGGREGATOR_NAME: Setting = Setting {
    name: "AGGREGATOR_NAME",
    kind: Kind::Text,
    required: Required::No,
    default: None,
    example: "org-aggregator",
    description: "Config aggregator for a multi-account digest; unset, the digest covers this account and region.",
    source: Source::Parameter(Parameter {
        name: "ConfigTriageAggregatorName",
        constraint: Constraint::Pattern {
            pattern: "^$|^[A-Za-z0-9_-]{1,256}$",
            description: Some("Empty, or a Config aggregator name."),
        },
        max_length: None,
        default: None,
        attribute: Some("aggregator_name"),
    }),
};

pub const DIGEST_OLDEST: Setting = Setting {
    name: "DIGEST_OLDEST",
    kind: Kind::Number,
    required: Required::No,
    default: Some("10"),
    example: "10",
    description: "How many of the oldest open violations the digest lists.",
    source: Source::Parameter(Parameter {
        name: "ConfigTriageDigestOldest",
        constraint: Constraint::Range {
            min: 0,
            max: 999999999,
        },
        max_length: None,
        default: None,
        attribute: Some("digest_oldest"),
    }),
};

pub const DRY_RUN: Setting = settings::dry_run(
    "ConfigTriageDryRun",
    "Decide and report only: no messages, no pages, no state writes.",
);

#[cfg(test)]
mod tests {
    use toilkit_tests::settings::{assert_names_all, rejected};

    use shared::secret::SecretRef;

    use super::*;

    #[test]
    fn every_bad_setting_is_reported_together() {
        let text = rejected(
            [
                ("SEVERITY_RULES", r#"[{"rule":"x","severity":"urgent"}]"#),
                ("EXEMPTIONS", r#"[{"reason":"all"}]"#),
                ("ROUTES", r#"{"a":"https://hooks.slack.com/x"}"#),
                ("RENOTIFY_HOURS", "soon"),
            ],
            Config::from_env,
        );
        assert_names_all(
            &text,
            &[
                "STATE_TABLE",
                "SEVERITY_RULES",
                "EXEMPTIONS",
                "ROUTES",
                "RENOTIFY_HOURS",
                "SLACK_WEBHOOK_SECRET_ARN",
            ],
        );
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
