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

/// The result event's items of `alerts`, in order. A log event can hold
/// several records (lines), and each alert of it would have the same key;
/// the second and later get `#1`, `#2`... in the order the records appear,
/// which a redelivered batch repeats, so its keys are the same too.
pub fn items(alerts: &[Alert]) -> Vec<shared::envelope::Item> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    alerts
        .iter()
        .map(|alert| {
            let mut item = alert.item();
            let earlier = seen.entry(item.key.clone()).or_default();
            if *earlier > 0 {
                item.key = format!("{}#{earlier}", item.key);
            }
            *earlier += 1;
            item
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(event_id: &str, operation: &str) -> Alert {
        Alert {
            instance: "db-1".into(),
            cluster: None,
            user: "admin".into(),
            host: "10.0.0.1".into(),
            database: "appdb".into(),
            time_us: 1_700_000_000_000_000,
            time: "2023-11-14T22:13:20Z".into(),
            categories: Categories::default(),
            operation: operation.into(),
            outcome: "ok".into(),
            statement: None,
            object: None,
            note: None,
            event_ids: vec![event_id.into()],
        }
    }

    #[test]
    fn two_alerts_of_one_log_event_have_keys_of_their_own_and_the_same_again_on_redelivery() {
        let alerts = [
            alert("e1", "GRANT"),
            alert("e1", "GRANT"),
            alert("e2", "DROP TABLE"),
        ];
        let keys: Vec<String> = items(&alerts).into_iter().map(|i| i.key).collect();
        assert_eq!(keys, ["db-1/e1", "db-1/e1#1", "db-1/e2"]);
        let again: Vec<String> = items(&alerts).into_iter().map(|i| i.key).collect();
        assert_eq!(again, keys);
    }
}
