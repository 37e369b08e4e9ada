//! CloudWatch Logs subscription deliveries, encoded as Lambda receives them:
//! `{"awslogs": {"data": base64(gzip(JSON))}}`. Decoding is
//! `shared::input`'s job; the tests and the demo build deliveries here.

use std::io::Write;

use base64::Engine;
use serde_json::{Value, json};

/// The Lambda event for a decoded subscription `document`.
pub fn event(document: &Value) -> Value {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(document.to_string().as_bytes())
        .expect("writing to memory cannot fail");
    let gz = gz.finish().expect("writing to memory cannot fail");
    json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD.encode(gz)}})
}

/// A decoded subscription document carrying `log_events` (each
/// `{"id", "timestamp", "message"}`) from `log_group`.
pub fn document(log_group: &str, log_stream: &str, log_events: Vec<Value>) -> Value {
    json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["toilkit"],
        "logEvents": log_events,
    })
}

/// A decoded subscription document carrying `messages` from `log_group`, a
/// second apart from `first_ms`, with event ids shaped like CloudWatch's.
pub fn log_data(log_group: &str, log_stream: &str, first_ms: i64, messages: &[&str]) -> Value {
    let events = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let timestamp = first_ms + i as i64 * 1000;
            json!({
                "id": format!("{timestamp:0>20}{i:0>36}"),
                "timestamp": timestamp,
                "message": m,
            })
        })
        .collect();
    document(log_group, log_stream, events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_shared_decoder() {
        let doc = log_data(
            "/aws/rds/instance/db/audit",
            "s",
            1_700_000_000_000,
            &["a", "b"],
        );
        let data = shared::input::decode_logs_subscription(event(&doc)).unwrap();
        assert_eq!(data.log_group, "/aws/rds/instance/db/audit");
        assert_eq!(data.log_events.len(), 2);
        assert_eq!(data.log_events[1].message, "b");
        assert_eq!(data.log_events[1].id.len(), 56);
        assert_ne!(data.log_events[0].id, data.log_events[1].id);
    }
}
