//! The idempotency table: one item per delivered message part, keyed by the
//! part's key (derived from the log event ids it shows), expiring after
//! [`RECORD_TTL`]. A retried invocation skips the parts recorded here, so
//! nothing is posted twice and, after a partial failure, only the parts not
//! yet delivered are sent.
//!
//! Table shape: partition key `pk` (string), TTL attribute `expires_at`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::error::Error;
use crate::notification::Delivery;

/// How long a delivery is remembered: well past Lambda's longest
/// asynchronous retry window (6 hours).
pub const RECORD_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone)]
pub struct Ledger {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl Ledger {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn error(
        &self,
        action: &'static str,
        key: &str,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Ledger {
            table: self.table.clone(),
            action,
            key: key.to_owned(),
            source: shared::aws::cause(e),
        }
    }

    /// Whether the part with `key` was delivered before (and not expired).
    pub async fn delivered(&self, key: &str) -> Result<bool, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("read", key, e))?;
        let now = now_secs();
        Ok(out.item.is_some_and(|item| {
            // DynamoDB deletes expired items lazily; an expired one does not count.
            item.get("expires_at")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
                .is_none_or(|at| at > now)
        }))
    }

    /// Records that `delivery` was posted. `Ok(false)`: another invocation
    /// delivering the same batch at the same time recorded the part first,
    /// so it was posted twice. The write is conditional so that this is
    /// seen instead of silently overwritten.
    pub async fn record(&self, log_group: &str, delivery: &Delivery) -> Result<bool, Error> {
        let now = now_secs();
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(delivery.key.clone()))
            .item(
                "expires_at",
                AttributeValue::N((now + RECORD_TTL.as_secs()).to_string()),
            )
            .item("delivered_at", AttributeValue::N(now.to_string()))
            .item(
                "function",
                AttributeValue::S("rds-audit-notifier".to_owned()),
            )
            .item("log_group", AttributeValue::S(log_group.to_owned()))
            .item("instance", AttributeValue::S(delivery.instance.clone()))
            .item(
                "part",
                AttributeValue::S(format!("{}/{}", delivery.part, delivery.parts)),
            )
            .item("alerts", AttributeValue::N(delivery.alerts.to_string()))
            // An expired record not yet deleted by DynamoDB does not count.
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        shared::dynamo::conditional(written)
            .map(|out| out.is_some())
            .map_err(|e| self.error("write", &delivery.key, e))
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
