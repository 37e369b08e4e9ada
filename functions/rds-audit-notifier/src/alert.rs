//! An event that alerts, as the plan decided it and the Slack messages and
//! the report show it. Pure data, shared by the plan (which builds it) and
//! the notification (which renders it), so neither needs the other's
//! module for it.

use serde::Serialize;

use crate::classify::Categories;

/// One event that alerts, ready to show: its statement is redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub instance: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub user: String,
    pub host: String,
    pub database: String,
    #[serde(skip)]
    pub time_us: i64,
    pub time: String,
    #[serde(serialize_with = "category_names")]
    pub categories: Categories,
    /// `ALTER TABLE`, `FAILED_LOGIN`, `CONNECT`.
    pub operation: String,
    /// `ok`, or what the server refused.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// Set when the record was cut across deliveries: says so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
    /// The log event ids this alert was read from.
    #[serde(skip)]
    pub event_ids: Vec<String>,
}

fn category_names<S: serde::Serializer>(c: &Categories, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&c.names())
}
