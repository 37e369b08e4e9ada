//! The WAF log record extractor (`waf_ip_blocker::waf_log::Extractor`) and
//! the counter behind it.
//!
//! Beyond not panicking, the extractor must read the structure as JSON does:
//! whenever the line is valid JSON and the extractor accepts it, the client
//! IP, timestamp and action it returns are the ones a full JSON parser finds
//! at `httpRequest.clientIp`, `timestamp` and `action`. That is what keeps an
//! attacker from planting `"clientIp":"1.2.3.4"` in a header or the URI.
//! The first byte picks the configuration (client IP from the connection or
//! from X-Forwarded-For, label and rule filters, URI rules, the fields read).
//! Every line of the input is read by one extractor, as a scan reads an
//! object's records, so a record can be read from the bytes it shares with
//! one before it.
//!
//! Every address that is counted is in its normal form: an IPv4-mapped IPv6
//! address (`::ffff:198.51.100.7`) is counted as the IPv4 address, so it
//! meets an IPv4 allowlist entry and lands in the IPv4 set. The same holds
//! for whatever `pick_hop` reads from the line as a header value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use shared::pattern::Pattern;
use std::net::IpAddr;

use toilkit_tests::json::{has_duplicate_keys, waf_header};
use waf_ip_blocker::detect::{
    ALL_ACTIONS, ClientIp, Counter, Detection, UriRule, normalise, pick_hop,
};
use waf_ip_blocker::waf_log::{Extractor, Wanted};

fn detection(choice: u8) -> Detection {
    Detection {
        threshold: 1,
        window_seconds: [60, 300, 86_400][usize::from(choice % 3)],
        count_actions: ALL_ACTIONS.iter().map(|a| a.to_string()).collect(),
        count_labels: if choice & 4 != 0 {
            vec!["awswaf:managed:aws:bot-control:bot:category:http_library".to_owned()]
        } else {
            Vec::new()
        },
        count_rules: if choice & 8 != 0 {
            vec!["RateLimit".to_owned()]
        } else {
            Vec::new()
        },
        ignore_uri_suffixes: vec![".png".to_owned()],
        uri_rules: vec![
            UriRule {
                path: Pattern::new("/login*"),
                threshold: Some(20),
                ignore: false,
            },
            UriRule {
                path: Pattern::new("/static/*"),
                threshold: None,
                ignore: true,
            },
        ],
        client_ip: if choice & 16 != 0 {
            ClientIp::Header {
                name: "X-Forwarded-For".to_owned(),
                hop: usize::from(choice >> 5) + 1,
            }
        } else {
            ClientIp::Connection
        },
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&choice, line)) = input.split_first() else {
        return;
    };
    let header = (choice & 16 != 0).then_some("x-forwarded-for");
    // One extractor for every line, as a scan reads them: a record can be
    // read from the bytes it shares with one before it.
    let wanted = Wanted {
        terminating_rule_id: choice & 8 != 0,
        uri: choice & 2 != 0,
        labels: choice & 4 != 0,
    };
    let mut extractor = Extractor::reading(header, wanted);
    for part in line.split(|b| *b == b'\n') {
        agrees(&mut extractor, part, header, wanted.labels);
    }
    let mut counter = Counter::new(detection(choice));
    counter.start_source("fuzz");
    for part in line.split(|b| *b == b'\n') {
        counter.line(part);
    }
    let counts = counter.finish();
    assert_eq!(
        counts.lines,
        counts.counted + counts.not_counted + counts.malformed
    );
    for key in counts.tallies.keys() {
        assert_normal(key.ip);
    }
    if let Ok(text) = std::str::from_utf8(line) {
        if let Some(ip) = pick_hop(text, usize::from(choice >> 5) + 1) {
            let normal = normalise(ip);
            assert_normal(normal);
            match ip {
                IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                    Some(v4) => assert_eq!(normal, IpAddr::V4(v4)),
                    None => assert_eq!(normal, ip),
                },
                IpAddr::V4(_) => assert_eq!(normal, ip),
            }
        }
    }
});

/// When `line` is valid JSON without a key repeated in one object and the
/// extractor accepts it, it read the fields a full JSON parser finds (a
/// repeated key is read where first met; serde_json keeps the last).
fn agrees(extractor: &mut Extractor, line: &[u8], header: Option<&str>, labels: bool) {
    let Ok(fields) = extractor.extract(line) else {
        return;
    };
    let Ok(json) = serde_json::from_slice::<Value>(line) else {
        return;
    };
    if has_duplicate_keys(&String::from_utf8_lossy(line)) {
        return;
    }
    assert_eq!(
        json["httpRequest"]["clientIp"].as_str(),
        Some(fields.client_ip.text().as_ref()),
        "client IP read from the wrong place"
    );
    assert_eq!(json["action"].as_str(), Some(fields.action.text().as_ref()));
    assert_eq!(json["timestamp"].as_i64(), Some(fields.timestamp_ms));
    if let Some(uri) = fields.uri {
        assert_eq!(
            json["httpRequest"]["uri"].as_str(),
            Some(uri.text().as_ref())
        );
    }
    if let Some(rule) = fields.terminating_rule_id {
        assert_eq!(
            json["terminatingRuleId"].as_str(),
            Some(rule.text().as_ref())
        );
    }
    if let Some(wanted) = header {
        assert_eq!(
            fields.header.map(|h| h.text()).as_deref(),
            waf_header(&json, wanted),
            "header read from the wrong place"
        );
    }
    if labels {
        let want: Vec<&str> = json["labels"]
            .as_array()
            .map(|labels| labels.iter().filter_map(|l| l["name"].as_str()).collect())
            .unwrap_or_default();
        let got: Vec<String> = extractor
            .labels(line)
            .map(|l| l.text().into_owned())
            .collect();
        assert_eq!(got, want, "labels read from the wrong place");
    }
}

/// Not an IPv4-mapped IPv6 address, and unchanged by normalising again.
fn assert_normal(ip: IpAddr) {
    if let IpAddr::V6(v6) = ip {
        assert!(
            v6.to_ipv4_mapped().is_none(),
            "{ip} counted in its IPv4-mapped form"
        );
    }
    assert_eq!(normalise(ip), ip);
}
