//! Masking passwords and secrets in SQL before a statement is shown anywhere
//! (Slack, a log line, the report).
//!
//! The statement is lexed (see [`crate::sql`]), so a password holding quotes,
//! commas or escapes is masked exactly, whatever its quoting. Recognised forms:
//! `IDENTIFIED BY '…'`, `IDENTIFIED WITH plugin BY|AS '…'`, `IDENTIFIED VIA
//! plugin USING '…' | PASSWORD('…')`, `BY PASSWORD '…'`, `REPLACE '…'`,
//! `PASSWORD '…'` (with `ENCRYPTED`/`UNENCRYPTED`), `PASSWORD = '…'`,
//! `SET PASSWORD [FOR user] = '…' | PASSWORD('…')`, `MASTER_PASSWORD = '…'`
//! and any other name holding `password`, `passwd`, `pwd`, `secret` or
//! `credential` followed by a literal or a call, the literals of RDS's
//! `mysql.rds_set_external_master*` calls (a positional password), libpq
//! `password=…` values inside literals in any quoting (`password=''a b''`,
//! `E'password=\\'a b\\''`, `$$password='a b'$$`), the password of every URI
//! (`scheme://user:secret@host`, in a literal, a comment or bare text),
//! literals or comments that mention a password, and every literal after a
//! password-like column in a list (`INSERT ... (name, password) VALUES ...`).
//!
//! It fails closed: when a password-like keyword is followed by something
//! this module does not understand, everything from there on is masked; a
//! connection-string or URI password whose end it cannot be sure of masks
//! the rest of its literal; a literal the server may end elsewhere (a
//! backslash before a quote, read per `NO_BACKSLASH_ESCAPES` or
//! `standard_conforming_strings`) masks the rest of the statement; a literal
//! with escapes it does not decode is masked whole.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::dialect::SqlDialect;
use crate::sql::{Kind, Lexer, Token};

/// What a masked value is replaced with.
pub const MASK: &str = "***";

/// Words about a secret: passwords, passphrases, API, access and private
/// keys. `crypt`: the key or password given to
/// `crypt('…', gen_salt(…))`, `pgp_sym_encrypt`, `AES_ENCRYPT`.
/// `aws_s3.table_import_from_s3` and
/// `query_export_to_s3` take an access key and secret key as positional
/// literals, `rds_import_binlog_ssl_material` a private key.
static HINT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)passw|passphr|pwd|(?:(?-u:\b)|_)pw(?:(?-u:\b)|_)|secret|credential|crypt|api_?key|access_?key|private.?key|identified|rds_set_external|table_import_from_s3|query_export_to_s3|ssl_material",
    )
    .expect("static regex")
});

/// Cheap pre-check: a statement with none of these needs no lexing. Besides
/// the hint words: a URI, `COPY ... PROGRAM` (a shell command line), and a
/// backslash or `UESCAPE`, which may hide a hint word in an escape
/// (`E'p\x61ssword=…'`) or end a literal elsewhere than this lexer reads.
static TRIGGER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"{}|://|program|uescape|\\", HINT.as_str())).expect("static regex")
});

/// `password=value` inside a connection string.
static CONNINFO_PASSWORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(?:password|passwd|pwd)\s*=\s*").expect("static regex"));

/// Words that may follow `PASSWORD` without a secret after them.
const HARMLESS_AFTER_PASSWORD: &[&str] = &[
    "EXPIRE", "HISTORY", "REUSE", "REQUIRE", "LOCK", "NULL", "DEFAULT", "FROM", "IS", "VALID",
];

/// Whether `text` holds a URI (`scheme://`), whose userinfo may hold a
/// password with no hint word near it.
fn has_uri(text: &str) -> bool {
    memchr::memmem::find(text.as_bytes(), b"://").is_some()
}

/// Whether `text` holds a URI whose userinfo may hold a password.
fn has_uri_password(text: &str) -> bool {
    memchr::memmem::find_iter(text.as_bytes(), b"://")
        .any(|at| uri_password(&text[at + 3..]).is_some())
}

