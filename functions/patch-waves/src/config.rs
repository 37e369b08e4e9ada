//! The function's configuration, read once at cold start.

use shared::config::{Constraint, Env, Kind, Parameter, Required, Setting, Source};

use crate::exemption::Exemptions;
use crate::freeze::FreezeWindows;
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
    /// The wave rollout's settings (part 2).
    pub rollout: Rollout,
    pub dry_run: bool,
}

/// How the wave rollout patches: which waves, in what order, how each
/// instance is taken out of service and patched, and when it stops.
#[derive(Debug, Clone)]
pub struct Rollout {
    /// Wave names in rollout order; the first is the canary, where any
    /// failure stops the rollout.
    pub waves: Vec<String>,
    /// The opt-in tag: an instance joins the wave its value names, and is
    /// never patched without it.
    pub wave_tag_key: String,
    pub reboot_option: String,
    pub max_concurrency: String,
    pub max_errors: String,
    /// A wave (after the canary) whose failed share passes this percentage
    /// stops the rollout.
    pub failure_percent: u32,
    pub snapshot: bool,
    pub snapshot_retention_days: u32,
    /// The target groups an instance is drained from before it is patched;
    /// empty, no draining.
    pub drain_target_groups: Vec<String>,
    pub command_timeout_minutes: u32,
    pub healthy_timeout_minutes: u32,
    pub bake_minutes: u32,
    pub freeze: FreezeWindows,
    pub exemptions: Exemptions,
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
        let rollout = Rollout::from_env(env);
        let dry_run = env.flag(&DRY_RUN);
        Self {
            state_table,
            routes,
            scan_stale_days,
            al2023_latest_parameter,
            rollout,
            dry_run,
        }
    }
}

/// A whole number within `range`, or the problem in the README's words.
fn whole(v: &str, range: std::ops::RangeInclusive<u32>, what: &str) -> Result<u32, String> {
    match v.parse::<u32>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(format!(
            "{v:?} is not a number of {what} from {} to {}",
            range.start(),
            range.end()
        )),
    }
}

