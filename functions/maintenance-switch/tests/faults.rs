//! Fault injection for maintenance-switch's listener changes (aws-smithy-mocks).
//!
//! The ALB lives in moto, which models listeners, rule priorities and tags
//! exactly (two rules cannot share a priority). The function's ELB client
//! sends every attempt through aws-smithy-mocks rules first: a rule may
//! answer it with throttling or a 5xx in ELB's own wire format (awsQuery
//! XML), which the real SDK deserializes, classifies and retries; every
//! other attempt goes on to moto. The same transport can hold a call back
//! (a hang near the deadline) or let another writer change the listener
//! right before the function's write (a race). The operator's checks: each
//! listener is either switched or named as failed, listeners put back are
//! exactly as before, and the next run converges without redoing what is
//! done.

use toilkit_tests::faults;

use std::collections::BTreeMap;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::config::retry::RetryPartition;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ProtocolEnum, RuleCondition, Tag, TargetTypeEnum,
};
use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture, SharedHttpClient};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use faults::{Fault, on_virtual_clock};
use maintenance_switch::request::{Action as Verb, Request};
use maintenance_switch::rules::{TAG_ROLE, TAG_WINDOW};
use maintenance_switch::window::format_time;
use maintenance_switch::{App, Config, Error, switch};
use serde_json::{Value, json};
use shared::Deadline;
use shared::output::Output;
use shared::report::Report;
use time::OffsetDateTime;
use toilkit_tests::Moto;
use toilkit_tests::ec2::default_subnets;
use toilkit_tests::elbv2::{Snapshot, snapshot};

const ATTEMPTS: usize = shared::aws::MAX_ATTEMPTS as usize;

/// ELB's answer to a failed attempt, as the service sends it.
fn elb_error(fault: Fault) -> HttpResponse {
    let (status, kind, code, message) = match fault {
        Fault::Throttled => (400, "Sender", "Throttling", "Rate exceeded"),
        Fault::Internal => (
            500,
            "Receiver",
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        ),
        Fault::Unavailable => (
            503,
            "Receiver",
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
        ),
    };
    let body = format!(
        "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">\
         <Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>6a4f2c3e-0b1d-4e5f-9a8b-7c6d5e4f3a2b</RequestId></ErrorResponse>"
    );
    let mut response =
        HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
    response
        .headers_mut()
        .insert("content-type", "text/xml".to_owned());
    response
}

/// The status aws-smithy-mocks' HTTP client answers an attempt no rule gave
/// a response to; the rules below answer it too, to let an attempt through.
/// Either way the transport sends the attempt on to moto.
const THROUGH: u16 = 418;

fn through() -> HttpResponse {
    HttpResponse::new(StatusCode::try_from(THROUGH).unwrap(), SdkBody::empty())
}

/// What the next calls of one ELB operation meet.
#[derive(Debug, Default, Clone)]
struct CallPlan {
    /// Throttling answers before a call gets through ...
    storm: usize,
    /// ... for this many of the next calls.
    storm_calls: usize,
    /// Every attempt of a call whose subject contains this fails so.
    fail_for_good: Option<(String, Fault)>,
}

/// The faults in front of the function's ELB calls, per operation, and
/// what reached moto.
#[derive(Clone, Default)]
struct Faults {
    plans: Arc<Mutex<BTreeMap<&'static str, CallPlan>>>,
    /// The answers left for the attempts of the call being made.
    current: Arc<Mutex<BTreeMap<&'static str, Answers>>>,
    attempts: Arc<Mutex<BTreeMap<&'static str, usize>>>,
    /// Requests that reached moto: (operation, form-encoded body).
    sent: Arc<Mutex<Vec<(String, String)>>>,
    hooks: Arc<Mutex<Vec<Hook>>>,
}

/// Throttling answers left, then the answer every further attempt gets
/// (none: through to moto).
type Answers = (usize, Option<Fault>);

type Before = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Something that happens right before a matching request reaches moto.
struct Hook {
    operation: &'static str,
    needle: String,
    before: Before,
}

