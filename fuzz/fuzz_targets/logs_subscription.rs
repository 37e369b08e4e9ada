//! The CloudWatch Logs subscription payload decoder
//! (`shared::input::decode_logs_subscription`): base64, then gzip, then JSON.
//!
//! The first byte picks the layer the rest of the input reaches unaltered,
//! so the fuzzer explores each one instead of dying at the first:
//! 0 — the whole `awslogs.data` string as given; 1 — base64 of the bytes
//! (gzip and JSON exposed); 2 — base64 of gzip of the bytes (the JSON
//! exposed, as CloudWatch Logs would wrap whatever a log line held).
#![no_main]

use std::io::Write as _;

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|input: &[u8]| {
    let Some((&layer, rest)) = input.split_first() else {
        return;
    };
    let data = match layer % 3 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        1 => base64::engine::general_purpose::STANDARD.encode(rest),
        _ => {
            let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gzip.write_all(rest).expect("in memory");
            base64::engine::general_purpose::STANDARD.encode(gzip.finish().expect("in memory"))
        }
    };
    match shared::input::decode_logs_subscription(json!({"awslogs": {"data": data}})) {
        Ok(logs) => {
            // What a function does next with a decoded payload.
            let _ = shared::input::is_control_message(&logs);
            for event in &logs.log_events {
                let _ = event.message.len();
            }
        }
        Err(error) => assert!(error.to_string().contains("base64 of gzip")),
    }
});
