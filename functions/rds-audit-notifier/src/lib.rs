//! rds-audit-notifier
