//! Hostile input for the extractor's fast paths (the `{"timestamp":` start,
//! the `"httpRequest":{"clientIp":"` literal, the bytes a record shares with
//! one read before it, the header element in WAF's shape), `pick_hop`'s own
//! IPv4 parser, and the gzip decoder reading the scan's buffer: each checked
//! against serde_json or std, at every alignment of the index's 64-byte
//! blocks.

use serde_json::{Value, json};
use toilkit_tests::json::{has_duplicate_keys, waf_header};
use waf_log::stream::{Flow, Threads, scan_lines_with};
use waf_log::{Extractor, Wanted, detect::pick_hop};

const NONE: Wanted = Wanted {
    terminating_rule_id: false,
    uri: false,
    labels: false,
};
const LABELS: Wanted = Wanted {
    terminating_rule_id: false,
    uri: false,
    labels: true,
};

/// The function's default settings with a rule filter: what a record shares
/// with one before it is read from the bytes it shares.
const RULE: Wanted = Wanted {
    terminating_rule_id: true,
    uri: false,
    labels: false,
};

const CONFIGS: [(Option<&str>, Wanted); 7] = [
    (None, NONE),
    (None, RULE),
    (None, LABELS),
    (None, Wanted::ALL),
    (Some("X-Real-IP"), NONE),
    (Some("x-real-ip"), Wanted::ALL),
    (Some("X-REAL-IP"), LABELS),
];

type Read = (
    i64,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Vec<String>,
);

/// What serde_json reads of the fields a configuration uses, for a record
/// without duplicate keys; `None` when it is no usable record.
fn reference(line: &str, header: Option<&str>, wanted: Wanted) -> Option<Read> {
    let v: Value = serde_json::from_str(line).ok()?;
    let ts = v.get("timestamp")?.as_i64()?;
    if ts < 0 {
        return None;
    }
    let action = v.get("action")?.as_str()?.to_owned();
    // Optional fields: absent is `None`, present must be a string.
    let optional = |v: Option<&Value>| match v {
        None => Some(None),
        Some(s) => s.as_str().map(|s| Some(s.to_owned())),
    };
    let rule = if wanted.terminating_rule_id {
        optional(v.get("terminatingRuleId"))?
    } else {
        None
    };
    let req = v.get("httpRequest")?;
    let ip = req.get("clientIp")?.as_str()?.to_owned();
    let uri = if wanted.uri {
        optional(req.get("uri"))?
    } else {
        None
    };
    let header = header.and_then(|h| waf_header(&v, h).map(str::to_owned));
    let labels = if wanted.labels {
        // Anything but an array of objects is no labels; a label's name
        // must be a string.
        let empty = Vec::new();
        let labels = v.get("labels").and_then(Value::as_array).unwrap_or(&empty);
        let mut names = Vec::new();
        for name in labels.iter().filter_map(|l| l.as_object()?.get("name")) {
            names.push(name.as_str()?.to_owned());
        }
        names
    } else {
        Vec::new()
    };
    Some((ts, action, rule, ip, uri, header, labels))
}

fn extracted(line: &str, header: Option<&str>, wanted: Wanted) -> Option<Read> {
    extracted_by(
        &mut Extractor::reading(header, wanted),
        line,
        header,
        wanted,
    )
}

/// What `x`, made for `header` and `wanted`, reads of `line` after the lines
/// it read before.
fn extracted_by(
    x: &mut Extractor,
    line: &str,
    header: Option<&str>,
    wanted: Wanted,
) -> Option<Read> {
    let f = x.extract(line.as_bytes()).ok()?;
    let labels = if wanted.labels {
        x.labels(line.as_bytes())
            .map(|l| l.text().into_owned())
            .collect()
    } else {
        Vec::new()
    };
    Some((
        f.timestamp_ms,
        f.action.text().into_owned(),
        wanted
            .terminating_rule_id
            .then(|| f.terminating_rule_id.map(|r| r.text().into_owned()))
            .flatten(),
        f.client_ip.text().into_owned(),
        wanted
            .uri
            .then(|| f.uri.map(|u| u.text().into_owned()))
            .flatten(),
        header.and(f.header).map(|h| h.text().into_owned()),
        labels,
    ))
}

fn agrees(line: &str) {
    for (header, wanted) in CONFIGS {
        assert_eq!(
            extracted(line, header, wanted),
            reference(line, header, wanted),
            "{header:?} {wanted:?}\n{line}"
        );
    }
}

/// Text an attacker can put in a header name or value, the URI or the
/// arguments, aimed at each fast path.
const HOSTILE: [&str; 12] = [
    r#""httpRequest":{"clientIp":"6.6.6.6""#,
    r#"\"httpRequest":{"clientIp":"6.6.6.6""#,
    r#"\\"httpRequest":{"clientIp":"6.6.6.6""#,
    r#"\\\"httpRequest":{"clientIp":"6.6.6.6""#,
    r#"x"},"httpRequest":{"clientIp":"6.6.6.6","x":"y"#,
    r#"]}]}}{"timestamp":1,"action":"BLOCK","httpRequest":{"clientIp":"6.6.6.6"}}"#,
    r#"{"name":"X-Real-IP","value":"6.6.6.6"}"#,
    r#"","value":"6.6.6.6"#,
    r#"x-real-ip","value":"6.6.6.6"},{"name":"a"#,
    r#"{"timestamp":1,"action":"BLOCK""#,
    "trailing backslash \\",
    "\\\\\\\\\\\\\\\\\\",
];

