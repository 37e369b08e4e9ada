//! What the function remembers (`STATE_TABLE`, partition key `pk`, TTL on
//! `expires_at`): what was announced and when, the first sighting of each
//! principal, long-term key, network and Region, and each principal's
//! denied actions within the reconnaissance window.
//!
//! Safe under concurrent invocations: an announcement is claimed by a
//! conditional write, so of two deliveries of the same denial only one
//! posts; a first sighting is written only if absent; the recent actions are
//! a string set that `ADD` extends atomically.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use ipnet::IpNet;
use time::{Date, Duration, OffsetDateTime};

use crate::error::Error;
use crate::plan::{Facts, Seen, Severity, Wanted, bounded};

/// The table's partition key (string).
pub const KEY: &str = "pk";
/// First sightings are forgotten after this long without being written
/// again: a key unused for a year is new again.
pub const SEEN_TTL_DAYS: i64 = 400;
/// `BatchGetItem` reads at most this many keys a call.
const BATCH: usize = 100;
/// Event ids kept per group and day, well inside an item's 400 KB.
pub const TALLY_IDS: usize = 2_000;

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

    /// Reads what is known about `wanted` at `now`.
    pub async fn facts(&self, wanted: &Wanted, now: OffsetDateTime) -> Result<Facts, Error> {
        // Each key asked for, and what it is about: a key may be shortened
        // (see `plan::bounded`), so it is never parsed back.
        let mut asked: HashMap<String, Fact> = HashMap::new();
        for key in &wanted.announced {
            asked.insert(key.clone(), Fact::Announced);
        }
        for p in &wanted.seen.principals {
            asked.insert(seen_key("principal", p), Fact::Principal(p.clone()));
            asked.insert(recent_key(p), Fact::Recent(p.clone()));
        }
        for k in &wanted.seen.keys {
            asked.insert(seen_key("key", k), Fact::Key(k.clone()));
        }
        for n in &wanted.seen.networks {
            asked.insert(seen_key("network", &n.to_string()), Fact::Network(*n));
        }
        for r in &wanted.seen.regions {
            asked.insert(seen_key("region", r), Fact::Region(r.clone()));
        }
        let items = self.read(asked.keys().cloned().collect()).await?;
        let mut facts = Facts::default();
        // A sighting seen again is kept another SEEN_TTL_DAYS, refreshed at
        // most once a day: without it everything learnt on the first day
        // would be new again, all at once, 400 days later.
        let refresh_before = (now + Duration::days(SEEN_TTL_DAYS - 1)).unix_timestamp();
        for (pk, item) in items {
            let fact = asked.remove(&pk);
            if matches!(
                fact,
                Some(Fact::Principal(_) | Fact::Key(_) | Fact::Network(_) | Fact::Region(_))
            ) && item
                .get("expires_at")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<i64>().ok())
                .is_some_and(|at| at < refresh_before)
            {
                facts.stale_sightings.insert(pk.clone());
            }
            match fact {
                Some(Fact::Principal(p)) => {
                    facts.known_principals.insert(p);
                }
                Some(Fact::Key(k)) => {
                    facts.known_keys.insert(k);
                }
                Some(Fact::Network(n)) => {
                    facts.known_networks.insert(n);
                }
                Some(Fact::Region(r)) => {
                    facts.known_regions.insert(r);
                }
                Some(Fact::Recent(p)) => {
                    let events = item
                        .get("events")
                        .and_then(|v| v.as_ss().ok())
                        .map(|set| set.iter().filter_map(|e| decode_event(e)).collect())
                        .unwrap_or_default();
                    facts.recent.insert(p, events);
                }
                Some(Fact::Announced) => {
                    let Some(at) = item.get("at").and_then(epoch) else {
                        continue;
                    };
                    if let Some(severity) = item
                        .get("severity")
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse::<u8>().ok())
                        .and_then(Severity::from_rank)
                    {
                        facts.announced_severity.insert(pk.clone(), severity);
                    }
                    facts.announced.insert(pk, at);
                }
                None => {}
            }
        }
        Ok(facts)
    }

    /// Claims the announcement of `key` at `severity`: true when this
    /// invocation is the one to announce it (never announced, not within
    /// `renotify`, or announced at a lower severity).
    pub async fn claim(
        &self,
        key: &str,
        severity: Severity,
        now: OffsetDateTime,
        renotify: Duration,
    ) -> Result<bool, Error> {
        let rank = i64::from(severity.rank());
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(key.to_owned()))
            .item("at", number(now.unix_timestamp()))
            .item("severity", number(rank))
            .item("expires_at", number((now + renotify).unix_timestamp()))
            .condition_expression(
                "attribute_not_exists(#pk) OR #at <= :cutoff OR attribute_not_exists(#sev) OR #sev < :sev",
            )
            .expression_attribute_names("#pk", KEY)
            .expression_attribute_names("#at", "at")
            .expression_attribute_names("#sev", "severity")
            .expression_attribute_values(":cutoff", number((now - renotify).unix_timestamp()))
            .expression_attribute_values(":sev", number(rank));
        shared::dynamo::conditional(request.send().await)
            .map(|written| written.is_some())
            .map_err(|e| self.error("PutItem", key, e))
    }

    /// Gives back the claim of `key` taken at `at`, when its announcement
    /// could not be sent, so the retry sends it. Only this invocation's
    /// claim: one taken since by another run is left alone.
    pub async fn release(&self, key: &str, at: OffsetDateTime) -> Result<(), Error> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_owned()))
            .condition_expression("#at = :at")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":at", number(at.unix_timestamp()));
        shared::dynamo::conditional(request.send().await)
            .map(|_| ())
            .map_err(|e| self.error("DeleteItem", key, e))
    }

    /// Counts a group's denials into its day's digest. The CloudTrail event
    /// ids are a set, so a delivery retried by Lambda, or a record seen on
    /// both paths, counts once; past [`TALLY_IDS`] ids (an item holds at
    /// most 400 KB) the rest are added as a number, which a retry may count
    /// again.
    pub async fn tally(&self, day: Date, tally: &Tally) -> Result<(), Error> {
        let key = tally_key(day, &tally.group);
        let expires = number(expiry_of(day));
        let ids: Vec<String> = tally.event_ids.iter().cloned().collect();
        let describe = |request: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder| {
            request
                .table_name(&self.table)
                .key(KEY, AttributeValue::S(key.clone()))
                .expression_attribute_names("#who", "who")
                .expression_attribute_names("#principal", "principal")
                .expression_attribute_names("#action", "action")
                .expression_attribute_names("#expires", "expires_at")
                .expression_attribute_values(":who", AttributeValue::S(tally.who.clone()))
                .expression_attribute_values(":principal", AttributeValue::S(tally.principal.clone()))
                .expression_attribute_values(":action", AttributeValue::S(tally.action.clone()))
                .expression_attribute_values(":expires", expires.clone())
        };
        if !ids.is_empty() {
            let request = describe(self.client.update_item())
                .update_expression("ADD #ids :ids SET #who = :who, #principal = :principal, #action = :action, #expires = :expires")
                .condition_expression("attribute_not_exists(#ids) OR size(#ids) < :cap")
                .expression_attribute_names("#ids", "ids")
                .expression_attribute_values(":ids", AttributeValue::Ss(ids))
                .expression_attribute_values(":cap", number(TALLY_IDS as i64));
            if shared::dynamo::conditional(request.send().await)
                .map_err(|e| self.error("UpdateItem", &key, e))?
                .is_some()
            {
                return Ok(());
            }
        }
        let request = describe(self.client.update_item())
            .update_expression("ADD #extra :n SET #who = :who, #principal = :principal, #action = :action, #expires = :expires")
            .expression_attribute_names("#extra", "extra")
            .expression_attribute_values(":n", number(tally.count as i64));
        request
            .send()
            .await
            .map_err(|e| self.error("UpdateItem", &key, e))?;
        Ok(())
    }

    /// Notes a principal first seen on `day`, for the digest.
    pub async fn tally_new(&self, day: Date, principal: &str) -> Result<(), Error> {
        let key = bounded(format!("{}new#{principal}", day_prefix(day)));
        self.client
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(key.clone()))
            .item("principal", AttributeValue::S(principal.to_owned()))
            .item("expires_at", number(expiry_of(day)))
            .send()
            .await
            .map_err(|e| self.error("PutItem", &key, e))?;
        Ok(())
    }

    /// Everything counted for `day`: its groups and its new principals.
    pub async fn day(&self, day: Date) -> Result<Day, Error> {
        let prefix = day_prefix(day);
        let mut out = Day::default();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(#pk, :prefix)")
                .expression_attribute_names("#pk", KEY)
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.clone()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.error("Scan", &prefix, e))?;
            for item in page.items() {
                let Some(pk) = item.get(KEY).and_then(|v| v.as_s().ok()) else {
                    continue;
                };
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
                let rest = &pk[prefix.len()..];
                if rest.starts_with("new#") {
                    out.new_principals.extend(text("principal"));
                    continue;
                }
                let ids = item
                    .get("ids")
                    .and_then(|v| v.as_ss().ok())
                    .map_or(0, Vec::len);
                let extra = item
                    .get("extra")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
                if let (Some(principal), Some(who), Some(action)) =
                    (text("principal"), text("who"), text("action"))
                {
                    out.groups.push(Counted {
                        principal,
                        who,
                        action,
                        count: ids as u64 + extra,
                    });
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        out.groups
            .sort_by(|a, b| a.principal.cmp(&b.principal).then(a.action.cmp(&b.action)));
        Ok(out)
    }

    /// Keeps the sightings at `keys` (see [`Facts::stale_sightings`]) another
    /// [`SEEN_TTL_DAYS`] from `now`; one that expired meanwhile stays gone.
    pub async fn refresh(&self, keys: &BTreeSet<String>, now: OffsetDateTime) -> Result<(), Error> {
        let expires = number((now + Duration::days(SEEN_TTL_DAYS)).unix_timestamp());
        for key in keys {
            let request = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(KEY, AttributeValue::S(key.clone()))
                .update_expression("SET #expires = :expires")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", KEY)
                .expression_attribute_names("#expires", "expires_at")
                .expression_attribute_values(":expires", expires.clone());
            shared::dynamo::conditional(request.send().await)
                .map_err(|e| self.error("UpdateItem", key, e))?;
        }
        Ok(())
    }

    /// Writes each first sighting, unless another invocation wrote it first.
    pub async fn remember(&self, seen: &Seen, now: OffsetDateTime) -> Result<(), Error> {
        let keys = seen
            .principals
            .iter()
            .map(|p| seen_key("principal", p))
            .chain(seen.keys.iter().map(|k| seen_key("key", k)))
            .chain(
                seen.networks
                    .iter()
                    .map(|n| seen_key("network", &n.to_string())),
            )
            .chain(seen.regions.iter().map(|r| seen_key("region", r)));
        for key in keys {
            let request = self
                .client
                .put_item()
                .table_name(&self.table)
                .item(KEY, AttributeValue::S(key.clone()))
                .item("first", number(now.unix_timestamp()))
                .item(
                    "expires_at",
                    number((now + Duration::days(SEEN_TTL_DAYS)).unix_timestamp()),
                )
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", KEY);
            shared::dynamo::conditional(request.send().await)
                .map_err(|e| self.error("PutItem", &key, e))?;
        }
        Ok(())
    }

    /// Adds a principal's denied actions to its window, and drops those
    /// that fell out of it (`stale`).
    pub async fn add_recent(
        &self,
        principal: &str,
        events: &[(OffsetDateTime, String)],
        stale: &[(OffsetDateTime, String)],
        window: Duration,
    ) -> Result<(), Error> {
        let key = recent_key(principal);
        let Some(latest) = events.iter().map(|(t, _)| *t).max() else {
            return Ok(());
        };
        let added: Vec<String> = events.iter().map(|(t, a)| encode_event(*t, a)).collect();
        self.client
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.clone()))
            .update_expression("ADD #events :added SET #expires = :expires")
            .expression_attribute_names("#events", "events")
            .expression_attribute_names("#expires", "expires_at")
            .expression_attribute_values(":added", AttributeValue::Ss(added))
            .expression_attribute_values(":expires", number((latest + window).unix_timestamp()))
            .send()
            .await
            .map_err(|e| self.error("UpdateItem", &key, e))?;
        if !stale.is_empty() {
            let removed = stale.iter().map(|(t, a)| encode_event(*t, a)).collect();
            self.client
                .update_item()
                .table_name(&self.table)
                .key(KEY, AttributeValue::S(key.clone()))
                .update_expression("DELETE #events :removed")
                .expression_attribute_names("#events", "events")
                .expression_attribute_values(":removed", AttributeValue::Ss(removed))
                .send()
                .await
                .map_err(|e| self.error("UpdateItem", &key, e))?;
        }
        Ok(())
    }

    /// Every item of `keys` that exists, by key; unprocessed keys (throttled
    /// by DynamoDB) are asked for again.
    async fn read(
        &self,
        keys: Vec<String>,
    ) -> Result<HashMap<String, HashMap<String, AttributeValue>>, Error> {
        let mut found = HashMap::new();
        let unique: BTreeSet<String> = keys.into_iter().collect();
        let unique: Vec<String> = unique.into_iter().collect();
        for chunk in unique.chunks(BATCH) {
            let mut request = KeysAndAttributes::builder();
            for key in chunk {
                request = request.keys(HashMap::from([(
                    KEY.to_owned(),
                    AttributeValue::S(key.clone()),
                )]));
            }
            let mut pending = Some(
                request
                    .build()
                    .map_err(|e| self.error("BatchGetItem", &chunk[0], e))?,
            );
            let mut attempts = 0;
            while let Some(request) = pending.take() {
                attempts += 1;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| self.error("BatchGetItem", &chunk[0], e))?;
                for item in output
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    if let Some(pk) = item.get(KEY).and_then(|v| v.as_s().ok()).cloned() {
                        found.insert(pk, item);
                    }
                }
                pending = output
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys.is_empty());
                if pending.is_some() && attempts >= 5 {
                    return Err(Error::State {
                        table: self.table.clone(),
                        operation: "BatchGetItem",
                        key: chunk[0].clone(),
                        source: "keys still unprocessed after 5 attempts (throttled)".into(),
                    });
                }
            }
        }
        Ok(found)
    }

    fn error(
        &self,
        operation: &'static str,
        key: &str,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::State {
            table: self.table.clone(),
            operation,
            key: key.to_owned(),
            source: shared::aws::cause(error),
        }
    }
}

