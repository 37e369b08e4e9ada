//! Where a finished report goes: one JSON log line, the EMF metrics line, and
//! optionally the result event bus. The same report is the Lambda response.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_types::SdkConfig;

use crate::config::Env;
use crate::events::Publisher;
use crate::metrics;
use crate::report::Report;

/// Writes reports out. Built once at cold start.
#[derive(Debug, Clone, Default)]
pub struct Output {
    publisher: Option<Publisher>,
    /// No log lines: for the demo, which prints its own readable account.
    quiet: bool,
}

impl Output {
    /// Reads `RESULT_EVENT_BUS` and `RESULT_LABEL` (both optional).
    pub fn from_env(env: &mut Env, sdk: &SdkConfig) -> Self {
        let bus = Publisher::bus_from_env(env);
        let label = Publisher::label_from_env(env);
        Self {
            publisher: bus.map(|bus| Publisher::new(sdk, bus, label)),
            quiet: false,
        }
    }

    /// An output that writes no log lines (the demo's), publishing nothing.
    pub fn quiet() -> Self {
        Self {
            publisher: None,
            quiet: true,
        }
    }

    /// This output, also publishing each report to `bus` with `label` (the
    /// demo's, whose hub reads what every function published).
    pub fn publishing_to(mut self, sdk: &SdkConfig, bus: &str, label: Option<String>) -> Self {
        self.publisher = Some(Publisher::new(sdk, bus, label));
        self
    }

    /// Whether reports are published: a function whose items cost real work
    /// to list (one per block of a 10,000-address ledger) lists them only then.
    pub fn publishes(&self) -> bool {
        self.publisher.is_some()
    }

    /// Logs the report and its metrics, and publishes it if a bus is set.
    /// A publishing failure is logged, not returned: the work is done and the
    /// report is in the log either way.
    pub async fn emit(&self, report: &Report) {
        self.emit_with(report, None).await;
    }