fn record(pad: usize, text: &str, client_ip_first: bool, place: usize) -> String {
    let t = |k: usize| if k == place { text } else { "ok" };
    let headers = json!([
        {"name": t(0), "value": "v"},
        {"name": "X-Real-IP", "value": "203.0.113.1"},
        {"name": "a", "value": t(1)},
        {"name": t(2), "value": t(3)},
    ]);
    let request = if client_ip_first {
        json!({"clientIp": "192.0.2.7", "country": "NL", "headers": headers, "uri": t(4), "args": t(5)})
    } else {
        json!({"args": t(5), "clientIp": "192.0.2.7", "headers": headers, "uri": t(4)})
    };
    // serde_json writes keys sorted, so the record is built by hand in
    // WAF's order.
    format!(
        r#"{{"timestamp":1700000000123,"formatVersion":1,"webaclId":{},"terminatingRuleId":"Default_Action","action":"ALLOW","ruleGroupList":[{{"ruleGroupId":{},"x":null}}],"httpRequest":{},"labels":[{{"name":"awswaf:x"}}],"requestBodySize":{}}}"#,
        json!("p".repeat(pad)),
        json!(t(6)),
        request,
        if place == 7 { 1 } else { 2 },
    )
}

/// Every hostile text, in every place, at every alignment to the index's
/// blocks: the fields read are always serde_json's.
#[test]
fn request_text_never_becomes_a_field_at_any_alignment() {
    for text in HOSTILE {
        for place in 0..8 {
            for client_ip_first in [true, false] {
                for pad in 0..70 {
                    let line = record(pad, text, client_ip_first, place);
                    agrees(&line);
                }
            }
        }
    }
}

/// `\u0022` is a quote to serde_json but no quote byte: the literal and the
/// header shape must not be found through it, nor a header name missed.
#[test]
fn unicode_escaped_quotes_are_text() {
    let lines = [
        r#"{"timestamp":5,"action":"ALLOW","webaclId":"\u0022httpRequest\u0022:{\u0022clientIp\u0022:\u00226.6.6.6","httpRequest":{"clientIp":"192.0.2.7","headers":[{"name":"X-Real-\u0049P","value":"203.0.113.\u0039"},{"name":"a","value":"\u0022,\u0022value\u0022:\u00226.6.6.6"}],"uri":"/"},"labels":[]}"#,
        r#"{"timestamp":5,"action":"ALLOW","httpRequest":{"clientIp":"192.0.2.7","headers":[{"name":"X-Real-IP\u0022","value":"6.6.6.6"},{"name":"X-Real-IP","value":"203.0.113.9"},{"name":"x\\","value":"6.6.6.6\\"}],"uri":"/"},"labels":[]}"#,
    ];
    for line in lines {
        agrees(line);
    }
}

/// Header elements: case, repetition (the last one), values that are not
/// strings or missing, elements not written as WAF writes them.
#[test]
fn header_elements_read_as_serde_json_reads_them() {
    let elements = [
        r#"{"name":"x-real-ip","value":"203.0.113.1"},{"name":"X-REAL-IP","value":"203.0.113.2"}"#,
        r#"{"name":"X-Real-IP","value":"203.0.113.1"},{"name":"X-Real-IP-2","value":"6.6.6.6"},{"name":"X-Real-I","value":"6.6.6.6"}"#,
        r#"{ "name" : "X-Real-IP" , "value" : "203.0.113.1" }"#,
        r#"{"value":"203.0.113.1","name":"X-Real-IP"}"#,
        r#"{"name":"X-Real-IP","value":"203.0.113.1","extra":"\"name\":\"X-Real-IP\",\"value\":\"6.6.6.6\""}"#,
        r#"{"name":"a\",\"value\":\"6.6.6.6","value":"x"},{"name":"X-Real-IP","value":"a\"}},{\"name\":\"X-Real-IP\",\"value\":\"6.6.6.6"}"#,
        r#"{"name":"","value":""},{"name":"X-Real-IP","value":""}"#,
        r#"{"name":"X-Real-IP","value":"203.0.113.1"},{"name":"X-Real-IP"}"#,
        r#"{"name":"X-Real-IP","value":"203.0.113.1"},"name","X-Real-IP",null,[{"name":"X-Real-IP","value":"6.6.6.6"}]"#,
    ];
    for (k, elements) in elements.iter().enumerate() {
        for pad in 0..66 {
            let line = format!(
                r#"{{"timestamp":5,"webaclId":"{}","action":"ALLOW","httpRequest":{{"clientIp":"192.0.2.7","headers":[{elements}],"uri":"/"}},"labels":[]}}"#,
                "p".repeat(pad)
            );
            if k == 7 {
                // A repeated header without a value: serde_json's last
                // value is the earlier one's, so is the extractor's.
                assert!(reference(&line, Some("x-real-ip"), NONE).is_some());
            }
            agrees(&line);
        }
    }
}

