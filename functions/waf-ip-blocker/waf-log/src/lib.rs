//! waf-ip-blocker's log path: [`stream`] reads a log object (gzip or plain)
//! as lines, the [`Extractor`] here reads the few fields of each record that
//! detection needs, and [`detect`] counts requests per client IP and window.
//! It is a crate of its own so that the release profile can optimise this
//! hot path for speed and the rest of the function (SDK calls, planning)
//! for size.
//!
//! ## The extractor
//!
//! A WAF record is about 1.3 KB of JSON, most of it request headers, URI and
//! arguments written by whoever sent the request. A full `serde_json` parse of
//! every line costs several times the decompression itself, so this walks the
//! record's real JSON structure instead (located by [`structure`] with vector
//! compares): it reads the keys it needs
//! (`timestamp`, `action`, `terminatingRuleId`, `labels`,
//! `httpRequest.clientIp`, `httpRequest.uri`, and one header when the client IP
//! comes from a header) and skips every other value as a whole, strings
//! included, honouring escapes. A value is only ever taken from its key at its
//! place in the structure, so request text such as a header value
//! `"clientIp":"1.2.3.4"` stays inside the string that holds it.
//!
//! Before walking, the extractor searches for the top-level keys it needs
//! (`"timestamp"`, `"action"`, `"httpRequest"`, ...) with `memmem`, skipping
//! the dozen members in front of them. A hit is taken only where the index
//! says it is a key of the record's own object: its quote opens a string,
//! the string is the key name alone, a `:` follows, and it is one bracket
//! deep inside the line's outermost object. Request text is always inside a
//! string, so its quotes never open one and its brackets never count: a
//! header value `"action":"BLOCK"` is never a hit. What the search cannot
//! settle (a key missing, a value of the wrong kind, a line not ending with
//! `}`) goes to the walk below, which also names what is wrong; except
//! `labels`, which WAF writes only when a rule labelled the request: where
//! the whole line is indexed and holds no backslash (so no key is spelled
//! with an escape), no `"labels"` key found means no labels (behind a known
//! prefix, only the rest is indexed, and the prefix must not hold the text
//! `"labels"` either). Two shapes
//! WAF always writes are taken without a search of their own: a line that
//! starts `{"timestamp":` (the key is the object's first, so nothing can
//! come before it), and, when nothing else of the request is wanted,
//! `"httpRequest":{"clientIp":"` found as one literal: its first quote,
//! checked as above, decides what every later byte of it is, since it holds
//! no backslash. The price:
//! a line broken by its writer between members before the last field (a
//! missing comma, say) now counts instead of being reported as malformed,
//! the same trade as stopping early below; request text cannot cause it.
//! Likewise a key the writer put twice in one object is read where it is
//! first met (serde_json's `Value` keeps the last one).
//!
//! A record that starts `{"timestamp":` and whose bytes from the end of its
//! timestamp to the end of its first `"httpRequest":{"clientIp":"` equal
//! those of a record read before does not have them indexed: the structure
//! of equal bytes, read from the same state, is the same ([`prefix`]), so
//! the action and terminating rule lie where they lay there. When nothing
//! of the request but the client IP is wanted (the function's default
//! settings), such a record is not indexed at all (a client IP with a
//! backslash is still read with the index); otherwise only the rest of the
//! line is, from the client IP's opening quote, two brackets deep. Where
//! the header is wanted and that rest holds no backslash, not even that: every
//! quote in it then opens or closes a string, so only the quotes are
//! indexed, and the request and the record's members after it are read in
//! order, the headers element by element, up to the labels. No key is
//! searched for there, so no bracket depth is needed. Members in WAF's
//! shape (`,"key":"value"`, header and label elements) take their quotes in
//! turn from the bits at hand; anything else (a container to step over, a
//! key with an escape, a backslash found after all) sends the record back
//! to the index.
//!
//! The walk stops as soon as every field the configuration needs ([`Wanted`])
//! has been read: WAF writes the record's fields first and the bulk (headers,
//! arguments, labels) after them, so most of a line is never looked at. What
//! was walked up to that point was walked as JSON, and the rest is never
//! interpreted, so stopping early cannot turn request text into a field. A
//! line cut short is still malformed (a record ends with its brace); the
//! price is that other damage after the last field needed (a bracket lost in
//! the middle of the headers) is no longer noticed: such a record counts
//! instead of being reported as malformed. Only the object's writer can
//! produce such a line; request text cannot.

pub mod detect;
mod prefix;
pub mod stream;
mod structure;

use std::borrow::Cow;

use memchr::memmem::Finder;

use prefix::Prefixes;
use structure::{Quotes, Structure};

/// Why a line is not a usable WAF record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    NotAnObject,
    Truncated,
    Unexpected(u8),
    BadString,
    BadTimestamp,
    MissingTimestamp,
    MissingClientIp,
    MissingAction,
    TrailingData,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAnObject => f.write_str("not a JSON object"),
            Self::Truncated => f.write_str("truncated JSON"),
            Self::Unexpected(b) => write!(f, "unexpected character {:?}", *b as char),
            Self::BadString => f.write_str("invalid string escape"),
            Self::BadTimestamp => f.write_str("timestamp is not a whole number of milliseconds"),
            Self::MissingTimestamp => f.write_str("no timestamp"),
            Self::MissingClientIp => f.write_str("no httpRequest.clientIp"),
            Self::MissingAction => f.write_str("no action"),
            Self::TrailingData => f.write_str("data after the JSON object"),
        }
    }
}

/// A JSON string as it appears in the line, between its quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawStr<'a> {
    raw: &'a [u8],
    escaped: bool,
}

impl<'a> RawStr<'a> {
    /// The decoded text; borrowed unless the string holds escapes.
    pub fn text(&self) -> Cow<'a, str> {
        if !self.escaped {
            // `from_utf8` checks ASCII a word at a time, where the lossy
            // decoder goes byte by byte: a URI and a header value a line.
            return match std::str::from_utf8(self.raw) {
                Ok(text) => Cow::Borrowed(text),
                Err(_) => String::from_utf8_lossy(self.raw),
            };
        }
        let mut quoted = Vec::with_capacity(self.raw.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(self.raw);
        quoted.push(b'"');
        // Escapes are rare in the fields read here, so the exact decoder runs
        // only for them.
        match serde_json::from_slice::<String>(&quoted) {
            Ok(s) => Cow::Owned(s),
            Err(_) => String::from_utf8_lossy(self.raw),
        }
    }

    /// Whether the decoded text equals `want` (ASCII).
    pub fn is(&self, want: &str) -> bool {
        if self.escaped {
            self.text() == want
        } else {
            self.raw == want.as_bytes()
        }
    }

    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// A key's name as the bytes it decodes to: WAF writes keys without
    /// escapes, so this borrows, but a key spelled with one (`"n\u0061me"`)
    /// is still the key serde_json reads.
    fn name(&self) -> Cow<'a, [u8]> {
        if self.escaped {
            Cow::Owned(self.text().into_owned().into_bytes())
        } else {
            Cow::Borrowed(self.raw)
        }
    }
}

/// The fields of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields<'a> {
    pub timestamp_ms: i64,
    pub action: RawStr<'a>,
    pub terminating_rule_id: Option<RawStr<'a>>,
    pub client_ip: RawStr<'a>,
    pub uri: Option<RawStr<'a>>,
    /// The value of the configured header (the last one when repeated).
    pub header: Option<RawStr<'a>>,
}

/// The optional fields a configuration reads. One not wanted is still read
/// if the walk meets it before it stops, but the walk does not go on to
/// find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    pub terminating_rule_id: bool,
    pub uri: bool,
    pub labels: bool,
}

impl Wanted {
    pub const ALL: Self = Self {
        terminating_rule_id: true,
        uri: true,
        labels: true,
    };
}

/// Reads records; holds the header wanted and a reused label buffer.
#[derive(Debug, Clone)]
pub struct Extractor {
    header: Option<Vec<u8>>,
    wanted: Wanted,
    labels: Vec<(usize, usize, bool)>,
    structure: Structure,
    keys: Keys,
    prefixes: Prefixes,
}

/// How WAF starts a record.
const FIRST_MEMBER: &[u8] = br#"{"timestamp":"#;

/// The top-level keys searched for, quotes included, so a hit is the whole
/// string and not the start of a longer one.
#[derive(Debug, Clone)]
struct Keys {
    timestamp: Finder<'static>,
    action: Finder<'static>,
    terminating_rule_id: Finder<'static>,
    http_request: Finder<'static>,
    labels: Finder<'static>,
    /// `httpRequest` as WAF writes it, up to the client IP's opening quote.
    http_request_client_ip: Finder<'static>,
}

