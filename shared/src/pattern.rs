//! Wildcard patterns operators write in configuration (`/ecs/*-prod`,
//! `s3-bucket-*`): `*` matches any run of characters, `?` one character.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use wildmatch::WildMatch;

/// A wildcard pattern, kept with its source text for reports.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    matcher: WildMatch,
    shape: Shape,
}

/// Patterns are matched per log line or per record, and most are a plain
/// name (`rdsadmin`) or a plain start (`/api/*`), for which the matcher's
/// char-by-char walk costs many times a byte comparison.
#[derive(Clone, Copy)]
enum Shape {
    /// No `*` or `?`: matching is equality.
    Literal,
    /// One `*`, last, and no `?`: matching is starting with the rest.
    Start,
    Other,
}

impl Pattern {
    pub fn new(source: &str) -> Self {
        let shape = match source.strip_suffix('*') {
            _ if !source.contains(['*', '?']) => Shape::Literal,
            Some(start) if !start.contains(['*', '?']) => Shape::Start,
            _ => Shape::Other,
        };
        Self {
            source: source.to_owned(),
            matcher: WildMatch::new(source),
            shape,
        }
    }

    pub fn matches(&self, text: &str) -> bool {
        match self.shape {
            Shape::Literal => text == self.source,
            Shape::Start => text.starts_with(&self.source[..self.source.len() - 1]),
            Shape::Other => self.matcher.matches(text),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::new(&String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_question_marks() {
        let p = Pattern::new("/ecs/*-prod");
        assert!(p.matches("/ecs/web-prod"));
        assert!(p.matches("/ecs/a/b-prod"));
        assert!(!p.matches("/ecs/web-staging"));
        assert!(Pattern::new("db-?").matches("db-1"));
        assert!(!Pattern::new("db-?").matches("db-10"));
        assert!(Pattern::new("exact").matches("exact"));
    }

    #[test]
    fn plain_names_and_plain_starts_match_as_the_matcher_does() {
        for source in [
            "", "rdsadmin", "Admin", "é", "a.b", "*", "rds*", "/api/*", "é*", "r*s*", "rds?*",
        ] {
            let p = Pattern::new(source);
            for text in [
                "",
                "rdsadmin",
                "rdsadmin2",
                "rdsadmi",
                "RDSADMIN",
                "admin",
                "Admin",
                "é",
                "a.b",
                "axb",
                "rds",
                "rd",
                "/api/",
                "/api/v1/x",
                "/api",
                "/API/x",
                "éé",
                "rdsxs",
            ] {
                assert_eq!(
                    p.matches(text),
                    WildMatch::new(source).matches(text),
                    "{source:?} against {text:?}"
                );
            }
        }
    }

    #[test]
    fn deserializes_from_a_string() {
        let p: Pattern = serde_json::from_str("\"s3-*\"").unwrap();
        assert_eq!(p.as_str(), "s3-*");
        assert!(p.matches("s3-bucket-public-read-prohibited"));
    }
}
