//! The function's configuration, read once at cold start.

use std::time::Duration;

use ipnet::IpNet;
use shared::config::{Constraint, Env, Kind, Parameter, Required, Setting, Source};
use shared::pattern::Pattern;
use shared::settings::{self, SLACK_WEBHOOK_PARAMETER, SLACK_WEBHOOK_SECRET_ARN};

use shared::routing::Routes;

use crate::rules::Rules;

#[derive(Debug, Clone)]
pub struct Config {
    pub state_table: String,
    pub rules: Rules,
    /// Lower-cased `service:Action` patterns.
    pub sensitive_actions: Vec<Pattern>,
    pub privileged_roles: Vec<Pattern>,
    pub recon_threshold: usize,
    pub recon_window: Duration,
    pub own_cidrs: Vec<IpNet>,
    pub renotify: Duration,
    /// By the denied principal's owner tag; the default webhook also gets
    /// the digest.
    pub routes: Routes,
    pub critical_topic_arn: Option<String>,
    pub digest_top: usize,
    pub dry_run: bool,
}

impl Config {
    pub fn from_env(env: &mut Env) -> Self {
        let state_table: String = env.required(&STATE_TABLE);
        let rules = env.optional_with(&RULES, Rules::parse).unwrap_or_default();
        let sensitive_actions = patterns(env, &SENSITIVE_ACTIONS, true);
        let privileged_roles = patterns(env, &PRIVILEGED_ROLES, false);
        let recon_threshold: usize =
            env.or_default_with(&RECON_THRESHOLD, |v| match v.parse::<usize>() {
                Ok(n) if n >= 2 => Ok(n),
                _ => Err(format!("{v:?} is not a whole number of at least 2")),
            });
        let recon_window = minutes(env, &RECON_WINDOW_MINUTES);
        let own_cidrs = env.list_of::<IpNet>(&OWN_CIDRS);
        let renotify = Duration::from_secs(
            u64::from(env.or_default_with(&RENOTIFY_HOURS, |v| {
                v.parse::<u16>()
                    .map_err(|_| format!("{v:?} is not a number of hours up to 65535"))
            })) * 3600,
        );
        let routes = Routes::from_env(env, &OWNER_TAG_KEY, &ROUTES);
        let critical_topic_arn = env.raw(&CRITICAL_TOPIC_ARN).map(str::to_owned);
        let digest_top: usize = env.or_default(&DIGEST_TOP);
        let dry_run = env.flag(&DRY_RUN);
        Self {
            state_table,
            rules,
            sensitive_actions,
            privileged_roles,
            recon_threshold,
            recon_window,
            own_cidrs,
            renotify,
            routes,
            critical_topic_arn,
            digest_top,
            dry_run,
        }
    }
}

/// A list of wildcard patterns, its declared default when unset; action
/// patterns must read `service:Action` and are matched without case.
fn patterns(env: &mut Env, setting: &Setting, actions: bool) -> Vec<Pattern> {
    let items = match env.list(setting) {
        items if !items.is_empty() => items,
        _ => setting
            .default
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if actions && !item.contains(':') {
            env.invalid(
                setting,
                format!("item {item:?} is not service:Action (for example \"iam:Create*\")"),
            );
            continue;
        }
        out.push(Pattern::new(&if actions {
            item.to_ascii_lowercase()
        } else {
            item
        }));
    }
    out
}

fn minutes(env: &mut Env, setting: &Setting) -> Duration {
    let minutes: u32 = env.or_default_with(setting, |v| match v.parse::<u32>() {
        Ok(n) if (1..=1440).contains(&n) => Ok(n),
        _ => Err(format!("{v:?} is not a number of minutes from 1 to 1440")),
    });
    Duration::from_secs(u64::from(minutes) * 60)
}

