//! Typed configuration from environment variables.
//!
//! A function reads all of its variables through one [`Env`], which records
//! every problem instead of stopping at the first, so an operator fixing a
//! deployment sees the whole list at once:
//!
//! ```
//! use shared::config::Env;
//! let mut env = Env::from_pairs([("THRESHOLD", "abc")]);
//! let threshold: u64 = env.required("THRESHOLD", "100");
//! let window: u64 = env.or_default("WINDOW_SECONDS", 300, "300");
//! let err = env.finish().unwrap_err();
//! assert!(err.to_string().contains("THRESHOLD"));
//! # let _ = (threshold, window);
//! ```
//!
//! Values returned for a bad variable are placeholders (`Default`); they never
//! escape, because [`Env::finish`] then returns the error.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;

/// One missing or invalid variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub variable: String,
    pub what: String,
    pub example: String,
}

impl fmt::Display for Problem {
    /// One line, whatever the parser said: some errors (the regex crate's)
    /// span several lines, which would break the one-line-per-problem list.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what: Vec<&str> = self
            .what
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        write!(
            f,
            "{}: {} (example: {})",
            self.variable,
            what.join(" "),
            self.example
        )
    }
}

/// Every problem found in one function's configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid configuration: {} problem(s)",
            self.problems.len()
        )?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// A reader over a set of environment variables that collects problems.
#[derive(Debug, Default)]
pub struct Env {
    vars: HashMap<String, String>,
    problems: Vec<Problem>,
}

impl Env {
    /// The process environment, read once.
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars())
    }

    /// An explicit set of variables; tests use this instead of mutating the
    /// process environment, which is shared by parallel test threads.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            problems: Vec::new(),
        }
    }

    /// The raw value, with surrounding whitespace removed; an empty value
    /// counts as unset, since templates often pass "" for "not configured".
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Records a problem found by the caller's own validation.
    pub fn problem(&mut self, variable: &str, what: impl Into<String>, example: &str) {
        self.problems.push(Problem {
            variable: variable.to_owned(),
            what: what.into(),
            example: example.to_owned(),
        });
    }

    /// A variable that must be set, parsed with `FromStr`.
    pub fn required<T>(&mut self, name: &str, example: &str) -> T
    where
        T: FromStr + Default,
        T::Err: fmt::Display,
    {
        self.required_with(name, example, |v| v.parse::<T>().map_err(|e| e.to_string()))
    }

    /// A variable that must be set, parsed by `parse`.
    pub fn required_with<T: Default>(
        &mut self,
        name: &str,
        example: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        match self.raw(name).map(str::to_owned) {
            None => {
                self.problem(name, "is required but not set", example);
                T::default()
            }
            Some(value) => self
                .parsed(name, example, &value, parse)
                .unwrap_or_default(),
        }
    }

    /// An optional variable, parsed with `FromStr`.
    pub fn optional<T>(&mut self, name: &str, example: &str) -> Option<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.optional_with(name, example, |v| v.parse::<T>().map_err(|e| e.to_string()))
    }

    /// An optional variable, parsed by `parse`.
    pub fn optional_with<T>(
        &mut self,
        name: &str,
        example: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.raw(name)?.to_owned();
        self.parsed(name, example, &value, parse)
    }

    /// An optional variable with a default.
    pub fn or_default<T>(&mut self, name: &str, default: T, example: &str) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.optional(name, example).unwrap_or(default)
    }

    /// A boolean: `true`/`false`, `1`/`0`, `yes`/`no` (any case).
    pub fn flag(&mut self, name: &str, default: bool) -> bool {
        self.optional_with(name, "true", parse_bool)
            .unwrap_or(default)
    }

    /// A comma-separated list; empty items are dropped.
    pub fn list(&mut self, name: &str) -> Vec<String> {
        self.raw(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A comma-separated list whose items are each parsed with `FromStr`;
    /// every bad item is reported.
    pub fn list_of<T>(&mut self, name: &str, example: &str) -> Vec<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let mut out = Vec::new();
        for item in self.list(name) {
            match item.parse::<T>() {
                Ok(v) => out.push(v),
                Err(e) => self.problem(name, format!("item {item:?} is invalid: {e}"), example),
            }
        }
        out
    }

    /// An optional JSON value, parsed by [`parse_json`]: a field the
    /// setting does not know is a problem, not silently dropped.
    pub fn json<T: DeserializeOwned>(&mut self, name: &str, example: &str) -> Option<T> {
        self.optional_with(name, example, |v| {
            parse_json(v).map_err(|e| format!("is not valid JSON for this setting: {e}"))
        })
    }

    /// Ends reading: every problem recorded so far, or nothing.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                problems: self.problems,
            })
        }
    }

    fn parsed<T>(
        &mut self,
        name: &str,
        example: &str,
        value: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match parse(value) {
            Ok(v) => Some(v),
            Err(why) => {
                self.problem(name, format!("{value:?} is invalid: {why}"), example);
                None
            }
        }
    }
}