impl Keys {
    fn new() -> Self {
        Self {
            timestamp: Finder::new(br#""timestamp""#),
            action: Finder::new(br#""action""#),
            terminating_rule_id: Finder::new(br#""terminatingRuleId""#),
            http_request: Finder::new(br#""httpRequest""#),
            labels: Finder::new(br#""labels""#),
            http_request_client_ip: Finder::new(br#""httpRequest":{"clientIp":""#),
        }
    }
}

impl Default for Extractor {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Extractor {
    /// `header`: the request header whose value is wanted (any case).
    /// Every optional field is wanted.
    pub fn new(header: Option<&str>) -> Self {
        Self::reading(header, Wanted::ALL)
    }

    /// Reads `wanted`, and `header` (any case) when given.
    pub fn reading(header: Option<&str>, wanted: Wanted) -> Self {
        Self {
            header: header.map(|h| h.as_bytes().to_ascii_lowercase()),
            wanted,
            labels: Vec::new(),
            structure: Structure::new(),
            keys: Keys::new(),
            prefixes: Prefixes::default(),
        }
    }

    /// The fields of `line`, or why it is not a WAF record.
    pub fn extract<'a>(&mut self, line: &'a [u8]) -> Result<Fields<'a>, Malformed> {
        self.labels.clear();
        self.structure.start(line.len());
        if let Some(fields) = self.search(line) {
            return Ok(fields);
        }
        // Anything the search could not settle, a malformed line above all,
        // is walked member by member, which names what is wrong. The index
        // built so far is the same line's and is reused, unless it was
        // built of the request alone.
        self.labels.clear();
        if self.structure.is_of_rest() {
            self.structure.start(line.len());
        }
        self.walk(line)
    }

    /// The fields of a well-formed record, found by searching for their keys
    /// instead of walking every member before them: in a WAF record about
    /// fifteen members come before `httpRequest`, and stepping through
    /// each cost as much as half the decompression.
    ///
    /// A hit counts only where the index says it is a key of the record
    /// itself: its quote opens a string (so it is not text inside a header
    /// value, a URI or arguments, all of which are strings), the string is
    /// the key name alone, a `:` follows, and it sits one bracket deep
    /// inside the line's outermost object. `httpRequest` and `labels` are
    /// then read by the same member walk as [`Self::walk`], from their own
    /// opening bracket; except that when only the client IP is wanted of
    /// the request, `"httpRequest":{"clientIp":"` as WAF writes it is found
    /// as one literal ([`Cursor::literal`]) and nothing more of the request
    /// is read. A record whose prefix is known is read from it instead
    /// ([`prefix`], [`Self::request_after`]).
    ///
    /// `None` when a key is missing (but `labels`, see the crate's doc), a
    /// value is not what it should be, or the line does not end as a record
    /// ends: the walk then decides.
    fn search<'a>(&mut self, line: &'a [u8]) -> Option<Fields<'a>> {
        let wanted = self.wanted;
        let (timestamp_ms, after_timestamp, first_member) = self.timestamp(line)?;
        if first_member {
            if self.header.is_none() && !wanted.uri && !wanted.labels {
                if let Some(fields) = self.prefixes.fields(line, after_timestamp, timestamp_ms) {
                    return Some(fields);
                }
            } else if let Some((end, known)) = self.prefixes.known(line, after_timestamp) {
                return self.request_after(line, end, known, timestamp_ms);
            }
        }
        // The first `"httpRequest":{"clientIp":"` after the timestamp, found
        // once: the end of the bytes a prefix covers when the timestamp came
        // first (see [`prefix`]), and where the literal read below starts.
        let literal = &self.keys.http_request_client_ip;
        let first_literal = literal
            .find(&line[after_timestamp..])
            .map(|at| after_timestamp + at);
        let prefix = first_literal
            .filter(|_| first_member)
            .map(|at| after_timestamp..at + literal.needle().len());
        if wanted.labels {
            // WAF writes `labels` last, so the whole line will be indexed:
            // one call does it, instead of one a block as the reads reach
            // further.
            self.structure.index_all(line);
        }
        let header = self.header.as_deref();
        let keys = &self.keys;
        let mut c = Cursor::new(line, after_timestamp, &mut self.structure);
        // When the client IP is all that is wanted of `httpRequest`, and WAF
        // wrote it first there, one search finds key, object and key; and
        // done before the members in front of it, it indexes the line up to
        // there in one go. Otherwise the request's members are walked.
        let client_ip = if header.is_none() && !wanted.uri {
            first_literal
                .and_then(|first| c.literal(literal, first))
                .and_then(|value| {
                    c.i = value;
                    let client_ip = c.string().ok()?;
                    Some((client_ip, c.i))
                })
        } else {
            None
        };
        c.i = after_timestamp;
        let terminating_rule_id = if wanted.terminating_rule_id {
            c.i = c.member(&keys.terminating_rule_id, c.i)?;
            Some(c.string().ok()?)
        } else {
            None
        };
        c.i = c.member(&keys.action, c.i)?;
        let action = c.string().ok()?;
        // Where the request's first key is the record's own, its prefix can
        // be kept: found as one literal, or checked here. (A literal read
        // may have passed over the first hit for a later one; `remember`
        // then refuses the prefix, whose end is not the client IP's start.)
        let proven = match client_ip {
            Some(_) => true,
            None => {
                first_literal.is_some_and(|at| c.structure.opening_quote_depth(line, at) == Some(1))
            }
        };
        let request = match client_ip {
            Some((client_ip, end)) => {
                c.i = end;
                Request {
                    client_ip: Some(client_ip),
                    ..Request::default()
                }
            }
            None => {
                c.i = c.member(&keys.http_request, c.i)?;
                c.http_request(header, wanted.uri, true).ok()?.0
            }
        };
        if !request.complete(header.is_some(), wanted.uri) {
            return None;
        }
        if wanted.labels {
            c.labels_member(&keys.labels, &mut self.labels, false)?;
        }
        let fields = Fields {
            timestamp_ms,
            action,
            terminating_rule_id,
            client_ip: request.client_ip?,
            uri: request.uri,
            header: request.header,
        };
        if let Some(prefix) = prefix
            && proven
        {
            self.prefixes.remember(line, prefix, &fields);
        }
        Some(fields)
    }

    /// The timestamp of a line that starts and ends as a record does, where
    /// it ends, and whether it is the first member, as WAF writes it.
    fn timestamp(&mut self, line: &[u8]) -> Option<(i64, usize, bool)> {
        let mut c = Cursor::new(line, 0, &mut self.structure);
        c.ws();
        if c.peek() != Some(b'{') || line.trim_ascii_end().last() != Some(&b'}') {
            return None;
        }
        // WAF writes `timestamp` first. There the key needs neither a search
        // nor the index: nothing but the object's own brace comes before it.
        let first_member = line.starts_with(FIRST_MEMBER);
        c.i = if first_member {
            FIRST_MEMBER.len()
        } else {
            c.member(&self.keys.timestamp, c.i)?
        };
        let timestamp_ms = c.integer().ok()?;
        Some((timestamp_ms, c.i, first_member))
    }

    /// The fields of a record whose prefix is known, reading the request
    /// from its client IP, at `client_ip`, on: only the rest of the line is
    /// indexed, from the client IP's opening quote, two brackets deep, where
    /// the known prefix leaves it.
    fn request_after<'a>(
        &mut self,
        line: &'a [u8],
        client_ip: usize,
        known: prefix::Known<'a>,
        timestamp_ms: i64,
    ) -> Option<Fields<'a>> {
        // Read in order, the request's headers are walked element by
        // element anyway; without them wanted, a walk in order would have
        // to step over the array, which takes the brackets' index.
        if self.header.is_some() {
            if let Some(fields) = self.request_after_in_order(line, client_ip, known, timestamp_ms)
            {
                return Some(fields);
            }
            self.labels.clear();
        }
        let wanted = self.wanted;
        let header = self.header.as_deref();
        let origin = client_ip - 1;
        let rest = &line[origin..];
        self.structure.start_inside(rest.len(), 2);
        if wanted.labels {
            self.structure.index_all(rest);
        }
        let mut c = Cursor {
            b: rest,
            i: 0,
            origin,
            structure: &mut self.structure,
        };
        let request = c.http_request_from_client_ip(header, wanted.uri).ok()?;
        if !request.complete(header.is_some(), wanted.uri) {
            return None;
        }
        if wanted.labels {
            c.labels_member(&self.keys.labels, &mut self.labels, known.labels_text)?;
        }
        Some(Fields {
            timestamp_ms,
            action: known.action,
            terminating_rule_id: known.terminating_rule_id,
            client_ip: request.client_ip?,
            uri: request.uri,
            header: request.header,
        })
    }

    /// [`Self::request_after`] for a rest of the line without backslashes,
    /// read in order with only its quotes indexed ([`Structure::start_quotes`]):
    /// the request's members, then the record's after it, up to its labels
    /// or its end. No key is searched for, so no bracket depth is needed:
    /// every key read is one the walk reached at the record's own level.
    /// `None` for anything else (a backslash, a container to step over, a
    /// key with an escape, no labels after the request where the prefix
    /// holds the key's text): the indexed read decides.
    fn request_after_in_order<'a>(
        &mut self,
        line: &'a [u8],
        client_ip: usize,
        known: prefix::Known<'a>,
        timestamp_ms: i64,
    ) -> Option<Fields<'a>> {
        let wanted = self.wanted;
        let header = self.header.as_deref();
        let origin = client_ip - 1;
        let rest = &line[origin..];
        self.structure.start_quotes(rest.len());
        if wanted.labels {
            // WAF writes `labels` last: the whole rest is read. A backslash
            // in it (a browser's `sec-ch-ua` has them) is known before any
            // walk.
            self.structure.index_all(rest);
            if self.structure.has_backslash() {
                return None;
            }
        }
        let mut c = Cursor {
            b: rest,
            i: 0,
            origin,
            structure: &mut self.structure,
        };
        let request = match c.plain_request(header, wanted.uri) {
            Some(request) => request,
            None => {
                c.i = 0;
                c.http_request_from_client_ip(header, wanted.uri).ok()?
            }
        };
        if !request.complete(header.is_some(), wanted.uri) {
            return None;
        }
        if wanted.labels {
            // Past the request's object, the record's members follow.
            c.rest_of_plain_object()?;
            let mut found = false;
            // As WAF writes it, `labels` comes right after the request.
            const LABELS: &[u8] = br#","labels":["#;
            if c.b[c.i..].starts_with(LABELS) {
                c.i += LABELS.len() - 1;
                c.labels(&mut self.labels).ok()?;
                found = true;
            }
            while !found && c.another_member().ok()? {
                let key = c.string().ok()?;
                c.expect(b':').ok()?;
                c.ws();
                if &*key.name() == b"labels" {
                    c.labels(&mut self.labels).ok()?;
                    found = true;
                    break;
                }
                c.skip_value().ok()?;
            }
            // A record without labels here has none in front of its
            // request either, unless the prefix holds the key's text.
            if !found && known.labels_text {
                return None;
            }
        }
        // A quote after a backslash may be text: the walk is trusted only
        // when none was indexed.
        if c.structure.has_backslash() {
            return None;
        }
        Some(Fields {
            timestamp_ms,
            action: known.action,
            terminating_rule_id: known.terminating_rule_id,
            client_ip: request.client_ip?,
            uri: request.uri,
            header: request.header,
        })
    }

    /// The fields of `line` by walking its members in order, stopping once
    /// the wanted ones are read.
    fn walk<'a>(&mut self, line: &'a [u8]) -> Result<Fields<'a>, Malformed> {
        let wanted = self.wanted;
        let header = self.header.as_deref();
        let labels = &mut self.labels;
        let mut c = Cursor::new(line, 0, &mut self.structure);
        c.ws();
        if c.peek() != Some(b'{') {
            return Err(Malformed::NotAnObject);
        }
        c.i += 1;
        let mut timestamp = None;
        let mut action = None;
        let mut rule = None;
        let mut request = Request::default();
        let mut labels_read = false;
        let stopped = c.members(|c, key| {
            match &*key.name() {
                b"timestamp" => timestamp = Some(c.integer()?),
                b"action" => action = Some(c.string()?),
                b"terminatingRuleId" => rule = Some(c.string()?),
                b"httpRequest" => {
                    let others_read = timestamp.is_some()
                        && action.is_some()
                        && (rule.is_some() || !wanted.terminating_rule_id)
                        && (labels_read || !wanted.labels);
                    let step;
                    (request, step) = c.http_request(header, wanted.uri, others_read)?;
                    if step == Step::Stop {
                        return Ok(Step::Stop);
                    }
                }
                b"labels" => {
                    c.labels(labels)?;
                    labels_read = true;
                }
                _ => c.skip_value()?,
            }
            let done = timestamp.is_some()
                && action.is_some()
                && (rule.is_some() || !wanted.terminating_rule_id)
                && (labels_read || !wanted.labels)
                && request.complete(header.is_some(), wanted.uri);
            Ok(if done { Step::Stop } else { Step::Next })
        })?;
        if stopped == Step::Next {
            c.ws();
            if c.i != line.len() {
                return Err(Malformed::TrailingData);
            }
        } else if line.trim_ascii_end().last() != Some(&b'}') {
            // The rest is not walked, but a record cut short (a damaged
            // object, a partial last line) still must not count: a whole
            // record ends with its object's brace.
            return Err(Malformed::Truncated);
        }
        Ok(Fields {
            timestamp_ms: timestamp.ok_or(Malformed::MissingTimestamp)?,
            action: action.ok_or(Malformed::MissingAction)?,
            terminating_rule_id: rule,
            client_ip: request.client_ip.ok_or(Malformed::MissingClientIp)?,
            uri: request.uri,
            header: request.header,
        })
    }

    /// The label names of the last extracted line.
    pub fn labels<'s, 'a: 's>(&'s self, line: &'a [u8]) -> impl Iterator<Item = RawStr<'a>> + 's {
        self.labels
            .iter()
            .map(move |&(start, end, escaped)| RawStr {
                raw: &line[start..end],
                escaped,
            })
    }
}

