//! The records of one log object share most of what WAF writes between their
//! timestamp and their request: the web ACL, the rule that ended the
//! evaluation and its action, the rule groups matched. Indexing those bytes
//! to prove where `"httpRequest":{"clientIp":"` stands was most of a default
//! scan's work beyond the inflate itself, and more than half a record's
//! index where the request's headers, URI and the labels are read too.
//!
//! Where a record's structure lies is a function of its bytes alone, read
//! from a known state. Right after a record's first member, the timestamp,
//! that state is always the same: outside any string, inside the record's
//! object and nothing else. So when the bytes from there up to the first
//! `"httpRequest":{"clientIp":"` equal, byte for byte, those of a record
//! the index has already read, the fields in them lie where they lay there,
//! and the literal is the request's key there as it was. Nothing about the
//! text is trusted: one byte of difference, anywhere, and the record is
//! read with the index.

use std::collections::VecDeque;
use std::ops::Range;

use memchr::{memchr, memmem};

use crate::{Fields, RawStr};

/// The bytes between a record's timestamp and the end of its first
/// `"httpRequest":{"clientIp":"`, from a record read with the index, and
/// where in them its fields were.
#[derive(Debug, Clone)]
struct Prefix {
    bytes: Vec<u8>,
    action: Range<usize>,
    terminating_rule_id: Option<Range<usize>>,
    /// `"labels"` occurs in the bytes, as a key or as text.
    labels_text: bool,
}

/// The prefixes seen last: enough for the few shapes an object's records
/// take (allowed by default, blocked by one rule or another), small enough
/// that comparing against each costs less than indexing.
#[derive(Debug, Clone, Default)]
pub(super) struct Prefixes {
    /// Oldest first.
    seen: VecDeque<Prefix>,
}

/// What a known prefix holds of a record.
#[derive(Debug, Clone, Copy)]
pub(super) struct Known<'a> {
    pub(super) action: RawStr<'a>,
    pub(super) terminating_rule_id: Option<RawStr<'a>>,
    /// `"labels"` occurs in the prefix: a record's `labels` member may lie
    /// there, before the request.
    pub(super) labels_text: bool,
}

impl Prefixes {
    const KEPT: usize = 4;

    /// Where the prefix of `line` ends, and its action and terminating
    /// rule, when the bytes after its timestamp, which ends at `after`,
    /// start with a prefix seen before: they lie where they lay there. The
    /// client IP's opening quote, the prefix's last byte, is then the one
    /// the index proved, two brackets deep.
    ///
    /// No search for the prefix's end is needed: the literal it ends with
    /// occurs in it only there, so equal bytes put the line's first
    /// `"httpRequest":{"clientIp":"` after the timestamp at the same place.
    #[inline(never)]
    pub(super) fn known<'a>(&self, line: &'a [u8], after: usize) -> Option<(usize, Known<'a>)> {
        let rest = &line[after..];
        let seen = self.seen.iter().find(|p| rest.starts_with(&p.bytes))?;
        let at = |range: &Range<usize>| RawStr {
            raw: &line[after + range.start..after + range.end],
            escaped: false,
        };
        let known = Known {
            action: at(&seen.action),
            terminating_rule_id: seen.terminating_rule_id.as_ref().map(at),
            labels_text: seen.labels_text,
        };
        Some((after + seen.bytes.len(), known))
    }

    /// The fields of `line` when its prefix is known (see [`Self::known`]),
    /// for a configuration that wants nothing of the request but the client
    /// IP, which must hold no backslash.
    #[inline(never)]
    pub(super) fn fields<'a>(
        &self,
        line: &'a [u8],
        after: usize,
        timestamp_ms: i64,
    ) -> Option<Fields<'a>> {
        let (end, known) = self.known(line, after)?;
        // The client IP's opening quote is the prefix's last byte; with no
        // backslash after it, the next quote closes it.
        let client_ip = &line[end..];
        let client_ip = &client_ip[..memchr(b'"', client_ip)?];
        if memchr(b'\\', client_ip).is_some() {
            return None;
        }
        Some(Fields {
            timestamp_ms,
            action: known.action,
            terminating_rule_id: known.terminating_rule_id,
            client_ip: RawStr {
                raw: client_ip,
                escaped: false,
            },
            uri: None,
            header: None,
        })
    }

    /// Keeps `prefix` of `line`, whose `fields` the index read, its client IP
    /// from right after it. Only a prefix that holds every field but the
    /// client IP, and no backslash, is kept: its strings' raw text is then
    /// their text, which is how [`Self::fields`] hands them out.
    #[inline(never)]
    pub(super) fn remember(&mut self, line: &[u8], prefix: Range<usize>, fields: &Fields<'_>) {
        let within = |raw: &[u8]| {
            let start = raw.as_ptr() as usize - line.as_ptr() as usize;
            (start >= prefix.start && start + raw.len() < prefix.end)
                .then(|| start - prefix.start..start + raw.len() - prefix.start)
        };
        let bytes = &line[prefix.clone()];
        let client_ip_start = fields.client_ip.raw().as_ptr() as usize - line.as_ptr() as usize;
        let terminating_rule_id = fields.terminating_rule_id.map(|r| within(r.raw()));
        let (Some(action), true, true) = (
            within(fields.action.raw()),
            client_ip_start == prefix.end,
            terminating_rule_id.as_ref().is_none_or(Option::is_some),
        ) else {
            return;
        };
        if memchr(b'\\', bytes).is_some() || self.seen.iter().any(|p| p.bytes == bytes) {
            return;
        }
        let prefix = Prefix {
            bytes: bytes.to_vec(),
            action,
            terminating_rule_id: terminating_rule_id.flatten(),
            labels_text: memmem::find(bytes, br#""labels""#).is_some(),
        };
        if self.seen.len() == Self::KEPT {
            self.seen.pop_front();
        }
        self.seen.push_back(prefix);
    }
}

