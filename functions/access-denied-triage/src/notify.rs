//! What people are told, and its delivery: the Slack message for a group of
//! denials or a reconnaissance burst, the SNS page for a critical one, and
//! the digest's message.

use std::collections::BTreeSet;

use shared::Deadline;
use shared::routing::{DEFAULT_ROUTE, Route, Undelivered};
use shared::slack::{Finding, Message, build_messages};

use crate::App;
use crate::enrich::{ACCOUNT_ALIAS, Context};
use crate::error::Error;
use crate::plan::{Flag, Group, Recon, Severity};

/// Listed in full up to this many; the rest are counted.
const LISTED: usize = 10;

/// One announcement: a group of denials or a burst, with what enrichment
/// learnt and where it goes.
#[derive(Debug, Clone, Copy)]
pub enum Announcement<'a> {
    Group(&'a Group),
    Recon(&'a Recon),
}

impl Announcement<'_> {
    pub fn key(&self) -> &str {
        match self {
            Self::Group(g) => &g.key,
            Self::Recon(r) => &r.key,
        }
    }

    pub fn who(&self) -> &'_ crate::record::Who {
        match self {
            Self::Group(g) => &g.who,
            Self::Recon(r) => &r.who,
        }
    }

    pub fn principal(&self) -> &str {
        match self {
            Self::Group(g) => &g.who.principal,
            Self::Recon(r) => &r.who.principal,
        }
    }

    pub fn severity(&self) -> Severity {
        match self {
            Self::Group(g) => g.severity,
            Self::Recon(r) => r.severity,
        }
    }

    pub fn title(&self) -> String {
        let severity = format!("{:?}", self.severity()).to_uppercase();
        match self {
            Self::Group(g) => format!(
                "{severity} access denied: {} to {}",
                g.who.describe(),
                g.action
            ),
            Self::Recon(r) => format!(
                "{severity} reconnaissance: {} denied {} distinct actions",
                r.who.describe(),
                r.actions.len()
            ),
        }
    }

    fn fields(&self, context: &Context, owner: Option<&str>) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        match self {
            Self::Group(g) => {
                fields.push(("Who".to_owned(), g.who.describe()));
                if g.persons.len() > 1 {
                    fields.push(("People".to_owned(), listed(&g.persons)));
                }
                fields.push(("Denied".to_owned(), g.action.clone()));
                if !g.resources.is_empty() {
                    fields.push(("Resource".to_owned(), listed(&g.resources)));
                }
                fields.push(("Why".to_owned(), g.denial.describe()));
                let times = if g.count == 1 { "time" } else { "times" };
                fields.push((
                    "How many".to_owned(),
                    if g.first == g.last {
                        format!("{} {times}, at {}", g.count, when(g.first))
                    } else {
                        format!(
                            "{} {times}, from {} to {}",
                            g.count,
                            when(g.first),
                            when(g.last)
                        )
                    },
                ));
                let ips: BTreeSet<String> = g.source_ips.iter().map(|ip| ip.to_string()).collect();
                if !ips.is_empty() {
                    let own = if g.from_own_network {
                        " (your own network)"
                    } else {
                        ""
                    };
                    fields.push(("From".to_owned(), format!("{}{own}", listed(&ips))));
                }
                if let Some(key) = &g.who.access_key {
                    fields.push(("Access key".to_owned(), key.clone()));
                }
                fields.push((
                    "Where".to_owned(),
                    format!(
                        "{} / {}",
                        accounts(&g.accounts, context),
                        listed(&g.regions)
                    ),
                ));
                let flags: Vec<String> = g.flags.iter().map(describe_flag).collect();
                if !flags.is_empty() {
                    fields.push(("Noticed".to_owned(), flags.join("; ")));
                }
            }
            Self::Recon(r) => {
                fields.push(("Who".to_owned(), r.who.describe()));
                fields.push(("Denied".to_owned(), listed(&r.actions)));
                fields.push((
                    "When".to_owned(),
                    format!("from {} to {}", when(r.from), when(r.to)),
                ));
                if let Some(key) = &r.who.access_key {
                    fields.push(("Access key".to_owned(), key.clone()));
                }
                let flags: Vec<String> = r.flags.iter().map(describe_flag).collect();
                if !flags.is_empty() {
                    fields.push(("Noticed".to_owned(), flags.join("; ")));
                }
            }
        }
        let principal = self.principal();
        fields.push((
            "Owner".to_owned(),
            match (owner, context.unknown.get(principal)) {
                (Some(owner), _) => owner.to_owned(),
                (None, Some(why)) => format!("unknown ({why}); sent to the default channel"),
                (None, None) => "no owner tag; sent to the default channel".to_owned(),
            },
        ));
        if let Some(why) = context.unknown.get(ACCOUNT_ALIAS) {
            fields.push(("Account alias".to_owned(), format!("unknown ({why})")));
        }
        fields.push(("Next".to_owned(), self.next_step()));
        fields
    }

    /// What a reader should do; the rule to paste goes in the code block.
    fn next_step(&self) -> String {
        match self {
            Self::Group(g) if g.severity == Severity::Critical => match g.who.long_term_key() {
                Some(key) => format!(
                    "Looks like an attack: check the key {key}. If nobody owns up, deactivate it (aws iam update-access-key --access-key-id {key} --status Inactive) and review what else it did in CloudTrail."
                ),
                None => "Looks like an attack: find out who used these credentials, and review what else they did in CloudTrail.".to_owned(),
            },
            Self::Group(g) if g.flags.iter().any(|f| matches!(f, Flag::KnownKeyNewNetwork { .. })) => {
                let key = g.who.long_term_key().unwrap_or("the key");
                format!(
                    "Ask the owner of {key} whether they use it from there. If not, deactivate it (aws iam update-access-key --access-key-id {key} --status Inactive). If they do, add the network to OWN_CIDRS or wait: it is known from now on."
                )
            }
            Self::Group(_) => "Expected? Add this rule, with an expiry, to RULES (AccessDeniedTriageRules). Missing permission? Grant it where the policy type above says.".to_owned(),
            Self::Recon(r) => match r.who.long_term_key() {
                Some(key) => format!(
                    "Looks like an attack: someone is probing what the key {key} may do. Deactivate it unless its owner explains the burst."
                ),
                None => "Looks like an attack: someone is probing what these credentials may do. Find the session's owner and review CloudTrail.".to_owned(),
            },
        }
    }

    pub fn slack(&self, context: &Context, owner: Option<&str>) -> Vec<Message> {
        let body = match self {
            Self::Group(g) if g.severity != Severity::Critical => Some(g.suggested_rule.clone()),
            _ => None,
        };
        let finding = Finding {
            title: self.title(),
            fields: self.fields(context, owner),
            body,
        };
        build_messages(&self.title(), None, &[finding])
    }

    /// SNS subjects are limited to 100 characters, ASCII, no newlines.
    pub fn sns_subject(&self) -> String {
        self.title()
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    ' '
                }
            })
            .take(100)
            .collect()
    }

    pub fn sns_body(&self, context: &Context, owner: Option<&str>) -> String {
        let mut body = self.title();
        body.push('\n');
        for (label, value) in self.fields(context, owner) {
            body.push_str(&format!("\n{label}: {value}"));
        }
        body
    }
}

