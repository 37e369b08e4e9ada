//! The application's own parameters, shared by both applications (the
//! product's template.yaml and the hub's deploy/hub/template.yaml) and their
//! Terraform modules: the name prefix, the Slack webhook, the alarm topic,
//! the functions' log retention, the permissions boundary and the KMS key.
//! Declared once here; `cargo xtask gen` writes, in each template, their
//! parameters, the console's parameter group entries and the conditions
//! derived from them, and in each module their variables (descriptions,
//! defaults, validations), the parameters those set and the template's
//! defaults and length limits.
//!
//! What differs between the applications is their wording (one function or
//! many, what the key encrypts): each text names both. The parameters each
//! application has alone (the product's result bus, the hub's senders and
//! history) stay in the hand-written parts of its files.

use shared::config::Constraint;

use super::template::{parameter_entry, yaml_folded};
use super::terraform::{sentence, validation};
use super::text::{hcl, hcl_attributes};

/// Which application a file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    /// template.yaml and deploy/terraform/modules/toilkit.
    Product,
    /// deploy/hub/template.yaml and deploy/terraform/modules/toilkit-hub.
    Hub,
}

/// One text in each application's words.
#[derive(Debug, Clone, Copy)]
pub struct PerApp {
    pub product: &'static str,
    pub hub: &'static str,
}

impl PerApp {
    pub fn of(&self, app: App) -> &'static str {
        match app {
            App::Product => self.product,
            App::Hub => self.hub,
        }
    }
}

/// One Terraform variable of both modules: it sets one template parameter,
/// or it is an object whose attributes set one parameter each.
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    pub name: &'static str,
    pub description: PerApp,
    /// Only one of the object's attributes may be set.
    pub exclusive: bool,
    pub parameters: &'static [Parameter],
}

/// One template parameter of both applications.
#[derive(Debug, Clone, Copy)]
pub struct Parameter {
    pub name: &'static str,
    /// The attribute of the object variable that sets it; `None`: the
    /// variable itself.
    pub attribute: Option<&'static str>,
    /// What the template accepts. A pattern's description is the template's
    /// ConstraintDescription and, without its "Empty, or ", what the module's
    /// validation says the value must be. An optional parameter's pattern
    /// admits "" first (`^$|...`): Terraform's unset is null, so the module
    /// checks the rest.
    pub constraint: Constraint,
    pub max_length: Option<u32>,
    /// The template's default; "" is unset, null in Terraform.
    pub default: &'static str,
    /// The template parameter's description.
    pub description: PerApp,
    /// The condition `Has<...>` that the parameter is set, if the template
    /// uses one.
    pub condition: Option<&'static str>,
}

