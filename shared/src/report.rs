//! The result every function returns.
//!
//! A run first *plans* (what would change, and why), then *applies* the plan
//! unless it is a dry run. The report carries both, plus what was skipped and
//! what failed, so an operator reading one log line knows exactly what the
//! function did. It is the Lambda response and is logged as one JSON line
//! (see [`crate::output`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::envelope::Item;

/// At most this many entries are listed per list; beyond it only the count
/// grows, so a sweep of 100,000 log groups still fits in a Lambda response
/// (6 MB) and a CloudWatch log event (256 KB).
pub const MAX_LISTED: usize = 200;

/// One change the function decided on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// What kind of change: `set_retention`, `block_ip`, `add_rule`...
    pub action: String,
    /// The resource it applies to: an ARN, a log group name, an IP.
    pub target: String,
    /// Why, in words an operator understands.
    pub reason: String,
    /// Before/after values and anything else worth showing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

impl Action {
    pub fn new(
        action: impl Into<String>,
        target: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            action: action.into(),
            target: target.into(),
            reason: reason.into(),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

/// A resource deliberately left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skip {
    pub target: String,
    pub reason: String,
}

/// An action that was attempted and failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub target: String,
    pub action: String,
    pub error: String,
}

/// How many entries of each list were left out past [`MAX_LISTED`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Omitted {
    #[serde(default)]
    pub planned: u64,
    #[serde(default)]
    pub applied: u64,
    #[serde(default)]
    pub skipped: u64,
    #[serde(default)]
    pub failed: u64,
}

impl Omitted {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The result of one run of one function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub function: String,
    /// The Lambda request id of the invocation that produced it, so an
    /// operator can go from a report to the invocation's log and back.
    /// Absent outside an invocation (a test, the demo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub dry_run: bool,
    /// True when the run stopped before its work was done (the deadline, a
    /// cap); the next run carries on.
    pub stopped_early: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    pub planned: Vec<Action>,
    pub applied: Vec<Action>,
    pub skipped: Vec<Skip>,
    pub failed: Vec<Failure>,
    pub counters: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "Omitted::is_empty")]
    pub omitted: Omitted,
    /// Function-specific results (a status listing, a digest summary).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub details: serde_json::Map<String, serde_json::Value>,
    /// What the run knows of, under stable keys, for the result event only
    /// (see [`crate::envelope`]): the log line and the response already
    /// carry the same facts as actions.
    #[serde(skip)]
    pub items: Vec<Item>,
}

impl Report {
    /// A report of the invocation being served: it takes the request id
    /// from [`crate::runtime::request_id`].
    pub fn new(function: impl Into<String>, dry_run: bool) -> Self {
        Self {
            function: function.into(),
            request_id: crate::runtime::request_id(),
            dry_run,
            stopped_early: false,
            stop_reason: None,
            planned: Vec::new(),
            applied: Vec::new(),
            skipped: Vec::new(),
            failed: Vec::new(),
            counters: BTreeMap::new(),
            omitted: Omitted::default(),
            details: serde_json::Map::new(),
            items: Vec::new(),
        }
    }

    /// Adds an item to the result event.
    pub fn item(&mut self, item: Item) {
        self.items.push(item);
    }

    pub fn plan(&mut self, action: Action) {
        self.incr("planned");
        push_capped(&mut self.planned, &mut self.omitted.planned, action);
    }

    pub fn applied(&mut self, action: Action) {
        self.incr("applied");
        push_capped(&mut self.applied, &mut self.omitted.applied, action);
    }

    pub fn skip(&mut self, target: impl Into<String>, reason: impl Into<String>) {
        self.incr("skipped");
        let skip = Skip {
            target: target.into(),
            reason: reason.into(),
        };
        push_capped(&mut self.skipped, &mut self.omitted.skipped, skip);
    }

    pub fn fail(
        &mut self,
        target: impl Into<String>,
        action: impl Into<String>,
        error: impl ToString,
    ) {
        self.incr("failed");
        let failure = Failure {
            target: target.into(),
            action: action.into(),
            error: error.to_string(),
        };
        push_capped(&mut self.failed, &mut self.omitted.failed, failure);
    }

    pub fn add(&mut self, counter: &str, n: u64) {
        *self.counters.entry(counter.to_owned()).or_default() += n;
    }

