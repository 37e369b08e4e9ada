//! What invoked the function: an EventBridge rule, which wraps the request
//! in an event, or EventBridge Scheduler, the window state machine or an
//! operator, who send the request as it is.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde_json::Value;

use crate::error::Error;

#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// An EventBridge rule delivered the request as the event's `detail`.
    Rule(Box<EventBridgeEvent<Value>>),
    /// Scheduler, the state machine or an operator sent the request itself.
    Direct(Value),
}

impl Trigger {
    /// Tells the two apart by EventBridge's envelope (`source` and
    /// `detail-type`): a request has neither field.
    pub fn parse(payload: Value) -> Result<Self, Error> {
        let enveloped = payload.get("source").is_some() && payload.get("detail-type").is_some();
        if !enveloped {
            return Ok(Self::Direct(payload));
        }
        serde_json::from_value(payload)
            .map(|event| Self::Rule(Box::new(event)))
            .map_err(|e| {
                Error::InvalidRequest(vec![format!(
                    "an EventBridge event must carry the request as its detail ({{\"detail\": {{\"action\": ...}}}}): {e}"
                )])
            })
    }

    /// The request, unwrapped from its envelope.
    pub fn request(self) -> Value {
        match self {
            Self::Rule(event) => event.detail,
            Self::Direct(request) => request,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_rule_delivers_the_request_as_its_detail() {
        let request = json!({"action": "status", "listener_arns": ["arn:l"]});
        let event = json!({
            "version": "0", "id": "6a7e8feb", "detail-type": "Maintenance request",
            "source": "my.deploys", "account": "123456789012",
            "time": "2026-12-01T22:00:00Z", "region": "eu-west-1", "resources": [],
            "detail": request,
        });
        let trigger = Trigger::parse(event).unwrap();
        assert!(matches!(trigger, Trigger::Rule(_)));
        assert_eq!(trigger.request(), request);
    }

    #[test]
    fn a_request_sent_as_it_is_is_taken_as_it_is() {
        let request = json!({"action": "windows"});
        assert_eq!(Trigger::parse(request.clone()).unwrap().request(), request);
        // Not an object at all: the request's own checks say what is wrong.
        assert_eq!(Trigger::parse(json!([1])).unwrap().request(), json!([1]));
    }

    #[test]
    fn an_event_without_a_detail_says_where_the_request_goes() {
        let err = Trigger::parse(json!({"source": "my.deploys", "detail-type": "x"})).unwrap_err();
        assert_eq!(err.kind(), "InvalidRequest");
        assert!(err.to_string().contains("as its detail"), "{err}");
    }
}
