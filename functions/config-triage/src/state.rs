//! What toilkit remembers per rule and resource (`STATE_TABLE`): the last
//! status, whether the open violation was announced, and when.
//!
//! Every write is conditional on the version read, so two deliveries of the
//! same change (SQS is at-least-once, EventBridge retries) cannot both claim
//! the notification: the loser re-reads and decides again.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use time::OffsetDateTime;

use crate::change::Compliance;
use crate::error::{Cause, Error as TriageError};

/// The table's partition key (string).
pub const KEY: &str = "pk";
/// Resolved items expire after this long (DynamoDB TTL on `expires_at`).
pub const RESOLVED_TTL_DAYS: i64 = 90;

/// One item of the state table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRecord {
    pub status: Compliance,
    /// An announced violation that has not been announced as resolved.
    pub announced: bool,
    /// When the current violation began (epoch seconds).
    pub since: Option<i64>,
    /// When a violation of this rule and resource was last notified.
    pub last_notified: Option<i64>,
    /// The change time of the latest event applied (epoch milliseconds).
    pub event_ms: i64,
    /// Incremented by every write; writes are conditional on it.
    pub version: u64,
    /// The route the open violation was announced to: its end goes there
    /// too, even when the resource (and so its owner tag) is gone.
    pub route: Option<String>,
}

impl StateRecord {
    /// A violation still open that nobody has been told about: held back
    /// as flapping, announced once the renotify window has passed.
    pub fn held(&self) -> bool {
        self.status == Compliance::NonCompliant && !self.announced
    }
}

/// Written on first write of a key, kept for people reading the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    pub rule: String,
    pub resource_type: String,
    pub resource_id: String,
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Done,
    /// Someone else wrote first; read again and decide again.
    Conflict,
}

#[derive(Debug, Clone)]
pub struct StateStore {
    client: Client,
    table: String,
}

impl StateStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn error(&self, operation: &'static str, key: &str, source: impl Into<Cause>) -> TriageError {
        TriageError::State {
            table: self.table.clone(),
            operation,
            key: key.to_owned(),
            source: source.into(),
        }
    }

    pub async fn get(&self, key: &str) -> Result<Option<StateRecord>, TriageError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", key, shared::aws::cause(e)))?;
        out.item
            .map(|item| from_item(&item).map_err(|m| self.error("GetItem", key, m)))
            .transpose()
    }

    /// Many records at once (the digest); missing keys are absent.
    pub async fn get_many(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, StateRecord>, TriageError> {
        let mut found = HashMap::new();
        for chunk in keys.chunks(100) {
            let mut pending: Option<KeysAndAttributes> = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(
                        chunk
                            .iter()
                            .map(|k| {
                                HashMap::from([(KEY.to_owned(), AttributeValue::S(k.clone()))])
                            })
                            .collect(),
                    ))
                    .build()
                    .expect("keys are set"),
            );
            // Unprocessed keys come back under throttling; a few rounds suffice.
            for _ in 0..5 {
                let Some(request) = pending.take() else { break };
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| self.error("BatchGetItem", &chunk[0], shared::aws::cause(e)))?;
                for item in out
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    if let (Some(AttributeValue::S(key)), Ok(record)) =
                        (item.get(KEY), from_item(&item))
                    {
                        found.insert(key.clone(), record);
                    }
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys.is_empty());
            }
        }
        Ok(found)
    }

    /// Writes `record` if the item is still at `expected` (None: absent).
    pub async fn put(
        &self,
        key: &str,
        labels: &Labels,
        record: &StateRecord,
        expected: Option<u64>,
    ) -> Result<Write, TriageError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(key, labels, record)));
        request = match expected {
            None => request
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", KEY),
            Some(version) => request
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", AttributeValue::N(version.to_string())),
        };
        match shared::dynamo::conditional(request.send().await) {
            Ok(Some(_)) => Ok(Write::Done),
            Ok(None) => Ok(Write::Conflict),
            Err(e) => Err(self.error("PutItem", key, shared::aws::cause(e))),
        }
    }

    /// Removes the item if it is still at `expected` (undoing a first claim).
    pub async fn delete(&self, key: &str, expected: u64) -> Result<Write, TriageError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_owned()))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":v", AttributeValue::N(expected.to_string()))
            .send()
            .await;
        match shared::dynamo::conditional(result) {
            Ok(Some(_)) => Ok(Write::Done),
            Ok(None) => Ok(Write::Conflict),
            Err(e) => Err(self.error("DeleteItem", key, shared::aws::cause(e))),
        }
    }
}

/// How long a posted digest is remembered: Lambda retries an asynchronous
/// invocation for up to six hours.
pub const DIGEST_CLAIM_TTL_DAYS: i64 = 2;

/// A held violation as the state table has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub key: String,
    pub account: String,
    pub region: String,
    pub labels: Labels,
    pub record: StateRecord,
}

