//! A maintenance window: what users see (the page), who gets through (the
//! bypasses), on which listeners, and when. Checked values only: the
//! request builds them, enable and schedule carry them out.

use std::fmt;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::limits::FORWARDED_FOR;

/// What users see during the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    #[serde(rename = "fixed-response")]
    FixedResponse,
    #[serde(rename = "forward")]
    Forward,
}

impl Mode {
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "fixed-response" => Ok(Self::FixedResponse),
            "forward" => Ok(Self::Forward),
            other => Err(format!(
                "mode {other:?} is not one of \"fixed-response\", \"forward\""
            )),
        }
    }
}

/// The maintenance rule's action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    FixedResponse {
        status_code: u16,
        content_type: String,
        body: String,
    },
    Forward {
        target_group_arn: String,
    },
}

/// A header that lets its bearer through. Its values are secrets unless
/// the header is `X-Forwarded-For`, whose values are client addresses
/// (refused as a bypass now: see
/// [`crate::limits::CLIENT_ADDRESS_HEADERS`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BypassHeader {
    pub name: String,
    pub values: Vec<String>,
}

impl BypassHeader {
    pub fn is_secret(&self) -> bool {
        !self.name.eq_ignore_ascii_case(FORWARDED_FOR)
    }

    /// The values as they may appear in a report or a log.
    pub fn shown_values(&self) -> Value {
        if self.is_secret() {
            json!(format!("({} secret value(s) not shown)", self.values.len()))
        } else {
            json!(self.values)
        }
    }
}

impl fmt::Debug for BypassHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BypassHeader")
            .field("name", &self.name)
            .field("values", &self.shown_values())
            .finish()
    }
}

/// Everything a maintenance window does on its listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSpec {
    pub window_id: String,
    pub listener_arns: Vec<String>,
    pub page: Page,
    pub bypass_cidrs: Vec<IpNet>,
    pub bypass_headers: Vec<BypassHeader>,
}

impl WindowSpec {
    /// The fully resolved fields, as the state machine's input carries them,
    /// so the window does exactly what was checked when it was scheduled.
    pub fn to_fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("window_id".into(), json!(self.window_id));
        fields.insert("listener_arns".into(), json!(self.listener_arns));
        match &self.page {
            Page::FixedResponse {
                status_code,
                content_type,
                body,
            } => {
                fields.insert("mode".into(), json!("fixed-response"));
                fields.insert("status_code".into(), json!(status_code));
                fields.insert("content_type".into(), json!(content_type));
                fields.insert("body".into(), json!(body));
            }
            Page::Forward { target_group_arn } => {
                fields.insert("mode".into(), json!("forward"));
                fields.insert("target_group_arn".into(), json!(target_group_arn));
            }
        }
        let cidrs: Vec<String> = self.bypass_cidrs.iter().map(IpNet::to_string).collect();
        fields.insert("bypass_cidrs".into(), json!(cidrs));
        if !self.bypass_headers.is_empty() {
            fields.insert("bypass_header".into(), json!(self.bypass_headers));
        }
        fields
    }

    /// The window's settings as a report may show them (secrets hidden).
    pub fn summary(&self) -> Value {
        let page = match &self.page {
            Page::FixedResponse {
                status_code,
                content_type,
                body,
            } => json!({"mode": "fixed-response", "status_code": status_code,
                        "content_type": content_type, "body_chars": body.chars().count()}),
            Page::Forward { target_group_arn } => {
                json!({"mode": "forward", "target_group_arn": target_group_arn})
            }
        };
        let headers: Vec<Value> = self
            .bypass_headers
            .iter()
            .map(|h| json!({"name": h.name, "values": h.shown_values()}))
            .collect();
        json!({
            "window_id": self.window_id,
            "listener_arns": self.listener_arns,
            "page": page,
            "bypass_cidrs": self.bypass_cidrs.iter().map(IpNet::to_string).collect::<Vec<_>>(),
            "bypass_headers": headers,
        })
    }
}

/// When a scheduled window starts and ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    pub start_at: OffsetDateTime,
    pub end_at: OffsetDateTime,
}

/// UTC with a `Z` and whole seconds: the form Step Functions' `Wait`
/// `TimestampPath` accepts.
pub fn format_time(t: OffsetDateTime) -> String {
    let utc = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    utc.format(&Rfc3339).unwrap_or_else(|_| utc.to_string())
}

pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}
