//! The result event: what a run did, in a versioned shape a central
//! collector can store without knowing each function's report.
//!
//! The event detail is an [`Envelope`]: who ran (function, account, Region,
//! label), which run (`run_id`, start and end), how it ended, its counters,
//! and the items it knows of, each under a key that names the same thing in
//! every run, so the receiving side keeps current state from events alone.
//! The report itself stays in the function's log and Lambda response.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::report::Report;

/// Raised only when a field changes meaning or is removed; a new optional
/// field keeps the version, and a reader ignores fields it does not know.
pub const SCHEMA_VERSION: u32 = 1;

/// EventBridge refuses an entry over 256 KB, counting the source, detail
/// type and detail; the detail stays under this, with room for the rest.
pub const MAX_DETAIL_BYTES: usize = 240 * 1024;

/// A stop reason or an error is one sentence; a longer one is cut (the log has it all),
/// so the room left for items does not depend on it.
const MAX_STOP_REASON_CHARS: usize = 1_000;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Its work is done and nothing failed.
    Ok,
    /// Nothing failed, but it stopped before its work was done (deadline,
    /// cap); the next run carries on.
    StoppedEarly,
    /// At least one action failed.
    Failed,
}

impl Outcome {
    /// `invocation_failed`: the invocation returned an error after its
    /// report, which may list no failure of its own (a refused request).
    pub fn of(report: &Report, invocation_failed: bool) -> Self {
        if invocation_failed || !report.succeeded() {
            Self::Failed
        } else if report.stopped_early {
            Self::StoppedEarly
        } else {
            Self::Ok
        }
    }
}

/// Whether an item is still there after this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// Present (blocked, non-compliant, on, retained...) as of this run.
    Open,
    /// This run saw it end (unblocked, compliant again, off, deleted): a
    /// collector drops its key.
    Closed,
}

/// One thing a function knows of: an address it blocks, a violation, a
/// maintenance window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// What sort of thing: `blocked_address`, `violation`...; keys are
    /// unique within a kind, for one function in one account and Region.
    pub kind: String,
    /// The same thing gets the same key in every run (an address, a rule and
    /// resource, a listener ARN), never a run's own id or time.
    pub key: String,
    pub state: ItemState,
    /// What a dashboard shows of it (an expiry, a severity, an owner).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Item {
    pub fn open(kind: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            key: key.into(),
            state: ItemState::Open,
            fields: serde_json::Map::new(),
        }
    }

    pub fn closed(kind: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            state: ItemState::Closed,
            ..Self::open(kind, key)
        }
    }

    /// Adds a field; a `null` value is left out, so absent and unknown read
    /// the same.
    pub fn with(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        let value = value.into();
        if !value.is_null() {
            self.fields.insert(name.to_owned(), value);
        }
        self
    }
}

/// The event detail of one run's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub schema_version: u32,
    /// The toilkit release that produced it.
    pub toilkit_version: String,
    pub function: String,
    /// From the invoked function's ARN; `null` outside Lambda.
    pub account: Option<String>,
    /// The function's Region (`AWS_REGION`).
    pub region: Option<String>,
    /// `RESULT_LABEL`: the product or environment, as the operator names it.
    pub label: Option<String>,
    /// The Lambda request id: the invocation's log lines carry it too.
    pub run_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub ended_at: OffsetDateTime,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// The error the invocation returned, when it failed as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub dry_run: bool,
    pub counters: BTreeMap<String, u64>,
    pub items: Vec<Item>,
    /// Every item the run knew of, listed or not.
    pub items_total: u64,
    /// Items left out to keep the event under EventBridge's limit.
    pub items_omitted: u64,
    /// The left-out items counted by kind, when any were.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub items_omitted_by_kind: BTreeMap<String, u64>,
}

/// Where and when a run ran: what the report itself does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub account: Option<String>,
    pub region: Option<String>,
    pub label: Option<String>,
    pub run_id: Option<String>,
    pub started_at: Option<SystemTime>,
}

impl Origin {
    /// The invocation being served (see [`crate::runtime::invocation`]),
    /// with the Region and label read at cold start.
    pub fn current(region: Option<String>, label: Option<String>) -> Self {
        let invocation = crate::runtime::invocation();
        Self {
            account: invocation
                .as_ref()
                .and_then(|i| account_of(&i.function_arn)),
            region,
            label,
            run_id: invocation
                .as_ref()
                .map(|i| i.request_id.clone())
                .filter(|id| !id.is_empty()),
            started_at: invocation.map(|i| i.started_at),
        }
    }
}

/// Milliseconds are as precise as a run's times are worth reading.
fn to_millisecond(time: SystemTime) -> OffsetDateTime {
    let time = OffsetDateTime::from(time);
    time.replace_millisecond(time.millisecond())
        .expect("a millisecond of the time itself is valid")
}

/// The account of an ARN (`arn:aws:lambda:eu-west-1:123456789012:function:x`).
pub fn account_of(arn: &str) -> Option<String> {
    let account = arn.split(':').nth(4)?;
    is_account_id(account).then(|| account.to_owned())
}

/// Whether `text` is an AWS account id: twelve digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

