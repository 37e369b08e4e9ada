//! RDS for PostgreSQL log lines: the RDS prefix `%t:%r:%u@%d:[%p]:`, a
//! severity, then the message. Two kinds of message are audit events:
//!
//! - pgaudit records, `AUDIT: ` then CSV:
//!   `AUDIT_TYPE,STATEMENT_ID,SUBSTATEMENT_ID,CLASS,COMMAND,OBJECT_TYPE,OBJECT_NAME,STATEMENT,PARAMETER`;
//!   a field holding a comma, a quote or a line break is double-quoted with
//!   quotes doubled, so a statement may span several lines;
//! - `FATAL` authentication failures (`password authentication failed for
//!   user "x"`, `no pg_hba.conf entry for host ...`, `role "x" does not exist`).
//!
//! Every other line with the prefix is ordinary log output.

use std::borrow::Cow;
use std::ops::Range;

use crate::dialect::SqlDialect;
use crate::event::{Action, AuditEvent, Parsed, civil_to_us, digits};

/// pgaudit writes this instead of a statement it already logged
/// (`pgaudit.log_statement_once`).
pub const PREVIOUSLY_LOGGED: &str = "<previously logged>";

/// The parts of the RDS prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix<'a> {
    pub time_us: Option<i64>,
    pub host: &'a str,
    pub user: &'a str,
    pub database: &'a str,
    pub pid: &'a str,
    pub severity: &'a str,
    pub message: &'a str,
}

/// Reads the RDS prefix and severity; `None` if `line` does not start with them.
pub fn prefix(line: &str) -> Option<Prefix<'_>> {
    let b = line.as_bytes();
    if b.len() < 21
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let date = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let clock = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let rest = &line[19..];
    // ` UTC:` — the zone is a name; only UTC can be converted without a table.
    let rest = rest.strip_prefix(' ')?;
    let zone_end = find_byte(rest, b':')?;
    let zone = &rest[..zone_end];
    if zone.is_empty() || zone.len() > 8 || zone.contains(' ') {
        return None;
    }
    let time_us = if matches!(zone, "UTC" | "GMT" | "Z" | "+00") {
        Some(civil_to_us(date, clock)?)
    } else {
        None
    };
    let rest = &rest[zone_end + 1..];

    // %r: `host(port)`, `[local]`, or empty for background processes. An
    // IPv6 address holds colons, so the field ends at `):`, not at `:`.
    let (host, rest) = if let Some(rest) = rest.strip_prefix(':') {
        ("", rest)
    } else if let Some(rest) = rest.strip_prefix("[local]:") {
        ("[local]", rest)
    } else if let Some(end) = find_pair(rest, b"):") {
        let remote = &rest[..end];
        let host = memchr::memrchr(b'(', remote.as_bytes()).map_or(remote, |open| &remote[..open]);
        (host, &rest[end + 2..])
    } else {
        let end = find_byte(rest, b':')?;
        (&rest[..end], &rest[end + 1..])
    };

    // %u@%d:[%p]: — a user name may hold `@`, so split at the last one.
    let pid_start = find_pair(rest, b":[")?;
    let user_db = &rest[..pid_start];
    let at = memchr::memrchr(b'@', user_db.as_bytes())?;
    let (user, database) = (&user_db[..at], &user_db[at + 1..]);
    let rest = &rest[pid_start + 2..];
    let pid_end = find_pair(rest, b"]:")?;
    let pid = &rest[..pid_end];
    digits(pid.as_bytes())?;
    let rest = &rest[pid_end + 2..];

    let severity_end = find_byte(rest, b':')?;
    let severity = &rest[..severity_end];
    if severity.is_empty()
        || !severity
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return None;
    }
    let message = rest[severity_end + 1..].trim_start_matches(' ');
    Some(Prefix {
        time_us,
        host,
        user,
        database,
        pid,
        severity,
        message,
    })
}

/// `text.find(byte)` for an ASCII byte: `str::find(char)` compares each
/// candidate through `memcmp`, a call per match.
fn find_byte(text: &str, byte: u8) -> Option<usize> {
    memchr::memchr(byte, text.as_bytes())
}

