//! The optional Slack summary of newly blocked addresses.

use shared::Deadline;
use shared::secret::{SecretRef, SecretStore};
use shared::slack::{Finding, SlackClient, build_messages};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use ipnet::IpNet;

use crate::apply::Applied;
use crate::error::Error;
use crate::plan::{Block, Plan};

/// Most blocks listed one by one; the rest are summed up in the header line.
const MAX_LISTED: usize = 40;

pub struct Notifier {
    pub client: SlackClient,
    pub secrets: SecretStore,
    pub webhook: SecretRef,
}

impl Notifier {
    /// Sends the summary when something was newly blocked, or was decided
    /// and could not be; returns the number of messages sent.
    pub async fn send(
        &self,
        plan: &Plan,
        applied: &Applied,
        deadline: &Deadline,
    ) -> Result<usize, Error> {
        let messages = messages(plan, applied);
        if messages.is_empty() {
            return Ok(0);
        }
        let secret = self
            .secrets
            .get(&self.webhook)
            .await
            .map_err(|e| Error::Slack(Box::new(e)))?;
        self.client
            .send_all(&secret, &messages, deadline)
            .await
            .map_err(|e| Error::Slack(Box::new(e)))?;
        Ok(messages.len())
    }
}

/// The summary says "blocked" only of addresses that are in their set now;
/// new blocks that were decided but did not get there are named, with what
/// stopped them.
pub fn messages(plan: &Plan, applied: &Applied) -> Vec<shared::slack::Message> {
    let in_place = |b: &&Block| applied.in_place.contains(&b.entry.net);
    let not_fit: Vec<IpNet> = plan
        .sets
        .iter()
        .flat_map(|s| s.not_fit.iter().map(|e| e.net))
        .collect();
    let mut new: Vec<&Block> = plan.blocks.iter().filter(|b| b.new).collect();
    let mut undone: Vec<&Block> = new
        .iter()
        .filter(|b| !in_place(b) && !not_fit.contains(&b.entry.net))
        .copied()
        .collect();
    // Blocks an earlier run recorded but could not write are announced by
    // the run that puts them in the set (and not again as undone).
    new.extend(plan.catch_up.iter());
    new.retain(in_place);
    if new.is_empty() && undone.is_empty() {
        return Vec::new();
    }
    new.sort_by_key(|b| std::cmp::Reverse(b.entry.hits));
    undone.sort_by_key(|b| std::cmp::Reverse(b.entry.hits));
    let extended = plan
        .blocks
        .iter()
        .filter(|b| !b.new)
        .filter(in_place)
        .count();
    let mut summary = format!("{} newly blocked, {extended} extended", new.len());
    if new.len() > MAX_LISTED {
        summary.push_str(&format!("; the {MAX_LISTED} with most hits are listed"));
    }
    let did_not_fit = plan.sets.iter().map(|s| s.not_fit.len()).sum::<usize>();
    if did_not_fit > 0 {
        summary.push_str(&format!("; {did_not_fit} did not fit in the IP set"));
    }
    if plan.capped > 0 {
        summary.push_str(&format!(
            "; {} left for the next run (MAX_NEW_BLOCKS_PER_RUN)",
            plan.capped
        ));
    }
    if !undone.is_empty() {
        summary.push_str(&format!(
            "; {} decided but NOT blocked (kept in the ledger; the next run writes them)",
            undone.len()
        ));
    }
    let mut findings: Vec<Finding> = new
        .iter()
        .take(MAX_LISTED)
        .map(|b| Finding {
            title: format!("{} blocked", b.entry.net.addr()),
            fields: vec![
                ("Why".to_owned(), b.entry.reason.clone()),
                ("Hits".to_owned(), b.entry.hits.to_string()),
                ("Until".to_owned(), rfc3339(b.entry.expires_at)),
                ("Seen in".to_owned(), b.entry.source.clone()),
            ],
            body: None,
        })
        .collect();
    if !undone.is_empty() {
        let mut addresses: Vec<String> = undone
            .iter()
            .take(MAX_LISTED)
            .map(|b| b.entry.net.addr().to_string())
            .collect();
        if undone.len() > MAX_LISTED {
            addresses.push(format!("and {} more", undone.len() - MAX_LISTED));
        }
        let mut fields = vec![("Addresses".to_owned(), addresses.join(", "))];
        for (set, error) in &applied.failed {
            fields.push(("IP set".to_owned(), set.clone()));
            fields.push(("Failed".to_owned(), error.clone()));
        }
        findings.insert(
            0,
            Finding {
                title: "Not blocked: the IP set was not updated".to_owned(),
                fields,
                body: None,
            },
        );
    }
    let title = if new.is_empty() {
        "WAF IP blocker: blocks NOT applied"
    } else {
        "WAF IP blocker: addresses blocked"
    };
    build_messages(title, Some(&summary), &findings)
}

pub fn rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| secs.to_string())
}
