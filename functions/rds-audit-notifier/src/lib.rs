//! rds-audit-notifier: important RDS/Aurora audit events to Slack.

pub mod dialect;
pub mod event;
pub mod mysql_audit;
pub mod pgaudit;
pub mod redact;
pub mod sql;
pub mod classify;
pub mod records;
pub mod notification;
pub mod plan;
