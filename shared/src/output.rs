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
    /// Reads `RESULT_EVENT_BUS` (optional).
    pub fn from_env(env: &mut Env, sdk: &SdkConfig) -> Self {
        Self {
            publisher: Publisher::bus_from_env(env).map(|bus| Publisher::new(sdk, bus)),
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

    /// Logs the report and its metrics, and publishes it if a bus is set.
    /// A publishing failure is logged, not returned: the work is done and the
    /// report is in the log either way.
    pub async fn emit(&self, report: &Report) {
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
            && let Err(error) = publisher.publish(report).await
        {
            tracing::warn!(%error, "result event not published");
        }
    }
}

/// The one JSON log line for a report.
pub fn report_line(report: &Report) -> String {
    serde_json::json!({"toilkit_report": report}).to_string()
}
