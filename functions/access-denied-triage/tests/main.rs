//! access-denied-triage's integration tests, one binary.

mod triage;