/// The statement with every secret masked.
pub fn redact(sql: &str, dialect: SqlDialect) -> Cow<'_, str> {
    if !TRIGGER.is_match(sql) {
        return Cow::Borrowed(sql);
    }
    let mut masks = Masks::default();
    // Comments are masked on their own and left out of the token list, so
    // `password/**/'pw'` or `IDENTIFIED WITH p /* c */ BY 'pw'` read as
    // without them.
    let mut tokens: Vec<Token> = Lexer::new(sql, dialect)
        .filter(|token| {
            if token.kind != Kind::Comment {
                return true;
            }
            let content = &sql[token.inner.clone()];
            if HINT.is_match(content) || has_uri(content) {
                masks.mask(token.inner.clone());
            }
            false
        })
        .collect();
    // Past a literal whose end the server may read elsewhere, no token is
    // known to be what it seems.
    if let Some(k) = tokens
        .iter()
        .position(|t| matches!(t.kind, Kind::Str { .. }) && ambiguous_end(sql, t, dialect))
    {
        masks.rest_from(tokens[k].span.start);
        tokens.truncate(k);
    }
    let unicode_escapes = memchr::memchr(b'\\', sql.as_bytes()).is_some()
        || sql
            .as_bytes()
            .windows(7)
            .any(|w| w.eq_ignore_ascii_case(b"uescape"));
    let mut seen_secret = false;
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        let text = &sql[token.span.clone()];
        i = match token.kind {
            Kind::Str { .. } if unicode_escapes && is_unicode_literal(sql, token) => {
                masks.literal(token);
                i + 1
            }
            Kind::Str { .. } => {
                let joined = tokens
                    .get(i + 1)
                    .is_some_and(|t| matches!(t.kind, Kind::Str { .. } | Kind::Punct(b'|')));
                match mask_literal_mentions(sql, token, dialect, &mut masks) {
                    Tail::Elsewhere => masks.rest_from(token.span.end),
                    Tail::MayContinue if joined => masks.rest_from(token.span.end),
                    _ => {}
                }
                // A name in quotes (MySQL `"password"` under ANSI_QUOTES, a
                // setting `set_config('app.secret', '…', false)`).
                let content = &sql[token.inner.clone()];
                if secret_name(content) && is_plain_name(content) {
                    seen_secret = true;
                    secret_value(sql, &tokens, i, &mut masks)
                } else {
                    i + 1
                }
            }
            // `COPY ... FROM|TO PROGRAM '…'`: a shell command line, with
            // passwords in forms no SQL rule knows (`-p…`, `PGPASSWORD=`).
            Kind::Word if text.eq_ignore_ascii_case("PROGRAM") => match tokens.get(i + 1) {
                Some(t) if matches!(t.kind, Kind::Str { .. }) => {
                    masks.literal(t);
                    i + 2
                }
                _ => i + 1,
            },
            // A URI outside any literal (`scheme` `:` `//...`): not SQL, so
            // nothing after it can be trusted to end its password.
            Kind::Punct(b':') if sql[token.span.end..].starts_with("//") => {
                let after = token.span.end + 2;
                match uri_password(&sql[after..]) {
                    Some(Secret::Range(r)) => masks.mask(after + r.start..after + r.end),
                    Some(Secret::ToEnd(at)) => masks.rest_from(after + at),
                    None => {}
                }
                i + 1
            }
            Kind::Word if text.eq_ignore_ascii_case("IDENTIFIED") => {
                seen_secret = true;
                identified(sql, &tokens, i, &mut masks)
            }
            // `REPLACE 'current'` also follows `SET PASSWORD = '…'`.
            Kind::Word
                if seen_secret
                    && (text.eq_ignore_ascii_case("USING")
                        || text.eq_ignore_ascii_case("REPLACE")) =>
            {
                match tokens.get(i + 1) {
                    Some(t) if matches!(t.kind, Kind::Str { .. }) => {
                        masks.secret_literal(&tokens, i + 1)
                    }
                    Some(t) if is_word(sql, t, "PASSWORD") => i + 1,
                    Some(t) => {
                        masks.rest_from(t.span.start);
                        tokens.len()
                    }
                    None => i + 1,
                }
            }
            // A name holding a URI or more than a name (`"https://u:pw@h"`,
            // `` `password hunter2` ``) cannot be delimited: it goes whole.
            Kind::QuotedName if !is_plain_name(&sql[token.inner.clone()]) => {
                let inner = &sql[token.inner.clone()];
                if HINT.is_match(inner) || has_uri_password(inner) {
                    masks.literal(token);
                }
                i + 1
            }
            Kind::Word | Kind::QuotedName if secret_name(&sql[token.inner.clone()]) => {
                seen_secret = true;
                // The value may come first: `'…' = password`.
                let mut k = i;
                while k > 0 && matches!(tokens[k - 1].kind, Kind::Punct(b'=' | b'<' | b'>' | b'!'))
                {
                    k -= 1;
                }
                if k < i && k > 0 && matches!(tokens[k - 1].kind, Kind::Str { .. }) {
                    masks.literal(&tokens[k - 1]);
                }
                secret_value(sql, &tokens, i, &mut masks)
            }
            _ => i + 1,
        };
    }
    Cow::Owned(masks.apply(sql))
}

/// Whether the server may end `token` elsewhere than this lexer did, so
/// every later boundary is unknown: a backslash right before a quote means
/// an escaped quote to MySQL but a backslash and a closing quote under
/// `NO_BACKSLASH_ESCAPES`, and the other way round for a PostgreSQL
/// `'…\'` under `standard_conforming_strings = off`. (`E'…'` always
/// escapes, dollar quotes never.) An odd run of backslashes before a quote
/// in the literal, or before its closing quote, is such a place.
fn ambiguous_end(sql: &str, token: &Token, dialect: SqlDialect) -> bool {
    let inner = token.inner.clone();
    let b = sql.as_bytes();
    let Some(open) = inner.start.checked_sub(1) else {
        return false;
    };
    let quote = b[open];
    let applies = match dialect {
        SqlDialect::MySql => matches!(quote, b'\'' | b'"'),
        SqlDialect::Postgres => {
            quote == b'\'' && !sql[token.span.start..open].eq_ignore_ascii_case("e")
        }
    };
    if !applies || memchr::memchr(b'\\', &b[inner.clone()]).is_none() {
        return false;
    }
    let odd_run_before = |at: usize| {
        b[inner.start..at]
            .iter()
            .rev()
            .take_while(|&&c| c == b'\\')
            .count()
            % 2
            == 1
    };
    let closing = matches!(token.kind, Kind::Str { terminated: true }).then_some(inner.end);
    memchr::memchr_iter(quote, &b[inner.clone()])
        .map(|i| inner.start + i)
        .chain(closing)
        .any(odd_run_before)
}

/// A PostgreSQL `U&'…'` literal: its `\0061` (or `UESCAPE` chosen)
/// escapes are not decoded, so what it says is unknown.
fn is_unicode_literal(sql: &str, token: &Token) -> bool {
    let start = token.span.start;
    start >= 2
        && sql.is_char_boundary(start - 2)
        && sql[start - 2..start].eq_ignore_ascii_case("u&")
}

/// Whether a name is about a secret: `PASSWORD`, `MASTER_PASSWORD`,
/// `client_secret`, `create_aws_credentials`...
fn secret_name(name: &str) -> bool {
    name.len() >= 2 && HINT.is_match(name) && !name.eq_ignore_ascii_case("IDENTIFIED")
}

/// A name made only of name characters (`user_password`, `public.t`).
fn is_plain_name(name: &str) -> bool {
    name.bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'$') || c >= 0x80)
}

/// An object name (a table, a role) as shown: masked whole if it holds a
/// URI or mentions a secret in more than a name.
pub fn redact_name(name: &str) -> Cow<'_, str> {
    if !is_plain_name(name) && (HINT.is_match(name) || has_uri_password(name)) {
        Cow::Borrowed(MASK)
    } else {
        Cow::Borrowed(name)
    }
}

fn is_word(sql: &str, token: &Token, word: &str) -> bool {
    token.kind == Kind::Word && sql[token.span.clone()].eq_ignore_ascii_case(word)
}

