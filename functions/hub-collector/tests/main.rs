//! hub-collector integration tests.

mod dashboard;
