//! Pure decisions: what a received event changes in the hub's state, and
//! which sources the heartbeat calls silent or failing. Nothing async, no
//! client.

use std::collections::BTreeMap;

use serde_json::Value;
use shared::envelope::{Envelope, ItemState, Outcome, SCHEMA_VERSION};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::record::{Current, DaySummary, ITEM_RETENTION_DAYS, OpenItem, Source};

/// An envelope of a version this hub does not know is kept whole, but its
/// items are not trusted to mean what version 1's do.
pub const KNOWN_SCHEMA: u32 = SCHEMA_VERSION;

/// Items of these kinds are records of something that happened (an alert
/// sent, a call denied), not states: a redelivered batch names them again,
/// and no run ever closes them. The day summary counts them by category.
pub const RECORD_KINDS: &[&str] = &["audit_alert", "denied_call", "reconnaissance"];

/// The items kept per source. An event holds at most what fits in 256 KB
/// (about 1,500 items); a source that keeps naming new ones is capped here so
/// that one account cannot make every render read without end.
pub const MAX_ITEMS_PER_SOURCE: usize = 5_000;

/// An open item already stored is written again only when what the function
/// says of it changed, or when its `last_seen` is this old: often enough to
/// keep it from expiring, rarely enough that a function reporting every five
/// minutes does not rewrite every open item each time.
pub const REFRESH_AFTER: Duration = Duration::hours(12);

/// One received report, checked: where it came from and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// EventBridge's event id: the same on every redelivery.
    pub event_id: String,
    pub source: Source,
    pub label: Option<String>,
    pub run_id: String,
    pub started_at: OffsetDateTime,
    pub ended_at: OffsetDateTime,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub dry_run: bool,
    pub counters: BTreeMap<String, u64>,
    pub schema_version: u32,
    pub unknown_schema: bool,
    pub items: Vec<shared::envelope::Item>,
    pub items_omitted: u64,
    /// What the hub noticed and stores beside the report (an unknown schema,
    /// an envelope naming another account than the one that sent it).
    pub flags: Vec<String>,
}

impl Received {
    /// Orders the reports of one source: later `ended_at` first, the run id
    /// breaking ties. A redelivered event has the same order as itself, so a
    /// write conditioned on a lower stored order happens once.
    pub fn order(&self) -> String {
        format!("{}#{}", timestamp(self.ended_at), self.run_id)
    }
}

/// What could not be read as a report at all: stored whole under
/// `rejected/` and counted, since retrying cannot make it readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub event_id: Option<String>,
    pub why: String,
}

/// A timestamp that sorts as text: RFC 3339 in UTC with nanoseconds.
pub fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.nanosecond()
    )
}

/// EventBridge's own fields every event the hub reads has: its id (also as
/// the rejection names it) and the account that sent it.
pub fn sender(event: &Value) -> Result<(Option<String>, String, String), Rejected> {
    let event_id = event.get("id").and_then(Value::as_str).map(str::to_owned);
    let reject = |why: &str| Rejected {
        event_id: event_id.clone(),
        why: why.to_owned(),
    };
    let id = event_id
        .clone()
        .ok_or_else(|| reject("the event has no `id`"))?;
    let account = event
        .get("account")
        .and_then(Value::as_str)
        .filter(|a| shared::envelope::is_account_id(a))
        .ok_or_else(|| reject("the event has no 12-digit `account`"))?
        .to_owned();
    Ok((event_id, id, account))
}

