//! From a batch of log events to audit records.
//!
//! A log event usually holds one record, but a statement with raw line breaks
//! may reach us as one event holding several lines or as several events, one
//! per line. Records are therefore assembled from physical lines: a line whose
//! quoted field (the MySQL `object`, a pgaudit CSV field) is still open takes
//! the following lines until the quote closes. If it never closes, or closing
//! it leaves a malformed record, only the first line is reported as unparsed
//! and reading resumes with the next line, so one bad line cannot swallow the
//! batch. An unprefixed line after an ordinary PostgreSQL log entry is that
//! entry's continuation (PostgreSQL writes multi-line messages that way).
//!
//! A record may also be cut between two deliveries (two invocations). Its
//! first half, open at the end of a batch, is read as far as it goes and
//! marked cut; its second half, the unprefixed lines a batch starts with,
//! cannot be read at all (where its quotes stand is in the other batch), so
//! it is counted and masked whole, as is every line that matches no format.

use std::hash::BuildHasher;
use std::ops::Range;

use aws_lambda_events::cloudwatch_logs::LogData;

use crate::dialect::{Dialect, Source};
use crate::event::{Action, AuditEvent, Parsed};
use crate::redact::MASK;
use crate::{mysql_audit, pgaudit};

/// Unparsed examples kept per batch.
pub const MAX_EXAMPLES: usize = 5;
/// A quoted field open for more lines than this is not a statement.
const MAX_JOINED_LINES: usize = 500;
/// Nor one open for more bytes than a CloudWatch Logs event can hold.
const MAX_JOINED_BYTES: usize = 256 * 1024;
/// Bytes re-parsed while joining, per batch: past it, open quotes are not
/// followed any more, so a batch of broken lines cannot eat the invocation.
const JOIN_BUDGET_BYTES: usize = 64 * 1024 * 1024;

/// A record whose text spans several lines, parsed after reading.
#[derive(Debug, Clone)]
pub struct Joined {
    pub text: String,
    pub events: Range<usize>,
    dialect: Dialect,
    fallback_us: i64,
    /// The first half of a record cut across deliveries, closed here so it
    /// parses.
    cut: bool,
}

impl Joined {
    pub fn parse(&self) -> Parsed<'_> {
        let mut parsed = parse(
            self.dialect,
            &self.text,
            self.events.clone(),
            self.fallback_us,
        );
        if let Parsed::Event(event) = &mut parsed {
            event.cut = self.cut;
        }
        parsed
    }
}

/// One line that matched no format. Nothing of it is shown: without its
/// structure, nothing in it is known to hold no secret (it may be the rest
/// of a statement whose start is elsewhere). The event id finds it in the
/// log group, where it is anyway.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unparsed {
    pub event_id: String,
    pub reason: &'static str,
    /// Always the mask.
    pub line: &'static str,
    /// How long the line is, in characters.
    pub chars: usize,
}

/// What a batch says of the lines it starts with that continue a record
/// from an earlier delivery.
pub const CONTINUED_NOTE: &str = "the batch starts with the rest of a record cut across deliveries \
     (its start was in an earlier delivery, which alerted on it if it had to): masked, not shown";

/// The unprefixed lines a batch starts with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Continued {
    /// The first of their log events.
    pub event_id: String,
    pub lines: u64,
    pub note: &'static str,
}

/// The events that may repeat another's statement (Aurora TABLE rows,
/// pgaudit records) and the queries a TABLE row may repeat, each with a hash
/// of what ties them together, noted while the event is read and still in
/// cache. Folding then walks these short lists instead of every event again,
/// and looks at an event itself only when its hash matches another's.
#[derive(Debug, Default)]
pub struct Folds {
    /// MySQL queries with a statement: their connection's hash and index.
    pub queries: Vec<(u64, usize)>,
    /// Aurora TABLE rows naming a table: their connection's hash and index.
    pub table_rows: Vec<(u64, usize)>,
    /// pgaudit records: the hash of their backend, statement and
    /// substatement, and their index.
    pub pgaudit: Vec<(u64, usize)>,
}

