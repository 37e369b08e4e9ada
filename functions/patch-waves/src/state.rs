//! The state table: for each instance with open findings, one record
//! (`pk` = `instance#<id>`) holding its owner, name, patch group and each open
//! finding with since when the reports have seen it. The digest's "new",
//! "fixed" and "still open" are the difference between this and the run.
//!
//! Beside them, one short-lived record per owner and schedule event
//! (`digest#<event id>#<owner>`) claims that digest's delivery, so a Lambda
//! retry of the same event posts only the digests still undelivered.
//!
//! The wave rollout keeps one record per wave of a rollout
//! (`rollout#<rollout>#<wave>`): the wave as [`crate::wave::Wave`], in JSON,
//! with a version that every write checks, so that two invocations never
//! both act on the same step.
//!
//! Read whole with a paged `Scan` (one record per instance with findings),
//! written with `BatchWriteItem`, 25 records a call, only where a record
//! changes. No decisions here.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Calls;
use crate::error::Error;
use crate::plan::{InstanceReport, Kind, Previous};
use crate::wave::Wave;

const PREFIX: &str = "instance#";
const DIGEST_PREFIX: &str = "digest#";
const ROLLOUT_PREFIX: &str = "rollout#";
/// Set on a digest's claim once its digest was posted.
const DELIVERED: &str = "delivered";

/// What a digest's claim for one schedule event found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This attempt claimed it: post, then mark or give it back.
    New,
    /// An earlier attempt posted it: not again.
    Delivered,
    /// An earlier attempt claimed it and did not say it posted (it failed,
    /// timed out, or runs now): post it, a duplicate being better than a
    /// digest nobody got.
    Undelivered,
}
/// `BatchWriteItem` takes at most 25 requests.
const BATCH: usize = 25;
/// Attempts at the items DynamoDB leaves unprocessed.
const ATTEMPTS: u32 = 5;

pub struct StateStore {
    client: Client,
    table: String,
}

