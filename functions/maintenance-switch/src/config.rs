//! Configuration read once at cold start: the defaults a request may omit,
//! and the window state machine.

use shared::config::{Constraint, Env, Kind, Parameter, Required, Setting, Source};
use shared::secret::SecretRef;
use shared::settings;

use crate::limits;
use crate::window::Mode;

/// The page shown when a request gives no body and `DEFAULT_BODY` is unset.
pub const BUILT_IN_BODY: &str = "<!doctype html><html><head><title>Maintenance</title></head><body><h1>We'll be back soon</h1><p>This service is down for scheduled maintenance.</p></body></html>";

/// ALB answers the maintenance page with this content type unless the
/// request names another of the five it allows.
pub const DEFAULT_CONTENT_TYPE: &str = "text/html";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub default_body: String,
    pub default_status_code: u16,
    pub default_mode: Mode,
    pub state_machine_arn: Option<String>,
    /// Where the `notify` action posts (a Slack incoming webhook).
    pub slack_webhook: Option<SecretRef>,
    /// Every invocation only plans and reports (`DRY_RUN`).
    pub dry_run: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            default_body: BUILT_IN_BODY.to_owned(),
            default_status_code: 503,
            default_mode: Mode::FixedResponse,
            state_machine_arn: None,
            slack_webhook: None,
            dry_run: false,
        }
    }
}

impl Config {
    /// Reads and checks every variable; problems are recorded in `env`.
    pub fn from_env(env: &mut Env) -> Self {
        let default_body = env
            .optional_with(&DEFAULT_BODY, |v| {
                limits::check_body(v).map(|()| v.to_owned())
            })
            .unwrap_or_else(|| BUILT_IN_BODY.to_owned());
        let default_status_code = env.or_default_with(&DEFAULT_STATUS_CODE, |v| {
            let code = v
                .parse::<u16>()
                .map_err(|_| "expected a number".to_owned())?;
            limits::check_status_code(code).map(|()| code)
        });
        let default_mode = env.or_default_with(&DEFAULT_MODE, Mode::parse);
        let state_machine_arn = env.optional_with(&MAINTENANCE_STATE_MACHINE_ARN, |v| {
            if v.starts_with("arn:") && v.contains(":stateMachine:") {
                Ok(v.to_owned())
            } else {
                Err("expected a Step Functions state machine ARN".to_owned())
            }
        });
        Self {
            default_body,
            default_status_code,
            default_mode,
            state_machine_arn,
            slack_webhook: SecretRef::slack_webhook_from_env(env),
            dry_run: env.flag(&DRY_RUN),
        }
    }
}

/// Every variable the function reads, in the order the README and the
/// template list them (`cargo xtask gen` writes both from this list).
pub const SETTINGS: &[Setting] = &[
    DEFAULT_BODY,
    DEFAULT_STATUS_CODE,
    DEFAULT_MODE,
    MAINTENANCE_STATE_MACHINE_ARN,
    Setting {
        description: "Secrets Manager secret holding the Slack webhook URL for window notifications (not with `SLACK_WEBHOOK_PARAMETER`).",
        ..settings::SLACK_WEBHOOK_SECRET_ARN
    },
    settings::SLACK_WEBHOOK_PARAMETER,
    settings::RESULT_EVENT_BUS,
    settings::RESULT_LABEL,
    DRY_RUN,
];

/// A request's own `"dry_run": true` is the usual way here, so the template
/// does not set it.
pub const DRY_RUN: Setting = Setting {
    description: "Every invocation only plans and reports, and sends no notification. The template does not set it: a request's own `\"dry_run\": true` is the usual way.",
    ..settings::DRY_RUN
};

pub const DEFAULT_BODY: Setting = Setting {
    name: "DEFAULT_BODY",
    kind: Kind::Text,
    required: Required::No,
    default: None,
    example: "<h1>Back soon</h1>",
    description: "Maintenance page body when a request gives none (at most 1024 characters); empty means a built-in page.",
    source: Source::Parameter(Parameter {
        name: "MaintenanceDefaultBody",
        constraint: Constraint::Pattern {
            pattern: r#"^[\x20-\x7E\t\n\r]*$"#,
            description: Some("At most 1024 ASCII characters (use HTML entities for others)."),
        },
        max_length: Some(1024),
        default: None,
        attribute: Some("default_body"),
    }),
};

