//! Which requests count, and counting them per client IP and time window.
//!
//! Counting is the hot loop (hundreds of thousands of lines per object), so
//! every per-line decision works on the raw bytes the extractor returns and
//! the per-IP state is one small map entry per IP, window and URI rule:
//! memory follows the number of distinct IPs, never the size of the log.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::Deserialize;
use shared::pattern::Pattern;

use crate::{Extractor, Fields, RawStr, Wanted};

/// The actions WAF logs; all of them count by default.
pub const ALL_ACTIONS: [&str; 5] = ["ALLOW", "BLOCK", "COUNT", "CAPTCHA", "CHALLENGE"];
/// Malformed lines quoted in the report.
pub const MALFORMED_EXAMPLES: usize = 5;

/// One entry of `URI_RULES`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UriRule {
    pub path: Pattern,
    #[serde(default)]
    pub threshold: Option<u32>,
    #[serde(default)]
    pub ignore: bool,
}

/// Where the client IP comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientIp {
    /// `httpRequest.clientIp`: the address that connected to WAF's resource.
    Connection,
    /// A header such as `X-Forwarded-For`; `hop` counts entries from the
    /// right (1 = the last one, appended by the nearest proxy).
    Header { name: String, hop: usize },
}

/// What counts and when an IP is flagged.
#[derive(Debug, Clone)]
pub struct Detection {
    pub threshold: u32,
    pub window_seconds: i64,
    pub count_actions: Vec<String>,
    pub count_labels: Vec<String>,
    pub count_rules: Vec<String>,
    pub ignore_uri_suffixes: Vec<String>,
    pub uri_rules: Vec<UriRule>,
    pub client_ip: ClientIp,
}

impl Detection {
    /// The threshold that applies to a counter (`rule` is an index into
    /// `uri_rules`, or `None` for the general counter).
    pub fn threshold_for(&self, rule: Option<u16>) -> u32 {
        rule.and_then(|r| self.uri_rules.get(usize::from(r)))
            .and_then(|r| r.threshold)
            .unwrap_or(self.threshold)
    }

    /// The name of a counter in reports and DynamoDB keys.
    pub fn rule_name(&self, rule: Option<u16>) -> &str {
        rule.and_then(|r| self.uri_rules.get(usize::from(r)))
            .map_or("*", |r| r.path.as_str())
    }

    fn window_start(&self, timestamp_ms: i64) -> i64 {
        let secs = timestamp_ms.div_euclid(1000);
        secs - secs.rem_euclid(self.window_seconds)
    }
}

/// One counter: an IP in one window, for one URI rule or in general.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub ip: IpAddr,
    /// Window start, seconds since the epoch (UTC aligned).
    pub window: i64,
    /// Index into `URI_RULES`, `None` for the general threshold.
    pub rule: Option<u16>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: u32,
    /// The latest request counted, ms since the epoch.
    pub last_seen_ms: i64,
}

/// A bad line for the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BadLine {
    pub source: String,
    pub line: u64,
    pub reason: String,
    pub excerpt: String,
}

/// Counts from one or more log sources.
#[derive(Debug, Default)]
pub struct Counts {
    /// Seeded per process (foldhash), like std's default, but several times
    /// cheaper per line than SipHash: keys are attacker-chosen addresses,
    /// so the hasher must stay keyed.
    pub tallies: HashMap<Key, Tally, foldhash::fast::RandomState>,
    pub lines: u64,
    pub counted: u64,
    /// Requests of an action, label or rule not counted, or an ignored URI.
    pub not_counted: u64,
    pub malformed: u64,
    pub malformed_examples: Vec<BadLine>,
    /// Header-derived client IPs that were missing or invalid, so the
    /// connection address was used.
    pub client_ip_fallbacks: u64,
}

/// Counts lines with one configuration; build one per invocation.
pub struct Counter {
    detection: Detection,
    extractor: Extractor,
    pub counts: Counts,
    source: String,
    line_in_source: u64,
    /// The last window counted into and the milliseconds it spans: a log
    /// runs in time order, so most lines fall in the window of the line
    /// before, and the two divisions that find a window are skipped.
    last_window: (std::ops::Range<i64>, i64),
}