/// Non-string header values under the wanted name: never a value, and
/// never a panic.
#[test]
fn a_wanted_header_with_a_value_not_a_string_is_not_read_as_one() {
    for value in ["5", "null", r#"["6.6.6.6"]"#, r#"{"v":"6.6.6.6"}"#, "true"] {
        let line = format!(
            r#"{{"timestamp":5,"action":"ALLOW","httpRequest":{{"clientIp":"192.0.2.7","headers":[{{"name":"X-Real-IP","value":{value}}}],"uri":"/"}}}}"#
        );
        let mut x = Extractor::reading(Some("X-Real-IP"), NONE);
        if let Ok(f) = x.extract(line.as_bytes()) {
            assert_eq!(f.header, None, "{line}");
        }
    }
}

/// The timestamp of a line that starts `{"timestamp":`, read eight digits
/// at a time: a number serde_json reads is read the same, or refused;
/// anything serde_json refuses is refused.
#[test]
fn the_first_member_timestamp_is_read_as_serde_json_reads_it() {
    let numbers = [
        "0",
        "1",
        "12345678",
        "123456789",
        "1700000000123",
        "99999999",
        "100000000",
        "999999999999999999",
        "1000000000000000000",
        "9223372036854775807",
        "9223372036854775808",
        "99999999999999999999999",
        "-1",
        "-1700000000123",
        "1e3",
        "1.5",
        "12345678.5",
        "12345678e1",
        "1234567890123E2",
        "12345678-",
        "1700000000123 ",
        " 1700000000123",
        "\t1700000000123\n",
        "\"1700000000123\"",
        "",
        "null",
        "+1",
        "-0",
        "1700000000123\"",
        "12345678{",
        "1700000000123]",
    ];
    let mut wrong = Vec::new();
    for n in numbers {
        for tail in [
            r#","action":"ALLOW","httpRequest":{"clientIp":"192.0.2.7","uri":"/"},"labels":[]}"#,
            r#","action":"ALLOW","httpRequest":{"clientIp":"192.0.2.7","uri":"/"},"labels":[],"terminatingRuleId":"r"}"#,
        ] {
            for line in [
                format!(r#"{{"timestamp":{n}{tail}"#),
                format!(r#"{{"timestamp" :{n}{tail}"#),
                format!(r#" {{"timestamp":{n}{tail}"#),
                format!(r#"{{"action":"ALLOW","timestamp":{n}{}"#, &tail[17..]),
            ] {
                for (header, wanted) in CONFIGS {
                    let (got, want) = (
                        extracted(&line, header, wanted),
                        reference(&line, header, wanted),
                    );
                    if got != want {
                        wrong.push(format!(
                            "{line}\n  got {:?} want {:?}",
                            got.map(|g| g.0),
                            want.map(|w| w.0)
                        ));
                        break;
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Lines cut short, at every byte: none is read as a record, and none
/// panics.
#[test]
fn every_prefix_of_a_record_is_refused() {
    let line = record(3, HOSTILE[4], true, 3);
    let whole = reference(&line, None, NONE).unwrap();
    for cut in 0..line.len() {
        let prefix = &line[..cut];
        for (header, wanted) in CONFIGS {
            // A cut just after a brace is taken for the record's end once
            // the fields wanted are read (the documented price of stopping
            // early): then the fields must still be the record's own.
            match extracted(prefix, header, wanted) {
                None => {}
                Some(got) => {
                    assert!(prefix.ends_with('}'), "{header:?} {wanted:?} {prefix}");
                    assert_eq!((got.0, &got.3), (whole.0, &whole.3), "{prefix}");
                }
            }
            let closed = format!("{prefix}}}");
            let mut x = Extractor::reading(header, wanted);
            let _ = x.extract(closed.as_bytes());
        }
    }
}

/// The hop parser before its own IPv4 reader: std's parse, then the port
/// and bracket forms.
fn pick_hop_with_std(value: &str, hop: usize) -> Option<std::net::IpAddr> {
    let entry = value.rsplit(',').nth(hop.checked_sub(1)?)?.trim();
    if let Ok(ip) = entry.parse() {
        return Some(ip);
    }
    if let Some(rest) = entry.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, port) = entry.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>()
        .ok()
        .map(std::net::IpAddr::V4)
}

#[test]
fn pick_hop_reads_as_std_reads() {
    let entries = [
        "1.2.3.4",
        "01.2.3.4",
        "1.2.3.04",
        "0.0.0.0",
        "255.255.255.255",
        "256.1.1.1",
        "1.2.3.256",
        "1.2.3",
        "1.2.3.4.5",
        "1.2.3.4 ",
        " 1.2.3.4\t",
        "1.2.3.4\u{a0}",
        "::ffff:1.2.3.4",
        "::1.2.3.4",
        "",
        " ",
        "1..2.3",
        ".1.2.3",
        "1.2.3.",
        "1.2.3.4:80",
        "1.2.3.4:",
        "1.2.3.4:99999",
        "[1.2.3.4]",
        "[::1]:80",
        "1.2.3.4x",
        "1.2.3.-4",
        "1.2.3.+4",
        "1.2.3.4\0",
        "0001.2.3.4",
        "1.2.3.1234",
        "١.2.3.4",
        "1.2.3.4,",
    ];
    for a in entries {
        for b in ["", "9.9.9.9, ", "x,"] {
            let value = format!("{b}{a}");
            for hop in 0..4 {
                assert_eq!(
                    pick_hop(&value, hop),
                    pick_hop_with_std(&value, hop),
                    "{value:?} {hop}"
                );
            }
        }
    }
    let mut rng = fastrand::Rng::with_seed(19);
    let alphabet = b"0123456789.:, []\tx";
    for _ in 0..50_000 {
        let n = rng.usize(..20);
        let value: String = (0..n)
            .map(|_| alphabet[rng.usize(..alphabet.len())] as char)
            .collect();
        for hop in 1..3 {
            assert_eq!(
                pick_hop(&value, hop),
                pick_hop_with_std(&value, hop),
                "{value:?}"
            );
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn scan(data: &[u8]) -> std::io::Result<Vec<(u64, Option<Vec<u8>>)>> {
    let mut results = Vec::new();
    for threads in [Threads::One, Threads::Two] {
        let mut seen = Vec::new();
        scan_lines_with(data, threads, |n, l| {
            seen.push((n, l.map(<[u8]>::to_vec)));
            Flow::Continue
        })?;
        results.push(seen);
    }
    assert_eq!(results[0], results[1]);
    Ok(results.pop().unwrap())
}

/// Members split anywhere (mid-line, empty members, one member per byte at
/// a buffer edge) give the lines of the plain text.
#[test]
fn gzip_members_split_anywhere_give_the_plain_lines() {
    let mut text = Vec::new();
    for i in 0..3000u32 {
        text.extend(format!("line {i} {}\n", "x".repeat((i as usize * 131) % 700)).bytes());
    }
    text.extend(b"z".repeat(300_000));
    text.extend(b"\nlast");
    let plain = scan(&text).unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..3 {
        let mut data = gzip(b"");
        let mut at = 0;
        while at < text.len() {
            let n = rng.usize(..=text.len().min(200_000)).min(text.len() - at);
            data.extend(gzip(&text[at..at + n]));
            if rng.bool() {
                data.extend(gzip(b""));
            }
            at += n;
        }
        data.extend(gzip(b""));
        assert_eq!(scan(&data).unwrap(), plain);
    }
}

/// A gzip cut short, or followed by bytes that are no member, is an error,
/// not a partial last line read as whole.
#[test]
fn a_truncated_or_trailing_garbage_gzip_is_an_error() {
    let text = b"{\"timestamp\":1}\n{\"timestamp\":2}".repeat(20_000);
    let data = gzip(&text);
    for cut in [data.len() - 1, data.len() - 8, data.len() / 2, 11] {
        assert!(scan(&data[..cut]).is_err(), "cut at {cut}");
    }
    let mut trailing = data.clone();
    trailing.extend(b"garbage!garbage!");
    assert!(scan(&trailing).is_err());
}

/// Random edits of WAF-shaped records (structure characters, backslashes,
/// digits, the literals the fast paths look for): whenever serde_json
/// still reads the result as a record without duplicate keys, the extractor
/// reads the same fields.
#[test]
fn edited_records_that_stay_json_read_as_serde_json_reads_them() {
    let pieces: [&[u8]; 14] = [
        b"\"",
        b"\\",
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b" ",
        b"7",
        br#""httpRequest":{"clientIp":""#,
        br#"{"name":""#,
        br#"","value":""#,
        b"{\"timestamp\":",
    ];
    let mut rng = fastrand::Rng::with_seed(1919);
    let mut checked = 0;
    let rounds = std::env::var("HOSTILE_ROUNDS").map_or(20_000, |r| r.parse().unwrap());
    for _ in 0..rounds {
        let text = HOSTILE[rng.usize(..HOSTILE.len())];
        let mut line = record(rng.usize(..70), text, rng.bool(), rng.usize(..8)).into_bytes();
        for _ in 0..rng.usize(1..4) {
            let at = rng.usize(..=line.len());
            match rng.u8(..3) {
                0 => {
                    let p = pieces[rng.usize(..pieces.len())];
                    line.splice(at..at, p.iter().copied());
                }
                1 if at < line.len() => {
                    line.remove(at);
                }
                _ if at < line.len() => line[at] = pieces[rng.usize(..10)][0],
                _ => {}
            }
        }
        let Ok(line) = String::from_utf8(line) else {
            continue;
        };
        if serde_json::from_str::<Value>(&line).is_err() || has_duplicate_keys(&line) {
            // Not JSON: only no panic is asked here.
            for (header, wanted) in CONFIGS {
                let _ = extracted(&line, header, wanted);
            }
            continue;
        }
        checked += 1;
        agrees(&line);
    }
    eprintln!("{checked} of {rounds} edited records were JSON");
    assert!(checked > rounds / 50, "{checked}");
}

/// The records of an object mostly share what comes between their timestamp
/// and their request, and a record whose bytes there equal an earlier one's
/// is read without indexing them again. Across one scan, with each record
/// read after a clean one and edited anywhere (in those shared bytes, in the
/// client IP, after it), every record still reads as serde_json reads it.
#[test]
fn records_read_after_others_read_as_serde_json_reads_them() {
    const CLIENT_IP: &str = r#""httpRequest":{"clientIp":""#;
    // The bytes from the end of the timestamp to the end of the literal.
    let shared = |line: &str| {
        let after = line.find(',')?;
        let end = after + line[after..].find(CLIENT_IP)? + CLIENT_IP.len();
        Some(line[after..end].to_owned())
    };
    let mut extractors: Vec<Extractor> = CONFIGS
        .iter()
        .map(|&(header, wanted)| Extractor::reading(header, wanted))
        .collect();
    let mut read = |line: &str| {
        let json = serde_json::from_str::<Value>(line).is_ok() && !has_duplicate_keys(line);
        for (x, &(header, wanted)) in extractors.iter_mut().zip(&CONFIGS) {
            let got = extracted_by(x, line, header, wanted);
            if json {
                assert_eq!(
                    got,
                    reference(line, header, wanted),
                    "{header:?} {wanted:?}\n{line}"
                );
            }
        }
        json
    };
    let edits: [&str; 9] = ["\"", "\\", "{", "}", "[", "]", ",", ":", r#"\""#];
    let mut rng = fastrand::Rng::with_seed(2026);
    let (mut same_prefix, mut checked) = (0, 0);
    let rounds = std::env::var("HOSTILE_ROUNDS").map_or(20_000, |r| r.parse().unwrap());
    for _ in 0..rounds {
        let pad = rng.usize(..70);
        let clean = waf_record(pad, "ok", 0);
        read(&clean);
        let mut line = waf_record(pad, HOSTILE[rng.usize(..HOSTILE.len())], rng.usize(..7));
        // Edits anywhere, but mostly near the client IP, where a record
        // read from the shared bytes is read differently.
        let near = line.find(CLIENT_IP).unwrap() + CLIENT_IP.len();
        for _ in 0..rng.usize(..3) {
            let at = if rng.bool() {
                rng.usize(near.saturating_sub(40)..(near + 20).min(line.len()))
            } else {
                rng.usize(..line.len())
            };
            if !line.is_char_boundary(at) {
                continue;
            }
            if rng.bool() {
                line.insert_str(at, edits[rng.usize(..edits.len())]);
            } else if line[at..].chars().next().is_some() {
                line.remove(at);
            }
        }
        if shared(&line).is_some() && shared(&line) == shared(&clean) {
            same_prefix += 1;
        }
        if read(&line) {
            checked += 1;
        }
    }
    eprintln!("{checked} of {rounds} JSON, {same_prefix} sharing the clean record's prefix");
    assert!(checked > rounds / 10, "{checked}");
    assert!(same_prefix > rounds / 4, "{same_prefix}");
}

/// A record in WAF's own order, which [`record`] (serde_json sorts keys)
/// does not keep inside `httpRequest`: the client IP first. `text` goes in
/// place `place`: a rule group, a header name or value, the URI, the
/// arguments, or the client IP itself.
fn waf_record(pad: usize, text: &str, place: usize) -> String {
    let t = |k: usize| if k == place { json!(text) } else { json!("ok") };
    let client_ip = if place == 5 {
        json!(text)
    } else {
        json!("192.0.2.7")
    };
    format!(
        r#"{{"timestamp":1700000000123,"formatVersion":1,"webaclId":{},"terminatingRuleId":"Default_Action","action":"ALLOW","ruleGroupList":[{{"ruleGroupId":{},"x":null}}],"httpRequest":{{"clientIp":{client_ip},"country":"NL","headers":[{{"name":{},"value":"v"}},{{"name":"X-Real-IP","value":{}}}],"uri":{},"args":{}}},"labels":[{{"name":"awswaf:x"}}]}}"#,
        json!("p".repeat(pad)),
        t(0),
        t(1),
        t(2),
        t(3),
        t(4),
    )
}

/// serde_json refuses every one of these timestamps; the key search, which
/// reads no further than the number, must refuse them too.
#[test]
fn a_timestamp_with_leading_zeros_or_trailing_garbage_is_refused() {
    let tail = r#","action":"ALLOW","httpRequest":{"clientIp":"192.0.2.7","uri":"/"},"labels":[]}"#;
    let mut accepted = Vec::new();
    for n in [
        "01700000000123",
        "00",
        "0x10",
        "1234567a",
        "12345678a",
        "1700000000123:",
        "1700000000123 1",
        "0012345678901234567890",
    ] {
        for head in [r#"{"timestamp":"#, r#"{"timestamp" :"#, r#" {"timestamp":"#] {
            let line = format!("{head}{n}{tail}");
            assert!(serde_json::from_str::<Value>(&line).is_err(), "{line}");
            if let Ok(f) = Extractor::reading(None, Wanted::ALL).extract(line.as_bytes()) {
                accepted.push(format!("{line} -> {}", f.timestamp_ms));
            }
        }
    }
    assert!(accepted.is_empty(), "{}", accepted.join("\n"));
    // Zero itself, and whitespace before the comma, stay numbers.
    for n in ["0", "1700000000123 ", "1700000000123\t"] {
        let line = format!(r#"{{"timestamp":{n}{tail}"#);
        let f = Extractor::reading(None, Wanted::ALL)
            .extract(line.as_bytes())
            .unwrap();
        assert_eq!(
            f.timestamp_ms,
            serde_json::from_str::<Value>(&line).unwrap()["timestamp"]
        );
    }
}

/// A body may hand over its first byte alone: the gzip magic must still
/// be seen, or the object is read as text and counts nothing.
#[test]
fn gzip_is_detected_when_the_first_read_is_one_byte() {
    struct Trickle(Vec<u8>, usize);
    impl std::io::Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let want = if self.1 == 0 { 1 } else { out.len() };
            let n = want.min(self.0.len() - self.1).min(out.len());
            out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }
    for threads in [Threads::One, Threads::Two] {
        let mut lines = Vec::new();
        let scanned = scan_lines_with(Trickle(gzip(b"a\nb\n"), 0), threads, |_, l| {
            lines.push(l.map(<[u8]>::to_vec));
            Flow::Continue
        });
        assert!(scanned.as_ref().is_ok_and(|s| s.gzip), "{scanned:?}");
        assert_eq!(lines, [Some(b"a".to_vec()), Some(b"b".to_vec())]);
    }
    // One byte, or none, is plain text.
    for data in [&b"x"[..], b""] {
        let scanned = scan_lines_with(Trickle(data.to_vec(), 0), Threads::One, |_, _| {
            Flow::Continue
        });
        assert!(scanned.is_ok_and(|s| !s.gzip));
    }
}

/// A key the writer put twice is read where first met (request text cannot
/// do this: it is inside strings). The rule is the module doc's.
#[test]
fn a_key_written_twice_is_read_where_first_met() {
    let only_ip = Wanted {
        terminating_rule_id: false,
        uri: false,
        labels: false,
    };
    for (line, ip, ts) in [
        (
            r#"{"timestamp":1,"httpRequest":{"clientIp":"1.1.1.1"},"action":"A","httpRequest":{"clientIp":"2.2.2.2"}}"#,
            "1.1.1.1",
            1,
        ),
        (
            r#"{"timestamp":1,"action":"A","httpRequest":{"clientIp":"1.1.1.1","clientIp":"2.2.2.2"}}"#,
            "1.1.1.1",
            1,
        ),
        (
            r#"{"timestamp":1,"action":"A","httpRequest":{"clientIp":"1.1.1.1"},"timestamp":2}"#,
            "1.1.1.1",
            1,
        ),
    ] {
        let f = Extractor::reading(None, only_ip)
            .extract(line.as_bytes())
            .unwrap();
        assert_eq!(
            (f.client_ip.text().as_ref(), f.timestamp_ms),
            (ip, ts),
            "{line}"
        );
    }
}

/// A key spelled with an escape is the key it decodes to, as serde_json
/// reads it. WAF writes none, but a line that has one must not be read as
/// if that member were missing, by a fresh extractor or by one that read
/// the same record without the escape just before (its prefix known).
#[test]
fn keys_written_with_escapes_are_read_as_serde_json_reads_them() {
    let base = r#"{"timestamp":1700000000000,"terminatingRuleId":"r1","action":"BLOCK","httpRequest":{"clientIp":"192.0.2.1","headers":[{"name":"X-Real-IP","value":"198.51.100.7"},{"name":"via","value":"x"}],"uri":"/a"},"labels":[{"name":"awswaf:a"}]}"#;
    let keys = [
        "timestamp",
        "terminatingRuleId",
        "action",
        "httpRequest",
        "clientIp",
        "headers",
        "uri",
        "labels",
        "name",
        "value",
    ];
    let mut checked = 0;
    for key in keys {
        let quoted = format!("\"{key}\"");
        let escaped = format!("\"\\u{:04x}{}\"", key.as_bytes()[0], &key[1..]);
        for (at, _) in base.match_indices(&quoted) {
            let line = format!("{}{escaped}{}", &base[..at], &base[at + quoted.len()..]);
            for (header, wanted) in CONFIGS {
                let want = reference(&line, header, wanted);
                assert!(want.is_some(), "{line}");
                assert_eq!(
                    extracted(&line, header, wanted),
                    want,
                    "{header:?} {wanted:?}\n{line}"
                );
                let mut x = Extractor::reading(header, wanted);
                x.extract(base.as_bytes()).unwrap();
                assert_eq!(
                    extracted_by(&mut x, &line, header, wanted),
                    want,
                    "after the record without the escape: {header:?} {wanted:?}\n{line}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 80, "{checked}");
}

/// WAF writes `labels` only when a rule labelled the request. A record
/// without them reads as one with no labels, by a fresh extractor and by
/// one that read a record of the same prefix first; where `"labels"` is
/// request text, a key spelled with an escape, or a member in front of the
/// request, it is still read as serde_json reads it.
#[test]
fn records_without_labels_read_as_serde_json_reads_them() {
    let record = |before: &str, country: &str, after: &str| {
        format!(
            r#"{{"timestamp":1700000000000,{before}"terminatingRuleId":"r1","action":"BLOCK","httpRequest":{{"clientIp":"192.0.2.1","country":{country},"headers":[{{"name":"X-Real-IP","value":"198.51.100.7"}}],"uri":"/a"}}{after}}}"#
        )
    };
    let early = r#""labels":[{"name":"early"}],"#;
    // (the record read first, the record checked)
    let cases = [
        (
            record("", r#""NL""#, r#","labels":[{"name":"a"}]"#),
            record("", r#""NL""#, ""),
        ),
        (record("", r#""NL""#, ""), record("", r#""labels""#, "")),
        (
            record("", r#""NL""#, ""),
            record("", r#""\"labels\":[{\"name\":\"x\"}]""#, ""),
        ),
        (
            record("", r#""NL""#, ""),
            record("", r#""NL""#, r#","l\u0061bels":[{"name":"x"}]"#),
        ),
        (record(early, r#""NL""#, ""), record(early, r#""DE""#, "")),
        (record("", r#""NL""#, ""), record(early, r#""DE""#, "")),
    ];
    for (first, line) in &cases {
        for (header, wanted) in CONFIGS {
            assert!(reference(line, header, wanted).is_some(), "{line}");
        }
        agrees_fresh_and_after(first, line);
    }
}

/// `line` is read as serde_json reads it in every configuration, by a fresh
/// extractor and by one that read `first` before it.
fn agrees_fresh_and_after(first: &str, line: &str) {
    for (header, wanted) in CONFIGS {
        let want = reference(line, header, wanted);
        assert_eq!(
            extracted(line, header, wanted),
            want,
            "{header:?} {wanted:?}\n{line}"
        );
        let mut x = Extractor::reading(header, wanted);
        x.extract(first.as_bytes()).unwrap();
        assert_eq!(
            extracted_by(&mut x, line, header, wanted),
            want,
            "after {first}\n{header:?} {wanted:?}\n{line}"
        );
    }
}

/// A record read after one of the same prefix is read in order from its
/// client IP on, with only its quotes indexed, when its rest has no
/// backslash: every kind of member around the request's and the labels',
/// escaped quotes that would end a string early if taken for quotes, and
/// shapes WAF does not write, read as serde_json reads them.
#[test]
fn records_read_in_order_after_a_known_prefix_read_as_serde_json_reads_them() {
    let record = |headers: &str, after_uri: &str, after_request: &str| {
        format!(
            r#"{{"timestamp":1700000000000,"terminatingRuleId":"r1","action":"BLOCK","httpRequest":{{"clientIp":"192.0.2.1","country":"NL","headers":[{headers}],"uri":"/a"{after_uri}}}{after_request}}}"#
        )
    };
    let plain = r#"{"name":"X-Real-IP","value":"198.51.100.7"},{"name":"host","value":"h"}"#;
    let labels = r#","labels":[{"name":"a"},{"name":"b"}]"#;
    let first = record(plain, r#","args":"","requestId":"1""#, labels);
    let lines = [
        first.clone(),
        // Members after the URI of every kind, and none.
        record(plain, "", labels),
        record(plain, r#","n":0,"t":true,"z":null"#, labels),
        record(plain, r#","o":{"a":"}"},"l":["]"]"#, labels),
        record(plain, r#" , "args" : "x" "#, labels),
        // Members between the request and the labels, after them, none.
        record(
            plain,
            "",
            &format!(r#","ja3":"x","n":1,"o":{{"a":[]}}{labels}"#),
        ),
        record(plain, "", &format!(r#"{labels},"ja3":"x","o":{{}}"#)),
        record(plain, "", ""),
        record(plain, "", r#","ja3":"x","o":{"labels":[{"name":"c"}]}"#),
        record(plain, "", r#","labels":[]"#),
        record(plain, "", r#","labels":{"name":"a"}"#),
        record(plain, "", r#","labels":[{"name":"a","x":["]"]},"b",{}]"#),
        // Header arrays WAF does not write, and escaped quotes, which read
        // as quotes would end their string early.
        record(r#"{"value":"198.51.100.9","name":"x-real-ip"}"#, "", labels),
        record(
            r#"{"name":"x-real-ip","value":"1.1.1.1","x":[1]}"#,
            "",
            labels,
        ),
        record(
            r#"{"name":"sec-ch-ua","value":"\"Chromium\";v=\"120\""},{"name":"X-Real-IP","value":"198.51.100.7"}"#,
            "",
            labels,
        ),
        record(
            plain,
            r#","args":"x\"},{\"name\":\"X-Real-IP\",\"value\":\"6.6.6.6\"}],\"labels\":[{\"name\":\"z\"}]}}""#,
            labels,
        ),
        record(plain, "", &format!(r#"{labels},"x":"\"""#)),
        record(plain, "", r#","x":"\",\"labels\":[{\"name\":\"z\"}]""#),
    ];
    for line in &lines {
        if !has_duplicate_keys(line) {
            agrees_fresh_and_after(&first, line);
        }
    }
    // Not JSON after the prefix: read as a fresh extractor reads them, and
    // where the labels are read, refused (as the walk refuses them).
    let broken = [
        (
            record(plain, "", r#","labels":[{"name":"a"x,{"name":"b"}]"#),
            true,
        ),
        (
            record(plain, "", r#","labels":[{"name":"a"}x{"name":"b"}]"#),
            true,
        ),
        (record(plain, "", r#","labels":[{"name":"a"},]"#), true),
        (record(plain, r#","args":"x"x"#, labels), false),
        (record(plain, r#","args""#, labels), false),
        (record(&plain.replace("},{", "}x{"), "", labels), false),
    ];
    for (line, refused) in &broken {
        for (header, wanted) in CONFIGS {
            let fresh = extracted(line, header, wanted);
            let mut x = Extractor::reading(header, wanted);
            x.extract(first.as_bytes()).unwrap();
            let after = extracted_by(&mut x, line, header, wanted);
            assert_eq!(after, fresh, "{header:?} {wanted:?}\n{line}");
            if *refused && wanted.labels {
                assert_eq!(after, None, "{header:?} {wanted:?}\n{line}");
            }
        }
    }
}

/// Records of random shape in WAF's order, each read after a clean record
/// of the same prefix, so that those with a header wanted are read in
/// order: any number of headers of any length (so their strings cross the
/// index's 64-byte blocks anywhere), the wanted name in any case and any
/// number of times, text with quotes, backslashes and brackets, members
/// after the URI and labels or none, against serde_json.
#[test]
fn random_records_read_in_order_read_as_serde_json_reads_them() {
    let string = |text: &str| serde_json::to_string(text).unwrap();
    let names = [
        "host",
        "X-Real-IP",
        "x-real-ip",
        "X-REAL-IP",
        "cookie",
        "x-real-ipx",
        "a",
    ];
    let alphabet: Vec<char> = "ab9.,:{}[]\"\\ é".chars().collect();
    let mut rng = fastrand::Rng::with_seed(1764);
    // Mostly plain text (no quote, no backslash), so most records are read
    // in order; the rest sends them to the index.
    let text = |rng: &mut fastrand::Rng, max: usize| -> String {
        let plain = rng.u8(..16) != 0;
        (0..rng.usize(..max))
            .map(|_| {
                if plain {
                    alphabet[rng.usize(..3)]
                } else {
                    alphabet[rng.usize(..alphabet.len())]
                }
            })
            .collect()
    };
    let prefix = r#"{"timestamp":1700000000000,"terminatingRuleId":"r1","action":"BLOCK","httpRequest":{"clientIp":"#;
    let first =
        format!(r#"{prefix}"192.0.2.1","headers":[],"uri":"/"}},"labels":[{{"name":"a"}}]}}"#);
    let mut read_in_order = 0;
    for _ in 0..3_000 {
        let headers: Vec<String> = (0..rng.usize(..16))
            .map(|_| {
                let name = if rng.u8(..4) == 0 {
                    string(&text(&mut rng, 20))
                } else {
                    string(names[rng.usize(..names.len())])
                };
                format!(
                    r#"{{"name":{name},"value":{}}}"#,
                    string(&text(&mut rng, 90))
                )
            })
            .collect();
        let after_uri: String = (0..rng.usize(..3))
            .map(|k| format!(r#","m{k}":{}"#, string(&text(&mut rng, 30))))
            .collect();
        let labels = match rng.u8(..3) {
            0 => String::new(),
            1 => r#","labels":[]"#.to_owned(),
            _ => {
                let names: Vec<String> = (0..rng.usize(1..4))
                    .map(|_| format!(r#"{{"name":{}}}"#, string(&text(&mut rng, 40))))
                    .collect();
                format!(r#","labels":[{}]"#, names.join(","))
            }
        };
        let line = format!(
            r#"{prefix}"198.51.100.{}","country":"NL","headers":[{}],"uri":{}{after_uri}}}{labels}}}"#,
            rng.u8(..250),
            headers.join(","),
            string(&text(&mut rng, 60)),
        );
        if has_duplicate_keys(&line) {
            continue;
        }
        if !line[prefix.len()..].contains('\\') {
            read_in_order += 1;
        }
        for (header, wanted) in CONFIGS {
            let mut x = Extractor::reading(header, wanted);
            x.extract(first.as_bytes()).unwrap();
            assert_eq!(
                extracted_by(&mut x, &line, header, wanted),
                reference(&line, header, wanted),
                "{header:?} {wanted:?}\n{line}"
            );
        }
    }
    assert!(read_in_order > 1_000, "{read_in_order}");
}
