//! Acting on a plan: posting its message parts to Slack, skipping those an
//! earlier attempt delivered, and recording each delivered part.

use std::time::Duration;

use serde_json::json;
use shared::Deadline;
use shared::report::{Action, Report};
use shared::secret::{SecretRef, SecretStore};
use shared::slack::{RetryPolicy, SlackClient};

use crate::error::Error;
use crate::ledger::Ledger;
use crate::notification::Delivery;
use crate::plan::Plan;

/// Posts plans to Slack. Built once at cold start.
#[derive(Debug)]
pub struct Notifier {
    slack: SlackClient,
    /// Slack allows about one message per second per webhook.
    spacing: Duration,
    secrets: SecretStore,
    webhook: Option<SecretRef>,
    ledger: Option<Ledger>,
}

impl Notifier {
    pub fn new(
        policy: RetryPolicy,
        secrets: SecretStore,
        webhook: Option<SecretRef>,
        ledger: Option<Ledger>,
    ) -> Self {
        Self {
            spacing: policy.spacing,
            slack: SlackClient::new(policy),
            secrets,
            webhook,
            ledger,
        }
    }

    /// Delivers every part of `plan` not delivered before. The first part
    /// that cannot be delivered stops the run with an error, so Lambda
    /// retries the invocation; with the idempotency table the retry sends
    /// only what is still missing.
    pub async fn deliver(
        &self,
        plan: &Plan,
        deadline: &Deadline,
        report: &mut Report,
    ) -> Result<(), Error> {
        let mut pending: Vec<&Delivery> = Vec::new();
        for delivery in &plan.deliveries {
            if self.delivered_before(delivery, report).await {
                report.incr("messages_already_delivered");
                report.skip(
                    target(delivery),
                    format!(
                        "already delivered by an earlier attempt (idempotency record {})",
                        delivery.key
                    ),
                );
            } else {
                pending.push(delivery);
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        let reference = self.webhook.as_ref().ok_or(Error::NoWebhook)?;
        let webhook = self.secrets.get(reference).await?;
        for (n, delivery) in pending.iter().enumerate() {
            if n > 0 {
                tokio::time::sleep(self.spacing).await;
            }
            if let Err(source) = self.slack.send(&webhook, &delivery.message, deadline).await {
                report.fail(target(delivery), "post_slack_message", &source);
                return Err(Error::Delivery {
                    log_group: plan.source.log_group.clone(),
                    instance: delivery.instance.clone(),
                    part: format!("{}/{}", delivery.part, delivery.parts),
                    delivered: n,
                    pending: pending.len(),
                    source: Box::new(source),
                });
            }
            report.incr("messages_delivered");
            report.applied(
                Action::new(
                    "post_slack_message",
                    target(delivery),
                    format!(
                        "{} alert(s) from {}",
                        delivery.alerts, plan.source.log_group
                    ),
                )
                .with_detail(json!({"key": delivery.key, "alerts": delivery.alerts})),
            );
            let Some(ledger) = &self.ledger else {
                continue;
            };
            match ledger.record(&plan.source.log_group, delivery).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(
                        key = %delivery.key,
                        "another invocation delivered the same part at the same time"
                    );
                    report.fail(
                        target(delivery),
                        "record_delivery",
                        format!(
                            "idempotency record {} was written by another invocation delivering the same batch at the same time: this part was posted twice",
                            delivery.key
                        ),
                    );
                }
                Err(error) => {
                    tracing::warn!(%error, "delivered part not recorded; a retry may post it again");
                    report.fail(target(delivery), "record_delivery", error);
                }
            }
        }
        Ok(())
    }

    async fn delivered_before(&self, delivery: &Delivery, report: &mut Report) -> bool {
        let Some(ledger) = &self.ledger else {
            return false;
        };
        match ledger.delivered(&delivery.key).await {
            Ok(done) => done,
            Err(error) => {
                // Posting twice beats not posting: carry on as if not delivered.
                tracing::warn!(%error, "idempotency record unreadable; posting the part");
                report.fail(target(delivery), "check_delivery", error);
                false
            }
        }
    }
}

fn target(delivery: &Delivery) -> String {
    format!(
        "{} (part {}/{})",
        delivery.instance, delivery.part, delivery.parts
    )
}
