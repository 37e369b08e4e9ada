//! Slack incoming-webhook client.
//!
//! Delivery is the point: on 429 the client waits for `Retry-After`; on 5xx
//! and transport errors it backs off and retries, within the time the Lambda
//! has left. If a message still cannot be delivered the client returns an
//! error, so the invocation fails and Lambda retries it or dead-letters it
//! rather than losing it. The webhook URL is a [`Secret`]: it is in no log
//! line and no error (reqwest errors are stripped of their URL).

mod message;

use std::time::Duration;

pub use message::{Block, Finding, Message, Text, build_messages, escape, truncate};

use crate::deadline::Deadline;
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    #[error("Slack rejected message {index} with HTTP {status}: {body}")]
    Rejected {
        index: usize,
        status: u16,
        body: String,
    },
    #[error("Slack did not accept message {index} after {attempts} attempt(s); last: {last}")]
    GaveUp {
        index: usize,
        attempts: u32,
        last: String,
    },
    #[error(
        "no time left to deliver message {index} to Slack after {attempts} attempt(s); last: {last}"
    )]
    OutOfTime {
        index: usize,
        attempts: u32,
        last: String,
    },
}

impl SlackError {
    /// How many messages of the batch were delivered before this failure.
    pub fn delivered(&self) -> usize {
        match self {
            Self::Rejected { index, .. }
            | Self::GaveUp { index, .. }
            | Self::OutOfTime { index, .. } => *index,
        }
    }
}

/// How the client retries. The defaults suit Slack; tests shorten them.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per message for 5xx and transport errors.
    pub max_attempts: u32,
    /// 429 answers tolerated per message before giving up.
    pub max_rate_limited: u32,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Waited between messages: Slack allows about one per second per webhook.
    pub spacing: Duration,
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            max_rate_limited: 10,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            spacing: Duration::from_secs(1),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Posts messages to incoming webhooks.
#[derive(Debug, Clone)]
pub struct SlackClient {
    http: reqwest::Client,
    policy: RetryPolicy,
}

impl Default for SlackClient {
    fn default() -> Self {
        Self::new(RetryPolicy::default())
    }
}

impl SlackClient {
    pub fn new(policy: RetryPolicy) -> Self {
        let http = crate::https::client_builder()
            .connect_timeout(Duration::from_secs(3))
            .build()
            .expect("the HTTP client builds with static settings");
        Self { http, policy }
    }

    /// Sends `messages` in order. On error, [`SlackError::delivered`] says how
    /// many went out.
    pub async fn send_all(
        &self,
        webhook: &Secret,
        messages: &[Message],
        deadline: &Deadline,
    ) -> Result<(), SlackError> {
        for (index, message) in messages.iter().enumerate() {
            if index > 0 {
                tokio::time::sleep(self.policy.spacing).await;
            }
            self.send_one(webhook, message, index, deadline).await?;
        }
        Ok(())
    }

    /// Sends one message, retrying as the policy allows.
    pub async fn send(
        &self,
        webhook: &Secret,
        message: &Message,
        deadline: &Deadline,
    ) -> Result<(), SlackError> {
        self.send_one(webhook, message, 0, deadline).await
    }

    async fn send_one(
        &self,
        webhook: &Secret,
        message: &Message,
        index: usize,
        deadline: &Deadline,
    ) -> Result<(), SlackError> {
        let mut attempts = 0u32;
        let mut rate_limited = 0u32;
        loop {
            attempts += 1;
            let timeout = deadline
                .remaining()
                .map_or(self.policy.request_timeout, |left| {
                    left.min(self.policy.request_timeout)
                });
            if timeout.is_zero() {
                return Err(SlackError::OutOfTime {
                    index,
                    attempts: attempts - 1,
                    last: "deadline reached before sending".to_owned(),
                });
            }
            let outcome = self
                .http
                .post(webhook.expose())
                .json(message)
                .timeout(timeout)
                .send()
                .await;
            let (wait, last) = match outcome {
                Ok(response) if response.status().is_success() => {
                    tracing::debug!(index, attempts, "slack message delivered");
                    return Ok(());
                }
                Ok(response) if response.status().as_u16() == 429 => {
                    rate_limited += 1;
                    let wait = retry_after(&response).unwrap_or(Duration::from_secs(1));
                    tracing::warn!(
                        index,
                        wait_ms = wait.as_millis() as u64,
                        "slack rate-limited the webhook"
                    );
                    if rate_limited > self.policy.max_rate_limited {
                        return Err(SlackError::GaveUp {
                            index,
                            attempts,
                            last: "HTTP 429 (rate limited)".to_owned(),
                        });
                    }
                    // A 429 is not a failed attempt: Slack asked us to wait.
                    attempts -= 1;
                    (wait, "HTTP 429 (rate limited)".to_owned())
                }
                Ok(response) if response.status().is_server_error() => {
                    let status = response.status().as_u16();
                    tracing::warn!(
                        index,
                        attempts,
                        status,
                        "slack answered with a server error"
                    );
                    (self.backoff(attempts), format!("HTTP {status}"))
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body = response.text().await.unwrap_or_default();
                    return Err(SlackError::Rejected {
                        index,
                        status,
                        body: truncate(body.trim(), 200),
                    });
                }
                Err(error) => {
                    let error = error.without_url();
                    tracing::warn!(index, attempts, %error, "slack request failed");
                    (self.backoff(attempts), error.to_string())
                }
            };
            if attempts >= self.policy.max_attempts {
                return Err(SlackError::GaveUp {
                    index,
                    attempts,
                    last,
                });
            }
            if !deadline.allows(wait) {
                return Err(SlackError::OutOfTime {
                    index,
                    attempts,
                    last,
                });
            }
            tokio::time::sleep(wait).await;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .policy
            .base_backoff
            .saturating_mul(1 << attempt.min(10).saturating_sub(1));
        let capped = exp.min(self.policy.max_backoff);
        // Full jitter keeps many retrying functions from hitting Slack in step.
        capped.mul_f64(0.5 + fastrand::f64() / 2.0)
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}