impl Faults {
    /// The next `calls` calls of `operation` each meet `per_call`
    /// throttling answers.
    fn storm(&self, operation: &'static str, per_call: usize, calls: usize) {
        let mut plans = self.plans.lock().unwrap();
        let plan = plans.entry(operation).or_default();
        plan.storm = per_call;
        plan.storm_calls = calls;
    }

    /// Every attempt of the calls of `operation` about `subject` meets
    /// `fault`: a failure that outlasts the SDK's retries.
    fn fail_for_good(&self, operation: &'static str, subject: &str, fault: Fault) {
        self.plans
            .lock()
            .unwrap()
            .entry(operation)
            .or_default()
            .fail_for_good = Some((subject.to_owned(), fault));
    }

    fn heal(&self) {
        self.plans.lock().unwrap().clear();
    }

    /// Runs `before` right before the next `operation` whose request
    /// mentions `needle` reaches moto.
    fn before<F>(
        &self,
        operation: &'static str,
        needle: &str,
        before: impl FnOnce() -> F + Send + 'static,
    ) where
        F: Future<Output = ()> + Send + 'static,
    {
        self.hooks.lock().unwrap().push(Hook {
            operation,
            needle: needle.to_owned(),
            before: Box::new(move || -> Pin<Box<dyn Future<Output = ()> + Send>> {
                Box::pin(before())
            }),
        });
    }

    /// A call of `operation` about `subject` begins (once per call, before
    /// its first attempt).
    fn begin(&self, operation: &'static str, subject: String) {
        let mut plans = self.plans.lock().unwrap();
        let plan = plans.entry(operation).or_default();
        let storm = if plan.storm_calls > 0 {
            plan.storm_calls -= 1;
            plan.storm
        } else {
            0
        };
        let fail = plan
            .fail_for_good
            .as_ref()
            .filter(|(needle, _)| subject.contains(needle.as_str()))
            .map(|(_, fault)| *fault);
        self.current
            .lock()
            .unwrap()
            .insert(operation, (storm, fail));
    }

    /// The answer to one attempt.
    fn answer(&self, operation: &'static str) -> HttpResponse {
        *self.attempts.lock().unwrap().entry(operation).or_default() += 1;
        let mut current = self.current.lock().unwrap();
        let (storm, fail) = current.entry(operation).or_default();
        if *storm > 0 {
            *storm -= 1;
            return elb_error(Fault::Throttled);
        }
        match fail {
            Some(fault) => elb_error(*fault),
            None => through(),
        }
    }

    fn attempts(&self, operation: &str) -> usize {
        self.attempts
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// The requests of `operation` that reached moto.
    fn sent(&self, operation: &str) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(op, _)| op == operation)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// The writes (every call but a Describe) that reached moto after the
    /// first `from` requests.
    fn writes_since(&self, from: usize) -> Vec<(String, String)> {
        self.sent.lock().unwrap()[from..]
            .iter()
            .filter(|(op, _)| !op.starts_with("Describe"))
            .cloned()
            .collect()
    }

    /// Holds the next `operation` on `listener`'s rules back until a
    /// [`tight_deadline`] set before it has passed.
    fn hang_past_deadline(&self, operation: &'static str, listener: &str) {
        self.before(operation, &listener_rule_marker(listener), || async {
            tokio::time::sleep(Duration::from_millis(2_500)).await;
        });
    }

    fn take_hook(&self, operation: &str, body: &str) -> Option<Before> {
        let mut hooks = self.hooks.lock().unwrap();
        let i = hooks
            .iter()
            .position(|h| h.operation == operation && body.contains(h.needle.as_str()))?;
        Some(hooks.remove(i).before)
    }

