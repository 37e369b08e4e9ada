//! What owners are told: one digest per owner, grouped by patch group, with
//! what is new, fixed and still open since the last report; and its
//! delivery to the owner's route. It says what, not whether.
//!
//! Every piece of instance text (names, tags, patch groups, owners) goes
//! through `shared::slack::build_messages`, which escapes it.

use shared::Deadline;
use shared::routing::{Route, Undelivered};
use shared::slack::{Finding, Message, build_messages};

use crate::App;
use crate::error::Error;
use crate::plan::{Change, InstanceReport, OwnerReport, Plan, age, rfc3339};

/// Instances listed one by one in a digest; the rest are counted, and the
/// report and the result event list them all.
pub const LISTED: usize = 40;

/// The digest of one owner; `note` (why it reached this channel, when it
/// is not the owner's own) ends the summary.
pub fn digest(
    owner: &OwnerReport,
    plan: &Plan,
    now: time::OffsetDateTime,
    note: Option<&str>,
) -> Vec<Message> {
    let title = format!(
        "Patching, {}: {} new, {} fixed, {} still open",
        owner.owner, owner.new, owner.fixed, owner.still_open
    );
    let latest = match &plan.latest {
        Ok(release) => format!("latest Amazon Linux 2023: {}", release.version),
        Err(why) => format!("latest Amazon Linux 2023 unknown ({why})"),
    };
    let mut summary = format!(
        "{} running instance(s) of {}, {} with findings or changes; {latest}",
        owner.running,
        owner.owner,
        owner.instances.iter().filter(|i| i.running).count(),
    );
    if let Some(note) = note {
        summary.push_str(". ");
        summary.push_str(note);
    }
    let mut findings = Vec::new();
    let mut group: Option<&str> = None;
    let listed = owner.instances.iter().take(LISTED);
    for instance in listed {
        if group != Some(instance.patch_group.as_str()) {
            group = Some(instance.patch_group.as_str());
            let in_group = owner
                .instances
                .iter()
                .filter(|i| i.patch_group == instance.patch_group)
                .count();
            findings.push(Finding {
                title: format!(
                    "Patch group {}: {in_group} instance(s)",
                    instance.patch_group
                ),
                fields: Vec::new(),
                body: None,
            });
        }
        findings.push(section(instance, now));
    }
    let more = owner.instances.len().saturating_sub(LISTED);
    if more > 0 {
        findings.push(Finding {
            title: format!(
                "and {more} more instance(s): the function's report and result event list every one"
            ),
            fields: Vec::new(),
            body: None,
        });
    }
    build_messages(&title, Some(&summary), &findings)
}

fn section(instance: &InstanceReport, now: time::OffsetDateTime) -> Finding {
    let mut fields = Vec::new();
    for f in &instance.findings {
        let label = match f.change {
            Change::New => "NEW".to_owned(),
            Change::StillOpen => format!(
                "Still open ({} since {})",
                age(now - f.since),
                f.since.date()
            ),
        };
        fields.push((label, format!("{}: {}", f.kind.label(), f.detail)));
    }
    for f in &instance.fixed {
        fields.push((
            if f.how == "fixed" { "Fixed" } else { "Ended" }.to_owned(),
            format!(
                "{} (open since {}){}",
                f.kind.label(),
                rfc3339(f.since),
                if f.how == "fixed" {
                    String::new()
                } else {
                    format!(": {}", f.how)
                }
            ),
        ));
    }
    if let Some(group) = &instance.auto_scaling_group {
        fields.push((
            "Auto Scaling group".to_owned(),
            format!(
                "{group}: patch it with a new AMI and an instance refresh, not in place (a replaced instance loses in-place patches)"
            ),
        ));
    }
    Finding {
        title: instance.describe(),
        fields,
        body: None,
    }
}

/// Posts `messages` to the webhook of `route`.
pub async fn post(
    app: &App,
    messages: &[Message],
    route: &Route<'_>,
    owner: &str,
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
                owner: owner.to_owned(),
                route: route.name.clone(),
                source,
            },
        })
}
