//! Enable, disable and status against ALBs in moto, through the real handler.

use std::net::IpAddr;

use crate::common::*;
use aws_sdk_elasticloadbalancingv2::Client;
use maintenance_switch::evaluate::{HttpRequest, describe_actions, evaluate};
use maintenance_switch::{App, Error, handle, listener};
use serde_json::{Value, json};
use toilkit_tests::elbv2::snapshot;
use toilkit_tests::{Gate, Moto};

async fn setup() -> (&'static Moto, Client, aws_types::SdkConfig) {
    let moto = Moto::shared();
    let sdk = moto.sdk_config().await;
    (moto, Client::new(&sdk), sdk)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn fixed_response_shifts_taken_priorities_and_disable_restores_them_exactly() {
    let (moto, elb, sdk) = setup().await;
    let alb = alb(moto, &elb).await;
    let l = listener(&elb, &alb, 80).await;
    rule(&elb, &l, 1, path("/api/*"), forward(&alb.api)).await;
    rule(&elb, &l, 2, path("/old/*"), fixed("410")).await;
    rule(&elb, &l, 5, path("/admin/*"), forward(&alb.api)).await;
    let before = snapshot(&elb, &l).await;
    let app = app(&sdk, None);

    // 7 CIDRs, IPv4 and IPv6: two source-ip rules (5 values per condition).
    let cidrs = [
        "203.0.113.0/24",
        "198.51.100.7",
        "192.0.2.0/28",
        "10.1.0.0/16",
        "10.2.0.0/16",
        "10.3.0.0/16",
        "2001:db8::/32",
    ];
    let enable = json!({
        "action": "enable", "window_id": "release-42", "listener_arns": [l],
        "status_code": 503, "content_type": "text/html", "body": "<h1>Back at 23:00</h1>",
        "bypass_cidrs": cidrs,
        "bypass_header": {"name": "X-Maintenance-Bypass", "values": ["s3cret-team-token"]},
    });
    let report = handle(event(enable.clone()), &app).await.expect("enable");
    let text = serde_json::to_string(&report).unwrap();
    assert!(
        !text.contains("s3cret-team-token"),
        "secret in report: {text}"
    );
    assert_eq!(report.counter("applied"), 3 + 4, "{text}");

    let on = snapshot(&elb, &l).await;
    assert_eq!(
        layout(&on),
        [
            ("1".into(), "source-ip->forward".into()),
            ("2".into(), "source-ip->forward".into()),
            ("3".into(), "http-header->forward".into()),
            ("4".into(), "path-pattern->fixed-response".into()),
            ("5".into(), "path-pattern->forward".into()),
            ("6".into(), "path-pattern->fixed-response".into()),
            ("7".into(), "path-pattern->forward".into()),
        ]
    );
    // The moved rules carry their original priorities.
    let moved: Vec<&str> = on
        .tags
        .values()
        .flatten()
        .filter(|(k, _)| k == "toilkit:maintenance-original-priority")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(moved.len(), 3);

    // What users get, by evaluating the listener's rules.
    let defaults = listener::describe_listeners(&elb, std::slice::from_ref(&l))
        .await
        .unwrap();
    let state = listener::load(&elb, &l, defaults[&l].clone())
        .await
        .unwrap();
    let outside = HttpRequest::get(ip("198.51.100.99"), "shop.example.com", "/api/cart");
    assert_eq!(
        describe_actions(evaluate(&state, &outside).actions),
        "fixed response 503 (text/html)"
    );
    for team in ["203.0.113.50", "198.51.100.7", "2001:db8:5::1"] {
        let req = HttpRequest::get(ip(team), "shop.example.com", "/");
        let out = evaluate(&state, &req);
        assert_eq!(
            out.actions,
            state.default_actions.as_slice(),
            "{team} bypasses"
        );
    }
    let with_header = outside
        .clone()
        .with_header("x-maintenance-bypass", "s3cret-team-token");
    assert_eq!(
        evaluate(&state, &with_header).actions,
        state.default_actions.as_slice()
    );

    // Status per listener.
    let status = handle(
        event(json!({"action": "status", "listener_arns": [l]})),
        &app,
    )
    .await
    .unwrap();
    let s = &status.details["listeners"][0];
    assert_eq!(s["maintenance"], json!(true));
    assert_eq!(s["window_id"], json!("release-42"));
    assert!(s["since"].as_str().unwrap().ends_with('Z'), "{s}");
    assert_eq!(s["bypass_rules"], json!(3));
    assert_eq!(s["shifted_rules"], json!(3));

    // Enabling twice adds nothing.
    let again = handle(event(enable), &app).await.expect("enable again");
    assert_eq!(again.counter("applied"), 0);
    assert!(
        again.skipped[0].reason.contains("already on"),
        "{:?}",
        again.skipped
    );
    assert_eq!(snapshot(&elb, &l).await, on);

    let off = handle(
        event(json!({"action": "disable", "window_id": "release-42", "listener_arns": [l]})),
        &app,
    )
    .await
    .expect("disable");
    assert_eq!(off.counter("applied"), 4 + 3);
    assert_eq!(off.details["listeners"][0]["maintenance"], json!(false));
    assert_eq!(
        snapshot(&elb, &l).await,
        before,
        "the listener is exactly as before"
    );

    // Disabling when maintenance is off changes nothing.
    let noop = handle(
        event(json!({"action": "disable", "listener_arns": [l]})),
        &app,
    )
    .await
    .unwrap();
    assert_eq!(noop.counter("applied"), 0);
    assert_eq!(
        noop.skipped[0].reason,
        "maintenance is not on; nothing to do"
    );
    assert_eq!(snapshot(&elb, &l).await, before);
}

#[tokio::test]
async fn forward_mode_uses_free_priorities_and_bypass_keeps_the_default_action() {
    let (moto, elb, sdk) = setup().await;
    let alb = alb(moto, &elb).await;
    let l = listener_with(&elb, &alb, 80, redirect_to_https()).await;
    rule(&elb, &l, 10, path("/health"), fixed("200")).await;
    rule(&elb, &l, 20, path("/api/*"), forward(&alb.api)).await;
    let before = snapshot(&elb, &l).await;
    let app = app(&sdk, None);

    let report = handle(
        event(
            json!({"action": "enable", "window_id": "w-forward", "listener_arns": [l],
                     "mode": "forward", "target_group_arn": alb.maintenance,
                     "bypass_cidrs": ["2001:db8:abcd::/48"]}),
        ),
        &app,
    )
    .await
    .expect("enable");
    assert!(
        report.planned.iter().all(|a| a.action == "create_rule"),
        "nothing moved"
    );
    let on = snapshot(&elb, &l).await;
    assert_eq!(
        layout(&on),
        [
            ("1".into(), "source-ip->redirect".into()),
            ("2".into(), "path-pattern->forward".into()),
            ("10".into(), "path-pattern->fixed-response".into()),
            ("20".into(), "path-pattern->forward".into()),
        ]
    );
    let maintenance = on.rules.iter().find(|r| r.priority() == Some("2")).unwrap();
    assert_eq!(
        maintenance.actions()[0].target_group_arn(),
        Some(alb.maintenance.as_str())
    );

    handle(
        event(json!({"action": "disable", "window_id": "w-forward", "listener_arns": [l]})),
        &app,
    )
    .await
    .expect("disable");
    assert_eq!(snapshot(&elb, &l).await, before);
}

#[tokio::test]
async fn missing_listeners_or_target_groups_change_nothing() {
    let (moto, elb, sdk) = setup().await;
    let alb = alb(moto, &elb).await;
    let l = listener(&elb, &alb, 80).await;
    rule(&elb, &l, 1, path("/api/*"), forward(&alb.api)).await;
    let before = snapshot(&elb, &l).await;
    let app = app(&sdk, None);
    // Same load balancer, an id no listener has.
    let never = |arn: &str| format!("{}/0000000000000000", arn.rsplit_once('/').unwrap().0);
    let ghost = never(&l);

    let err = handle(
        event(json!({"action": "enable", "window_id": "w", "listener_arns": [l, ghost]})),
        &app,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::ListenersNotFound(m) if m == std::slice::from_ref(&ghost)),
        "{err}"
    );

    let tg = never(&alb.maintenance);
    let err = handle(
        event(
            json!({"action": "enable", "window_id": "w", "listener_arns": [l],
                     "mode": "forward", "target_group_arn": tg}),
        ),
        &app,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::TargetGroupNotFound(_)), "{err}");

    let err = handle(
        event(
            json!({"action": "enable", "window_id": "w", "listener_arns": [l],
                     "body": "x".repeat(2000), "content_type": "text/xml"}),
        ),
        &app,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(p) if p.len() == 2),
        "{err}"
    );
    assert_eq!(snapshot(&elb, &l).await, before);
}

