//! The function's configuration, read once at cold start.

use regex::Regex;
use shared::config::{Constraint, Env, Kind, Parameter, Required, Setting, Source};
use shared::pattern::Pattern;
use shared::secret::SecretRef;
use shared::settings;

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
        let alert_on: Categories = if env.raw(&ALERT_ON).is_some() {
            env.list_of::<Category>(&ALERT_ON).into_iter().collect()
        } else {
            defaults.alert_on
        };
        let ignore_users = if env.raw(&IGNORE_USERS).is_some() {
            patterns(env.list(&IGNORE_USERS))
        } else {
            defaults.ignore_users
        };
        let ignore_hosts: Vec<HostRule> = env.list_of(&IGNORE_HOSTS);
        let watch_users = patterns(env.list(&WATCH_USERS));
        let match_regex = env.optional_with(&MATCH_REGEX, |v| {
            Regex::new(v).map_err(|e| format!("is not a valid regular expression: {e}"))
        });
        let idempotency_table = env.raw(&IDEMPOTENCY_TABLE).map(str::to_owned);
        let dry_run = env.flag(&DRY_RUN);
        let webhook = SecretRef::slack_webhook_from_env(env);
        if webhook.is_none() && env.raw(&settings::SLACK_WEBHOOK_PARAMETER).is_none() && !dry_run {
            env.invalid(
                &settings::SLACK_WEBHOOK_SECRET_ARN,
                "is required (or SLACK_WEBHOOK_PARAMETER): the function posts alerts to Slack",
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
        if alert_on.is_empty() && env.raw(&ALERT_ON).is_some() {
            env.invalid(&ALERT_ON, "names no category");
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

/// Every variable the function reads, in the order the README and the
/// template list them (`cargo xtask gen` writes both from this list).
pub const SETTINGS: &[Setting] = &[
    ALERT_ON,
    IGNORE_USERS,
    IGNORE_HOSTS,
    WATCH_USERS,
    MATCH_REGEX,
    IDEMPOTENCY_TABLE,
    Setting {
        required: Required::OneOf("one of these two"),
        ..settings::SLACK_WEBHOOK_SECRET_ARN
    },
    Setting {
        required: Required::OneOf("one of these two"),
        ..settings::SLACK_WEBHOOK_PARAMETER
    },
    settings::RESULT_EVENT_BUS,
    settings::RESULT_LABEL,
    DRY_RUN,
];

/// Plan and report every alert, post nothing; no webhook is needed then.
/// The template does not set it.
pub const DRY_RUN: Setting = Setting {
    description: "Plan and report every alert and post nothing; no webhook is needed then. The template does not set it.",
    ..settings::DRY_RUN
};

pub const ALERT_ON: Setting = Setting {
    name: "ALERT_ON",
    kind: Kind::List,
    required: Required::No,
    default: Some("ddl,account,failed_login"),
    example: "ddl,account,failed_login",
    description: "Categories that alert: `ddl`, `account`, `failed_login`, `watched_user`, `custom`.",
    source: Source::Parameter(Parameter {
        name: "RdsAlertOn",
        constraint: Constraint::Pattern {
            pattern: "^(ddl|account|failed_login|watched_user|custom)(,(ddl|account|failed_login|watched_user|custom))*$",
            description: Some(
                "A comma-separated list of ddl, account, failed_login, watched_user, custom.",
            ),
        },
        max_length: Some(64),
        default: None,
        attribute: Some("alert_on"),
    }),
};

pub const IGNORE_USERS: Setting = Setting {
    name: "IGNORE_USERS",
    kind: Kind::List,
    required: Required::No,
    default: Some("rdsadmin"),
    example: "rdsadmin,backup-*",
    description: "Database users whose activity never alerts, even failed logins; `*` and `?` wildcards. Setting it replaces the default.",
    source: Source::Parameter(Parameter {
        name: "RdsIgnoreUsers",
        constraint: settings::PRINTABLE_ONE_LINE,
        max_length: Some(640),
        default: None,
        attribute: Some("ignore_users"),
    }),
};

pub const IGNORE_HOSTS: Setting = Setting {
    name: "IGNORE_HOSTS",
    kind: Kind::List,
    required: Required::No,
    default: None,
    example: "10.0.0.0/8,bastion-*",
    description: "Client hosts whose activity never alerts: CIDRs, addresses, or wildcard patterns of host names.",
    source: Source::Parameter(Parameter {
        name: "RdsIgnoreHosts",
        constraint: settings::PRINTABLE_ONE_LINE,
        max_length: Some(640),
        default: None,
        attribute: Some("ignore_hosts"),
    }),
};

pub const WATCH_USERS: Setting = Setting {
    name: "WATCH_USERS",
    kind: Kind::List,
    required: Required::No,
    default: None,
    example: "contractor-*,breakglass",
    description: "Users whose every action is `watched_user`, connects and `SELECT`s included; wildcards.",
    source: Source::Parameter(Parameter {
        name: "RdsWatchUsers",
        constraint: settings::PRINTABLE_ONE_LINE,
        max_length: Some(640),
        default: None,
        attribute: Some("watch_users"),
    }),
};

pub const MATCH_REGEX: Setting = Setting {
    name: "MATCH_REGEX",
    kind: Kind::Text,
    required: Required::No,
    default: None,
    example: r#"(?i)\bpayroll\b"#,
    description: "Statements matching this regular expression (Rust `regex` syntax) are `custom`.",
    source: Source::Parameter(Parameter {
        name: "RdsMatchRegex",
        constraint: settings::PRINTABLE_ONE_LINE,
        max_length: Some(512),
        default: None,
        attribute: Some("match_regex"),
    }),
};

pub const IDEMPOTENCY_TABLE: Setting = Setting {
    name: "IDEMPOTENCY_TABLE",
    kind: Kind::Text,
    required: Required::No,
    default: None,
    example: "toilkit-idempotency",
    description: "DynamoDB table (partition key `pk`, TTL `expires_at`) recording delivered message parts, so retries post nothing twice; idempotency is off without it.",
    source: Source::Template("!Ref IdempotencyTable"),
};

fn patterns(items: Vec<String>) -> Vec<Pattern> {
    items.iter().map(|p| Pattern::new(p)).collect()
}

#[cfg(test)]
mod tests {
    use toilkit_tests::settings::{assert_names_all, rejected};

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
        let text = rejected(
            [
                ("ALERT_ON", "ddl,selects"),
                ("IGNORE_HOSTS", "10.0.0.0/33"),
                ("MATCH_REGEX", "(unclosed"),
            ],
            Config::from_env,
        );
        assert_names_all(
            &text,
            &[
                "ALERT_ON: item \"selects\"",
                "IGNORE_HOSTS: item \"10.0.0.0/33\"",
                "MATCH_REGEX",
                "SLACK_WEBHOOK_SECRET_ARN: is required",
            ],
        );
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
