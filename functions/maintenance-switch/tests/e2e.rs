//! The real binary under cargo-lambda's Runtime API emulator, against moto.

use std::path::Path;

use crate::common::*;
use aws_sdk_elasticloadbalancingv2::Client;
use serde_json::json;
use toilkit_tests::elbv2::snapshot;
use toilkit_tests::runtime_api::assert_bad_configuration_reported;
use toilkit_tests::{LambdaEmulator, Moto, ResultBus};

#[tokio::test]
async fn the_binary_switches_a_listener_on_and_back_exactly() {
    let moto = Moto::shared();
    let sdk = moto.sdk_config().await;
    let elb = Client::new(&sdk);
    let alb = alb(moto, &elb).await;
    let l = listener(&elb, &alb, 80).await;
    rule(&elb, &l, 1, path("/api/*"), forward(&alb.api)).await;
    rule(&elb, &l, 2, path("/static/*"), forward(&alb.web)).await;
    let before = snapshot(&elb, &l).await;

    let bus = ResultBus::create(moto, &sdk).await;
    let mut env = moto.env();
    env.push(("DEFAULT_STATUS_CODE".into(), "503".into()));
    env.push(("DEFAULT_BODY".into(), "<h1>Back soon</h1>".into()));
    env.push(("RESULT_EVENT_BUS".into(), bus.name.clone()));
    let mut lambda =
        LambdaEmulator::start(Path::new(env!("CARGO_BIN_EXE_maintenance-switch")), &env);

    let on = lambda
        .invoke(&json!({"action": "enable", "window_id": "e2e-window", "listener_arns": [l],
                        "bypass_cidrs": ["203.0.113.0/24", "2001:db8::/32"],
                        "bypass_header": {"name": "X-Maintenance-Bypass", "values": ["e2e-secret-value"]}}))
        .expect_response();
    assert_eq!(on["counters"]["failed"], json!(null), "{on}");
    assert_eq!(
        on["details"]["listeners"][0]["maintenance"],
        json!(true),
        "{on}"
    );
    let layout_on = layout(&snapshot(&elb, &l).await);
    assert_eq!(layout_on.len(), 5, "{layout_on:?}");
    assert_eq!(
        layout_on[2],
        ("3".into(), "path-pattern->fixed-response".into())
    );

    let status = lambda
        .invoke(&json!({"action": "status", "listener_arns": [l]}))
        .expect_response();
    assert_eq!(status["details"]["listeners"][0]["window_id"], "e2e-window");

    let bad = lambda
        .invoke(&json!({"action": "enable", "window_id": "x", "listener_arns": [l], "status_code": 302}))
        .expect_error();
    assert!(
        bad.contains("InvalidRequest") && bad.contains("status_code 302"),
        "{bad}"
    );

    let off = lambda
        .invoke(&json!({"action": "disable", "window_id": "e2e-window", "listener_arns": [l]}))
        .expect_response();
    assert_eq!(
        off["details"]["listeners"][0]["maintenance"],
        json!(false),
        "{off}"
    );
    assert_eq!(
        snapshot(&elb, &l).await,
        before,
        "the listener is exactly as before"
    );

    let log = lambda.log();
    assert!(log.contains("toilkit_report"), "{log}");
    assert!(
        !log.contains("e2e-secret-value"),
        "the bypass secret reached the log:\n{log}"
    );

    // Each result event says how the run left the listener, under its ARN:
    // in maintenance for the window, still so, (a refused request: failed,
    // saying why), then out of it.
    let events = bus.events().await;
    let details: Vec<&serde_json::Value> = events.iter().map(|e| &e["detail"]).collect();
    assert_eq!(details.len(), 4, "{events:#?}");
    for (detail, state) in details.iter().zip(["open", "open"]) {
        assert_eq!(detail["outcome"], "ok", "{detail}");
        let item = &detail["items"][0];
        assert_eq!(item["kind"], "listener");
        assert_eq!(item["key"], l.as_str());
        assert_eq!(item["state"], state);
        assert_eq!(item["fields"]["window_id"], "e2e-window", "{item}");
    }
    assert_eq!(details[2]["outcome"], "failed");
    assert!(
        details[2]["error"]
            .as_str()
            .unwrap()
            .contains("status_code 302"),
        "{}",
        details[2]
    );
    assert_eq!(details[2]["items"], json!([]));
    assert_eq!(
        details[3]["items"],
        json!([{"kind": "listener", "key": l, "state": "closed"}])
    );
}

#[test]
fn a_bad_configuration_fails_init_with_the_readme_text_and_reports_it_to_the_runtime_api() {
    // Init reads no AWS, so no emulator is needed: only the Runtime API.
    assert_bad_configuration_reported(
        Path::new(env!("CARGO_BIN_EXE_maintenance-switch")),
        &[("DRY_RUN", "perhaps")],
        &["DRY_RUN"],
    );
}