    fn interceptor(&self) -> MockResponseInterceptor {
        // One rule per operation: each call announces its subject (a
        // listener, a rule), each attempt gets the planned answer.
        macro_rules! rule {
            ($faults:ident, $op:ident, $name:literal, |$req:ident| $subject:expr) => {{
                let (calls, answers) = ($faults.clone(), $faults.clone());
                mock!(Client::$op)
                    .match_requests(move |$req| {
                        calls.begin($name, $subject);
                        true
                    })
                    .sequence()
                    .http_response(move || answers.answer($name))
                    .repeatedly()
                    .build()
            }};
        }
        let faults = self;
        let rules = [
            rule!(faults, create_rule, "CreateRule", |req| {
                let role = req
                    .tags()
                    .iter()
                    .find(|t| t.key() == Some(TAG_ROLE))
                    .and_then(|t| t.value())
                    .unwrap_or("");
                format!("{} {role}", req.listener_arn().unwrap_or(""))
            }),
            rule!(faults, delete_rule, "DeleteRule", |req| req
                .rule_arn()
                .unwrap_or("")
                .to_owned()),
            rule!(faults, set_rule_priorities, "SetRulePriorities", |req| req
                .rule_priorities()
                .iter()
                .filter_map(|p| p.rule_arn())
                .collect::<Vec<_>>()
                .join(" ")),
            rule!(faults, add_tags, "AddTags", |req| req
                .resource_arns()
                .join(" ")),
            rule!(faults, remove_tags, "RemoveTags", |req| req
                .resource_arns()
                .join(" ")),
            rule!(faults, describe_rules, "DescribeRules", |req| req
                .listener_arn()
                .unwrap_or("")
                .to_owned()),
        ];
        rules.iter().fold(
            MockResponseInterceptor::new()
                .rule_mode(RuleMode::MatchAny)
                .allow_passthrough(),
            |interceptor, rule| interceptor.with_rule(rule),
        )
    }

    /// The function's ELB client: the real SDK with toilkit's retry policy
    /// (backoffs shortened), through the mock rules, then moto.
    fn client(&self, sdk: &aws_types::SdkConfig) -> Client {
        let moto = sdk
            .http_client()
            .expect("shared::aws puts its HTTP client in every SdkConfig");
        let transport = self.transport(moto);
        let config = aws_sdk_elasticloadbalancingv2::config::Builder::from(&on_virtual_clock(sdk))
            .http_client(transport)
            .interceptor(self.interceptor())
            // Retry quota and adaptive rate are shared per partition: a
            // partition per client keeps one test's storm from slowing or
            // starving another's.
            .retry_partition(RetryPartition::new(Moto::shared().unique("faults-elb")))
            .build();
        Client::from_conf(config)
    }

    /// Mock answers where a rule gave one; the rest goes on to moto, after
    /// the hook a test set for it.
    fn transport(&self, moto: SharedHttpClient) -> SharedHttpClient {
        let faults = self.clone();
        faults::transport(
            [create_mock_http_client(), moto],
            move |request, [mock, moto]| {
                let (mock, moto, faults) = (mock.clone(), moto.clone(), faults.clone());
                HttpConnectorFuture::new(async move {
                    let body = request
                        .body()
                        .bytes()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default();
                    let operation = body
                        .strip_prefix("Action=")
                        .and_then(|rest| rest.split('&').next())
                        .unwrap_or("")
                        .to_owned();
                    let copy = request
                        .try_clone()
                        .expect("ELB requests have in-memory bodies");
                    let answer = mock.call(request).await?;
                    if answer.status().as_u16() != THROUGH {
                        return Ok(answer);
                    }
                    let hook = faults.take_hook(&operation, &body);
                    if let Some(before) = hook {
                        before().await;
                    }
                    faults.sent.lock().unwrap().push((operation, body));
                    moto.call(copy).await
                })
            },
        )
    }
}

// The ALB in moto.

fn forward(target_group: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(target_group)
        .build()
}

fn path(pattern: &str) -> RuleCondition {
    RuleCondition::builder()
        .field("path-pattern")
        .values(pattern)
        .build()
}

struct Fixture {
    sdk: aws_types::SdkConfig,
    /// A plain client: setup, checks, and the other writer.
    elb: Client,
    listeners: Vec<String>,
    api: String,
}

