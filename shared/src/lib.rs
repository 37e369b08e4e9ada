//! What every toilkit function shares.
//!
//! Each module is one concept:
//! - [`config`]: environment variables read once at cold start, every problem reported together;
//! - [`setting`]: the declaration of one variable, from which its documentation and deployment are generated;
//! - [`settings`]: the variables every function shares (`DRY_RUN`, the Slack webhook, the result bus);
//! - [`aws`]: the one place that loads the SDK configuration and builds clients;
//! - [`https`]: the one TLS stack (rustls with ring) for the SDK and Slack;
//! - [`report`]: the result every function returns and logs;
//! - [`slack`]: the incoming-webhook client and Block Kit messages;
//! - [`secret`]: webhook URLs fetched from Secrets Manager or SSM, never printed;
//! - [`metrics`]: CloudWatch Embedded Metric Format lines for a report's counters;
//! - [`deadline`]: the time an invocation has left;
//! - [`dynamo`]: DynamoDB conditional writes, where a failed condition is an answer;
//! - `elbv2` (feature `elbv2`): ELBv2 targets, their health, draining them and putting them back;
//! - [`input`]: what kind of event invoked the function, and decoding log subscriptions;
//! - [`events`]: optional publishing of each run's result to an EventBridge bus;
//! - [`envelope`]: that result event's versioned shape, with the items a run knows of;
//! - [`output`]: where a finished report goes (log line, metrics, bus);
//! - [`pattern`]: the wildcard patterns operators write in configuration;
//! - [`telemetry`]: logging set-up;
//! - [`runtime`]: the one entry point every `main` calls ([`runtime::serve`]):
//!   configuration, clients, the init error, serving; and error diagnostics.

pub mod aws;
pub mod config;
pub mod deadline;
pub mod dynamo;
#[cfg(feature = "elbv2")]
pub mod elbv2;
pub mod envelope;
pub mod events;
pub mod https;
pub mod input;
pub mod metrics;
pub mod output;
pub mod pattern;
pub mod report;
pub mod routing;
pub mod runtime;
pub mod secret;
pub mod setting;
pub mod settings;
pub mod slack;
#[cfg(feature = "step-functions")]
pub mod step_functions;
pub mod telemetry;

pub use deadline::Deadline;
pub use report::Report;