/// `IDENTIFIED BY '…'`, `IDENTIFIED WITH|VIA plugin [BY|AS|USING '…']`.
fn identified(sql: &str, tokens: &[Token], i: usize, masks: &mut Masks) -> usize {
    let Some(next) = tokens.get(i + 1) else {
        return i + 1;
    };
    if is_word(sql, next, "BY") {
        return by_value(sql, tokens, i + 2, masks);
    }
    if is_word(sql, next, "WITH") || is_word(sql, next, "VIA") {
        let Some(plugin) = tokens.get(i + 2) else {
            return i + 2;
        };
        if !matches!(
            plugin.kind,
            Kind::Word | Kind::QuotedName | Kind::Str { .. }
        ) {
            masks.rest_from(plugin.span.start);
            return tokens.len();
        }
        return match tokens.get(i + 3) {
            Some(t) if is_word(sql, t, "BY") => by_value(sql, tokens, i + 4, masks),
            Some(t) if is_word(sql, t, "AS") => match tokens.get(i + 4) {
                Some(v) if matches!(v.kind, Kind::Str { .. }) => {
                    masks.secret_literal(tokens, i + 4)
                }
                Some(v) => {
                    masks.rest_from(v.span.start);
                    tokens.len()
                }
                None => i + 4,
            },
            // USING is handled by the caller's loop, as it can repeat after OR.
            _ => i + 3,
        };
    }
    masks.rest_from(next.span.start);
    tokens.len()
}

/// The value after `BY`: a literal, `RANDOM PASSWORD`, or `PASSWORD '…'`.
fn by_value(sql: &str, tokens: &[Token], at: usize, masks: &mut Masks) -> usize {
    match tokens.get(at) {
        None => at,
        Some(v) if matches!(v.kind, Kind::Str { .. }) => masks.secret_literal(tokens, at),
        Some(v)
            if is_word(sql, v, "RANDOM")
                && tokens
                    .get(at + 1)
                    .is_some_and(|p| is_word(sql, p, "PASSWORD")) =>
        {
            at + 2
        }
        Some(v) if is_word(sql, v, "PASSWORD") => match tokens.get(at + 1) {
            Some(h) if matches!(h.kind, Kind::Str { .. }) => masks.secret_literal(tokens, at + 1),
            _ => {
                masks.rest_from(v.span.start);
                tokens.len()
            }
        },
        Some(v) => {
            masks.rest_from(v.span.start);
            tokens.len()
        }
    }
}

/// What follows a secret-like name: a literal (masked), a call (its literals
/// masked), a placeholder or variable, or a harmless keyword. Anything else
/// masks the rest.
fn secret_value(sql: &str, tokens: &[Token], i: usize, masks: &mut Masks) -> usize {
    let name = &tokens[i];
    let mut j = i + 1;
    // SET PASSWORD FOR 'user'@'host' = ...: the account name is not secret.
    if is_word(sql, name, "PASSWORD") && tokens.get(j).is_some_and(|t| is_word(sql, t, "FOR")) {
        let eq = tokens[j..]
            .iter()
            .take(12)
            .position(|t| t.kind == Kind::Punct(b'='));
        match eq {
            Some(offset) => j += offset,
            None => {
                masks.rest_from(tokens[j].span.start);
                return tokens.len();
            }
        }
    }
    // `=`, `:=`, or `TO` (PostgreSQL `SET password_x TO '…'`).
    while let Some(t) = tokens.get(j) {
        if matches!(t.kind, Kind::Punct(b'=') | Kind::Punct(b':')) || is_word(sql, t, "TO") {
            j += 1;
        } else {
            break;
        }
    }
    let Some(value) = tokens.get(j) else {
        return j;
    };
    match value.kind {
        Kind::Str { .. } => masks.secret_literal(tokens, j),
        Kind::Punct(b'(') => {
            let mut depth = 0usize;
            for (k, t) in tokens.iter().enumerate().skip(j) {
                match t.kind {
                    Kind::Punct(b'(') => depth += 1,
                    Kind::Punct(b')') => {
                        depth -= 1;
                        if depth == 0 {
                            return k + 1;
                        }
                    }
                    Kind::Str { .. } => masks.literal(t),
                    _ => {}
                }
            }
            // The call never closes (a truncated statement).
            masks.rest_from(value.span.start);
            tokens.len()
        }
        // A column in a list (`INSERT INTO users (name, password) VALUES
        // (...)`): its value is somewhere later, so every later literal goes.
        Kind::Punct(b',' | b')') => {
            for t in &tokens[j..] {
                if matches!(t.kind, Kind::Str { .. }) {
                    masks.literal(t);
                }
            }
            tokens.len()
        }
        Kind::Param | Kind::Punct(b';') => j,
        // A variable (`@pw`) holds the secret; its name does not.
        Kind::Word if sql[value.span.clone()].starts_with('@') => j + 1,
        Kind::Word
            if HARMLESS_AFTER_PASSWORD
                .iter()
                .any(|w| sql[value.span.clone()].eq_ignore_ascii_case(w)) =>
        {
            j + 1
        }
        // Another secret-like word (`ENCRYPTED PASSWORD`, `PASSWORD PASSWORD`)
        // is judged on its own.
        Kind::Word if secret_name(&sql[value.span.clone()]) => j,
        _ => {
            masks.rest_from(value.span.start);
            tokens.len()
        }
    }
}

/// A secret found in a text: a byte range, or everything from an offset on
/// (its end could not be told).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Secret {
    Range(Range<usize>),
    ToEnd(usize),
}

