//! What the hub tells people in Slack: the heartbeat's alerts and the daily
//! digest. It says what, not whether. Every piece of outside text (labels,
//! accounts, reasons) goes through `shared::slack::build_messages`, which
//! escapes it.

use shared::slack::{Finding, Message, build_messages};
use time::OffsetDateTime;

use crate::dashboard::absolute;
use crate::plan::Concern;
use crate::record::{Current, Source};

/// Sources listed one by one in an alert; the dashboard lists them all.
pub const LISTED: usize = 30;

/// One message for the concerns not alerted on before.
pub fn alert(concerns: &[(Source, Concern)], currents: &[Current]) -> Vec<Message> {
    let silent = concerns
        .iter()
        .filter(|(_, c)| matches!(c, Concern::Silent { .. }))
        .count();
    let failing = concerns.len() - silent;
    let title = format!("toilkit hub: {silent} silent, {failing} failing");
    let summary = "Silence is the failure nobody notices: each of these has stopped reporting, or keeps failing.";
    let mut findings: Vec<Finding> = concerns
        .iter()
        .take(LISTED)
        .map(|(source, concern)| {
            let current = currents.iter().find(|c| &c.source == source);
            let what = match concern {
                Concern::Silent { minutes_late } => {
                    format!("silent: no report for {minutes_late} min past its schedule and margin")
                }
                Concern::Failing { in_a_row } => format!("failed {in_a_row} times in a row"),
            };
            let mut fields = vec![
                ("Account".to_owned(), source.account.clone()),
                ("Region".to_owned(), source.region.clone()),
            ];
            if let Some(current) = current {
                if let Some(label) = &current.label {
                    fields.push(("Label".to_owned(), label.clone()));
                }
                fields.push(("Last report".to_owned(), absolute(current.ended_at)));
            }
            Finding {
                title: format!("{}: {what}", source.function),
                fields,
                // One sentence is enough here; the dashboard has it whole.
                body: current
                    .and_then(|c| c.reason.as_deref().map(|r| shared::slack::truncate(r, 300))),
            }
        })
        .collect();
    if concerns.len() > LISTED {
        findings.push(Finding {
            title: format!(
                "and {} more: the dashboard's silent section lists every one",
                concerns.len() - LISTED
            ),
            fields: Vec::new(),
            body: None,
        });
    }
    build_messages(&title, Some(summary), &findings)
}

/// The daily digest: the numbers, and where to look.
pub fn digest(
    currents: &[Current],
    open_items: usize,
    concerns: usize,
    link: Option<(&str, OffsetDateTime)>,
) -> Vec<Message> {
    let accounts: std::collections::BTreeSet<&str> =
        currents.iter().map(|c| c.source.account.as_str()).collect();
    let failed = currents
        .iter()
        .filter(|c| c.outcome == shared::envelope::Outcome::Failed)
        .count();
    let title = format!(
        "toilkit hub: {} account(s), {failed} function(s) last failed, {concerns} silent or failing",
        accounts.len()
    );
    let summary = format!(
        "{} function(s) reporting, {open_items} open item(s).",
        currents.len()
    );
    let findings = vec![match link {
        // A field, not a code block: Slack makes a link of a URL in text.
        Some((url, until)) => Finding {
            title: format!(
                "Dashboard (link valid until {}, or sooner if the role session that signed it ends)",
                absolute(until)
            ),
            fields: vec![("Link".to_owned(), url.to_owned())],
            body: None,
        },
        None => Finding {
            title: "Dashboard: not written (dry run)".to_owned(),
            fields: Vec::new(),
            body: None,
        },
    }];
    build_messages(&title, Some(&summary), &findings)
}
