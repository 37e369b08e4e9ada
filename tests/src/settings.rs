//! A function's settings as its user sees them rejected: every function's
//! configuration tests read an environment and check that the init error
//! names each bad variable.

use shared::config::Env;

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

/// Asserts that the init error's text names every one of `needles`, and
/// says which one it lacks.
pub fn assert_names_all(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}