/// `text.find(pair)` for two ASCII bytes: a string pattern sets up a
/// substring searcher on every call, three times per line here.
fn find_pair(text: &str, pair: &[u8; 2]) -> Option<usize> {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(i) = memchr::memchr(pair[0], &b[from..]) {
        let at = from + i;
        if b.get(at + 1) == Some(&pair[1]) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Parses one log entry (possibly several lines joined by `\n`).
/// `fallback_us` is the log event's time, used when the prefix's zone is
/// not UTC.
pub fn parse(text: &str, events: Range<usize>, fallback_us: i64) -> Parsed<'_> {
    let Some(p) = prefix(text) else {
        return Parsed::Invalid("no RDS PostgreSQL prefix (%t:%r:%u@%d:[%p]:)");
    };
    let event = |action, statement, object| AuditEvent {
        events: events.clone(),
        time_us: p.time_us.unwrap_or(fallback_us),
        server: "",
        user: p.user,
        host: p.host,
        database: p.database,
        session: p.pid,
        action,
        statement,
        object,
        retcode: None,
        query_id: "",
        sql_dialect: SqlDialect::Postgres,
        cut: false,
    };
    if let Some(csv) = p.message.strip_prefix("AUDIT: ") {
        return match audit_record(csv) {
            Record::Open => Parsed::Incomplete,
            Record::Invalid(why) => Parsed::Invalid(why),
            Record::Fields(f) => {
                let statement = (f.statement != PREVIOUSLY_LOGGED && !f.statement.is_empty())
                    .then_some(f.statement);
                Parsed::Event(event(
                    Action::PgAudit {
                        class: f.class,
                        command: f.command,
                        object_type: f.object_type,
                        statement_id: f.statement_id,
                        substatement_id: f.substatement_id,
                    },
                    statement,
                    (!f.object_name.is_empty()).then_some(f.object_name),
                ))
            }
        };
    }
    if p.severity == "FATAL"
        && let Some((reason, user)) = auth_failure(p.message)
    {
        let mut e = event(
            Action::FailedLogin {
                reason: reason.into(),
            },
            None,
            None,
        );
        if e.user.is_empty() {
            e.user = user;
        }
        return Parsed::Event(e);
    }
    Parsed::NotAudit
}

/// The reason and the user named by a `FATAL` authentication failure.
fn auth_failure(message: &str) -> Option<(&'static str, &str)> {
    let quoted_after = |marker: &str| {
        let start = message.find(marker)? + marker.len();
        let end = message[start..].find('"')?;
        Some(&message[start..start + end])
    };
    if message.starts_with("password authentication failed for user \"") {
        return Some((
            "password authentication failed",
            quoted_after("for user \"")?,
        ));
    }
    if message.contains(" authentication failed for user \"") {
        return Some(("authentication failed", quoted_after("for user \"")?));
    }
    if message.starts_with("no pg_hba.conf entry for ") {
        return Some((
            "no pg_hba.conf entry for this host, user and database",
            quoted_after("user \"").unwrap_or(""),
        ));
    }
    if message.starts_with("pg_hba.conf rejects connection for ") {
        return Some((
            "pg_hba.conf rejects the connection",
            quoted_after("user \"").unwrap_or(""),
        ));
    }
    if message.starts_with("role \"") && message.ends_with("\" does not exist") {
        return Some(("role does not exist", quoted_after("role \"")?));
    }
    None
}

struct Fields<'a> {
    statement_id: u64,
    substatement_id: u64,
    class: &'a str,
    command: Cow<'a, str>,
    object_type: Cow<'a, str>,
    object_name: Cow<'a, str>,
    statement: Cow<'a, str>,
}

