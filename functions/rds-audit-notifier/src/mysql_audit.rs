//! MySQL/MariaDB audit plugin and Aurora MySQL advanced auditing records:
//!
//! `timestamp,serverhost,username,host,connectionid,queryid,operation,database,object,retcode`
//!
//! The first eight fields never hold a comma. `object` is either empty, a bare
//! table name (Aurora TABLE rows), or the statement in single quotes with
//! `\'`, `\\`, `\n`, `\r` and `\t` escaped; it may hold commas, and newlines
//! when the server wrote them raw. `retcode` is empty on TABLE rows.
//! Timestamps are `YYYYMMDD HH:MM:SS` (RDS, UTC) or microseconds since the
//! epoch (Aurora).

use std::borrow::Cow;
use std::ops::Range;

use crate::dialect::SqlDialect;
use crate::event::{Action, AuditEvent, Parsed, civil_to_us, digits};

/// Parses one record (possibly several lines joined by `\n`).
pub fn parse(text: &str, events: Range<usize>) -> Parsed<'_> {
    let mut fields = [""; 8];
    let mut start = 0;
    // One pass over the commas: a searcher per field costs more than the
    // short fields themselves.
    let mut commas = memchr::memchr_iter(b',', text.as_bytes());
    for field in &mut fields {
        let Some(comma) = commas.next() else {
            return Parsed::Invalid("fewer than 10 comma-separated fields");
        };
        *field = &text[start..comma];
        start = comma + 1;
    }
    let [
        timestamp,
        server,
        user,
        host,
        session,
        query_id,
        operation,
        database,
    ] = fields;
    let Some(time_us) = timestamp_us(timestamp) else {
        return Parsed::Invalid("timestamp is neither YYYYMMDD HH:MM:SS nor microseconds");
    };
    if digits(session.as_bytes()).is_none() || digits(query_id.as_bytes()).is_none() {
        return Parsed::Invalid("connection id or query id is not a number");
    }
    if operation.is_empty()
        || !operation
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'_')
    {
        return Parsed::Invalid("operation is not an upper-case word");
    }
    let rest = &text[start..];
    let (object, quoted, retcode) = if rest.starts_with('\'') {
        match quoted_object(rest) {
            Quoted::Closed { value, after } => match after.strip_prefix(',') {
                Some(code) => (value, true, code),
                None => return Parsed::Invalid("text after the quoted object"),
            },
            Quoted::Open => return Parsed::Incomplete,
        }
    } else {
        match memchr::memrchr(b',', rest.as_bytes()) {
            Some(comma) => (Cow::Borrowed(&rest[..comma]), false, &rest[comma + 1..]),
            None => return Parsed::Invalid("fewer than 10 comma-separated fields"),
        }
    };
    let retcode = match retcode {
        "" => None,
        code => match parse_retcode(code) {
            Some(code) => Some(code),
            None => return Parsed::Invalid("retcode is not a number"),
        },
    };
    if !quoted && object.contains('\n') {
        return Parsed::Invalid("a line break outside a quoted object");
    }

    let (action, statement, object) = match operation {
        "CONNECT" if retcode.is_some_and(|c| c != 0) => (
            Action::FailedLogin {
                reason: login_error(retcode),
            },
            None,
            None,
        ),
        "CONNECT" => (Action::Connect, None, None),
        "FAILED_CONNECT" => (
            Action::FailedLogin {
                reason: login_error(retcode),
            },
            None,
            None,
        ),
        "DISCONNECT" => (Action::Disconnect, None, None),
        op if op.starts_with("QUERY") => (Action::Query, non_empty(object), None),
        "READ" | "WRITE" | "CREATE" | "ALTER" | "RENAME" | "DROP" if !quoted => {
            (Action::Table { operation }, None, non_empty(object))
        }
        _ if quoted => (Action::Other { operation }, non_empty(object), None),
        _ => (Action::Other { operation }, None, non_empty(object)),
    };
    Parsed::Event(AuditEvent {
        events,
        time_us,
        server,
        user,
        host,
        database,
        session,
        action,
        statement,
        object,
        retcode,
        query_id,
        sql_dialect: SqlDialect::MySql,
        cut: false,
    })
}