impl StateStore {
    pub fn new(client: Client, table: &str) -> Self {
        Self {
            client,
            table: table.to_owned(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// What the last report left open, by instance id.
    pub async fn previous(&self, calls: &mut Calls) -> Result<BTreeMap<String, Previous>, Error> {
        let mut out = BTreeMap::new();
        let mut start: Option<std::collections::HashMap<String, AttributeValue>> = None;
        loop {
            calls.incr("Scan");
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                // A retry seconds after a write must see it, or it would
                // tell the same findings as new again.
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.error("Scan", "the table", e))?;
            for item in page.items() {
                let Some(id) = item
                    .get("pk")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|pk| pk.strip_prefix(PREFIX))
                else {
                    continue;
                };
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
                let findings = item
                    .get("findings")
                    .and_then(|v| v.as_m().ok())
                    .map(|m| {
                        m.iter()
                            .filter_map(|(kind, since)| {
                                let since = since.as_s().ok()?;
                                Some((
                                    Kind::parse(kind)?,
                                    OffsetDateTime::parse(since, &Rfc3339).ok()?,
                                ))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert(
                    id.to_owned(),
                    Previous {
                        owner: text("owner").unwrap_or_else(|| crate::plan::NO_OWNER.to_owned()),
                        name: text("name"),
                        patch_group: text("patch_group"),
                        findings,
                    },
                );
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Writes each instance's open findings, or deletes its record when it
    /// has none left.
    pub async fn write(
        &self,
        instances: &[&InstanceReport],
        calls: &mut Calls,
    ) -> Result<(), Error> {
        let requests: Vec<WriteRequest> = instances.iter().map(|i| request(i)).collect();
        for batch in requests.chunks(BATCH) {
            let mut pending = batch.to_vec();
            for attempt in 0..ATTEMPTS {
                calls.incr("BatchWriteItem");
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| self.error("BatchWriteItem", &first_key(batch), e))?;
                pending = out
                    .unprocessed_items()
                    .and_then(|u| u.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if attempt + 1 == ATTEMPTS {
                    return Err(Error::State {
                        table: self.table.clone(),
                        operation: "BatchWriteItem",
                        key: first_key(&pending),
                        source: format!(
                            "{} record(s) still unprocessed after {ATTEMPTS} attempts",
                            pending.len()
                        )
                        .into(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
        }
        Ok(())
    }

    /// Claims the delivery of `owner`'s digest for the schedule event
    /// `run`. An earlier attempt of the same event (a Lambda retry after
    /// another owner's digest failed) may have claimed it already: its mark
    /// says whether the digest went out. Claims expire with the table's TTL.
    pub async fn claim_digest(
        &self,
        run: &str,
        owner: &str,
        expires_at: OffsetDateTime,
        calls: &mut Calls,
    ) -> Result<Claim, Error> {
        let pk = digest_key(run, owner);
        calls.incr("PutItem");
        let written = shared::dynamo::conditional(
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", AttributeValue::S(pk.clone()))
                .item(
                    "expires_at",
                    AttributeValue::N(expires_at.unix_timestamp().to_string()),
                )
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await,
        )
        .map_err(|e| self.error("PutItem", &pk, e))?;
        if written.is_some() {
            return Ok(Claim::New);
        }
        let earlier = self.get(&pk, calls).await?;
        let delivered = earlier
            .as_ref()
            .and_then(|item| item.get(DELIVERED))
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false);
        Ok(if delivered {
            Claim::Delivered
        } else {
            Claim::Undelivered
        })
    }

    /// Marks a claimed digest as posted, so a retry of the same event
    /// leaves it alone.
    pub async fn mark_delivered(
        &self,
        run: &str,
        owner: &str,
        calls: &mut Calls,
    ) -> Result<(), Error> {
        let pk = digest_key(run, owner);
        calls.incr("UpdateItem");
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.clone()))
            .update_expression("SET #d = :t")
            .expression_attribute_names("#d", DELIVERED)
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .send()
            .await
            .map_err(|e| self.error("UpdateItem", &pk, e))?;
        Ok(())
    }

    /// Gives a claim back after its digest could not be posted, so the
    /// retry posts it.
    pub async fn release_digest(
        &self,
        run: &str,
        owner: &str,
        calls: &mut Calls,
    ) -> Result<(), Error> {
        let pk = digest_key(run, owner);
        calls.incr("DeleteItem");
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.clone()))
            .send()
            .await
            .map_err(|e| self.error("DeleteItem", &pk, e))?;
        Ok(())
    }

    /// The record of `wave` in `rollout`, read consistently (the previous
    /// invocation wrote it seconds ago).
    pub async fn wave(
        &self,
        rollout: &str,
        wave: &str,
        calls: &mut Calls,
    ) -> Result<Option<Wave>, Error> {
        let pk = wave_key(rollout, wave);
        let Some(item) = self.get(&pk, calls).await? else {
            return Ok(None);
        };
        let text = item
            .get("wave")
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| Error::State {
                table: self.table.clone(),
                operation: "GetItem",
                key: pk.clone(),
                source: "the record has no wave attribute".into(),
            })?;
        let mut wave: Wave = serde_json::from_str(text).map_err(|e| Error::State {
            table: self.table.clone(),
            operation: "GetItem",
            key: pk.clone(),
            source: Box::new(e),
        })?;
        wave.version = item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        Ok(Some(wave))
    }

    /// Writes `wave` if the table still holds the version it was read at,
    /// and moves its version on; `Error::Conflict` when another invocation
    /// wrote it first (this one must then not act on what it read).
    pub async fn save_wave(&self, wave: &mut Wave, calls: &mut Calls) -> Result<(), Error> {
        let pk = wave_key(&wave.rollout, &wave.name);
        let text = serde_json::to_string(&*wave).map_err(|e| Error::State {
            table: self.table.clone(),
            operation: "PutItem",
            key: pk.clone(),
            source: Box::new(e),
        })?;
        let next = wave.version + 1;
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(pk.clone()))
            .item("wave", AttributeValue::S(text))
            .item("version", AttributeValue::N(next.to_string()));
        let request = if wave.version == 0 {
            request.condition_expression("attribute_not_exists(pk)")
        } else {
            request
                .condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(wave.version.to_string()))
        };
        calls.incr("PutItem");
        let written = shared::dynamo::conditional(request.send().await)
            .map_err(|e| self.error("PutItem", &pk, e))?;
        if written.is_none() {
            return Err(Error::Conflict {
                rollout: wave.rollout.clone(),
                wave: wave.name.clone(),
            });
        }
        wave.version = next;
        Ok(())
    }

    /// The record `pk`, read consistently (a retry seconds after a write
    /// must see it).
    async fn get(
        &self,
        pk: &str,
        calls: &mut Calls,
    ) -> Result<Option<std::collections::HashMap<String, AttributeValue>>, Error> {
        calls.incr("GetItem");
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", pk, e))?;
        Ok(out.item)
    }

    fn error<E>(&self, operation: &'static str, key: &str, e: E) -> Error
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Error::State {
            table: self.table.clone(),
            operation,
            key: key.to_owned(),
            source: Box::new(e),
        }
    }
}

/// A digest's claim: the schedule event's id, then the owner (who may
/// write anything in a tag; the id holds no `#`).
fn digest_key(run: &str, owner: &str) -> String {
    format!("{DIGEST_PREFIX}{run}#{owner}")
}

/// A wave's record; rollout and wave names hold no `#`.
fn wave_key(rollout: &str, wave: &str) -> String {
    format!("{ROLLOUT_PREFIX}{rollout}#{wave}")
}

fn key(id: &str) -> AttributeValue {
    AttributeValue::S(format!("{PREFIX}{id}"))
}

fn first_key(batch: &[WriteRequest]) -> String {
    batch
        .first()
        .and_then(|r| {
            r.put_request()
                .map(|p| p.item())
                .or_else(|| r.delete_request().map(|d| d.key()))
        })
        .and_then(|m| m.get("pk"))
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn request(instance: &InstanceReport) -> WriteRequest {
    let state = instance.next_state();
    if state.is_empty() {
        return WriteRequest::builder()
            .delete_request(
                DeleteRequest::builder()
                    .key("pk", key(&instance.id))
                    .build()
                    .expect("the key is set"),
            )
            .build();
    }
    let findings = state
        .iter()
        .map(|(kind, since)| {
            (
                kind.as_str().to_owned(),
                AttributeValue::S(crate::plan::rfc3339(*since)),
            )
        })
        .collect();
    let mut put = PutRequest::builder()
        .item("pk", key(&instance.id))
        .item("owner", AttributeValue::S(instance.owner.clone()))
        .item(
            "patch_group",
            AttributeValue::S(instance.patch_group.clone()),
        )
        .item("findings", AttributeValue::M(findings));
    if let Some(name) = &instance.name {
        put = put.item("name", AttributeValue::S(name.clone()));
    }
    WriteRequest::builder()
        .put_request(put.build().expect("the item is set"))
        .build()
}
