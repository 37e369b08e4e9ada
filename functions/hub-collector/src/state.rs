//! The state table: the calls only, each error naming the call and the key.
//!
//! One table, keyed `pk`/`sk`, so that every read the hub makes is a Query:
//!
//! | pk | sk | what |
//! |---|---|---|
//! | `current` | `<account>#<region>#<function>` | [`Current`], and the order of the report that wrote it |
//! | `item` | `<account>#<region>#<function>#<kind>#<key>` | an [`OpenItem`], expiring ([`expires_at`]); or, marked `closed`, the tombstone of one a report closed |
//! | `day#<date>` | `<account>#<region>#<function>` | a [`DaySummary`] and the event ids it counted |
//! | `seen#<event id>` | `day#<date>` | the marker that the event was counted in its day (expiring with it) |
//! | `hub` | `render`, `alert#...`, `digest#<date>` | the collector's own claims |
//!
//! Records are stored as JSON in `doc`, with the attributes a condition
//! needs beside it; a day's counts are attributes, so that `ADD` sums them.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use shared::dynamo::conditional;
use time::{Date, Duration, OffsetDateTime};

use crate::error::Error;
use crate::plan::{Stored, expires_at};
use crate::record::{Current, DaySummary, OpenItem, Source};

/// A claim still pending after this long belongs to an invocation that
/// died (Lambda's longest runs 15 minutes): another may take it.
pub const CLAIM_LEASE: Duration = Duration::minutes(20);

/// A closed item's tombstone outlives EventBridge's 24 hours of retries and
/// Lambda's 6 hours of asynchronous ones, with room to spare.
const TOMBSTONE_LIFE: Duration = Duration::days(3);

/// Day summaries outlive the dashboard's 30 days by a margin.
const DAY_RETENTION_DAYS: i64 = 40;

/// DynamoDB's sort key holds at most 1,024 bytes; an item key longer than
/// this (a deep log group name, a long resource id) is stored under its hash.
const MAX_KEY_BYTES: usize = 512;

pub fn source_key(source: &Source) -> String {
    format!("{}#{}#{}", source.account, source.region, source.function)
}