    /// [`Output::emit`] for an invocation about to fail with `error`: its
    /// result event says `failed`, with the error, even when the report
    /// lists no failed action (a refused request, a contended write).
    ///
    /// `Send + Sync`, so a handler that calls it stays a `Send` future
    /// (benches and tests spawn handlers on a multi-threaded runtime).
    pub async fn emit_failed(
        &self,
        report: &Report,
        error: &(dyn std::error::Error + Send + Sync + 'static),
    ) {
        let message = crate::runtime::message_with_sources(error);
        self.emit_with(report, Some(&message)).await;
    }

    async fn emit_with(&self, report: &Report, error: Option<&str>) {
        if !self.quiet {
            println!("{}", report_line(report));
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            for doc in metrics::emf_documents(&report.function, &report.counters, now_ms) {
                println!("{doc}");
            }
        }
        if let Some(publisher) = &self.publisher
            && let Err(error) = publisher.publish(report, error).await
        {
            tracing::warn!(%error, "result event not published");
        }
    }
}

/// CloudWatch Logs refuses an event over 256 KB (262,144 bytes, counted
/// with 26 bytes of overhead); a longer line is split into pieces that are
/// no longer JSON. The report line stays under this, with room to spare.
pub const MAX_LOG_LINE_BYTES: usize = 240 * 1024;

/// The one JSON log line for a report, whole and under
/// [`MAX_LOG_LINE_BYTES`]. When the report is larger (an action's `detail`
/// listing 10,000 IP set changes), the longest lists are cut from the end
/// and each cut is counted in an `omitted` object beside the list
/// (`"omitted": {"changes": 9400}`, or the report's own `omitted` for its
/// lists). The Lambda response keeps everything.
pub fn report_line(report: &Report) -> String {
    line_within(report, MAX_LOG_LINE_BYTES)
}

fn line_within(report: &Report, max: usize) -> String {
    let full = serde_json::json!({"toilkit_report": report});
    let text = full.to_string();
    if text.len() <= max {
        return text;
    }
    let mut value = full;
    // Each round cuts the largest list by what is still too much; a few
    // rounds suffice because each cut is sized from the overshoot.
    for _ in 0..64 {
        let size = value.to_string().len();
        if size <= max {
            return value.to_string();
        }
        if !cut_largest_list(&mut value["toilkit_report"], size - max) {
            break;
        }
    }
    let text = value.to_string();
    if text.len() <= max {
        return text;
    }
    // Large text outside any list (a huge reason or error): log the facts
    // and say where the rest is.
    serde_json::json!({"toilkit_report": {
        "function": report.function,
        "request_id": report.request_id,
        "dry_run": report.dry_run,
        "stopped_early": report.stopped_early,
        "stop_reason": report.stop_reason.as_deref().map(|r| crate::slack::truncate(r, 1_000)),
        "counters": report.counters,
        "omitted": {"lists": "the report is too large for one log line; the Lambda response has all of it"},
    }})
    .to_string()
}

/// Finds the list (an array that is an object member) with the most bytes
/// of its own (not counting lists nested in it, which are cut on their own),
/// removes entries from its end worth at least `excess` bytes, and counts
/// them in the `omitted` object beside it. Returns false when there is no
/// list left to cut.
fn cut_largest_list(root: &mut serde_json::Value, excess: usize) -> bool {
    let mut best: Option<(usize, Vec<PathStep>)> = None;
    measure(root, &mut Vec::new(), &mut best);
    let Some((_, path)) = best else {
        return false;
    };
    let (key, parent_path) = match path.split_last() {
        Some((PathStep::Key(key), rest)) => (key.clone(), rest.to_vec()),
        _ => return false,
    };
    let Some(parent) = walk(root, &parent_path).and_then(|v| v.as_object_mut()) else {
        return false;
    };
    let Some(list) = parent.get_mut(&key).and_then(|v| v.as_array_mut()) else {
        return false;
    };
    // The separating comma of each removed entry counts too.
    let mut removed_bytes = 0;
    let mut removed = 0u64;
    while removed_bytes < excess + OMITTED_NOTE_BYTES
        && let Some(entry) = list.pop()
    {
        removed_bytes += entry.to_string().len() + 1;
        removed += 1;
    }
    if removed == 0 {
        return false;
    }
    let omitted = parent
        .entry("omitted")
        .or_insert_with(|| serde_json::Value::Object(Default::default()));
    match omitted {
        serde_json::Value::Object(counts) => {
            let before = counts.get(&key).and_then(|v| v.as_u64()).unwrap_or(0);
            counts.insert(key, (before + removed).into());
        }
        // A function's own `omitted` field that is not a count map: say it
        // under a name of our own instead of overwriting it.
        _ => {
            parent.insert(format!("{key}_omitted"), removed.into());
        }
    }
    true
}

/// Room for the `"omitted": {"key": n}` a cut adds.
const OMITTED_NOTE_BYTES: usize = 64;

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

/// Returns the serialized size of `value` and how much of it is inside
/// arrays; records in `best` the non-empty member array with the most bytes
/// outside the arrays nested in it.
fn measure(
    value: &serde_json::Value,
    path: &mut Vec<PathStep>,
    best: &mut Option<(usize, Vec<PathStep>)>,
) -> (usize, usize) {
    match value {
        serde_json::Value::Object(map) => {
            let mut total = 2 + map.len().saturating_sub(1);
            let mut in_arrays = 0;
            for (key, child) in map {
                path.push(PathStep::Key(key.clone()));
                let (size, nested) = measure(child, path, best);
                if let serde_json::Value::Array(items) = child
                    && !items.is_empty()
                {
                    let own = size - nested;
                    if best.as_ref().is_none_or(|(b, _)| own > *b) {
                        *best = Some((own, path.clone()));
                    }
                    in_arrays += size;
                } else {
                    in_arrays += nested;
                }
                path.pop();
                total += serde_json::Value::String(key.clone()).to_string().len() + 1 + size;
            }
            (total, in_arrays)
        }
        serde_json::Value::Array(items) => {
            let mut total = 2 + items.len().saturating_sub(1);
            let mut in_arrays = 0;
            for (i, child) in items.iter().enumerate() {
                path.push(PathStep::Index(i));
                let (size, nested) = measure(child, path, best);
                path.pop();
                total += size;
                in_arrays += if child.is_array() { size } else { nested };
            }
            (total, in_arrays)
        }
        scalar => (scalar.to_string().len(), 0),
    }
}

fn walk<'a>(
    mut value: &'a mut serde_json::Value,
    path: &[PathStep],
) -> Option<&'a mut serde_json::Value> {
    for step in path {
        value = match step {
            PathStep::Key(key) => value.get_mut(key.as_str())?,
            PathStep::Index(i) => value.get_mut(*i)?,
        };
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Action;
    use serde_json::{Value, json};

    fn ip_set_update(changes: usize) -> Report {
        let mut report = Report::new("waf-ip-blocker", false);
        let added: Vec<Value> = (0..changes)
            .map(|i| {
                json!({"op": "add", "cidr": format!("2001:db8:{:x}:{:x}::/64", i / 256, i % 256),
                            "reason": "rate above threshold on /login"})
            })
            .collect();
        report.applied(
            Action::new(
                "update_ip_set",
                "arn:aws:wafv2:eu-west-1:111122223333:regional/ipset/toilkit-v6/abc",
                "reconcile",
            )
            .with_detail(json!({"changes": added, "before": 0, "after": changes})),
        );
        report.add("new_blocks", changes as u64);
        report
    }

    #[test]
    fn a_report_of_ten_thousand_changes_logs_one_whole_line_under_the_limit() {
        let report = ip_set_update(10_000);
        let full = serde_json::to_string(&report).unwrap();
        assert!(
            full.len() > 256 * 1024,
            "the test needs a report over the limit"
        );

        let line = report_line(&report);
        assert!(line.len() < 256 * 1024, "{} bytes", line.len());
        let parsed: Value = serde_json::from_str(&line).expect("the line is JSON");
        let detail = &parsed["toilkit_report"]["applied"][0]["detail"];
        let kept = detail["changes"].as_array().unwrap().len() as u64;
        let omitted = detail["omitted"]["changes"]
            .as_u64()
            .expect("omitted count");
        assert!(kept > 100, "as much as fits is kept: {kept}");
        assert_eq!(kept + omitted, 10_000);
        assert_eq!(detail["after"], 10_000);
        assert_eq!(parsed["toilkit_report"]["counters"]["new_blocks"], 10_000);

        // The report itself (the Lambda response) still lists every change.
        let response = serde_json::to_value(&report).unwrap();
        assert_eq!(
            response["applied"][0]["detail"]["changes"]
                .as_array()
                .unwrap()
                .len(),
            10_000
        );
    }

    #[test]
    fn a_small_report_is_logged_unchanged() {
        let report = ip_set_update(3);
        assert_eq!(
            report_line(&report),
            json!({"toilkit_report": report}).to_string()
        );
    }

    #[test]
    fn text_too_large_for_any_cut_still_gives_a_whole_line() {
        let mut report = Report::new("log-retention", false);
        report.stop_early("x".repeat(300 * 1024));
        report.add("groups_scanned", 7);
        let line = report_line(&report);
        assert!(line.len() < 256 * 1024);
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["toilkit_report"]["counters"]["groups_scanned"], 7);
        assert!(parsed["toilkit_report"]["omitted"].is_object());
    }

    /// Random nested details (lists in objects in lists, long strings,
    /// keys needing escapes) under random limits: the line is always one
    /// JSON document within the limit, and nothing but lists is cut unless
    /// the fallback line says so.
    #[test]
    fn any_report_shape_gives_one_whole_line_within_the_limit() {
        fn value(rng: &mut fastrand::Rng, depth: u32) -> Value {
            match rng.u8(0..if depth > 2 { 3 } else { 6 }) {
                0 => json!(rng.u64(..)),
                1 => json!("\"<é>\\".repeat(rng.usize(0..40))),
                2 => Value::Null,
                3 | 4 => {
                    // Long lists only at the leaves, or the tree explodes.
                    let len = if depth >= 2 {
                        rng.usize(0..300)
                    } else {
                        rng.usize(0..6)
                    };
                    Value::Array((0..len).map(|_| value(rng, depth + 1)).collect())
                }
                _ => Value::Object(
                    (0..rng.usize(0..5))
                        .map(|i| (format!("k\"{i}"), value(rng, depth + 1)))
                        .collect(),
                ),
            }
        }
        let mut rng = fastrand::Rng::with_seed(13);
        for _ in 0..200 {
            let mut report = Report::new("waf-ip-blocker", false);
            for i in 0..rng.usize(0..5) {
                report.applied(
                    Action::new("update_ip_set", format!("arn:{i}"), "r")
                        .with_detail(value(&mut rng, 0)),
                );
            }
            report.detail("extra", value(&mut rng, 0));
            let max = rng.usize(1_000..40_000);
            let line = line_within(&report, max);
            assert!(line.len() <= max, "{} > {max}: {line}", line.len());
            let parsed: Value = serde_json::from_str(&line).expect("one JSON document");
            assert_eq!(parsed["toilkit_report"]["function"], "waf-ip-blocker");
        }
    }

    #[test]
    fn the_reports_own_lists_count_their_cuts_in_its_omitted() {
        let mut report = Report::new("log-retention", false);
        for i in 0..crate::report::MAX_LISTED {
            report.skip(format!("/group/{i}"), "k".repeat(2_000));
        }
        let line = line_within(&report, 100 * 1024);
        assert!(line.len() <= 100 * 1024);
        let parsed: Value = serde_json::from_str(&line).unwrap();
        let kept = parsed["toilkit_report"]["skipped"]
            .as_array()
            .unwrap()
            .len() as u64;
        let omitted = parsed["toilkit_report"]["omitted"]["skipped"]
            .as_u64()
            .unwrap();
        assert_eq!(kept + omitted, crate::report::MAX_LISTED as u64);
    }
}