    pub fn incr(&mut self, counter: &str) {
        self.add(counter, 1);
    }

    pub fn counter(&self, counter: &str) -> u64 {
        self.counters.get(counter).copied().unwrap_or(0)
    }

    /// Marks the run as stopped before its work was done.
    pub fn stop_early(&mut self, reason: impl Into<String>) {
        self.stopped_early = true;
        self.stop_reason = Some(reason.into());
    }

    pub fn detail(&mut self, key: &str, value: serde_json::Value) {
        self.details.insert(key.to_owned(), value);
    }

    /// Keeps the first `keep` entries of each list, counting the rest in
    /// `omitted`: for a response that must stay small (Step Functions takes
    /// 256 KB from a task), after the whole report has been emitted.
    pub fn compact(&mut self, keep: usize) {
        fn cut<T>(list: &mut Vec<T>, omitted: &mut u64, keep: usize) {
            if list.len() > keep {
                *omitted += (list.len() - keep) as u64;
                list.truncate(keep);
            }
        }
        cut(&mut self.planned, &mut self.omitted.planned, keep);
        cut(&mut self.applied, &mut self.omitted.applied, keep);
        cut(&mut self.skipped, &mut self.omitted.skipped, keep);
        cut(&mut self.failed, &mut self.omitted.failed, keep);
    }

    /// True when nothing failed.
    pub fn succeeded(&self) -> bool {
        self.counter("failed") == 0
    }
}

fn push_capped<T>(list: &mut Vec<T>, omitted: &mut u64, item: T) {
    if list.len() < MAX_LISTED {
        list.push(item);
    } else {
        *omitted += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compacting_keeps_the_first_entries_and_counts_the_rest() {
        let mut report = Report::new("log-retention", false);
        for i in 0..(MAX_LISTED + 3) {
            report.fail(format!("/g/{i}"), "set_retention", "AccessDenied");
        }
        report.skip("/g/x", "exempt");
        report.compact(5);
        assert_eq!(report.failed.len(), 5);
        assert_eq!(report.failed[4].target, "/g/4");
        assert_eq!(report.omitted.failed, (MAX_LISTED + 3 - 5) as u64);
        assert_eq!(report.skipped.len(), 1);
        assert_eq!(report.omitted.skipped, 0);
        assert_eq!(report.counter("failed"), (MAX_LISTED + 3) as u64);
    }

    #[test]
    fn serializes_to_the_documented_shape() {
        let mut report = Report::new("log-retention", true);
        report.plan(
            Action::new(
                "set_retention",
                "/aws/lambda/api",
                "no retention; default 30 days",
            )
            .with_detail(json!({"before": null, "after": 30})),
        );
        report.skip("/audit/trail", "exempt tag toilkit:keep");
        report.fail(
            "/ecs/web",
            "set_retention",
            "ThrottlingException: Rate exceeded",
        );
        report.add("groups_scanned", 3);
        report.stop_early("deadline");
        let value = serde_json::to_value(&report).unwrap();
        assert_eq!(
            value,
            json!({
                "function": "log-retention",
                "dry_run": true,
                "stopped_early": true,
                "stop_reason": "deadline",
                "planned": [{"action": "set_retention", "target": "/aws/lambda/api",
                             "reason": "no retention; default 30 days",
                             "detail": {"before": null, "after": 30}}],
                "applied": [],
                "skipped": [{"target": "/audit/trail", "reason": "exempt tag toilkit:keep"}],
                "failed": [{"target": "/ecs/web", "action": "set_retention",
                            "error": "ThrottlingException: Rate exceeded"}],
                "counters": {"failed": 1, "groups_scanned": 3, "planned": 1, "skipped": 1}
            })
        );
        let back: Report = serde_json::from_value(value).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn long_lists_are_capped_but_counted() {
        let mut report = Report::new("waf-ip-blocker", false);
        for i in 0..(MAX_LISTED + 5) {
            report.applied(Action::new("block_ip", format!("192.0.2.{i}"), "flood"));
        }
        assert_eq!(report.applied.len(), MAX_LISTED);
        assert_eq!(report.omitted.applied, 5);
        assert_eq!(report.counter("applied"), (MAX_LISTED + 5) as u64);
        let text = serde_json::to_string(&report).unwrap();
        assert!(text.contains("\"omitted\":{\"planned\":0,\"applied\":5"));
    }
}
