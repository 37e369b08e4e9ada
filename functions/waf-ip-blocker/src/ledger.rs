//! The ledger: one DynamoDB item per blocked address, plus this function's
//! other state in the same table under its own key prefixes.
//!
//! | `pk` | what | TTL (`expires_at`) |
//! |---|---|---|
//! | `ip#<address>` | a blocked address ([`Entry`]) | none: deleted by this function once out of the set |
//! | `net#<cidr>` | an aggregated prefix written to a set | none, as above |
//! | `win#<window start>#<rule>#<shard>` | partial window counts of the addresses whose hash picks this shard: a string set `counts` of `<address> <count> <delivery tag>` | an hour after the window ends |
//! | `obj#<bucket>/<key>#<etag>` | a log object whose counts and blocks are stored | 7 days |
//! | `logs#<hash>` | a CloudWatch Logs delivery, likewise | 7 days |
//!
//! DynamoDB deletes expired items within a day or two, not at once, so
//! every read treats `expires_at <= now` as gone.
//!
//! Why block items have no TTL: the ledger is the only proof that an address
//! in a set is this function's. If TTL deleted a block item before a run
//! took the address out (a dry-run period, an outage, a switched-off
//! schedule), the address would stay in the set forever as another writer's.
//! The block's end is `blocked_until`; the item goes only after the address
//! left the set ([`Ledger::delete_expired`]). Items written before this
//! carry the block's end in `expires_at` (the TTL attribute); they are read
//! as before and rewritten without it.
//!
//! Counting exactly once: a delivery (a log object, a Logs subscription
//! batch) is marked counted only after everything it contributed is stored:
//! its window counts and the blocks they decided. Until then a retry counts
//! it again, and each window count is an element of a set that names the
//! delivery ([`Ledger::add_to_window`]), so the retry's `ADD` of the same
//! elements adds nothing twice.
//!
//! Whose address: a block decided for an address already in the set and
//! unknown to the ledger is recorded `preexisting` only if no item exists
//! for it ([`Ledger::claim_preexisting`], a conditional put): otherwise
//! another run recorded its own block in between, and the address is this
//! function's, removable when the block ends.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, PutRequest, ReturnValue, WriteRequest,
};
use ipnet::IpNet;
use shared::Deadline;

use crate::backfill::WouldBlock;
use crate::entry::Entry;
use crate::error::{Cause, Error};

type Item = HashMap<String, AttributeValue>;

/// How an [`Entry`] is stored: the item's attributes.
trait Stored: Sized {
    fn to_item(&self) -> Item;
    fn from_item(item: &Item) -> Option<Self>;
}

impl Stored for Entry {
    fn to_item(&self) -> Item {
        let mut item = Item::new();
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let n = |v: i64| AttributeValue::N(v.to_string());
        item.insert("pk".into(), s(&self.pk()));
        item.insert("cidr".into(), s(&self.net.to_string()));
        item.insert(
            "family".into(),
            s(if self.net.addr().is_ipv4() {
                "v4"
            } else {
                "v6"
            }),
        );
        item.insert("first_blocked".into(), n(self.first_blocked));
        item.insert("last_blocked".into(), n(self.last_blocked));
        // Not `expires_at`, the table's TTL attribute: see the module notes.
        item.insert("blocked_until".into(), n(self.expires_at));
        if self.preexisting {
            item.insert("preexisting".into(), AttributeValue::Bool(true));
        }
        for (key, value) in [("by", &self.by), ("opened_by", &self.opened_by)] {
            if !value.is_empty() {
                item.insert(key.into(), s(value));
            }
        }
        item.insert("hits".into(), AttributeValue::N(self.hits.to_string()));
        item.insert("last_seen_ms".into(), n(self.last_seen_ms));
        item.insert("offences".into(), n(i64::from(self.offences)));
        item.insert("reason".into(), s(&self.reason));
        item.insert("source".into(), s(&self.source));
        item
    }

    fn from_item(item: &Item) -> Option<Self> {
        let pk = item.get("pk")?.as_s().ok()?;
        let aggregate = pk.starts_with("net#");
        let s = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        let n = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let legacy_ttl = !item.contains_key("blocked_until");
        Some(Self {
            net: item
                .get("cidr")?
                .as_s()
                .ok()?
                .parse::<IpNet>()
                .ok()?
                .trunc(),
            aggregate,
            first_blocked: n("first_blocked"),
            last_blocked: n("last_blocked"),
            expires_at: if legacy_ttl {
                n("expires_at")
            } else {
                n("blocked_until")
            },
            hits: n("hits").max(0) as u64,
            last_seen_ms: n("last_seen_ms"),
            offences: n("offences").clamp(0, i64::from(u32::MAX)) as u32,
            reason: s("reason"),
            source: s("source"),
            preexisting: item
                .get("preexisting")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
            legacy_ttl,
            by: s("by"),
            opened_by: s("opened_by"),
        })
    }
}

