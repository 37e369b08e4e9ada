//! One audit event, whichever dialect it was read from.
//!
//! Fields borrow from the log batch where they can: a batch holds thousands
//! of lines and most of them are never shown, so parsing must not copy them.

use std::borrow::Cow;
use std::ops::Range;

use crate::dialect::SqlDialect;

/// What happened, in the words of the audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<'a> {
    /// A successful connection (MySQL `CONNECT`).
    Connect,
    /// MySQL `DISCONNECT`.
    Disconnect,
    /// A login that the server refused: MySQL `FAILED_CONNECT` or a
    /// `CONNECT` with an error code, PostgreSQL `FATAL` authentication errors.
    FailedLogin { reason: Cow<'a, str> },
    /// A statement (MySQL `QUERY`).
    Query,
    /// An Aurora table event (`READ`, `WRITE`, `CREATE`, `ALTER`, `RENAME`,
    /// `DROP`) naming a table but carrying no statement.
    Table { operation: &'a str },
    /// A pgaudit record.
    PgAudit {
        class: &'a str,
        command: Cow<'a, str>,
        object_type: Cow<'a, str>,
        statement_id: u64,
        substatement_id: u64,
    },
    /// Any other MySQL operation (`SHUTDOWN`, `PROXY_CONNECT`...).
    Other { operation: &'a str },
}

/// One parsed audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent<'a> {
    /// The log events (indexes into the batch) this record was read from;
    /// more than one when a statement spanned several log events.
    pub events: Range<usize>,
    /// Microseconds since the epoch, from the record itself.
    pub time_us: i64,
    /// The server that wrote the record: MySQL `serverhost` (the instance
    /// id on Aurora), empty for PostgreSQL.
    pub server: &'a str,
    pub user: &'a str,
    /// Client address, without the port.
    pub host: &'a str,
    pub database: &'a str,
    /// MySQL connection id or PostgreSQL backend pid.
    pub session: &'a str,
    pub action: Action<'a>,
    /// The SQL, unescaped but NOT redacted: never show it as is.
    pub statement: Option<Cow<'a, str>>,
    /// The table or object the record names (Aurora TABLE rows, pgaudit).
    pub object: Option<Cow<'a, str>>,
    /// MySQL's return code; `None` when the record has none (TABLE rows).
    pub retcode: Option<i64>,
    pub query_id: &'a str,
    pub sql_dialect: SqlDialect,
    /// The record was cut across deliveries: its end, with the rest of the
    /// statement and the result, is in another batch.
    pub cut: bool,
}

impl AuditEvent<'_> {
    /// Whether the server reported an error for this event.
    pub fn failed(&self) -> bool {
        self.retcode.is_some_and(|code| code != 0)
            || matches!(self.action, Action::FailedLogin { .. })
    }

    /// A short name for what happened: `QUERY`, `FAILED_CONNECT`, `DROP TABLE`.
    pub fn operation(&self) -> Cow<'_, str> {
        match &self.action {
            Action::Connect => "CONNECT".into(),
            Action::Disconnect => "DISCONNECT".into(),
            Action::FailedLogin { .. } => "FAILED_LOGIN".into(),
            Action::Query => "QUERY".into(),
            Action::Table { operation } | Action::Other { operation } => (*operation).into(),
            Action::PgAudit { command, .. } => command.as_ref().into(),
        }
    }
}

/// Parses `YYYYMMDD HH:MM:SS` or `YYYY-MM-DD HH:MM:SS` (UTC) into
/// microseconds since the epoch, without allocating.
pub fn civil_to_us(date: (i64, i64, i64), time: (i64, i64, i64)) -> Option<i64> {
    let (y, m, d) = date;
    let (hh, mm, ss) = time;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil, Howard Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) + hh * 3600 + mm * 60 + ss) * 1_000_000)
}

/// Reads exactly `n` ASCII digits.
pub fn digits(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 18 {
        return None;
    }
    let mut value = 0i64;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(b - b'0');
    }
    Some(value)
}