/// What a key read from the table is about.
enum Fact {
    Announced,
    Principal(String),
    Recent(String),
    Key(String),
    Network(IpNet),
    Region(String),
}

/// What one group adds to its day's digest.
#[derive(Debug, Clone)]
pub struct Tally {
    pub group: String,
    pub principal: String,
    pub who: String,
    pub action: String,
    pub count: u64,
    pub event_ids: BTreeSet<String>,
}

/// One group's count for a day, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub principal: String,
    pub who: String,
    pub action: String,
    pub count: u64,
}

/// What a day's digest is made from.
#[derive(Debug, Clone, Default)]
pub struct Day {
    pub groups: Vec<Counted>,
    pub new_principals: BTreeSet<String>,
}

fn day_prefix(day: Date) -> String {
    format!("digest#{day}#")
}

fn tally_key(day: Date, group: &str) -> String {
    bounded(format!("{}{group}", day_prefix(day)))
}

/// A day's counts are kept a week after it, for a digest that failed and
/// is run again by hand.
fn expiry_of(day: Date) -> i64 {
    (day.midnight().assume_utc() + Duration::days(8)).unix_timestamp()
}

fn seen_key(kind: &str, value: &str) -> String {
    bounded(format!("seen#{kind}#{value}"))
}

fn recent_key(principal: &str) -> String {
    bounded(format!("recent#{principal}"))
}

/// `<epoch seconds>|<action>`: a set member, so the same denial delivered
/// twice is one member.
fn encode_event(at: OffsetDateTime, action: &str) -> String {
    format!("{}|{action}", at.unix_timestamp())
}

fn decode_event(text: &str) -> Option<(OffsetDateTime, String)> {
    let (at, action) = text.split_once('|')?;
    let at = OffsetDateTime::from_unix_timestamp(at.parse().ok()?).ok()?;
    Some((at, action.to_owned()))
}

fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn epoch(value: &AttributeValue) -> Option<OffsetDateTime> {
    let n: i64 = value.as_n().ok()?.parse().ok()?;
    OffsetDateTime::from_unix_timestamp(n).ok()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_recent_event_survives_its_encoding() {
        let at = datetime!(2026-12-06 09:00:07 UTC);
        let text = encode_event(at, "iam:ListUsers");
        assert_eq!(text, "1796547607|iam:ListUsers");
        assert_eq!(decode_event(&text), Some((at, "iam:ListUsers".into())));
        assert_eq!(decode_event("soon|x"), None);
        assert_eq!(decode_event("no separator"), None);
    }
}
