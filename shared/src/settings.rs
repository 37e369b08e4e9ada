//! The settings every function reads the same way, declared once: a
//! function lists them in its own `SETTINGS`, with its own wording or
//! template parameter where it needs one (`Setting { .., ..DRY_RUN }`).

use crate::setting::{Constraint, Kind, Required, Setting, Source};

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
