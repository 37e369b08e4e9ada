//! schedule, cancel and windows against moto's Step Functions.

use aws_sdk_elasticloadbalancingv2::Client as Elb;
use aws_sdk_sfn::Client as Sfn;
use std::sync::{Arc, Mutex};

use crate::common::*;
use aws_sdk_sfn::types::ExecutionStatus;
use maintenance_switch::{App, Error, handle};
use serde_json::{Value, json};
use shared::report::Report;
use toilkit_tests::elbv2::snapshot;
use toilkit_tests::faults::Fault;
use toilkit_tests::{Gate, Moto};

struct World {
    app: App,
    sfn: Sfn,
    elb: Elb,
    machine: String,
    listener: String,
}

/// A state machine of its own (moto's shared server serves parallel tests)
/// and an ALB listener with a product rule at priority 1.
async fn world() -> World {
    let moto = Moto::shared();
    let sdk = moto.sdk_config().await;
    let sfn = Sfn::new(&sdk);
    let elb = Elb::new(&sdk);
    let definition = std::fs::read_to_string(
        toilkit_tests::workspace::root().join("statemachines/maintenance-window.asl.json"),
    )
    .unwrap()
    .replace("${MaintenanceSwitchFunctionArn}", FUNCTION_ARN);
    let machine = sfn
        .create_state_machine()
        .name(moto.unique("maintenance-window"))
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/maintenance-window")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let alb = alb(moto, &elb).await;
    let listener = crate::common::listener(&elb, &alb, 80).await;
    rule(&elb, &listener, 1, path("/api/*"), forward(&alb.api)).await;
    World {
        app: app(&sdk, Some(machine.clone())),
        sfn,
        elb,
        machine,
        listener,
    }
}

fn schedule(w: &World, window: &str, start: &str, end: &str) -> Value {
    json!({"action": "schedule", "window_id": window, "listener_arns": [w.listener],
           "start_at": start, "end_at": end, "bypass_cidrs": ["203.0.113.0/24"],
           "bypass_header": {"name": "X-Maintenance-Bypass", "values": ["tok-3141592"]}})
}

#[tokio::test]
async fn schedule_starts_one_execution_per_window_and_refuses_a_duplicate() {
    let w = world().await;
    let report = handle(
        event(schedule(
            &w,
            "release-7",
            "2031-12-01T22:00:00+01:00",
            "2031-12-01T23:30:00Z",
        )),
        &w.app,
    )
    .await
    .expect("schedule");
    assert!(
        !serde_json::to_string(&report)
            .unwrap()
            .contains("tok-3141592")
    );
    let execution = format!(
        "{}:release-7",
        w.machine.replace(":stateMachine:", ":execution:")
    );
    assert_eq!(
        report.applied[0].detail.as_ref().unwrap()["execution_arn"],
        json!(execution)
    );
    let out = w
        .sfn
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    assert_eq!(*out.status(), ExecutionStatus::Running);
    let input: Value = serde_json::from_str(out.input().unwrap()).unwrap();
    assert_eq!(
        input["start_at"], "2031-12-01T21:00:00Z",
        "UTC for the Wait state"
    );
    assert_eq!(input["end_at"], "2031-12-01T23:30:00Z");
    assert_eq!(input["listener_arns"][0], json!(w.listener));
    assert_eq!(
        input["status_code"], 503,
        "defaults resolved when scheduled"
    );
    assert_eq!(input["mode"], "fixed-response");

    // The same window again, even with the very same request, is refused.
    for start in ["2031-12-01T22:00:00+01:00", "2031-12-02T22:00:00Z"] {
        let err = handle(
            event(schedule(&w, "release-7", start, "2031-12-03T00:00:00Z")),
            &w.app,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::AlreadyScheduled { .. }), "{err}");
        assert!(err.to_string().contains("status RUNNING"), "{err}");
    }
    let all = w
        .sfn
        .list_executions()
        .state_machine_arn(&w.machine)
        .send()
        .await
        .unwrap();
    assert_eq!(all.executions().len(), 1);
}