/// Reads an EventBridge event of `source: toilkit`, or one of the AWS
/// findings [`crate::findings`] reads.
///
/// The account is EventBridge's own `account` field: the account whose
/// function put the event (a rule forwarding it keeps it), which a product
/// account cannot set. An envelope naming another account is stored under
/// the sender's, and flagged.
pub fn receive(event: &Value) -> Result<Received, Rejected> {
    if let Some(function) = event
        .get("source")
        .and_then(Value::as_str)
        .and_then(crate::findings::function_of)
    {
        return crate::findings::receive(event, function);
    }
    let (event_id, id, account) = sender(event)?;
    let reject = |why: String| Rejected {
        event_id: event_id.clone(),
        why,
    };
    let detail = event
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or_else(|| reject("the event has no `detail` object".into()))?;
    let schema_version = detail
        .get("schema_version")
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| reject("the detail has no `schema_version`".into()))?;
    let function = detail
        .get("function")
        .and_then(Value::as_str)
        .filter(|f| is_function_name(f))
        .ok_or_else(|| reject("the detail has no valid `function`".into()))?
        .to_owned();
    if crate::findings::SOURCES.iter().any(|(_, f)| *f == function) {
        // Only AWS's own events speak for those sources: a product account
        // could otherwise close its GuardDuty findings on the dashboard.
        return Err(reject(format!(
            "a toilkit report may not name the function {function:?}, which the hub keeps for AWS's own events"
        )));
    }
    let event_region = event.get("region").and_then(Value::as_str);
    let event_time = event
        .get("time")
        .and_then(Value::as_str)
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
    let mut flags = Vec::new();

    if schema_version != KNOWN_SCHEMA {
        // Kept and flagged, never dropped: only the fields every version is
        // promised to keep are read.
        flags.push(format!(
            "schema_version {schema_version} is not one this hub knows ({KNOWN_SCHEMA}); stored as it came, its items not applied"
        ));
        let at = event_time.ok_or_else(|| reject("the event has no valid `time`".into()))?;
        let region = detail
            .get("region")
            .and_then(Value::as_str)
            .or(event_region)
            .unwrap_or("unknown")
            .to_owned();
        return Ok(Received {
            run_id: detail
                .get("run_id")
                .and_then(Value::as_str)
                .unwrap_or(&id)
                .to_owned(),
            event_id: id,
            source: Source {
                account,
                region,
                function,
            },
            label: label_of(detail),
            started_at: at,
            ended_at: at,
            outcome: detail
                .get("outcome")
                .and_then(|o| serde_json::from_value(o.clone()).ok())
                .unwrap_or(Outcome::Failed),
            reason: Some(flags[0].clone()),
            dry_run: false,
            counters: BTreeMap::new(),
            schema_version,
            unknown_schema: true,
            items: Vec::new(),
            items_omitted: 0,
            flags,
        });
    }

    let envelope: Envelope = serde_json::from_value(detail.clone())
        .map_err(|e| reject(format!("the detail is not a version-1 envelope: {e}")))?;
    if let Some(claimed) = envelope.account.as_ref().filter(|c| **c != account) {
        flags.push(format!(
            "the envelope names account {claimed}, but account {account} sent it; stored under the sender"
        ));
    }
    let region = envelope
        .region
        .clone()
        .or_else(|| event_region.map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    let run_id = envelope.run_id.clone().unwrap_or_else(|| id.clone());
    Ok(Received {
        event_id: id,
        source: Source {
            account,
            region,
            function,
        },
        label: envelope.label.clone(),
        run_id,
        started_at: envelope.started_at,
        ended_at: envelope.ended_at,
        outcome: envelope.outcome,
        reason: envelope.error.clone().or(envelope.stop_reason.clone()),
        dry_run: envelope.dry_run,
        counters: envelope.counters,
        schema_version,
        unknown_schema: false,
        items: envelope.items,
        items_omitted: envelope.items_omitted,
        flags,
    })
}

fn label_of(detail: &Value) -> Option<String> {
    detail
        .get("label")
        .and_then(Value::as_str)
        .filter(|l| shared::settings::check_result_label(l).is_ok() && !l.is_empty())
        .map(str::to_owned)
}

/// A report dated this far past the hub's clock is dated now instead: its
/// order would otherwise put it ahead of every real report for years.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// Counters kept per report, each name at most [`MAX_NAME_BYTES`]: every
/// counter is one term of the day summary's update, which DynamoDB caps at
/// 4 KB of expression.
pub const MAX_COUNTERS: usize = 100;

/// The longest counter name, item kind or run id kept.
pub const MAX_NAME_BYTES: usize = 64;

