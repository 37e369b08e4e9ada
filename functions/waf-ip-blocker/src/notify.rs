//! The optional Slack summary of newly blocked addresses.

use shared::Deadline;
use shared::secret::{SecretRef, SecretStore};
use shared::slack::{Finding, SlackClient, build_messages};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::BlockerError;
use crate::plan::{Block, Plan};

/// Most blocks listed one by one; the rest are summed up in the header line.
const MAX_LISTED: usize = 40;

pub struct Notifier {
    pub client: SlackClient,
    pub secrets: SecretStore,
    pub webhook: SecretRef,
}

impl Notifier {
    /// Sends the summary when something was newly blocked; returns the
    /// number of messages sent.
    pub async fn send(
        &self,
        plan: &Plan,
        not_fit: usize,
        deadline: &Deadline,
    ) -> Result<usize, BlockerError> {
        let messages = messages(plan, not_fit);
        if messages.is_empty() {
            return Ok(0);
        }
        let secret = self
            .secrets
            .get(&self.webhook)
            .await
            .map_err(|e| BlockerError::Slack(e.to_string()))?;
        self.client
            .send_all(&secret, &messages, deadline)
            .await
            .map_err(|e| BlockerError::Slack(e.to_string()))?;
        Ok(messages.len())
    }
}

pub fn messages(plan: &Plan, not_fit: usize) -> Vec<shared::slack::Message> {
    let mut new: Vec<&Block> = plan.blocks.iter().filter(|b| b.new).collect();
    if new.is_empty() {
        return Vec::new();
    }
    new.sort_by_key(|b| std::cmp::Reverse(b.entry.hits));
    let extended = plan.blocks.len() - new.len();
    let mut summary = format!("{} newly blocked, {extended} extended", new.len());
    if new.len() > MAX_LISTED {
        summary.push_str(&format!("; the {MAX_LISTED} with most hits are listed"));
    }
    if not_fit > 0 {
        summary.push_str(&format!("; {not_fit} did not fit in the IP set"));
    }
    if plan.capped > 0 {
        summary.push_str(&format!(
            "; {} left for the next run (MAX_NEW_BLOCKS_PER_RUN)",
            plan.capped
        ));
    }
    let findings: Vec<Finding> = new
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
    build_messages(
        "WAF IP blocker: addresses blocked",
        Some(&summary),
        &findings,
    )
}

pub fn rfc3339(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| secs.to_string())
}