#[tokio::test]
async fn another_window_on_one_listener_refuses_the_whole_enable() {
    let (moto, elb, sdk) = setup().await;
    let alb = alb(moto, &elb).await;
    let a = listener(&elb, &alb, 80).await;
    let b = listener(&elb, &alb, 8080).await;
    let app = app(&sdk, None);
    handle(
        event(json!({"action": "enable", "window_id": "first", "listener_arns": [a]})),
        &app,
    )
    .await
    .unwrap();
    let b_before = snapshot(&elb, &b).await;
    let a_on = snapshot(&elb, &a).await;
    let err = handle(
        event(json!({"action": "enable", "window_id": "second", "listener_arns": [b, a]})),
        &app,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("maintenance window first is on"),
        "{err}"
    );
    assert_eq!(snapshot(&elb, &b).await, b_before);
    assert_eq!(snapshot(&elb, &a).await, a_on);
    // Disabling another window leaves this one alone.
    let r = handle(
        event(json!({"action": "disable", "window_id": "second", "listener_arns": [a]})),
        &app,
    )
    .await
    .unwrap();
    assert!(
        r.skipped[0].reason.contains("window(s) first left alone"),
        "{:?}",
        r.skipped
    );
    assert_eq!(snapshot(&elb, &a).await, a_on);
}