#[cfg(test)]
mod tests {
    use crate::{Extractor, Wanted};

    const DEFAULT: Wanted = Wanted {
        terminating_rule_id: false,
        uri: false,
        labels: false,
    };

    fn record(action: &str, client_ip: &str) -> String {
        format!(
            r#"{{"timestamp":1700000000123,"webaclId":"arn","action":"{action}","ruleGroupList":[{{"x":"]}}"}}],"httpRequest":{{"clientIp":"{client_ip}","uri":"/"}},"labels":[]}}"#
        )
    }

    #[test]
    fn a_record_sharing_a_read_prefix_is_read_from_it_and_any_other_is_not() {
        let mut x = Extractor::reading(None, DEFAULT);
        let first = record("ALLOW", "192.0.2.1");
        x.extract(first.as_bytes()).unwrap();
        assert_eq!(prefixes(&x).seen.len(), 1);

        let same = record("ALLOW", "198.51.100.7");
        let (start, end) = prefix(&same);
        assert_eq!(prefixes(&x).known(same.as_bytes(), start).unwrap().0, end);
        let from_prefix = prefixes(&x)
            .fields(same.as_bytes(), start, 1_700_000_000_123)
            .expect("read from the prefix");
        assert_eq!(from_prefix.client_ip.raw(), b"198.51.100.7");
        assert_eq!(from_prefix.action.raw(), b"ALLOW");
        assert_eq!(x.extract(same.as_bytes()).unwrap(), from_prefix);

        // A client IP with a backslash is read with the index.
        let escaped = record("ALLOW", r"198.51.100.\u0037");
        assert!(prefixes(&x).fields(escaped.as_bytes(), start, 1).is_none());
        assert_eq!(
            x.extract(escaped.as_bytes()).unwrap().client_ip.text(),
            "198.51.100.7"
        );

        // One byte of difference, and the prefix is another.
        let other = record("BLOCK", "198.51.100.7");
        assert!(prefixes(&x).fields(other.as_bytes(), start, 1).is_none());
        assert_eq!(x.extract(other.as_bytes()).unwrap().action.raw(), b"BLOCK");
        assert_eq!(prefixes(&x).seen.len(), 2);
    }

