//! Carrying out a plan: each message part is posted through [`Notifier`]
//! unless the idempotency [`Ledger`] says an earlier attempt delivered it,
//! and each delivered part is recorded there; every step goes into the
//! report.

use serde_json::json;
use shared::Deadline;
use shared::report::{Action, Report};

use crate::error::Error;
use crate::ledger::Ledger;
use crate::notification::Delivery;
use crate::notify::Notifier;
use crate::plan::Plan;

/// Delivers every part of `plan` not delivered before. The first part
/// that cannot be delivered stops the run with an error, so Lambda
/// retries the invocation; with the idempotency table the retry sends
/// only what is still missing.
pub async fn deliver(
    plan: &Plan,
    notifier: &Notifier,
    ledger: Option<&Ledger>,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    let mut pending: Vec<&Delivery> = Vec::new();
    for delivery in &plan.deliveries {
        if delivered_before(ledger, delivery, report).await {
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
    let mut channel = notifier.open().await?;
    for (n, delivery) in pending.iter().enumerate() {
        if let Err(source) = channel.post(&delivery.message, deadline).await {
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
        if let Some(ledger) = ledger {
            record(ledger, plan, delivery, report).await;
        }
    }
    Ok(())
}

/// Records a delivered part. A record that cannot be written does not fail
/// the run (the part is in Slack); the report says a retry may post it again.
async fn record(ledger: &Ledger, plan: &Plan, delivery: &Delivery, report: &mut Report) {
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

async fn delivered_before(
    ledger: Option<&Ledger>,
    delivery: &Delivery,
    report: &mut Report,
) -> bool {
    let Some(ledger) = ledger else {
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

/// How the report names a message part.
pub fn target(delivery: &Delivery) -> String {
    format!(
        "{} (part {}/{})",
        delivery.instance, delivery.part, delivery.parts
    )
}
