//! maintenance-switch: scheduled ALB maintenance windows with a bypass
//! allowlist and an exact restore.
//!
//! One invocation does one `action`: `enable`, `disable` and `status` act
//! on listeners; `schedule`, `cancel` and `windows` operate windows as
//! executions of the window state machine, which in turn calls `enable`
//! and `disable` at the window's start and end, and `notify` to tell the
//! team in Slack.
//!
//! - [`trigger`]: an EventBridge rule's event, or the request as sent;
//! - [`request`]: the request, checked whole; [`window`]: the window it
//!   describes; [`limits`]: what ALB and Step Functions accept;
//! - [`plan`]: what enable and disable change on one listener (pure), from
//!   [`rules`], the listener's rules as the function sees them;
//! - [`listener`]: the ELBv2 calls; [`apply`]: a plan carried out step by step;
//! - [`switch`]: enable, disable and status across listeners, with rollback;
//! - [`windows`]: schedule, cancel and list windows, as executions of the
//!   window state machine; [`executions`]: the Step Functions calls;
//! - [`notify`]: Slack; [`evaluate`]: which rule a request would meet;
//! - [`item`]: what the result event says of listeners and windows.

pub mod apply;
pub mod config;
pub mod error;
pub mod evaluate;
pub mod executions;
pub mod item;
pub mod limits;
pub mod listener;
pub mod notify;
pub mod plan;
pub mod request;
pub mod rules;
pub mod switch;
pub mod trigger;
pub mod window;
pub mod windows;

use aws_types::SdkConfig;
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use shared::output::Output;
use shared::report::Report;
use shared::{Deadline, deadline::DEFAULT_MARGIN};
use time::OffsetDateTime;

pub use config::Config;
pub use error::Error;
use request::{Action, Request};
use trigger::Trigger;
use window::format_time;

pub const FUNCTION: &str = "maintenance-switch";

/// What an invocation needs, built once at cold start.
pub struct App {
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub config: Config,
    pub output: Output,
    pub secrets: shared::secret::SecretStore,
    pub slack: shared::slack::SlackClient,
}

impl App {
    pub fn new(config: Config, sdk: &SdkConfig, output: Output) -> Self {
        Self {
            elb: aws_sdk_elasticloadbalancingv2::Client::new(sdk),
            sfn: aws_sdk_sfn::Client::new(sdk),
            secrets: shared::secret::SecretStore::new(sdk),
            slack: shared::slack::SlackClient::default(),
            config,
            output,
        }
    }
}

/// The Lambda handler: the report is the response, and is logged once
/// whether the invocation succeeds or fails.
pub async fn handle(event: LambdaEvent<Value>, app: &App) -> Result<Report, Error> {
    let deadline = Deadline::from_context(&event.context, DEFAULT_MARGIN);
    let mut report = Report::new(FUNCTION, false);
    // Boxed: the actions' nested SDK futures are otherwise too deep for the
    // compiler's layout query in the binary's `main`.
    let result = match Trigger::parse(event.payload) {
        Ok(trigger) => Box::pin(run(&trigger.request(), app, &deadline, &mut report)).await,
        Err(error) => Err(error),
    };
    if let Err(error) = &result {
        report.detail(
            "error",
            json!({"type": error.kind(), "message": error.to_string()}),
        );
    }
    match &result {
        Ok(()) => app.output.emit(&report).await,
        Err(error) => app.output.emit_failed(&report, error).await,
    }
    result.map(|()| report)
}

async fn run(
    payload: &Value,
    app: &App,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    let now = OffsetDateTime::now_utc();
    let request = Request::parse(payload, &app.config, now)?;
    report.dry_run = request.dry_run;
    report.detail("action", json!(request.action));
    match request.action {
        Action::Enable => {
            let window = request
                .window
                .as_ref()
                .expect("parse gives enable a window");
            switch::enable(
                app,
                window,
                request.execution_arn.as_deref(),
                &format_time(now),
                request.dry_run,
                deadline,
                report,
            )
            .await
        }
        Action::Disable if request.cleanup_of.is_some() => {
            windows::clean_up(
                app,
                request.cleanup_of.as_deref().unwrap_or_default(),
                request.window_id.as_deref(),
                &request.listener_arns,
                request.dry_run,
                deadline,
                report,
            )
            .await
        }
        Action::Disable => {
            switch::disable(
                app,
                request.window_id.as_deref(),
                &request.listener_arns,
                request.dry_run,
                deadline,
                report,
            )
            .await
        }
        Action::Status => switch::status(app, &request.listener_arns, report).await,
        Action::Schedule => {
            let window = request
                .window
                .as_ref()
                .expect("parse gives schedule a window");
            let times = request.times.expect("parse gives schedule its times");
            windows::schedule(
                app,
                window,
                times,
                request.notify_topic_arn.as_deref(),
                request.dry_run,
                report,
            )
            .await
        }
        Action::Cancel => {
            let window_id = request
                .window_id
                .as_deref()
                .expect("parse requires window_id for cancel");
            windows::cancel(
                app,
                window_id,
                &request.listener_arns,
                request.dry_run,
                deadline,
                report,
            )
            .await
        }
        Action::Windows => windows::windows(app, now, report).await,
        Action::Notify => {
            let notice = request
                .notice
                .as_ref()
                .expect("parse gives notify its notice");
            notify::notify(app, notice, request.dry_run, deadline, report).await
        }
    }
}