/// Every variable the function reads, in the order the README and the
/// template list them (`cargo xtask gen` writes both from this list).
pub const SETTINGS: &[Setting] = &[
    STATE_TABLE,
    RULES,
    SENSITIVE_ACTIONS,
    PRIVILEGED_ROLES,
    RECON_THRESHOLD,
    RECON_WINDOW_MINUTES,
    OWN_CIDRS,
    RENOTIFY_HOURS,
    OWNER_TAG_KEY,
    ROUTES,
    Setting {
        description: "Default webhook (Secrets Manager), used for unrouted principals and the digest. Set this or `SLACK_WEBHOOK_PARAMETER`.",
        ..SLACK_WEBHOOK_SECRET_ARN
    },
    Setting {
        description: "Default webhook (SSM SecureString parameter). Set this or `SLACK_WEBHOOK_SECRET_ARN`.",
        ..SLACK_WEBHOOK_PARAMETER
    },
    CRITICAL_TOPIC_ARN,
    DIGEST_TOP,
    DRY_RUN,
    settings::RESULT_EVENT_BUS,
    settings::RESULT_LABEL,
];

pub const STATE_TABLE: Setting = Setting {
    name: "STATE_TABLE",
    kind: Kind::Text,
    required: Required::Yes,
    default: None,
    example: "toilkit-access-denied-state",
    description: "DynamoDB table (partition key `pk`, string; TTL on `expires_at`) holding what was announced, and when each principal, access key, network and Region was first seen.",
    source: Source::Template("!Ref AccessDeniedStateTable"),
};

pub const RULES: Setting = Setting {
    name: "RULES",
    kind: Kind::Json(
        "list(object({\n  principal = optional(string)\n  action    = optional(string)\n  reason    = string\n  expires   = optional(string)\n}))",
    ),
    required: Required::No,
    default: None,
    example: r#"[{"principal":"ci-*","action":"ec2:Describe*","reason":"CI probes regions","expires":"2026-12-31"}]"#,
    description: "JSON list of expected denials: a `principal` pattern (ARN, role or user name, or the person behind a session) and/or an `action` pattern (`service:Action`), a `reason`, and an optional last day `expires` (YYYY-MM-DD).",
    source: Source::Parameter(Parameter {
        name: "AccessDeniedTriageRules",
        constraint: settings::JSON_ARRAY,
        max_length: Some(768),
        default: None,
        attribute: Some("rules"),
    }),
};

/// Denied writes here alert at once. `sts:AssumeRole*` counts only into a
/// role that `PRIVILEGED_ROLES` matches.
pub const SENSITIVE_ACTIONS: Setting = Setting {
    name: "SENSITIVE_ACTIONS",
    kind: Kind::List,
    required: Required::No,
    default: Some(
        "iam:*,organizations:*,kms:PutKeyPolicy,kms:ScheduleKeyDeletion,kms:DisableKey,cloudtrail:StopLogging,cloudtrail:DeleteTrail,cloudtrail:UpdateTrail,cloudtrail:PutEventSelectors,guardduty:DeleteDetector,guardduty:UpdateDetector,guardduty:Disassociate*,config:StopConfigurationRecorder,config:DeleteConfigurationRecorder,config:DeleteDeliveryChannel,securityhub:DisableSecurityHub,securityhub:BatchDisableStandards,s3:PutBucketPolicy,s3:DeleteBucketPolicy,s3:PutBucketPublicAccessBlock,s3:DeleteBucketPublicAccessBlock,s3:PutAccountPublicAccessBlock,s3:DeleteAccountPublicAccessBlock,sts:AssumeRole*",
    ),
    example: "iam:*,organizations:*,kms:PutKeyPolicy,cloudtrail:StopLogging",
    description: "Comma-separated `service:Action` patterns of sensitive control-plane writes: a denied write matching one alerts at once (reads never do).",
    source: Source::Parameter(Parameter {
        name: "AccessDeniedTriageSensitiveActions",
        constraint: Constraint::Pattern {
            pattern: r#"^$|^[A-Za-z0-9*?:\-]+(,[A-Za-z0-9*?:\-]+)*$"#,
            description: Some(
                "Empty (the default list), or comma-separated service:Action patterns.",
            ),
        },
        max_length: Some(640),
        default: None,
        attribute: Some("sensitive_actions"),
    }),
};