pub const DEFAULT_STATUS_CODE: Setting = Setting {
    name: "DEFAULT_STATUS_CODE",
    kind: Kind::Number,
    required: Required::No,
    default: Some("503"),
    example: "503",
    description: "Status code of the maintenance response when a request gives none (2XX, 4XX or 5XX).",
    source: Source::Parameter(Parameter {
        name: "MaintenanceDefaultStatusCode",
        constraint: Constraint::Pattern {
            pattern: "^[245][0-9][0-9]$",
            description: Some("A 2XX, 4XX or 5XX status code."),
        },
        max_length: None,
        default: None,
        attribute: Some("default_status_code"),
    }),
};

pub const DEFAULT_MODE: Setting = Setting {
    name: "DEFAULT_MODE",
    kind: Kind::Text,
    required: Required::No,
    default: Some("fixed-response"),
    example: "fixed-response",
    description: "`fixed-response` serves the body; `forward` sends users to the request's maintenance target group.",
    source: Source::Parameter(Parameter {
        name: "MaintenanceDefaultMode",
        constraint: Constraint::Values(&["fixed-response", "forward"]),
        max_length: None,
        default: None,
        attribute: Some("default_mode"),
    }),
};

pub const MAINTENANCE_STATE_MACHINE_ARN: Setting = Setting {
    name: "MAINTENANCE_STATE_MACHINE_ARN",
    kind: Kind::Text,
    required: Required::No,
    default: None,
    example: "arn:aws:states:eu-west-1:123456789012:stateMachine:maintenance-window",
    description: "The window state machine; `schedule`, `cancel` and `windows` need it (the template sets it).",
    // Built from the name, not referenced: the state machine refers to the
    // function, so a reference back would be circular.
    source: Source::Template(
        "!Sub arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${NamePrefix}-maintenance-window",
    ),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_unset() {
        let mut env = Env::from_pairs(Vec::<(String, String)>::new());
        let config = Config::from_env(&mut env);
        env.finish().unwrap();
        assert_eq!(config, Config::default());
        assert!(BUILT_IN_BODY.len() <= limits::MAX_BODY_CHARS);
    }

    #[test]
    fn every_bad_variable_is_reported_together() {
        let mut env = Env::from_pairs([
            ("DEFAULT_BODY", "x".repeat(1025)),
            ("DEFAULT_STATUS_CODE", "302".to_owned()),
            ("DEFAULT_MODE", "redirect".to_owned()),
            ("MAINTENANCE_STATE_MACHINE_ARN", "my-machine".to_owned()),
        ]);
        let _ = Config::from_env(&mut env);
        let err = env.finish().unwrap_err();
        let text = err.to_string();
        assert_eq!(err.problems.len(), 4, "{text}");
        assert!(text.contains("DEFAULT_BODY"), "{text}");
        assert!(text.contains("1025 characters"), "{text}");
        assert!(text.contains("DEFAULT_STATUS_CODE: \"302\""), "{text}");
        assert!(text.contains("DEFAULT_MODE"), "{text}");
        assert!(text.contains("MAINTENANCE_STATE_MACHINE_ARN"), "{text}");
    }

    #[test]
    fn set_values_are_used() {
        let mut env = Env::from_pairs([
            ("DEFAULT_BODY", "<p>soon</p>"),
            ("DEFAULT_STATUS_CODE", "200"),
            ("DEFAULT_MODE", "forward"),
            ("DRY_RUN", "true"),
        ]);
        let config = Config::from_env(&mut env);
        env.finish().unwrap();
        assert!(config.dry_run);
        assert_eq!(config.default_body, "<p>soon</p>");
        assert_eq!(config.default_status_code, 200);
        assert_eq!(config.default_mode, Mode::Forward);
    }
}