/// The shared parameters, in the order both templates and modules list them.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "name",
        description: PerApp {
            product: "Name of the deployment: the CloudFormation stack is serverlessrepo-<name>, and every named resource (functions, log groups, queues, alarms, rules) starts with <name>-.",
            hub: "Name of the deployment: the CloudFormation stack is serverlessrepo-<name>-hub, and every named resource starts with <name>-hub (the function <name>-hub-collector, its rules and buckets).",
        },
        exclusive: false,
        parameters: &[Parameter {
            name: "NamePrefix",
            attribute: None,
            constraint: Constraint::Pattern {
                pattern: "^[a-z][a-z0-9-]{1,19}$",
                description: Some(
                    "2 to 20 lowercase letters, digits or hyphens, starting with a letter.",
                ),
            },
            max_length: None,
            default: "toilkit",
            description: PerApp {
                product: "Prefix of every named resource (functions, log groups, queues, alarms, rules). One stack per prefix per Region.",
                hub: "Prefix of every named resource: the function <NamePrefix>-hub-collector, the buckets <NamePrefix>-hub-history-<account>-<region> and <NamePrefix>-hub-dashboard-<account>-<region>.",
            },
            condition: None,
        }],
    },
    Variable {
        name: "slack_webhook",
        description: PerApp {
            product: "Where the Slack incoming-webhook URL is stored, for every function that posts to Slack: a Secrets Manager secret ARN or an SSM SecureString parameter name (one of them). The URL itself never goes into Terraform.",
            hub: "Where the Slack incoming-webhook URL of the alerts and the digest is stored: a Secrets Manager secret ARN or an SSM SecureString parameter name (one of them). The URL itself never goes into Terraform.",
        },
        exclusive: true,
        parameters: &[
            Parameter {
                name: "SlackWebhookSecretArn",
                attribute: Some("secret_arn"),
                constraint: Constraint::Pattern {
                    pattern: "^$|^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$",
                    description: Some("Empty, or a Secrets Manager secret ARN."),
                },
                max_length: Some(256),
                default: "",
                description: PerApp {
                    product: "SLACK_WEBHOOK_SECRET_ARN for every function that posts to Slack. The ARN of a Secrets Manager secret holding the webhook URL. Set this or SlackWebhookParameter, not both.",
                    hub: "SLACK_WEBHOOK_SECRET_ARN. The ARN of a Secrets Manager secret holding the webhook URL of the alerts and the digest. Set this or SlackWebhookParameter, not both.",
                },
                condition: Some("HasSlackSecret"),
            },
            Parameter {
                name: "SlackWebhookParameter",
                attribute: Some("parameter"),
                constraint: Constraint::Pattern {
                    pattern: r"^$|^/[A-Za-z0-9_.\-/]{1,255}$",
                    description: Some(r#"Empty, or an SSM parameter name starting with "/"."#),
                },
                max_length: Some(256),
                default: "",
                description: PerApp {
                    product: "SLACK_WEBHOOK_PARAMETER for every function that posts to Slack. The name of an SSM SecureString parameter holding the webhook URL, e.g. /toilkit/slack-webhook.",
                    hub: "SLACK_WEBHOOK_PARAMETER. The name of an SSM SecureString parameter holding the webhook URL, e.g. /toilkit/slack-webhook.",
                },
                condition: Some("HasSlackParameter"),
            },
        ],
    },
    Variable {
        name: "alarm_topic_arn",
        description: PerApp {
            product: "Optional SNS topic ARN for the alarms (function errors, dead letters, failed maintenance windows).",
            hub: "Optional SNS topic ARN for the alarms (function errors, dead letters, undelivered events).",
        },
        exclusive: false,
        parameters: &[Parameter {
            name: "AlarmTopicArn",
            attribute: None,
            constraint: Constraint::Pattern {
                pattern: "^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$",
                description: Some("Empty, or an SNS topic ARN."),
            },
            max_length: None,
            default: "",
            description: PerApp {
                product: "Optional SNS topic ARN that receives the alarms (function errors, dead-letter messages, failed maintenance windows).",
                hub: "Optional SNS topic ARN that receives the alarms (function errors, dead letters, undelivered events).",
            },
            condition: Some("HasAlarmTopic"),
        }],
    },
    Variable {
        name: "function_log_retention_days",
        description: PerApp {
            product: "Retention of the functions' own log groups, in days.",
            hub: "Retention of the function's own log group, in days.",
        },
        exclusive: false,
        parameters: &[Parameter {
            name: "FunctionLogRetentionDays",
            attribute: None,
            constraint: Constraint::Numbers(shared::settings::LOG_RETENTION_DAYS),
            max_length: None,
            default: "90",
            description: PerApp {
                product: "Retention, in days, of the functions' own log groups.",
                hub: "Retention, in days, of the function's own log group.",
            },
            condition: None,
        }],
    },
    Variable {
        name: "permissions_boundary_arn",
        description: PerApp {
            product: "Optional permissions boundary (IAM policy ARN) attached to every role the application creates.",
            hub: "Optional permissions boundary (IAM policy ARN) attached to the role the application creates.",
        },
        exclusive: false,
        parameters: &[Parameter {
            name: "PermissionsBoundaryArn",
            attribute: None,
            constraint: Constraint::Pattern {
                pattern: "^$|^arn:aws[a-z-]*:iam::[0-9]{12}:policy/[A-Za-z0-9+=,.@_/-]+$",
                description: Some("Empty, or an IAM managed policy ARN."),
            },
            max_length: None,
            default: "",
            description: PerApp {
                product: "Optional permissions boundary attached to every role the application creates.",
                hub: "Optional permissions boundary attached to the role the application creates.",
            },
            condition: Some("HasPermissionsBoundary"),
        }],
    },
    Variable {
        name: "kms_key_arn",
        description: PerApp {
            product: "Optional customer-managed KMS key (ARN) for the queues (dead letters hold raw events), the tables and the functions' log groups. Its key policy must let the account's roles, logs.<region>.amazonaws.com and events.amazonaws.com use it (see the README).",
            hub: "Optional customer-managed KMS key (ARN) for the queues, the state table, the buckets and the function's log group. Its key policy must let the account's roles (and whoever queries the history), logs.<region>.amazonaws.com and events.amazonaws.com use it.",
        },
        exclusive: false,
        parameters: &[Parameter {
            name: "KmsKeyArn",
            attribute: None,
            constraint: Constraint::Pattern {
                pattern: "^$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]{1,64}$",
                description: Some("Empty, or a KMS key ARN (not an alias)."),
            },
            max_length: None,
            default: "",
            description: PerApp {
                product: "Optional customer-managed KMS key that encrypts the queues (dead letters hold raw events), the tables and the functions' log groups. Empty means AWS-managed encryption. The key policy must let this account's roles, logs.<region>.amazonaws.com and events.amazonaws.com use it (see the README).",
                hub: "Optional customer-managed KMS key that encrypts the queues, the state table, the buckets and the function's log group. Empty means AWS-managed encryption. The key policy must let this account's roles (and whoever queries the history with Athena), logs.<region>.amazonaws.com and events.amazonaws.com use it.",
            },
            condition: Some("HasKmsKey"),
        }],
    },
];