/// Parses a JSON setting, refusing every field the target type does not
/// know, at any depth.
///
/// serde drops unknown fields unless each struct says otherwise, and one
/// forgotten `deny_unknown_fields` turns an operator's typo into a rule that
/// matches more than they wrote (an exemption's `"vaule"` silently became "any
/// value"). Here every dropped field is an error naming its place, whatever the
/// type declares. A value that serde buffers before choosing what it is (an
/// `untagged` or `flatten` type) hides its fields from this check: such a type
/// must refuse unknown fields in its own `Deserialize`.
///
/// A key written twice in one object is refused too: a map keeps only the
/// last, so `{"payments": A, "payments": B}` silently dropped A.
pub fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde::de::DeserializeSeed::deserialize(Unique(String::new()), &mut de)
        .and_then(|()| de.end())
        .map_err(|e| e.to_string())?;
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_ignored::deserialize(&mut de, |path| unknown.push(location(&path)))
        .and_then(|value| de.end().map(|()| value))
        .map_err(|e| e.to_string())?;
    if unknown.is_empty() {
        Ok(value)
    } else {
        Err(format!(
            "unknown field{} {} (misspelt? a field this setting does not know is never ignored)",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", ")
        ))
    }
}

/// Walks any JSON value and fails on the first object with a key written
/// twice, naming the key and where the object sits (`[0]."tag"`).
struct Unique(String);