enum Record<'a> {
    Fields(Fields<'a>),
    Open,
    Invalid(&'static str),
}

fn audit_record(csv: &str) -> Record<'_> {
    let mut fields: [Cow<'_, str>; 8] = Default::default();
    let mut pos = 0;
    let mut count = 0;
    loop {
        let field = match csv_field(csv, &mut pos) {
            Field::Value(v) => v,
            Field::Open => return Record::Open,
            Field::Invalid => return Record::Invalid("malformed CSV quoting in the AUDIT record"),
        };
        if count < fields.len() {
            fields[count] = field;
        }
        count += 1;
        if pos >= csv.len() {
            break;
        }
        // csv_field stops on a comma; step over it.
        pos += 1;
        if pos == csv.len() {
            // A trailing comma: an empty last field.
            count += 1;
            break;
        }
    }
    if count < 8 {
        return Record::Invalid("an AUDIT record has fewer than 8 fields");
    }
    let [
        audit_type,
        statement_id,
        substatement_id,
        class,
        command,
        object_type,
        object_name,
        statement,
    ] = fields;
    if audit_type != "SESSION" && audit_type != "OBJECT" {
        return Record::Invalid("AUDIT type is neither SESSION nor OBJECT");
    }
    let (Some(statement_id), Some(substatement_id)) = (
        digits(statement_id.as_bytes()),
        digits(substatement_id.as_bytes()),
    ) else {
        return Record::Invalid("AUDIT statement ids are not numbers");
    };
    let Cow::Borrowed(class) = class else {
        return Record::Invalid("AUDIT class is quoted");
    };
    if class.is_empty() || !class.bytes().all(|c| c.is_ascii_uppercase() || c == b'_') {
        return Record::Invalid("AUDIT class is not an upper-case word");
    }
    Record::Fields(Fields {
        statement_id: statement_id as u64,
        substatement_id: substatement_id as u64,
        class,
        command,
        object_type,
        object_name,
        statement,
    })
}

enum Field<'a> {
    Value(Cow<'a, str>),
    Open,
    Invalid,
}

/// One CSV field from `pos`; leaves `pos` on the comma after it or at the end.
fn csv_field<'a>(csv: &'a str, pos: &mut usize) -> Field<'a> {
    let b = csv.as_bytes();
    let start = *pos;
    if b.get(start) != Some(&b'"') {
        let end = memchr::memchr(b',', &b[start..]).map_or(csv.len(), |i| start + i);
        *pos = end;
        return Field::Value(Cow::Borrowed(&csv[start..end]));
    }
    let mut i = start + 1;
    let mut doubled = false;
    loop {
        let Some(quote) = memchr::memchr(b'"', &b[i..]) else {
            return Field::Open;
        };
        i += quote;
        if b.get(i + 1) == Some(&b'"') {
            doubled = true;
            i += 2;
            continue;
        }
        let raw = &csv[start + 1..i];
        *pos = i + 1;
        if *pos < b.len() && b[*pos] != b',' {
            return Field::Invalid;
        }
        return Field::Value(if doubled {
            Cow::Owned(raw.replace("\"\"", "\""))
        } else {
            Cow::Borrowed(raw)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_pair_agrees_with_str_find() {
        for text in [
            "",
            ")",
            "):",
            "a)b):c",
            "))::",
            "10.0.5.20(50223):postgres@appdb:[28181]:LOG:  x",
            "[::1](5432):u@d:[1]:",
            "é):ü]:",
            ":[]:",
        ] {
            for pair in [b"):", b":[", b"]:"] {
                let needle = std::str::from_utf8(pair).unwrap();
                assert_eq!(
                    find_pair(text, pair),
                    text.find(needle),
                    "{text:?} {needle}"
                );
            }
        }
    }

    fn event(text: &str) -> AuditEvent<'_> {
        match parse(text, 0..1, 0) {
            Parsed::Event(e) => e,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn ddl_record_with_unquoted_fields() {
        let e = event(
            "2023-11-14 22:23:56 UTC:10.0.5.20(50222):postgres@appdb:[28180]:LOG:  AUDIT: SESSION,1,1,DDL,DROP TABLE,TABLE,public.t3,drop table t3;,<not logged>",
        );
        assert_eq!(e.time_us, 1_700_000_636_000_000);
        assert_eq!(
            (e.user, e.host, e.database, e.session),
            ("postgres", "10.0.5.20", "appdb", "28180")
        );
        let Action::PgAudit {
            class,
            command,
            object_type,
            statement_id,
            substatement_id,
        } = &e.action
        else {
            panic!("{:?}", e.action)
        };
        assert_eq!(
            (*class, command.as_ref(), object_type.as_ref()),
            ("DDL", "DROP TABLE", "TABLE")
        );
        assert_eq!((*statement_id, *substatement_id), (1, 1));
        assert_eq!(e.object.as_deref(), Some("public.t3"));
        assert_eq!(e.statement.as_deref(), Some("drop table t3;"));
    }

    #[test]
    fn quoted_statement_with_commas_doubled_quotes_and_lines() {
        let e = event(
            "2023-11-14 22:24:30 UTC:10.0.5.21(50301):app@appdb:[28190]:LOG:  AUDIT: SESSION,5,1,WRITE,UPDATE,TABLE,public.users,\"update users set name = 'x, y', note = \"\"q\"\"\nwhere id = 1;\",<not logged>",
        );
        assert_eq!(
            e.statement.as_deref(),
            Some("update users set name = 'x, y', note = \"q\"\nwhere id = 1;")
        );
        assert_eq!(
            parse(
                "2023-11-14 22:24:30 UTC:10.0.5.21(50301):app@appdb:[28190]:LOG:  AUDIT: SESSION,5,1,WRITE,UPDATE,TABLE,public.users,\"update users",
                0..1,
                0
            ),
            Parsed::Incomplete
        );
    }

    #[test]
    fn empty_fields_previously_logged_and_parameters() {
        let e = event(
            "2023-11-14 22:24:10 UTC:10.0.5.20(50223):postgres@appdb:[28181]:LOG:  AUDIT: SESSION,2,1,ROLE,GRANT,,,\"GRANT SELECT ON public.orders TO report;\",<not logged>",
        );
        assert_eq!(e.object, None);
        assert_eq!(
            e.statement.as_deref(),
            Some("GRANT SELECT ON public.orders TO report;")
        );
        let e = event(
            "2023-11-14 22:24:10 UTC:10.0.5.20(50223):postgres@appdb:[28181]:LOG:  AUDIT: SESSION,2,2,READ,SELECT,TABLE,public.b,<previously logged>,\"1,\"\"x\"\"\"",
        );
        assert_eq!(e.statement, None);
    }

    #[test]
    fn auth_failures_ipv6_and_local() {
        let e = event(
            "2023-11-14 22:25:01 UTC:198.51.100.9(40110):intruder@appdb:[28200]:FATAL:  password authentication failed for user \"intruder\"",
        );
        assert_eq!(
            e.action,
            Action::FailedLogin {
                reason: "password authentication failed".into()
            }
        );
        assert_eq!(e.host, "198.51.100.9");
        let e = event(
            "2023-11-14 22:25:01 UTC:2001:db8::7(40110):@:[28201]:FATAL:  no pg_hba.conf entry for host \"2001:db8::7\", user \"bob\", database \"appdb\", SSL off",
        );
        assert_eq!((e.user, e.host), ("bob", "2001:db8::7"));
        let e = event(
            "2023-11-14 22:25:01 UTC:[local]:ghost@appdb:[28202]:FATAL:  role \"ghost\" does not exist",
        );
        assert_eq!((e.user, e.host), ("ghost", "[local]"));
        assert!(e.failed());
    }

    #[test]
    fn ordinary_lines_are_not_audit_and_garbage_is_invalid() {
        for line in [
            "2023-11-14 22:25:01 UTC::@:[560]:LOG:  checkpoint starting: time",
            "2023-11-14 22:25:01 UTC:198.51.100.9(40110):intruder@appdb:[28200]:DETAIL:  Connection matched pg_hba.conf line 13",
            "2023-11-14 22:25:01 UTC:10.0.0.1(1):a@b:[1]:FATAL:  database \"nope\" does not exist",
        ] {
            assert_eq!(parse(line, 0..1, 0), Parsed::NotAudit, "{line}");
        }
        for line in [
            "\tcontinuation of a statement",
            "2023-11-14 22:25:01 UTC:10.0.0.1(1):a@b:[x]:LOG:  hi",
            "2023-11-14 22:25:01 UTC:10.0.0.1(1):a@b:[1]:LOG:  AUDIT: SESSION,x,1,DDL,DROP,,,drop,",
            "2023-11-14 22:25:01 UTC:10.0.0.1(1):a@b:[1]:LOG:  AUDIT: SESSION,1,1,DDL",
            "2023-11-14 22:25:01 UTC:10.0.0.1(1):a@b:[1]:LOG:  AUDIT: SESSION,1,1,DDL,DROP,,,\"drop\"x,",
        ] {
            assert!(matches!(parse(line, 0..1, 0), Parsed::Invalid(_)), "{line}");
        }
    }

    #[test]
    fn a_zone_other_than_utc_uses_the_log_event_time() {
        let e = match parse(
            "2023-11-14 23:25:01 CET:10.0.0.1(1):a@b:[1]:FATAL:  role \"a\" does not exist",
            0..1,
            42,
        ) {
            Parsed::Event(e) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(e.time_us, 42);
    }
}