fn describe_flag(flag: &Flag) -> String {
    match flag {
        Flag::Root => "the root user".to_owned(),
        Flag::NewKeyFromNewNetwork { key, network } => {
            format!(
                "access key {key} never seen before, from {network}, a network never seen before"
            )
        }
        Flag::KnownKeyNewNetwork { key, network } => {
            format!("access key {key} used from {network}, a network never seen before")
        }
        Flag::SensitiveWrite => "a write to a sensitive control plane".to_owned(),
        Flag::ExpiredRule { rule } => format!("the rule {rule} has expired and no longer applies"),
        Flag::NewPrincipal => "first denial seen from this principal".to_owned(),
        Flag::NewRegion { region } => format!("first call seen in {region}"),
    }
}

/// RFC 3339, as CloudTrail writes `eventTime`, so a reader can search for it.
fn when(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

fn listed(items: &BTreeSet<String>) -> String {
    let mut text: Vec<&str> = items.iter().take(LISTED).map(String::as_str).collect();
    let more = items.len().saturating_sub(LISTED);
    let more = format!("and {more} more");
    if items.len() > LISTED {
        text.push(&more);
    }
    text.join(", ")
}

fn accounts(accounts: &BTreeSet<String>, context: &Context) -> String {
    let text = listed(accounts);
    match &context.account_alias {
        Some(alias) if accounts.len() == 1 => format!("{text} ({alias})"),
        _ => text,
    }
}

/// One message for the ordinary alerts past the per-delivery cap (see
/// [`crate::apply::MAX_ORDINARY_ALERTS`]): each one's title, in a list.
pub fn over_cap(rest: &[&Announcement<'_>]) -> Vec<Message> {
    let title = format!(
        "{} more ordinary access denied alert(s) in one delivery",
        rest.len()
    );
    let finding = Finding {
        title: "Not posted one by one; the digest counts them, and each is announced if it recurs"
            .to_owned(),
        fields: rest
            .iter()
            .map(|a| ("Group".to_owned(), a.title()))
            .collect(),
        body: None,
    };
    build_messages(&title, None, &[finding])
}

/// Delivers one announcement: the page first when it is critical and a
/// topic is set, then Slack on `route`, or on the default route when the
/// team's webhook cannot be read. Returns the route it was posted to.
///
/// A failed page does not keep the alert from Slack: the error is returned
/// after the post, so the invocation fails and the retry pages again (and
/// posts again: a repeated message is better than a missing page).
pub async fn deliver(
    app: &App,
    announcement: &Announcement<'_>,
    context: &Context,
    owner: Option<&str>,
    route: &Route<'_>,
    deadline: &Deadline,
) -> Result<String, Error> {
    let key = announcement.key().to_owned();
    let mut paged = Ok(());
    if announcement.severity() == Severity::Critical
        && let Some(topic) = &app.settings.critical_topic_arn
    {
        // The client's type is named here so that the sdk-calls check
        // (tests/template-support/sdk-calls.txt) ties `publish` to SNS.
        let sns: &aws_sdk_sns::Client = &app.sns;
        paged = sns
            .publish()
            .topic_arn(topic)
            .subject(announcement.sns_subject())
            .message(announcement.sns_body(context, owner))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::Sns {
                topic: topic.clone(),
                key: key.clone(),
                source: shared::aws::cause(e),
            });
    }
    let messages = announcement.slack(context, owner);
    let posted = match post(app, &messages, route, &key, deadline).await {
        Ok(()) => Ok(route.name.clone()),
        // A team's webhook that cannot be read (deleted, outside the
        // readable prefix) must not silence its alerts: the default channel
        // gets them, and the report says why.
        Err(Error::Webhook {
            route: team,
            source,
        }) if team != DEFAULT_ROUTE => {
            let default = app
                .settings
                .routes
                .named(DEFAULT_ROUTE)
                .expect("the default route always exists");
            post(app, &messages, &default, &key, deadline)
                .await
                .map(|()| {
                    format!("{DEFAULT_ROUTE} (the webhook of {team} could not be read: {source})")
                })
        }
        Err(error) => Err(error),
    };
    let used = posted?;
    paged.map(|()| used)
}

/// Posts `messages` to the webhook of `route`.
pub async fn post(
    app: &App,
    messages: &[Message],
    route: &Route<'_>,
    key: &str,
    deadline: &Deadline,
) -> Result<(), Error> {
    route
        .post(&app.secrets, &app.slack, messages, deadline)
        .await
        .map_err(|undelivered| match undelivered {
            Undelivered::Webhook(source) => Error::Webhook {
                route: route.name.clone(),
                source,
            },
            Undelivered::Slack(source) => Error::Slack {
                key: key.to_owned(),
                route: route.name.clone(),
                source,
            },
        })
}