/// What a product account sends is outside input: whatever would break a
/// DynamoDB key or expression, or freeze the source's order, is cut to
/// size or replaced here, and flagged, so that the report is still stored
/// and a bad field cannot make the event fail on every retry.
pub fn bound(mut received: Received, now: OffsetDateTime) -> Received {
    if received.ended_at > now + MAX_CLOCK_SKEW {
        received.flags.push(format!(
            "ended_at {} is in the future; dated when the hub received it",
            timestamp(received.ended_at)
        ));
        received.ended_at = now;
    }
    received.started_at = received.started_at.min(received.ended_at);
    if !is_region(&received.source.region) {
        received.flags.push(format!(
            "region {:?} is not a Region name; stored as \"unknown\"",
            cut(&received.source.region, 40)
        ));
        received.source.region = "unknown".to_owned();
    }
    if received.run_id.len() > 128 || received.run_id.contains('#') {
        received
            .flags
            .push("run_id is over 128 bytes or holds '#'; the event id stands for it".into());
        received.run_id = received.event_id.chars().take(128).collect();
    }
    if let Some(label) = received
        .label
        .take_if(|l| l.is_empty() || shared::settings::check_result_label(l).is_err())
    {
        received.flags.push(format!(
            "label {:?} is not a RESULT_LABEL; left out",
            cut(&label, 40)
        ));
    }
    let counters = std::mem::take(&mut received.counters);
    let total = counters.len();
    received.counters = counters
        .into_iter()
        .filter(|(name, _)| is_name(name, true))
        .take(MAX_COUNTERS)
        .collect();
    if received.counters.len() < total {
        received.flags.push(format!(
            "{} of {total} counter(s) left out: over {MAX_COUNTERS}, or a name that is not letters, digits and ._:-",
            total - received.counters.len()
        ));
    }
    let before = received.items.len();
    received.items.retain(|item| is_name(&item.kind, false));
    if received.items.len() < before {
        received.flags.push(format!(
            "{} item(s) left out: a kind that is not lowercase letters and _",
            before - received.items.len()
        ));
    }
    received
}

fn cut(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// An AWS Region name (`eu-west-1`, `us-gov-west-1`), or the hub's own `unknown`.
fn is_region(region: &str) -> bool {
    (1..=32).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A counter name (`api_calls.DescribeLogGroups`) or, `kind`-strict, an item kind.
fn is_name(name: &str, counter: bool) -> bool {
    (1..=MAX_NAME_BYTES).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b == b'_'
                || (counter && (b.is_ascii_alphanumeric() || b"._:-".contains(&b)))
        })
}

/// A function name as toilkit writes them, so it can sit in a key and a path.
pub fn is_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The current record after `received`, given the one stored; `None` when
/// the stored one is as new or newer (a redelivery, or a report that arrived
/// after a later one), which changes nothing.
pub fn next_current(
    received: &Received,
    stored: Option<&(String, Current)>,
    named_unchanged: Vec<u64>,
) -> Option<Current> {
    let previous = match stored {
        Some((order, current)) if *order >= received.order() => return None,
        Some((_, current)) => Some(current),
        None => None,
    };
    let failures_in_a_row = match received.outcome {
        Outcome::Failed => previous.map_or(0, |p| p.failures_in_a_row) + 1,
        _ => 0,
    };
    Some(Current {
        source: received.source.clone(),
        label: received.label.clone(),
        run_id: received.run_id.clone(),
        started_at: received.started_at,
        ended_at: received.ended_at,
        outcome: received.outcome,
        reason: received.reason.clone(),
        dry_run: received.dry_run,
        counters: received.counters.clone(),
        failures_in_a_row,
        schema_version: received.schema_version,
        unknown_schema: received.unknown_schema,
        items_omitted: received.items_omitted,
        named_unchanged,
    })
}

/// An item as stored, with the order of the report that last wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub item: OpenItem,
    pub order: String,
    /// A tombstone: the report of `order` closed it. Kept for a few days, so
    /// that an older report arriving late cannot open it again.
    pub closed: bool,
}

/// The hash an item goes by in [`Current::named_unchanged`].
pub fn item_hash(kind: &str, key: &str) -> u64 {
    shared::dynamo::stable_hash(format!("{kind}\n{key}").as_bytes())
}

/// What one report changes among its source's open items.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemChanges {
    /// Written (new, changed, or due for a refresh).
    pub put: Vec<OpenItem>,
    /// Closed by the report: each replaced by a tombstone.
    pub delete: Vec<(String, String)>,
    /// Named open again, unchanged and recently written: left as they are.
    pub unchanged: u64,
    /// Named open, but past `MAX_ITEMS_PER_SOURCE`: not stored.
    pub over_cap: u64,
    /// Open items by kind once the changes are made (the day's trend).
    pub open_by_kind: BTreeMap<String, u64>,
    /// Hashes of the items named open and left unwritten (`unchanged`).
    pub named_unchanged: Vec<u64>,
}

