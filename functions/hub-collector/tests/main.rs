//! hub-collector integration tests.
