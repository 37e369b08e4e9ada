//! Typed configuration from environment variables.
//!
//! A function reads all of its variables through one [`Env`], which records
//! every problem instead of stopping at the first, so an operator fixing a
//! deployment sees the whole list at once:
//!
//! ```
//! use shared::config::{Env, Kind, Required, Setting, Source};
//! const THRESHOLD: Setting = Setting {
//!     name: "THRESHOLD",
//!     kind: Kind::Number,
//!     required: Required::No,
//!     default: Some("100"),
//!     example: "100",
//!     description: "Requests per window that flag an IP.",
//!     source: Source::Unset,
//! };
//! let mut env = Env::from_pairs([("THRESHOLD", "abc")]);
//! let threshold: u64 = env.or_default(&THRESHOLD);
//! let err = env.finish().unwrap_err();
//! assert_eq!(threshold, 100);
//! assert!(err.to_string().contains("THRESHOLD: \"abc\" is invalid"));
//! ```
//!
//! Each variable is read through its [`Setting`], declared once: the name,
//! the example every problem shows, and the default all come from there.
//!
//! Values returned for a bad variable are placeholders (`Default`); they never
//! escape, because [`Env::finish`] then returns the error.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;

pub use crate::setting::{Constraint, Kind, Parameter, Required, Setting, Source};

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
    /// The names looked up, so a test can hold a function to reading only
    /// what it declares.
    read: RefCell<BTreeSet<&'static str>>,
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
            read: RefCell::default(),
        }
    }

    /// Every variable looked up so far.
    pub fn read(&self) -> BTreeSet<&'static str> {
        self.read.borrow().clone()
    }

    /// The raw value, with surrounding whitespace removed; an empty value
    /// counts as unset, since templates often pass "" for "not configured".
    pub fn raw(&self, setting: &Setting) -> Option<&str> {
        self.read.borrow_mut().insert(setting.name);
        self.vars
            .get(setting.name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Records a problem found by the caller's own validation, with an
    /// example of its own choosing.
    pub fn problem(&mut self, variable: &str, what: impl Into<String>, example: &str) {
        self.problems.push(Problem {
            variable: variable.to_owned(),
            what: what.into(),
            example: example.to_owned(),
        });
    }

    /// Records a problem with `setting`, showing its declared example.
    pub fn invalid(&mut self, setting: &Setting, what: impl Into<String>) {
        self.problem(setting.name, what, setting.example);
    }

    /// A variable that must be set, parsed with `FromStr`.
    pub fn required<T>(&mut self, setting: &Setting) -> T
    where
        T: FromStr + Default,
        T::Err: fmt::Display,
    {
        self.required_with(setting, |v| v.parse::<T>().map_err(|e| e.to_string()))
    }

    /// A variable that must be set, parsed by `parse`.
    pub fn required_with<T: Default>(
        &mut self,
        setting: &Setting,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        match self.raw(setting).map(str::to_owned) {
            None => {
                self.invalid(setting, "is required but not set");
                T::default()
            }
            Some(value) => self.parsed(setting, &value, parse).unwrap_or_default(),
        }
    }

    /// An optional variable, parsed with `FromStr`.
    pub fn optional<T>(&mut self, setting: &Setting) -> Option<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.optional_with(setting, |v| v.parse::<T>().map_err(|e| e.to_string()))
    }

    /// An optional variable, parsed by `parse`.
    pub fn optional_with<T>(
        &mut self,
        setting: &Setting,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.raw(setting)?.to_owned();
        self.parsed(setting, &value, parse)
    }

    /// An optional variable whose declared default applies when it is unset
    /// or invalid (an invalid value is also a problem).
    ///
    /// # Panics
    ///
    /// When the setting declares no default, or one that does not parse: a
    /// mistake in the declaration, which every function's defaults test
    /// meets before a deployment does.
    pub fn or_default<T>(&mut self, setting: &Setting) -> T
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.or_default_with(setting, |v| v.parse::<T>().map_err(|e| e.to_string()))
    }

    /// As [`Env::or_default`], parsed (and checked) by `parse`, the declared
    /// default included.
    ///
    /// # Panics
    ///
    /// As [`Env::or_default`].
    pub fn or_default_with<T>(
        &mut self,
        setting: &Setting,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> T {
        if let Some(value) = self.optional_with(setting, &parse) {
            return value;
        }
        match setting.default.map(&parse) {
            Some(Ok(value)) => value,
            other => panic!(
                "{} declares a default that is not a value of its own ({:?}: {other:?})",
                setting.name,
                setting.default,
                other = other.map(|r| r.err())
            ),
        }
    }

    /// A boolean: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case),
    /// its declared default when unset.
    ///
    /// # Panics
    ///
    /// As [`Env::or_default`], for a declared default that is not a boolean.
    pub fn flag(&mut self, setting: &Setting) -> bool {
        self.or_default_with(setting, parse_bool)
    }

    /// A comma-separated list; empty items are dropped.
    pub fn list(&mut self, setting: &Setting) -> Vec<String> {
        self.raw(setting)
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
    pub fn list_of<T>(&mut self, setting: &Setting) -> Vec<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let mut out = Vec::new();
        for item in self.list(setting) {
            match item.parse::<T>() {
                Ok(v) => out.push(v),
                Err(e) => self.invalid(setting, format!("item {item:?} is invalid: {e}")),
            }
        }
        out
    }

    /// An optional JSON value, parsed by [`parse_json`]: a field the
    /// setting does not know is a problem, not silently dropped.
    pub fn json<T: DeserializeOwned>(&mut self, setting: &Setting) -> Option<T> {
        self.optional_with(setting, |v| {
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
        setting: &Setting,
        value: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match parse(value) {
            Ok(v) => Some(v),
            Err(why) => {
                self.invalid(setting, format!("{value:?} is invalid: {why}"));
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

    const fn setting(
        name: &'static str,
        default: Option<&'static str>,
        example: &'static str,
    ) -> Setting {
        Setting {
            name,
            kind: Kind::Text,
            required: Required::No,
            default,
            example,
            description: "",
            source: Source::Unset,
        }
    }

    const THRESHOLD: Setting = setting("THRESHOLD", None, "100");
    const LEDGER_TABLE: Setting = setting("LEDGER_TABLE", None, "toilkit-waf-ledger");
    const DRY_RUN: Setting = setting("DRY_RUN", Some("false"), "true");
    const WINDOW_SECONDS: Setting = setting("WINDOW_SECONDS", Some("300"), "300");
    const REGIONS: Setting = setting("REGIONS", None, "eu-west-1");
    const MATCH_REGEX: Setting = setting("MATCH_REGEX", None, "(?i)payroll");
    const RULES: Setting = setting("RULES", None, "[]");
    const ROUTES: Setting = setting("ROUTES", None, "{}");
    const PORTS: Setting = setting("PORTS", None, "80,443");

    #[test]
    fn every_bad_variable_is_named_with_an_example() {
        let mut env = Env::from_pairs([("THRESHOLD", "ten"), ("DRY_RUN", "maybe")]);
        let _: u64 = env.required(&THRESHOLD);
        let _: String = env.required(&LEDGER_TABLE);
        let _ = env.flag(&DRY_RUN);
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
        let _ = env.optional_with(&MATCH_REGEX, |_| {
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
        assert_eq!(env.or_default::<u64>(&WINDOW_SECONDS), 300);
        assert_eq!(env.list(&REGIONS), ["eu-west-1", "us-east-1"]);
        assert!(!env.flag(&DRY_RUN));
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
        assert!(env.json::<Vec<Rule>>(&RULES).is_none());
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
            env.json::<std::collections::BTreeMap<String, String>>(&ROUTES)
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
    fn an_invalid_value_falls_back_to_the_declared_default_and_is_reported() {
        let mut env = Env::from_pairs([("WINDOW_SECONDS", "soon"), ("DRY_RUN", "maybe")]);
        assert_eq!(env.or_default::<u64>(&WINDOW_SECONDS), 300);
        assert!(!env.flag(&DRY_RUN));
        let text = env.finish().unwrap_err().to_string();
        assert_eq!(
            text,
            "invalid configuration: 2 problem(s)\n  - WINDOW_SECONDS: \"soon\" is invalid: invalid digit found in string (example: 300)\n  - DRY_RUN: \"maybe\" is invalid: expected true or false (example: true)"
        );
    }

    #[test]
    fn bad_json_and_bad_list_items_are_reported() {
        let mut env = Env::from_pairs([("RULES", "[{"), ("PORTS", "80,x,443")]);
        let _: Option<Vec<u32>> = env.json(&RULES);
        let ports: Vec<u16> = env.list_of(&PORTS);
        assert_eq!(ports, [80, 443]);
        let err = env.finish().unwrap_err();
        assert_eq!(err.problems.len(), 2);
        assert!(err.problems[1].what.contains("\"x\""));
    }
}