impl Folds {
    /// Notes the event at `index` of the batch's events.
    pub fn note(&mut self, index: usize, event: &AuditEvent<'_>) {
        match &event.action {
            Action::Query if event.statement.is_some() => {
                self.queries.push((connection_hash(event), index));
            }
            Action::Table { .. } if event.object.is_some() => {
                self.table_rows.push((connection_hash(event), index));
            }
            Action::PgAudit {
                statement_id,
                substatement_id,
                ..
            } => {
                let hash = fold_hasher().hash_one((event.session, statement_id, substatement_id));
                self.pgaudit.push((hash, index));
            }
            _ => {}
        }
    }
}

/// The hash of a MySQL connection: its server and connection id.
pub fn connection_hash(event: &AuditEvent<'_>) -> u64 {
    fold_hasher().hash_one((event.server, event.session))
}

fn fold_hasher() -> foldhash::fast::FixedState {
    foldhash::fast::FixedState::default()
}

/// Everything read from one batch.
#[derive(Debug, Default)]
pub struct Reading<'a> {
    /// Events from single-line records, borrowing from the batch.
    pub events: Vec<AuditEvent<'a>>,
    /// Which of them need folding (see [`Folds`]), noted as they are read.
    pub folds: Folds,
    /// Multi-line records, to parse with [`Joined::parse`].
    pub joined: Vec<Joined>,
    /// Lines that matched no format.
    pub unparsed: u64,
    pub examples: Vec<Unparsed>,
    /// Well-formed lines that are not audit events (ordinary PostgreSQL output).
    pub not_audit: u64,
    /// Records whose end is in a later delivery.
    pub cut: u64,
    /// The lines the batch starts with that continue a record from an
    /// earlier delivery.
    pub continued: Option<Continued>,
}

impl Reading<'_> {
    pub fn unparsed(&mut self, data: &LogData, event: usize, line: &str, reason: &'static str) {
        self.unparsed += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(Unparsed {
                event_id: data.log_events[event].id.clone(),
                reason,
                line: MASK,
                chars: line.chars().count(),
            });
        }
    }
}

fn parse(dialect: Dialect, text: &str, events: Range<usize>, fallback_us: i64) -> Parsed<'_> {
    match dialect {
        Dialect::MySqlAudit => mysql_audit::parse(text, events),
        Dialect::Postgres => pgaudit::parse(text, events, fallback_us),
    }
}

struct Line<'a> {
    event: usize,
    text: &'a str,
}