    #[test]
    fn only_the_last_few_prefixes_are_kept() {
        let mut x = Extractor::reading(None, DEFAULT);
        let lines: Vec<String> = (0..10)
            .map(|n| record(&format!("A{n}"), "192.0.2.1"))
            .collect();
        for line in &lines {
            x.extract(line.as_bytes()).unwrap();
        }
        let kept: Vec<bool> = lines
            .iter()
            .map(|line| {
                let (start, _) = prefix(line);
                prefixes(&x).fields(line.as_bytes(), start, 1).is_some()
            })
            .collect();
        let newest = lines.len() - super::Prefixes::KEPT;
        assert!(kept[newest..].iter().all(|k| *k), "{kept:?}");
        assert!(kept[..newest].iter().all(|k| !k), "{kept:?}");
    }

    fn configured_record(client_ip: &str, forwarded: &str, label: &str) -> String {
        format!(
            r#"{{"timestamp":1700000000123,"action":"BLOCK","terminatingRuleId":"r1","httpRequest":{{"clientIp":"{client_ip}","headers":[{{"name":"X-Forwarded-For","value":"{forwarded}"}}],"uri":"/a"}},"labels":[{{"name":"{label}"}}]}}"#
        )
    }

    /// The fields and labels of `line`, whether its request alone was
    /// indexed (read after a known prefix), and whether only its quotes
    /// were (read in order).
    fn read_with(x: &mut Extractor, line: &str) -> (String, Vec<String>, bool, bool) {
        let fields = x.extract(line.as_bytes()).expect(line);
        let labels = x
            .labels(line.as_bytes())
            .map(|l| l.text().into_owned())
            .collect();
        let structure = &x.structure;
        (
            format!("{fields:?}"),
            labels,
            structure.is_of_rest(),
            structure.is_quotes_only(),
        )
    }

    #[test]
    fn a_configured_record_sharing_a_read_prefix_has_its_request_alone_indexed() {
        let configured = || Extractor::reading(Some("x-forwarded-for"), Wanted::ALL);
        let mut x = configured();
        let first = configured_record("192.0.2.1", "192.0.2.1", "a:b");
        assert!(!read_with(&mut x, &first).2);
        assert_eq!(prefixes(&x).seen.len(), 1);
        // The request and labels differ; read as a fresh extractor reads
        // them, with only the request indexed.
        // (client IP, header value, label, read in order with only the
        // quotes indexed)
        for (client_ip, forwarded, label, in_order) in [
            (
                "198.51.100.7",
                "203.0.113.9, 198.51.100.7",
                "awswaf:x:y",
                true,
            ),
            // Escapes after the prefix: a header with an escaped quote, a
            // label with a backslash.
            ("198.51.100.8", r#"\"]},{\"name\":\"x\"}"#, r"a\\b", false),
            (r"198.51.100.9", "192.0.2.2", "c", true),
            ("198.51.100.10", "192.0.2.3", r"d\u0065", false),
        ] {
            let line = configured_record(client_ip, forwarded, label);
            let (fields, labels, rest, quotes_only) = read_with(&mut x, &line);
            assert!(rest, "{line}");
            assert_eq!(quotes_only, in_order, "{line}");
            let fresh = read_with(&mut configured(), &line);
            assert_eq!((fields, labels), (fresh.0, fresh.1), "{line}");
        }
        // A record whose request is not what the walk accepts is walked
        // from the start, with the whole line indexed again.
        let broken = configured_record("198.51.100.7", "x", "a").replace(r#","uri""#, r#""uri""#);
        assert!(x.extract(broken.as_bytes()).is_err());
        assert!(!x.structure.is_of_rest());
    }

    /// Where a record's prefix lies: from the end of its timestamp to the
    /// end of its `"httpRequest":{"clientIp":"`.
    fn prefix(line: &str) -> (usize, usize) {
        const CLIENT_IP: &str = r#""httpRequest":{"clientIp":""#;
        (
            line.find(',').unwrap(),
            line.find(CLIENT_IP).unwrap() + CLIENT_IP.len(),
        )
    }

    fn prefixes(x: &Extractor) -> &super::Prefixes {
        &x.prefixes
    }
}
