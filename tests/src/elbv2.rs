//! Exact snapshots of an ALB listener's rules, one copy for every test that
//! checks a listener was left (or put back) exactly as it was.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::Rule;

/// Everything DescribeRules and DescribeTags say about a listener.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    /// In priority order, the default rule last.
    pub rules: Vec<Rule>,
    /// Each non-default rule's tags, sorted, by rule ARN.
    pub tags: BTreeMap<String, Vec<(String, String)>>,
}

/// Reads `listener` from moto. moto lists rules in the order they were
/// created, not by priority, so they are sorted here.
pub async fn snapshot(elb: &Client, listener: &str) -> Snapshot {
    let mut rules = elb
        .describe_rules()
        .listener_arn(listener)
        .send()
        .await
        .expect("describe rules")
        .rules()
        .to_vec();
    rules.sort_by_key(|r| {
        r.priority()
            .unwrap_or("")
            .parse::<u32>()
            .unwrap_or(u32::MAX)
    });
    let mut tags = BTreeMap::new();
    for rule in rules.iter().filter(|r| r.is_default() != Some(true)) {
        let arn = rule.rule_arn().unwrap();
        let out = elb
            .describe_tags()
            .resource_arns(arn)
            .send()
            .await
            .expect("describe tags");
        let mut pairs: Vec<(String, String)> = out.tag_descriptions()[0]
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap().to_owned(),
                    t.value().unwrap_or("").to_owned(),
                )
            })
            .collect();
        pairs.sort();
        tags.insert(arn.to_owned(), pairs);
    }
    Snapshot { rules, tags }
}