fn non_empty(value: Cow<'_, str>) -> Option<Cow<'_, str>> {
    (!value.is_empty()).then_some(value)
}

fn parse_retcode(code: &str) -> Option<i64> {
    match code.strip_prefix('-') {
        Some(rest) => digits(rest.as_bytes()).map(|v| -v),
        None => digits(code.as_bytes()),
    }
}

/// The server's reason for refusing a login, from its error code.
fn login_error(retcode: Option<i64>) -> Cow<'static, str> {
    match retcode {
        Some(1045) => "access denied (error 1045)".into(),
        Some(1044) => "access denied to the database (error 1044)".into(),
        Some(1129) => "host blocked after too many errors (error 1129)".into(),
        Some(1130) => "host not allowed to connect (error 1130)".into(),
        Some(1251) => "authentication protocol refused (error 1251)".into(),
        Some(3118) => "account locked (error 3118)".into(),
        Some(code) => format!("error {code}").into(),
        None => "refused".into(),
    }
}

/// `YYYYMMDD HH:MM:SS` (UTC) or microseconds since the epoch.
fn timestamp_us(field: &str) -> Option<i64> {
    let b = field.as_bytes();
    if b.len() == 17 && b[8] == b' ' && b[11] == b':' && b[14] == b':' {
        return civil_to_us(
            (digits(&b[0..4])?, digits(&b[4..6])?, digits(&b[6..8])?),
            (digits(&b[9..11])?, digits(&b[12..14])?, digits(&b[15..17])?),
        );
    }
    // Aurora writes microseconds; 16 digits covers 2001 to 2286.
    if b.len() == 16 {
        return digits(b);
    }
    None
}

enum Quoted<'a> {
    Closed { value: Cow<'a, str>, after: &'a str },
    Open,
}

/// Reads `'...'` at the start of `text`, undoing the plugin's escapes.
fn quoted_object(text: &str) -> Quoted<'_> {
    let b = text.as_bytes();
    let mut i = 1;
    let mut escaped = false;
    // Statements are long and escapes rare: jump between the two bytes
    // that matter.
    while let Some(at) = b
        .get(i..)
        .and_then(|rest| memchr::memchr2(b'\\', b'\'', rest))
    {
        i += at;
        match b[i] {
            b'\\' => {
                escaped = true;
                i += 2;
            }
            _ => {
                let raw = &text[1..i];
                let value = if escaped {
                    Cow::Owned(unescape(raw))
                } else {
                    Cow::Borrowed(raw)
                };
                return Quoted::Closed {
                    value,
                    after: &text[i + 1..],
                };
            }
        }
    }
    Quoted::Open
}

fn unescape(raw: &str) -> String {
    // Most statements quote a value, so most are unescaped: copy the runs
    // between backslashes whole rather than char by char.
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = memchr::memchr(b'\\', rest.as_bytes()) {
        out.push_str(&rest[..at]);
        let mut chars = rest[at + 1..].chars();
        push_escape(&mut out, chars.next());
        rest = chars.as_str();
    }
    out.push_str(rest);
    out
}