#[tokio::test]
async fn schedule_checks_everything_first() {
    let w = world().await;
    let mut bad = schedule(&w, "bad-1", "2031-12-01T22:00:00Z", "2031-12-01T21:00:00Z");
    bad["listener_arns"] = json!([format!("{}9", w.listener)]);
    let err = handle(event(bad), &w.app).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("end_at 2031-12-01T21:00:00Z is not after start_at"),
        "{err}"
    );
    let mut missing = schedule(&w, "bad-2", "2031-12-01T22:00:00Z", "2031-12-01T23:00:00Z");
    missing["listener_arns"] = json!([format!("{}9", w.listener)]);
    let err = handle(event(missing), &w.app).await.unwrap_err();
    assert!(matches!(err, Error::ListenersNotFound(_)), "{err}");
    let all = w
        .sfn
        .list_executions()
        .state_machine_arn(&w.machine)
        .send()
        .await
        .unwrap();
    assert!(all.executions().is_empty());

    let mut no_machine = world().await;
    no_machine.app.config.state_machine_arn = None;
    let err = handle(
        event(schedule(
            &no_machine,
            "w",
            "2031-12-01T22:00:00Z",
            "2031-12-01T23:00:00Z",
        )),
        &no_machine.app,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::NoStateMachine), "{err}");
}

#[tokio::test]
async fn windows_lists_upcoming_and_running_windows_with_their_times() {
    let w = world().await;
    let far = ("2030-01-01T22:00:00Z", "2030-01-01T23:00:00Z");
    let near = ("2029-06-01T01:00:00Z", "2029-06-01T02:00:00Z");
    let scheduled = handle(event(schedule(&w, "later", far.0, far.1)), &w.app)
        .await
        .unwrap();
    assert_eq!(
        (
            scheduled.items[0].key.as_str(),
            &scheduled.items[0].fields["phase"]
        ),
        ("later", &json!("upcoming")),
        "the scheduled window is in the result event"
    );
    handle(event(schedule(&w, "sooner", near.0, near.1)), &w.app)
        .await
        .unwrap();
    // One the state machine has already switched on (started in the past):
    // schedule refuses past windows, so it is started directly.
    let mut running = serde_json::Map::new();
    running.insert("window_id".into(), json!("now-on"));
    running.insert("listener_arns".into(), json!([w.listener]));
    running.insert("start_at".into(), json!("2026-01-01T00:00:00Z"));
    running.insert("end_at".into(), json!("2099-01-01T00:00:00Z"));
    w.sfn
        .start_execution()
        .state_machine_arn(&w.machine)
        .name("now-on")
        .input(Value::Object(running).to_string())
        .send()
        .await
        .unwrap();

    let report = handle(event(json!({"action": "windows"})), &w.app)
        .await
        .unwrap();
    let windows = report.details["windows"].as_array().unwrap();
    let rows: Vec<(&str, &str, &str, &str)> = windows
        .iter()
        .map(|x| {
            (
                x["window_id"].as_str().unwrap(),
                x["phase"].as_str().unwrap(),
                x["start_at"].as_str().unwrap(),
                x["end_at"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "now-on",
                "on",
                "2026-01-01T00:00:00Z",
                "2099-01-01T00:00:00Z"
            ),
            ("sooner", "upcoming", near.0, near.1),
            ("later", "upcoming", far.0, far.1),
        ]
    );
    assert_eq!(report.counter("windows_upcoming"), 2);
    assert_eq!(report.counter("windows_on"), 1);
    // The result event lists the same windows, each under its id.
    let items: Vec<(&str, &str, &Value)> = report
        .items
        .iter()
        .map(|i| (i.kind.as_str(), i.key.as_str(), &i.fields["phase"]))
        .collect();
    assert_eq!(
        items,
        [
            ("window", "now-on", &json!("on")),
            ("window", "sooner", &json!("upcoming")),
            ("window", "later", &json!("upcoming")),
        ]
    );
    assert_eq!(windows[0]["listener_arns"][0], json!(w.listener));
    assert!(
        !serde_json::to_string(&report)
            .unwrap()
            .contains("tok-3141592")
    );
}

#[tokio::test]
async fn cancel_stops_the_execution_and_disables_at_once() {
    let w = world().await;
    let before = snapshot(&w.elb, &w.listener).await;
    handle(
        event(schedule(
            &w,
            "cancel-me",
            "2031-12-01T22:00:00Z",
            "2031-12-01T23:00:00Z",
        )),
        &w.app,
    )
    .await
    .unwrap();
    // The window has begun: the state machine turned maintenance on.
    let execution = format!(
        "{}:cancel-me",
        w.machine.replace(":stateMachine:", ":execution:")
    );
    let input = w
        .sfn
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    let mut enable: Value = serde_json::from_str(input.input().unwrap()).unwrap();
    enable = json!({"action": "enable", "window": enable});
    handle(event(enable), &w.app).await.expect("enable");
    assert_ne!(snapshot(&w.elb, &w.listener).await, before);

    let report = handle(
        event(json!({"action": "cancel", "window_id": "cancel-me"})),
        &w.app,
    )
    .await
    .expect("cancel");
    let done: Vec<&str> = report.applied.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(done[0], "stop_execution");
    assert!(
        done.contains(&"delete_rule") && done.contains(&"restore_priority"),
        "{done:?}"
    );
    let out = w
        .sfn
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    assert_eq!(*out.status(), ExecutionStatus::Aborted);
    assert_eq!(
        snapshot(&w.elb, &w.listener).await,
        before,
        "exactly as before"
    );

    // Cancelling again changes nothing; an unknown window is an error.
    let again = handle(
        event(json!({"action": "cancel", "window_id": "cancel-me"})),
        &w.app,
    )
    .await
    .unwrap();
    assert!(again.applied.is_empty(), "{:?}", again.applied);
    assert!(
        again.skipped[0].reason.contains("already ABORTED"),
        "{:?}",
        again.skipped
    );
    let err = handle(
        event(json!({"action": "cancel", "window_id": "never-was"})),
        &w.app,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::NotScheduled(_)), "{err}");
}

