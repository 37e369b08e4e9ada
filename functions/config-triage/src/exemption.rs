//! Known exceptions (`EXEMPTIONS`, `EXEMPTIONS_PARAMETER`): violations the
//! team has accepted, by rule, resource, resource type or tag, each possibly
//! with an expiry date and a reason.
//!
//! Every criterion an exemption names must match (they are ANDed), and an
//! exemption must name at least one, so a typo cannot silence everything.
//! An expired exemption no longer applies; when it would have matched, the
//! notification says so, and every expired exemption is listed in reports.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use shared::pattern::Pattern;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// A tag criterion: the key, and optionally the value it must have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TagMatch {
    Key(String),
    KeyValue {
        key: String,
        #[serde(default)]
        value: Option<String>,
    },
}

/// The object form of a tag criterion, as operators write it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagObject {
    key: String,
    #[serde(default, deserialize_with = "present")]
    value: Option<String>,
}

/// An optional field that may be left out but never written as `null`.
///
/// serde reads `null` as absent, and absent widens an exemption: no
/// `value` matches any value of the tag, no `expires` never expires, no
/// `resource` matches every resource. A generated setting that fills a
/// field from an unset variable writes `null`; that is refused, not read as
/// "any" or "never".
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom(
            "a field is null: write a value or leave the field out (null would widen the exemption)",
        )),
    }
}

/// By hand, not `untagged`: an untagged enum tries each shape in turn and
/// drops what none of them names, so `{"key": "k", "vaule": "v"}` became a
/// key-only match that exempted every resource with the key. Here the object
/// form refuses unknown fields and says which.
impl<'de> Deserialize<'de> for TagMatch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Shape;
        impl<'de> serde::de::Visitor<'de> for Shape {
            type Value = TagMatch;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a tag key, or {"key": "...", "value": "..."}"#)
            }

            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<TagMatch, E> {
                Ok(TagMatch::Key(key.to_owned()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<TagMatch, A::Error> {
                let TagObject { key, value } =
                    TagObject::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(TagMatch::KeyValue { key, value })
            }
        }
        d.deserialize_any(Shape)
    }
}

impl TagMatch {
    fn key(&self) -> &str {
        match self {
            Self::Key(key) | Self::KeyValue { key, .. } => key,
        }
    }

    fn value(&self) -> Option<&str> {
        match self {
            Self::Key(_) => None,
            Self::KeyValue { value, .. } => value.as_deref(),
        }
    }

    fn matches(&self, tags: &BTreeMap<String, String>) -> bool {
        match (tags.get(self.key()), self.value()) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(actual), Some(wanted)) => actual == wanted,
        }
    }
}

/// When an exemption stops applying: a date (valid through the end of that
/// day, UTC) or an RFC 3339 instant. Shown as the operator wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    pub at: OffsetDateTime,
    pub source: String,
}

impl Expiry {
    pub fn parse(text: &str) -> Result<Self, String> {
        let source = text.trim().to_owned();
        if let Ok(at) = OffsetDateTime::parse(&source, &Rfc3339) {
            return Ok(Self { at, source });
        }
        let date = time::Date::parse(&source, format_description!("[year]-[month]-[day]"))
            .map_err(|_| format!("expires {text:?} is neither YYYY-MM-DD nor an RFC 3339 time"))?;
        let at = date
            .next_day()
            .map(|d| d.midnight().assume_utc())
            .ok_or_else(|| format!("expires {text:?} is out of range"))?;
        Ok(Self { at, source })
    }

    pub fn passed(&self, now: OffsetDateTime) -> bool {
        now >= self.at
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Serialize for Expiry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Expiry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// One exemption as operators write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exemption {
    /// Config rule name pattern.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub rule: Option<Pattern>,
    /// Pattern matched against the resource id and, when known, its ARN.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub resource: Option<Pattern>,
    /// Config resource type pattern (`AWS::S3::Bucket`).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub resource_type: Option<Pattern>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub tag: Option<TagMatch>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<Expiry>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason: Option<String>,
}

/// What an exemption is matched against.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub rule: &'a str,
    pub resource_id: &'a str,
    pub arn: Option<&'a str>,
    pub resource_type: &'a str,
    pub tags: &'a BTreeMap<String, String>,
}

