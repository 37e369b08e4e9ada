//! log-retention