#[derive(Default)]
struct Request<'a> {
    client_ip: Option<RawStr<'a>>,
    uri: Option<RawStr<'a>>,
    header: Option<RawStr<'a>>,
    /// The whole `headers` array was walked, so `header` is the last one.
    headers_read: bool,
}

impl Request<'_> {
    fn complete(&self, header: bool, uri: bool) -> bool {
        self.client_ip.is_some() && (self.uri.is_some() || !uri) && (self.headers_read || !header)
    }
}

/// Whether a walk through an object's members goes on or stops, leaving the
/// rest of the line unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Next,
    Stop,
}

struct Cursor<'a, 's> {
    b: &'a [u8],
    i: usize,
    /// Where `b` starts in the line: the labels are kept as the line's
    /// ranges.
    origin: usize,
    structure: &'s mut Structure,
}

impl<'a, 's> Cursor<'a, 's> {
    /// A cursor at `i` in a whole line.
    fn new(b: &'a [u8], i: usize, structure: &'s mut Structure) -> Self {
        Self {
            b,
            i,
            origin: 0,
            structure,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Where the value of the outermost object's member named by `key` (a
    /// quoted key name) starts: the first hit that is a key of that object,
    /// see [`Extractor::search`].
    ///
    /// The search starts at `after`, where the previous key was found: WAF
    /// writes its members in one order, so the prefix is not searched again,
    /// and only a key in front of `after` costs a second search from the
    /// start of the bytes the cursor reads.
    fn member(&mut self, key: &Finder<'_>, after: usize) -> Option<usize> {
        self.member_from(key, after)
            .or_else(|| self.member_from(key, 0))
    }

    fn member_from(&mut self, key: &Finder<'_>, mut from: usize) -> Option<usize> {
        loop {
            let at = from + key.find(&self.b[from..])?;
            from = at + 1;
            // The key name holds no backslash or quote, so the quote that
            // ends the hit is a real one and closes the string opened at
            // `at`.
            if self.structure.opening_quote_depth(self.b, at) != Some(1) {
                continue;
            }
            self.i = at + key.needle().len();
            self.ws();
            if self.peek() == Some(b':') {
                self.i += 1;
                self.ws();
                return Some(self.i);
            }
        }
    }

    /// Where the last quote of `literal` is, for the first hit, from
    /// `first` (a hit already found) on, whose first quote opens a key of
    /// the record itself (as in [`Self::member_from`]). `literal` must be
    /// JSON without whitespace or backslashes, starting with a key: then
    /// that first quote decides what every later byte of the hit is, so the
    /// hit's structure is the one it reads as, and no request text can pose
    /// as it.
    fn literal(&mut self, literal: &Finder<'_>, first: usize) -> Option<usize> {
        let mut at = first;
        loop {
            if self.structure.opening_quote_depth(self.b, at) == Some(1) {
                return Some(at + literal.needle().len() - 1);
            }
            at += 1 + literal.find(&self.b[at + 1..])?;
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.i += 1;
        }
    }

    fn expect(&mut self, want: u8) -> Result<(), Malformed> {
        self.ws();
        match self.peek() {
            Some(b) if b == want => {
                self.i += 1;
                Ok(())
            }
            Some(b) => Err(Malformed::Unexpected(b)),
            None => Err(Malformed::Truncated),
        }
    }

    /// The members of an object whose `{` was consumed; `f` must consume
    /// each value, and may stop the walk after it.
    fn members(
        &mut self,
        mut f: impl FnMut(&mut Self, RawStr<'a>) -> Result<Step, Malformed>,
    ) -> Result<Step, Malformed> {
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Step::Next);
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            self.ws();
            if f(self, key)? == Step::Stop {
                return Ok(Step::Stop);
            }
            if !self.another_member()? {
                return Ok(Step::Next);
            }
        }
    }

    /// After a member's value: whether another member follows its `,`, or
    /// the object's `}` ends it (either consumed).
    fn another_member(&mut self) -> Result<bool, Malformed> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                self.ws();
                Ok(true)
            }
            Some(b'}') => {
                self.i += 1;
                Ok(false)
            }
            Some(b) => Err(Malformed::Unexpected(b)),
            None => Err(Malformed::Truncated),
        }
    }

    /// The elements of an array whose `[` was consumed.
    fn elements(
        &mut self,
        mut f: impl FnMut(&mut Self) -> Result<(), Malformed>,
    ) -> Result<(), Malformed> {
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            f(self)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b) => return Err(Malformed::Unexpected(b)),
                None => return Err(Malformed::Truncated),
            }
        }
    }

    fn string(&mut self) -> Result<RawStr<'a>, Malformed> {
        self.ws();
        match self.peek() {
            Some(b'"') => self.i += 1,
            Some(b) => return Err(Malformed::Unexpected(b)),
            None => return Err(Malformed::Truncated),
        }
        let start = self.i;
        let end = self
            .structure
            .next_quote(self.b, start)
            .ok_or(Malformed::Truncated)?;
        self.i = end + 1;
        let raw = &self.b[start..end];
        Ok(RawStr {
            raw,
            escaped: self.structure.holds_backslash(raw),
        })
    }

    fn integer(&mut self) -> Result<i64, Malformed> {
        let start = self.i;
        let mut value: i64 = 0;
        if let Some(eight) = self.b.get(start..start + 8).and_then(eight_digits) {
            value = eight;
            self.i += 8;
        }
        // 18 digits cannot overflow an i64, so a timestamp (13) is read
        // without a check per digit; a longer number is read again, checked.
        while let Some(&d @ b'0'..=b'9') = self.b.get(self.i) {
            if self.i - start == 18 {
                value = self.long_integer(start)?;
                break;
            }
            value = value * 10 + i64::from(d - b'0');
            self.i += 1;
        }
        self.number_ends(start)?;
        Ok(value)
    }

    /// [`Self::integer`] for a number of more than 18 digits.
    #[cold]
    fn long_integer(&mut self, start: usize) -> Result<i64, Malformed> {
        self.i = start;
        let mut value: i64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(d - b'0')))
                .ok_or(Malformed::BadTimestamp)?;
            self.i += 1;
        }
        Ok(value)
    }

    /// Checks that the digits from `start` to the cursor are a whole JSON
    /// integer member value: some digits, no leading zero, and then (after
    /// any whitespace) the `,` or `}` that ends a member. The key search
    /// reads no further than the number, so this is where `0x10`, `1e3`
    /// or `017` would otherwise be taken for a timestamp.
    fn number_ends(&self, start: usize) -> Result<(), Malformed> {
        let digits = self.i - start;
        if digits > 1 && self.b[start] == b'0' {
            return Err(Malformed::BadTimestamp);
        }
        let mut next = self.i;
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.b.get(next) {
            next += 1;
        }
        match self.b.get(next) {
            None => Err(Malformed::Truncated),
            Some(b',' | b'}') if digits > 0 => Ok(()),
            Some(_) => Err(Malformed::BadTimestamp),
        }
    }

    /// Skips one value of any kind.
    fn skip_value(&mut self) -> Result<(), Malformed> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{' | b'[') => self.skip_container(),
            Some(_) => {
                let start = self.i;
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    if matches!(b, b'"' | b'{' | b'[' | b':') {
                        return Err(Malformed::Unexpected(b));
                    }
                    self.i += 1;
                }
                if self.i == start {
                    Err(Malformed::Truncated)
                } else {
                    Ok(())
                }
            }
            None => Err(Malformed::Truncated),
        }
    }

    /// Skips a whole object or array; brackets and quotes inside its strings
    /// do not count.
    fn skip_container(&mut self) -> Result<(), Malformed> {
        self.i = self
            .structure
            .container_end(self.b, self.i)
            .ok_or(Malformed::Truncated)?;
        Ok(())
    }

    /// `httpRequest`'s fields; stops the walk once they are read if
    /// `others_read` says nothing outside it is still wanted.
    fn http_request(
        &mut self,
        header: Option<&[u8]>,
        uri: bool,
        others_read: bool,
    ) -> Result<(Request<'a>, Step), Malformed> {
        let mut request = Request::default();
        if self.peek() != Some(b'{') {
            return self.skip_value().map(|()| (request, Step::Next));
        }
        self.i += 1;
        let step =
            self.members(|c, key| c.request_member(key, &mut request, header, uri, others_read))?;
        Ok((request, step))
    }

    /// `httpRequest`'s fields from the value of its first member, the
    /// client IP, at the cursor, on; stops once they are read.
    fn http_request_from_client_ip(
        &mut self,
        header: Option<&[u8]>,
        uri: bool,
    ) -> Result<Request<'a>, Malformed> {
        let mut request = Request {
            client_ip: Some(self.string()?),
            ..Request::default()
        };
        if request.complete(header.is_some(), uri) || !self.another_member()? {
            return Ok(request);
        }
        self.members(|c, key| c.request_member(key, &mut request, header, uri, true))?;
        Ok(request)
    }

    /// `httpRequest`'s fields from its client IP's opening quote, at the
    /// cursor, on, up to the member that completes them, when those members
    /// are written as WAF writes them: `,"key":"value"`, and the headers
    /// array in its shape ([`Self::plain_headers`]). The quotes are taken
    /// in turn. `None` for anything else, with the cursor anywhere: the
    /// member walk decides.
    fn plain_request(&mut self, header: Option<&[u8]>, uri: bool) -> Option<Request<'a>> {
        let b = self.b;
        let mut quotes = self.structure.quotes_from(b, self.i)?;
        let next = |s: &mut Structure, quotes: &mut _| s.pop_quote(b, quotes);
        if next(self.structure, &mut quotes)? != self.i {
            return None;
        }
        let end = next(self.structure, &mut quotes)?;
        let mut request = Request {
            client_ip: Some(self.raw_str(self.i + 1, end)),
            ..Request::default()
        };
        self.i = end + 1;
        while !request.complete(header.is_some(), uri) {
            if b.get(self.i) != Some(&b',') || next(self.structure, &mut quotes)? != self.i + 1 {
                return None;
            }
            let key_end = next(self.structure, &mut quotes)?;
            let key = self.raw_str(self.i + 2, key_end);
            if key.escaped || b.get(key_end + 1) != Some(&b':') {
                return None;
            }
            let value = key_end + 2;
            match (b.get(value), header) {
                (Some(b'"'), _) => {
                    // Not a backslash, but a colon right before it.
                    let open = next(self.structure, &mut quotes)?;
                    debug_assert_eq!(open, value);
                    let end = next(self.structure, &mut quotes)?;
                    let text = self.raw_str(value + 1, end);
                    match key.raw {
                        b"uri" => request.uri = Some(text),
                        b"clientIp" => request.client_ip = Some(text),
                        _ => {}
                    }
                    self.i = end + 1;
                }
                (Some(b'['), Some(wanted)) if key.raw == b"headers" => {
                    self.i = value;
                    if let Some(found) = self.plain_headers(wanted)? {
                        request.header = Some(found);
                    }
                    request.headers_read = true;
                    quotes = self.structure.quotes_from(b, self.i)?;
                }
                _ => return None,
            }
        }
        Some(request)
    }

    /// The string between the quotes before `start` and at `end`.
    fn raw_str(&self, start: usize, end: usize) -> RawStr<'a> {
        let raw = &self.b[start..end];
        RawStr {
            raw,
            escaped: self.structure.holds_backslash(raw),
        }
    }

    /// Past the closing brace of the object whose member value the cursor
    /// has just read, when every member left is a string as WAF writes
    /// them, `,"key":"value"`: the members of `httpRequest` after its URI.
    /// `None` for anything else.
    fn rest_of_plain_object(&mut self) -> Option<()> {
        let b = self.b;
        let s = &mut *self.structure;
        let mut quotes = s.quotes_from(b, self.i)?;
        loop {
            match b.get(self.i) {
                Some(b'}') => {
                    self.i += 1;
                    return Some(());
                }
                Some(b',') => {}
                _ => return None,
            }
            let mut next = || s.pop_quote(b, &mut quotes);
            if next()? != self.i + 1 {
                return None;
            }
            let key_end = next()?;
            if b.get(key_end + 1..key_end + 3) != Some(b":\"") {
                return None;
            }
            let value_start = next()?;
            debug_assert_eq!(value_start, key_end + 2);
            self.i = next()? + 1;
        }
    }

    /// One member of `httpRequest`, its value read into `request` when it
    /// is one wanted, else skipped.
    fn request_member(
        &mut self,
        key: RawStr<'a>,
        request: &mut Request<'a>,
        header: Option<&[u8]>,
        uri: bool,
        others_read: bool,
    ) -> Result<Step, Malformed> {
        match &*key.name() {
            b"clientIp" => request.client_ip = Some(self.string()?),
            b"uri" => request.uri = Some(self.string()?),
            b"headers" if header.is_some() && self.peek() == Some(b'[') => {
                let wanted = header.unwrap_or_default();
                match self.plain_headers(wanted) {
                    Some(found) => {
                        if found.is_some() {
                            request.header = found;
                        }
                    }
                    None => {
                        self.i += 1;
                        self.elements(|c| {
                            if let Some(value) = c.header(wanted)? {
                                request.header = Some(value);
                            }
                            Ok(())
                        })?;
                    }
                }
                request.headers_read = true;
            }
            _ => self.skip_value()?,
        }
        let done = others_read && request.complete(header.is_some(), uri);
        Ok(if done { Step::Stop } else { Step::Next })
    }

    /// One `{"name": ..., "value": ...}` element; its value when the name is
    /// `wanted` (compared without case).
    fn header(&mut self, wanted: &[u8]) -> Result<Option<RawStr<'a>>, Malformed> {
        if self.peek() != Some(b'{') {
            return self.skip_value().map(|()| None);
        }
        if let Some(found) = self.plain_header(wanted) {
            return Ok(found);
        }
        self.i += 1;
        let mut name = None;
        let mut value = None;
        self.members(|c, key| {
            match &*key.name() {
                b"name" => name = Some(c.string()?),
                b"value" => value = Some(c.string()?),
                _ => c.skip_value()?,
            }
            Ok(Step::Next)
        })?;
        let matches = name.is_some_and(|n| {
            if n.escaped {
                n.text().as_bytes().eq_ignore_ascii_case(wanted)
            } else {
                n.raw.eq_ignore_ascii_case(wanted)
            }
        });
        Ok(if matches { value } else { None })
    }

    /// The value of the last element of the `headers` array at `self.i`
    /// whose name is `wanted`, when every element is written as WAF writes
    /// it ([`Self::plain_header`]) and the array holds nothing else: the
    /// element walk without its generic steps. `None`, with nothing
    /// consumed, for any other array.
    fn plain_headers(&mut self, wanted: &[u8]) -> Option<Option<RawStr<'a>>> {
        let b = self.b;
        let mut found = None;
        self.plain_named_elements(|s, quotes, name, name_end| {
            if !b[name_end..].starts_with(HEADER_VALUE) {
                return None;
            }
            let mut next = || s.pop_quote(b, quotes);
            let literal = (next()?, next()?, next()?);
            debug_assert_eq!(literal, (name_end + 2, name_end + 8, name_end + 10));
            let value_start = name_end + HEADER_VALUE.len();
            let value_end = next()?;
            if header_name_is(s, &b[name..name_end], wanted) {
                let raw = &b[value_start..value_end];
                found = Some(RawStr {
                    raw,
                    escaped: s.holds_backslash(raw),
                });
            }
            Some(value_end + 1)
        })?;
        Some(found)
    }

    /// Walks the array at the cursor when every element is an object
    /// written as WAF writes it, starting `{"name":"`: `element` gets the
    /// name's start and its closing quote (the quotes up to it taken), takes
    /// the element's other quotes, and says where its closing brace must
    /// be. `None`, with nothing consumed, for any other array.
    ///
    /// The quotes are taken in turn from the bits at hand, instead of looked
    /// up from each string's start: a request has a dozen headers, and each
    /// lookup waited on the one before.
    fn plain_named_elements(
        &mut self,
        mut element: impl FnMut(&mut Structure, &mut Quotes, usize, usize) -> Option<usize>,
    ) -> Option<()> {
        let b = self.b;
        let open = self.i;
        if b.get(open + 1) == Some(&b']') {
            self.i = open + 2;
            return Some(());
        }
        let s = &mut *self.structure;
        let mut quotes = s.quotes_from(b, open)?;
        let mut start = open + 1;
        loop {
            if !b.get(start..)?.starts_with(NAMED) {
                return None;
            }
            // Equal bytes put the quotes where they are in the literal: it
            // holds no backslash, nor is there one right before it.
            let mut next = || s.pop_quote(b, &mut quotes);
            let literal = (next()?, next()?, next()?);
            debug_assert_eq!(literal, (start + 1, start + 6, start + 8));
            let name_end = next()?;
            let close = element(s, &mut quotes, start + NAMED.len(), name_end)?;
            if b.get(close) != Some(&b'}') {
                return None;
            }
            match b.get(close + 1) {
                Some(b',') => start = close + 2,
                Some(b']') => {
                    self.i = close + 2;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A header element exactly as WAF writes it, `{"name":"…","value":"…"}`
    /// with no space, read without the member walk: a request has a dozen
    /// of them when a header is wanted. Every quote stepped over is a real
    /// one: the name's closing quote comes from the index, and the literal
    /// `","value":"` after it lies outside any string. `None`, with nothing
    /// consumed, for any other shape.
    fn plain_header(&mut self, wanted: &[u8]) -> Option<Option<RawStr<'a>>> {
        let name_start = self.i + NAMED.len();
        if !self.b[self.i..].starts_with(NAMED) {
            return None;
        }
        let name_end = self.structure.next_quote(self.b, name_start)?;
        if !self.b[name_end..].starts_with(HEADER_VALUE) {
            return None;
        }
        let value_start = name_end + HEADER_VALUE.len();
        let value_end = self.structure.next_quote(self.b, value_start)?;
        if self.b.get(value_end + 1) != Some(&b'}') {
            return None;
        }
        self.i = value_end + 2;
        let name = &self.b[name_start..name_end];
        Some(header_name_is(self.structure, name, wanted).then(|| {
            let raw = &self.b[value_start..value_end];
            RawStr {
                raw,
                escaped: self.structure.holds_backslash(raw),
            }
        }))
    }

    /// The label names of the record's `labels` member, found as
    /// [`Self::member`] finds a key, into `out`; `None` when it is not an
    /// array, or when there is no such member and the cursor's bytes, all
    /// indexed, cannot show that the record has none: a backslash among
    /// them (a key may be spelled with an escape), or `before`, the key's
    /// text in the line in front of them.
    fn labels_member(
        &mut self,
        key: &Finder<'_>,
        out: &mut Vec<(usize, usize, bool)>,
        before: bool,
    ) -> Option<()> {
        let Some(at) = self.member(key, self.i) else {
            // WAF writes `labels` only when a rule labelled the request, so
            // many records have none; walking each whole to be sure cost
            // as much as reading it.
            return (!before && !self.structure.has_backslash()).then_some(());
        };
        self.i = at;
        if self.peek() != Some(b'[') {
            return None;
        }
        self.labels(out).ok()
    }

    fn labels(&mut self, out: &mut Vec<(usize, usize, bool)>) -> Result<(), Malformed> {
        if self.peek() != Some(b'[') {
            return self.skip_value();
        }
        let read = out.len();
        if self.plain_labels(out).is_some() {
            return Ok(());
        }
        out.truncate(read);
        self.i += 1;
        self.elements(|c| {
            if c.peek() != Some(b'{') {
                return c.skip_value();
            }
            c.i += 1;
            c.members(|c, key| {
                if *key.name() == *b"name" {
                    let name = c.string()?;
                    let start = c.origin + name.raw.as_ptr() as usize - c.b.as_ptr() as usize;
                    out.push((start, start + name.raw.len(), name.escaped));
                } else {
                    c.skip_value()?;
                }
                Ok(Step::Next)
            })
            .map(drop)
        })
    }

    /// The label names of the `labels` array at the cursor when every
    /// element is written as WAF writes it, `{"name":"…"}`, into `out`;
    /// `None`, with the cursor where it was, for any other array.
    fn plain_labels(&mut self, out: &mut Vec<(usize, usize, bool)>) -> Option<()> {
        let (b, origin) = (self.b, self.origin);
        self.plain_named_elements(|s, _, name, name_end| {
            let escaped = s.holds_backslash(&b[name..name_end]);
            out.push((origin + name, origin + name_end, escaped));
            Some(name_end + 1)
        })
    }
}

/// How WAF writes a header or label element up to its name, and a header
/// element from the name's closing quote to its value.
const NAMED: &[u8] = br#"{"name":""#;
const HEADER_VALUE: &[u8] = br#"","value":""#;

/// Whether a header's `name`, as the line holds it between its quotes, is
/// `wanted` (in lower case) with ASCII case ignored. Only a name with a
/// backslash can differ from its raw bytes, and most records have none, so
/// most names are compared as they are.
#[inline]
fn header_name_is(structure: &Structure, name: &[u8], wanted: &[u8]) -> bool {
    if structure.holds_backslash(name) {
        let name = RawStr {
            raw: name,
            escaped: true,
        };
        name.text().as_bytes().eq_ignore_ascii_case(wanted)
    } else {
        name.len() == wanted.len() && eq_lowercase(name, wanted)
    }
}

/// Whether `text` equals `lower` (in lower case) with ASCII case ignored,
/// as `eq_ignore_ascii_case`, eight bytes at a time.
fn eq_lowercase(text: &[u8], lower: &[u8]) -> bool {
    /// The word with its ASCII capitals in lower case.
    fn fold(word: u64) -> u64 {
        const ONES: u64 = 0x0101_0101_0101_0101;
        let low = word & (0x7f * ONES);
        // A byte's top bit: at least `A`, and not above `Z`, and ASCII.
        let upper = (low + 0x3f * ONES) & !(low + 0x25 * ONES) & !word & (0x80 * ONES);
        word | upper >> 2
    }
    let word = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8"));
    let len = text.len();
    if len != lower.len() {
        return false;
    }
    if len < 8 {
        return text.eq_ignore_ascii_case(lower);
    }
    // Whole words, and a last one overlapping the one before it.
    (0..len - 8)
        .step_by(8)
        .chain([len - 8])
        .all(|at| fold(word(text, at)) == word(lower, at))
}

/// The value of eight ASCII digits, or `None` if any byte is not one: read
/// as one word (SWAR), since a timestamp has 13 digits and a digit at a
/// time was a tenth of a record's extraction.
fn eight_digits(bytes: &[u8]) -> Option<i64> {
    let word = u64::from_le_bytes(bytes.try_into().ok()?);
    let digits = word.wrapping_sub(0x3030_3030_3030_3030);
    // Each byte is 0x30..=0x39: its high half is 3, and adding 6 to its
    // digit does not carry out of the low half.
    if word & 0xf0f0_f0f0_f0f0_f0f0 != 0x3030_3030_3030_3030
        || digits.wrapping_add(0x0606_0606_0606_0606) & 0xf0f0_f0f0_f0f0_f0f0 != 0
    {
        return None;
    }
    // The first digit is the lowest byte: pairs, then fours, then eight.
    let pairs = (digits.wrapping_mul(10 << 8 | 1) >> 8) & 0x00ff_00ff_00ff_00ff;
    let fours = (pairs.wrapping_mul(100 << 16 | 1) >> 16) & 0x0000_ffff_0000_ffff;
    let eight = fours.wrapping_mul(10_000 << 32 | 1) >> 32;
    Some(eight as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract(line: &str) -> Result<(i64, String, String, Option<String>), Malformed> {
        let mut x = Extractor::new(Some("X-Forwarded-For"));
        let f = x.extract(line.as_bytes())?;
        Ok((
            f.timestamp_ms,
            f.client_ip.text().into_owned(),
            f.action.text().into_owned(),
            f.uri.map(|u| u.text().into_owned()),
        ))
    }

    #[test]
    fn every_sample_record_is_read_as_serde_json_reads_it() {
        let samples = toilkit_tests::workspace::sample("waf-log-records.jsonl");
        let mut x = Extractor::new(Some("x-forwarded-for"));
        let mut n = 0;
        for line in samples.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let f = x.extract(line.as_bytes()).unwrap();
            assert_eq!(f.timestamp_ms, v["timestamp"].as_i64().unwrap());
            assert_eq!(f.action.text(), v["action"].as_str().unwrap());
            assert_eq!(
                f.client_ip.text(),
                v["httpRequest"]["clientIp"].as_str().unwrap()
            );
            assert_eq!(
                f.uri.unwrap().text(),
                v["httpRequest"]["uri"].as_str().unwrap()
            );
            assert_eq!(
                f.terminating_rule_id.unwrap().text(),
                v["terminatingRuleId"].as_str().unwrap()
            );
            let labels: Vec<String> = x
                .labels(line.as_bytes())
                .map(|l| l.text().into_owned())
                .collect();
            let want: Vec<String> = v["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["name"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(labels, want);
            n += 1;
        }
        assert!(n >= 3);
        let xff = samples
            .lines()
            .find(|l| l.contains("x-forwarded-for"))
            .unwrap();
        let f = x.extract(xff.as_bytes()).unwrap();
        assert_eq!(f.header.unwrap().text(), "198.51.100.7, 10.0.0.1");
    }

    /// The key search alone: it must find the record's fields, and read
    /// them as the member walk reads them.
    fn searched<'a>(header: Option<&str>, wanted: Wanted, line: &'a str) -> Fields<'a> {
        let mut x = Extractor::reading(header, wanted);
        x.structure.start(line.len());
        let found = x
            .search(line.as_bytes())
            .unwrap_or_else(|| panic!("the search gave up on {line}"));
        let searched_labels: Vec<_> = x.labels(line.as_bytes()).collect();
        let mut w = Extractor::reading(header, wanted);
        w.structure.start(line.len());
        let walked = w.walk(line.as_bytes()).expect(line);
        // The walk also keeps what it met before stopping; only what is
        // wanted must agree.
        assert_eq!(
            (found.timestamp_ms, found.action, found.client_ip),
            (walked.timestamp_ms, walked.action, walked.client_ip),
            "{line}"
        );
        if wanted.terminating_rule_id {
            assert_eq!(found.terminating_rule_id, walked.terminating_rule_id);
        }
        if wanted.uri {
            assert_eq!(found.uri, walked.uri, "{line}");
        }
        if header.is_some() {
            assert_eq!(found.header, walked.header, "{line}");
        }
        if wanted.labels {
            let walked: Vec<_> = w.labels(line.as_bytes()).collect();
            assert_eq!(searched_labels, walked, "{line}");
        }
        found
    }

    #[test]
    fn the_key_search_takes_only_keys_of_the_record_itself() {
        // Each key first appears where it is not the record's: as text in
        // a string, as a value, nested in a member, in a key's text.
        let line = r#"{"webaclId":"\"timestamp\":1,\"action\":\"BLOCK\"","x":"timestamp","ruleGroupList":[{"action":"COUNT","timestamp":2,"httpRequest":{"clientIp":"6.6.6.6"}}],"\"action\"":"BLOCK","y":{"labels":[{"name":"nested"}],"terminatingRuleId":"nested"},"timestamp":9,"terminatingRuleId":"Default_Action","action":"ALLOW","httpRequest":{"headers":[{"name":"x","value":"\"httpRequest\":{\"clientIp\":\"9.9.9.9\"}"}],"clientIp":"192.0.2.7","uri":"/"},"labels":[{"name":"real"}]}"#;
        serde_json::from_str::<serde_json::Value>(line).expect("valid JSON");
        let f = searched(Some("x"), Wanted::ALL, line);
        assert_eq!(f.timestamp_ms, 9);
        assert_eq!(f.action.text(), "ALLOW");
        assert_eq!(f.terminating_rule_id.unwrap().text(), "Default_Action");
        assert_eq!(f.client_ip.text(), "192.0.2.7");
        let mut x = Extractor::new(None);
        x.extract(line.as_bytes()).unwrap();
        let labels: Vec<_> = x.labels(line.as_bytes()).map(|l| l.text()).collect();
        assert_eq!(labels, ["real"]);
        // Keys after the record's object closed belong to no record.
        let joined =
            r#"{"a":1}{"timestamp":1,"action":"BLOCK","httpRequest":{"clientIp":"192.0.2.1"}}"#;
        let mut x = Extractor::reading(None, NOTHING_OPTIONAL);
        x.structure.start(joined.len());
        assert_eq!(x.search(joined.as_bytes()), None);
        assert_eq!(
            Extractor::reading(None, NOTHING_OPTIONAL).extract(joined.as_bytes()),
            Err(Malformed::TrailingData)
        );
    }

    /// The hostile lines of the tests below are read by the search itself,
    /// not only by the walk it falls back to.
    #[test]
    fn hostile_records_are_read_by_the_key_search() {
        let lines = [
            r#"{"timestamp":1700000000000,"formatVersion":1,"webaclId":"arn","terminatingRuleId":"Default_Action","action":"ALLOW","httpRequest":{"headers":[{"name":"User-Agent","value":"x\",\"clientIp\":\"9.9.9.9\",\"action\":\"BLOCK\"}"},{"name":"Referer","value":"\\\"}],\"clientIp\":\"8.8.8.8"},{"name":"X-Forwarded-For","value":"203.0.113.9"}],"uri":"/a\"clientIp\":\"7.7.7.7\"/{[","args":"timestamp=1&\"timestamp\":5&action=\"COUNT\"]}","clientIp":"192.0.2.44","country":"US","httpMethod":"GET"},"labels":[{"name":"a\"}],\"labels\":[{\"name\":\"evil"}]}"#,
            r#"{"webaclId":"}],{timestamp:1,action:BLOCK","timestamp":9,"action":"ALLOW","httpRequest":{"args":"]}}},{","clientIp":"192.0.2.7","headers":[],"uri":"/"},"terminatingRuleId":"r","labels":[]}"#,
            r#"{"httpRequest":{"clientIp":"192.0.2.7","uri":"/","headers":[{"name":"a","value":"\"}},\"timestamp\":1,\"action\":\"BLOCK\""}]},"labels":[],"timestamp":9,"action":"ALLOW","terminatingRuleId":"r"}"#,
        ];
        for line in lines {
            serde_json::from_str::<serde_json::Value>(line).expect(line);
            for header in [None, Some("x-forwarded-for")] {
                for wanted in [NOTHING_OPTIONAL, Wanted::ALL] {
                    let f = searched(header, wanted, line);
                    assert!(f.client_ip.text().starts_with("192.0.2."), "{line}");
                }
            }
        }
    }

    #[test]
    fn attacker_text_in_headers_uri_and_args_never_becomes_a_field() {
        // Every hostile value below is a legal JSON string as WAF writes it:
        // quotes inside request text are escaped.
        let hostile = r#"{"timestamp":1700000000000,"formatVersion":1,"webaclId":"arn","terminatingRuleId":"Default_Action","action":"ALLOW","httpRequest":{"headers":[{"name":"User-Agent","value":"x\",\"clientIp\":\"9.9.9.9\",\"action\":\"BLOCK\"}"},{"name":"Referer","value":"\\\"}],\"clientIp\":\"8.8.8.8"},{"name":"X-Forwarded-For","value":"203.0.113.9"}],"uri":"/a\"clientIp\":\"7.7.7.7\"/{[","args":"timestamp=1&\"timestamp\":5&action=\"COUNT\"]}","clientIp":"192.0.2.44","country":"US","httpMethod":"GET"},"labels":[{"name":"a\"}],\"labels\":[{\"name\":\"evil"}]}"#;
        serde_json::from_str::<serde_json::Value>(hostile).expect("the hostile line is valid JSON");
        let (ts, ip, action, uri) = extract(hostile).unwrap();
        assert_eq!(ts, 1_700_000_000_000);
        assert_eq!(ip, "192.0.2.44");
        assert_eq!(action, "ALLOW");
        assert_eq!(uri.unwrap(), "/a\"clientIp\":\"7.7.7.7\"/{[");
        let mut x = Extractor::new(None);
        x.extract(hostile.as_bytes()).unwrap();
        let labels: Vec<_> = x
            .labels(hostile.as_bytes())
            .map(|l| l.text().into_owned())
            .collect();
        assert_eq!(labels, ["a\"}],\"labels\":[{\"name\":\"evil"]);
    }

    #[test]
    fn brackets_in_request_text_without_escapes_do_not_end_containers() {
        // No backslash anywhere, so the vector path indexes this line.
        let line = r#"{"timestamp":3,"httpRequest":{"headers":[{"name":"a","value":"}]}],{[[["},{"name":"b","value":"]]]]"}],"uri":"/x]}","args":"[{","clientIp":"192.0.2.1"},"action":"COUNT","labels":[{"name":"l]}"}]}"#;
        serde_json::from_str::<serde_json::Value>(line).expect("valid JSON");
        let (ts, ip, action, uri) = extract(line).unwrap();
        assert_eq!(
            (ts, ip.as_str(), action.as_str()),
            (3, "192.0.2.1", "COUNT")
        );
        assert_eq!(uri.unwrap(), "/x]}");
    }

    /// Random records, their strings drawn from JSON's awkward characters,
    /// serialized by serde_json: the extractor must read every one as
    /// serde_json reads it back, on both the escaped and the unescaped path
    /// and with strings crossing 64-byte blocks.
    #[test]
    fn random_records_are_read_as_serde_json_reads_them() {
        let mut rng = fastrand::Rng::with_seed(2026);
        let awkward = [
            '"', '\\', '{', '}', '[', ']', ':', ',', ' ', 'é', '\u{1}', 'a', 'z',
        ];
        let plain = ['{', '}', '[', ']', ':', ',', ' ', 'é', 'a', 'z', '0'];
        let (mut escaped, mut unescaped) = (0, 0);
        for _ in 0..3_000 {
            let chars: &[char] = if rng.bool() { &awkward } else { &plain };
            let text = |rng: &mut fastrand::Rng| -> String {
                let len = rng.usize(..90);
                (0..len).map(|_| chars[rng.usize(..chars.len())]).collect()
            };
            let mut headers: Vec<serde_json::Value> = (0..rng.usize(..6))
                .map(|_| serde_json::json!({"name": text(&mut rng), "value": text(&mut rng)}))
                .collect();
            let real_ip = text(&mut rng);
            headers.insert(
                rng.usize(..=headers.len()),
                serde_json::json!({"name": "X-Real-IP", "value": real_ip}),
            );
            let (args, client_ip, uri) = (text(&mut rng), text(&mut rng), text(&mut rng));
            // WAF's own order (the client IP first, read by one search) and
            // another (read by the member walk).
            let request = if rng.bool() {
                serde_json::json!({"clientIp": client_ip, "args": args, "headers": headers, "uri": uri})
            } else {
                serde_json::json!({"args": args, "clientIp": client_ip, "headers": headers, "uri": uri})
            };
            let record = serde_json::json!({
                "timestamp": rng.i64(0..i64::MAX),
                "action": text(&mut rng),
                "terminatingRuleId": text(&mut rng),
                "ruleGroupList": [{"ruleGroupId": text(&mut rng), "excludedRules": [text(&mut rng)]}],
                "httpRequest": request,
                "labels": [{"name": text(&mut rng)}],
                "zzz": {"clientIp": text(&mut rng), "timestamp": 1},
            });
            let line = record.to_string();
            if line.contains('\\') {
                escaped += 1;
            } else {
                unescaped += 1;
            }
            searched(None, NOTHING_OPTIONAL, &line);
            let f = searched(Some("x-real-ip"), Wanted::ALL, &line);
            assert_eq!(f.header.unwrap().text(), real_ip, "{line}");
            let mut minimal = Extractor::reading(None, NOTHING_OPTIONAL);
            let f = minimal
                .extract(line.as_bytes())
                .unwrap_or_else(|e| panic!("{e}: {line}"));
            assert_eq!(
                f.client_ip.text(),
                record["httpRequest"]["clientIp"].as_str().unwrap(),
                "{line}"
            );
            let mut x = Extractor::new(None);
            let f = x
                .extract(line.as_bytes())
                .unwrap_or_else(|e| panic!("{e}: {line}"));
            assert_eq!(
                f.timestamp_ms,
                record["timestamp"].as_i64().unwrap(),
                "{line}"
            );
            assert_eq!(
                f.action.text(),
                record["action"].as_str().unwrap(),
                "{line}"
            );
            assert_eq!(
                f.client_ip.text(),
                record["httpRequest"]["clientIp"].as_str().unwrap(),
                "{line}"
            );
            assert_eq!(
                f.uri.unwrap().text(),
                record["httpRequest"]["uri"].as_str().unwrap(),
                "{line}"
            );
            let labels: Vec<String> = x
                .labels(line.as_bytes())
                .map(|l| l.text().into_owned())
                .collect();
            assert_eq!(labels, [record["labels"][0]["name"].as_str().unwrap()]);
        }
        assert!(escaped > 500 && unescaped > 500, "{escaped} / {unescaped}");
    }

    /// The one search for `"httpRequest":{"clientIp":"` takes only the
    /// record's own: not a copy nested deeper, inside request text, or
    /// after the record's object closed.
    #[test]
    fn the_client_ip_search_takes_only_the_records_own() {
        let lines = [
            // Nested deeper, and as text, before the real one.
            r#"{"timestamp":9,"action":"ALLOW","ruleGroupList":[{"httpRequest":{"clientIp":"6.6.6.6"}}],"webaclId":"\"httpRequest\":{\"clientIp\":\"7.7.7.7\"","httpRequest":{"clientIp":"192.0.2.7","uri":"/"}}"#,
            // The real one not first in its object: the walk reads it.
            r#"{"timestamp":9,"action":"ALLOW","x":{"httpRequest":{"clientIp":"6.6.6.6"}},"httpRequest":{"uri":"/","clientIp":"192.0.2.7"}}"#,
            // Keys before `action` are found from the start again.
            r#"{"timestamp":9,"httpRequest":{"clientIp":"192.0.2.7"},"action":"ALLOW","y":{"httpRequest":{"clientIp":"6.6.6.6"}}}"#,
            // Not at the start, so `timestamp` is searched for.
            r#" {"action":"ALLOW","httpRequest":{"clientIp":"192.0.2.7"},"timestamp":9}"#,
        ];
        for line in lines {
            let json: serde_json::Value = serde_json::from_str(line).expect(line);
            assert_eq!(json["httpRequest"]["clientIp"], "192.0.2.7", "{line}");
            let f = searched(None, NOTHING_OPTIONAL, line);
            assert_eq!(f.client_ip.text(), "192.0.2.7", "{line}");
            assert_eq!((f.timestamp_ms, f.action.text()), (9, "ALLOW".into()));
        }
        // After the record's object closed, a hit belongs to no record.
        let joined = r#"{"timestamp":1,"action":"BLOCK"}{"httpRequest":{"clientIp":"192.0.2.1"}}"#;
        let mut x = Extractor::reading(None, NOTHING_OPTIONAL);
        x.structure.start(joined.len());
        assert_eq!(x.search(joined.as_bytes()), None);
        assert_eq!(
            Extractor::reading(None, NOTHING_OPTIONAL).extract(joined.as_bytes()),
            Err(Malformed::TrailingData)
        );
    }

    #[test]
    fn eight_digits_at_once_read_as_one_at_a_time() {
        let mut rng = fastrand::Rng::with_seed(8);
        let alphabet = b"0123456789/:a -.";
        for _ in 0..20_000 {
            let bytes: [u8; 8] = std::array::from_fn(|_| {
                if rng.u8(..) < 230 {
                    b'0' + rng.u8(..10)
                } else {
                    alphabet[rng.usize(..alphabet.len())]
                }
            });
            let one_at_a_time = bytes.iter().try_fold(0i64, |value, &d| {
                d.is_ascii_digit().then(|| value * 10 + i64::from(d - b'0'))
            });
            assert_eq!(eight_digits(&bytes), one_at_a_time, "{bytes:?}");
        }
        assert_eq!(eight_digits(b"99999999"), Some(99_999_999));
        assert_eq!(eight_digits(b"1234567"), None);
    }

    #[test]
    fn a_record_cut_short_after_the_fields_it_needs_is_truncated() {
        let cut = r#"{"timestamp":1,"action":"BLOCK","httpRequest":{"clientIp":"192.0.2.51""#;
        assert_eq!(extract(cut), Err(Malformed::Truncated));
        let cut = r#"{"timestamp":1,"action":"BLOCK","httpRequest":{"clientIp":"192.0.2.51","uri":"/"}, "labels": ["#;
        assert_eq!(extract(cut), Err(Malformed::Truncated));
    }

    #[test]
    fn a_client_ip_key_only_in_request_text_is_missing_not_taken() {
        // No real httpRequest.clientIp: the one in the header must not be used.
        let line = r#"{"timestamp":1,"action":"BLOCK","httpRequest":{"headers":[{"name":"a","value":"\"clientIp\":\"1.2.3.4\""}],"uri":"/"}}"#;
        assert_eq!(extract(line), Err(Malformed::MissingClientIp));
        // A clientIp key at the wrong depth (inside headers) is not the field.
        let nested = r#"{"timestamp":1,"action":"BLOCK","httpRequest":{"headers":[{"clientIp":"1.2.3.4"}],"uri":"/"}}"#;
        assert_eq!(extract(nested), Err(Malformed::MissingClientIp));
        let top =
            r#"{"timestamp":1,"action":"BLOCK","clientIp":"1.2.3.4","httpRequest":{"uri":"/"}}"#;
        assert_eq!(extract(top), Err(Malformed::MissingClientIp));
    }

    /// The last element of `httpRequest.headers` whose name is `wanted`
    /// without case, as serde_json reads the line.
    fn header_by_serde(line: &str, wanted: &str) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(line).expect(line);
        toilkit_tests::json::waf_header(&v, wanted).map(str::to_owned)
    }

    /// [`Cursor::plain_headers`] on the `headers` array after `marker`:
    /// `Some` when it decided without the walk.
    fn found_header(line: &str, marker: &str, wanted: &str) -> Option<Option<String>> {
        let mut structure = Structure::new();
        structure.start(line.len());
        let mut c = Cursor::new(
            line.as_bytes(),
            line.find(marker).expect(marker) + marker.len(),
            &mut structure,
        );
        assert_eq!(c.peek(), Some(b'['));
        let found = c.plain_headers(wanted.as_bytes())?;
        assert_eq!(line.as_bytes()[c.i - 1], b']');
        Some(found.map(|v| v.text().into_owned()))
    }

    /// The header read finds the configured header among the element
    /// names of the record's own `headers` array, the last one of any case,
    /// as the walk through every element does; the same text anywhere else
    /// (a header value, another key's value, a key, a nested object, a
    /// `headers` array elsewhere in the record, escaped request text) is
    /// never taken. An array with an element in another shape than WAF's
    /// goes to the walk, which reads it as serde_json does.
    #[test]
    fn the_header_read_takes_only_names_of_the_requests_headers() {
        // (headers, the value wanted, decided without the generic walk)
        let cases: &[(&str, Option<&str>, bool)] = &[
            (
                r#"[{"name":"host","value":"x-forwarded-for"},{"name":"X-Forwarded-For","value":"203.0.113.9"}]"#,
                Some("203.0.113.9"),
                true,
            ),
            // Repeated, in mixed case: the last is taken.
            (
                r#"[{"name":"x-forwarded-for","value":"1.1.1.1"},{"name":"X-FORWARDED-FOR","value":"2.2.2.2"},{"name":"via","value":"x"}]"#,
                Some("2.2.2.2"),
                true,
            ),
            (r#"[{"name":"a","value":"x-forwarded-for"}]"#, None, true),
            (
                r#"[{"name":"x-forwarded-for ","value":"6.6.6.6"},{"name":"x-forwarded-fo","value":"6.6.6.6"},{"name":"xx-forwarded-for","value":"6.6.6.6"},{"name":"x_forwarded_for","value":"6.6.6.6"}]"#,
                None,
                true,
            ),
            (r#"[{"name":"x-forwarded-for","value":""}]"#, Some(""), true),
            (r#"[]"#, None, true),
            // An element's name and value in request text, escaped.
            (
                r#"[{"name":"a","value":"\"},{\"name\":\"x-forwarded-for\",\"value\":\"6.6.6.6"},{"name":"x-forwarded-for","value":"3.3.3.3"},{"name":"b","value":"\"},{\"name\":\"X-Forwarded-For\",\"value\":\"6.6.6.6\"}"}]"#,
                Some("3.3.3.3"),
                true,
            ),
            (
                r#"[{"name":"x-forwarded-\u0066or","value":"4.3.2.1"}]"#,
                Some("4.3.2.1"),
                true,
            ),
            // The name as the value of another key, as a key, nested
            // deeper, in other shapes: the walk decides.
            (
                r#"[{"name":"a","value":"b","note":"x-forwarded-for"}]"#,
                None,
                false,
            ),
            (
                r#"[{"x-forwarded-for":"6.6.6.6","name":"a","value":"b"}]"#,
                None,
                false,
            ),
            (
                r#"[{"name":"a","value":"b","more":{"name":"x-forwarded-for","value":"6.6.6.6"}}]"#,
                None,
                false,
            ),
            (
                r#"[{"value":"4.4.4.4","name":"x-forwarded-for"}]"#,
                Some("4.4.4.4"),
                false,
            ),
            (
                r#"[{ "name" : "x-forwarded-for" , "value" : "5.5.5.5" }]"#,
                Some("5.5.5.5"),
                false,
            ),
            (
                r#"[{"name":"x-forwarded-for","value":"7.7.7.7","name":"b"}]"#,
                None,
                false,
            ),
            (
                r#"[{"name":"a","name":"x-forwarded-for","value":"7.7.7.7"}]"#,
                Some("7.7.7.7"),
                false,
            ),
            (
                r#"[{"name":"x-forwarded-for","value":"8.8.8.8"},["x-forwarded-for"],"x-forwarded-for"]"#,
                Some("8.8.8.8"),
                false,
            ),
        ];
        const MARKER: &str = r#""clientIp":"192.0.2.1","headers":"#;
        for &(headers, want, searched_alone) in cases {
            // The name also where it is no header of the request: in a
            // `headers` array of another member, in the URI, in the labels.
            let line = format!(
                r#"{{"timestamp":1,"terminatingRuleId":"r","action":"ALLOW","ruleGroupList":[{{"headers":[{{"name":"x-forwarded-for","value":"6.6.6.6"}}]}}],"httpRequest":{{"clientIp":"192.0.2.1","headers":{headers},"uri":"x-forwarded-for"}},"labels":[{{"name":"x-forwarded-for","value":"6.6.6.6"}}]}}"#
            );
            assert_eq!(
                header_by_serde(&line, "x-forwarded-for").as_deref(),
                want,
                "{line}"
            );
            let found = found_header(&line, MARKER, "x-forwarded-for");
            assert_eq!(found.is_some(), searched_alone, "{line}");
            if let Some(found) = found {
                assert_eq!(found.as_deref(), want, "{line}");
            }
            for wanted in [NOTHING_OPTIONAL, Wanted::ALL] {
                let f = searched(Some("X-Forwarded-For"), wanted, &line);
                assert_eq!(
                    f.header.map(|h| h.text().into_owned()).as_deref(),
                    want,
                    "{line}"
                );
                assert_eq!(f.client_ip.text(), "192.0.2.1");
            }
        }
        // Wherever the name falls across the index's 64-byte blocks.
        for pad in 0..130 {
            let line = format!(
                r#"{{"timestamp":1,"terminatingRuleId":"r","action":"ALLOW","httpRequest":{{"clientIp":"192.0.2.1","headers":[{{"name":"a","value":"{}"}},{{"name":"X-forwarded-for","value":"9.9.9.9"}},{{"name":"b","value":"{}"}}],"uri":"/"}},"labels":[]}}"#,
                "z".repeat(pad),
                "x-forwarded-for".repeat(pad % 9),
            );
            assert_eq!(
                found_header(&line, MARKER, "x-forwarded-for"),
                Some(Some("9.9.9.9".into())),
                "{line}"
            );
            let f = searched(Some("x-forwarded-for"), Wanted::ALL, &line);
            assert_eq!(f.header.unwrap().text(), "9.9.9.9");
        }
    }

    /// Random header arrays, of WAF's shape and others, their names and
    /// values drawn from the name wanted in several cases, look-alikes and
    /// JSON's awkward characters: the header read is serde_json's.
    #[test]
    fn random_headers_are_read_as_serde_json_reads_them() {
        let mut rng = fastrand::Rng::with_seed(19);
        let awkward = ['"', '\\', '{', '}', '[', ']', ':', ',', ' ', 'a', 'X'];
        let names = [
            "x-real-ip",
            "X-Real-IP",
            "X-REAL-IP",
            "x-real-iq",
            "x-real-ip ",
            "\"name\":\"x-real-ip\"",
            "value",
            "name",
        ];
        let (mut alone, mut walked) = (0, 0);
        for _ in 0..3_000 {
            let text = |rng: &mut fastrand::Rng| -> String {
                if rng.u8(..3) == 0 {
                    let len = rng.usize(..20);
                    (0..len)
                        .map(|_| awkward[rng.usize(..awkward.len())])
                        .collect()
                } else {
                    names[rng.usize(..names.len())].to_owned()
                }
            };
            let q = |s: String| serde_json::to_string(&s).unwrap();
            let elements: Vec<String> = (0..rng.usize(..8))
                .map(|_| {
                    let (name, value) = (q(text(&mut rng)), q(text(&mut rng)));
                    match rng.u8(..12) {
                        0 => format!(r#"{{"value":{value},"name":{name}}}"#),
                        1 => format!(r#"{{ "name": {name}, "value": {value} }}"#),
                        2 => format!(r#"{{"name":{name},"value":{value},{name}:{value}}}"#),
                        3 => format!(r#"{{"name":"a","value":{value},"more":{{"name":{name},"value":{value}}}}}"#),
                        4 => format!("[{name}]"),
                        _ => format!(r#"{{"name":{name},"value":{value}}}"#),
                    }
                })
                .collect();
            let line = format!(
                r#"{{"timestamp":1,"terminatingRuleId":"r","action":"ALLOW","httpRequest":{{"clientIp":"192.0.2.1","headers":[{}],"uri":{}}},"labels":[]}}"#,
                elements.join(","),
                q(text(&mut rng)),
            );
            let want = header_by_serde(&line, "x-real-ip");
            match found_header(&line, r#""headers":"#, "x-real-ip") {
                Some(found) => {
                    alone += 1;
                    assert_eq!(found, want, "{line}");
                }
                None => walked += 1,
            }
            for wanted in [NOTHING_OPTIONAL, Wanted::ALL] {
                let f = searched(Some("x-real-ip"), wanted, &line);
                assert_eq!(f.header.map(|h| h.text().into_owned()), want, "{line}");
            }
            let mut x = Extractor::new(Some("X-Real-Ip"));
            let f = x.extract(line.as_bytes()).unwrap();
            assert_eq!(f.header.map(|h| h.text().into_owned()), want, "{line}");
        }
        assert!(alone > 300 && walked > 300, "{alone} / {walked}");
    }

    #[test]
    fn eight_bytes_without_case_compare_as_eq_ignore_ascii_case() {
        for len in [1, 7, 8, 9, 15, 16, 17] {
            for at in [0, len / 2, len - 1] {
                for a in 0..=255u8 {
                    for b in 0..=255u8 {
                        let mut text = vec![b'q'; len];
                        let mut lower = vec![b'q'; len];
                        text[at] = a;
                        lower[at] = b.to_ascii_lowercase();
                        assert_eq!(
                            eq_lowercase(&text, &lower),
                            text.eq_ignore_ascii_case(&lower),
                            "{a} {b} {len} {at}"
                        );
                    }
                }
            }
        }
        assert!(!eq_lowercase(b"x-forwarded-for", b"x-forwarded-fo"));
    }

    const NOTHING_OPTIONAL: Wanted = Wanted {
        terminating_rule_id: false,
        uri: false,
        labels: false,
    };

    /// The walk stops early, but only after walking everything before the
    /// fields as JSON: request text placed before, between and after them
    /// never becomes one, whatever is wanted.
    #[test]
    fn stopping_early_still_never_takes_request_text_as_a_field() {
        let lines = [
            // Hostile headers before the real clientIp.
            r#"{"timestamp":9,"action":"ALLOW","httpRequest":{"headers":[{"name":"x","value":"\",\"clientIp\":\"9.9.9.9\"}"}],"uri":"/\"clientIp\":\"8.8.8.8\"","clientIp":"192.0.2.7"}}"#,
            // No backslash at all: brackets and keys in text end nothing.
            r#"{"webaclId":"}],{timestamp:1,action:BLOCK","timestamp":9,"action":"ALLOW","httpRequest":{"args":"]}}},{","clientIp":"192.0.2.7","uri":"/"}}"#,
            // Top-level fields after httpRequest: the walk must go on.
            r#"{"httpRequest":{"clientIp":"192.0.2.7","headers":[{"name":"a","value":"\"}},\"timestamp\":1,\"action\":\"BLOCK\""}]},"labels":[],"timestamp":9,"action":"ALLOW"}"#,
        ];
        for line in lines {
            serde_json::from_str::<serde_json::Value>(line).expect(line);
            for (header, wanted) in [
                (None, NOTHING_OPTIONAL),
                (Some("x"), NOTHING_OPTIONAL),
                (None, Wanted::ALL),
                (Some("x"), Wanted::ALL),
            ] {
                let mut x = Extractor::reading(header, wanted);
                let f = x.extract(line.as_bytes()).unwrap();
                assert_eq!(f.timestamp_ms, 9, "{line}");
                assert_eq!(f.action.text(), "ALLOW", "{line}");
                assert_eq!(f.client_ip.text(), "192.0.2.7", "{line}");
            }
        }
    }

    #[test]
    fn the_walk_stops_once_the_wanted_fields_are_read() {
        // Broken after clientIp, yet ending as a record ends: nothing there
        // is read when the URI is not wanted, so the record counts; wanting
        // the URI finds the damage. (Cut short, it would not end so.)
        let line = br#"{"timestamp":1,"action":"BLOCK","httpRequest":{"clientIp":"192.0.2.1","headers":[{"}"#;
        let mut x = Extractor::reading(None, NOTHING_OPTIONAL);
        assert_eq!(x.extract(line).unwrap().client_ip.text(), "192.0.2.1");
        let mut x = Extractor::reading(
            None,
            Wanted {
                uri: true,
                ..NOTHING_OPTIONAL
            },
        );
        assert_eq!(x.extract(line), Err(Malformed::Truncated));
        // A wanted field that is absent sends the walk to the end, where
        // the record is checked as before.
        let no_rule =
            br#"{"timestamp":1,"action":"BLOCK","httpRequest":{"clientIp":"192.0.2.1"}} x"#;
        let mut x = Extractor::new(None);
        assert_eq!(x.extract(no_rule), Err(Malformed::TrailingData));
        // The header is the last of its name, so the whole array is read.
        let twice = br#"{"timestamp":1,"action":"BLOCK","httpRequest":{"clientIp":"192.0.2.1","headers":[{"name":"x","value":"1"},{"name":"X","value":"2"}]}}"#;
        let mut x = Extractor::reading(Some("x"), NOTHING_OPTIONAL);
        assert_eq!(x.extract(twice).unwrap().header.unwrap().text(), "2");
    }

    #[test]
    fn broken_lines_are_rejected_with_a_reason() {
        assert_eq!(extract("not json"), Err(Malformed::NotAnObject));
        assert_eq!(
            extract(r#"{"timestamp":1,"action":"BLOCK","httpRequest":{"clientIp":"1.2.3.4""#),
            Err(Malformed::Truncated)
        );
        assert_eq!(
            extract(
                r#"{"timestamp":1,"action":"BLOCK","httpRequest":{"clientIp":"1.2.3.4","uri":"/x\"}}"#
            ),
            Err(Malformed::Truncated)
        );
        assert_eq!(
            extract(
                r#"{"timestamp":"soon","action":"BLOCK","httpRequest":{"clientIp":"1.2.3.4"}}"#
            ),
            Err(Malformed::BadTimestamp)
        );
        assert_eq!(
            extract(r#"{"timestamp":1.5,"action":"BLOCK","httpRequest":{"clientIp":"1.2.3.4"}}"#),
            Err(Malformed::BadTimestamp)
        );
        assert_eq!(
            extract(r#"{"action":"BLOCK","httpRequest":{"clientIp":"1.2.3.4"}}"#),
            Err(Malformed::MissingTimestamp)
        );
        assert_eq!(
            extract(r#"{"timestamp":1,"action":"BLOCK","httpRequest":{"clientIp":"1.2.3.4"}} {}"#),
            Err(Malformed::TrailingData)
        );
        assert_eq!(
            extract(r#"{"timestamp":1,"action":"BLOCK" "httpRequest":{}}"#),
            Err(Malformed::Unexpected(b'"'))
        );
    }

    #[test]
    fn a_value_ending_in_backslashes_ends_where_json_says() {
        // `C:\\` ends with an escaped backslash, so the quote after it closes
        // the string; `\\\"` is a backslash and a quote inside the string.
        let line = r#"{"timestamp":7,"action":"ALLOW","httpRequest":{"headers":[{"name":"a","value":"C:\\"},{"name":"b","value":"\\\",\"clientIp\":\"6.6.6.6"}],"clientIp":"192.0.2.9","uri":"/\\"}}"#;
        serde_json::from_str::<serde_json::Value>(line).expect("valid JSON");
        let (_, ip, _, uri) = extract(line).unwrap();
        assert_eq!(ip, "192.0.2.9");
        assert_eq!(uri.unwrap(), "/\\");
    }

    #[test]
    fn escaped_field_values_are_decoded() {
        let line = r#"{"timestamp":5,"action":"BL\u004fCK","httpRequest":{"clientIp":"1.2.3.4","uri":"/p\\q"}}"#;
        let (_, _, action, uri) = extract(line).unwrap();
        assert_eq!(action, "BLOCK");
        assert_eq!(uri.unwrap(), "/p\\q");
    }
}