impl Fixture {
    /// An ALB with `n` listeners, each with the product's rules at
    /// priorities 1 (`/api/*`) and 3 (`/static/*`): enabling a window moves
    /// both to make room ahead of them.
    async fn new(n: u16) -> Self {
        let moto = Moto::shared();
        let sdk = moto.sdk_config().await;
        let elb = Client::new(&sdk);
        let alb = elb
            .create_load_balancer()
            .name(moto.unique("faults-ms"))
            .set_subnets(Some(
                default_subnets(moto).await.expect("moto's default subnets"),
            ))
            .send()
            .await
            .expect("ALB created")
            .load_balancers()[0]
            .load_balancer_arn()
            .unwrap()
            .to_owned();
        let mut groups = Vec::new();
        for role in ["fms-web", "fms-api"] {
            groups.push(
                elb.create_target_group()
                    .name(moto.unique(role))
                    .target_type(TargetTypeEnum::Lambda)
                    .send()
                    .await
                    .expect("target group created")
                    .target_groups()[0]
                    .target_group_arn()
                    .unwrap()
                    .to_owned(),
            );
        }
        let (web, api) = (groups[0].clone(), groups[1].clone());
        let mut listeners = Vec::new();
        for i in 0..n {
            let listener = elb
                .create_listener()
                .load_balancer_arn(&alb)
                .protocol(ProtocolEnum::Http)
                .port(8000 + i32::from(i))
                .default_actions(forward(&web))
                .send()
                .await
                .expect("listener created")
                .listeners()[0]
                .listener_arn()
                .unwrap()
                .to_owned();
            for (priority, pattern, group) in [(1, "/api/*", &api), (3, "/static/*", &web)] {
                elb.create_rule()
                    .listener_arn(&listener)
                    .priority(priority)
                    .conditions(path(pattern))
                    .actions(forward(group))
                    .tags(Tag::builder().key("team").value("shop").build())
                    .send()
                    .await
                    .expect("rule created");
            }
            listeners.push(listener);
        }
        Self {
            sdk,
            elb,
            listeners,
            api,
        }
    }

    fn app(&self, faults: &Faults) -> App {
        let mut app = App::new(Config::default(), &self.sdk, Output::quiet());
        app.elb = faults.client(&self.sdk);
        app
    }

    async fn snapshots(&self) -> Vec<Snapshot> {
        let mut out = Vec::new();
        for listener in &self.listeners {
            out.push(snapshot(&self.elb, listener).await);
        }
        out
    }
}

/// Three listeners with `window` on, for the disable tests: the fixture,
/// the faults in front of the function (none yet), the function, and the
/// listeners as they were before and are now.
async fn switched_on(window: &str) -> (Fixture, Faults, App, Vec<Snapshot>, Vec<Snapshot>) {
    let fx = Fixture::new(3).await;
    let before = fx.snapshots().await;
    let faults = Faults::default();
    let app = fx.app(&faults);
    let (result, _) = invoke(&app, enable(window, &fx.listeners), Deadline::unbounded()).await;
    result.expect("enable");
    let on = fx.snapshots().await;
    (fx, faults, app, before, on)
}

/// What the checks below ask of a snapshot, by the function's own tags.
trait WindowTags {
    fn window_rules(&self, window: &str) -> Vec<&str>;
    fn rule_with_role(&self, role: &str) -> String;
}

impl WindowTags for Snapshot {
    /// The rules of `window`, by role.
    fn window_rules(&self, window: &str) -> Vec<&str> {
        let mut roles: Vec<&str> = self
            .tags
            .values()
            .filter(|tags| tags.iter().any(|(k, v)| k == TAG_WINDOW && v == window))
            .filter_map(|tags| {
                tags.iter()
                    .find(|(k, _)| k == TAG_ROLE)
                    .map(|(_, v)| v.as_str())
            })
            .collect();
        roles.sort();
        roles
    }

    fn rule_with_role(&self, role: &str) -> String {
        self.tags
            .iter()
            .find(|(_, tags)| tags.iter().any(|(k, v)| k == TAG_ROLE && v == role))
            .map(|(arn, _)| arn.clone())
            .unwrap_or_else(|| panic!("no {role} rule: {self:?}"))
    }
}

fn enable(window: &str, listeners: &[String]) -> Value {
    json!({"action": "enable", "window_id": window, "listener_arns": listeners,
           "bypass_cidrs": ["203.0.113.0/24"]})
}