impl StateStore {
    /// Claims the digest of one scheduled event (its EventBridge `id`), so
    /// that Lambda's retry of a failed run does not post it again.
    pub async fn claim_digest(&self, event_id: &str, now: i64) -> Result<Write, TriageError> {
        let key = digest_key(event_id);
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(key.clone()))
            .item("kind", AttributeValue::S("digest".into()))
            .item("posted_at", AttributeValue::N(now.to_string()))
            .item(
                "expires_at",
                AttributeValue::N((now + DIGEST_CLAIM_TTL_DAYS * 86_400).to_string()),
            )
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", KEY);
        match shared::dynamo::conditional(request.send().await) {
            Ok(Some(_)) => Ok(Write::Done),
            Ok(None) => Ok(Write::Conflict),
            Err(e) => Err(self.error("PutItem", &key, shared::aws::cause(e))),
        }
    }

    /// Gives the claim back when the digest could not be posted, so the
    /// retry posts it.
    pub async fn release_digest(&self, event_id: &str) -> Result<(), TriageError> {
        let key = digest_key(event_id);
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.clone()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.error("DeleteItem", &key, shared::aws::cause(e)))
    }

    /// Every violation held back as flapping (open, never announced), read
    /// page by page until `deadline`; `true` when the scan was complete.
    pub async fn held(
        &self,
        deadline: &shared::Deadline,
    ) -> Result<(Vec<Held>, bool), TriageError> {
        let mut found = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            if deadline.expired() {
                return Ok((found, false));
            }
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#s = :open AND #a = :no")
                .expression_attribute_names("#s", "status")
                .expression_attribute_names("#a", "announced")
                .expression_attribute_values(
                    ":open",
                    AttributeValue::S(Compliance::NonCompliant.as_str().to_owned()),
                )
                .expression_attribute_values(":no", AttributeValue::Bool(false))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.error("Scan", "(held violations)", shared::aws::cause(e)))?;
            for item in out.items() {
                let Some(AttributeValue::S(key)) = item.get(KEY) else {
                    continue;
                };
                let text = |name: &str| match item.get(name) {
                    Some(AttributeValue::S(v)) => Some(v.clone()),
                    _ => None,
                };
                let mut parts = key.splitn(3, '/');
                let (Some(account), Some(region)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let (Some(rule), Some(resource_type), Some(resource_id), Ok(record)) = (
                    text("rule"),
                    text("resource_type"),
                    text("resource_id"),
                    from_item(item),
                ) else {
                    continue;
                };
                found.push(Held {
                    key: key.clone(),
                    account: account.to_owned(),
                    region: region.to_owned(),
                    labels: Labels {
                        rule,
                        resource_type,
                        resource_id,
                    },
                    record,
                });
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok((found, true)),
            }
        }
    }
}

/// Violation keys start with an account id, so this cannot collide.
fn digest_key(event_id: &str) -> String {
    format!("digest#{event_id}")
}

fn to_item(key: &str, labels: &Labels, r: &StateRecord) -> HashMap<String, AttributeValue> {
    let n = |v: i64| AttributeValue::N(v.to_string());
    let mut item = HashMap::from([
        (KEY.to_owned(), AttributeValue::S(key.to_owned())),
        ("rule".to_owned(), AttributeValue::S(labels.rule.clone())),
        (
            "resource_type".to_owned(),
            AttributeValue::S(labels.resource_type.clone()),
        ),
        (
            "resource_id".to_owned(),
            AttributeValue::S(labels.resource_id.clone()),
        ),
        (
            "status".to_owned(),
            AttributeValue::S(r.status.as_str().to_owned()),
        ),
        ("announced".to_owned(), AttributeValue::Bool(r.announced)),
        ("event_ms".to_owned(), n(r.event_ms)),
        (
            "version".to_owned(),
            AttributeValue::N(r.version.to_string()),
        ),
    ]);
    if let Some(since) = r.since {
        item.insert("since".to_owned(), n(since));
    }
    if let Some(at) = r.last_notified {
        item.insert("last_notified".to_owned(), n(at));
    }
    if let Some(route) = &r.route {
        item.insert("route".to_owned(), AttributeValue::S(route.clone()));
    }
    // Open violations stay; settled items age out so the table stays small.
    if r.status != Compliance::NonCompliant {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        item.insert("expires_at".to_owned(), n(now + RESOLVED_TTL_DAYS * 86_400));
    }
    item
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Result<StateRecord, String> {
    let num = |name: &str| -> Result<Option<i64>, String> {
        match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::N(v)) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("attribute {name} is not an integer: {v}")),
            Some(_) => Err(format!("attribute {name} is not a number")),
        }
    };
    let status = match item.get("status") {
        Some(AttributeValue::S(s)) => {
            Compliance::parse(s).ok_or_else(|| format!("attribute status has unknown value {s}"))?
        }
        _ => return Err("attribute status is missing".to_owned()),
    };
    Ok(StateRecord {
        status,
        announced: matches!(item.get("announced"), Some(AttributeValue::Bool(true))),
        since: num("since")?,
        last_notified: num("last_notified")?,
        event_ms: num("event_ms")?.unwrap_or(0),
        version: num("version")?.unwrap_or(0).max(0) as u64,
        // Items written before routes were remembered have none: their end
        // follows the tags, as before.
        route: match item.get("route") {
            Some(AttributeValue::S(route)) => Some(route.clone()),
            _ => None,
        },
    })
}