/// Reads every log event of the batch.
pub fn read<'a>(data: &'a LogData, source: &Source) -> Reading<'a> {
    let mut lines = Vec::with_capacity(data.log_events.len());
    for (event, entry) in data.log_events.iter().enumerate() {
        let message = entry.message.strip_suffix('\n').unwrap_or(&entry.message);
        // `split('\n')`, by memchr: the char searcher costs a call per line.
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', message.as_bytes()).chain([message.len()]);
        for end in ends {
            let text = &message[start..end];
            lines.push(Line {
                event,
                text: text.strip_suffix('\r').unwrap_or(text),
            });
            start = end + 1;
        }
    }
    let fallback = |event: usize| data.log_events[event].timestamp.saturating_mul(1000);

    let mut reading = Reading {
        events: Vec::with_capacity(data.log_events.len()),
        ..Reading::default()
    };
    // Whether the last record was ordinary PostgreSQL output, which may
    // continue on unprefixed lines.
    let mut in_pg_output = false;
    let mut budget = JOIN_BUDGET_BYTES;
    // Lines before the first that starts a record continue one from an
    // earlier delivery.
    let mut i = lines
        .iter()
        .position(|l| Dialect::sniff(l.text).is_some())
        .unwrap_or(lines.len());
    let continued = lines[..i]
        .iter()
        .filter(|l| !l.text.trim().is_empty())
        .count() as u64;
    // Lines that neither precede a record nor end one are not known to be
    // a continuation (a wrong group subscribed): they are unparsed, masked
    // all the same.
    let ends_record = lines[..i]
        .iter()
        .rev()
        .find(|l| !l.text.trim().is_empty())
        .is_some_and(|l| ends_a_record(source, l.text));
    if continued > 0 && i == lines.len() && !ends_record {
        i = 0;
    } else if continued > 0 {
        reading.continued = Some(Continued {
            event_id: data.log_events[lines[0].event].id.clone(),
            lines: continued,
            note: CONTINUED_NOTE,
        });
    }
    while i < lines.len() {
        let line = &lines[i];
        if line.text.trim().is_empty() {
            i += 1;
            continue;
        }
        let Some(dialect) = source.dialect.or_else(|| Dialect::sniff(line.text)) else {
            if in_pg_output {
                reading.not_audit += 1;
            } else {
                reading.unparsed(
                    data,
                    line.event,
                    line.text,
                    "matches none of the audit formats",
                );
            }
            i += 1;
            continue;
        };
        let range = line.event..line.event + 1;
        match parse(dialect, line.text, range, fallback(line.event)) {
            Parsed::Event(event) => {
                reading.folds.note(reading.events.len(), &event);
                reading.events.push(event);
                in_pg_output = false;
                i += 1;
            }
            Parsed::NotAudit => {
                reading.not_audit += 1;
                in_pg_output = true;
                i += 1;
            }
            Parsed::Invalid(_)
                if in_pg_output
                    && dialect == Dialect::Postgres
                    && pgaudit::prefix(line.text).is_none() =>
            {
                reading.not_audit += 1;
                i += 1;
            }
            Parsed::Invalid(reason) => {
                reading.unparsed(data, line.event, line.text, reason);
                in_pg_output = false;
                i += 1;
            }
            Parsed::Incomplete => {
                in_pg_output = false;
                match join(&lines, i, dialect, fallback(line.event), &mut budget) {
                    Join::Complete(joined, next) => {
                        reading.joined.push(joined);
                        i = next;
                    }
                    Join::CutAtEnd(joined) => {
                        reading.joined.push(joined);
                        reading.cut += 1;
                        i = lines.len();
                    }
                    Join::Malformed => {
                        reading.unparsed(
                            data,
                            line.event,
                            line.text,
                            "a quoted field never closes",
                        );
                        i += 1;
                    }
                }
            }
        }
    }
    reading
}

/// Whether `line` can be the last line of a record whose start is in
/// another batch: the quoted statement closes and the record's last field
/// follows.
fn ends_a_record(source: &Source, line: &str) -> bool {
    let line = line.trim_end();
    match source.dialect {
        Some(Dialect::MySqlAudit) => line
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
            .ends_with("',"),
        Some(Dialect::Postgres) => line.ends_with(",<not logged>") || line.ends_with('"'),
        None => false,
    }
}

enum Join {
    /// The record and the index of the line after it.
    Complete(Joined, usize),
    /// Still open at the end of the batch: the first half of a record cut
    /// across deliveries, closed so that what it holds can be read.
    CutAtEnd(Joined),
    /// It never completes into a well-formed record.
    Malformed,
}

