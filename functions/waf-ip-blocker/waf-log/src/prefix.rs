//! The records of one log object share most of what WAF writes between their
//! timestamp and their request: the web ACL, the rule that ended the
//! evaluation and its action, the rule groups matched. Indexing those bytes
//! to prove where `"httpRequest":{"clientIp":"` stands was most of a default
//! scan's work beyond the inflate itself.
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

use memchr::memchr;

use crate::{Fields, RawStr};

/// The bytes between a record's timestamp and the end of its first
/// `"httpRequest":{"clientIp":"`, from a record read with the index, and
/// where in them its fields were.
#[derive(Debug, Clone)]
struct Prefix {
    bytes: Vec<u8>,
    action: Range<usize>,
    terminating_rule_id: Option<Range<usize>>,
}

/// The prefixes seen last: enough for the few shapes an object's records
/// take (allowed by default, blocked by one rule or another), small enough
/// that comparing against each costs less than indexing.
#[derive(Debug, Clone, Default)]
pub(super) struct Prefixes {
    /// Oldest first.
    seen: VecDeque<Prefix>,
}

impl Prefixes {
    const KEPT: usize = 4;

    /// The fields of `line` when `prefix`, the bytes from the end of its
    /// timestamp to the end of its first `"httpRequest":{"clientIp":"`, is
    /// one seen before, and the client IP after it holds no backslash.
    #[inline(never)]
    pub(super) fn fields<'a>(
        &self,
        line: &'a [u8],
        prefix: Range<usize>,
        timestamp_ms: i64,
    ) -> Option<Fields<'a>> {
        let bytes = &line[prefix.clone()];
        let seen = self.seen.iter().find(|p| p.bytes == bytes)?;
        // The client IP's opening quote is the prefix's last byte; with no
        // backslash after it, the next quote closes it.
        let client_ip = &line[prefix.end..];
        let client_ip = &client_ip[..memchr(b'"', client_ip)?];
        if memchr(b'\\', client_ip).is_some() {
            return None;
        }
        let at = |range: &Range<usize>| RawStr {
            raw: &line[prefix.start + range.start..prefix.start + range.end],
            escaped: false,
        };
        Some(Fields {
            timestamp_ms,
            action: at(&seen.action),
            terminating_rule_id: seen.terminating_rule_id.as_ref().map(at),
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
        let from_prefix = prefixes(&x)
            .fields(same.as_bytes(), start..end, 1_700_000_000_123)
            .expect("read from the prefix");
        assert_eq!(from_prefix.client_ip.raw(), b"198.51.100.7");
        assert_eq!(from_prefix.action.raw(), b"ALLOW");
        assert_eq!(x.extract(same.as_bytes()).unwrap(), from_prefix);

        // A client IP with a backslash is read with the index.
        let escaped = record("ALLOW", r"198.51.100.\u0037");
        assert!(
            prefixes(&x)
                .fields(escaped.as_bytes(), start..end, 1)
                .is_none()
        );
        assert_eq!(
            x.extract(escaped.as_bytes()).unwrap().client_ip.text(),
            "198.51.100.7"
        );

        // One byte of difference, and the prefix is another.
        let other = record("BLOCK", "198.51.100.7");
        assert!(
            prefixes(&x)
                .fields(other.as_bytes(), start..end, 1)
                .is_none()
        );
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
                let (start, end) = prefix(line);
                prefixes(&x)
                    .fields(line.as_bytes(), start..end, 1)
                    .is_some()
            })
            .collect();
        let newest = lines.len() - super::Prefixes::KEPT;
        assert!(kept[newest..].iter().all(|k| *k), "{kept:?}");
        assert!(kept[..newest].iter().all(|k| !k), "{kept:?}");
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
        x.prefixes
            .as_ref()
            .expect("the default settings read prefixes")
    }
}
