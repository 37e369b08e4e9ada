//! What the fuzz targets share: turning the fuzzer's bytes into the shapes
//! the parsers take (a CloudWatch Logs batch, a set of environment
//! variables), so that each target reaches its parser instead of failing at
//! the envelope.

use aws_lambda_events::cloudwatch_logs::{LogData, LogEntry};
use shared::config::Env;

pub mod rds;

/// A subscription batch from `group`: the input split on NUL into log
/// events (each may hold several lines), as CloudWatch Logs delivers them.
pub fn log_data(group: &str, input: &[u8]) -> LogData {
    let text = String::from_utf8_lossy(input);
    let log_events = text
        .split('\0')
        .enumerate()
        .map(|(i, message)| {
            let mut entry = LogEntry::default();
            entry.id = format!("{i}");
            entry.timestamp = 1_700_000_000_000 + i as i64;
            entry.message = message.to_owned();
            entry
        })
        .collect();
    let mut data = LogData::default();
    data.owner = "123456789012".to_owned();
    data.log_group = group.to_owned();
    data.log_stream = "db-1.audit.log.0.2023-11-14-22-00.0".to_owned();
    data.subscription_filters = vec!["toilkit".to_owned()];
    data.message_type = "DATA_MESSAGE".to_owned();
    data.log_events = log_events;
    data
}

/// The environment variable names a configuration source reads: every
/// string literal in it made of capitals, digits and underscores (with at
/// least one underscore or 4+ characters, so `"x"`-like literals stay out).
pub fn variable_names(source: &str) -> Vec<String> {
    let mut names: Vec<String> = source
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.len() >= 4
                && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                && s.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
        })
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Variables from the fuzzer's bytes: NUL-separated `index value` chunks,
/// the first byte of each choosing the variable among `names`.
pub fn env(names: &[String], input: &[u8]) -> Env {
    if names.is_empty() {
        return Env::default();
    }
    let pairs: Vec<(String, String)> = input
        .split(|b| *b == 0)
        .filter_map(|chunk| {
            let (&index, value) = chunk.split_first()?;
            let name = names[usize::from(index) % names.len()].clone();
            Some((name, String::from_utf8_lossy(value).into_owned()))
        })
        .collect();
    Env::from_pairs(pairs)
}
