//! Hostile inputs for the configured-header search (perf19b): the header
//! read must be serde_json's, the last element of `httpRequest.headers`
//! whose `name` equals the configured one without ASCII case.

use toilkit_tests::json::waf_header;
use waf_log::{Extractor, Wanted};

fn by_serde(line: &str, wanted: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).expect(line);
    waf_header(&v, wanted).map(str::to_owned)
}

fn record(headers: &str, pad: usize) -> String {
    format!(
        r#"{{"timestamp":1,"terminatingRuleId":"r","action":"BLOCK","ruleGroupList":[{{"headers":[{{"name":"x-forwarded-for","value":"6.6.6.6"}}]}}],"httpRequest":{{"clientIp":"192.0.2.1","country":"{}","headers":{headers},"uri":"/x-forwarded-for"}},"labels":[{{"name":"x-forwarded-for"}}]}}"#,
        "p".repeat(pad)
    )
}

fn check(headers: &str, wanted: &str) {
    for pad in 0..70 {
        let line = record(headers, pad);
        let want = by_serde(&line, wanted);
        let fewer = Wanted {
            terminating_rule_id: false,
            uri: false,
            labels: false,
        };
        for (configured, reading) in [
            (wanted.to_owned(), Wanted::ALL),
            (wanted.to_ascii_uppercase(), fewer),
            (wanted.to_owned(), fewer),
        ] {
            let mut x = Extractor::reading(Some(&configured), reading);
            let got = x.extract(line.as_bytes()).expect(&line);
            assert_eq!(got.header.map(|h| h.text().into_owned()), want, "{line}");
            assert_eq!(got.client_ip.text(), "192.0.2.1", "{line}");
        }
    }
}

#[test]
fn hostile_header_search_agrees_with_serde() {
    let xff = "x-forwarded-for";
    let cases = [
        r#"[]"#,
        r#"[ ]"#,
        r#"[{"name":"x-forwarded-for","value":"1.1.1.1"}]"#,
        r#"[{"name":"X-Forwarded-For","value":"1.1.1.1"},{"name":"x-FORWARDED-for","value":"2.2.2.2"}]"#,
        r#"[{"name":"a","value":"b"},{"name":"x-forwarded-for","value":""}]"#,
        // Look-alikes of equal length, differing in the middle or by case folding of non-letters.
        r#"[{"name":"x-forwarded-for","value":"1.1.1.1"},{"name":"x-forwardXd-for","value":"6.6.6.6"},{"name":"x\u002dforwarded-for","value":"3.3.3.3"}]"#,
        r#"[{"name":"x-forwarded-for","value":"1.1.1.1"},{"name":"x\rforwarded-for","value":"6.6.6.6"},{"name":"x-forwarded-fOr","value":"4.4.4.4"}]"#,
        r#"[{"name":"x-forwarded-for","value":"1.1.1.1"},{"name":"x-forwarded\u0058for","value":"6.6.6.6"}]"#,
        // Escaped quotes and backslash runs forging an element inside a value.
        r#"[{"name":"a","value":"\\\"},{\"name\":\"x-forwarded-for\",\"value\":\"6.6.6.6\\"}]"#,
        r#"[{"name":"a","value":"\\\\"},{"name":"x-forwarded-for","value":"5.5.5.5"},{"name":"b","value":"\\\\\\\"name\":\"x-forwarded-for\",\"value\":\"6.6.6.6"}]"#,
        r#"[{"name":"a","value":"\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\"},{\"name\":\"x-forwarded-for\",\"value\":\"6.6.6.6"}]"#,
        // Names as values, value before name, extra members, duplicates, non-strings.
        r#"[{"value":"6.6.6.6","name":"x-forwarded-for"}]"#,
        r#"[{"name":"x-forwarded-for","value":"1.1.1.1"},{"value":"x-forwarded-for","name":"a"}]"#,
        r#"[{"name":"x-forwarded-for","value":"1.1.1.1","x":{"name":"x-forwarded-for","value":"6.6.6.6"}}]"#,
        r#"[{"name":"x-forwarded-for","value":"1.1.1.1"},[{"name":"x-forwarded-for","value":"6.6.6.6"}]]"#,
        r#"[{"name":"x-forwarded-for","value":"1.1.1.1"},{"name":"x-forwarded-for","value":"2.2.2.2","value":"3.3.3.3"}]"#,
        r#"[{"name":"x-forwarded-for","value":"1.1.1.1"},{"name":"a","name":"x-forwarded-for","value":"3.3.3.3"}]"#,
        r#"[{"name":"x-forwarded-for","value":"1.1.1.1"},{"name":"x-forwarded-for","name":"a","value":"3.3.3.3"}]"#,
        r#"[{"name":"x-forwarded-for","value":"1.1.1.1"},{ "name" : "x-forwarded-for" , "value" : "2.2.2.2" }]"#,
        r#"[{"name":"x-forwarded-for","value":"1.1.1.1"},{"name":"x-forwarded-for","value":"2.2.2.2"} ]"#,
        r#"[{"name":"a","value":"}]"},{"name":"x-forwarded-for","value":"{[\"]}"}]"#,
        r#"[{"name":"x-forwarded-for","value":"1.1.1.1"},{"name":"x-forwarded-for","value":"2.2.2.2"}]"#,
    ];
    for headers in cases {
        check(headers, xff);
    }
    // Short and odd configured names: folding must not join `@`/`` ` ``, `[`/`{`, or high bytes.
    check(
        r#"[{"name":"`","value":"6"},{"name":"@","value":"1"}]"#,
        "@",
    );
    check(
        r#"[{"name":"{b","value":"6"},{"name":"[b","value":"1"}]"#,
        "[b",
    );
    check(
        r#"[{"name":"x-\u00c9","value":"6"},{"name":"x-é","value":"1"}]"#,
        "x-é",
    );
    check(
        r#"[{"name":"x-real-iP","value":"1"},{"name":"x-real-i\u0050","value":"2"}]"#,
        "x-real-ip",
    );
}

