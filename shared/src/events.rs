//! Optional publishing of each report to an EventBridge bus
//! (`RESULT_EVENT_BUS`), so a platform team can gather every product
//! account's results in one place.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_types::SdkConfig;

use crate::config::Env;
use crate::report::Report;

/// EventBridge accepts at most 256 KB per entry; keep room for the envelope.
const MAX_DETAIL_BYTES: usize = 240 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("could not publish the report to event bus {bus}: {message}")]
    Put { bus: String, message: String },
    #[error("event bus {bus} rejected the report: {code}: {message}")]
    Rejected {
        bus: String,
        code: String,
        message: String,
    },
}

/// Publishes reports to one bus.
#[derive(Debug, Clone)]
pub struct Publisher {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl Publisher {
    /// Reads `RESULT_EVENT_BUS`; `None` when it is unset.
    pub fn bus_from_env(env: &mut Env) -> Option<String> {
        env.raw(&crate::settings::RESULT_EVENT_BUS)
            .map(str::to_owned)
    }

    pub fn new(sdk: &SdkConfig, bus: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_eventbridge::Client::new(sdk),
            bus: bus.into(),
        }
    }

    /// Sends the report as `source: toilkit`, `detail-type: "<function> report"`.
    /// A report too large for one event is sent without its lists (counters
    /// and flags kept), and says so.
    pub async fn publish(&self, report: &Report) -> Result<(), EventsError> {
        let entry = PutEventsRequestEntry::builder()
            .source("toilkit")
            .detail_type(format!("{} report", report.function))
            .detail(detail_json(report))
            .event_bus_name(&self.bus)
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| EventsError::Put {
                bus: self.bus.clone(),
                message: aws_smithy_types::error::display::DisplayErrorContext(e).to_string(),
            })?;
        if out.failed_entry_count() > 0 {
            let first = out.entries().first();
            return Err(EventsError::Rejected {
                bus: self.bus.clone(),
                code: first
                    .and_then(|e| e.error_code())
                    .unwrap_or("unknown")
                    .to_owned(),
                message: first
                    .and_then(|e| e.error_message())
                    .unwrap_or("")
                    .to_owned(),
            });
        }
        Ok(())
    }
}

/// The event detail: the whole report, or a summary when it would not fit.
pub fn detail_json(report: &Report) -> String {
    let full = serde_json::to_string(report).expect("a report always serializes");
    if full.len() <= MAX_DETAIL_BYTES {
        return full;
    }
    let mut summary = report.clone();
    summary.omitted.planned += summary.planned.len() as u64;
    summary.omitted.applied += summary.applied.len() as u64;
    summary.omitted.skipped += summary.skipped.len() as u64;
    summary.omitted.failed += summary.failed.len() as u64;
    summary.planned.clear();
    summary.applied.clear();
    summary.skipped.clear();
    summary.failed.clear();
    summary.details.clear();
    summary.detail(
        "truncated",
        serde_json::Value::from("report too large for one event; see the function's log"),
    );
    serde_json::to_string(&summary).expect("a report always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Action;

    #[test]
    fn an_oversized_report_is_summarised() {
        let mut report = Report::new("log-retention", false);
        let long = "x".repeat(4000);
        for i in 0..150 {
            report.applied(Action::new(
                "set_retention",
                format!("/g/{i}"),
                long.clone(),
            ));
        }
        let detail = detail_json(&report);
        assert!(detail.len() < MAX_DETAIL_BYTES);
        let back: Report = serde_json::from_str(&detail).unwrap();
        assert_eq!(back.omitted.applied, 150);
        assert_eq!(back.counter("applied"), 150);
    }
}