/// A wave or rollout name as SSM command comments and DynamoDB keys carry
/// it.
pub fn is_name(v: &str, max: usize) -> bool {
    !v.is_empty()
        && v.len() <= max
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Wave names are at most this long.
pub const WAVE_NAME_MAX: usize = 16;
/// At most this many waves.
pub const WAVES_MAX: usize = 6;

impl Rollout {
    fn from_env(env: &mut Env) -> Self {
        let waves = env.list(&WAVES);
        let waves = if env.raw(&WAVES).is_none() {
            WAVES
                .default
                .unwrap_or_default()
                .split(',')
                .map(str::to_owned)
                .collect()
        } else {
            waves
        };
        let mut seen = std::collections::BTreeSet::new();
        if waves.is_empty() {
            env.invalid(&WAVES, "names no wave");
        }
        if waves.len() > WAVES_MAX {
            env.invalid(
                &WAVES,
                format!("names {} waves; at most {WAVES_MAX}", waves.len()),
            );
        }
        for wave in &waves {
            if !is_name(wave, WAVE_NAME_MAX) {
                env.invalid(
                    &WAVES,
                    format!("{wave:?} is not a wave name (letters, digits, - and _, at most {WAVE_NAME_MAX})"),
                );
            } else if !seen.insert(wave.as_str()) {
                env.invalid(&WAVES, format!("{wave:?} is listed twice"));
            }
        }
        let wave_tag_key: String = env.or_default_with(&WAVE_TAG_KEY, |v| {
            if (1..=128).contains(&v.len()) {
                Ok(v.to_owned())
            } else {
                Err(format!("{v:?} is not a tag key"))
            }
        });
        let reboot_option: String = env.or_default_with(&REBOOT_OPTION, |v| match v {
            "RebootIfNeeded" | "NoReboot" => Ok(v.to_owned()),
            _ => Err(format!("{v:?} is neither RebootIfNeeded nor NoReboot")),
        });
        let rate = |v: &str, zero: bool| {
            let (digits, percent) = match v.strip_suffix('%') {
                Some(d) => (d, true),
                None => (v, false),
            };
            match digits.parse::<u32>() {
                Ok(n) if percent && n <= 100 && (zero || n > 0) => Ok(v.to_owned()),
                Ok(n) if !percent && n <= 10_000 && (zero || n > 0) => Ok(v.to_owned()),
                _ => Err(format!(
                    "{v:?} is not a count or a percentage (like 10 or 25%)"
                )),
            }
        };
        let max_concurrency: String =
            env.or_default_with(&COMMAND_MAX_CONCURRENCY, |v| rate(v, false));
        let max_errors: String = env.or_default_with(&COMMAND_MAX_ERRORS, |v| rate(v, true));
        let failure_percent =
            env.or_default_with(&WAVE_FAILURE_PERCENT, |v| whole(v, 0..=100, "percent"));
        let snapshot = env.flag(&SNAPSHOT_BEFORE_PATCH);
        let snapshot_retention_days =
            env.or_default_with(&SNAPSHOT_RETENTION_DAYS, |v| whole(v, 1..=365, "days"));
        let drain_target_groups = env.list(&DRAIN_TARGET_GROUPS);
        for arn in &drain_target_groups {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            if parts.len() != 6
                || parts[0] != "arn"
                || parts[2] != "elasticloadbalancing"
                || !parts[5].starts_with("targetgroup/")
            {
                env.invalid(
                    &DRAIN_TARGET_GROUPS,
                    format!("{arn:?} is not a target group ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)"),
                );
            }
        }
        let command_timeout_minutes =
            env.or_default_with(&COMMAND_TIMEOUT_MINUTES, |v| whole(v, 10..=480, "minutes"));
        let healthy_timeout_minutes =
            env.or_default_with(&HEALTHY_TIMEOUT_MINUTES, |v| whole(v, 1..=120, "minutes"));
        let bake_minutes = env.or_default_with(&BAKE_MINUTES, |v| whole(v, 0..=1440, "minutes"));
        let freeze = env
            .optional_with(&FREEZE_WINDOWS, FreezeWindows::parse)
            .unwrap_or_default();
        let exemptions = env
            .optional_with(&EXEMPTIONS, Exemptions::parse)
            .unwrap_or_default();
        Self {
            waves,
            wave_tag_key,
            reboot_option,
            max_concurrency,
            max_errors,
            failure_percent,
            snapshot,
            snapshot_retention_days,
            drain_target_groups,
            command_timeout_minutes,
            healthy_timeout_minutes,
            bake_minutes,
            freeze,
            exemptions,
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
    WAVES,
    WAVE_TAG_KEY,
    REBOOT_OPTION,
    COMMAND_MAX_CONCURRENCY,
    COMMAND_MAX_ERRORS,
    COMMAND_TIMEOUT_MINUTES,
    WAVE_FAILURE_PERCENT,
    SNAPSHOT_BEFORE_PATCH,
    SNAPSHOT_RETENTION_DAYS,
    DRAIN_TARGET_GROUPS,
    HEALTHY_TIMEOUT_MINUTES,
    BAKE_MINUTES,
    FREEZE_WINDOWS,
    EXEMPTIONS,
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
        max_length: Some(100),
        default: None,
        attribute: Some("al2023_latest_parameter"),
    }),
};

/// A template parameter of the rollout's, setting `attribute` of the
/// Terraform variable.
const fn parameter(name: &'static str, constraint: Constraint, attribute: &'static str) -> Source {
    Source::Parameter(Parameter {
        name,
        constraint,
        max_length: None,
        default: None,
        attribute: Some(attribute),
    })
}

pub const WAVES: Setting = Setting {
    name: "WAVES",
    kind: Kind::List,
    required: Required::No,
    default: Some("canary,1,2"),
    example: "canary,1,2,3",
    description: "Wave names in rollout order (comma-separated). An instance joins the wave its `WAVE_TAG_KEY` tag names; the first wave is the canary, and any failure in it stops the rollout.",
    source: parameter(
        "PatchWavesWaves",
        Constraint::Pattern {
            pattern: r#"^[A-Za-z0-9_-]{1,16}(,[A-Za-z0-9_-]{1,16}){0,5}$"#,
            description: Some("One to six wave names of up to 16 characters, comma-separated."),
        },
        "waves",
    ),
};

pub const WAVE_TAG_KEY: Setting = Setting {
    name: "WAVE_TAG_KEY",
    kind: Kind::Text,
    required: Required::No,
    default: Some("toilkit:patch-wave"),
    example: "toilkit:patch-wave",
    description: "The opt-in tag: an instance is patched only when this tag names one of `WAVES`. The template fixes it, because its IAM conditions name it: `SendCommand` and `CreateSnapshots` are allowed only on instances that carry it.",
    source: Source::Template("toilkit:patch-wave"),
};

pub const REBOOT_OPTION: Setting = Setting {
    name: "REBOOT_OPTION",
    kind: Kind::Text,
    required: Required::No,
    default: Some("RebootIfNeeded"),
    example: "NoReboot",
    description: "`AWS-RunPatchBaseline`'s `RebootOption`: `RebootIfNeeded` reboots an instance when a patch needs it; `NoReboot` leaves it pending reboot (and the report says so).",
    source: parameter(
        "PatchWavesRebootOption",
        Constraint::Values(&["RebootIfNeeded", "NoReboot"]),
        "reboot_option",
    ),
};

pub const COMMAND_MAX_CONCURRENCY: Setting = Setting {
    name: "COMMAND_MAX_CONCURRENCY",
    kind: Kind::Text,
    required: Required::No,
    default: Some("25%"),
    example: "2",
    description: "`SendCommand`'s `MaxConcurrency`: how many instances of a wave patch at once (a count or a percentage).",
    source: parameter(
        "PatchWavesCommandMaxConcurrency",
        Constraint::Pattern {
            pattern: r#"^([1-9][0-9]{0,3}|10000|[1-9][0-9]?%|100%)$"#,
            description: Some("A count from 1 or a percentage from 1% to 100%."),
        },
        "command_max_concurrency",
    ),
};

pub const COMMAND_MAX_ERRORS: Setting = Setting {
    name: "COMMAND_MAX_ERRORS",
    kind: Kind::Text,
    required: Required::No,
    default: Some("0"),
    example: "10%",
    description: "`SendCommand`'s `MaxErrors`: after this many failed instances Systems Manager sends the command to no more of the wave (a count or a percentage).",
    source: parameter(
        "PatchWavesCommandMaxErrors",
        Constraint::Pattern {
            pattern: r#"^([0-9]{1,4}|10000|[0-9]{1,2}%|100%)$"#,
            description: Some("A count or a percentage."),
        },
        "command_max_errors",
    ),
};

pub const COMMAND_TIMEOUT_MINUTES: Setting = Setting {
    name: "COMMAND_TIMEOUT_MINUTES",
    kind: Kind::Number,
    required: Required::No,
    default: Some("120"),
    example: "60",
    description: "How long a wave waits for the patch command's results; an instance without one by then has failed.",
    source: parameter(
        "PatchWavesCommandTimeoutMinutes",
        Constraint::Range { min: 10, max: 480 },
        "command_timeout_minutes",
    ),
};

pub const WAVE_FAILURE_PERCENT: Setting = Setting {
    name: "WAVE_FAILURE_PERCENT",
    kind: Kind::Number,
    required: Required::No,
    default: Some("10"),
    example: "0",
    description: "A wave after the canary whose failed instances are more than this percentage of it stops the rollout.",
    source: parameter(
        "PatchWavesWaveFailurePercent",
        Constraint::Range { min: 0, max: 100 },
        "wave_failure_percent",
    ),
};

pub const SNAPSHOT_BEFORE_PATCH: Setting = Setting {
    name: "SNAPSHOT_BEFORE_PATCH",
    kind: Kind::Flag,
    required: Required::No,
    default: Some("false"),
    example: "true",
    description: "Snapshot each instance's volumes (`CreateSnapshots`, tagged `toilkit:expires-at`) before it is patched; an instance whose snapshot fails is not patched.",
    source: parameter(
        "PatchWavesSnapshotBeforePatch",
        Constraint::Values(&["true", "false"]),
        "snapshot_before_patch",
    ),
};

pub const SNAPSHOT_RETENTION_DAYS: Setting = Setting {
    name: "SNAPSHOT_RETENTION_DAYS",
    kind: Kind::Number,
    required: Required::No,
    default: Some("7"),
    example: "14",
    description: "The `toilkit:expires-at` date put on pre-patch snapshots, in days from the rollout (the snapshots are not deleted by patch-waves).",
    source: parameter(
        "PatchWavesSnapshotRetentionDays",
        Constraint::Range { min: 1, max: 365 },
        "snapshot_retention_days",
    ),
};

pub const DRAIN_TARGET_GROUPS: Setting = Setting {
    name: "DRAIN_TARGET_GROUPS",
    kind: Kind::List,
    required: Required::No,
    default: None,
    example: "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web/0123456789abcdef",
    description: "Target group ARNs (comma-separated) an instance is drained from before it is patched and put back into after; IAM allows (de)registering only in these. Empty: no draining.",
    source: Source::Parameter(Parameter {
        name: "PatchWavesDrainTargetGroups",
        constraint: Constraint::Pattern {
            pattern: r#"^$|^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/[^,]+(,arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/[^,]+)*$"#,
            description: Some("Empty, or target group ARNs, comma-separated."),
        },
        // Three target group ARNs: the function's environment must stay
        // within Lambda's 4 KB.
        max_length: Some(288),
        default: None,
        attribute: Some("drain_target_groups"),
    }),
};

pub const HEALTHY_TIMEOUT_MINUTES: Setting = Setting {
    name: "HEALTHY_TIMEOUT_MINUTES",
    kind: Kind::Number,
    required: Required::No,
    default: Some("10"),
    example: "20",
    description: "How long a drained instance has, once put back, to be healthy in its target groups; one that is not has failed.",
    source: parameter(
        "PatchWavesHealthyTimeoutMinutes",
        Constraint::Range { min: 1, max: 120 },
        "healthy_timeout_minutes",
    ),
};

pub const BAKE_MINUTES: Setting = Setting {
    name: "BAKE_MINUTES",
    kind: Kind::Number,
    required: Required::No,
    default: Some("15"),
    example: "60",
    description: "How long the rollout waits after a healthy wave before the next.",
    source: parameter(
        "PatchWavesBakeMinutes",
        Constraint::Range { min: 0, max: 1440 },
        "bake_minutes",
    ),
};

pub const FREEZE_WINDOWS: Setting = Setting {
    name: "FREEZE_WINDOWS",
    kind: Kind::Json("list(string)"),
    required: Required::No,
    default: None,
    example: r#"["2026-12-20..2027-01-04","cron(* * ? * SAT,SUN *)"]"#,
    description: "JSON list of freeze windows, UTC: date ranges (`2026-12-20..2027-01-04`, both days included) and `cron(...)` expressions (every minute one matches is frozen). No wave starts, and no command is sent, in a freeze.",
    source: Source::Parameter(Parameter {
        name: "PatchWavesFreezeWindows",
        constraint: settings::JSON_ARRAY,
        max_length: Some(144),
        default: None,
        attribute: Some("freeze_windows"),
    }),
};

pub const EXEMPTIONS: Setting = Setting {
    name: "EXEMPTIONS",
    kind: Kind::Json(
        "list(object({\n  instance = optional(string)\n  tag = optional(object({\n    key   = string\n    value = optional(string)\n  }))\n  reason  = string\n  expires = string\n}))",
    ),
    required: Required::No,
    default: None,
    example: r#"[{"instance":"i-0123456789abcdef0","reason":"vendor appliance","expires":"2027-03-31"}]"#,
    description: "JSON list of instances the rollout leaves alone, by `instance` or `tag` (`key`, optional `value`), each with a `reason` and an `expires` date; an expired one no longer applies, and the report says so. At most 256 characters: exempt many instances by one tag.",
    source: Source::Parameter(Parameter {
        name: "PatchWavesExemptions",
        constraint: settings::JSON_ARRAY,
        max_length: Some(256),
        default: None,
        attribute: Some("exemptions"),
    }),
};

pub const DRY_RUN: Setting = settings::dry_run(
    "PatchWavesDryRun",
    "Report only: no digest sent, no state written; a rollout plans every wave and touches nothing.",
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
