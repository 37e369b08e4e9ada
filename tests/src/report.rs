//! A run's report read as its user reads it: which targets got which action.

use shared::report::Action;

/// The targets of the `actions` named `action` (`block`, `set_retention`),
/// sorted, so a test compares them whatever order the run took.
pub fn targets(actions: &[Action], action: &str) -> Vec<String> {
    let mut targets: Vec<String> = actions
        .iter()
        .filter(|a| a.action == action)
        .map(|a| a.target.clone())
        .collect();
    targets.sort();
    targets
}
