//! The subscription envelope: a batch encoded as CloudWatch Logs delivers it
//! (`{"awslogs": {"data": base64(gzip(JSON))}}`), for replaying a batch by
//! hand, the demo and the tests. Decoding is `shared::input`'s job.

use std::io::Write;

use base64::Engine;
use serde_json::{Value, json};

/// The Lambda event for a decoded subscription document.
pub fn subscription_event(document: &Value) -> Value {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(document.to_string().as_bytes())
        .expect("writing to memory cannot fail");
    let gz = gz.finish().expect("writing to memory cannot fail");
    json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD.encode(gz)}})
}

/// A decoded subscription document carrying `messages` from `log_group`,
/// with event ids and timestamps shaped like CloudWatch's.
pub fn log_data(log_group: &str, log_stream: &str, first_ms: i64, messages: &[&str]) -> Value {
    let events: Vec<Value> = messages
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
    json!({
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["toilkit-rds-audit"],
        "logEvents": events,
    })
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
        let data = shared::input::decode_logs_subscription(subscription_event(&doc)).unwrap();
        assert_eq!(data.log_group, "/aws/rds/instance/db/audit");
        assert_eq!(data.log_events.len(), 2);
        assert_eq!(data.log_events[1].message, "b");
        assert_eq!(data.log_events[1].id.len(), 56);
        assert_ne!(data.log_events[0].id, data.log_events[1].id);
    }
}
