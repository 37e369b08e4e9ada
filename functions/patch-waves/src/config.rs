//! The function's configuration, read once at cold start.

use shared::config::{Constraint, Env, Kind, Parameter, Required, Setting, Source};
use shared::routing::Routes;
use shared::settings::{self, SLACK_WEBHOOK_PARAMETER, SLACK_WEBHOOK_SECRET_ARN};

#[derive(Debug, Clone)]
pub struct Config {
    pub state_table: String,
    /// By the instance's owner tag; the default webhook gets the digest of
    /// instances without a routed owner.
    pub routes: Routes,
    /// A managed instance whose last patch scan or install ended longer ago
    /// than this many days is reported stale.
    pub scan_stale_days: u32,
    /// The public SSM parameter naming the latest Amazon Linux 2023 AMI.
    pub al2023_latest_parameter: String,
    pub dry_run: bool,
}

impl Config {
    pub fn from_env(env: &mut Env) -> Self {
        let state_table: String = env.required(&STATE_TABLE);
        let routes = Routes::from_env(env, &OWNER_TAG_KEY, &ROUTES);
        let scan_stale_days: u32 =
            env.or_default_with(&SCAN_STALE_DAYS, |v| match v.parse::<u32>() {
                Ok(n) if (1..=365).contains(&n) => Ok(n),
                _ => Err(format!("{v:?} is not a number of days from 1 to 365")),
            });
        let al2023_latest_parameter: String = env.or_default_with(&AL2023_LATEST_PARAMETER, |v| {
            if v.starts_with('/') && !v.contains(char::is_whitespace) {
                Ok(v.to_owned())
            } else {
                Err(format!(
                    "{v:?} is not an SSM parameter name starting with /"
                ))
            }
        });
        let dry_run = env.flag(&DRY_RUN);
        Self {
            state_table,
            routes,
            scan_stale_days,
            al2023_latest_parameter,
            dry_run,
        }
    }
}

/// Every variable the function reads, in the order the README and the
/// template list them (`cargo xtask gen` writes both from this list).
pub const SETTINGS: &[Setting] = &[
    STATE_TABLE,
    OWNER_TAG_KEY,
    ROUTES,
    Setting {
        description: "Default webhook (Secrets Manager), for the digest of instances whose owner has no route. Set this or `SLACK_WEBHOOK_PARAMETER`.",
        ..SLACK_WEBHOOK_SECRET_ARN
    },
    Setting {
        description: "Default webhook (SSM SecureString parameter). Set this or `SLACK_WEBHOOK_SECRET_ARN`.",
        ..SLACK_WEBHOOK_PARAMETER
    },
    SCAN_STALE_DAYS,
    AL2023_LATEST_PARAMETER,
    DRY_RUN,
    settings::RESULT_EVENT_BUS,
    settings::RESULT_LABEL,
];

pub const STATE_TABLE: Setting = Setting {
    name: "STATE_TABLE",
    kind: Kind::Text,
    required: Required::Yes,
    default: None,
    example: "toilkit-patch-waves-state",
    description: "DynamoDB table (partition key `pk`, string) holding each instance's open findings and since when, so the digest tells what is new, fixed and still open.",
    source: Source::Template("!Ref PatchWavesStateTable"),
};

pub const OWNER_TAG_KEY: Setting = settings::owner_tag_key(
    "PatchWavesOwnerTagKey",
    "Tag of the EC2 instance whose value names the owning team: the report groups by it and the digest is routed by it.",
);

pub const ROUTES: Setting = settings::routes(
    "PatchWavesRoutes",
    "JSON object mapping owner to that team's webhook secret (Secrets Manager ARN or name, or SSM parameter name). With the template, the secrets must sit under `PatchWavesRouteSecretPrefix`.",
    320,
);

pub const SCAN_STALE_DAYS: Setting = Setting {
    name: "SCAN_STALE_DAYS",
    kind: Kind::Number,
    required: Required::No,
    default: Some("7"),
    example: "7",
    description: "A managed instance whose last Patch Manager scan or install ended more than this many days ago is reported as a stale scan.",
    source: Source::Parameter(Parameter {
        name: "PatchWavesScanStaleDays",
        constraint: Constraint::Range { min: 1, max: 365 },
        max_length: None,
        default: None,
        attribute: Some("scan_stale_days"),
    }),
};

pub const AL2023_LATEST_PARAMETER: Setting = Setting {
    name: "AL2023_LATEST_PARAMETER",
    kind: Kind::Text,
    required: Required::No,
    default: Some("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"),
    example: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
    description: "Public SSM parameter naming the latest Amazon Linux 2023 AMI; its release is what AL2023 instances are compared with.",
    source: Source::Parameter(Parameter {
        name: "PatchWavesAl2023LatestParameter",
        constraint: Constraint::Pattern {
            pattern: r#"^/aws/service/ami-amazon-linux-latest/al2023-ami-[A-Za-z0-9._-]{1,100}$"#,
            description: Some(
                "A public parameter under /aws/service/ami-amazon-linux-latest/al2023-ami-.",
            ),
        },
        max_length: Some(160),
        default: None,
        attribute: Some("al2023_latest_parameter"),
    }),
};

pub const DRY_RUN: Setting = settings::dry_run(
    "PatchWavesDryRun",
    "Report only: no digest sent, no state written.",
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
                ("SCAN_STALE_DAYS", "0"),
                ("AL2023_LATEST_PARAMETER", "al2023 latest"),
                ("ROUTES", r#"{"a":"https://hooks.slack.com/x"}"#),
                ("DRY_RUN", "perhaps"),
            ],
            Config::from_env,
        );
        assert_names_all(
            &text,
            &[
                "STATE_TABLE",
                "SCAN_STALE_DAYS",
                "AL2023_LATEST_PARAMETER",
                "ROUTES",
                "DRY_RUN",
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
        let c = Config::from_env(&mut env);
        env.finish().unwrap();
        assert_eq!(c.scan_stale_days, 7);
        assert_eq!(c.routes.owner_tag_key, "owner");
        assert_eq!(
            c.al2023_latest_parameter,
            "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
        );
        assert_eq!(
            c.routes.default,
            SecretRef::Parameter("/toilkit/slack".into())
        );
        assert!(!c.dry_run);
    }

    #[test]
    fn every_declared_default_is_a_valid_value() {
        for setting in SETTINGS {
            if let Some(default) = setting.default {
                let mut env = Env::from_pairs([
                    ("STATE_TABLE", "t"),
                    ("SLACK_WEBHOOK_PARAMETER", "/toilkit/slack"),
                    (setting.name, default),
                ]);
                Config::from_env(&mut env);
                assert!(env.finish().is_ok(), "{}={default}", setting.name);
            }
        }
    }
}
