//! A function's settings as a test writes them ([`Vars`]), and as its user
//! sees them rejected: every function's configuration tests read an
//! environment and check that the init error names each bad variable.

use shared::config::Env;

/// A function's environment as a test writes it: one value a variable, the
/// last one set winning.
#[derive(Debug, Clone, Default)]
pub struct Vars(Vec<(String, String)>);

impl Vars {
    pub fn set(&mut self, name: &str, value: &str) {
        self.remove(name);
        self.0.push((name.to_owned(), value.to_owned()));
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(set, _)| set != name);
    }

    pub fn iter(&self) -> std::slice::Iter<'_, (String, String)> {
        self.0.iter()
    }
}

impl IntoIterator for Vars {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// What the init error says about this environment after `read` (a
/// function's `Config::from_env`) has gone through it; panics if the
/// environment is accepted.
pub fn rejected<K, V, T>(
    pairs: impl IntoIterator<Item = (K, V)>,
    read: impl FnOnce(&mut Env) -> T,
) -> String
where
    K: Into<String>,
    V: Into<String>,
{
    let mut env = Env::from_pairs(pairs);
    let _ = read(&mut env);
    match env.finish() {
        Ok(()) => panic!("the environment was accepted"),
        Err(error) => error.to_string(),
    }
}

/// What `read` (a function's `Config::from_env`) makes of this
/// environment; panics with the init error's text if it is refused.
pub fn accepted<K, V, T>(
    pairs: impl IntoIterator<Item = (K, V)>,
    read: impl FnOnce(&mut Env) -> T,
) -> T
where
    K: Into<String>,
    V: Into<String>,
{
    let mut env = Env::from_pairs(pairs);
    let read = read(&mut env);
    if let Err(error) = env.finish() {
        panic!("the environment was refused: {error}");
    }
    read
}

/// Asserts that every declared default of `settings` is a value `read` (a
/// function's `Config::from_env`) accepts, each set alone on top of the
/// required `base`, so a default cannot drift from its validation.
pub fn assert_defaults_valid<T>(
    settings: &[shared::setting::Setting],
    base: &[(&str, &str)],
    read: impl Fn(&mut Env) -> T,
) {
    for setting in settings {
        if let Some(default) = setting.default {
            let mut env = Env::from_pairs(base.iter().copied().chain([(setting.name, default)]));
            read(&mut env);
            assert!(env.finish().is_ok(), "{}={default}", setting.name);
        }
    }
}

/// Asserts that the init error's text names every one of `needles`, and
/// says which one it lacks.
pub fn assert_names_all(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_set_again_keeps_its_last_value_and_a_removed_one_is_unset() {
        let mut vars = Vars::default();
        vars.set("DRY_RUN", "false");
        vars.set("STATE_TABLE", "state");
        vars.set("DRY_RUN", "true");
        vars.remove("STATE_TABLE");
        let pairs: Vec<(String, String)> = vars.into_iter().collect();
        assert_eq!(pairs, [("DRY_RUN".to_owned(), "true".to_owned())]);
    }
}
