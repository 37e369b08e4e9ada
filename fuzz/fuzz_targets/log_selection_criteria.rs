//! log-retention's reading of an account-level policy's `selectionCriteria`
//! (DescribeAccountPolicies), which decides whether a log group is named by
//! the policy and so kept. Input: the criteria, a newline, a group name.
//! Never a panic; a group quoted verbatim in the criteria is always named
//! (a miss would let the group be deleted), and the one form a subscription
//! filter policy accepts is always readable (unreadable criteria keep every
//! candidate). The same input, read as a resource policy's document and an
//! ARN, never panics, and a `Resource` equal to the ARN always names it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use log_retention::plan::{AccountPolicy, ResourcePolicy, quoted};

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
    if plain {
        let only_form = AccountPolicy {
            selection_criteria: Some(format!("LogGroupName NOT IN [\"{group}\"]")),
            ..policy.clone()
        };
        assert!(only_form.readable() && only_form.names(group));
    }
    let _ = policy.readable();
    let _ = ResourcePolicy::from_document("p", criteria).names(group);
    let exact = serde_json::json!({"Statement": [{"Resource": group}]}).to_string();
    assert!(ResourcePolicy::from_document("p", &exact).names(group) || group.is_empty());
});
