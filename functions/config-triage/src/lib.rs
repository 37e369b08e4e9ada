//! config-triage