/// A backslash run ending at a block's edge, with the forged element after
/// it, at every offset.
#[test]
fn backslash_runs_across_block_edges_do_not_forge_a_header() {
    for run in 1..6 {
        let headers = format!(
            r#"[{{"name":"a","value":"{}\"}},{{\"name\":\"x-forwarded-for\",\"value\":\"6.6.6.6"}},{{"name":"x-forwarded-for","value":"1.1.1.1"}},{{"name":"b","value":"{}"}}]"#,
            "\\\\".repeat(run),
            "\\\\".repeat(run)
        );
        check(&headers, "x-forwarded-for");
    }
}

/// A line truncated anywhere inside the headers array never yields a header
/// that the whole line does not hold.
#[test]
fn truncated_inside_the_headers_array_reads_no_forged_header() {
    let line = record(
        r#"[{"name":"x-forwarded-for","value":"1.1.1.1"},{"name":"b","value":"x\"name\":\"x-forwarded-for\",\"value\":\"6.6.6.6"},{"name":"x-forwarded-for","value":"2.2.2.2"}]"#,
        3,
    );
    let plain = record(
        r#"[{"name":"x-forwarded-for","value":"1.1.1.1"},{"name":"b","value":"x-forwarded-for"},{"name":"x-forwarded-for","value":"2.2.2.2"}]"#,
        40,
    );
    for line in [line, plain] {
        truncated(&line);
    }
}

fn truncated(line: &str) {
    let start = line.find(r#""headers":["#).unwrap();
    for cut in start..line.len() {
        let mut x = Extractor::reading(
            Some("X-Forwarded-For"),
            Wanted {
                terminating_rule_id: false,
                uri: false,
                labels: false,
            },
        );
        if let Ok(f) = x.extract(&line.as_bytes()[..cut])
            && let Some(h) = f.header
        {
            assert!(
                ["1.1.1.1", "2.2.2.2"].contains(&&*h.text()),
                "{cut}: {}",
                h.text()
            );
        }
    }
}

/// A wanted name with a quote (refused by the configuration, but the
/// extractor must not rely on it) is never matched by the fast search
/// against what the element's own members say.
#[test]
fn a_wanted_name_with_a_quote_is_left_to_the_walk() {
    let line = r#"{"timestamp":1,"action":"ALLOW","httpRequest":{"clientIp":"192.0.2.1","headers":[{"name":"x","value":"y","value":"z"}]}}"#;
    let mut extractor = waf_log::Extractor::reading(
        Some(r#"x","value":"y"#),
        waf_log::Wanted {
            terminating_rule_id: false,
            uri: false,
            labels: false,
        },
    );
    let fields = extractor.extract(line.as_bytes()).expect("a record");
    assert_eq!(fields.header, None, "no header is named that");
}
