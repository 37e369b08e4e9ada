//! Exemptions: instances that `patch-waves` deliberately leaves alone.
//!
//! The rollout's plan checks them before it changes anything, so an exempt
//! instance is never touched, not even by a first step that is later undone.
//! An instance matching an unexpired exemption is skipped and the plan gives
//! the exemption's reason, so whoever reads the report knows why it was left
//! out and who to ask. Every exemption must expire: an exemption that has
//! expired no longer applies, and the report says that it expired, so that
//! nobody is surprised when a machine they thought was exempt gets patched.
//!
//! The `EXEMPTIONS` setting is a JSON array of objects:
//!
//! ```json
//! [
//!   {"instance": "i-0123456789abcdef0", "reason": "vendor appliance", "expires": "2027-01-31"},
//!   {"tag": {"key": "patching", "value": "manual"}, "reason": "…", "expires": "2027-01-31"}
//! ]
//! ```
//!
//! Each has exactly one of `instance` or `tag`; a tag without `value` matches
//! any value of its key. `reason` must say something. `expires` is a UTC date
//! and the exemption still applies on that day. Parsing is strict: unknown
//! fields are refused, since a misspelt field would otherwise be ignored and
//! the exemption would mean something other than what was written, and `null`
//! is refused everywhere, because a null that read as "absent" could turn a
//! tag-and-value exemption into one for every value of the tag.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use time::Date;

/// The parsed `EXEMPTIONS` setting.
#[derive(Debug, Clone, Default)]
pub struct Exemptions {
    entries: Vec<Exemption>,
}

#[derive(Debug, Clone)]
struct Exemption {
    target: Target,
    reason: String,
    expires: Date,
}

#[derive(Debug, Clone)]
enum Target {
    Instance(String),
    /// `value: None` matches any value of `key`.
    Tag {
        key: String,
        value: Option<String>,
    },
}