#[tokio::test]
async fn dry_run_plans_without_changing() {
    let (moto, elb, sdk) = setup().await;
    let alb = alb(moto, &elb).await;
    let l = listener(&elb, &alb, 80).await;
    rule(&elb, &l, 1, path("/api/*"), forward(&alb.api)).await;
    let before = snapshot(&elb, &l).await;
    let report = handle(
        event(
            json!({"action": "enable", "window_id": "w", "listener_arns": [l], "dry_run": true,
                     "bypass_cidrs": ["203.0.113.0/24"]}),
        ),
        &app(&sdk, None),
    )
    .await
    .unwrap();
    assert!(report.dry_run);
    let planned: Vec<&str> = report.planned.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(planned, ["move_rule", "create_rule", "create_rule"]);
    assert!(report.applied.is_empty());
    assert_eq!(snapshot(&elb, &l).await, before);
}

/// Fails, before they are sent, the ELB calls of `operation` whose body
/// names `needle`: moto cannot be made to fail one listener's CreateRule
/// while the others succeed.
fn failing_app(sdk: &aws_types::SdkConfig, fail: Vec<(&'static str, String)>) -> App {
    let mut app = app(sdk, None);
    let config = fail
        .into_iter()
        .fold(
            aws_sdk_elasticloadbalancingv2::config::Builder::from(sdk),
            |config, (operation, needle)| {
                config.interceptor(
                    Gate::fail(operation, format!("injected failure of {operation}"))
                        .containing(needle)
                        .every(),
                )
            },
        )
        .build();
    app.elb = Client::from_conf(config);
    app
}

/// The listener's own id, the last part of its ARN: it appears unescaped in
/// every request about the listener or its rules.
fn listener_id(arn: &str) -> String {
    arn.rsplit('/').next().unwrap().to_owned()
}

async fn three_listeners(moto: &Moto, elb: &Client) -> (Alb, [String; 3]) {
    let alb = alb(moto, elb).await;
    let a = listener(elb, &alb, 80).await;
    let b = listener(elb, &alb, 8080).await;
    let c = listener(elb, &alb, 8443).await;
    for l in [&a, &b, &c] {
        rule(elb, l, 1, path("/api/*"), forward(&alb.api)).await;
        rule(elb, l, 3, path("/static/*"), forward(&alb.web)).await;
    }
    (alb, [a, b, c])
}

#[tokio::test]
async fn a_failure_on_one_listener_rolls_back_the_others() {
    let (moto, elb, sdk) = setup().await;
    let (_alb, [a, b, c]) = three_listeners(moto, &elb).await;
    let before = [
        snapshot(&elb, &a).await,
        snapshot(&elb, &b).await,
        snapshot(&elb, &c).await,
    ];
    let app = failing_app(&sdk, vec![("CreateRule", listener_id(&b))]);
    let request = json!({"action": "enable", "window_id": "w-partial", "listener_arns": [a, b, c],
                         "bypass_cidrs": ["203.0.113.0/24"]});
    let err = handle(event(request), &app).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::EnableFailed { .. }), "{text}");
    assert!(text.contains("injected failure of CreateRule"), "{text}");
    assert!(
        text.contains(&format!("rolled back {a}, {b} (as before)")),
        "{text}"
    );
    assert!(!text.contains("NOT rolled back"), "{text}");
    assert_eq!(snapshot(&elb, &a).await, before[0]);
    assert_eq!(snapshot(&elb, &b).await, before[1]);
    assert_eq!(snapshot(&elb, &c).await, before[2]);
}

