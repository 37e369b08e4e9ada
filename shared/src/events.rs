//! Optional publishing of each run's result to an EventBridge bus
//! (`RESULT_EVENT_BUS`), so a platform team can gather every product
//! account's results in one place. The event detail is the run's
//! [`Envelope`], labelled with `RESULT_LABEL`.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_types::SdkConfig;

use crate::config::Env;
use crate::envelope::{Envelope, Origin};
use crate::report::Report;

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

/// The `source` of every toilkit result event, which the hub's rule and
/// collector read.
pub const SOURCE: &str = "toilkit";

/// Publishes results to one bus.
#[derive(Debug, Clone)]
pub struct Publisher {
    client: aws_sdk_eventbridge::Client,
    bus: String,
    region: Option<String>,
    label: Option<String>,
}

impl Publisher {
    /// Reads `RESULT_EVENT_BUS`; `None` when it is unset.
    pub fn bus_from_env(env: &mut Env) -> Option<String> {
        env.raw(&crate::settings::RESULT_EVENT_BUS)
            .map(str::to_owned)
    }

    /// Reads `RESULT_LABEL`, and checks it when set, so a label that the
    /// collector would have to reject stops the deployment instead.
    pub fn label_from_env(env: &mut Env) -> Option<String> {
        let label = env.raw(&crate::settings::RESULT_LABEL)?.to_owned();
        if let Err(why) = crate::settings::check_result_label(&label) {
            env.problem(
                crate::settings::RESULT_LABEL.name,
                format!("{label:?} is invalid: {why}"),
                crate::settings::RESULT_LABEL.example,
            );
        }
        Some(label)
    }

    /// A publisher to `bus`, in the SDK's Region, labelling each event with
    /// `label`.
    pub fn new(sdk: &SdkConfig, bus: impl Into<String>, label: Option<String>) -> Self {
        Self {
            client: aws_sdk_eventbridge::Client::new(sdk),
            bus: bus.into(),
            region: sdk.region().map(ToString::to_string),
            label,
        }
    }

    /// Sends the run's envelope as `source: toilkit` ([`SOURCE`]),
    /// `detail-type: "<function> report"`; `error`: the invocation failed
    /// with it.
    pub async fn publish(&self, report: &Report, error: Option<&str>) -> Result<(), EventsError> {
        let origin = Origin::current(self.region.clone(), self.label.clone());
        let entry = PutEventsRequestEntry::builder()
            .source(SOURCE)
            .detail_type(format!("{} report", report.function))
            .detail(Envelope::new(report, error, &origin).json())
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