impl Unique {
    fn child(&self, step: String) -> Self {
        Self(format!("{}{step}", self.0))
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Unique {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Unique {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(self.child(format!("[{index}]")))?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let step = if self.0.is_empty() {
                format!("{key:?}")
            } else {
                format!(".{key:?}")
            };
            if !seen.insert(key) {
                let place = if self.0.is_empty() {
                    String::new()
                } else {
                    format!(" in {}", self.0)
                };
                return Err(serde::de::Error::custom(format!(
                    "key {step} written twice{place} (only one would be kept; a duplicate is never ignored)",
                    step = step.trim_start_matches('.')
                )));
            }
            map.next_value_seed(self.child(step))?;
        }
        Ok(())
    }
}

/// `[0].tag.vaule`: where an unknown field sits in the setting.
fn location(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", location(parent)),
        Path::Map { parent, key } => {
            let parent = location(parent);
            if parent.is_empty() {
                format!("{key:?}")
            } else {
                format!("{parent}.{key:?}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => location(parent),
    }
}

/// Parses the boolean spellings operators use in templates.
pub fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn every_bad_variable_is_named_with_an_example() {
        let mut env = Env::from_pairs([("THRESHOLD", "ten"), ("DRY_RUN", "maybe")]);
        let _: u64 = env.required("THRESHOLD", "100");
        let _: String = env.required("LEDGER_TABLE", "toilkit-waf-ledger");
        let _ = env.flag("DRY_RUN", false);
        let err = env.finish().unwrap_err();
        let text = err.to_string();
        assert_eq!(err.problems.len(), 3, "{text}");
        assert!(text.contains("THRESHOLD: \"ten\" is invalid"), "{text}");
        assert!(
            text.contains("LEDGER_TABLE: is required but not set (example: toilkit-waf-ledger)"),
            "{text}"
        );
        assert!(
            text.contains("DRY_RUN: \"maybe\" is invalid: expected true or false"),
            "{text}"
        );
    }

    #[test]
    fn a_multi_line_parser_error_is_one_line_of_the_list() {
        let mut env = Env::from_pairs([("MATCH_REGEX", "(")]);
        let _ = env.optional_with("MATCH_REGEX", "(?i)payroll", |_| {
            Err::<(), _>("regex parse error:\n    (\n    ^\nerror: unclosed group".to_owned())
        });
        let text = env.finish().unwrap_err().to_string();
        assert_eq!(
            text,
            "invalid configuration: 1 problem(s)\n  - MATCH_REGEX: \"(\" is invalid: regex parse error: ( ^ error: unclosed group (example: (?i)payroll)"
        );
    }

    #[test]
    fn empty_values_count_as_unset_and_defaults_apply() {
        let mut env = Env::from_pairs([
            ("WINDOW_SECONDS", "  "),
            ("REGIONS", "eu-west-1, ,us-east-1"),
        ]);
        assert_eq!(env.or_default("WINDOW_SECONDS", 300u64, "300"), 300);
        assert_eq!(env.list("REGIONS"), ["eu-west-1", "us-east-1"]);
        assert!(env.finish().is_ok());
    }

    #[test]
    fn an_unknown_json_field_at_any_depth_is_a_problem_naming_the_variable() {
        // Neither struct says deny_unknown_fields: the setting refuses anyway.
        #[derive(Debug, serde::Deserialize)]
        struct Tag {
            #[allow(dead_code)]
            key: String,
        }
        #[derive(Debug, serde::Deserialize)]
        struct Rule {
            #[allow(dead_code)]
            tag: Option<Tag>,
        }
        let mut env = Env::from_pairs([(
            "RULES",
            r#"[{"tag": {"key": "data-class"}}, {"tag": {"key": "data-class", "vaule": "public"}}]"#,
        )]);
        assert!(env.json::<Vec<Rule>>("RULES", "[]").is_none());
        let text = env.finish().unwrap_err().to_string();
        assert!(
            text.starts_with("invalid configuration: 1 problem(s)\n  - RULES: "),
            "{text}"
        );
        assert!(
            text.contains(r#"unknown field [1]."tag"."vaule""#),
            "{text}"
        );

        let ok: Vec<Rule> = parse_json(r#"[{"tag": {"key": "k"}}, {"tag": null}]"#).unwrap();
        assert_eq!(ok.len(), 2);
        let err = parse_json::<Vec<Rule>>(r#"[{"rule": "x", "tags": 1}]"#).unwrap_err();
        assert!(
            err.contains(r#"unknown fields [0]."rule", [0]."tags""#),
            "{err}"
        );
        assert!(parse_json::<Vec<Rule>>("[] trailing").is_err());
    }

    #[test]
    fn a_key_written_twice_in_any_json_object_is_a_problem_naming_the_variable() {
        let mut env = Env::from_pairs([("ROUTES", r#"{"payments": "/a", "payments": "/b"}"#)]);
        assert!(
            env.json::<std::collections::BTreeMap<String, String>>("ROUTES", "{}")
                .is_none()
        );
        let text = env.finish().unwrap_err().to_string();
        assert!(text.contains("ROUTES: "), "{text}");
        assert!(text.contains(r#"key "payments" written twice"#), "{text}");

        let err = parse_json::<Value>(r#"[{"tag": {"key": "a", "key": "b"}}]"#).unwrap_err();
        assert!(
            err.contains(r#"key "key" written twice in [0]."tag""#),
            "{err}"
        );
        assert!(parse_json::<Value>(r#"[{"a": 1}, {"a": 2, "b": {"a": null}}]"#).is_ok());
    }

    #[test]
    fn bad_json_and_bad_list_items_are_reported() {
        let mut env = Env::from_pairs([("RULES", "[{"), ("PORTS", "80,x,443")]);
        let _: Option<Vec<u32>> = env.json("RULES", "[1]");
        let ports: Vec<u16> = env.list_of("PORTS", "80,443");
        assert_eq!(ports, [80, 443]);
        let err = env.finish().unwrap_err();
        assert_eq!(err.problems.len(), 2);
        assert!(err.problems[1].what.contains("\"x\""));
    }
}
