//! What invoked the collector: a report forwarded to the hub's bus, or one
//! of its schedules.

use serde::Deserialize;
use serde_json::Value;
use shared::input::{EventKind, classify};

use crate::error::Error;

pub use shared::events::SOURCE;

#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// A function's result event, as the hub's bus delivered it, or a
    /// GuardDuty, Security Hub or Health event forwarded the same way.
    Report(Value),
    /// A schedule's job, or an operator's.
    Job(Job),
}

/// The hub's scheduled work; each schedule's rule sends `{"job": "..."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    /// Alert on sources gone silent or failing in a row.
    Heartbeat,
    /// Render the dashboard now.
    Render,
    /// The daily digest: the numbers and a link to the dashboard.
    Digest,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manual {
    job: Job,
}

pub fn parse(payload: Value) -> Result<Trigger, Error> {
    match classify(&payload) {
        EventKind::EventBridge { source, .. }
            if source == SOURCE || crate::findings::function_of(&source).is_some() =>
        {
            Ok(Trigger::Report(payload))
        }
        EventKind::Manual => {
            let manual: Manual = serde_json::from_value(payload).map_err(|e| {
                Error::UnsupportedEvent(format!(
                    "a schedule or an operator sends {{\"job\": \"heartbeat\" | \"render\" | \"digest\"}}: {e}"
                ))
            })?;
            Ok(Trigger::Job(manual.job))
        }
        other => Err(Error::UnsupportedEvent(format!(
            "expected a toilkit result event (source {SOURCE:?}) or {{\"job\": ...}}, got {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reports_and_jobs_are_told_apart_and_anything_else_named() {
        let report =
            json!({"source": "toilkit", "detail-type": "log-retention report", "detail": {}});
        assert!(matches!(parse(report), Ok(Trigger::Report(_))));
        assert_eq!(
            parse(json!({"job": "heartbeat"})).unwrap(),
            Trigger::Job(Job::Heartbeat)
        );
        let error = parse(json!({"job": "reboot"})).unwrap_err().to_string();
        assert!(error.contains("heartbeat"), "{error}");
        let error = parse(json!({"source": "aws.ec2", "detail-type": "x"}))
            .unwrap_err()
            .to_string();
        assert!(error.contains("aws.ec2"), "{error}");
    }
}