impl Counter {
    pub fn new(detection: Detection) -> Self {
        let header = match &detection.client_ip {
            ClientIp::Connection => None,
            ClientIp::Header { name, .. } => Some(name.as_str()),
        };
        // Reading less than the whole record is most of the scan's speed:
        // the walk stops once these are read.
        let wanted = Wanted {
            terminating_rule_id: !detection.count_rules.is_empty(),
            uri: !detection.ignore_uri_suffixes.is_empty() || !detection.uri_rules.is_empty(),
            labels: !detection.count_labels.is_empty(),
        };
        let extractor = Extractor::reading(header, wanted);
        Self {
            detection,
            extractor,
            counts: Counts::default(),
            source: String::new(),
            line_in_source: 0,
            last_window: (0..0, 0),
        }
    }

    /// Names the source of the lines that follow (for malformed examples).
    pub fn start_source(&mut self, source: &str) {
        self.source = source.to_owned();
        self.line_in_source = 0;
    }

    /// Counts the next log line of the source.
    pub fn line(&mut self, line: &[u8]) {
        self.line_at(self.line_in_source + 1, line);
    }

    /// Counts line `number` of the source (its number in the object, so a
    /// malformed example can be found with `sed -n Np`).
    pub fn line_at(&mut self, number: u64, line: &[u8]) {
        self.line_in_source = number;
        self.counts.lines += 1;
        // Matched by reference: moving the fields out of the result copied
        // them, 128 bytes a line.
        match &self.extractor.extract(line) {
            Ok(fields) => {
                if let Err(why) = self.count(line, fields) {
                    self.malformed(line, &why);
                }
            }
            Err(why) => self.malformed(line, why),
        }
    }

    /// Line `number`, longer than [`crate::stream::MAX_LINE`], skipped
    /// unread: a malformed line.
    pub fn overlong_at(&mut self, number: u64) {
        self.line_in_source = number;
        self.counts.lines += 1;
        let why = format!(
            "longer than {} bytes; not a WAF record",
            crate::stream::MAX_LINE
        );
        self.malformed(b"", &why);
    }

    /// A line that could not be read at all (too long, not text).
    pub fn malformed(&mut self, line: &[u8], why: &dyn std::fmt::Display) {
        self.counts.malformed += 1;
        if self.counts.malformed_examples.len() < MALFORMED_EXAMPLES {
            let text = String::from_utf8_lossy(&line[..line.len().min(300)]);
            self.counts.malformed_examples.push(BadLine {
                source: self.source.clone(),
                line: self.line_in_source,
                reason: why.to_string(),
                excerpt: shared::slack::truncate(&text, 160),
            });
        }
    }

    pub fn finish(self) -> Counts {
        self.counts
    }

    fn count(&mut self, line: &[u8], f: &Fields<'_>) -> Result<(), LineError> {
        let d = &self.detection;
        if !d.count_actions.iter().any(|a| f.action.is(a)) {
            self.counts.not_counted += 1;
            return Ok(());
        }
        if !d.count_rules.is_empty() || !d.count_labels.is_empty() {
            let by_rule = f
                .terminating_rule_id
                .is_some_and(|id| d.count_rules.iter().any(|r| id.is(r)));
            let by_label = by_rule
                || self
                    .extractor
                    .labels(line)
                    .any(|l| d.count_labels.iter().any(|want| l.is(want)));
            if !by_rule && !by_label {
                self.counts.not_counted += 1;
                return Ok(());
            }
        }
        let uri = f.uri.map(|u| u.text()).unwrap_or_default();
        if d.ignore_uri_suffixes
            .iter()
            .any(|s| uri.ends_with(s.as_str()))
        {
            self.counts.not_counted += 1;
            return Ok(());
        }
        let mut rule = None;
        for (i, r) in d.uri_rules.iter().enumerate() {
            if r.path.matches(&uri) {
                if r.ignore {
                    self.counts.not_counted += 1;
                    return Ok(());
                }
                rule = Some(i as u16);
                break;
            }
        }
        let window = if self.last_window.0.contains(&f.timestamp_ms) {
            self.last_window.1
        } else {
            let window = d.window_start(f.timestamp_ms);
            // Saturating: a span cut at the ends of i64 is still inside
            // the window, and what it leaves out takes the division above.
            let span = window.saturating_mul(1000)
                ..window.saturating_add(d.window_seconds).saturating_mul(1000);
            self.last_window = (span, window);
            window
        };
        let ip = self.client_ip(f)?;
        let key = Key { ip, window, rule };
        let tally = self.counts.tallies.entry(key).or_default();
        tally.count += 1;
        tally.last_seen_ms = tally.last_seen_ms.max(f.timestamp_ms);
        self.counts.counted += 1;
        Ok(())
    }