#[tokio::test]
async fn a_rollback_that_cannot_finish_says_exactly_what_is_left() {
    let (moto, elb, sdk) = setup().await;
    let (_alb, [a, b, c]) = three_listeners(moto, &elb).await;
    let before_a = snapshot(&elb, &a).await;
    let app = failing_app(
        &sdk,
        vec![
            ("CreateRule", listener_id(&b)),
            ("DeleteRule", listener_id(&a)),
        ],
    );
    let err = handle(
        event(json!({"action": "enable", "window_id": "w-stuck", "listener_arns": [a, b, c]})),
        &app,
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("rolled back {b} (as before)")),
        "{text}"
    );
    assert!(
        text.contains(&format!("NOT rolled back: {a}: rules still there: [")),
        "{text}"
    );
    // The rule left is named by its ARN, and the moved rule by where it was.
    let state = listener::load(&elb, &a, vec![]).await.unwrap();
    let left = state
        .rules
        .iter()
        .find(|r| r.window() == Some("w-stuck"))
        .unwrap();
    assert!(
        text.contains(&format!("{} (priority 1)", left.arn)),
        "{text}"
    );
    assert!(text.contains("was 1)"), "{text}");

    // A plain disable (as the state machine's clean-up does) finishes the job.
    let clean = crate::common::app(&sdk, None);
    let r = handle(
        event(json!({"action": "disable", "window_id": "w-stuck", "listener_arns": [a]})),
        &clean,
    )
    .await
    .unwrap();
    assert_eq!(r.details["listeners"][0]["leftover_rules"], Value::from(0));
    assert_eq!(snapshot(&elb, &a).await, before_a);
}

#[tokio::test]
async fn disable_restores_every_listener_left_and_names_the_one_deleted_during_the_window() {
    let (moto, elb, sdk) = setup().await;
    let (_alb, [a, b, c]) = three_listeners(moto, &elb).await;
    let before_a = snapshot(&elb, &a).await;
    let before_c = snapshot(&elb, &c).await;
    let app = app(&sdk, None);
    handle(
        event(
            json!({"action": "enable", "window_id": "w-gone", "listener_arns": [a, b, c],
                     "bypass_cidrs": ["203.0.113.0/24"]}),
        ),
        &app,
    )
    .await
    .expect("enable");
    // Someone deletes one listener while the site is in maintenance.
    elb.delete_listener().listener_arn(&b).send().await.unwrap();

    // The state machine's Disable sends the window's own listener list.
    let report = handle(
        event(json!({"action": "disable", "window_id": "w-gone", "listener_arns": [a, b, c]})),
        &app,
    )
    .await
    .expect("leaving maintenance is not refused because one listener is gone");
    assert_eq!(snapshot(&elb, &a).await, before_a, "exactly as before");
    assert_eq!(snapshot(&elb, &c).await, before_c, "exactly as before");
    assert_eq!(report.details["disable"]["restored"], json!([a, c]));
    assert_eq!(report.details["disable"]["missing"], json!([b]));
    let missing: Vec<_> = report.failed.iter().filter(|f| f.target == b).collect();
    assert_eq!(missing.len(), 1, "{:?}", report.failed);
    assert!(
        missing[0].error.contains("not found"),
        "{:?}",
        report.failed
    );
    let statuses = report.details["listeners"].as_array().unwrap();
    assert_eq!(statuses.len(), 2, "{statuses:?}");
    assert!(statuses.iter().all(|s| s["maintenance"] == json!(false)));
}

#[tokio::test]
async fn unsafe_header_bypasses_are_refused_naming_the_header() {
    let (moto, elb, sdk) = setup().await;
    let alb = alb(moto, &elb).await;
    let l = listener(&elb, &alb, 80).await;
    let before = snapshot(&elb, &l).await;
    let app = app(&sdk, None);

    // `*` and `?` are wildcards to ALB: this secret would let `a-token-ANYTHING` through.
    let err = handle(
        event(
            json!({"action": "enable", "window_id": "w-wild", "listener_arns": [l],
                     "bypass_header": {"name": "X-Maintenance-Bypass",
                                       "values": ["fake-token-0001", "a-token-*"]}}),
        ),
        &app,
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::InvalidRequest(_)), "{text}");
    assert!(
        text.contains("bypass_header \"X-Maintenance-Bypass\" value #2")
            && text.contains("wildcard"),
        "{text}"
    );
    assert!(
        !text.contains("a-token-"),
        "the secret is not echoed: {text}"
    );

    // A client sends its own X-Forwarded-For, and ALB keeps it.
    for values in [json!(["203.0.113.*"]), json!(["203.0.113.7"])] {
        let err = handle(
            event(
                json!({"action": "enable", "window_id": "w-xff", "listener_arns": [l],
                         "bypass_header": {"name": "x-forwarded-for", "values": values}}),
            ),
            &app,
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::InvalidRequest(_)), "{text}");
        assert!(
            text.contains("bypass_header \"x-forwarded-for\"") && text.contains("bypass_cidrs"),
            "{text}"
        );
    }
    assert_eq!(snapshot(&elb, &l).await, before, "nothing was changed");
}