/// Joins lines from `start` until the record is complete.
fn join(
    lines: &[Line<'_>],
    start: usize,
    dialect: Dialect,
    fallback_us: i64,
    budget: &mut usize,
) -> Join {
    let mut text = lines[start].text.to_owned();
    let last = lines.len().min(start + MAX_JOINED_LINES);
    let mut events = lines[start].event..lines[start].event + 1;
    for (end, line) in lines.iter().enumerate().take(last).skip(start + 1) {
        text.push('\n');
        text.push_str(line.text);
        if text.len() > MAX_JOINED_BYTES || text.len() > *budget {
            return Join::Malformed;
        }
        *budget -= text.len();
        events = lines[start].event..line.event + 1;
        match parse(dialect, &text, events.clone(), fallback_us) {
            Parsed::Incomplete => continue,
            Parsed::Event(_) | Parsed::NotAudit => {
                return Join::Complete(
                    Joined {
                        text,
                        events,
                        dialect,
                        fallback_us,
                        cut: false,
                    },
                    end + 1,
                );
            }
            Parsed::Invalid(_) => return Join::Malformed,
        }
    }
    // Open to the end of the batch, and no later line starts a record of
    // its own: the rest is in the next delivery.
    if last == lines.len()
        && lines[start + 1..]
            .iter()
            .all(|l| Dialect::sniff(l.text).is_none())
    {
        let closed = close(dialect, text);
        if matches!(
            parse(dialect, &closed, events.clone(), fallback_us),
            Parsed::Event(_)
        ) {
            return Join::CutAtEnd(Joined {
                text: closed,
                events,
                dialect,
                fallback_us,
                cut: true,
            });
        }
    }
    Join::Malformed
}

/// Closes the quoted field a cut record leaves open, so the fields before
/// it and the statement so far can be read. The result stays unknown.
fn close(dialect: Dialect, mut text: String) -> String {
    match dialect {
        Dialect::MySqlAudit => {
            // An odd backslash at the end would escape the closing quote.
            let backslashes = text.bytes().rev().take_while(|&c| c == b'\\').count();
            if backslashes % 2 == 1 {
                text.pop();
            }
            text.push_str("',");
        }
        Dialect::Postgres => text.push('"'),
    }
    text
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn batch(group: &str, messages: &[&str]) -> LogData {
        let events: Vec<serde_json::Value> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                serde_json::json!({"id": format!("id{i}"), "timestamp": 1_700_000_000_000i64 + i as i64, "message": m})
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "owner": "123456789012",
            "logGroup": group,
            "logStream": "stream",
            "subscriptionFilters": ["f"],
            "messageType": "DATA_MESSAGE",
            "logEvents": events,
        }))
        .unwrap()
    }

    fn statements(reading: &Reading<'_>) -> Vec<String> {
        let mut out: Vec<String> = reading
            .events
            .iter()
            .map(|e| e.statement.as_deref().unwrap_or("-").to_owned())
            .collect();
        for j in &reading.joined {
            match j.parse() {
                Parsed::Event(e) => out.push(e.statement.as_deref().unwrap_or("-").to_owned()),
                Parsed::NotAudit => out.push("(not audit)".into()),
                other => panic!("{other:?}"),
            }
        }
        out
    }

    #[test]
    fn a_statement_split_over_events_is_joined() {
        let data = batch(
            "/aws/rds/instance/db/audit",
            &[
                "20231114 22:13:40,h,admin,10.0.0.1,1,2,QUERY,appdb,'CREATE TABLE t (",
                r"  a int, -- it\'s",
                ")',0",
                "20231114 22:13:41,h,admin,10.0.0.1,1,3,QUERY,appdb,'SELECT 1',0",
            ],
        );
        let source = Source::new(&data.log_group, &data.log_stream);
        let reading = read(&data, &source);
        assert_eq!(reading.unparsed, 0, "{:?}", reading.examples);
        assert_eq!(reading.joined[0].events, 0..3);
        assert_eq!(
            statements(&reading),
            ["SELECT 1", "CREATE TABLE t (\n  a int, -- it's\n)"]
        );
    }

    #[test]
    fn an_unclosed_quote_costs_one_line_not_the_batch() {
        let data = batch(
            "/aws/rds/instance/db/audit",
            &[
                r"20231114 22:13:40,h,admin,10.0.0.1,1,2,QUERY,appdb,'never closed IDENTIFIED BY \'pw",
                "20231114 22:13:41,h,admin,10.0.0.1,1,3,QUERY,appdb,'DROP TABLE x',0",
                "garbage line",
            ],
        );
        let source = Source::new(&data.log_group, &data.log_stream);
        let reading = read(&data, &source);
        assert_eq!(statements(&reading), ["DROP TABLE x"]);
        assert_eq!(reading.unparsed, 2);
        assert_eq!(reading.examples[0].event_id, "id0");
        assert!(
            !reading.examples[0].line.contains("pw"),
            "{:?}",
            reading.examples[0]
        );
        assert_eq!(
            reading.examples[1].line, MASK,
            "unparsed lines are masked whole"
        );
        assert_eq!(reading.examples[1].chars, 12);
    }

    #[test]
    fn a_record_cut_at_the_end_of_a_batch_is_read_as_far_as_it_goes() {
        let data = batch(
            "/aws/rds/instance/db/audit",
            &[
                "20231114 22:13:40,h,admin,10.0.0.1,1,2,QUERY,appdb,'DROP TABLE a',0",
                r"20231114 22:13:41,h,admin,10.0.0.1,1,3,QUERY,appdb,'CREATE USER \'x\'@\'%\'",
                r"  IDENTIFIED BY \",
            ],
        );
        let source = Source::new(&data.log_group, &data.log_stream);
        let reading = read(&data, &source);
        assert_eq!(reading.unparsed, 0, "{:?}", reading.examples);
        assert_eq!(reading.cut, 1);
        let Parsed::Event(event) = reading.joined[0].parse() else {
            panic!("{:?}", reading.joined[0]);
        };
        assert!(event.cut);
        assert_eq!(event.retcode, None);
        assert_eq!(event.events, 1..3);
        assert_eq!(
            event.statement.as_deref(),
            Some("CREATE USER 'x'@'%'\n  IDENTIFIED BY ")
        );
    }

    #[test]
    fn a_batch_starting_inside_a_record_masks_the_rest_of_it() {
        let data = batch(
            "/aws/rds/instance/pg/postgresql",
            &[
                "  'Fake-pw' VALID UNTIL 'infinity'\",<not logged>",
                "",
                "2023-11-14 22:24:32 UTC:10.0.5.21(50301):app@appdb:[28190]:LOG:  AUDIT: SESSION,6,1,DDL,DROP TABLE,TABLE,public.t,drop table t;,<not logged>",
            ],
        );
        let source = Source::new(&data.log_group, &data.log_stream);
        let reading = read(&data, &source);
        assert_eq!(statements(&reading), ["drop table t;"]);
        assert_eq!(reading.unparsed, 0);
        let continued = reading.continued.as_ref().unwrap();
        assert_eq!((continued.event_id.as_str(), continued.lines), ("id0", 1));
    }

    #[test]
    fn postgres_multi_line_entries_and_continuations() {
        let data = batch(
            "/aws/rds/instance/pg/postgresql",
            &[
                "2023-11-14 22:24:30 UTC:10.0.5.21(50301):app@appdb:[28190]:LOG:  AUDIT: SESSION,5,1,DDL,CREATE TABLE,TABLE,public.t,\"create table t (\n  a int,\n  b text\n);\",<not logged>",
                "2023-11-14 22:24:31 UTC:10.0.5.21(50301):app@appdb:[28190]:ERROR:  syntax error at or near \"x\"",
                "\tcontinued error text",
                "2023-11-14 22:24:32 UTC:10.0.5.21(50301):app@appdb:[28190]:LOG:  AUDIT: SESSION,6,1,DDL,DROP TABLE,TABLE,public.t,\"drop table",
                "  t;\",<not logged>",
                "stray line after an audit record",
            ],
        );
        let source = Source::new(&data.log_group, &data.log_stream);
        let reading = read(&data, &source);
        assert_eq!(
            statements(&reading),
            [
                "create table t (\n  a int,\n  b text\n);",
                "drop table\n  t;"
            ]
        );
        assert_eq!(reading.not_audit, 2);
        assert_eq!(reading.unparsed, 1);
    }

    #[test]
    fn unknown_groups_are_sniffed_per_line() {
        let data = batch(
            "/custom/audit-copy",
            &[
                "20231114 22:13:41,h,admin,10.0.0.1,1,3,QUERY,appdb,'DROP TABLE x',0",
                "2023-11-14 22:23:56 UTC:10.0.5.20(50222):postgres@appdb:[28180]:LOG:  AUDIT: SESSION,1,1,DDL,DROP TABLE,TABLE,public.t3,drop table t3;,<not logged>",
                "{\"json\": true}",
            ],
        );
        let source = Source::new(&data.log_group, &data.log_stream);
        let reading = read(&data, &source);
        assert_eq!(statements(&reading), ["DROP TABLE x", "drop table t3;"]);
        assert_eq!(reading.unparsed, 1);
    }

    #[test]
    fn examples_are_capped_but_every_line_counted() {
        let lines: Vec<String> = (0..20).map(|i| format!("junk {i}")).collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let data = batch("/aws/rds/instance/db/audit", &refs);
        let source = Source::new(&data.log_group, &data.log_stream);
        let reading = read(&data, &source);
        assert_eq!(reading.unparsed, 20);
        assert_eq!(reading.examples.len(), MAX_EXAMPLES);
    }
}