/// The password of the URI whose `scheme://` ends just before `text`.
///
/// The userinfo ends at the last `@` before a space or a quote; its password
/// is what follows the first `:`. Without an `@` there, a `:` followed by
/// anything but a port, or an `@` further on, may still start or end a
/// password (one holding a space or a quote): everything after is masked.
fn uri_password(text: &str) -> Option<Secret> {
    let b = text.as_bytes();
    let extent = b
        .iter()
        .position(|c| c.is_ascii_whitespace() || matches!(c, b'\'' | b'"' | b'`'))
        .unwrap_or(b.len());
    let uri = &b[..extent];
    // An `@` past a space or a quote may still end a userinfo that holds
    // one (`user:correct horse@host`, `my user:pw@host`, `u:@ pw@host`).
    if memchr::memchr(b'@', &b[extent..]).is_some() {
        return Some(Secret::ToEnd(
            memchr::memchr(b':', uri).map_or(0, |c| c + 1),
        ));
    }
    if let Some(at) = memchr::memrchr(b'@', uri) {
        let colon = memchr::memchr(b':', &uri[..at])?;
        return Some(Secret::Range(colon + 1..at));
    }
    let authority_end = uri
        .iter()
        .position(|c| matches!(c, b'/' | b'?' | b'#'))
        .unwrap_or(uri.len());
    let mut authority = &uri[..authority_end];
    let mut offset = 0;
    // An IPv6 host holds colons: `[2001:db8::1]:5432`.
    if authority.first() == Some(&b'[')
        && let Some(close) = memchr::memchr(b']', authority)
    {
        offset = close + 1;
        authority = &authority[offset..];
    }
    let colon = memchr::memchr(b':', authority)?;
    let port = &authority[colon + 1..];
    let ends_cleanly = authority_end < uri.len() || extent == b.len();
    if port.iter().all(u8::is_ascii_digit) && ends_cleanly {
        return None;
    }
    Some(Secret::ToEnd(offset + colon + 1))
}

/// The value of a libpq `keyword = value` pair starting at `text[at..]`:
/// single-quoted (`\'` and `\\` escaped) or bare up to a space.
fn conninfo_value(text: &str, at: usize) -> Option<Secret> {
    let b = text.as_bytes();
    let quoted = b.get(at) == Some(&b'\'');
    let start = if quoted { at + 1 } else { at };
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'\'' if quoted => return Some(Secret::Range(start..i)),
            c if !quoted && c.is_ascii_whitespace() => break,
            _ => i += 1,
        }
    }
    if quoted {
        // The quote never closes: the value may be all that follows.
        return Some(Secret::ToEnd(start));
    }
    (i > start).then_some(Secret::Range(start..i.min(b.len())))
}

/// A literal's value, as the server reads it, with the source offset of
/// each of its bytes, so a secret found in the value is masked in the
/// source whatever its escapes.
struct Decoded {
    text: String,
    /// `source[i]`: where byte `i` of `text` came from; one more entry for
    /// the end.
    source: Vec<usize>,
    /// Offsets in `text` of bytes from escapes this module does not decode
    /// (`\x27`, octal, `\u`): what they stand for is unknown.
    opaque: Vec<usize>,
}

impl Decoded {
    fn new(sql: &str, token: &Token, dialect: SqlDialect) -> Self {
        let inner = token.inner.clone();
        let open = inner.start.saturating_sub(1);
        let quote = sql.as_bytes().get(open).copied().unwrap_or(b'\'');
        let prefix = &sql[token.span.start..open];
        let backslash =
            quote != b'$' && (dialect == SqlDialect::MySql || prefix.eq_ignore_ascii_case("e"));
        let doubling = quote != b'$';
        let raw = &sql[inner.clone()];
        let mut out = Decoded {
            text: String::with_capacity(raw.len()),
            source: Vec::with_capacity(raw.len() + 1),
            opaque: Vec::new(),
        };
        let mut chars = raw.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let at = inner.start + i;
            if doubling && c as u32 == u32::from(quote) && chars.peek().map(|p| p.1) == Some(c) {
                chars.next();
                out.push(at, c);
            } else if backslash && c == '\\' {
                let Some((_, e)) = chars.next() else {
                    out.push(at, c);
                    break;
                };
                match e {
                    'n' => out.push(at, '\n'),
                    't' => out.push(at, '\t'),
                    'r' => out.push(at, '\r'),
                    'b' => out.push(at, '\u{8}'),
                    'f' => out.push(at, '\u{c}'),
                    'Z' if dialect == SqlDialect::MySql => out.push(at, '\u{1a}'),
                    '0'..='9' | 'x' | 'u' | 'U' if dialect == SqlDialect::Postgres => {
                        out.opaque.push(out.text.len());
                        out.push(at, '\u{1a}');
                    }
                    other => out.push(at, other),
                }
            } else {
                out.push(at, c);
            }
        }
        out.source.push(inner.end);
        out
    }

    fn push(&mut self, at: usize, c: char) {
        self.text.push(c);
        self.source.extend(std::iter::repeat_n(at, c.len_utf8()));
    }

    /// The source range of a secret in `text`; an opaque escape in or
    /// right after it makes its end unknown, so the rest goes.
    fn to_source(&self, secret: &Secret, end: usize) -> Range<usize> {
        let (start, stop) = match *secret {
            Secret::Range(ref r) => (r.start, r.end),
            Secret::ToEnd(at) => (at, self.text.len()),
        };
        if stop >= self.text.len() || self.opaque.iter().any(|&o| o >= start && o <= stop) {
            return self.source[start]..end;
        }
        self.source[start]..self.source[stop]
    }
}

/// Whether a `password=` value may go on past its literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// Nothing open at the literal's end.
    Closed,
    /// A value runs to the literal's end: a literal or `||` joined to it
    /// continues it.
    MayContinue,
    /// The value is elsewhere: `'password=' || '…'`,
    /// `format('password=%s', '…')`.
    Elsewhere,
}