    fn client_ip(&mut self, f: &Fields<'_>) -> Result<IpAddr, LineError> {
        if let ClientIp::Header { hop, .. } = &self.detection.client_ip {
            let from_header = f.header.and_then(|h| pick_hop_raw(h, *hop));
            match from_header {
                Some(ip) => return Ok(normalise(ip)),
                None => self.counts.client_ip_fallbacks += 1,
            }
        }
        parse_ip(f.client_ip)
            .map(normalise)
            .ok_or(LineError::BadClientIp)
    }
}

enum LineError {
    BadClientIp,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadClientIp => f.write_str("httpRequest.clientIp is not an IP address"),
        }
    }
}

/// The one form of a client address that counting, the allowlist and the IP
/// sets all use: an IPv4-mapped IPv6 address (`::ffff:198.51.100.7`, as a
/// dual-stack proxy writes it into `X-Forwarded-For`) is the IPv4 address it
/// carries. Left mapped, it would slip past an IPv4 `ALLOW_CIDRS` entry and
/// be blocked in the IPv6 set, where it never matches the IPv4 traffic.
pub fn normalise(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

fn parse_ip(raw: RawStr<'_>) -> Option<IpAddr> {
    if let Some(v4) = dotted_quad(raw.raw()) {
        return Some(IpAddr::V4(v4));
    }
    std::str::from_utf8(raw.raw()).ok()?.parse().ok()
}

/// The plain form of an IPv4 address, which nearly every record holds,
/// read without std's general parser (a large part of a line's cost).
/// Accepts a subset of what std accepts (no leading zeros, as std), so
/// anything else goes to std and the answer is the same.
fn dotted_quad(raw: &[u8]) -> Option<std::net::Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if raw.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut value = 0u16;
        while let Some(&d @ b'0'..=b'9') = raw.get(i) {
            if i - start == 3 {
                return None;
            }
            value = value * 10 + u16::from(d - b'0');
            i += 1;
        }
        let digits = i - start;
        if digits == 0 || (digits > 1 && raw[start] == b'0') {
            return None;
        }
        *octet = u8::try_from(value).ok()?;
    }
    (i == raw.len()).then_some(octets.into())
}

/// [`pick_hop`] of a header value as the line holds it: a plain IPv4
/// address is read from the raw bytes, without decoding the value first.
fn pick_hop_raw(value: RawStr<'_>, hop: usize) -> Option<IpAddr> {
    if !value.escaped {
        // An entry that is a dotted quad once ASCII spaces are trimmed is
        // the one `pick_hop` finds too: ',' is one byte in UTF-8, and the
        // Unicode spaces it trims are never digits.
        let entry = value
            .raw()
            .rsplit(|&b| b == b',')
            .nth(hop.checked_sub(1)?)?;
        if let Some(v4) = dotted_quad(entry.trim_ascii()) {
            return Some(IpAddr::V4(v4));
        }
    }
    pick_hop(&value.text(), hop)
}