impl Envelope {
    /// The envelope of `report`, ending now, with as many of its items as
    /// fit in [`MAX_DETAIL_BYTES`]; `error`: the invocation failed with it.
    pub fn new(report: &Report, error: Option<&str>, origin: &Origin) -> Self {
        let now = SystemTime::now();
        let mut envelope = Self {
            schema_version: SCHEMA_VERSION,
            toilkit_version: env!("CARGO_PKG_VERSION").to_owned(),
            function: report.function.clone(),
            account: origin.account.clone(),
            region: origin.region.clone(),
            label: origin.label.clone(),
            run_id: origin.run_id.clone().or_else(|| report.request_id.clone()),
            started_at: to_millisecond(origin.started_at.unwrap_or(now)),
            ended_at: to_millisecond(now),
            outcome: Outcome::of(report, error.is_some()),
            stop_reason: report
                .stop_reason
                .as_deref()
                .map(|r| crate::slack::truncate(r, MAX_STOP_REASON_CHARS)),
            error: error.map(|e| crate::slack::truncate(e, MAX_STOP_REASON_CHARS)),
            dry_run: report.dry_run,
            counters: report.counters.clone(),
            items: Vec::new(),
            items_total: 0,
            items_omitted: 0,
            items_omitted_by_kind: BTreeMap::new(),
        };
        // A dry run changed nothing, so its items would describe a state
        // that does not exist: a collector would open what was never
        // blocked and drop what is still there. It publishes none.
        if report.dry_run {
            return envelope;
        }
        // Closed items first: a collector that never hears an item closed
        // keeps it open for ever, and the run that saw it end is the only one
        // that will say so, while open items are said again by later runs.
        let mut items: Vec<&Item> = report.items.iter().collect();
        items.sort_by_key(|i| i.state != ItemState::Closed);
        envelope.items_total = items.len() as u64;
        envelope.fill(&items, MAX_DETAIL_BYTES);
        envelope
    }

    /// Lists items in order while the detail stays within `max` bytes, and
    /// counts the rest by kind. Sizes come from serializing each item, so
    /// the event is always whole JSON.
    fn fill(&mut self, items: &[&Item], max: usize) {
        // Room for the largest the omitted counts can be, with every kind
        // named, so adding them never pushes the detail over.
        let kinds: std::collections::BTreeSet<&str> =
            items.iter().map(|i| i.kind.as_str()).collect();
        let reserve = 32 + kinds.iter().map(|k| k.len() + 24).sum::<usize>();
        let mut size = self.json().len() + reserve;
        let mut listed = 0;
        for &item in items {
            let bytes = serde_json::to_string(item)
                .expect("an item always serializes")
                .len()
                + 1;
            if size + bytes > max {
                break;
            }
            size += bytes;
            listed += 1;
        }
        self.items = items[..listed].iter().map(|&i| i.clone()).collect();
        for item in &items[listed..] {
            *self
                .items_omitted_by_kind
                .entry(item.kind.clone())
                .or_default() += 1;
        }
        self.items_omitted = (items.len() - listed) as u64;
    }