fn disable(window: &str, listeners: &[String]) -> Value {
    json!({"action": "disable", "window_id": window, "listener_arns": listeners})
}

/// One invocation through the function's own request parsing and switch
/// code. The handler hands the report back only on success (on failure
/// Lambda gets the error and the log gets the report), and the checks below
/// need it in both cases.
async fn invoke(app: &App, payload: Value, deadline: Deadline) -> (Result<(), Error>, Report) {
    let mut report = Report::new(maintenance_switch::FUNCTION, false);
    let now = OffsetDateTime::now_utc();
    let request = Request::parse(&payload, &app.config, now).expect("a valid request");
    let result = match request.action {
        Verb::Enable => {
            let window = request.window.as_ref().expect("enable has a window");
            switch::enable(
                app,
                window,
                request.execution_arn.as_deref(),
                &format_time(now),
                false,
                &deadline,
                &mut report,
            )
            .await
        }
        Verb::Disable => {
            switch::disable(
                app,
                request.window_id.as_deref(),
                &request.listener_arns,
                false,
                &deadline,
                &mut report,
            )
            .await
        }
        other => panic!("not used here: {other:?}"),
    };
    (result, report)
}

/// Time for reading the listeners, not for outlasting
/// [`Faults::hang_past_deadline`].
fn tight_deadline() -> Deadline {
    Deadline::after(Duration::from_millis(2_000))
}

/// What a run after a stopped one has: time for the rest.
fn ample_deadline() -> Deadline {
    Deadline::after(Duration::from_secs(60))
}

/// A run that stopped at the deadline says so, and its error names the
/// first listener it did not reach.
fn assert_stopped_before(report: &Report, error: &str, listener: &str) {
    assert!(report.stopped_early, "{report:?}");
    assert!(
        report
            .stop_reason
            .as_deref()
            .unwrap_or("")
            .contains("deadline"),
        "{:?}",
        report.stop_reason
    );
    assert!(
        error.contains(&format!("the deadline came before listener {listener}")),
        "how far it got: {error}"
    );
}

fn listed(report: &Report, action: &str) -> usize {
    report.applied.iter().filter(|a| a.action == action).count()
}

/// Per listener, whether maintenance is on as the report states it.
fn maintenance_on(report: &Report) -> Vec<bool> {
    report.details["listeners"]
        .as_array()
        .expect("the report lists every listener's state")
        .iter()
        .map(|l| l["maintenance"].as_bool().unwrap())
        .collect()
}

#[tokio::test]
async fn a_throttling_storm_on_every_call_is_retried_and_each_rule_is_written_once() {
    let fx = Fixture::new(2).await;
    let before = fx.snapshots().await;
    let faults = Faults::default();
    for operation in [
        "CreateRule",
        "DeleteRule",
        "SetRulePriorities",
        "AddTags",
        "RemoveTags",
        "DescribeRules",
    ] {
        // The longest storm the SDK's retries get through, on every call.
        faults.storm(operation, ATTEMPTS - 1, usize::MAX);
    }
    let app = fx.app(&faults);

    let (result, report) = invoke(
        &app,
        enable("w-storm", &fx.listeners),
        Deadline::unbounded(),
    )
    .await;
    result.expect("the storm stays within the SDK's retries");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(maintenance_on(&report), [true, true]);
    // Per listener: two rules moved, a bypass rule and the maintenance rule.
    assert_eq!(listed(&report, "move_rule"), 4, "{:?}", report.applied);
    assert_eq!(listed(&report, "create_rule"), 4, "{:?}", report.applied);
    // Every call met the storm first, and each write reached ELB once.
    assert_eq!(faults.sent("CreateRule").len(), 4);
    assert_eq!(faults.attempts("CreateRule"), 4 * ATTEMPTS);
    assert_eq!(
        faults.sent("AddTags").len(),
        4,
        "each moved rule tagged once"
    );
    assert_eq!(faults.attempts("AddTags"), 4 * ATTEMPTS);
    assert_eq!(faults.sent("SetRulePriorities").len(), 4);
    for snapshot in fx.snapshots().await {
        assert_eq!(snapshot.window_rules("w-storm"), ["bypass", "maintenance"]);
    }

    let (result, report) = invoke(
        &app,
        disable("w-storm", &fx.listeners),
        Deadline::unbounded(),
    )
    .await;
    result.expect("disable through the storm");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(maintenance_on(&report), [false, false]);
    assert_eq!(faults.sent("DeleteRule").len(), 4);
    assert_eq!(faults.attempts("DeleteRule"), 4 * ATTEMPTS);
    assert_eq!(faults.sent("SetRulePriorities").len(), 8);
    assert_eq!(faults.attempts("SetRulePriorities"), 8 * ATTEMPTS);
    assert_eq!(faults.sent("RemoveTags").len(), 4);
    assert_eq!(
        fx.snapshots().await,
        before,
        "every listener exactly as before"
    );
}

