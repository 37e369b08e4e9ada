//! The CloudTrail record parser of access-denied-triage
//! (`access_denied_triage::record::Record::parse`), who made the call, the
//! policy type from `errorMessage`, and the noise filters.
//!
//! First byte even: the rest is a record's JSON as a trail writes it. Odd:
//! the rest, split on NUL, replaces string fields of a real denied record
//! (ARNs, session names, the error message, the source IP), so the ARN
//! splitting and the message classification meet hostile text in a record
//! that otherwise parses.
#![no_main]

use access_denied_triage::record::{Record, permission_set, role_name};
use access_denied_triage::{noise, reason};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const FIELDS: &[&[&str]] = &[
    &["userIdentity", "arn"],
    &["userIdentity", "type"],
    &["userIdentity", "accessKeyId"],
    &["userIdentity", "sessionContext", "sessionIssuer", "arn"],
    &["userIdentity", "sessionContext", "sessionIssuer", "userName"],
    &["userIdentity", "sessionContext", "sourceIdentity"],
    &["errorMessage"],
    &["errorCode"],
    &["eventName"],
    &["eventSource"],
    &["sourceIPAddress"],
    &["userAgent"],
    &["eventTime"],
    &["requestParameters", "roleArn"],
];

fn sample() -> Value {
    serde_json::from_str(include_str!("../seeds/cloudtrail_record/assumed-role-sso.json"))
        .unwrap_or_else(|_| json!({}))
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let text = if mode % 2 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let mut record = sample();
        for (i, part) in rest.split(|b| *b == 0).enumerate() {
            let path = FIELDS[(i + usize::from(mode >> 1)) % FIELDS.len()];
            let mut at = &mut record;
            for key in path {
                at = &mut at[*key];
            }
            *at = Value::String(String::from_utf8_lossy(part).into_owned());
        }
        record.to_string()
    };
    let _ = reason::classify(Some(&text));
    let _ = role_name(&text);
    let _ = permission_set(&text);
    if let Ok(record) = Record::parse(&text) {
        let who = record.who();
        let _ = who.describe();
        let _ = who.names();
        let _ = who.long_term_key();
        let _ = record.action();
        let _ = record.is_denied();
        let _ = record.is_read();
        let _ = record.source_ip();
        let _ = record.resource();
        let _ = noise::classify(&record, &who);
        let _ = reason::classify(record.error_message.as_deref()).describe();
    }
});
