//! JSON as a full parser reads it, for checking the hand-written readers
//! against (the WAF log extractor's tests and fuzz target).

use serde_json::Value;

/// Whether any object in `line` repeats a key (serde_json keeps the last).
pub fn has_duplicate_keys(line: &str) -> bool {
    // Count keys by a second parse into a list of pairs.
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Any {
        Obj(Pairs),
        Arr(Vec<Any>),
        Other(#[allow(dead_code)] serde::de::IgnoredAny),
    }
    struct Pairs(bool);
    impl<'de> serde::Deserialize<'de> for Pairs {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Pairs;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Pairs, A::Error> {
                    let mut keys = std::collections::HashSet::new();
                    let mut dup = false;
                    while let Some(k) = m.next_key::<String>()? {
                        dup |= !keys.insert(k);
                        dup |= match m.next_value::<Any>()? {
                            Any::Obj(Pairs(d)) => d,
                            Any::Arr(a) => a.iter().any(any_dup),
                            Any::Other(_) => false,
                        };
                    }
                    Ok(Pairs(dup))
                }
            }
            d.deserialize_map(V)
        }
    }
    fn any_dup(a: &Any) -> bool {
        match a {
            Any::Obj(Pairs(d)) => *d,
            Any::Arr(a) => a.iter().any(any_dup),
            Any::Other(_) => false,
        }
    }
    serde_json::from_str::<Pairs>(line).map_or(true, |Pairs(d)| d)
}

/// The value of the configured client-IP header in a WAF record, as a full
/// parser reads the record: the last element of `httpRequest.headers` whose
/// `name` equals `name` without ASCII case and whose `value` is a string.
pub fn waf_header<'v>(record: &'v Value, name: &str) -> Option<&'v str> {
    record["httpRequest"]["headers"]
        .as_array()?
        .iter()
        .filter(|h| {
            h["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .filter_map(|h| h["value"].as_str())
        .next_back()
}