pub const PRIVILEGED_ROLES: Setting = Setting {
    name: "PRIVILEGED_ROLES",
    kind: Kind::List,
    required: Required::No,
    default: Some("*Admin*,OrganizationAccountAccessRole,AWSControlTowerExecution"),
    example: "*Admin*,OrganizationAccountAccessRole,break-glass-*",
    description: "Comma-separated role-name patterns: a denied `sts:AssumeRole*` into one of them is a sensitive write.",
    source: Source::Parameter(Parameter {
        name: "AccessDeniedTriagePrivilegedRoles",
        constraint: Constraint::Pattern {
            pattern: r#"^$|^[A-Za-z0-9*?+=.@_\-]+(,[A-Za-z0-9*?+=.@_\-]+)*$"#,
            description: Some("Empty (the default list), or comma-separated role-name patterns."),
        },
        max_length: Some(192),
        default: None,
        attribute: Some("privileged_roles"),
    }),
};

pub const RECON_THRESHOLD: Setting = Setting {
    name: "RECON_THRESHOLD",
    kind: Kind::Number,
    required: Required::No,
    default: Some("15"),
    example: "15",
    description: "This many distinct denied actions from one principal within `RECON_WINDOW_MINUTES` is reconnaissance (critical).",
    source: Source::Parameter(Parameter {
        name: "AccessDeniedTriageReconThreshold",
        constraint: Constraint::Range { min: 2, max: 1000 },
        max_length: None,
        default: None,
        attribute: Some("recon_threshold"),
    }),
};

pub const RECON_WINDOW_MINUTES: Setting = Setting {
    name: "RECON_WINDOW_MINUTES",
    kind: Kind::Number,
    required: Required::No,
    default: Some("10"),
    example: "10",
    description: "The sliding window, in minutes, over which distinct denied actions are counted for reconnaissance.",
    source: Source::Parameter(Parameter {
        name: "AccessDeniedTriageReconWindowMinutes",
        constraint: Constraint::Range { min: 1, max: 1440 },
        max_length: None,
        default: None,
        attribute: Some("recon_window_minutes"),
    }),
};

pub const OWN_CIDRS: Setting = Setting {
    name: "OWN_CIDRS",
    kind: Kind::List,
    required: Required::No,
    default: None,
    example: "203.0.113.0/24,198.51.100.10/32",
    description: "Comma-separated CIDRs of your own networks (offices, NAT gateways, VPN): calls from them are marked as such, and a new access key from them is not alerted as a leak. Unset: none.",
    source: Source::Parameter(Parameter {
        name: "AccessDeniedTriageOwnCidrs",
        constraint: Constraint::Pattern {
            pattern: r#"^$|^[0-9A-Fa-f.:/]+(,[0-9A-Fa-f.:/]+)*$"#,
            description: Some("Empty, or comma-separated CIDRs."),
        },
        max_length: Some(384),
        default: None,
        attribute: Some("own_cidrs"),
    }),
};

pub const RENOTIFY_HOURS: Setting = Setting {
    name: "RENOTIFY_HOURS",
    kind: Kind::Number,
    required: Required::No,
    default: Some("24"),
    example: "24",
    description: "Each group of denials (principal, service, action, policy type) is announced at most once in this many hours; repeats are counted for the digest.",
    source: Source::Parameter(Parameter {
        name: "AccessDeniedTriageRenotifyHours",
        constraint: Constraint::Range { min: 0, max: 65535 },
        max_length: None,
        default: None,
        attribute: Some("renotify_hours"),
    }),
};

pub const OWNER_TAG_KEY: Setting = settings::owner_tag_key(
    "AccessDeniedTriageOwnerTagKey",
    "Tag of the denied principal (IAM user or role) whose value names the owning team for routing.",
);