/// A literal that itself mentions a password: connection strings'
/// `password=…` values and URIs' passwords are masked, anything else masks
/// the whole literal.
fn mask_literal_mentions(sql: &str, token: &Token, dialect: SqlDialect, masks: &mut Masks) -> Tail {
    let inner = token.inner.clone();
    let content = &sql[inner.clone()];
    let escaped = memchr::memchr(b'\\', content.as_bytes()).is_some();
    if !escaped && !HINT.is_match(content) && !has_uri(content) {
        return Tail::Closed;
    }
    let value = Decoded::new(sql, token, dialect);
    // An escape this module does not decode (`\x61`, octal, `\u`) may spell
    // anything, a hint word included: the whole literal goes.
    if !value.opaque.is_empty() {
        masks.literal(token);
        return Tail::MayContinue;
    }
    let text = value.text.as_str();
    if escaped && !HINT.is_match(text) && !has_uri(text) {
        return Tail::Closed;
    }
    let mut tail = Tail::Closed;
    let mut secrets: Vec<Range<usize>> = Vec::new();
    let mut keys = Vec::new();
    for m in CONNINFO_PASSWORD.find_iter(text) {
        keys.push(m.start());
        let secret = conninfo_value(text, m.end());
        tail = match &secret {
            None => Tail::Elsewhere,
            Some(Secret::Range(r)) if matches!(text.as_bytes().get(r.start), Some(b'%' | b'$')) => {
                Tail::Elsewhere
            }
            Some(Secret::Range(r)) if r.end < text.len() => tail,
            Some(_) => Tail::MayContinue.max_with(tail),
        };
        if let Some(secret) = secret {
            secrets.push(match &secret {
                Secret::Range(r) => r.clone(),
                Secret::ToEnd(at) => *at..text.len(),
            });
            masks.mask(value.to_source(&secret, inner.end));
        }
    }
    for at in memchr::memmem::find_iter(text.as_bytes(), b"://") {
        if let Some(secret) = uri_password(&text[at + 3..]) {
            let secret = match secret {
                Secret::Range(r) => Secret::Range(at + 3 + r.start..at + 3 + r.end),
                Secret::ToEnd(s) => Secret::ToEnd(at + 3 + s),
            };
            secrets.push(match &secret {
                Secret::Range(r) => r.clone(),
                Secret::ToEnd(s) => *s..text.len(),
            });
            masks.mask(value.to_source(&secret, inner.end));
        }
    }
    // A mention that is neither a `password=` key nor inside a masked value
    // cannot be delimited: the whole literal goes.
    if HINT
        .find_iter(text)
        .any(|m| !keys.contains(&m.start()) && !secrets.iter().any(|r| r.contains(&m.start())))
    {
        masks.literal(token);
    }
    tail
}

impl Tail {
    fn max_with(self, other: Tail) -> Tail {
        if other == Tail::Elsewhere {
            other
        } else {
            self
        }
    }
}

/// Byte ranges to mask, and where to mask everything after.
#[derive(Default)]
struct Masks {
    ranges: Vec<Range<usize>>,
    rest_from: Option<usize>,
}

impl Masks {
    fn mask(&mut self, range: Range<usize>) {
        self.ranges.push(range);
    }

    fn literal(&mut self, token: &Token) {
        self.mask(token.inner.clone());
    }

    /// Masks the secret literal `tokens[at]` and returns where to read on.
    /// A literal or `||` right after it may continue the secret (`'a' 'b'`
    /// is one string in both dialects): the rest goes.
    fn secret_literal(&mut self, tokens: &[Token], at: usize) -> usize {
        self.literal(&tokens[at]);
        match tokens.get(at + 1) {
            Some(next) if matches!(next.kind, Kind::Str { .. } | Kind::Punct(b'|')) => {
                self.rest_from(next.span.start);
                tokens.len()
            }
            _ => at + 1,
        }
    }

    fn rest_from(&mut self, at: usize) {
        self.rest_from = Some(self.rest_from.map_or(at, |r| r.min(at)));
    }

