//! log-retention's reading of an account-level policy's `selectionCriteria`
//! (DescribeAccountPolicies), which decides whether a log group is named by
//! the policy and so kept. Input: the criteria, a newline, a group name.
//! Never a panic; a group quoted verbatim in the criteria is always named
//! (a miss would let the group be deleted).
#![no_main]

use libfuzzer_sys::fuzz_target;
use log_retention::plan::{AccountPolicy, quoted};

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let (criteria, group) = text
        .split_once('\n')
        .unwrap_or((text.as_ref(), "/aws/lambda/f"));
    let found = quoted(criteria);
    assert!(found.iter().all(|s| !s.is_empty()));
    let policy = AccountPolicy {
        kind: "SUBSCRIPTION_FILTER_POLICY".into(),
        name: "p".into(),
        selection_criteria: Some(criteria.to_owned()),
    };
    let named = policy.names(group);
    let plain = !group.is_empty() && !group.contains(['"', '\\']);
    if plain && criteria.starts_with(&format!("LogGroupName NOT IN [\"{group}\"")) {
        assert!(named, "{criteria:?} names {group:?}");
    }
});
