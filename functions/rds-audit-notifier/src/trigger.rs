//! What invoked the function: a CloudWatch Logs subscription delivery from
//! an RDS log group, read as `aws_lambda_events`' `LogData`. Anything else
//! is refused with an error naming what arrived.

use aws_lambda_events::cloudwatch_logs::LogData;
use serde_json::Value;
use shared::input::{EventKind, classify, decode_logs_subscription, is_control_message};

use crate::error::Error;

/// What invoked the function.
#[derive(Debug)]
pub enum Trigger {
    /// A batch of audit log lines.
    Logs(LogData),
    /// CloudWatch Logs' reachability check, which carries no lines.
    Control { log_group: String },
}

impl Trigger {
    pub fn log_group(&self) -> &str {
        match self {
            Self::Logs(data) => &data.log_group,
            Self::Control { log_group } => log_group,
        }
    }
}

/// Reads the event.
pub fn parse(payload: Value) -> Result<Trigger, Error> {
    let kind = classify(&payload);
    if kind != EventKind::LogsSubscription {
        return Err(Error::UnexpectedEvent(describe(&kind)));
    }
    let data = decode_logs_subscription(payload)?;
    if is_control_message(&data) {
        return Ok(Trigger::Control {
            log_group: data.log_group,
        });
    }
    Ok(Trigger::Logs(data))
}

fn describe(kind: &EventKind) -> String {
    match kind {
        EventKind::LogsSubscription => "a CloudWatch Logs subscription".to_owned(),
        EventKind::S3Notification => "an S3 notification".to_owned(),
        EventKind::SqsBatch => "an SQS batch".to_owned(),
        EventKind::EventBridge {
            source,
            detail_type,
        } => {
            format!("an EventBridge event ({source}: {detail_type})")
        }
        EventKind::Manual => "a hand-made event without \"awslogs\"".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use toilkit_tests::logs_subscription::{event as subscription_event, log_data};

    #[test]
    fn a_subscription_is_read_and_anything_else_is_named_in_the_refusal() {
        let data = log_data(
            "/aws/rds/instance/db-1/audit",
            "s",
            1_700_000_000_000,
            &["x"],
        );
        let Trigger::Logs(read) = parse(subscription_event(&data)).unwrap() else {
            panic!("a data message is a batch of lines");
        };
        assert_eq!(read.log_group, "/aws/rds/instance/db-1/audit");
        assert_eq!(read.log_events.len(), 1);

        let refused = parse(json!({"source": "aws.events", "detail-type": "Scheduled Event"}))
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("an EventBridge event (aws.events: Scheduled Event)"),
            "{refused}"
        );
    }
}