/// What a backslash followed by `next` stands for.
fn push_escape(out: &mut String, next: Option<char>) {
    match next {
        Some('\'') => out.push('\''),
        Some('\\') => out.push('\\'),
        Some('n') => out.push('\n'),
        Some('r') => out.push('\r'),
        Some('t') => out.push('\t'),
        // Not an escape the plugin writes: keep it as it was.
        Some(other) => {
            out.push('\\');
            out.push(other);
        }
        None => out.push('\\'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The char-by-char unescaping `unescape` copies runs of.
    fn unescape_reference(raw: &str) -> String {
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            push_escape(&mut out, chars.next());
        }
        out
    }

    #[test]
    fn unescape_agrees_with_a_char_by_char_reading() {
        for raw in [
            "",
            "plain",
            "\\",
            "\\\\",
            "a\\",
            "\\'a\\'",
            "it\\'s \\\\ \\n\\r\\t end",
            "\\x\\é\\\\\\",
            "é\\'ü\\",
            "SELECT \\'a\\\\\\'b\\'\\nFROM t\\tx",
        ] {
            assert_eq!(unescape(raw), unescape_reference(raw), "{raw:?}");
        }
    }

    /// The byte-by-byte reading `quoted_object` jumps through with memchr.
    fn quoted_reference(text: &str) -> Option<(String, &str)> {
        let b = text.as_bytes();
        let mut i = 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'\'' => return Some((unescape(&text[1..i]), &text[i + 1..])),
                _ => i += 1,
            }
        }
        None
    }

    #[test]
    fn quoted_object_agrees_with_a_byte_by_byte_reading() {
        for text in [
            "'",
            "''",
            "'a',0",
            r"'\\',0",
            r"'\'",
            r"'\",
            r"'it\'s',0",
            r"'a\\\'b',0",
            r"'ends in a backslash\\'",
            r"'x\y\'z\\',1,'q'",
            "'é\\'ü',0",
            "'open",
        ] {
            let fast = match quoted_object(text) {
                Quoted::Closed { value, after } => Some((value.into_owned(), after)),
                Quoted::Open => None,
            };
            assert_eq!(fast, quoted_reference(text), "{text:?}");
        }
    }

    fn event(text: &str) -> AuditEvent<'_> {
        match parse(text, 0..1) {
            Parsed::Event(e) => e,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn rds_query_with_escaped_quotes_and_commas() {
        let e = event(
            r"20231114 22:13:40,ip-10-0-1-23,admin,10.0.2.15,3051,152313,QUERY,appdb,'GRANT SELECT, INSERT ON appdb.* TO \'report\'@\'%\'',0",
        );
        assert_eq!(e.time_us, 1_700_000_020_000_000);
        assert_eq!(
            (e.server, e.user, e.host, e.database),
            ("ip-10-0-1-23", "admin", "10.0.2.15", "appdb")
        );
        assert_eq!(e.action, Action::Query);
        assert_eq!(
            e.statement.as_deref(),
            Some("GRANT SELECT, INSERT ON appdb.* TO 'report'@'%'")
        );
        assert_eq!(e.retcode, Some(0));
        assert!(!e.failed());
    }

    #[test]
    fn aurora_microseconds_and_table_rows_with_empty_retcode() {
        let e = event(
            "1700000000323456,aurora-prod-instance-1,admin,10.0.3.44,47,979852,DROP,appdb,tmp_import,",
        );
        assert_eq!(e.time_us, 1_700_000_000_323_456);
        assert_eq!(e.action, Action::Table { operation: "DROP" });
        assert_eq!(e.object.as_deref(), Some("tmp_import"));
        assert_eq!(e.retcode, None);
        assert_eq!(e.statement, None);
    }

    #[test]
    fn failed_connect_and_connect_with_an_error() {
        let e = event(
            "20231114 22:14:02,ip-10-0-1-23,mallory,198.51.100.23,3052,0,FAILED_CONNECT,,,1045",
        );
        assert_eq!(
            e.action,
            Action::FailedLogin {
                reason: "access denied (error 1045)".into()
            }
        );
        assert!(e.failed());
        let e = event("20231114 22:14:02,ip,eve,198.51.100.23,3052,0,CONNECT,appdb,,1044");
        assert!(matches!(e.action, Action::FailedLogin { .. }));
        let e = event("20231114 22:14:02,ip,bob,10.0.0.1,3052,0,CONNECT,appdb,,0");
        assert_eq!(e.action, Action::Connect);
    }

    #[test]
    fn escapes_newlines_and_backslashes() {
        let e = event(r"20231114 22:13:40,h,u,h,1,2,QUERY,db,'SELECT \'a\\\'b\'\nFROM t\tx',0");
        assert_eq!(e.statement.as_deref(), Some("SELECT 'a\\'b'\nFROM t\tx"));
        // Raw newlines inside the quotes belong to the statement.
        let e = event(
            "20231114 22:13:40,h,u,h,1,2,QUERY,db,'CREATE TABLE t (\n  a int,\n  b int\n)',0",
        );
        assert_eq!(
            e.statement.as_deref(),
            Some("CREATE TABLE t (\n  a int,\n  b int\n)")
        );
        // A statement ending in an escaped backslash.
        let e = event(r"20231114 22:13:40,h,u,h,1,2,QUERY,db,'SELECT \'\\\\\'',0");
        assert_eq!(e.statement.as_deref(), Some(r"SELECT '\\'"));
    }

    #[test]
    fn open_quotes_ask_for_the_next_line_and_garbage_is_invalid() {
        assert_eq!(
            parse(
                "20231114 22:13:40,h,u,h,1,2,QUERY,db,'CREATE TABLE t (",
                0..1
            ),
            Parsed::Incomplete
        );
        assert_eq!(
            parse(r"20231114 22:13:40,h,u,h,1,2,QUERY,db,'it\'s open,0", 0..1),
            Parsed::Incomplete
        );
        for bad in [
            "",
            "hello world",
            "20231114 22:13:40,h,u,h,1,2,QUERY,db",
            "2023111 22:13:40,h,u,h,1,2,QUERY,db,'x',0",
            "20231114 22:13:40,h,u,h,x,2,QUERY,db,'x',0",
            "20231114 22:13:40,h,u,h,1,2,query,db,'x',0",
            "20231114 22:13:40,h,u,h,1,2,QUERY,db,'x' trailing,0",
            "20231114 22:13:40,h,u,h,1,2,QUERY,db,'x',zero",
        ] {
            assert!(matches!(parse(bad, 0..1), Parsed::Invalid(_)), "{bad:?}");
        }
    }
}
