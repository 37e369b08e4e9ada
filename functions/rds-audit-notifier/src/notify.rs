//! Posting to Slack: the webhook, read once per delivery, and the messages
//! spaced as Slack asks. Which messages, and which to skip, is decided
//! elsewhere ([`crate::notification`] builds them, [`crate::apply`] carries
//! the plan out).

use std::time::Duration;

use shared::Deadline;
use shared::secret::{Secret, SecretRef, SecretStore};
use shared::slack::{Message, RetryPolicy, SlackClient, SlackError};

use crate::error::Error;

/// The Slack side of the function. Built once at cold start.
#[derive(Debug)]
pub struct Notifier {
    slack: SlackClient,
    /// Slack allows about one message per second per webhook.
    spacing: Duration,
    secrets: SecretStore,
    webhook: Option<SecretRef>,
}

impl Notifier {
    pub fn new(policy: RetryPolicy, secrets: SecretStore, webhook: Option<SecretRef>) -> Self {
        Self {
            spacing: policy.spacing,
            slack: SlackClient::new(policy),
            secrets,
            webhook,
        }
    }

    /// Reads the webhook, for the messages of one invocation.
    pub async fn open(&self) -> Result<Channel<'_>, Error> {
        let reference = self.webhook.as_ref().ok_or(Error::NoWebhook)?;
        let webhook = self.secrets.get(reference).await?;
        Ok(Channel {
            notifier: self,
            webhook,
            posted: 0,
        })
    }
}

/// The webhook of one invocation; it spaces the messages posted through it.
pub struct Channel<'a> {
    notifier: &'a Notifier,
    webhook: Secret,
    posted: usize,
}

impl Channel<'_> {
    /// Posts one message, with the client's retries.
    pub async fn post(&mut self, message: &Message, deadline: &Deadline) -> Result<(), SlackError> {
        if self.posted > 0 {
            tokio::time::sleep(self.notifier.spacing).await;
        }
        self.posted += 1;
        self.notifier
            .slack
            .send(&self.webhook, message, deadline)
            .await
    }
}