/// Merges a report's items into what is stored. Closed items become
/// tombstones (even one never seen open: an older report arriving late must
/// not open it); open ones are written when new or changed. A report older
/// than a stored item's (it arrived late) does not overwrite or close it,
/// nor close what a newer report named open unchanged (`protected`). Only
/// the last mention of a key counts. A dry run and an unknown schema change
/// nothing.
pub fn item_changes(
    received: &Received,
    stored: &[Stored],
    protected: &[u64],
    now: OffsetDateTime,
) -> ItemChanges {
    let mut changes = ItemChanges::default();
    let mut known: BTreeMap<(String, String), &Stored> = stored
        .iter()
        .map(|s| ((s.item.kind.clone(), s.item.key.clone()), s))
        .collect();
    let order = received.order();
    let mut kept = stored.iter().filter(|s| !s.closed).count();
    let mut last: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    if !(received.dry_run || received.unknown_schema) {
        for (i, item) in received.items.iter().enumerate() {
            last.insert((&item.kind, &item.key), i);
        }
    }
    for i in last
        .into_values()
        .collect::<std::collections::BTreeSet<_>>()
    {
        let item = &received.items[i];
        let id = (item.kind.clone(), item.key.clone());
        let before = known.get(&id).copied();
        if before.is_some_and(|b| b.order > order) {
            continue;
        }
        let open_before = before.filter(|b| !b.closed);
        match item.state {
            ItemState::Closed => {
                if protected.contains(&item_hash(&item.kind, &item.key)) {
                    continue;
                }
                if open_before.is_some() {
                    kept -= 1;
                }
                known.remove(&id);
                changes.delete.push(id);
            }
            ItemState::Open => {
                if let Some(before) = open_before {
                    if before.item.fields == item.fields
                        && before.item.label == received.label
                        && now - before.item.last_seen < REFRESH_AFTER
                    {
                        changes.unchanged += 1;
                        changes
                            .named_unchanged
                            .push(item_hash(&item.kind, &item.key));
                        continue;
                    }
                } else if kept >= MAX_ITEMS_PER_SOURCE {
                    changes.over_cap += 1;
                    continue;
                } else {
                    kept += 1;
                }
                known.remove(&id);
                changes.put.push(OpenItem {
                    source: received.source.clone(),
                    label: received.label.clone(),
                    kind: item.kind.clone(),
                    key: item.key.clone(),
                    fields: item.fields.clone(),
                    first_seen: open_before.map_or(received.ended_at, |b| b.item.first_seen),
                    last_seen: received.ended_at,
                });
            }
        }
    }
    let still_open = known
        .iter()
        .filter(|(_, s)| !s.closed)
        .map(|((kind, _), _)| kind.clone());
    for kind in still_open.chain(changes.put.iter().map(|i| i.kind.clone())) {
        *changes.open_by_kind.entry(kind).or_default() += 1;
    }
    changes.named_unchanged.sort_unstable();
    changes
}

/// When an open item expires if no report names it again.
pub fn expires_at(item: &OpenItem) -> OffsetDateTime {
    item.last_seen + Duration::days(ITEM_RETENTION_DAYS)
}

