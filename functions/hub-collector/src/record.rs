//! What the hub keeps, as the collector writes it and the dashboard reads it.
//!
//! - [`Current`]: the last report of one function in one account and Region;
//! - [`OpenItem`]: one item that function says is open (a blocked address, a
//!   violation, a maintenance window), kept until a run closes it or no run
//!   names it again for [`ITEM_RETENTION_DAYS`];
//! - [`DaySummary`]: one function's day in one account and Region, the
//!   history the dashboard's trends read, a few hundred bytes however often
//!   the function ran.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shared::envelope::Outcome;
use time::{Date, OffsetDateTime};

/// An open item that no run names again for this long is dropped (by the
/// table's TTL): every function names what is open at least daily, and
/// records (audit alerts, denied calls) are shown for this long.
pub const ITEM_RETENTION_DAYS: i64 = 30;

/// Where a report came from: one function in one account and Region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Source {
    pub account: String,
    pub region: String,
    pub function: String,
}

/// The last report of one source, and how its recent runs went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Current {
    pub source: Source,
    /// `RESULT_LABEL` of the last report: the product or environment.
    pub label: Option<String>,
    pub run_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub ended_at: OffsetDateTime,
    pub outcome: Outcome,
    /// The stop reason or the error, whichever the report gave.
    pub reason: Option<String>,
    pub dry_run: bool,
    pub counters: BTreeMap<String, u64>,
    /// Reports in a row whose outcome was `failed`, this one included.
    pub failures_in_a_row: u32,
    pub schema_version: u32,
    /// The envelope's `schema_version` is one this hub does not know: the
    /// report is stored as it came and flagged, never dropped.
    pub unknown_schema: bool,
    /// Items the function knew of but left out of its event (size limit).
    pub items_omitted: u64,
    /// Hashes ([`crate::plan::item_hash`]) of the items this report named
    /// open without their record being written again (unchanged): a report
    /// older than this one that arrives late must not close them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub named_unchanged: Vec<u64>,
}

/// One open item of one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenItem {
    pub source: Source,
    pub label: Option<String>,
    /// `blocked_address`, `violation`, `window`, `log_group`, `audit_alert`...
    pub kind: String,
    /// Unique within its kind for one source.
    pub key: String,
    /// What the function said of it (expiry, severity, owner...).
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The first report that named it open, as far as the hub knows.
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    /// The last report that named it open.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
}

/// One source's day: the history the dashboard's trends read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaySummary {
    pub date: Date,
    pub source: Source,
    pub label: Option<String>,
    /// Reports received that day (a redelivered one counts once).
    pub runs: u64,
    /// Of which `failed`.
    pub failed: u64,
    /// Open items by kind, as the day's last report left them.
    pub open_by_kind: BTreeMap<String, u64>,
    /// Records named that day: each kind's count (`"audit_alert"`), and by
    /// kind and category, `audit_alert` by each of its `categories`,
    /// `denied_call` by `severity` (`"audit_alert/ddl"`).
    pub records: BTreeMap<String, u64>,
    /// The day's counters, summed over its reports.
    pub counters: BTreeMap<String, u64>,
}