impl Exemption {
    fn criteria(&self) -> usize {
        [
            self.rule.is_some(),
            self.resource.is_some(),
            self.resource_type.is_some(),
            self.tag.is_some(),
        ]
        .into_iter()
        .filter(|b| *b)
        .count()
    }

    pub fn matches(&self, s: &Subject<'_>) -> bool {
        self.criteria() > 0
            && self.rule.as_ref().is_none_or(|p| p.matches(s.rule))
            && self
                .resource
                .as_ref()
                .is_none_or(|p| p.matches(s.resource_id) || s.arn.is_some_and(|arn| p.matches(arn)))
            && self
                .resource_type
                .as_ref()
                .is_none_or(|p| p.matches(s.resource_type))
            && self.tag.as_ref().is_none_or(|t| t.matches(s.tags))
    }

    /// A short description for reports and messages.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = &self.rule {
            parts.push(format!("rule {p}"));
        }
        if let Some(p) = &self.resource {
            parts.push(format!("resource {p}"));
        }
        if let Some(p) = &self.resource_type {
            parts.push(format!("type {p}"));
        }
        if let Some(t) = &self.tag {
            match t.value() {
                Some(v) => parts.push(format!("tag {}={v}", t.key())),
                None => parts.push(format!("tag {}", t.key())),
            }
        }
        let mut text = parts.join(", ");
        if let Some(reason) = &self.reason {
            text.push_str(&format!(" ({reason})"));
        }
        if let Some(expiry) = &self.expires {
            text.push_str(&format!(", expires {expiry}"));
        }
        text
    }
}

/// The outcome of checking a violation against every exemption.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    None,
    /// A live exemption applies.
    Exempt(Exemption),
    /// Only expired exemptions matched: the violation is reported, saying so.
    Expired(Exemption),
}

/// All exemptions in force for one invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exemptions(pub Vec<Exemption>);

impl Exemptions {
    /// Parses and validates a JSON list; problems name the entry.
    pub fn parse(json: &str) -> Result<Self, String> {
        let list: Vec<Exemption> = shared::config::parse_json(json)
            .map_err(|e| format!("is not a valid exemption list: {e}"))?;
        for (i, e) in list.iter().enumerate() {
            if e.criteria() == 0 {
                return Err(format!(
                    "exemption #{} names no rule, resource, resource_type or tag; it would exempt everything",
                    i + 1
                ));
            }
        }
        Ok(Self(list))
    }

    pub fn extend(&mut self, other: Exemptions) {
        self.0.extend(other.0);
    }

    pub fn check(&self, subject: &Subject<'_>, now: OffsetDateTime) -> Outcome {
        let mut expired = None;
        for e in self.0.iter().filter(|e| e.matches(subject)) {
            match &e.expires {
                Some(expiry) if expiry.passed(now) => {
                    expired.get_or_insert_with(|| e.clone());
                }
                _ => return Outcome::Exempt(e.clone()),
            }
        }
        expired.map_or(Outcome::None, Outcome::Expired)
    }

