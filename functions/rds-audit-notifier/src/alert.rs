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

impl Alert {
    /// The alert as the result event lists it. Keyed by the instance and
    /// the first log event it was read from, so a redelivered batch names
    /// the same alerts and a collector counts each once. The statement
    /// stays in Slack and the log: the event says what kind of thing
    /// happened, by whom, not the SQL.
    pub fn item(&self) -> shared::envelope::Item {
        let first = self
            .event_ids
            .first()
            .cloned()
            .unwrap_or_else(|| format!("{}:{}:{}", self.time_us, self.user, self.operation));
        shared::envelope::Item::open("audit_alert", format!("{}/{first}", self.instance))
            .with(
                "categories",
                self.categories
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>(),
            )
            .with("operation", self.operation.as_str())
            .with("outcome", self.outcome.as_str())
            .with("user", self.user.as_str())
            .with("host", self.host.as_str())
            .with("database", self.database.as_str())
            .with("object", self.object.as_deref())
            .with("cluster", self.cluster.as_deref())
            .with("time", self.time.as_str())
    }
}
