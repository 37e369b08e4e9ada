//! The settings every function reads the same way, declared once: a
//! function lists them in its own `SETTINGS`, with its own wording or
//! template parameter where it needs one (`Setting { .., ..DRY_RUN }`).

use crate::setting::{Constraint, Kind, Parameter, Required, Setting, Source};

/// Plan and report only. Each function that has it gives it a template
/// parameter of its own, since one stack may dry-run one function only.
pub const DRY_RUN: Setting = Setting {
    name: "DRY_RUN",
    kind: Kind::Flag,
    required: Required::No,
    default: Some("false"),
    example: "true",
    description: "Plan and report only; change nothing.",
    source: Source::Unset,
};

pub const SLACK_WEBHOOK_SECRET_ARN: Setting = Setting {
    name: "SLACK_WEBHOOK_SECRET_ARN",
    kind: Kind::Text,
    required: Required::No,
    default: None,
    example: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-abc123",
    description: "Secrets Manager secret holding the Slack webhook URL (the URL, or JSON with `url`); not with `SLACK_WEBHOOK_PARAMETER`.",
    source: Source::SharedParameter("SlackWebhookSecretArn"),
};

pub const SLACK_WEBHOOK_PARAMETER: Setting = Setting {
    name: "SLACK_WEBHOOK_PARAMETER",
    kind: Kind::Text,
    required: Required::No,
    default: None,
    example: "/toilkit/slack-webhook",
    description: "SSM SecureString parameter holding the Slack webhook URL, instead of a secret; not with `SLACK_WEBHOOK_SECRET_ARN`.",
    source: Source::SharedParameter("SlackWebhookParameter"),
};

pub const RESULT_EVENT_BUS: Setting = Setting {
    name: "RESULT_EVENT_BUS",
    kind: Kind::Text,
    required: Required::No,
    default: None,
    example: "arn:aws:events:eu-west-1:123456789012:event-bus/toilkit-results",
    description: "Also publish each report to this EventBridge bus (a name in this account, or an ARN).",
    source: Source::SharedParameter("ResultEventBus"),
};

/// What the result events call this deployment. A label rather than a tag
/// of the account: reading account tags needs the organization's management
/// account, which a product account's function cannot ask.
pub const RESULT_LABEL: Setting = Setting {
    name: "RESULT_LABEL",
    kind: Kind::Text,
    required: Required::No,
    default: None,
    example: "payments-prod",
    description: "Product or environment named in each result event (`label`), so results from many accounts can be told apart: up to 32 letters, digits and `._:/+=@-`, starting with a letter or digit.",
    source: Source::SharedParameter("ResultLabel"),
};

/// The template parameter's `AllowedPattern` for [`RESULT_LABEL`] says the
/// same; the function checks it too, for deployments that set the variable
/// another way. 32 characters: every function's environment must stay under
/// Lambda's 4 KB at its parameters' longest, and the label's room was taken
/// from `ResultEventBus` (`MaxLength` 288, still a 256-character bus name or
/// an ARN with a name of over 200).
pub const RESULT_LABEL_PATTERN: &str = "^$|^[A-Za-z0-9][A-Za-z0-9._:/+=@-]{0,31}$";

/// Checks a `RESULT_LABEL` as [`RESULT_LABEL_PATTERN`] does.
pub fn check_result_label(label: &str) -> Result<(), &'static str> {
    let mut chars = label.chars();
    match chars.next() {
        None => return Ok(()),
        Some(c) if !c.is_ascii_alphanumeric() => {
            return Err("must start with a letter or digit");
        }
        Some(_) => {}
    }
    if label.len() > 32 {
        return Err("must be at most 32 characters");
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || "._:/+=@-".contains(c)) {
        return Err("may hold only letters, digits and ._:/+=@-");
    }
    Ok(())
}

/// The retentions CloudWatch Logs accepts, in days, as template values: the
/// functions' own log groups and log-retention's rules take one of them.
pub const LOG_RETENTION_DAYS: &[&str] = &[
    "1", "3", "5", "7", "14", "30", "60", "90", "120", "150", "180", "365", "400", "545", "731",
    "1096", "1827", "2192", "2557", "2922", "3288", "3653",
];