/// Every shared parameter, in order.
fn parameters() -> impl Iterator<Item = (&'static Variable, &'static Parameter)> {
    VARIABLES
        .iter()
        .flat_map(|v| v.parameters.iter().map(move |p| (v, p)))
}

fn is_number(p: &Parameter) -> bool {
    p.constraint.parameter_type() == "Number"
}

/// The regions of a template (`application-parameter-groups`,
/// `application-parameters`, `application-conditions`).
pub fn template_regions(app: App) -> Vec<(String, String)> {
    let mut groups = String::new();
    let mut entries = String::new();
    let mut conditions = String::new();
    for (_, p) in parameters() {
        groups.push_str(&format!("          - {}\n", p.name));
        entries.push_str(&template_parameter(p, app));
        if let Some(condition) = p.condition {
            conditions.push_str(&format!(
                "  {condition}: !Not [!Equals [!Ref {}, \"\"]]\n",
                p.name
            ));
        }
    }
    vec![
        ("application-parameter-groups".to_owned(), groups),
        ("application-parameters".to_owned(), entries),
        ("application-conditions".to_owned(), conditions),
    ]
}

fn template_parameter(p: &Parameter, app: App) -> String {
    parameter_entry(
        p.name,
        p.max_length,
        &p.constraint,
        p.default,
        &yaml_folded(p.description.of(app), "      "),
    )
}

/// The regions of a module: `application-variables` in variables.tf,
/// `application-parameters` in main.tf, `application-defaults` and
/// `application-max-lengths` in template_defaults.tf, by file name.
pub fn terraform_regions(app: App) -> Vec<(&'static str, String, String)> {
    let variables: Vec<String> = VARIABLES.iter().map(|v| variable(v, app)).collect();
    let mut assigned = Vec::new();
    let mut defaults = Vec::new();
    let mut max_lengths = Vec::new();
    for (v, p) in parameters() {
        let reference = reference(v, p);
        let value = if is_number(p) {
            format!("tostring({reference})")
        } else {
            reference
        };
        assigned.push((p.name.to_owned(), value));
        defaults.push((p.name.to_owned(), hcl(p.default)));
        if let Some(max) = p.max_length {
            max_lengths.push((p.name.to_owned(), max.to_string()));
        }
    }
    vec![
        (
            "variables.tf",
            "application-variables".to_owned(),
            variables.join("\n"),
        ),
        (
            "main.tf",
            "application-parameters".to_owned(),
            hcl_attributes("    ", &assigned),
        ),
        (
            "template_defaults.tf",
            "application-defaults".to_owned(),
            hcl_attributes("    ", &defaults),
        ),
        (
            "template_defaults.tf",
            "application-max-lengths".to_owned(),
            hcl_attributes("    ", &max_lengths),
        ),
    ]
}