/// The `hop`-th address from the right of a comma-separated header value;
/// a port (`1.2.3.4:80`, `[2001:db8::1]:443`) is dropped.
pub fn pick_hop(value: &str, hop: usize) -> Option<IpAddr> {
    let entry = value.rsplit(',').nth(hop.checked_sub(1)?)?.trim();
    if let Some(v4) = dotted_quad(entry.as_bytes()) {
        return Some(IpAddr::V4(v4));
    }
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    if let Some(rest) = entry.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, port) = entry.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn detection() -> Detection {
        Detection {
            threshold: 3,
            window_seconds: 300,
            count_actions: ALL_ACTIONS.iter().map(|s| s.to_string()).collect(),
            count_labels: vec![],
            count_rules: vec![],
            ignore_uri_suffixes: vec![],
            uri_rules: vec![],
            client_ip: ClientIp::Connection,
        }
    }

    fn line(ts: i64, ip: &str, action: &str, uri: &str, extra: &str) -> String {
        format!(
            r#"{{"timestamp":{ts},"action":"{action}","terminatingRuleId":"Default_Action","httpRequest":{{"clientIp":"{ip}","headers":[{{"name":"X-Forwarded-For","value":"6.6.6.6, 198.51.100.1"}}],"uri":"{uri}"}}{extra}}}"#
        )
    }

    fn count(d: &Detection, lines: &[String]) -> Counts {
        let mut c = Counter::new(d.clone());
        for l in lines {
            c.line(l.as_bytes());
        }
        c.finish()
    }

    #[test]
    fn windows_are_aligned_to_utc() {
        let d = detection();
        let c = count(
            &d,
            &[
                line(1_700_000_099_999, "192.0.2.1", "ALLOW", "/", ""),
                line(1_700_000_100_000, "192.0.2.1", "ALLOW", "/", ""),
            ],
        );
        let mut windows: Vec<i64> = c.tallies.keys().map(|k| k.window).collect();
        windows.sort();
        assert_eq!(windows, [1_699_999_800, 1_700_000_100]);
    }

    #[test]
    fn actions_labels_rules_and_uri_rules_select_what_counts() {
        let mut d = detection();
        d.count_actions = vec!["BLOCK".into()];
        d.uri_rules = serde_json::from_str(
            r#"[{"path":"/login","threshold":20},{"path":"/static/*","ignore":true}]"#,
        )
        .unwrap();
        d.ignore_uri_suffixes = vec![".png".into()];
        let c = count(
            &d,
            &[
                line(0, "192.0.2.1", "ALLOW", "/", ""),
                line(0, "192.0.2.1", "BLOCK", "/", ""),
                line(0, "192.0.2.1", "BLOCK", "/login", ""),
                line(0, "192.0.2.1", "BLOCK", "/static/app.js", ""),
                line(0, "192.0.2.1", "BLOCK", "/logo.png", ""),
            ],
        );
        assert_eq!(c.counted, 2);
        assert_eq!(c.not_counted, 3);
        let login = Key {
            ip: "192.0.2.1".parse().unwrap(),
            window: 0,
            rule: Some(0),
        };
        assert_eq!(c.tallies[&login].count, 1);
        assert_eq!(d.threshold_for(Some(0)), 20);
        assert_eq!(d.rule_name(Some(0)), "/login");

        let mut d = detection();
        d.count_labels = vec!["awswaf:managed:aws:known-bad-inputs:Log4JRCE_Header".into()];
        d.count_rules = vec!["ScannerRule".into()];
        let c = count(
            &d,
            &[
                line(
                    0,
                    "192.0.2.1",
                    "BLOCK",
                    "/",
                    r#","labels":[{"name":"awswaf:managed:aws:known-bad-inputs:Log4JRCE_Header"}]"#,
                ),
                line(
                    0,
                    "192.0.2.1",
                    "BLOCK",
                    "/",
                    r#","labels":[{"name":"other"}]"#,
                ),
                line(0, "192.0.2.1", "BLOCK", "/", ""),
                line(0, "192.0.2.1", "BLOCK", "/", "").replace("Default_Action", "ScannerRule"),
            ],
        );
        assert_eq!((c.counted, c.not_counted), (2, 2));
    }

    #[test]
    fn the_client_ip_can_come_from_a_header_hop() {
        let mut d = detection();
        d.client_ip = ClientIp::Header {
            name: "x-forwarded-for".into(),
            hop: 1,
        };
        let c = count(&d, &[line(0, "10.0.0.9", "ALLOW", "/", "")]);
        let ips: Vec<IpAddr> = c.tallies.keys().map(|k| k.ip).collect();
        assert_eq!(ips, ["198.51.100.1".parse::<IpAddr>().unwrap()]);
        d.client_ip = ClientIp::Header {
            name: "x-forwarded-for".into(),
            hop: 2,
        };
        let c = count(&d, &[line(0, "10.0.0.9", "ALLOW", "/", "")]);
        assert!(c.tallies.keys().all(|k| k.ip.to_string() == "6.6.6.6"));
        // A hop beyond the header falls back to the connection address.
        d.client_ip = ClientIp::Header {
            name: "x-forwarded-for".into(),
            hop: 5,
        };
        let c = count(&d, &[line(0, "10.0.0.9", "ALLOW", "/", "")]);
        assert!(c.tallies.keys().all(|k| k.ip.to_string() == "10.0.0.9"));
        assert_eq!(c.client_ip_fallbacks, 1);
    }

    #[test]
    fn ipv4_mapped_addresses_are_counted_as_ipv4() {
        let mut d = detection();
        d.client_ip = ClientIp::Header {
            name: "x-forwarded-for".into(),
            hop: 1,
        };
        let mapped = line(0, "::ffff:192.0.2.9", "ALLOW", "/", "")
            .replace("6.6.6.6, 198.51.100.1", "::ffff:198.51.100.1");
        let c = count(&d, std::slice::from_ref(&mapped));
        let ips: Vec<String> = c.tallies.keys().map(|k| k.ip.to_string()).collect();
        assert_eq!(ips, ["198.51.100.1"]);
        d.client_ip = ClientIp::Connection;
        let c = count(&d, &[mapped]);
        let ips: Vec<String> = c.tallies.keys().map(|k| k.ip.to_string()).collect();
        assert_eq!(ips, ["192.0.2.9"]);
        assert_eq!(
            normalise("2001:db8::1".parse().unwrap()).to_string(),
            "2001:db8::1"
        );
    }

    #[test]
    fn the_fast_ipv4_reader_agrees_with_std() {
        let mut rng = fastrand::Rng::with_seed(3);
        let alphabet = b"0123456789.:a ";
        let mut accepted = 0;
        for i in 0..200_000 {
            let text: Vec<u8> = if i % 2 == 0 {
                (0..rng.usize(..16))
                    .map(|_| alphabet[rng.usize(..alphabet.len())])
                    .collect()
            } else {
                let octet = |rng: &mut fastrand::Rng| match rng.u8(..4) {
                    0 => format!("0{}", rng.u8(..)),
                    1 => rng.u16(..400).to_string(),
                    _ => rng.u8(..).to_string(),
                };
                let n = rng.usize(3..6);
                (0..n)
                    .map(|_| octet(&mut rng))
                    .collect::<Vec<_>>()
                    .join(".")
                    .into_bytes()
            };
            let std = std::str::from_utf8(&text)
                .ok()
                .and_then(|t| t.parse::<std::net::Ipv4Addr>().ok());
            if let Some(fast) = dotted_quad(&text) {
                accepted += 1;
                assert_eq!(Some(fast), std, "{:?}", String::from_utf8_lossy(&text));
            }
            let raw = RawStr {
                raw: &text,
                escaped: false,
            };
            let general = std::str::from_utf8(&text)
                .ok()
                .and_then(|t| t.parse::<IpAddr>().ok());
            assert_eq!(parse_ip(raw), general);
        }
        assert!(accepted > 3_000, "{accepted}");
    }

    #[test]
    fn hops_with_ports_and_ipv6() {
        assert_eq!(
            pick_hop("1.1.1.1, 2.2.2.2:8080", 1),
            Some("2.2.2.2".parse().unwrap())
        );
        assert_eq!(
            pick_hop("[2001:db8::1]:443", 1),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            pick_hop("2001:db8::2", 1),
            Some("2001:db8::2".parse().unwrap())
        );
        assert_eq!(pick_hop("garbage", 1), None);
        assert_eq!(pick_hop("1.1.1.1", 0), None);
    }

    /// A header value read from its raw bytes picks what the decoded text
    /// picks, spaces Unicode trims and ASCII does not, escapes and bytes that
    /// are not UTF-8 included.
    #[test]
    fn a_hop_read_from_raw_bytes_is_the_decoded_texts() {
        let values: [&[u8]; 11] = [
            b"198.51.100.7",
            b"6.6.6.6, 198.51.100.7",
            b" 6.6.6.6 ,\t198.51.100.7\t",
            b"6.6.6.6,\xc2\xa0198.51.100.7",
            b"6.6.6.6,\x0b198.51.100.7",
            b"\xff\xfe, 198.51.100.7",
            b"198.51.100.7:8080, 2001:db8::1",
            b",,",
            b"",
            b"01.2.3.4, 1.2.3.4",
            b"6.6.6.6, 198.51.100.\\u0037",
        ];
        for value in values {
            for escaped in [false, true] {
                let raw = RawStr {
                    raw: value,
                    escaped,
                };
                for hop in 0..4 {
                    assert_eq!(
                        pick_hop_raw(raw, hop),
                        pick_hop(&raw.text(), hop),
                        "{:?} {escaped} {hop}",
                        String::from_utf8_lossy(value)
                    );
                }
            }
        }
    }

    #[test]
    fn malformed_lines_are_counted_with_examples() {
        let d = detection();
        let mut lines = vec![line(0, "not-an-ip", "ALLOW", "/", "")];
        for i in 0..10 {
            lines.push(format!("{{\"broken\": {i}"));
        }
        lines.push(line(0, "192.0.2.1", "ALLOW", "/", ""));
        let c = count(&d, &lines);
        assert_eq!(c.malformed, 11);
        assert_eq!(c.counted, 1);
        assert_eq!(c.malformed_examples.len(), MALFORMED_EXAMPLES);
        assert_eq!(
            c.malformed_examples[0].reason,
            "httpRequest.clientIp is not an IP address"
        );
        assert_eq!(c.malformed_examples[1].line, 2);
    }
}