/// Why an instance is, or was until recently, left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exempt<'a> {
    /// Skip the instance; the exemption applies up to and including `expires`.
    Yes { reason: &'a str, expires: Date },
    /// The instance is patched; report that its exemption ended on `expired`.
    Expired { reason: &'a str, expired: Date },
}

// Every field is optional here so that a missing one gets our own message
// rather than serde's; nulls never reach this point.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExemption {
    instance: Option<String>,
    tag: Option<RawTag>,
    reason: Option<String>,
    expires: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTag {
    key: String,
    value: Option<String>,
}

impl Exemptions {
    /// Parses the setting's value; the error names the entry (0-based index
    /// and its instance or tag) and why it was refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        // An unset variable usually arrives as an empty string.
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let values: Vec<Value> = serde_json::from_str(text)
            .map_err(|e| format!("EXEMPTIONS is not a JSON array of objects: {e}"))?;
        let mut entries = Vec::with_capacity(values.len());
        for (index, value) in values.into_iter().enumerate() {
            let label = label(index, &value);
            let entry = parse_entry(value).map_err(|why| format!("{label}: {why}"))?;
            entries.push(entry);
        }
        Ok(Self { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first unexpired exemption matching the instance; else the first
    /// expired one that would have matched; else None.
    pub fn check(
        &self,
        instance_id: &str,
        tags: &BTreeMap<String, String>,
        today: Date,
    ) -> Option<Exempt<'_>> {
        let mut expired = None;
        for entry in &self.entries {
            if !entry.target.matches(instance_id, tags) {
                continue;
            }
            if today <= entry.expires {
                return Some(Exempt::Yes {
                    reason: &entry.reason,
                    expires: entry.expires,
                });
            }
            expired.get_or_insert(Exempt::Expired {
                reason: &entry.reason,
                expired: entry.expires,
            });
        }
        expired
    }
}

impl Target {
    fn matches(&self, instance_id: &str, tags: &BTreeMap<String, String>) -> bool {
        match self {
            Target::Instance(id) => id == instance_id,
            Target::Tag { key, value } => tags
                .get(key)
                .is_some_and(|actual| value.as_ref().is_none_or(|wanted| wanted == actual)),
        }
    }
}

/// Names an entry in an error, from the raw JSON so that it works even for an
/// entry that is about to be refused.
fn label(index: usize, value: &Value) -> String {
    let mut names = Vec::new();
    if let Some(instance) = value.get("instance").and_then(Value::as_str) {
        names.push(format!("instance {instance:?}"));
    }
    if let Some(key) = value
        .get("tag")
        .and_then(|tag| tag.get("key"))
        .and_then(Value::as_str)
    {
        match value
            .get("tag")
            .and_then(|tag| tag.get("value"))
            .and_then(Value::as_str)
        {
            Some(tag_value) => names.push(format!("tag {key:?}={tag_value:?}")),
            None => names.push(format!("tag {key:?}")),
        }
    }
    if names.is_empty() {
        format!("entry {index}")
    } else {
        format!("entry {index} ({})", names.join(", "))
    }
}

fn parse_entry(value: Value) -> Result<Exemption, String> {
    if let Some(path) = find_null(&value, "") {
        let at = if path.is_empty() {
            String::new()
        } else {
            format!(" at {path}")
        };
        return Err(format!(
            "null{at} is not allowed: leave the field out instead, so null cannot widen an exemption"
        ));
    }
    if !value.is_object() {
        return Err(format!("expected an object, found {value}"));
    }
    let raw: RawExemption = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let target = match (raw.instance, raw.tag) {
        (Some(_), Some(_)) => {
            return Err("has both instance and tag; give exactly one".to_owned());
        }
        (None, None) => {
            return Err("has neither instance nor tag; give exactly one".to_owned());
        }
        (Some(id), None) => {
            if !is_instance_id(&id) {
                return Err(format!(
                    "instance {id:?} is not an instance id (i- and 8 or 17 lowercase hex digits)"
                ));
            }
            Target::Instance(id)
        }
        (None, Some(tag)) => {
            // An empty key could never be on an instance, so the exemption
            // would silently do nothing.
            if tag.key.is_empty() {
                return Err("tag key is empty".to_owned());
            }
            Target::Tag {
                key: tag.key,
                value: tag.value,
            }
        }
    };
    let reason = raw.reason.ok_or("reason is required")?;
    let reason = reason.trim();
    if reason.is_empty() {
        return Err("reason is empty".to_owned());
    }
    let expires = raw.expires.ok_or("expires is required (YYYY-MM-DD)")?;
    let expires = parse_date(&expires)?;
    Ok(Exemption {
        target,
        reason: reason.to_owned(),
        expires,
    })
}

/// Where the first null is, as a dotted path; `Some("")` is the value itself.
fn find_null(value: &Value, path: &str) -> Option<String> {
    let child = |name: &str| {
        if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    match value {
        Value::Null => Some(path.to_owned()),
        Value::Object(map) => map
            .iter()
            .find_map(|(key, inner)| find_null(inner, &child(key))),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, inner)| find_null(inner, &child(&index.to_string()))),
        _ => None,
    }
}

fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Strict `YYYY-MM-DD` (as freeze windows read it): a looser reading could
/// let a mistyped year keep an exemption alive far longer than anyone meant.
fn parse_date(text: &str) -> Result<Date, String> {
    crate::freeze::parse_date(text).map_err(|e| format!("expires {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const ID: &str = "i-0123456789abcdef0";

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn refused(text: &str) -> String {
        Exemptions::parse(text).unwrap_err()
    }

    #[test]
    fn empty_settings_exempt_nothing() {
        for text in ["", " ", "[]"] {
            let parsed = Exemptions::parse(text).unwrap();
            assert!(parsed.is_empty());
            assert_eq!(parsed.check(ID, &tags(&[]), date!(2027 - 01 - 01)), None);
        }
    }

    #[test]
    fn instance_applies_through_the_day_it_expires() {
        let e = Exemptions::parse(
            r#"[{"instance": "i-0123456789abcdef0", "reason": " vendor appliance ", "expires": "2027-01-31"}]"#,
        )
        .unwrap();
        assert!(!e.is_empty());
        let none = tags(&[]);
        assert_eq!(
            e.check(ID, &none, date!(2027 - 01 - 31)),
            Some(Exempt::Yes {
                reason: "vendor appliance",
                expires: date!(2027 - 01 - 31)
            })
        );
        assert!(matches!(
            e.check(ID, &none, date!(2026 - 12 - 07)),
            Some(Exempt::Yes { .. })
        ));
        assert_eq!(
            e.check(ID, &none, date!(2027 - 02 - 01)),
            Some(Exempt::Expired {
                reason: "vendor appliance",
                expired: date!(2027 - 01 - 31)
            })
        );
        assert_eq!(
            e.check("i-0123456789abcdef1", &none, date!(2027 - 01 - 01)),
            None
        );
    }

    #[test]
    fn short_instance_ids_are_accepted() {
        let e = Exemptions::parse(
            r#"[{"instance": "i-0123abcd", "reason": "old", "expires": "2027-01-31"}]"#,
        )
        .unwrap();
        assert!(
            e.check("i-0123abcd", &tags(&[]), date!(2027 - 01 - 01))
                .is_some()
        );
    }

    #[test]
    fn tag_with_value_matches_only_that_value() {
        let e = Exemptions::parse(
            r#"[{"tag": {"key": "patching", "value": "manual"}, "reason": "r", "expires": "2027-01-31"}]"#,
        )
        .unwrap();
        let today = date!(2027 - 01 - 01);
        assert!(
            e.check(ID, &tags(&[("patching", "manual")]), today)
                .is_some()
        );
        assert_eq!(e.check(ID, &tags(&[("patching", "auto")]), today), None);
        assert_eq!(e.check(ID, &tags(&[("patching", "Manual")]), today), None);
        assert_eq!(e.check(ID, &tags(&[("other", "manual")]), today), None);
    }

    #[test]
    fn tag_without_value_matches_any_value() {
        let e = Exemptions::parse(
            r#"[{"tag": {"key": "no-patch"}, "reason": "r", "expires": "2027-01-31"}]"#,
        )
        .unwrap();
        let today = date!(2027 - 01 - 01);
        assert!(e.check(ID, &tags(&[("no-patch", "yes")]), today).is_some());
        assert!(e.check(ID, &tags(&[("no-patch", "")]), today).is_some());
        assert_eq!(e.check(ID, &tags(&[("patch", "yes")]), today), None);
    }

    #[test]
    fn unexpired_exemption_wins_over_an_earlier_expired_one() {
        let e = Exemptions::parse(
            r#"[
                {"instance": "i-0123456789abcdef0", "reason": "old", "expires": "2026-01-01"},
                {"tag": {"key": "team", "value": "db"}, "reason": "new", "expires": "2027-01-31"}
            ]"#,
        )
        .unwrap();
        let db = tags(&[("team", "db")]);
        assert_eq!(
            e.check(ID, &db, date!(2027 - 01 - 01)),
            Some(Exempt::Yes {
                reason: "new",
                expires: date!(2027 - 01 - 31)
            })
        );
        // Once both have expired, the first one is reported.
        assert_eq!(
            e.check(ID, &db, date!(2027 - 06 - 01)),
            Some(Exempt::Expired {
                reason: "old",
                expired: date!(2026 - 01 - 01)
            })
        );
        assert_eq!(
            e.check(ID, &tags(&[]), date!(2027 - 01 - 01)),
            Some(Exempt::Expired {
                reason: "old",
                expired: date!(2026 - 01 - 01)
            })
        );
    }

    #[test]
    fn refuses_both_instance_and_tag() {
        let err = refused(
            r#"[{"instance": "i-0123456789abcdef0", "tag": {"key": "k", "value": "v"}, "reason": "r", "expires": "2027-01-31"}]"#,
        );
        assert!(err.starts_with("entry 0 ("), "{err}");
        assert!(err.contains("i-0123456789abcdef0"), "{err}");
        assert!(err.contains("both instance and tag"), "{err}");
    }

    #[test]
    fn refuses_neither_instance_nor_tag() {
        let err = refused(r#"[{"reason": "r", "expires": "2027-01-31"}]"#);
        assert!(err.starts_with("entry 0:"), "{err}");
        assert!(err.contains("neither instance nor tag"), "{err}");
    }

    #[test]
    fn refuses_missing_or_blank_reason() {
        let ok = r#"{"instance": "i-0123456789abcdef0", "reason": "r", "expires": "2027-01-31"}"#;
        let err = refused(&format!(
            r#"[{ok}, {{"tag": {{"key": "k"}}, "expires": "2027-01-31"}}]"#
        ));
        assert!(err.starts_with("entry 1 (tag \"k\")"), "{err}");
        assert!(err.contains("reason is required"), "{err}");
        let err = refused(
            r#"[{"tag": {"key": "k", "value": "v"}, "reason": "  ", "expires": "2027-01-31"}]"#,
        );
        assert!(err.starts_with("entry 0 (tag \"k\"=\"v\")"), "{err}");
        assert!(err.contains("reason is empty"), "{err}");
    }

    #[test]
    fn refuses_missing_or_bad_expiry() {
        let err = refused(r#"[{"instance": "i-0123456789abcdef0", "reason": "r"}]"#);
        assert!(err.contains("expires is required"), "{err}");
        for expires in [
            "2027-1-31",
            "2027-02-30",
            "2027-13-01",
            "31/01/2027",
            "2027-01-31T00:00:00Z",
        ] {
            let err = refused(&format!(
                r#"[{{"instance": "i-0123456789abcdef0", "reason": "r", "expires": "{expires}"}}]"#
            ));
            assert!(
                err.contains("not a date") || err.contains("not a real date"),
                "{err}"
            );
            assert!(err.contains("i-0123456789abcdef0"), "{err}");
        }
    }

    #[test]
    fn refuses_null_anywhere() {
        for text in [
            r#"[{"instance": null, "tag": {"key": "k"}, "reason": "r", "expires": "2027-01-31"}]"#,
            r#"[{"tag": {"key": "k", "value": null}, "reason": "r", "expires": "2027-01-31"}]"#,
            r#"[{"tag": {"key": "k"}, "reason": null, "expires": "2027-01-31"}]"#,
            r#"[{"tag": {"key": "k"}, "reason": "r", "expires": null}]"#,
            r#"[{"tag": null, "instance": "i-0123456789abcdef0", "reason": "r", "expires": "2027-01-31"}]"#,
            r#"[null]"#,
        ] {
            let err = refused(text);
            assert!(err.starts_with("entry 0"), "{err}");
            assert!(err.contains("null"), "{err}");
            assert!(err.contains("not allowed"), "{err}");
        }
        let err = refused(
            r#"[{"tag": {"key": "k", "value": null}, "reason": "r", "expires": "2027-01-31"}]"#,
        );
        assert!(err.contains("at tag.value"), "{err}");
    }

    #[test]
    fn refuses_unknown_fields() {
        let err = refused(
            r#"[{"instance": "i-0123456789abcdef0", "reason": "r", "expires": "2027-01-31", "expiry": "2028-01-01"}]"#,
        );
        assert!(err.contains("unknown field `expiry`"), "{err}");
        let err = refused(
            r#"[{"tag": {"key": "k", "vaule": "v"}, "reason": "r", "expires": "2027-01-31"}]"#,
        );
        assert!(err.contains("unknown field `vaule`"), "{err}");
    }

    #[test]
    fn refuses_malformed_instance_ids() {
        for id in [
            "i-0123456789ABCDEF0",
            "i-0123456789abcdef",
            "i-0123abc",
            "i-0123abcde",
            "0123456789abcdef0",
            "i-0123456789abcdeg0",
            "",
        ] {
            let err = refused(&format!(
                r#"[{{"instance": "{id}", "reason": "r", "expires": "2027-01-31"}}]"#
            ));
            assert!(err.contains("is not an instance id"), "{err}");
        }
    }

    #[test]
    fn refuses_empty_tag_key() {
        let err = refused(r#"[{"tag": {"key": ""}, "reason": "r", "expires": "2027-01-31"}]"#);
        assert!(err.contains("tag key is empty"), "{err}");
    }

    #[test]
    fn refuses_wrong_shapes() {
        for text in ["not json", "{}", "[", "null", "\"i-0123abcd\""] {
            let err = refused(text);
            assert!(err.contains("EXEMPTIONS"), "{err}");
        }
        let err = refused(r#"["i-0123abcd"]"#);
        assert!(err.contains("entry 0: expected an object"), "{err}");
        let err = refused(r#"[{"instance": 5, "reason": "r", "expires": "2027-01-31"}]"#);
        assert!(err.starts_with("entry 0:"), "{err}");
        let err = refused(r#"[{"tag": "k=v", "reason": "r", "expires": "2027-01-31"}]"#);
        assert!(err.starts_with("entry 0:"), "{err}");
    }
}
