//! The functions' own event readers, for any JSON event: waf-ip-blocker's
//! `trigger::parse` (S3 notification, EventBridge Object Created, CloudWatch
//! Logs, schedule), log-retention's `trigger::parse` (schedule, manual,
//! CloudTrail CreateLogGroup) and maintenance-switch's `Request::parse` (the
//! operator's or Step Functions' request). Each must answer with a value or
//! an error that names what was wrong, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use time::macros::datetime;

fuzz_target!(|input: &[u8]| {
    let Ok(event) = serde_json::from_slice::<Value>(input) else {
        return;
    };
    let _ = waf_ip_blocker::trigger::parse(event.clone());
    let _ = log_retention::trigger::parse(&event);
    let mut env = shared::config::Env::default();
    let config = maintenance_switch::Config::from_env(&mut env);
    let _ = maintenance_switch::request::Request::parse(&event, &config, datetime!(2026-11-21 10:00 UTC));
});