#[tokio::test]
async fn a_5xx_that_outlasts_the_retries_on_one_listener_rolls_back_and_the_retry_converges() {
    let fx = Fixture::new(3).await;
    let before = fx.snapshots().await;
    let [a, b, c] = [&fx.listeners[0], &fx.listeners[1], &fx.listeners[2]];
    let faults = Faults::default();
    // The second listener's bypass rule lands; its maintenance rule never does.
    faults.fail_for_good(
        "CreateRule",
        &format!("{b} maintenance"),
        Fault::Unavailable,
    );
    let app = fx.app(&faults);

    let (result, report) =
        invoke(&app, enable("w-5xx", &fx.listeners), Deadline::unbounded()).await;
    let error = result.expect_err("a listener that could not be switched fails the enable");
    let text = error.to_string();
    assert!(matches!(error, Error::EnableFailed { .. }), "{text}");
    assert!(text.contains(&format!("CreateRule on {b}")), "{text}");
    assert!(text.contains("ServiceUnavailable"), "{text}");
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert_eq!(report.failed[0].target, *b);
    assert_eq!(report.failed[0].action, "enable");
    assert_eq!(
        report.details["rollback"]["rolled_back"],
        json!([a, b]),
        "both listeners it changed are named as rolled back"
    );
    assert_eq!(report.details["rollback"]["left"], json!([]));
    assert_eq!(maintenance_on(&report), [false, false, false]);
    assert_eq!(
        faults.sent("CreateRule").len(),
        3,
        "a's two rules and b's bypass rule, each once"
    );
    assert!(
        faults.sent.lock().unwrap().iter().all(|(op, body)| {
            !body.contains(c.rsplit('/').next().unwrap()) || op.starts_with("Describe")
        }),
        "the third listener was only read"
    );
    assert_eq!(
        fx.snapshots().await,
        before,
        "nothing is left half-switched"
    );

    // ELB recovers; the state machine retries the enable.
    faults.heal();
    let (result, report) =
        invoke(&app, enable("w-5xx", &fx.listeners), Deadline::unbounded()).await;
    result.expect("the retry switches every listener");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(maintenance_on(&report), [true, true, true]);
    for snapshot in fx.snapshots().await {
        assert_eq!(snapshot.window_rules("w-5xx"), ["bypass", "maintenance"]);
    }
}

