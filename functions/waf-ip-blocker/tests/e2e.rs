//! The real binary under cargo-lambda's Runtime API emulator, invoked with
//! an S3 notification for a WAF log object in moto.

mod common;

use common::*;
use toilkit_tests::lambda::Invocation;
use toilkit_tests::{LambdaEmulator, Moto};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_blocks_a_flood_from_an_s3_event() {
    let fx = Fixture::new().await;
    let ts = window_ms(300);
    let mut lines = flood(ts, "203.0.113.99", 40);
    lines.extend(flood(ts, "2001:db8::99", 40));
    lines.extend(flood(ts, "198.51.100.3", 3));
    lines.push("garbage".into());
    fx.put_log("AWSLogs/123456789012/WAFLogs/e2e.log.gz", &lines, true)
        .await;

    let mut env = Moto::shared().env();
    env.extend(fx.env(&[("THRESHOLD", "40"), ("BLOCK_MINUTES", "60")]));
    let event = fx.notification("AWSLogs/123456789012/WAFLogs/e2e.log.gz");
    let (response, log) = tokio::task::spawn_blocking(move || {
        let mut lambda = LambdaEmulator::start(
            std::path::Path::new(env!("CARGO_BIN_EXE_waf-ip-blocker")),
            &env,
        );
        let response = lambda.invoke(&event);
        (response, lambda.log())
    })
    .await
    .unwrap();
    let report = match response {
        Invocation::Response(v) => v,
        Invocation::Error(e) => panic!("invocation failed: {e}\n{log}"),
    };
    assert_eq!(report["function"], "waf-ip-blocker");
    assert_eq!(report["counters"]["new_blocks"], 2, "{report}");
    assert_eq!(report["counters"]["lines_malformed"], 1);
    assert_eq!(report["counters"]["ipset_writes"], 2);
    assert_eq!(fx.set(&fx.v4_arn).await.0, ["203.0.113.99/32"]);
    assert_eq!(fx.set(&fx.v6_arn).await.0, ["2001:db8::99/128"]);
    assert!(
        log.contains("\"toilkit_report\""),
        "the report is logged once: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_stops_the_binary_with_every_problem_named() {
    let mut env = Moto::shared().env();
    env.push(("THRESHOLD".into(), "many".into()));
    let (running, log) = tokio::task::spawn_blocking(move || {
        let mut lambda = LambdaEmulator::start(
            std::path::Path::new(env!("CARGO_BIN_EXE_waf-ip-blocker")),
            &env,
        );
        // Init fails before the first poll of the Runtime API, so the
        // process ends on its own; an invocation would wait for it forever.
        let started = std::time::Instant::now();
        while lambda.function_running() && started.elapsed() < std::time::Duration::from_secs(30) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        (lambda.function_running(), lambda.log())
    })
    .await
    .unwrap();
    assert!(!running, "init must fail");
    for name in ["LEDGER_TABLE", "IPSET_V4_ARN", "THRESHOLD"] {
        assert!(log.contains(name), "{name} not named in: {log}");
    }
}
