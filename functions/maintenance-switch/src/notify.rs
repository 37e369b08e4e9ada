//! Telling the team when a window starts, ends or fails, in Slack: the
//! state machine calls the `notify` action at each of those points.

use serde_json::{Value, json};
use shared::Deadline;
use shared::report::{Action as Step, Report};
use shared::slack::{Finding, build_messages};

use crate::App;
use crate::error::Error;

/// The moments the state machine reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Started,
    Ended,
    EnableFailed,
    DisableFailed,
}

impl Event {
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "started" => Self::Started,
            "ended" => Self::Ended,
            "enable_failed" => Self::EnableFailed,
            "disable_failed" => Self::DisableFailed,
            _ => return None,
        })
    }

    pub const NAMES: &'static str = "started, ended, enable_failed, disable_failed";
}

/// What a notification says about a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub event: Event,
    pub window_id: String,
    pub listener_arns: Vec<String>,
    pub end_at: Option<String>,
    /// The failure the state machine caught (its `Cause`), for failed events.
    pub cause: Option<String>,
}

impl Notice {
    /// The title and the finding for Slack.
    pub fn finding(&self) -> (String, Finding) {
        let id = &self.window_id;
        let (title, line) = match self.event {
            Event::Started => (
                format!("Maintenance ON: {id}"),
                format!(
                    "Users now get the maintenance page; allowlisted sources get through. It ends at {}.",
                    self.end_at.as_deref().unwrap_or("the window's end")
                ),
            ),
            Event::Ended => (
                format!("Maintenance OFF: {id}"),
                "The listeners are back exactly as they were before the window.".to_owned(),
            ),
            Event::EnableFailed => (
                format!("Maintenance window {id} FAILED to start"),
                "Turning maintenance on failed; the window's rules were cleaned up. Check the report below.".to_owned(),
            ),
            Event::DisableFailed => (
                format!("Maintenance window {id} FAILED to end: maintenance may still be ON"),
                format!(
                    "Run {{\"action\": \"disable\", \"window_id\": \"{id}\"}} with the listener ARNs by hand."
                ),
            ),
        };
        let mut fields = vec![("Window".to_owned(), id.clone())];
        for arn in &self.listener_arns {
            fields.push(("Listener".to_owned(), arn.clone()));
        }
        let finding = Finding {
            title: line,
            fields,
            body: self.cause.clone(),
        };
        (title, finding)
    }
}

/// The `Cause` of a caught Step Functions error (`{"Error": ..., "Cause": ...}`).
pub fn cause_of(error: &Value) -> Option<String> {
    match error {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => {
            let cause = o.get("Cause").and_then(Value::as_str).unwrap_or("");
            let name = o.get("Error").and_then(Value::as_str).unwrap_or("");
            // A function's Cause is its error as JSON; its message is what people read.
            let message = serde_json::from_str::<Value>(cause)
                .ok()
                .and_then(|v| {
                    v.get("errorMessage")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| cause.to_owned());
            Some(
                format!("{name}: {message}")
                    .trim_start_matches(": ")
                    .to_owned(),
            )
        }
        other => Some(other.to_string()),
    }
}

pub async fn notify(
    app: &App,
    notice: &Notice,
    dry_run: bool,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    let (title, finding) = notice.finding();
    report.item(crate::item::noticed(notice));
    let Some(webhook) = &app.config.slack_webhook else {
        report.skip(
            "slack",
            "no Slack webhook is configured (SLACK_WEBHOOK_SECRET_ARN or SLACK_WEBHOOK_PARAMETER)",
        );
        return Ok(());
    };
    let step = Step::new("notify_slack", &notice.window_id, title.clone())
        .with_detail(json!({"event": format!("{:?}", notice.event)}));
    report.plan(step.clone());
    if dry_run {
        // A dry run switched nothing on; saying it did would mislead.
        return Ok(());
    }
    let secret = app
        .secrets
        .get(webhook)
        .await
        .map_err(Error::NotifyWebhook)?;
    let messages = build_messages(&title, Some("toilkit maintenance-switch"), &[finding]);
    app.slack
        .send_all(&secret, &messages, deadline)
        .await
        .map_err(Error::Notify)?;
    report.applied(step);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_function_error_reads_as_its_message() {
        let caught = json!({"Error": "EnableFailed",
            "Cause": "{\"errorType\":\"EnableFailed\",\"errorMessage\":\"enabling maintenance window w failed: boom\"}"});
        assert_eq!(
            cause_of(&caught).unwrap(),
            "EnableFailed: enabling maintenance window w failed: boom"
        );
        assert_eq!(
            cause_of(&json!({"Error": "States.Timeout", "Cause": ""})).unwrap(),
            "States.Timeout: "
        );
        assert_eq!(cause_of(&Value::Null), None);
    }

    #[test]
    fn each_event_says_what_happened() {
        let notice = |event| Notice {
            event,
            window_id: "w1".into(),
            listener_arns: vec!["arn:l".into()],
            end_at: Some("2031-12-01T23:00:00Z".into()),
            cause: None,
        };
        assert_eq!(notice(Event::Started).finding().0, "Maintenance ON: w1");
        assert!(
            notice(Event::Started)
                .finding()
                .1
                .title
                .contains("2031-12-01T23:00:00Z")
        );
        assert_eq!(notice(Event::Ended).finding().0, "Maintenance OFF: w1");
        assert!(
            notice(Event::DisableFailed)
                .finding()
                .0
                .contains("may still be ON")
        );
        assert!(
            notice(Event::EnableFailed)
                .finding()
                .0
                .contains("FAILED to start")
        );
    }
}