/// A free-text or list parameter on one line: printable ASCII, which keeps
/// each character one byte of the 4 KB environment and leaves no tab or line
/// break to split a list item or a pattern in two.
pub const PRINTABLE_ONE_LINE: Constraint = Constraint::Pattern {
    pattern: r#"^[\x20-\x7E]*$"#,
    description: Some(
        "Printable ASCII on one line (no tabs or line breaks), within MaxLength so the function environment stays under the 4 KB Lambda allows.",
    ),
};

/// A JSON array setting's parameter: ASCII only, because the template's
/// pattern cannot say more, and kept short by each parameter's MaxLength.
pub const JSON_ARRAY: Constraint = Constraint::Pattern {
    pattern: r#"^$|^\s*\[[\x20-\x7E\t\n\r]*\]\s*$"#,
    description: Some(
        r#"Empty, or a JSON array in ASCII (write other characters as \u escapes), within MaxLength so the function environment stays under the 4 KB Lambda allows."#,
    ),
};

/// A function's `DRY_RUN`, set from its template `parameter`.
pub const fn dry_run(parameter: &'static str, description: &'static str) -> Setting {
    Setting {
        description,
        source: Source::Parameter(Parameter {
            name: parameter,
            constraint: Constraint::Values(&["true", "false"]),
            max_length: None,
            default: None,
            attribute: Some("dry_run"),
        }),
        ..DRY_RUN
    }
}

/// The owner tag that routing reads (see [`crate::routing`]), declared by
/// each function that routes, with its template `parameter` and whose tag
/// it is (`description`).
pub const fn owner_tag_key(parameter: &'static str, description: &'static str) -> Setting {
    Setting {
        name: "OWNER_TAG_KEY",
        kind: Kind::Text,
        required: Required::No,
        default: Some("owner"),
        example: "team",
        description,
        source: Source::Parameter(Parameter {
            name: parameter,
            constraint: Constraint::Pattern {
                pattern: r#"^[A-Za-z0-9 _.:/=+\-@]{1,128}$"#,
                description: Some("A tag key."),
            },
            max_length: None,
            default: None,
            attribute: Some("owner_tag_key"),
        }),
    }
}

/// The teams' webhooks that routing reads (see [`crate::routing`]).
pub const fn routes(
    parameter: &'static str,
    description: &'static str,
    max_length: u32,
) -> Setting {
    Setting {
        name: "ROUTES",
        kind: Kind::Json("map(string)"),
        required: Required::No,
        default: None,
        example: r#"{"payments":"arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-payments","data":"/toilkit/slack/data"}"#,
        description,
        source: Source::Parameter(Parameter {
            name: parameter,
            constraint: Constraint::Pattern {
                pattern: r#"^$|^\s*\{[\x20-\x7E\t\n\r]*\}\s*$"#,
                description: Some(
                    r#"Empty, or a JSON object in ASCII (write other characters as \u escapes), within MaxLength so the function environment stays under the 4 KB Lambda allows."#,
                ),
            },
            max_length: Some(max_length),
            default: None,
            attribute: Some("routes"),
        }),
    }
}

/// The SNS topic a function pages critical findings to.
pub const fn critical_topic_arn(parameter: &'static str, description: &'static str) -> Setting {
    Setting {
        name: "CRITICAL_TOPIC_ARN",
        kind: Kind::Text,
        required: Required::No,
        default: None,
        example: "arn:aws:sns:eu-west-1:123456789012:oncall-page",
        description,
        source: Source::Parameter(Parameter {
            name: parameter,
            constraint: Constraint::Pattern {
                pattern: "^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$",
                description: Some("Empty, or an SNS topic ARN."),
            },
            max_length: Some(320),
            default: None,
            attribute: Some("critical_topic_arn"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_label_is_checked_as_its_parameter_pattern_says() {
        for good in [
            "payments-prod",
            "a",
            "team/app:eu=1@x+y_z.w",
            &"x".repeat(32),
            "",
        ] {
            assert_eq!(check_result_label(good), Ok(()), "{good}");
        }
        for bad in ["-prod", "pay ments", "prod\n", "é", &"x".repeat(33)] {
            assert!(check_result_label(bad).is_err(), "{bad}");
        }
    }
}