/// Formats microseconds since the epoch as `2023-11-14 22:13:25 UTC`.
pub fn format_time(time_us: i64) -> String {
    let seconds = time_us.div_euclid(1_000_000);
    // The years `time` (the crate that did this before) accepts, kept so the
    // text for an absurd timestamp stays what it was.
    if !(-377_705_116_800..=253_402_300_799).contains(&seconds) {
        return format!("{time_us} µs since the epoch");
    }
    let (days, clock) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (clock / 3600, clock / 60 % 60, clock % 60);
    if !(0..=9999).contains(&y) {
        return format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} UTC");
    }
    // Per alert: digits written into a fixed template cost a fraction of the
    // formatting machinery, and of a power and a division per digit.
    let mut text = *b"0000-00-00 00:00:00 UTC";
    for (value, at, width) in [
        (y, 0, 4),
        (m, 5, 2),
        (d, 8, 2),
        (hh, 11, 2),
        (mm, 14, 2),
        (ss, 17, 2),
    ] {
        let mut rest = value;
        for slot in text[at..at + width].iter_mut().rev() {
            *slot = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
    }
    // Only ASCII digits were written into an ASCII template.
    String::from_utf8(text.to_vec()).unwrap_or_default()
}

/// Year, month and day of a day count since the epoch; the inverse of the
/// day count in [`civil_to_us`] (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_times_match_the_epoch() {
        // 2023-11-14 22:13:20 UTC is 1700000000.
        assert_eq!(
            civil_to_us((2023, 11, 14), (22, 13, 20)),
            Some(1_700_000_000_000_000)
        );
        assert_eq!(civil_to_us((1970, 1, 1), (0, 0, 0)), Some(0));
        assert_eq!(
            civil_to_us((2024, 2, 29), (0, 0, 0)),
            Some(1_709_164_800_000_000)
        );
        assert_eq!(civil_to_us((2023, 13, 1), (0, 0, 0)), None);
        assert_eq!(
            format_time(1_700_000_000_123_456),
            "2023-11-14 22:13:20 UTC"
        );
    }

    /// What `format_time` printed when it went through the `time` crate.
    fn format_time_with_the_time_crate(time_us: i64) -> String {
        match time::OffsetDateTime::from_unix_timestamp(time_us.div_euclid(1_000_000)) {
            Ok(t) => format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            Err(_) => format!("{time_us} µs since the epoch"),
        }
    }

    #[test]
    fn format_time_agrees_with_the_time_crate() {
        let mut samples = vec![
            i64::MIN,
            i64::MAX,
            -1,
            0,
            1,
            -377_705_116_800_000_000,
            -377_705_116_800_000_001,
            253_402_300_799_999_999,
            253_402_300_800_000_000,
            -62_167_219_200_000_000,
            -62_167_219_200_000_001,
            951_782_400_000_000,
            4_107_456_000_000_000,
        ];
        // Every day boundary and a point inside it, 1900 to 2100, and a
        // stride through the whole accepted range.
        let mut t = -2_208_988_800_000_000i64;
        while t < 4_102_444_800_000_000 {
            samples.extend([t - 1, t, t + 45_296_789_012]);
            t += 86_400_000_000;
        }
        let mut t = -377_705_116_800_000_000i64;
        while t < 253_402_300_800_000_000 {
            samples.push(t);
            t += 9_876_543_210_987;
        }
        for us in samples {
            assert_eq!(format_time(us), format_time_with_the_time_crate(us), "{us}");
        }
    }
}

/// What a parser made of one record's text.
// Events are the common case: boxing them would allocate once per line.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// An audit event.
    Event(AuditEvent<'a>),
    /// A well-formed line that is not an audit event (ordinary PostgreSQL
    /// log output).
    NotAudit,
    /// A quoted field is still open at the end of the text: the record
    /// continues on the next line.
    Incomplete,
    /// Not this format; the reason says where it broke.
    Invalid(&'static str),
}
