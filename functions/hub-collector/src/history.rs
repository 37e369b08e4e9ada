//! The history bucket's layout: every report as it came, one JSON line an
//! object ([`crate::bucket`] writes it).
//!
//! Keys are partitioned by date and account for the template's Athena table
//! (`reports/date=YYYY-MM-DD/account=<id>/`), and named by the event id, so
//! a redelivered event writes the same object again and never a second one.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::plan::{Received, Rejected, timestamp};

/// Where the reports Athena reads live.
pub const REPORTS_PREFIX: &str = "reports/";
/// Where events that were not reports are kept, for a person to read.
pub const REJECTED_PREFIX: &str = "rejected/";

/// The object key of a received report.
pub fn report_key(received: &Received) -> String {
    let date = received.ended_at.to_offset(time::UtcOffset::UTC).date();
    format!(
        "{REPORTS_PREFIX}date={date}/account={}/{}-{}.json",
        received.source.account,
        received.source.function,
        safe(&received.event_id)
    )
}

/// The object key of a rejected event: by the day it arrived.
pub fn rejected_key(rejected: &Rejected, now: OffsetDateTime, raw: &[u8]) -> String {
    let name = rejected.event_id.as_deref().map_or_else(
        || format!("{:016x}", shared::dynamo::stable_hash(raw)),
        safe,
    );
    format!(
        "{REJECTED_PREFIX}date={}/{name}.json",
        now.to_offset(time::UtcOffset::UTC).date()
    )
}

/// An event id as part of a key: ids are UUIDs, but the event is outside input.
fn safe(id: &str) -> String {
    id.chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The line Athena reads: the columns of the table, then the envelope whole
/// (`detail`) for what the columns do not hold, as JSON text: the table
/// declares it a string, since the envelope's shape varies by function and
/// schema version, and a JSON SerDe reads an object into no string column.
pub fn report_line(received: &Received, event: &Value, received_at: OffsetDateTime) -> String {
    json!({
        "event_id": received.event_id,
        "account": received.source.account,
        "region": received.source.region,
        "function": received.source.function,
        "label": received.label,
        "run_id": received.run_id,
        "started_at": timestamp(received.started_at),
        "ended_at": timestamp(received.ended_at),
        "received_at": timestamp(received_at),
        "outcome": received.outcome,
        "dry_run": received.dry_run,
        "schema_version": received.schema_version,
        "flags": received.flags,
        "counters": received.counters,
        "items_total": received.items.len() as u64 + received.items_omitted,
        "detail": event.get("detail").map(Value::to_string),
    })
    .to_string()
}