/// What an operator's cancel returned.
type Cancelled = Arc<Mutex<Option<Result<Report, String>>>>;

/// Runs a `cancel` of `window_id` through `canceller` the moment the enable
/// under test creates its maintenance rule: the cancel an operator makes
/// while the state machine's Enable task is in flight (StopExecution does
/// not stop a running task). The maintenance rule is created last, so the
/// cancel's disable has the bypass rules and the moved rule to undo, and
/// finds no maintenance rule yet.
fn cancel_mid_enable(canceller: App, window_id: &str) -> (Gate, Cancelled) {
    let cancelled = Cancelled::default();
    let record = cancelled.clone();
    let request = json!({"action": "cancel", "window_id": window_id});
    let gate = Gate::run("CreateRule", move || {
        let result = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(handle(event(request.clone()), &canceller))
        });
        *record.lock().unwrap() = Some(result.map_err(|e| e.to_string()));
    })
    .containing("path-pattern");
    (gate, cancelled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_while_enable_is_in_flight_leaves_the_site_out_of_maintenance() {
    let w = world().await;
    let sdk = Moto::shared().sdk_config().await;
    let before = snapshot(&w.elb, &w.listener).await;
    handle(
        event(schedule(
            &w,
            "race-1",
            "2031-12-01T22:00:00Z",
            "2031-12-01T23:00:00Z",
        )),
        &w.app,
    )
    .await
    .unwrap();
    let execution = format!(
        "{}:race-1",
        w.machine.replace(":stateMachine:", ":execution:")
    );
    let input: Value = serde_json::from_str(
        w.sfn
            .describe_execution()
            .execution_arn(&execution)
            .send()
            .await
            .unwrap()
            .input()
            .unwrap(),
    )
    .unwrap();
    // Exactly what the state machine's Enable task sends at start_at.
    let enable = state_machine_payload("Enable", &input, &execution);

    let (gate, cancelled) = cancel_mid_enable(app(&sdk, Some(w.machine.clone())), "race-1");
    let mut racing = app(&sdk, Some(w.machine.clone()));
    racing.elb = Elb::from_conf(
        aws_sdk_elasticloadbalancingv2::config::Builder::from(&sdk)
            .interceptor(gate)
            .build(),
    );
    let result = handle(event(enable), &racing).await;

    let cancel = cancelled.lock().unwrap().take().expect("the cancel ran");
    let cancel = cancel.expect("cancel");
    assert_eq!(cancel.applied[0].action, "stop_execution");
    let status = w
        .sfn
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    assert_eq!(*status.status(), ExecutionStatus::Aborted);
    // No execution is left to end the window: the listener must be as before.
    assert_eq!(
        snapshot(&w.elb, &w.listener).await,
        before,
        "a cancelled window left the site in maintenance"
    );
    let err = result.expect_err("the enable says it was cancelled");
    assert_eq!(err.kind(), "Cancelled", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("race-1") && text.contains("ABORTED"),
        "{text}"
    );
    assert!(text.contains("rolled back"), "{text}");
}

#[tokio::test]
async fn an_enable_that_cannot_tell_whether_its_window_was_cancelled_rolls_back() {
    let w = world().await;
    let sdk = Moto::shared().sdk_config().await;
    let before = snapshot(&w.elb, &w.listener).await;
    handle(
        event(schedule(
            &w,
            "unsure-1",
            "2031-12-01T22:00:00Z",
            "2031-12-01T23:00:00Z",
        )),
        &w.app,
    )
    .await
    .unwrap();
    let execution = format!(
        "{}:unsure-1",
        w.machine.replace(":stateMachine:", ":execution:")
    );
    let input: Value = serde_json::from_str(
        w.sfn
            .describe_execution()
            .execution_arn(&execution)
            .send()
            .await
            .unwrap()
            .input()
            .unwrap(),
    )
    .unwrap();
    let mut unsure = app(&sdk, Some(w.machine.clone()));
    unsure.sfn = Sfn::from_conf(
        aws_sdk_sfn::config::Builder::from(&sdk)
            // Every DescribeExecution after the first fails.
            .interceptor(
                Gate::fail("DescribeExecution", "injected failure of DescribeExecution")
                    .from_call(2),
            )
            .build(),
    );
    let err = handle(
        event(state_machine_payload("Enable", &input, &execution)),
        &unsure,
    )
    .await
    .expect_err("fails closed");
    let text = err.to_string();
    assert_eq!(err.kind(), "EnableFailed", "{text}");
    assert!(
        text.contains("could not tell whether the window was cancelled meanwhile")
            && text.contains("injected failure of DescribeExecution")
            && text.contains("(as before)"),
        "{text}"
    );
    assert_eq!(snapshot(&w.elb, &w.listener).await, before);
}

// ---------------------------------------------------------------------------
// A cancel racing enable, and the checks enable makes after its writes.

/// The execution ARN and the state machine's Enable payload of a freshly
/// scheduled window.
async fn scheduled_enable(w: &World, window_id: &str) -> (String, Value) {
    handle(
        event(schedule(
            w,
            window_id,
            "2031-12-01T22:00:00Z",
            "2031-12-01T23:00:00Z",
        )),
        &w.app,
    )
    .await
    .unwrap();
    let execution = format!(
        "{}:{window_id}",
        w.machine.replace(":stateMachine:", ":execution:")
    );
    let input: Value = serde_json::from_str(
        w.sfn
            .describe_execution()
            .execution_arn(&execution)
            .send()
            .await
            .unwrap()
            .input()
            .unwrap(),
    )
    .unwrap();
    let enable = state_machine_payload("Enable", &input, &execution);
    (execution, enable)
}

/// The enable's ELB client racing a cancel ([`cancel_mid_enable`]), whose
/// own rollback then meets a failed DeleteRule (a throttle past the SDK's
/// retries, a 5xx): once, a transient error on the way out of maintenance,
/// or for good. The enable makes no DeleteRule before the cancel, so every
/// one it makes comes after it.
fn racing_a_cancel(
    sdk: &aws_types::SdkConfig,
    canceller: App,
    window_id: &str,
    for_good: bool,
) -> (Elb, Cancelled) {
    let (cancel, cancelled) = cancel_mid_enable(canceller, window_id);
    let delete = Gate::fail(
        "DeleteRule",
        "injected: DeleteRule failed once (throttled past retries)",
    );
    let delete = if for_good { delete.every() } else { delete };
    let elb = Elb::from_conf(
        aws_sdk_elasticloadbalancingv2::config::Builder::from(sdk)
            .interceptor(cancel)
            .interceptor(delete)
            .build(),
    );
    (elb, cancelled)
}

/// A cancel lands while the state machine's Enable is in flight, and the
/// enable's rollback meets one transient failure. The execution is ABORTED,
/// so no CleanUp or Disable will ever run and the cancel already returned
/// success: the rollback itself must try again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_mid_enable_with_one_failed_rollback_call_still_leaves_maintenance() {
    let w = world().await;
    let sdk = Moto::shared().sdk_config().await;
    let before = snapshot(&w.elb, &w.listener).await;
    let (execution, enable) = scheduled_enable(&w, "race-rb").await;

    let mut racing = app(&sdk, Some(w.machine.clone()));
    let (elb, cancelled) =
        racing_a_cancel(&sdk, app(&sdk, Some(w.machine.clone())), "race-rb", false);
    racing.elb = elb;
    let result = handle(event(enable), &racing).await;

    let cancel = cancelled.lock().unwrap().take().expect("the cancel ran");
    let cancel = cancel.expect("the operator's cancel reported success");
    assert_eq!(cancel.applied[0].action, "stop_execution");
    let status = w
        .sfn
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .unwrap();
    assert_eq!(*status.status(), ExecutionStatus::Aborted);
    let err = result.expect_err("the enable was cancelled");
    // No execution is left to end the window, and the operator was told the
    // cancel succeeded: the listener must be as before.
    assert_eq!(
        snapshot(&w.elb, &w.listener).await,
        before,
        "the cancelled window is left in maintenance (enable said: {err})"
    );
}

