//! A result event bus whose events the test can read back: moto delivers
//! what a rule matches to a log group, as EventBridge does, so a test sees
//! each event whole, as the central account would receive it.

use aws_types::SdkConfig;
use serde_json::Value;

use crate::Moto;
use crate::moto::ACCOUNT_ID;

pub struct ResultBus {
    /// The bus name, for `RESULT_EVENT_BUS`.
    pub name: String,
    group: String,
    region: String,
    endpoint: String,
}

impl ResultBus {
    /// A new bus in `sdk`'s Region, with a rule for `source: toilkit` that
    /// delivers to a log group of its own. The group is in the same Region:
    /// a test that lists log groups there sees it.
    pub async fn create(moto: &Moto, sdk: &SdkConfig) -> Self {
        let name = moto.unique("toilkit-results");
        let group = format!("/toilkit-tests/{name}");
        let region = sdk.region().expect("a Region").to_string();
        let events = aws_sdk_eventbridge::Client::new(sdk);
        let logs = aws_sdk_cloudwatchlogs::Client::new(sdk);
        events
            .create_event_bus()
            .name(&name)
            .send()
            .await
            .expect("create the bus");
        logs.create_log_group()
            .log_group_name(&group)
            .send()
            .await
            .expect("create the capture group");
        events
            .put_rule()
            .name(&name)
            .event_bus_name(&name)
            .event_pattern(r#"{"source": ["toilkit"]}"#)
            .send()
            .await
            .expect("create the rule");
        events
            .put_targets()
            .rule(&name)
            .event_bus_name(&name)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("capture")
                    .arn(format!(
                        "arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{group}"
                    ))
                    .build()
                    .expect("a target"),
            )
            .send()
            .await
            .expect("target the capture group");
        Self {
            name,
            group,
            region,
            endpoint: moto.endpoint().to_owned(),
        }
    }

    /// The capture group's name, for tests that must leave it out.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Every event delivered so far, whole (`source`, `detail-type`,
    /// `detail`), oldest first.
    ///
    /// Read with a plain `FilterLogEvents` request: moto writes these events'
    /// timestamps as fractions of a millisecond, which the SDK refuses to
    /// parse.
    pub async fn events(&self) -> Vec<Value> {
        // moto takes the Region from the credential scope and checks no
        // signature.
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{}/logs/aws4_request, SignedHeaders=host, Signature=0",
            self.region
        );
        let client = shared::https::client_builder()
            .build()
            .expect("an HTTP client with default settings builds");
        let mut events = Vec::new();
        let mut token = Value::Null;
        loop {
            let mut body = serde_json::json!({"logGroupName": self.group});
            if !token.is_null() {
                body["nextToken"] = token;
            }
            let page: Value = client
                .post(&self.endpoint)
                .header("X-Amz-Target", "Logs_20140328.FilterLogEvents")
                .header("Content-Type", "application/x-amz-json-1.1")
                .header("Authorization", &authorization)
                .body(body.to_string())
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .expect("read the capture group")
                .json()
                .await
                .expect("FilterLogEvents answers JSON");
            for event in page["events"].as_array().into_iter().flatten() {
                let message = event["message"].as_str().unwrap_or_default();
                let value: Value = serde_json::from_str(message)
                    .unwrap_or_else(|e| panic!("a delivered event is JSON ({e}): {message}"));
                events.push((event["timestamp"].as_f64().unwrap_or_default(), value));
            }
            token = page["nextToken"].clone();
            if token.is_null() {
                break;
            }
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        events.into_iter().map(|(_, value)| value).collect()
    }

    /// The detail of the one event delivered so far.
    pub async fn only_detail(&self) -> Value {
        let mut events = self.events().await;
        assert_eq!(events.len(), 1, "one result event: {events:#?}");
        let event = events.remove(0);
        assert_eq!(event["source"], "toilkit", "{event}");
        event["detail"].clone()
    }

    /// The error of the one event delivered so far, which must be a failed
    /// run's that lists nothing (an invocation that failed before it had a
    /// report), from `function`.
    pub async fn only_failure(&self, function: &str) -> String {
        let detail = self.only_detail().await;
        assert_eq!(detail["function"], function, "{detail}");
        assert_eq!(detail["outcome"], "failed", "{detail}");
        assert_eq!(detail["items"], serde_json::json!([]), "{detail}");
        detail["error"]
            .as_str()
            .unwrap_or_else(|| panic!("a failed run's event says why: {detail}"))
            .to_owned()
    }
}