/// `var.<variable>` or `var.<variable>.<attribute>`.
fn reference(v: &Variable, p: &Parameter) -> String {
    match p.attribute {
        Some(attribute) => format!("var.{}.{attribute}", v.name),
        None => format!("var.{}", v.name),
    }
}

fn hcl_type(p: &Parameter) -> &'static str {
    if is_number(p) { "number" } else { "string" }
}

/// A variable block: its description, type and default (the template's,
/// null for an unset one), and a validation per parameter that refuses at
/// plan what the template would refuse at deploy.
fn variable(v: &Variable, app: App) -> String {
    let mut attributes = vec![("description".to_owned(), hcl(v.description.of(app)))];
    match v.parameters {
        [p] if p.attribute.is_none() => {
            attributes.push(("type".to_owned(), hcl_type(p).to_owned()));
            let default = match p.default {
                "" => "null".to_owned(),
                d if is_number(p) => d.to_owned(),
                d => hcl(d),
            };
            attributes.push(("default".to_owned(), default));
        }
        parameters => {
            let fields: Vec<(String, String)> = parameters
                .iter()
                .map(|p| {
                    let attribute = p.attribute.unwrap_or_else(|| {
                        panic!("{}: an object's parameter needs its attribute", p.name)
                    });
                    (attribute.to_owned(), format!("optional({})", hcl_type(p)))
                })
                .collect();
            attributes.push((
                "type".to_owned(),
                format!("object({{\n{}}})", hcl_attributes("  ", &fields)),
            ));
            attributes.push(("default".to_owned(), "{}".to_owned()));
        }
    }
    let mut out = format!(
        "variable {} {{\n{}\n",
        hcl(v.name),
        hcl_attributes("  ", &attributes)
    );
    if v.exclusive {
        let references: Vec<String> = v.parameters.iter().map(|p| reference(v, p)).collect();
        let names: Vec<String> = references
            .iter()
            .map(|r| r.trim_start_matches("var.").to_owned())
            .collect();
        let [a, b] = references.as_slice() else {
            panic!("{}: exclusive takes two attributes", v.name);
        };
        out.push_str(&validation(
            &format!("{a} == null || {b} == null"),
            &format!("Set {}, not both.", names.join(" or ")),
        ));
    }
    for p in v.parameters {
        out.push_str(&parameter_validation(v, p));
    }
    out.push_str("}\n");
    out
}

fn parameter_validation(v: &Variable, p: &Parameter) -> String {
    let reference = reference(v, p);
    let name = reference.trim_start_matches("var.");
    let (check, rule) = match p.constraint {
        Constraint::Pattern {
            pattern,
            description,
        } => {
            let pattern = if p.default.is_empty() {
                pattern.strip_prefix("^$|").unwrap_or_else(|| {
                    panic!(
                        "{}: an optional parameter's pattern starts with ^$|",
                        p.name
                    )
                })
            } else {
                pattern
            };
            let description = description
                .unwrap_or_else(|| panic!("{}: a pattern needs its description", p.name));
            let rule = sentence(
                description
                    .strip_prefix("Empty, or ")
                    .unwrap_or(description),
            );
            (format!("can(regex({}, {reference}))", hcl(pattern)), rule)
        }
        Constraint::Numbers(values) => (
            format!("contains([{}], {reference})", values.join(", ")),
            format!("one of {}", values.join(", ")),
        ),
        other => panic!("{}: no Terraform validation for {other:?}", p.name),
    };
    let condition = if p.default.is_empty() {
        format!("{reference} == null || {check}")
    } else {
        check
    };
    validation(&condition, &format!("{name} must be {rule}."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_parameter_is_declared_once_and_its_constraint_is_complete() {
        let mut names: Vec<&str> = parameters().map(|(_, p)| p.name).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a parameter is declared twice");
        for app in [App::Product, App::Hub] {
            // Every pattern and default is written out without a panic.
            template_regions(app);
            terraform_regions(app);
        }
    }
}