    /// Exemptions that have expired, for the report.
    pub fn expired(&self, now: OffsetDateTime) -> Vec<&Exemption> {
        self.0
            .iter()
            .filter(|e| e.expires.as_ref().is_some_and(|x| x.passed(now)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn subject<'a>(tags: &'a BTreeMap<String, String>) -> Subject<'a> {
        Subject {
            rule: "s3-bucket-public-read-prohibited",
            resource_id: "public-assets",
            arn: Some("arn:aws:s3:::public-assets"),
            resource_type: "AWS::S3::Bucket",
            tags,
        }
    }

    #[test]
    fn each_criterion_matches_on_its_own_and_all_must_match() {
        let tags = BTreeMap::from([("data-class".to_owned(), "public".to_owned())]);
        let now = datetime!(2026-06-01 0:00 UTC);
        for json in [
            r#"[{"rule": "s3-bucket-public-*"}]"#,
            r#"[{"resource": "public-*"}]"#,
            r#"[{"resource": "arn:aws:s3:::public-*"}]"#,
            r#"[{"resource_type": "AWS::S3::*"}]"#,
            r#"[{"tag": "data-class"}]"#,
            r#"[{"tag": {"key": "data-class", "value": "public"}}]"#,
            r#"[{"rule": "s3-*", "tag": {"key": "data-class"}}]"#,
        ] {
            let ex = Exemptions::parse(json).unwrap();
            assert!(
                matches!(ex.check(&subject(&tags), now), Outcome::Exempt(_)),
                "{json}"
            );
        }
        for json in [
            r#"[{"rule": "restricted-ssh"}]"#,
            r#"[{"tag": {"key": "data-class", "value": "secret"}}]"#,
            r#"[{"rule": "s3-*", "resource_type": "AWS::EC2::*"}]"#,
        ] {
            let ex = Exemptions::parse(json).unwrap();
            assert_eq!(ex.check(&subject(&tags), now), Outcome::None, "{json}");
        }
    }

    #[test]
    fn an_expired_exemption_stops_applying_and_is_reported() {
        let tags = BTreeMap::new();
        let ex = Exemptions::parse(
            r#"[{"rule": "s3-*", "expires": "2026-05-31", "reason": "migration"}]"#,
        )
        .unwrap();
        let last_day = datetime!(2026-05-31 23:59 UTC);
        assert!(
            ex.0[0].describe().contains("expires 2026-05-31"),
            "{}",
            ex.0[0].describe()
        );
        assert!(matches!(
            ex.check(&subject(&tags), last_day),
            Outcome::Exempt(_)
        ));
        let after = datetime!(2026-06-01 0:00 UTC);
        match ex.check(&subject(&tags), after) {
            Outcome::Expired(e) => assert_eq!(e.reason.as_deref(), Some("migration")),
            other => panic!("{other:?}"),
        }
        assert_eq!(ex.expired(after).len(), 1);
        assert!(ex.expired(last_day).is_empty());
    }

    #[test]
    fn a_live_exemption_wins_over_an_expired_one() {
        let tags = BTreeMap::new();
        let ex = Exemptions::parse(
            r#"[{"rule": "s3-*", "expires": "2020-01-01T00:00:00Z"}, {"resource": "public-assets"}]"#,
        )
        .unwrap();
        assert!(matches!(
            ex.check(&subject(&tags), datetime!(2026-01-01 0:00 UTC)),
            Outcome::Exempt(e) if e.resource.is_some()
        ));
    }

    #[test]
    fn an_exemption_without_criteria_or_with_a_typo_is_refused() {
        let err = Exemptions::parse(r#"[{"reason": "everything"}]"#).unwrap_err();
        assert!(err.contains("would exempt everything"), "{err}");
        let err = Exemptions::parse(r#"[{"rule": "x", "expiry": "2026-01-01"}]"#).unwrap_err();
        assert!(err.contains("expiry"), "{err}");
        let err = Exemptions::parse(r#"[{"rule": "x", "expires": "soon"}]"#).unwrap_err();
        assert!(err.contains("soon"), "{err}");
        // A typo inside the tag object must not leave a key-only match.
        let err = Exemptions::parse(r#"[{"tag": {"key": "data-class", "vaule": "public"}}]"#)
            .unwrap_err();
        assert!(err.contains("vaule"), "{err}");
        let err = Exemptions::parse(r#"[{"tag": 7}]"#).unwrap_err();
        assert!(err.contains(r#"{"key""#), "{err}");
    }
}