/// The ledger table.
#[derive(Debug, Clone)]
pub struct Ledger {
    client: aws_sdk_dynamodb::Client,
    table: String,
    requests: Arc<AtomicU64>,
}

impl Ledger {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            requests: Arc::default(),
        }
    }

    fn error(&self, operation: &'static str, source: impl Into<Cause>) -> Error {
        Error::Ledger {
            table: self.table.clone(),
            operation,
            source: source.into(),
        }
    }

    /// Every block and aggregate item (expired ones included: they still
    /// have to come out of the sets).
    pub async fn entries(&self) -> Result<Vec<Entry>, Error> {
        let items = self.scan_prefixed(&["ip#", "net#"], false).await?;
        Ok(items.iter().filter_map(Entry::from_item).collect())
    }

    /// Every item whose key starts with one of `prefixes`, page by page.
    /// The table has no sort key to query by, so this is a filtered `Scan`.
    async fn scan_prefixed(&self, prefixes: &[&str], consistent: bool) -> Result<Vec<Item>, Error> {
        let filter = (0..prefixes.len())
            .map(|i| format!("begins_with(pk, :p{i})"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            self.sent();
            let mut scan = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(&filter)
                .consistent_read(consistent)
                .set_exclusive_start_key(start.take());
            for (i, prefix) in prefixes.iter().enumerate() {
                scan = scan.expression_attribute_values(
                    format!(":p{i}"),
                    AttributeValue::S((*prefix).to_owned()),
                );
            }
            let page = scan
                .send()
                .await
                .map_err(|e| self.error("Scan", shared::aws::cause(e)))?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(out),
            }
        }
    }

    /// Writes entries in batches of 25. Returns how many were written before
    /// the deadline (all of them unless it stopped early).
    pub async fn put(&self, entries: &[Entry], deadline: &Deadline) -> Result<usize, Error> {
        let mut done = 0;
        for chunk in entries.chunks(25) {
            if deadline.expired() {
                return Ok(done);
            }
            let requests = chunk
                .iter()
                .map(|e| {
                    let put = PutRequest::builder()
                        .set_item(Some(e.to_item()))
                        .build()
                        .expect("item is set");
                    WriteRequest::builder().put_request(put).build()
                })
                .collect();
            self.batch_write(requests).await?;
            done += chunk.len();
        }
        Ok(done)
    }

    async fn batch_write(&self, mut requests: Vec<WriteRequest>) -> Result<(), Error> {
        for attempt in 0..8u32 {
            self.sent();
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(|e| self.error("BatchWriteItem", shared::aws::cause(e)))?;
            requests = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default();
            if requests.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50 << attempt.min(5))).await;
        }
        Err(self.error(
            "BatchWriteItem",
            "items stayed unprocessed after 8 attempts",
        ))
    }

    /// Deletes an expired entry, unless another run extended it meanwhile.
    /// Returns whether it was deleted.
    pub async fn delete_expired(&self, entry: &Entry, now: i64) -> Result<bool, Error> {
        self.sent();
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(entry.pk()))
            .condition_expression(
                "attribute_not_exists(pk) OR blocked_until <= :now \
                 OR (attribute_not_exists(blocked_until) AND expires_at <= :now)",
            )
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        shared::dynamo::conditional(result)
            .map(|out| out.is_some())
            .map_err(|e| self.error("DeleteItem", shared::aws::cause(e)))
    }

    /// Deletes items by key (aggregates no longer wanted), in batches.
    pub async fn delete(&self, pks: &[String]) -> Result<(), Error> {
        for chunk in pks.chunks(25) {
            let requests = chunk
                .iter()
                .map(|pk| {
                    let delete = DeleteRequest::builder()
                        .key("pk", AttributeValue::S(pk.clone()))
                        .build()
                        .expect("key is set");
                    WriteRequest::builder().delete_request(delete).build()
                })
                .collect();
            self.batch_write(requests).await?;
        }
        Ok(())
    }

    /// Whether a delivery (its marker `pk`) was counted and its blocks
    /// stored. A strongly consistent read: a retry right after the marker
    /// was written must see it.
    pub async fn counted(&self, marker: &str, now: i64) -> Result<bool, Error> {
        self.sent();
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(marker.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", shared::aws::cause(e)))?;
        Ok(out.item.is_some_and(|item| {
            item.get("expires_at")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .is_none_or(|at| at > now)
        }))
    }

    /// Marks deliveries as counted, once what they contributed is stored.
    pub async fn mark_counted(&self, markers: &[String], expires_at: i64) -> Result<(), Error> {
        for chunk in markers.chunks(25) {
            let requests = chunk
                .iter()
                .map(|pk| {
                    let put = PutRequest::builder()
                        .item("pk", AttributeValue::S(pk.clone()))
                        .item("expires_at", AttributeValue::N(expires_at.to_string()))
                        .build()
                        .expect("item is set");
                    WriteRequest::builder().put_request(put).build()
                })
                .collect();
            self.batch_write(requests).await?;
        }
        Ok(())
    }

    /// Adds one delivery part's counts to a window item and returns the
    /// window total of each of its addresses.
    ///
    /// A count is stored as an element of the item's string set `counts`:
    /// `<address> <count> <tag>`, the tag naming the delivery. `ADD` to a
    /// set is a union, atomic across concurrent runs, and adding the same
    /// element again changes nothing: a retry of the delivery adds nothing
    /// twice without a condition or a second read. An address's total is
    /// the sum of its elements.
    pub async fn add_to_window(
        &self,
        pk: &str,
        counts: &[(String, u32)],
        expires_at: i64,
        tag: &str,
    ) -> Result<HashMap<String, u64>, Error> {
        let elements = counts
            .iter()
            .map(|(address, n)| format!("{address} {n} {tag}"))
            .collect();
        self.sent();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .update_expression("ADD #counts :counts SET expires_at = :ttl")
            .expression_attribute_names("#counts", "counts")
            .expression_attribute_values(":counts", AttributeValue::Ss(elements))
            .expression_attribute_values(":ttl", AttributeValue::N(expires_at.to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        let stored = match result {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(e) if item_too_large(&e) => {
                return Err(Error::WindowItemFull {
                    table: self.table.clone(),
                    pk: pk.to_owned(),
                    source: shared::aws::cause(e),
                });
            }
            Err(e) => return Err(self.error("UpdateItem", shared::aws::cause(e))),
        };
        let totals = window_totals(stored.get("counts"), None);
        Ok(counts
            .iter()
            .map(|(address, n)| {
                let total = totals.get(address.as_str()).copied();
                (address.clone(), total.unwrap_or(u64::from(*n)))
            })
            .collect())
    }

    /// Records a block the plan found already in its set (someone else's,
    /// `preexisting`), unless an item for the address exists: another run
    /// recorded its own block meanwhile (the ledger `Scan` is eventually
    /// consistent, and a run may read the set after another run added to
    /// it). Returns `None` when written, else the stored entry, read
    /// strongly consistently, to be extended instead.
    pub async fn claim_preexisting(&self, entry: &Entry) -> Result<Option<Entry>, Error> {
        self.sent();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(entry.to_item()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match shared::dynamo::conditional(result) {
            Ok(Some(_)) => Ok(None),
            Ok(None) => {
                self.sent();
                let stored = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .key("pk", AttributeValue::S(entry.pk()))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| self.error("GetItem", shared::aws::cause(e)))?;
                match stored.item.as_ref().and_then(Entry::from_item) {
                    Some(old) => Ok(Some(old)),
                    None => Err(self.error(
                        "GetItem",
                        format!(
                            "{} was recorded by another run and then deleted; the retry decides again",
                            entry.pk()
                        ),
                    )),
                }
            }
            Err(e) => Err(self.error("PutItem", shared::aws::cause(e))),
        }
    }

    /// Window counts stored so far by other deliveries than `tag`'s, by item
    /// and address, without changing them (dry runs: a delivery replayed in
    /// a dry run must not find its own counts and add them again).
    pub async fn read_windows(
        &self,
        pks: &[String],
        now: i64,
        tag: &str,
    ) -> Result<HashMap<String, HashMap<String, u64>>, Error> {
        let mut out = HashMap::new();
        for chunk in pks.chunks(100) {
            let mut keys: Vec<Item> = chunk
                .iter()
                .map(|pk| Item::from([("pk".to_owned(), AttributeValue::S(pk.clone()))]))
                .collect();
            for attempt in 0..8u32 {
                let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .build()
                    .expect("keys are set");
                self.sent();
                let page = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| self.error("BatchGetItem", shared::aws::cause(e)))?;
                for mut item in page
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let live = number(item.get("expires_at"))
                        .is_none_or(|at| i64::try_from(at).unwrap_or(i64::MAX) > now);
                    let Some(AttributeValue::S(pk)) = item.remove("pk") else {
                        continue;
                    };
                    if live {
                        let totals = window_totals(item.get("counts"), Some(tag))
                            .into_iter()
                            .map(|(address, n)| (address.to_owned(), n))
                            .collect();
                        out.insert(pk, totals);
                    }
                }
                keys = page
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if keys.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50 << attempt.min(5))).await;
            }
        }
        Ok(out)
    }

    /// Records in a dry-run backfill's scratch item that `block` would have
    /// been blocked. The requests and the block's end are added to number
    /// sets, a union: batches that see the same crossing, retries
    /// included, write one item, and the largest of each is what it says.
    pub async fn add_would_block(
        &self,
        run: &str,
        block: &WouldBlock,
        expires_at: i64,
    ) -> Result<(), Error> {
        self.sent();
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(block.pk(run)))
            .update_expression(
                "ADD requests :requests, #until :until \
                 SET address = :address, #window = :window, #rule = :rule, \
                 threshold = :threshold, expires_at = :ttl",
            )
            .expression_attribute_names("#until", "until")
            .expression_attribute_names("#window", "window")
            .expression_attribute_names("#rule", "rule")
            .expression_attribute_values(
                ":requests",
                AttributeValue::Ns(vec![block.requests.to_string()]),
            )
            .expression_attribute_values(
                ":until",
                AttributeValue::Ns(vec![block.until.to_string()]),
            )
            .expression_attribute_values(":address", AttributeValue::S(block.address.clone()))
            .expression_attribute_values(":window", AttributeValue::N(block.window.to_string()))
            .expression_attribute_values(":rule", AttributeValue::S(block.rule.clone()))
            .expression_attribute_values(
                ":threshold",
                AttributeValue::N(block.threshold.to_string()),
            )
            .expression_attribute_values(":ttl", AttributeValue::N(expires_at.to_string()))
            .send()
            .await
            .map_err(|e| self.error("UpdateItem", shared::aws::cause(e)))?;
        Ok(())
    }

    /// Every address and window a dry-run backfill recorded. A `Scan`
    /// (the table has no sort key to query by run), once per execution.
    pub async fn would_blocks(&self, run: &str) -> Result<Vec<WouldBlock>, Error> {
        let prefix = format!("{}blk#", crate::backfill::scratch_prefix(run));
        let items = self.scan_prefixed(&[&prefix], true).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let s = |k: &str| item.get(k)?.as_s().ok().cloned();
                let n = |k: &str| item.get(k)?.as_n().ok()?.parse::<i64>().ok();
                let most = |k: &str| {
                    item.get(k)?
                        .as_ns()
                        .ok()?
                        .iter()
                        .filter_map(|v| v.parse::<i64>().ok())
                        .max()
                };
                Some(WouldBlock {
                    address: s("address")?,
                    window: n("window")?,
                    rule: s("rule")?,
                    threshold: u32::try_from(n("threshold")?).ok()?,
                    requests: u64::try_from(most("requests")?).ok()?,
                    until: most("until")?,
                })
            })
            .collect())
    }

    /// Requests this ledger sent so far (every attempt of a batch counted):
    /// the report's `ledger_requests`, what a delivery costs in DynamoDB.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn sent(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
}