fn item_sk(source: &Source, kind: &str, key: &str) -> String {
    let key = if key.len() > MAX_KEY_BYTES {
        format!("h:{:016x}", shared::dynamo::stable_hash(key.as_bytes()))
    } else {
        key.to_owned()
    };
    format!("{}#{kind}#{key}", source_key(source))
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[derive(Clone)]
pub struct State {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

type Attributes = HashMap<String, AttributeValue>;

impl State {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The stored current record of `source`, and its order.
    pub async fn current(&self, source: &Source) -> Result<Option<(String, Current)>, Error> {
        let sk = source_key(source);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s("current"))
            .key("sk", s(&sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", &sk, e))?;
        out.item
            .map(|item| {
                let order = text(&item, "order").unwrap_or_default().to_owned();
                self.doc(&item, &sk).map(|current| (order, current))
            })
            .transpose()
    }

    /// Writes `current` if the stored record is still the one read
    /// (`previous`, its order); `false` when another report got there first.
    pub async fn put_current(
        &self,
        current: &Current,
        order: &str,
        previous: Option<&str>,
    ) -> Result<bool, Error> {
        let sk = source_key(&current.source);
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s("current"))
            .item("sk", s(&sk))
            .item("order", s(order))
            .item("doc", s(json(current)));
        request = match previous {
            Some(previous) => request
                .condition_expression("#o = :previous")
                .expression_attribute_names("#o", "order")
                .expression_attribute_values(":previous", s(previous)),
            None => request.condition_expression("attribute_not_exists(pk)"),
        };
        let written =
            conditional(request.send().await).map_err(|e| self.error("PutItem", &sk, e))?;
        Ok(written.is_some())
    }

    /// Every current record.
    pub async fn currents(&self) -> Result<Vec<Current>, Error> {
        let mut out = Vec::new();
        for item in self.query("current", None).await? {
            out.push(self.doc(&item, text(&item, "sk").unwrap_or_default())?);
        }
        Ok(out)
    }

    /// The open items of one source, with their orders.
    pub async fn items_of(&self, source: &Source) -> Result<Vec<Stored>, Error> {
        let prefix = format!("{}#", source_key(source));
        let mut out = Vec::new();
        for item in self.query("item", Some(&prefix)).await? {
            let sk = text(&item, "sk").unwrap_or_default();
            out.push(Stored {
                item: self.doc(&item, sk)?,
                order: text(&item, "order").unwrap_or_default().to_owned(),
                closed: item.contains_key("closed"),
            });
        }
        Ok(out)
    }

    /// Every open item that has not expired.
    pub async fn items(&self, now: OffsetDateTime) -> Result<Vec<OpenItem>, Error> {
        let mut out = Vec::new();
        for item in self.query("item", None).await? {
            if item.contains_key("closed") {
                continue;
            }
            let sk = text(&item, "sk").unwrap_or_default();
            let open: OpenItem = self.doc(&item, sk)?;
            // The TTL deletes within days of expiry, not at it.
            if expires_at(&open) > now {
                out.push(open);
            }
        }
        Ok(out)
    }

    /// Writes an open item unless a later report already wrote it.
    pub async fn put_item(&self, item: &OpenItem, order: &str) -> Result<(), Error> {
        self.write_item(item, order, expires_at(item), false).await
    }

    /// Replaces an item by a tombstone unless a later report wrote it: a
    /// delete would leave nothing to stop an older report, redelivered or
    /// late, from opening it again.
    pub async fn close_item(
        &self,
        source: &Source,
        kind: &str,
        key: &str,
        order: &str,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let tombstone = OpenItem {
            source: source.clone(),
            label: None,
            kind: kind.to_owned(),
            key: key.to_owned(),
            fields: serde_json::Map::new(),
            first_seen: now,
            last_seen: now,
        };
        self.write_item(&tombstone, order, now + TOMBSTONE_LIFE, true)
            .await
    }

    /// An item or its tombstone, written only over an item of the same or
    /// an earlier report (`order`), so a late report never undoes a newer.
    async fn write_item(
        &self,
        item: &OpenItem,
        order: &str,
        expires: OffsetDateTime,
        closed: bool,
    ) -> Result<(), Error> {
        let sk = item_sk(&item.source, &item.kind, &item.key);
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s("item"))
            .item("sk", s(&sk))
            .item("order", s(order))
            .item("expires", n(expires.unix_timestamp()))
            .item("doc", s(json(item)))
            .condition_expression("attribute_not_exists(pk) OR #o <= :order")
            .expression_attribute_names("#o", "order")
            .expression_attribute_values(":order", s(order));
        if closed {
            request = request.item("closed", AttributeValue::Bool(true));
        }
        conditional(request.send().await).map_err(|e| self.error("PutItem", &sk, e))?;
        Ok(())
    }

    /// Adds one report to its day, once per event id: the sum and a marker
    /// of the event are written in one transaction, and a redelivered event
    /// finds its marker and adds nothing. (A set of ids in the day's record
    /// would outgrow DynamoDB's 400 KB item for a function invoked per log
    /// batch.)
    pub async fn add_to_day(&self, delta: &DaySummary, event_id: &str) -> Result<bool, Error> {
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

        let pk = format!("day#{}", delta.date);
        let sk = source_key(&delta.source);
        let expires = day_expiry(delta.date);
        let mut names = HashMap::new();
        let mut values = HashMap::from([
            (":one".to_owned(), n(1)),
            (":failed".to_owned(), n(delta.failed)),
            (":expires".to_owned(), n(expires)),
        ]);
        let mut adds = vec!["runs :one".to_owned(), "failed :failed".to_owned()];
        let sums = delta
            .counters
            .iter()
            .map(|(k, v)| (format!("c:{k}"), *v))
            .chain(delta.records.iter().map(|(k, v)| (format!("r:{k}"), *v)));
        for (i, (name, value)) in sums.enumerate() {
            names.insert(format!("#a{i}"), name);
            values.insert(format!(":a{i}"), n(value));
            adds.push(format!("#a{i} :a{i}"));
        }
        let mut update = format!("ADD {} SET expires = :expires", adds.join(", "));
        if let Some(label) = &delta.label {
            values.insert(":label".to_owned(), s(label));
            update.push_str(", label = :label");
        }
        let built =
            |e: aws_sdk_dynamodb::error::BuildError| self.error("TransactWriteItems", &sk, e);
        let marker = Put::builder()
            .table_name(&self.table)
            .item("pk", s(format!("seen#{event_id}")))
            .item("sk", s(&pk))
            .item("expires", n(expires))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(built)?;
        let sum = Update::builder()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s(&sk))
            .update_expression(update)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(built)?;
        // Two reports of one source on one day, stored at once, can cancel
        // each other's transaction (`TransactionConflict`), which the SDK
        // does not retry: the loser tries again after a short pause.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(marker.clone()).build())
                .transact_items(TransactWriteItem::builder().update(sum.clone()).build())
                .send()
                .await;
            match result {
                Ok(_) => return Ok(true),
                Err(e) if cancelled_because(&e, 0, "ConditionalCheckFailed") => return Ok(false),
                Err(e)
                    if attempt < CONFLICT_ATTEMPTS
                        && (cancelled_because(&e, 0, "TransactionConflict")
                            || cancelled_because(&e, 1, "TransactionConflict")) =>
                {
                    let pause = 20 * u64::from(attempt) + fastrand::u64(0..20);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                Err(e) => return Err(self.error("TransactWriteItems", &format!("{pk}/{sk}"), e)),
            }
        }
    }

    /// Sets the day's open items by kind, unless a later report of the day
    /// already did.
    pub async fn set_day_open(&self, delta: &DaySummary, order: &str) -> Result<(), Error> {
        let pk = format!("day#{}", delta.date);
        let sk = source_key(&delta.source);
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s(&sk))
            .update_expression("SET #open = :open, open_order = :order, expires = :expires")
            .condition_expression("attribute_not_exists(open_order) OR open_order < :order")
            .expression_attribute_names("#open", "open")
            .expression_attribute_values(":open", s(json(&delta.open_by_kind)))
            .expression_attribute_values(":order", s(order))
            .expression_attribute_values(":expires", n(day_expiry(delta.date)));
        conditional(request.send().await)
            .map_err(|e| self.error("UpdateItem", &format!("{pk}/{sk}"), e))?;
        Ok(())
    }

    /// The summaries of one day, every source.
    pub async fn day(&self, date: Date) -> Result<Vec<DaySummary>, Error> {
        let pk = format!("day#{date}");
        let rows = self.query(&pk, None).await?;
        rows.iter().map(|row| self.day_summary(date, row)).collect()
    }

    fn day_summary(&self, date: Date, row: &Attributes) -> Result<DaySummary, Error> {
        let sk = text(row, "sk").unwrap_or_default();
        let mut parts = sk.splitn(3, '#');
        let source = Source {
            account: parts.next().unwrap_or_default().to_owned(),
            region: parts.next().unwrap_or_default().to_owned(),
            function: parts.next().unwrap_or_default().to_owned(),
        };
        let number = |v: &AttributeValue| v.as_n().ok().and_then(|n| n.parse::<u64>().ok());
        let mut counters = BTreeMap::new();
        let mut records = BTreeMap::new();
        for (name, value) in row {
            if let Some(counter) = name.strip_prefix("c:") {
                counters.insert(counter.to_owned(), number(value).unwrap_or(0));
            } else if let Some(record) = name.strip_prefix("r:") {
                records.insert(record.to_owned(), number(value).unwrap_or(0));
            }
        }
        let open_by_kind = match text(row, "open") {
            Some(open) => serde_json::from_str(open).map_err(|e| Error::Corrupt {
                table: self.table.clone(),
                key: format!("day#{date}/{sk}"),
                source: e,
            })?,
            None => BTreeMap::new(),
        };
        Ok(DaySummary {
            date,
            source,
            label: text(row, "label").map(str::to_owned),
            runs: row.get("runs").and_then(number).unwrap_or(0),
            failed: row.get("failed").and_then(number).unwrap_or(0),
            open_by_kind,
            records,
            counters,
        })
    }

    /// Takes a claim named `sk` for the value `token`, as a lease: written
    /// when no claim of that name holds `token`, or when the one that does
    /// is still pending from an invocation that must have died (older than
    /// [`CLAIM_LEASE`]). `false`: it is taken, or was delivered.
    pub async fn claim(&self, sk: &str, token: &str, now: OffsetDateTime) -> Result<bool, Error> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s("hub"))
            .item("sk", s(sk))
            .item("token", s(token))
            .item("sent", AttributeValue::Bool(false))
            .item("at", n(now.unix_timestamp()))
            .condition_expression(
                "attribute_not_exists(pk) OR #t <> :token OR (#sent = :no AND #at < :stale)",
            )
            .expression_attribute_names("#t", "token")
            .expression_attribute_names("#sent", "sent")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":token", s(token))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":stale", n((now - CLAIM_LEASE).unix_timestamp()));
        let written =
            conditional(request.send().await).map_err(|e| self.error("PutItem", sk, e))?;
        Ok(written.is_some())
    }

    /// Marks a claim delivered: no lease runs out on it any more.
    pub async fn mark_sent(&self, sk: &str, token: &str) -> Result<(), Error> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s("hub"))
            .key("sk", s(sk))
            .update_expression("SET #sent = :yes")
            .condition_expression("#t = :token")
            .expression_attribute_names("#t", "token")
            .expression_attribute_names("#sent", "sent")
            .expression_attribute_values(":token", s(token))
            .expression_attribute_values(":yes", AttributeValue::Bool(true));
        conditional(request.send().await).map_err(|e| self.error("UpdateItem", sk, e))?;
        Ok(())
    }

    /// Gives a claim back (its message was not delivered), so a later run
    /// takes it again.
    pub async fn release(&self, sk: &str, token: &str) -> Result<(), Error> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s("hub"))
            .key("sk", s(sk))
            .condition_expression("#t = :token")
            .expression_attribute_names("#t", "token")
            .expression_attribute_values(":token", s(token));
        conditional(request.send().await).map_err(|e| self.error("DeleteItem", sk, e))?;
        Ok(())
    }

    /// Takes the render slot if the last render is at least `interval` old.
    pub async fn claim_render(
        &self,
        now: OffsetDateTime,
        interval: Duration,
    ) -> Result<bool, Error> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s("hub"))
            .item("sk", s("render"))
            .item("at", n(now.unix_timestamp()))
            .condition_expression("attribute_not_exists(pk) OR #at <= :due")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":due", n((now - interval).unix_timestamp()));
        let written =
            conditional(request.send().await).map_err(|e| self.error("PutItem", "render", e))?;
        Ok(written.is_some())
    }

    async fn query(&self, pk: &str, prefix: Option<&str>) -> Result<Vec<Attributes>, Error> {
        let mut out = Vec::new();
        let mut start: Option<Attributes> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start.take());
            request = match prefix {
                Some(prefix) => request
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", s(prefix)),
                None => request.key_condition_expression("pk = :pk"),
            };
            let page = request
                .send()
                .await
                .map_err(|e| self.error("Query", pk, e))?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(out),
            }
        }
    }

    fn doc<T: serde::de::DeserializeOwned>(
        &self,
        item: &Attributes,
        key: &str,
    ) -> Result<T, Error> {
        serde_json::from_str(text(item, "doc").unwrap_or("null")).map_err(|e| Error::Corrupt {
            table: self.table.clone(),
            key: key.to_owned(),
            source: e,
        })
    }

    fn error<E>(&self, operation: &'static str, key: &str, e: E) -> Error
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Error::State {
            table: self.table.clone(),
            operation,
            key: key.to_owned(),
            source: shared::aws::cause(e),
        }
    }
}

/// Attempts at a day's transaction that keeps meeting another.
const CONFLICT_ATTEMPTS: u32 = 5;

/// Whether a transaction was cancelled with `code` for its write at `index`:
/// `ConditionalCheckFailed` on the first, the event's marker, means the
/// event was counted before.
fn cancelled_because(
    error: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
    >,
    index: usize,
    code: &str,
) -> bool {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled
                .cancellation_reasons()
                .get(index)
                .and_then(|reason| reason.code())
                == Some(code)
        }
        _ => false,
    }
}

fn text<'a>(item: &'a Attributes, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}

fn day_expiry(date: Date) -> i64 {
    (date.midnight().assume_utc() + Duration::days(DAY_RETENTION_DAYS)).unix_timestamp()
}