    fn apply(mut self, sql: &str) -> String {
        self.ranges.sort_by_key(|r| r.start);
        let end = self.rest_from.unwrap_or(sql.len());
        let mut out = String::with_capacity(sql.len());
        let mut at = 0;
        for range in &self.ranges {
            if range.start >= end {
                break;
            }
            if range.start < at {
                // Overlaps a range already masked: extend it.
                at = at.max(range.end.min(end));
                continue;
            }
            out.push_str(&sql[at..range.start]);
            out.push_str(MASK);
            at = range.end.min(end);
        }
        if at < end {
            out.push_str(&sql[at..end]);
        }
        if self.rest_from.is_some() {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
            out.push_str(MASK);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SqlDialect::{MySql, Postgres};

    /// Redacts and checks that no part of `secret` survives.
    fn check(sql: &str, dialect: SqlDialect, secret: &str, expected: &str) {
        let out = redact(sql, dialect);
        assert!(
            !out.contains(secret),
            "secret {secret:?} survived in {out:?}"
        );
        assert_eq!(out, expected, "from {sql:?}");
    }

    #[test]
    fn mysql_identified_by_forms() {
        check(
            "CREATE USER 'app'@'%' IDENTIFIED BY 's3cr3t'",
            MySql,
            "s3cr3t",
            "CREATE USER 'app'@'%' IDENTIFIED BY '***'",
        );
        // `\'` ends the literal under NO_BACKSLASH_ESCAPES: the rest goes.
        check(
            r"ALTER USER app IDENTIFIED BY 'it\'s, a secret'",
            MySql,
            "secret",
            "ALTER USER app IDENTIFIED BY ***",
        );
        check(
            "ALTER USER app IDENTIFIED BY 'don''t,tell' PASSWORD EXPIRE",
            MySql,
            "tell",
            "ALTER USER app IDENTIFIED BY '***' PASSWORD EXPIRE",
        );
        check(
            r#"CREATE USER x IDENTIFIED BY "dq\"pw,1""#,
            MySql,
            "dq",
            "CREATE USER x IDENTIFIED BY ***",
        );
        check(
            "CREATE USER x IDENTIFIED WITH mysql_native_password BY 'n4tive' REQUIRE SSL",
            MySql,
            "n4tive",
            "CREATE USER x IDENTIFIED WITH mysql_native_password BY '***' REQUIRE SSL",
        );
        check(
            "CREATE USER x IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$hash'",
            MySql,
            "hash",
            "CREATE USER x IDENTIFIED WITH 'caching_sha2_password' AS '***'",
        );
        check(
            "ALTER USER x IDENTIFIED BY 'newpw' REPLACE 'oldpw' RETAIN CURRENT PASSWORD",
            MySql,
            "pw'",
            "ALTER USER x IDENTIFIED BY '***' REPLACE '***' RETAIN CURRENT PASSWORD",
        );
        check(
            "GRANT ALL ON *.* TO bob IDENTIFIED BY PASSWORD '*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9'",
            MySql,
            "6BB4",
            "GRANT ALL ON *.* TO bob IDENTIFIED BY PASSWORD '***'",
        );
        check(
            "CREATE USER x IDENTIFIED VIA ed25519 USING PASSWORD('edpw') OR unix_socket",
            MySql,
            "edpw",
            "CREATE USER x IDENTIFIED VIA ed25519 USING PASSWORD('***') OR unix_socket",
        );
        check(
            "CREATE USER x IDENTIFIED BY RANDOM PASSWORD",
            MySql,
            "%none%",
            "CREATE USER x IDENTIFIED BY RANDOM PASSWORD",
        );
        check(
            "CREATE USER x IDENTIFIED WITH auth_socket",
            MySql,
            "%none%",
            "CREATE USER x IDENTIFIED WITH auth_socket",
        );
    }

    #[test]
    fn mysql_set_password_and_replication() {
        check(
            "SET PASSWORD FOR 'bob'@'%' = 'pa,ss''wd'",
            MySql,
            "wd",
            "SET PASSWORD FOR 'bob'@'%' = '***'",
        );
        check(
            "SET PASSWORD = PASSWORD('old-style')",
            MySql,
            "old-style",
            "SET PASSWORD = PASSWORD('***')",
        );
        check(
            "SET PASSWORD FOR bob = OLD_PASSWORD('oldest')",
            MySql,
            "oldest",
            "SET PASSWORD FOR bob = OLD_PASSWORD('***')",
        );
        check(
            "CHANGE MASTER TO MASTER_HOST='h', MASTER_USER='r', MASTER_PASSWORD='repl,pw', MASTER_PORT=3306",
            MySql,
            "repl",
            "CHANGE MASTER TO MASTER_HOST='h', MASTER_USER='r', MASTER_PASSWORD='***', MASTER_PORT=3306",
        );
        check(
            "CALL mysql.rds_set_external_master('h', 3306, 'repl', 'replpw', 'bin.1', 4, 0)",
            MySql,
            "replpw",
            "CALL mysql.rds_set_external_master('***', 3306, '***', '***', '***', 4, 0)",
        );
        check(
            "UPDATE users SET password = 'h@sh' WHERE id = 3",
            MySql,
            "h@sh",
            "UPDATE users SET password = '***' WHERE id = 3",
        );
    }

    #[test]
    fn postgres_password_forms() {
        check(
            "CREATE ROLE app LOGIN PASSWORD 'pg''s,ecret' VALID UNTIL '2030-01-01'",
            Postgres,
            "ecret",
            "CREATE ROLE app LOGIN PASSWORD '***' VALID UNTIL '2030-01-01'",
        );
        check(
            "ALTER USER app WITH ENCRYPTED PASSWORD 'md5abcdef'",
            Postgres,
            "abcdef",
            "ALTER USER app WITH ENCRYPTED PASSWORD '***'",
        );
        check(
            "alter role app password $$dollar'pw$$",
            Postgres,
            "dollar",
            "alter role app password $$***$$",
        );
        check(
            r"ALTER ROLE app PASSWORD E'esc\'aped'",
            Postgres,
            "aped",
            r"ALTER ROLE app PASSWORD E'***'",
        );
        check(
            "ALTER ROLE app PASSWORD NULL",
            Postgres,
            "%none%",
            "ALTER ROLE app PASSWORD NULL",
        );
        check(
            "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'u', password 'fdwpw')",
            Postgres,
            "fdwpw",
            "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'u', password '***')",
        );
        check(
            "CREATE SUBSCRIPTION s CONNECTION 'host=h dbname=d password=subpw user=u' PUBLICATION p",
            Postgres,
            "subpw",
            "CREATE SUBSCRIPTION s CONNECTION 'host=h dbname=d password=*** user=u' PUBLICATION p",
        );
        check(
            "SELECT aws_commons.create_aws_credentials('AKIAXX', 'sekr3t', '')",
            Postgres,
            "sekr3t",
            "SELECT aws_commons.create_aws_credentials('***', '***', '***')",
        );
    }

    #[test]
    fn fails_closed_on_what_it_cannot_read() {
        // A typo without quotes: the rest is masked.
        check(
            "ALTER ROLE bob PASSWORD hunter2",
            Postgres,
            "hunter2",
            "ALTER ROLE bob PASSWORD ***",
        );
        check(
            "CREATE USER x IDENTIFIED BY hunter2",
            MySql,
            "hunter2",
            "CREATE USER x IDENTIFIED BY ***",
        );
        // Truncated by the audit plugin mid-literal.
        check(
            "CREATE USER x IDENTIFIED BY 'half-a-sec",
            MySql,
            "half",
            "CREATE USER x IDENTIFIED BY '***",
        );
        check(
            "SET PASSWORD = PASSWORD('trunc",
            MySql,
            "trunc",
            "SET PASSWORD = PASSWORD ***",
        );
        // Secrets in comments and stray literals.
        check(
            "SELECT 1 /* password is swordfish */",
            MySql,
            "swordfish",
            "SELECT 1 /*****/",
        );
        check(
            "INSERT INTO notes VALUES ('the secret is 42')",
            MySql,
            "42",
            "INSERT INTO notes VALUES ('***')",
        );
        // Words it does not know after a password keyword.
        check(
            "SELECT password LIKE 'x%' FROM users",
            MySql,
            "x%",
            "SELECT password ***",
        );
    }

    #[test]
    fn harmless_statements_are_unchanged_and_not_copied() {
        for sql in [
            "SELECT 1",
            "DROP TABLE tmp_import",
            "GRANT SELECT ON a.* TO 'r'@'%'",
        ] {
            assert!(matches!(redact(sql, MySql), Cow::Borrowed(_)), "{sql}");
        }
        assert_eq!(
            redact("SELECT password_hash, id FROM users", MySql),
            "SELECT password_hash, id FROM users"
        );
        assert_eq!(
            redact("ALTER USER x PASSWORD HISTORY 5", MySql),
            "ALTER USER x PASSWORD HISTORY 5"
        );
        check(
            "INSERT INTO users (name, password) VALUES ('bob', 'Plain7ext'), ('amy', 'x')",
            MySql,
            "Plain7ext",
            "INSERT INTO users (name, password) VALUES ('***', '***'), ('***', '***')",
        );
    }

    #[test]
    fn uri_passwords_are_masked_wherever_they_are() {
        check(
            "CREATE SUBSCRIPTION s CONNECTION 'postgresql://rep:Fake-pw1@h:5432/db' PUBLICATION p",
            Postgres,
            "Fake",
            "CREATE SUBSCRIPTION s CONNECTION 'postgresql://rep:***@h:5432/db' PUBLICATION p",
        );
        check(
            "SELECT dblink_connect('postgres://u:Fa@ke/pw@[2001:db8::1]:5432/d?sslmode=require')",
            Postgres,
            "ke/pw",
            "SELECT dblink_connect('postgres://u:***@[2001:db8::1]:5432/d?sslmode=require')",
        );
        // A URI password holding a quote or a space: its end is unknown.
        check(
            "SELECT dblink_connect('postgresql://u:it''s fake@h/d')",
            Postgres,
            "fake",
            "SELECT dblink_connect('postgresql://u:***')",
        );
        check(
            "SELECT 1 -- postgresql://u:Fake-pw2@h/d",
            Postgres,
            "Fake",
            "SELECT 1 --***",
        );
        check(
            "SELECT 1 FROM t WHERE x = postgresql://u:Fake-pw3@h/d",
            Postgres,
            "Fake",
            "SELECT 1 FROM t WHERE x = postgresql://u:***@h/d",
        );
        check(
            "SELECT x FROM t WHERE y = mysql://u:Fake pw4@h",
            MySql,
            "pw4",
            "SELECT x FROM t WHERE y = mysql://u: ***",
        );
        check(
            "SELECT 'postgresql://u:12/34 5@h/d'",
            Postgres,
            "34 5",
            "SELECT 'postgresql://u:***'",
        );
        // Found by the fuzzer: an `@` before the space, another after it.
        check(
            "SELECT 'postgresql://rep:@ Fake-pw8@h/d'",
            Postgres,
            "Fake",
            "SELECT 'postgresql://rep:***'",
        );
        check(
            "SELECT 'postgresql://my user:Fake-pw7@h/d'",
            Postgres,
            "Fake",
            "SELECT 'postgresql://***'",
        );
        // Neither a user nor a port is a secret.
        for sql in [
            "SELECT 'https://example.com:8443/a?b=c'",
            "SELECT 'postgresql://rep@h/db'",
            "SELECT 'postgresql://[::1]:5432/db'",
        ] {
            assert_eq!(redact(sql, Postgres), sql);
        }
    }

    #[test]
    fn libpq_passwords_are_masked_in_every_quoting() {
        check(
            "CREATE SUBSCRIPTION s CONNECTION 'host=h password=''fake horse'' user=u' PUBLICATION p",
            Postgres,
            "horse",
            "CREATE SUBSCRIPTION s CONNECTION 'host=h password=''***'' user=u' PUBLICATION p",
        );
        check(
            r"CREATE SUBSCRIPTION s CONNECTION E'host=h password=\'fake horse\' user=u' PUBLICATION p",
            Postgres,
            "horse",
            r"CREATE SUBSCRIPTION s CONNECTION E'host=h password=\'***\' user=u' PUBLICATION p",
        );
        check(
            r"SELECT dblink_connect(E'password=''it\\\'s fake'' dbname=d')",
            Postgres,
            "fake",
            r"SELECT dblink_connect(E'password=''***'' dbname=d')",
        );
        check(
            "SELECT dblink_connect($$host=h password='fake horse' dbname=d$$)",
            Postgres,
            "horse",
            "SELECT dblink_connect($$host=h password='***' dbname=d$$)",
        );
        check(
            r"SELECT dblink_connect('c', 'password=fake\ horse dbname=d')",
            Postgres,
            "horse",
            "SELECT dblink_connect('c', 'password=*** dbname=d')",
        );
        check(
            r"SELECT dblink_connect('host=h password=\'fake horse\' user=u')",
            MySql,
            "horse",
            "SELECT dblink_connect( ***",
        );
        // An escape whose meaning is not decoded: the rest of the literal goes.
        check(
            r"SELECT dblink_connect(E'password=\x27fake horse\x27 dbname=d')",
            Postgres,
            "horse",
            "SELECT dblink_connect(E'***')",
        );
        // Never closed (a truncated statement): the rest goes.
        check(
            "SELECT dblink_connect('password=''fake horse dbname=d')",
            Postgres,
            "horse",
            "SELECT dblink_connect('password=''***')",
        );
        check(
            "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'h', password 'Fake''pw5')",
            Postgres,
            "pw5",
            "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'h', password '***')",
        );
        check(
            r"ALTER USER MAPPING FOR u SERVER s OPTIONS (SET password E'Fake\'pw6')",
            Postgres,
            "pw6",
            "ALTER USER MAPPING FOR u SERVER s OPTIONS (SET password E'***')",
        );
    }

    #[test]
    fn what_the_server_may_read_otherwise_fails_closed() {
        // standard_conforming_strings = off / NO_BACKSLASH_ESCAPES.
        check(
            r"ALTER ROLE x PASSWORD 'it\'s Fake-pw1'",
            Postgres,
            "Fake",
            "ALTER ROLE x PASSWORD ***",
        );
        check(
            r"SELECT 'a\', ' ; ALTER ROLE x PASSWORD 'Fake-pw2'",
            Postgres,
            "Fake",
            "SELECT ***",
        );
        check(
            r"CREATE USER a IDENTIFIED BY 'x\', b IDENTIFIED BY 'Fake-pw3'",
            MySql,
            "Fake",
            "CREATE USER a IDENTIFIED BY ***",
        );
        // An even run of backslashes ends the literal the same either way.
        check(
            r"ALTER ROLE x PASSWORD E'a\\' VALID UNTIL 'infinity'",
            Postgres,
            "%none%",
            "ALTER ROLE x PASSWORD E'***' VALID UNTIL 'infinity'",
        );
        // Nested PostgreSQL comments.
        check(
            "/* /* */ ' */ ALTER ROLE x PASSWORD 'Fake-pw4'",
            Postgres,
            "Fake",
            "/* /* */ ' */ ALTER ROLE x PASSWORD '***'",
        );
        // Escapes that spell a hint word.
        check(
            r"SELECT dblink_connect(E'host=h p\x61ssword=Fake-pw5')",
            Postgres,
            "Fake",
            "SELECT dblink_connect(E'***')",
        );
        check(
            r"SELECT dblink_connect(E'host=h pass\word=Fake-pw6 user=u')",
            Postgres,
            "Fake",
            r"SELECT dblink_connect(E'host=h pass\word=*** user=u')",
        );
        check(
            "SELECT dblink_connect(U&'host=h p!0061ssword=Fake-pw7' UESCAPE '!')",
            Postgres,
            "Fake",
            "SELECT dblink_connect(U&'***' UESCAPE '!')",
        );
    }

    #[test]
    fn password_syntax_with_comments_quotes_and_concatenation() {
        check(
            "SET PASSWORD = 'Fake-new' REPLACE 'Fake-old' RETAIN CURRENT PASSWORD",
            MySql,
            "Fake",
            "SET PASSWORD = '***' REPLACE '***' RETAIN CURRENT PASSWORD",
        );
        check(
            "CREATE USER x IDENTIFIED WITH p /* c */ BY 'Fake-pw1'",
            MySql,
            "Fake",
            "CREATE USER x IDENTIFIED WITH p /* c */ BY '***'",
        );
        check(
            "ALTER USER MAPPING FOR u SERVER s OPTIONS (user 'x', password/**/'Fake-pw2')",
            Postgres,
            "Fake",
            "ALTER USER MAPPING FOR u SERVER s OPTIONS (user 'x', password/**/'***')",
        );
        check(
            "UPDATE users SET \"password\" = 'Fake-pw3'",
            MySql,
            "Fake",
            "UPDATE users SET \"***\" = '***'",
        );
        check(
            "CREATE USER x IDENTIFIED BY 'Fake-' 'pw4'",
            MySql,
            "pw4",
            "CREATE USER x IDENTIFIED BY '***' ***",
        );
        check(
            "UPDATE users SET password = 'x' || 'Fake-pw5'",
            Postgres,
            "Fake",
            "UPDATE users SET password = '***' ***",
        );
        check(
            "SELECT aws_s3.table_import_from_s3('t', '', '', 'b', 'k', 'r', 'AKIAFAKE', 'Fake-pw6', '')",
            Postgres,
            "Fake",
            "SELECT aws_s3.table_import_from_s3('***', '***', '***', '***', '***', '***', '***', '***', '***')",
        );
        // Lexed as the server does: `--'` is no MySQL comment, `$é$` a tag.
        check(
            "UPDATE users SET n = n--'\n', password = 'Fake-pw8' WHERE id = 1",
            MySql,
            "Fake",
            "UPDATE users SET n = n--'\n', password = '***' WHERE id = 1",
        );
        check(
            "SELECT $é$don't$é$; ALTER ROLE app PASSWORD 'Fake-pw9'",
            Postgres,
            "Fake",
            "SELECT $é$don't$é$; ALTER ROLE app PASSWORD '***'",
        );
        check(
            "COPY t FROM PROGRAM 'mysql -uroot -pFake-pw7'",
            Postgres,
            "Fake",
            "COPY t FROM PROGRAM '***'",
        );
    }

    #[test]
    fn computed_compared_and_named_secrets() {
        check(
            "SELECT dblink_connect('host=h password=' || 'Fake-pw1')",
            Postgres,
            "Fake",
            "SELECT dblink_connect('host=h password=' ***",
        );
        check(
            "SELECT dblink_connect(format('host=h password=%s', 'Fake-pw2'))",
            Postgres,
            "Fake",
            "SELECT dblink_connect(format('host=h password=***' ***",
        );
        check(
            "SELECT dblink_connect('host=h password=Fake-' 'pw3')",
            Postgres,
            "pw3",
            "SELECT dblink_connect('host=h password=***' ***",
        );
        // A value that ends inside its literal closes nothing.
        check(
            "SELECT dblink_connect('password=Fake-pw4 host=h' || ' port=5')",
            Postgres,
            "Fake",
            "SELECT dblink_connect('password=*** host=h' || ' port=5')",
        );
        check(
            "INSERT INTO a (email, hash) VALUES ('e', crypt('Fake-pw5', gen_salt('bf')))",
            Postgres,
            "Fake",
            "INSERT INTO a (email, hash) VALUES ('e', crypt('***', gen_salt('***')))",
        );
        check(
            "SELECT set_config('app.secret', 'Fake-pw6', false)",
            Postgres,
            "Fake",
            "SELECT set_config('***', '***', false)",
        );
        check(
            "SELECT * FROM users WHERE 'Fake-pw7' = password",
            MySql,
            "Fake",
            "SELECT * FROM users WHERE '***' = password",
        );
        check("SET @pw := 'Fake-pw8'", MySql, "Fake", "SET @pw := '***'");
        check(
            "UPDATE users SET pw = 'Fake-pw9' WHERE id = 1",
            MySql,
            "Fake",
            "UPDATE users SET pw = '***' WHERE id = 1",
        );
        check(
            "CREATE TABLE \"https://u:Fake-pw10@h\" (a int)",
            Postgres,
            "Fake",
            "CREATE TABLE \"***\" (a int)",
        );
        check(
            "CREATE TABLE `password Fake-pw11` (a int)",
            MySql,
            "Fake",
            "CREATE TABLE `***` (a int)",
        );
        assert_eq!(
            redact_name("public.password_resets"),
            "public.password_resets"
        );
        assert_eq!(redact_name("public.\"https://u:Fake-pw12@h\""), MASK);
    }

    #[test]
    fn keys_and_passphrases() {
        check(
            "ALTER ROLE app SET app.api_key = 'Fake-key1'",
            Postgres,
            "Fake",
            "ALTER ROLE app SET app.api_key = '***'",
        );
        check(
            "SET GLOBAL ssl_key_passphrase = 'Fake-key2'",
            MySql,
            "Fake",
            "SET GLOBAL ssl_key_passphrase = '***'",
        );
        check(
            "INSERT INTO certs (pem) VALUES ('-----BEGIN PRIVATE KEY-----Fake-key3')",
            MySql,
            "Fake",
            "INSERT INTO certs (pem) VALUES ('***')",
        );
    }
}