    /// The event detail.
    pub fn json(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Action;
    use serde_json::{Value, json};

    fn origin() -> Origin {
        Origin {
            account: Some("123456789012".into()),
            region: Some("eu-west-1".into()),
            label: Some("payments-prod".into()),
            run_id: Some("8476a536-e9f4-11e8-9739-2dfe598c3fcd".into()),
            started_at: Some(
                SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
            ),
        }
    }

    #[test]
    fn the_envelope_names_the_run_and_its_items() {
        let mut report = Report::new("waf-ip-blocker", false);
        report.applied(Action::new("block_ip", "192.0.2.7", "flood"));
        report.add("new_blocks", 1);
        report.item(
            Item::open("blocked_address", "192.0.2.7")
                .with("expires_at", "2023-11-15T22:13:20Z")
                .with("rule", Value::Null),
        );
        let envelope = Envelope::new(&report, None, &origin());
        let value: Value = serde_json::from_str(&envelope.json()).unwrap();
        assert_eq!(value["schema_version"], 1);
        assert_eq!(value["toilkit_version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(value["account"], "123456789012");
        assert_eq!(value["run_id"], "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
        assert_eq!(value["started_at"], "2023-11-14T22:13:20Z");
        assert_eq!(value["outcome"], "ok");
        assert_eq!(value["counters"]["new_blocks"], 1);
        assert_eq!(
            value["items"],
            json!([{"kind": "blocked_address", "key": "192.0.2.7", "state": "open",
                    "fields": {"expires_at": "2023-11-15T22:13:20Z"}}])
        );
        assert_eq!(value["items_total"], 1);
        assert_eq!(value["items_omitted"], 0);
        assert!(value.get("items_omitted_by_kind").is_none());
        let back: Envelope = serde_json::from_value(value).unwrap();
        assert_eq!(back, envelope);
    }

    #[test]
    fn the_outcome_is_failed_over_stopped_early_over_ok() {
        let mut report = Report::new("log-retention", false);
        assert_eq!(Outcome::of(&report, false), Outcome::Ok);
        report.stop_early("deadline");
        assert_eq!(Outcome::of(&report, false), Outcome::StoppedEarly);
        assert_eq!(Outcome::of(&report, true), Outcome::Failed);
        report.fail("/g", "set_retention", "AccessDenied");
        assert_eq!(Outcome::of(&report, false), Outcome::Failed);
    }

    #[test]
    fn the_account_comes_from_the_function_arn() {
        assert_eq!(
            account_of("arn:aws:lambda:eu-west-1:123456789012:function:toilkit-log-retention")
                .as_deref(),
            Some("123456789012")
        );
        assert_eq!(account_of(""), None);
        assert_eq!(account_of("arn:aws:lambda:eu-west-1::function:x"), None);
    }

    #[test]
    fn many_large_items_are_cut_whole_and_counted_under_the_limit() {
        let mut report = Report::new("config-triage", false);
        let owner = "o".repeat(3_000);
        let items: Vec<Item> = (0..400)
            .map(|i| {
                let kind = if i % 4 == 0 { "exemption" } else { "violation" };
                Item::open(kind, format!("rule-{i}/AWS::S3::Bucket/bucket-{i}"))
                    .with("owner", owner.clone())
            })
            .collect();
        report.items = items.clone();
        let envelope = Envelope::new(&report, None, &origin());
        let detail = envelope.json();
        assert!(
            detail.len() <= MAX_DETAIL_BYTES,
            "{} bytes over the limit",
            detail.len()
        );
        let back: Envelope = serde_json::from_str(&detail).expect("whole JSON");
        assert_eq!(back.items_total, 400);
        assert!(
            back.items.len() > 50,
            "as many as fit: {}",
            back.items.len()
        );
        assert_eq!(back.items.len() as u64 + back.items_omitted, 400);
        // The first items are the ones kept, each whole.
        assert_eq!(back.items[..], items[..back.items.len()]);
        assert_eq!(
            back.items_omitted_by_kind.values().sum::<u64>(),
            back.items_omitted
        );
    }

    /// Whatever the mix of sizes, kinds and limits, the detail is whole JSON
    /// within the limit and every item is listed or counted.
    #[test]
    fn any_mix_of_items_fits_the_limit_it_is_given() {
        let mut rng = fastrand::Rng::with_seed(18);
        for _ in 0..200 {
            let mut report = Report::new("waf-ip-blocker", rng.bool());
            report.add("lines", rng.u64(..));
            let items: Vec<Item> = (0..rng.usize(0..300))
                .map(|i| {
                    Item::open(
                        format!("k\"{}", rng.u8(0..6)),
                        "é<".repeat(rng.usize(0..50)) + &i.to_string(),
                    )
                    .with("detail", "x".repeat(rng.usize(0..2_000)))
                })
                .collect();
            let max = rng.usize(4_000..120_000);
            let mut envelope = Envelope::new(&report, None, &origin());
            envelope.items_total = items.len() as u64;
            envelope.fill(&items.iter().collect::<Vec<_>>(), max);
            let detail = envelope.json();
            assert!(detail.len() <= max, "{} > {max}", detail.len());
            let back: Envelope = serde_json::from_str(&detail).unwrap();
            assert_eq!(
                back.items.len() as u64 + back.items_omitted,
                items.len() as u64
            );
        }
    }

    #[test]
    fn a_dry_run_publishes_no_items() {
        let mut report = Report::new("log-retention", true);
        report.item(Item::closed("log_group", "eu-west-1:/ecs/old"));
        report.item(Item::open("log_group", "eu-west-1:/ecs/new").with("retention_days", 30));
        let envelope = Envelope::new(&report, None, &origin());
        assert!(envelope.dry_run);
        assert!(envelope.items.is_empty());
        assert_eq!((envelope.items_total, envelope.items_omitted), (0, 0));
    }

    #[test]
    fn closed_items_are_listed_before_open_ones_so_the_limit_never_drops_them() {
        let mut report = Report::new("waf-ip-blocker", false);
        for i in 0..2_000 {
            report.item(
                Item::open(
                    "blocked_address",
                    format!("10.0.{}.{}/32", i / 256, i % 256),
                )
                .with("reason", "x".repeat(200)),
            );
        }
        report.item(Item::closed("blocked_address", "192.0.2.1/32"));
        let envelope = Envelope::new(&report, None, &origin());
        assert!(envelope.items_omitted > 0, "the limit was reached");
        assert_eq!(
            envelope.items[0],
            Item::closed("blocked_address", "192.0.2.1/32")
        );
        assert_eq!(envelope.items_total, 2_001);
    }

    #[test]
    fn a_huge_stop_reason_does_not_crowd_out_the_items() {
        let mut report = Report::new("log-retention", false);
        report.stop_early("x".repeat(300 * 1024));
        report.item(Item::closed("deleted_group", "eu-west-1:/ecs/old"));
        let envelope = Envelope::new(&report, None, &origin());
        assert!(envelope.json().len() < MAX_DETAIL_BYTES);
        assert_eq!(envelope.items.len(), 1);
        assert_eq!(envelope.outcome, Outcome::StoppedEarly);
    }
}