/// DynamoDB's answer to an update that would take an item past 400 KB.
fn item_too_large(error: &impl ProvideErrorMetadata) -> bool {
    error.code() == Some("ValidationException")
        && error
            .message()
            .is_some_and(|m| m.contains("maximum allowed size"))
}

/// Each address's total in a window item's `counts` set: the sum over
/// deliveries of what each added. A delivery counted again differently (a
/// retry after a deploy or a configuration change) leaves two elements with
/// its tag; the larger is taken, so a recount never adds to itself. An
/// element this version cannot read counts for nobody.
fn window_totals<'a>(
    counts: Option<&'a AttributeValue>,
    except: Option<&str>,
) -> HashMap<&'a str, u64> {
    let mut by_delivery: HashMap<(&str, &str), u64> = HashMap::new();
    for element in counts.and_then(|v| v.as_ss().ok()).into_iter().flatten() {
        let mut fields = element.split(' ');
        if let (Some(address), Some(Ok(n)), Some(tag)) = (
            fields.next(),
            fields.next().map(str::parse::<u64>),
            fields.next(),
        ) && except != Some(tag)
        {
            let stored = by_delivery.entry((address, tag)).or_insert(0);
            *stored = (*stored).max(n);
        }
    }
    let mut totals = HashMap::new();
    for ((address, _), n) in by_delivery {
        *totals.entry(address).or_insert(0u64) += n;
    }
    totals
}

/// A non-negative number attribute.
fn number(value: Option<&AttributeValue>) -> Option<u64> {
    value?.as_n().ok()?.parse().ok()
}