#[tokio::test]
async fn a_disable_whose_delete_fails_for_good_reports_each_listener_and_the_next_run_finishes() {
    let (fx, faults, app, before, on) = switched_on("w-off").await;
    let [a, b, c] = [&fx.listeners[0], &fx.listeners[1], &fx.listeners[2]];
    let stuck = on[1].rule_with_role("maintenance");
    faults.fail_for_good("DeleteRule", &stuck, Fault::Internal);

    let (result, report) =
        invoke(&app, disable("w-off", &fx.listeners), Deadline::unbounded()).await;
    let error = result.expect_err("a listener still in maintenance fails the disable");
    let text = error.to_string();
    assert!(matches!(error, Error::DisableFailed { .. }), "{text}");
    assert!(text.contains(&format!("DeleteRule on {stuck}")), "{text}");
    assert!(text.contains("InternalFailure"), "{text}");
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert_eq!(report.failed[0].target, *b);
    assert_eq!(
        faults.attempts("DeleteRule"),
        4 + ATTEMPTS,
        "{:?}",
        faults.attempts
    );
    // The listeners that did switch back are reported as such, and are.
    let restored_listeners: Vec<&str> = report
        .applied
        .iter()
        .filter(|s| s.action == "restore_priority")
        .map(|s| s.detail.as_ref().unwrap()["listener"].as_str().unwrap())
        .collect();
    assert_eq!(
        restored_listeners,
        [a.as_str(), a.as_str(), c.as_str(), c.as_str()]
    );
    assert_eq!(maintenance_on(&report), [false, true, false]);
    let now = fx.snapshots().await;
    assert_eq!(now[0], before[0]);
    assert_eq!(now[2], before[2]);
    assert_eq!(now[1], on[1], "b is still fully in maintenance, not half");

    // ELB recovers; the next disable touches only what is left.
    faults.heal();
    let sent_before = faults.sent.lock().unwrap().len();
    let (result, report) =
        invoke(&app, disable("w-off", &fx.listeners), Deadline::unbounded()).await;
    result.expect("the second disable finishes");
    let skipped: Vec<&str> = report.skipped.iter().map(|s| s.target.as_str()).collect();
    assert_eq!(skipped, [a.as_str(), c.as_str()], "{:?}", report.skipped);
    let b_id = b.rsplit('/').next().unwrap();
    let writes = faults.writes_since(sent_before);
    assert_eq!(writes.len(), 6, "{writes:?}");
    assert!(
        writes.iter().all(|(_, body)| body.contains(b_id)),
        "only b's rules were written: {writes:?}"
    );
    assert_eq!(fx.snapshots().await, before);
}

#[tokio::test]
async fn a_call_that_hangs_past_the_deadline_stops_the_enable_cleanly_and_the_next_run_switches_all()
 {
    let fx = Fixture::new(3).await;
    let before = fx.snapshots().await;
    let a = fx.listeners[0].clone();
    let faults = Faults::default();
    // ELB is slow to create the first listener's first new rule: by the
    // time it has, the invocation's time is up.
    faults.hang_past_deadline("CreateRule", &a);
    let app = fx.app(&faults);

    let (result, report) = invoke(&app, enable("w-late", &fx.listeners), tight_deadline()).await;
    let text = result
        .expect_err("an enable that ran out of time fails")
        .to_string();
    assert_stopped_before(&report, &text, &fx.listeners[1]);
    assert_eq!(report.details["rollback"]["rolled_back"], json!([a]));
    assert_eq!(fx.snapshots().await, before, "rolled back, not half-on");

    let (result, report) = invoke(&app, enable("w-late", &fx.listeners), ample_deadline()).await;
    result.expect("with time, the next run switches every listener");
    assert_eq!(maintenance_on(&report), [true, true, true]);
}