/// The check after the writes is throttled past the SDK's retries. Like
/// the check before the writes, it fails as `Throttled`, which the state
/// machine's Enable retries (one throttle must not fail the window); until
/// then the window is undone, since it may have been cancelled.
#[tokio::test]
async fn a_throttled_check_after_enable_is_retried_by_the_state_machine() {
    let w = world().await;
    let before = snapshot(&w.elb, &w.listener).await;
    let sdk = Moto::shared().sdk_config().await;
    let (_execution, enable) = scheduled_enable(&w, "throttled-1").await;
    let mut throttled = app(&sdk, Some(w.machine.clone()));
    throttled.sfn = Sfn::from_conf(
        aws_sdk_sfn::config::Builder::from(&sdk)
            // Every DescribeExecution attempt after the first is throttled.
            .interceptor(
                Gate::answer("DescribeExecution", || Fault::Throttled.response()).from_call(2),
            )
            .build(),
    );
    let err = handle(event(enable), &throttled)
        .await
        .expect_err("the check could not be made");
    let asl: Value = serde_json::from_str(
        &std::fs::read_to_string(
            toilkit_tests::workspace::root().join("statemachines/maintenance-window.asl.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let retried: Vec<&str> = asl["States"]["Enable"]["Retry"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["ErrorEquals"].as_array().unwrap())
        .filter_map(Value::as_str)
        .collect();
    assert!(
        retried.contains(&err.kind()),
        "a throttled DescribeExecution fails the window for good: {} ({err}) is not retried by Enable ({retried:?})",
        err.kind()
    );
    let text = err.to_string();
    assert!(
        text.contains("could not tell whether window throttled-1 was cancelled")
            && text.contains("(as before)"),
        "{text}"
    );
    assert_eq!(snapshot(&w.elb, &w.listener).await, before);
}

/// When the rollback after a cancel cannot finish, the error the operator
/// reads (the Lambda response, the log line, the errors alarm) says the
/// listener is still in maintenance, and a clean-up execution of the
/// window state machine is started to end it: the cancelled execution
/// never will.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_enable_it_cannot_roll_back_says_so_and_starts_a_clean_up() {
    let w = world().await;
    let sdk = Moto::shared().sdk_config().await;
    let before = snapshot(&w.elb, &w.listener).await;
    let (execution, enable) = scheduled_enable(&w, "race-msg").await;
    let mut racing = app(&sdk, Some(w.machine.clone()));
    (racing.elb, _) = racing_a_cancel(&sdk, app(&sdk, Some(w.machine.clone())), "race-msg", true);
    let err = handle(event(enable), &racing)
        .await
        .expect_err("the enable was cancelled");
    let text = err.to_string();
    assert_eq!(err.kind(), "Cancelled", "{text}");
    assert!(
        text.contains(&format!(
            "NOT rolled back: {}: rules still there: [",
            w.listener
        )),
        "{text}"
    );
    assert!(text.contains("maintenance is still ON here"), "{text}");
    assert!(text.contains("(tried 5 times)"), "{text}");
    assert!(
        !text.contains("is not switched on") && !text.contains("no listener needed rolling back"),
        "the message says the opposite of the listener's state: {text}"
    );

    // The clean-up execution: named in the error, only disables the window.
    let cleanups: Vec<String> = w
        .sfn
        .list_executions()
        .state_machine_arn(&w.machine)
        .send()
        .await
        .unwrap()
        .executions()
        .iter()
        .map(|e| e.execution_arn().to_owned())
        .filter(|arn| arn != &execution)
        .collect();
    assert_eq!(cleanups.len(), 1, "{cleanups:?}");
    assert!(
        text.contains(&format!("started clean-up execution {}", cleanups[0])),
        "{text}"
    );
    let out = w
        .sfn
        .describe_execution()
        .execution_arn(&cleanups[0])
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(out.input().unwrap()).unwrap();
    assert_eq!(input["cleanup_of"], json!(execution));
    assert_eq!(input["listener_arns"], json!([w.listener]));
    assert!(input.get("bypass_header").is_none(), "no secrets copied");

    // Its Disable, once the failures are over, restores the listener.
    let disable = state_machine_payload("Disable", &input, &cleanups[0]);
    let report = handle(event(disable), &w.app).await.expect("clean-up");
    assert_eq!(snapshot(&w.elb, &w.listener).await, before, "{report:?}");
}

/// A clean-up execution leaves a window alone whose own execution runs:
/// that execution ends the window itself (its Enable retry or CleanUp), and
/// disabling now would end a window that stands.
#[tokio::test]
async fn a_clean_up_leaves_a_running_window_to_its_own_execution() {
    let w = world().await;
    let (execution, enable) = scheduled_enable(&w, "still-on").await;
    handle(event(enable), &w.app).await.expect("enable");
    let on = snapshot(&w.elb, &w.listener).await;
    let input = json!({"window_id": "still-on", "listener_arns": [w.listener],
        "cleanup_of": execution,
        "start_at": "2031-01-01T00:00:00Z", "end_at": "2031-01-01T00:00:00Z"});
    let disable = state_machine_payload("Disable", &input, "unused");
    let report = handle(event(disable), &w.app).await.expect("clean-up");
    assert_eq!(snapshot(&w.elb, &w.listener).await, on, "{report:?}");
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.reason.contains("own execution is still running")),
        "{report:?}"
    );
}
