//! The one entry point every function's `main` calls, and how errors reach
//! the Lambda Runtime API.
//!
//! [`serve`] does, in this order: logging, the configuration (every variable
//! read through one [`Env`]), the SDK clients, the report [`Output`], then
//! either the init error or the invocation loop. A function's `main` is only
//! the call, so every function starts, fails and reports the same way.
//!
//! A bad configuration is what an operator must see at once: its text (the
//! README's `invalid configuration: N problem(s)` and one `  - VAR: ...` line
//! each) goes to stderr, which Lambda puts in the function's log, and to the
//! Runtime API's init-error endpoint, which makes Lambda answer the
//! invocation with it; then the process exits non-zero.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use aws_types::SdkConfig;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{ConfigError, Env};
use crate::output::Output;

/// The `errorType` of an init that failed on its configuration.
pub const INVALID_CONFIGURATION: &str = "InvalidConfiguration";

/// `Lambda-Runtime-Function-Error-Type` of that init error: the Runtime API
/// reference recommends `<category.reason>` names such as
/// `Runtime.ConfigInvalid`.
const INIT_ERROR_HEADER_VALUE: &str = "Runtime.ConfigInvalid";

/// Runs a function: reads its configuration once, builds its clients once,
/// then serves invocations until Lambda stops the process.
///
/// `build` reads the function's own variables from the `Env` (recording
/// problems there, never failing) and builds the function's state; the shared
/// variables (`RESULT_EVENT_BUS`) are read into the `Output` first. The state
/// lives as long as the process, so the handler may borrow it for `'static`.
pub async fn serve<App, Event, Response, Error, Fut>(
    build: impl FnOnce(&mut Env, &SdkConfig, Output) -> App,
    handler: impl Fn(LambdaEvent<Event>, &'static App) -> Fut,
) -> ExitCode
where
    App: Sync + 'static,
    Event: DeserializeOwned,
    Response: Serialize,
    Error: Into<Diagnostic>,
    Fut: Future<Output = Result<Response, Error>>,
{
    crate::telemetry::init();
    let mut env = Env::from_process();
    let sdk = crate::aws::load();
    let output = Output::from_env(&mut env, &sdk);
    let app = build(&mut env, &sdk, output);
    if let Err(problems) = env.finish() {
        fail_init(&problems).await;
        return ExitCode::FAILURE;
    }
    let app: &'static App = Box::leak(Box::new(app));
    let service = service_fn(move |event: LambdaEvent<Event>| invoke(&handler, event, app));
    match lambda_runtime::run(service).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("the Lambda Runtime API client stopped: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The invocation being served, as far as reports and result events need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub request_id: String,
    /// Every invocation has it; it names the account the function runs in.
    pub function_arn: String,
    pub started_at: SystemTime,
}

tokio::task_local! {
    static INVOCATION: Invocation;
}

/// The Lambda request id of the invocation being served, `None` outside
/// one. [`serve`] sets it around each handler call, so every function's
/// [`crate::Report`] carries it without the function passing it along.
pub fn request_id() -> Option<String> {
    invocation()
        .map(|i| i.request_id)
        .filter(|id| !id.is_empty())
}

/// The invocation being served, `None` outside one; set the same way as
/// [`request_id`].
pub fn invocation() -> Option<Invocation> {
    INVOCATION.try_with(Clone::clone).ok()
}

/// One invocation as the Runtime API sees it: the handler runs with the
/// event's request id set (see [`request_id`], [`invocation`]), and its response or error
/// becomes what Lambda returns.
pub fn invoke<App, Event, Response, Error, Fut, Handler>(
    handler: &Handler,
    event: LambdaEvent<Event>,
    app: &'static App,
) -> impl Future<Output = Result<serde_json::Value, Diagnostic>>
+ use<App, Event, Response, Error, Fut, Handler>
where
    Handler: Fn(LambdaEvent<Event>, &'static App) -> Fut,
    Response: Serialize,
    Error: Into<Diagnostic>,
    Fut: Future<Output = Result<Response, Error>>,
{
    let current = Invocation {
        request_id: event.context.request_id.clone(),
        function_arn: event.context.invoked_function_arn.clone(),
        started_at: SystemTime::now(),
    };
    // Boxed: the handler's future nests the SDK's deeply, and inlined
    // into the runtime's it would outgrow the compiler's layout depth.
    let invocation = Box::pin(INVOCATION.scope(current, handler(event, app)));
    async move {
        let response = invocation.await.map_err(Into::<Diagnostic>::into)?;
        serde_json::to_value(response).map_err(|e| Diagnostic {
            error_type: "ResponseNotSerializable".to_owned(),
            error_message: e.to_string(),
        })
    }
}

/// Says what is wrong with the configuration where an operator looks: on
/// stderr (the function's log) and to the Runtime API's init-error endpoint.
async fn fail_init(problems: &ConfigError) {
    eprintln!("{problems}");
    let Some(api) = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        // Not under Lambda (a local run): stderr is all there is.
        return;
    };
    let body = Diagnostic {
        error_type: INVALID_CONFIGURATION.to_owned(),
        error_message: problems.to_string(),
    };
    if let Err(error) = post_init_error(&api, &body).await {
        eprintln!("the init error could not be reported to the Lambda Runtime API: {error}");
    }
}

/// `POST /2018-06-01/runtime/init/error` with the error as
/// `{"errorMessage": ..., "errorType": ...}`.
async fn post_init_error(api: &str, body: &Diagnostic) -> Result<(), String> {
    let url = init_error_url(api);
    let client = crate::https::client_builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .post(&url)
        .header(
            "Lambda-Runtime-Function-Error-Type",
            INIT_ERROR_HEADER_VALUE,
        )
        .json(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("{url} answered HTTP {}", response.status()))
    }
}

/// Lambda sets `AWS_LAMBDA_RUNTIME_API` to `host:port`; emulators may give a
/// full base URL (`http://127.0.0.1:9000/.rt`), as `lambda_runtime` accepts.
fn init_error_url(api: &str) -> String {
    let base = api.trim_end_matches('/');
    let base = if base.starts_with("http://") || base.starts_with("https://") {
        base.to_owned()
    } else {
        format!("http://{base}")
    };
    format!("{base}/2018-06-01/runtime/init/error")
}

/// A function error as the Runtime API reports it: `error_type` is the
/// error's own kind (a variant name such as `SlackDeliveryFailed`), and the
/// message is the error with every source it does not already quote, so
/// nothing the cause said is lost.
pub fn diagnostic(kind: &str, error: &(dyn std::error::Error + 'static)) -> Diagnostic {
    Diagnostic {
        error_type: kind.to_owned(),
        error_message: message_with_sources(error),
    }
}

/// `error: source: source's source`, skipping a source whose text the
/// message already contains (thiserror messages often quote `{source}`).
pub fn message_with_sources(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("inner went wrong")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("Slack did not take it")]
        Quiet(#[source] Inner),
        #[error("Slack did not take it: {0}")]
        Quoting(#[source] Inner),
    }

    #[test]
    fn the_diagnostic_names_the_kind_and_keeps_the_source() {
        let d = diagnostic("SlackDeliveryFailed", &Outer::Quiet(Inner));
        assert_eq!(d.error_type, "SlackDeliveryFailed");
        assert_eq!(d.error_message, "Slack did not take it: inner went wrong");
        let d = diagnostic("SlackDeliveryFailed", &Outer::Quoting(Inner));
        assert_eq!(d.error_message, "Slack did not take it: inner went wrong");
    }

    async fn one_change(
        _event: LambdaEvent<serde_json::Value>,
        _app: &'static (),
    ) -> Result<crate::Report, Diagnostic> {
        Ok(crate::Report::new("log-retention", false))
    }

    #[tokio::test]
    async fn the_response_carries_the_invocations_request_id() {
        let mut context = lambda_runtime::Context::default();
        context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned();
        let event = LambdaEvent::new(serde_json::json!({}), context);
        let response = invoke(&one_change, event, &()).await.unwrap();
        assert_eq!(
            response["request_id"], "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
            "{response}"
        );
        assert_eq!(response["function"], "log-retention");
        // Outside an invocation there is none, and the report says nothing.
        let outside = serde_json::to_value(crate::Report::new("log-retention", false)).unwrap();
        assert!(outside.get("request_id").is_none(), "{outside}");
    }

    async fn origin(
        _event: LambdaEvent<serde_json::Value>,
        _app: &'static (),
    ) -> Result<serde_json::Value, Diagnostic> {
        let origin = crate::envelope::Origin::current(Some("eu-west-1".into()), None);
        Ok(
            serde_json::json!({"account": origin.account, "run_id": origin.run_id,
                              "started": origin.started_at.is_some()}),
        )
    }

    #[tokio::test]
    async fn the_result_event_names_the_account_of_the_invoked_function() {
        let mut context = lambda_runtime::Context::default();
        context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned();
        context.invoked_function_arn =
            "arn:aws:lambda:eu-west-1:123456789012:function:toilkit-log-retention".to_owned();
        let event = LambdaEvent::new(serde_json::json!({}), context);
        let response = invoke(&origin, event, &()).await.unwrap();
        assert_eq!(
            response,
            serde_json::json!({"account": "123456789012",
                               "run_id": "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
                               "started": true})
        );
        assert_eq!(invocation(), None, "nothing outside the invocation");
    }

    #[test]
    fn the_init_error_url_accepts_lambdas_host_port_and_an_emulators_base_url() {
        assert_eq!(
            init_error_url("127.0.0.1:9001"),
            "http://127.0.0.1:9001/2018-06-01/runtime/init/error"
        );
        assert_eq!(
            init_error_url("http://127.0.0.1:9000/.rt/"),
            "http://127.0.0.1:9000/.rt/2018-06-01/runtime/init/error"
        );
    }
}