#[tokio::test]
async fn a_call_that_hangs_past_the_deadline_stops_the_disable_between_listeners_and_the_next_run_restores_the_rest()
 {
    let (fx, faults, app, before, on) = switched_on("w-slow").await;
    let [a, b, c] = [&fx.listeners[0], &fx.listeners[1], &fx.listeners[2]];
    // ELB is slow to delete the first listener's maintenance rule: by the
    // time it has, the invocation's time is up.
    faults.hang_past_deadline("DeleteRule", a);

    let (result, report) = invoke(&app, disable("w-slow", &fx.listeners), tight_deadline()).await;
    let error =
        result.expect_err("listeners left in maintenance fail the disable, so it is retried");
    let text = error.to_string();
    assert!(matches!(error, Error::DisableFailed { .. }), "{text}");
    assert_stopped_before(&report, &text, b);
    assert_eq!(report.details["disable"]["restored"], json!([a]));
    assert_eq!(report.details["disable"]["not_reached"], json!([b, c]));
    let skipped: Vec<(&str, &str)> = report
        .skipped
        .iter()
        .map(|s| (s.target.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(
        skipped
            .iter()
            .zip([b, c])
            .all(|((target, reason), l)| target == l && reason.contains("not reached")),
        "{skipped:?}"
    );
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(maintenance_on(&report), [false, true, true]);
    let now = fx.snapshots().await;
    assert_eq!(now[0], before[0], "the listener it began is fully restored");
    assert_eq!(
        now[1..],
        on[1..],
        "the others are untouched, not half-restored"
    );

    // The state machine retries; this run has the time.
    let sent_before = faults.sent.lock().unwrap().len();
    let (result, report) = invoke(&app, disable("w-slow", &fx.listeners), ample_deadline()).await;
    result.expect("the retry restores the rest");
    assert!(!report.stopped_early, "{report:?}");
    assert_eq!(report.details["disable"]["restored"], json!([b, c]));
    assert_eq!(report.details["disable"]["not_reached"], json!([]));
    let a_id = listener_rule_marker(a);
    let writes = faults.writes_since(sent_before);
    assert!(!writes.is_empty());
    assert!(
        writes.iter().all(|(_, body)| !body.contains(&a_id)),
        "the listener already restored is not written again: {writes:?}"
    );
    assert_eq!(fx.snapshots().await, before);
}

#[tokio::test]
async fn another_writer_taking_a_priority_between_read_and_write_is_reported_and_the_retry_keeps_its_rule()
 {
    let fx = Fixture::new(1).await;
    let listener = fx.listeners[0].clone();
    let faults = Faults::default();
    // Right after the switch read the listener (priority 2 was free), an
    // operator adds a rule there.
    let (other, target, api) = (fx.elb.clone(), listener.clone(), fx.api.clone());
    let theirs = Arc::new(Mutex::new(String::new()));
    let theirs_out = theirs.clone();
    faults.before(
        "AddTags",
        &listener_rule_marker(&listener),
        move || async move {
            let arn = other
                .create_rule()
                .listener_arn(&target)
                .priority(2)
                .conditions(path("/hotfix/*"))
                .actions(forward(&api))
                .send()
                .await
                .expect("the other writer's rule")
                .rules()[0]
                .rule_arn()
                .unwrap()
                .to_owned();
            *theirs_out.lock().unwrap() = arn;
        },
    );
    let app = fx.app(&faults);
    let with_theirs_before = {
        let (result, report) =
            invoke(&app, enable("w-race", &fx.listeners), Deadline::unbounded()).await;
        let text = result
            .expect_err("the lost race fails the enable")
            .to_string();
        assert!(text.contains("PriorityInUse"), "{text}");
        assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
        assert_eq!(report.failed[0].target, listener);
        assert_eq!(report.details["rollback"]["left"], json!([]), "{report:?}");
        assert_eq!(maintenance_on(&report), [false]);
        fx.snapshots().await
    };
    let theirs = theirs.lock().unwrap().clone();
    assert!(!theirs.is_empty(), "the other writer ran");
    let layout = |s: &Snapshot| -> Vec<(String, String)> {
        s.rules
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .map(|r| {
                (
                    r.priority().unwrap().to_owned(),
                    r.conditions()[0].values()[0].clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        layout(&with_theirs_before[0]),
        [
            ("1".to_owned(), "/api/*".to_owned()),
            ("2".to_owned(), "/hotfix/*".to_owned()),
            ("3".to_owned(), "/static/*".to_owned()),
        ],
        "the other writer's rule is kept and ours are gone"
    );

    // The retry reads the listener again and makes room for all three.
    let (result, report) =
        invoke(&app, enable("w-race", &fx.listeners), Deadline::unbounded()).await;
    result.expect("the retry plans around the new rule");
    assert_eq!(maintenance_on(&report), [true]);
    let (result, _) = invoke(
        &app,
        disable("w-race", &fx.listeners),
        Deadline::unbounded(),
    )
    .await;
    result.expect("disable");
    assert_eq!(
        fx.snapshots().await,
        with_theirs_before,
        "their rule is back at its priority"
    );
}

/// What every request about a listener's rules carries: the listener's own
/// id (rule ARNs embed the load balancer's and the listener's ids).
fn listener_rule_marker(listener: &str) -> String {
    listener.rsplit('/').next().unwrap().to_owned()
}