pub const ROUTES: Setting = settings::routes(
    "AccessDeniedTriageRoutes",
    "JSON object mapping owner to that team's webhook secret (Secrets Manager ARN or name, or SSM parameter name). With the template, the secrets must sit under `AccessDeniedTriageRouteSecretPrefix`.",
    320,
);

pub const CRITICAL_TOPIC_ARN: Setting = settings::critical_topic_arn(
    "AccessDeniedTriageCriticalTopicArn",
    "SNS topic that critical alerts (the root user, a new key from a new network, reconnaissance with either) are also published to, for paging.",
);

pub const DIGEST_TOP: Setting = Setting {
    name: "DIGEST_TOP",
    kind: Kind::Number,
    required: Required::No,
    default: Some("10"),
    example: "10",
    description: "How many principals and actions the daily digest lists, most denied first.",
    source: Source::Parameter(Parameter {
        name: "AccessDeniedTriageDigestTop",
        constraint: Constraint::Range { min: 1, max: 100 },
        max_length: None,
        default: None,
        attribute: Some("digest_top"),
    }),
};

pub const DRY_RUN: Setting = settings::dry_run(
    "AccessDeniedTriageDryRun",
    "Decide and report only: no messages, no pages, no state writes.",
);

#[cfg(test)]
mod tests {
    use shared::secret::SecretRef;
    use toilkit_tests::settings::{assert_names_all, rejected};

    use super::*;

    #[test]
    fn every_bad_setting_is_reported_together_naming_the_variable() {
        let text = rejected(
            [
                ("RULES", r#"[{"principle":"ci-*","reason":"typo"}]"#),
                ("SENSITIVE_ACTIONS", "iam:*,CreateUser"),
                ("RECON_THRESHOLD", "1"),
                ("RECON_WINDOW_MINUTES", "0"),
                ("OWN_CIDRS", "10.0.0.0/33"),
                ("RENOTIFY_HOURS", "soon"),
                ("ROUTES", r#"{"a":"https://hooks.slack.com/x"}"#),
            ],
            Config::from_env,
        );
        assert_names_all(
            &text,
            &[
                "STATE_TABLE",
                "RULES",
                "SENSITIVE_ACTIONS",
                "RECON_THRESHOLD",
                "RECON_WINDOW_MINUTES",
                "OWN_CIDRS",
                "RENOTIFY_HOURS",
                "ROUTES",
                "SLACK_WEBHOOK_SECRET_ARN",
            ],
        );
        assert!(text.contains("unknown field `principle`"), "{text}");
        assert!(!text.contains("hooks.slack.com/x"), "{text}");
    }

    #[test]
    fn defaults_apply() {
        let mut env = Env::from_pairs([
            ("STATE_TABLE", "t"),
            ("SLACK_WEBHOOK_PARAMETER", "/toilkit/slack"),
        ]);
        let c = Config::from_env(&mut env);
        env.finish().unwrap();
        assert_eq!(c.recon_threshold, 15);
        assert_eq!(c.recon_window, Duration::from_secs(600));
        assert_eq!(c.renotify, Duration::from_secs(24 * 3600));
        assert_eq!(c.routes.owner_tag_key, "owner");
        assert_eq!(c.digest_top, 10);
        assert!(
            c.sensitive_actions
                .iter()
                .any(|p| p.matches("cloudtrail:stoplogging"))
        );
        assert!(c.privileged_roles.iter().any(|p| p.matches("OrgAdmin")));
        assert!(c.rules.0.is_empty() && c.own_cidrs.is_empty() && c.routes.by_owner.is_empty());
        assert_eq!(
            c.routes.default,
            SecretRef::Parameter("/toilkit/slack".into())
        );
        assert!(!c.dry_run);
    }

    #[test]
    fn every_declared_default_is_a_valid_value() {
        toilkit_tests::settings::assert_defaults_valid(
            SETTINGS,
            &[
                ("STATE_TABLE", "t"),
                ("SLACK_WEBHOOK_PARAMETER", "/toilkit/slack"),
            ],
            Config::from_env,
        );
    }
}