/// One report's part of its day's summary: added once per event.
pub fn day_delta(received: &Received, open_by_kind: BTreeMap<String, u64>) -> DaySummary {
    let mut records = BTreeMap::new();
    if !(received.dry_run || received.unknown_schema) {
        for item in received
            .items
            .iter()
            .filter(|i| RECORD_KINDS.contains(&i.kind.as_str()))
        {
            let categories: Vec<String> = match (item.kind.as_str(), &item.fields) {
                ("audit_alert", fields) => fields
                    .get("categories")
                    .and_then(Value::as_array)
                    .map(|c| {
                        c.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
                (_, fields) => fields
                    .get("severity")
                    .and_then(Value::as_str)
                    .map(|s| vec![s.to_lowercase()])
                    .unwrap_or_default(),
            };
            // The alerts themselves, once each: an alert of two categories
            // counts in both below.
            *records.entry(item.kind.clone()).or_default() += 1;
            if categories.is_empty() {
                *records.entry(format!("{}/other", item.kind)).or_default() += 1;
            }
            for category in categories {
                *records
                    .entry(format!("{}/{}", item.kind, category_key(&category)))
                    .or_default() += 1;
            }
        }
    }
    DaySummary {
        date: received.ended_at.to_offset(time::UtcOffset::UTC).date(),
        source: received.source.clone(),
        label: received.label.clone(),
        runs: 1,
        failed: u64::from(received.outcome == Outcome::Failed),
        open_by_kind,
        records,
        counters: received.counters.clone(),
    }
}

/// A category as a summary's attribute name and the dashboard's row:
/// outside text, so kept short and plain.
pub fn category_key(category: &str) -> String {
    category
        .chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Why the heartbeat speaks of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Concern {
    /// No report for longer than its interval plus the margin.
    Silent { minutes_late: i64 },
    /// Its last reports in a row ended `failed`.
    Failing { in_a_row: u32 },
}

/// The sources the heartbeat alerts on, with why, from the current state.
/// A source whose function is not watched (it runs on events) is never
/// silent, but can still be failing.
pub fn concerns(
    currents: &[Current],
    intervals: &BTreeMap<String, u32>,
    margin_minutes: u32,
    failures_alert: u32,
    now: OffsetDateTime,
) -> Vec<(Source, Concern)> {
    let mut out = Vec::new();
    for current in currents {
        if let Some(minutes) = intervals.get(&current.source.function) {
            let due = current.ended_at
                + Duration::minutes(i64::from(*minutes) + i64::from(margin_minutes));
            if now > due {
                out.push((
                    current.source.clone(),
                    Concern::Silent {
                        minutes_late: (now - due).whole_minutes(),
                    },
                ));
            }
        }
        if current.failures_in_a_row >= failures_alert {
            out.push((
                current.source.clone(),
                Concern::Failing {
                    in_a_row: current.failures_in_a_row,
                },
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-12-07 12:00 UTC);

    fn received(
        run: &str,
        ended_at: OffsetDateTime,
        items: Vec<shared::envelope::Item>,
    ) -> Received {
        Received {
            event_id: format!("e-{run}"),
            source: Source {
                account: "111111111111".into(),
                region: "eu-west-1".into(),
                function: "waf-ip-blocker".into(),
            },
            label: None,
            run_id: run.into(),
            started_at: ended_at,
            ended_at,
            outcome: Outcome::Ok,
            reason: None,
            dry_run: false,
            counters: BTreeMap::new(),
            schema_version: 1,
            unknown_schema: false,
            items,
            items_omitted: 0,
            flags: Vec::new(),
        }
    }

    fn stored(key: &str, order_of: &Received, last_seen: OffsetDateTime) -> Stored {
        Stored {
            item: OpenItem {
                source: order_of.source.clone(),
                label: None,
                kind: "blocked_address".into(),
                key: key.into(),
                fields: serde_json::Map::new(),
                first_seen: datetime!(2026-12-01 00:00 UTC),
                last_seen,
            },
            order: order_of.order(),
            closed: false,
        }
    }

    #[test]
    fn an_unchanged_item_is_left_alone_until_it_needs_a_refresh_and_keeps_its_first_sighting() {
        let old = received("r0", NOW - Duration::hours(1), vec![]);
        let items = vec![shared::envelope::Item::open(
            "blocked_address",
            "192.0.2.1/32",
        )];
        let now = received("r1", NOW, items);
        let recent = [stored("192.0.2.1/32", &old, NOW - Duration::hours(1))];
        let changes = item_changes(&now, &recent, &[], NOW);
        assert_eq!((changes.put.len(), changes.unchanged), (0, 1));
        let stale = [stored("192.0.2.1/32", &old, NOW - Duration::hours(13))];
        let changes = item_changes(&now, &stale, &[], NOW);
        assert_eq!(changes.put.len(), 1);
        assert_eq!(changes.put[0].first_seen, datetime!(2026-12-01 00:00 UTC));
        assert_eq!(changes.open_by_kind["blocked_address"], 1);
    }

    #[test]
    fn a_late_report_does_not_touch_an_item_a_later_report_wrote() {
        let later = received("r2", NOW, vec![]);
        let late = received(
            "r1",
            NOW - Duration::minutes(5),
            vec![shared::envelope::Item::closed(
                "blocked_address",
                "192.0.2.1/32",
            )],
        );
        let changes = item_changes(&late, &[stored("192.0.2.1/32", &later, NOW)], &[], NOW);
        assert!(changes.delete.is_empty());
        assert_eq!(changes.open_by_kind["blocked_address"], 1);
    }

    #[test]
    fn a_source_past_its_cap_stores_no_new_item_but_still_closes() {
        let old = received("r0", NOW - Duration::hours(1), vec![]);
        let full: Vec<Stored> = (0..MAX_ITEMS_PER_SOURCE)
            .map(|i| stored(&format!("k{i}"), &old, NOW))
            .collect();
        let report = received(
            "r1",
            NOW,
            vec![
                shared::envelope::Item::open("blocked_address", "new"),
                shared::envelope::Item::closed("blocked_address", "k0"),
            ],
        );
        let changes = item_changes(&report, &full, &[], NOW);
        assert_eq!(changes.over_cap, 1);
        assert_eq!(changes.delete.len(), 1);
    }

    #[test]
    fn the_last_mention_of_a_key_counts_and_a_close_leaves_a_tombstone_even_for_the_unknown() {
        let report = received(
            "r1",
            NOW,
            vec![
                shared::envelope::Item::closed("blocked_address", "192.0.2.1/32"),
                shared::envelope::Item::open("blocked_address", "192.0.2.1/32"),
                shared::envelope::Item::closed("blocked_address", "never-seen"),
            ],
        );
        let changes = item_changes(&report, &[], &[], NOW);
        assert_eq!(changes.put.len(), 1);
        assert_eq!(changes.put[0].key, "192.0.2.1/32");
        assert_eq!(
            changes.delete,
            [("blocked_address".to_owned(), "never-seen".to_owned())]
        );
    }

    #[test]
    fn a_late_close_spares_what_the_newer_report_named_open_unchanged() {
        let late = received(
            "r1",
            NOW - Duration::minutes(5),
            vec![shared::envelope::Item::closed("window", "w-1")],
        );
        let protected = [item_hash("window", "w-1")];
        assert!(item_changes(&late, &[], &protected, NOW).delete.is_empty());
    }

    #[test]
    fn outside_input_is_bounded_and_flagged_not_failed() {
        let mut report = received(
            "r1",
            datetime!(2099-01-01 00:00 UTC),
            vec![
                shared::envelope::Item::open("k".repeat(1000), "x"),
                shared::envelope::Item::open("window", "w"),
            ],
        );
        report.source.region = "r".repeat(1100);
        report.label = Some("re-auth at https://evil.example".into());
        report.counters = (0..400).map(|i| (format!("c{i}"), 1)).collect();
        let bounded = bound(report, NOW);
        assert_eq!(bounded.ended_at, NOW);
        assert_eq!(bounded.source.region, "unknown");
        assert_eq!(bounded.label, None);
        assert_eq!(bounded.counters.len(), MAX_COUNTERS);
        assert_eq!(bounded.items.len(), 1);
        assert_eq!(bounded.flags.len(), 5, "{:?}", bounded.flags);
    }

    #[test]
    fn silence_counts_from_the_last_report_and_failures_from_the_streak() {
        let report = received("r1", NOW - Duration::minutes(1440 + 61), vec![]);
        let mut current = next_current(&report, None, Vec::new()).unwrap();
        current.source.function = "log-retention".into();
        let intervals = BTreeMap::from([("log-retention".to_owned(), 1440)]);
        let concerns_now = concerns(std::slice::from_ref(&current), &intervals, 60, 3, NOW);
        assert_eq!(
            concerns_now,
            [(current.source.clone(), Concern::Silent { minutes_late: 1 })]
        );
        assert!(concerns(std::slice::from_ref(&current), &intervals, 120, 3, NOW).is_empty());

        let mut failed = received("r2", NOW, vec![]);
        failed.outcome = Outcome::Failed;
        let stored = Some((
            report.order(),
            next_current(&report, None, Vec::new()).unwrap(),
        ));
        let once = next_current(&failed, stored.as_ref(), Vec::new()).unwrap();
        assert_eq!(once.failures_in_a_row, 1);
        assert!(
            next_current(&failed, Some(&(failed.order(), once)), Vec::new()).is_none(),
            "a redelivery"
        );
    }

    #[test]
    fn records_are_counted_by_category_and_a_dry_run_counts_none() {
        let alert = shared::envelope::Item::open("audit_alert", "db/1")
            .with("categories", json!(["ddl", "Privilege <x>"]));
        let report = received("r1", NOW, vec![alert]);
        let day = day_delta(&report, BTreeMap::new());
        assert_eq!(day.records["audit_alert"], 1, "one alert");
        assert_eq!(day.records["audit_alert/ddl"], 1);
        assert_eq!(day.records["audit_alert/privilege__x_"], 1);
        let mut dry = report;
        dry.dry_run = true;
        assert!(day_delta(&dry, BTreeMap::new()).records.is_empty());
    }
}
