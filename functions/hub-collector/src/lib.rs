//! hub-collector: the central account's side of toilkit. It receives every
//! product account's result events, keeps each function's current state and
//! history, renders the dashboard and watches for silence.

pub mod dashboard;
pub mod record;
