//! The ELBv2 calls on a listener and its rules, one function per question
//! or change, each error naming the call and the resource. No decisions:
//! [`crate::plan`] decides, [`crate::apply`] calls these in the plan's order.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{Action, RuleCondition, RulePriorityPair, Tag};

use crate::error::Error;
use crate::rules::{ListenerState, TAG_ORIGINAL_PRIORITY, TAG_SHIFTED_BY};

/// DescribeTags takes at most 20 ARNs.
const TAGS_PER_CALL: usize = 20;

/// Each listener's default actions; `ListenersNotFound` names every
/// listener that does not exist.
pub async fn describe_listeners(
    client: &Client,
    arns: &[String],
) -> Result<BTreeMap<String, Vec<Action>>, Error> {
    let (found, missing) = find_listeners(client, arns).await?;
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(Error::ListenersNotFound(missing))
    }
}

/// The default actions of the listeners that exist, and the ARNs of those
/// that do not, in the order given.
pub async fn find_listeners(
    client: &Client,
    arns: &[String],
) -> Result<(BTreeMap<String, Vec<Action>>, Vec<String>), Error> {
    let mut found = BTreeMap::new();
    let mut missing = Vec::new();
    // One call per listener: with several ARNs the API fails as a whole
    // and does not say which one is missing.
    for arn in arns {
        match client.describe_listeners().listener_arns(arn).send().await {
            Ok(out) => match out
                .listeners()
                .iter()
                .find(|l| l.listener_arn() == Some(arn))
            {
                Some(listener) => {
                    found.insert(arn.clone(), listener.default_actions().to_vec());
                }
                None => missing.push(arn.clone()),
            },
            Err(e) if e.code() == Some("ListenerNotFound") => missing.push(arn.clone()),
            Err(e) => return Err(Error::aws("DescribeListeners", arn, e)),
        }
    }
    Ok((found, missing))
}

pub async fn check_target_group(client: &Client, arn: &str) -> Result<(), Error> {
    match client
        .describe_target_groups()
        .target_group_arns(arn)
        .send()
        .await
    {
        Ok(out) if !out.target_groups().is_empty() => Ok(()),
        Ok(_) => Err(Error::TargetGroupNotFound(arn.to_owned())),
        Err(e) if e.code() == Some("TargetGroupNotFound") => {
            Err(Error::TargetGroupNotFound(arn.to_owned()))
        }
        Err(e) => Err(Error::aws("DescribeTargetGroups", arn, e)),
    }
}

/// A listener's rules with their tags.
pub async fn load(
    client: &Client,
    arn: &str,
    default_actions: Vec<Action>,
) -> Result<ListenerState, Error> {
    let mut rules = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = client
            .describe_rules()
            .listener_arn(arn)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| match e.code() {
                // Deleted since DescribeListeners.
                Some("ListenerNotFound") => Error::ListenersNotFound(vec![arn.to_owned()]),
                _ => Error::aws("DescribeRules", arn, e),
            })?;
        rules.extend(out.rules().iter().cloned());
        match out.next_marker() {
            Some(next) if !next.is_empty() => marker = Some(next.to_owned()),
            _ => break,
        }
    }
    let arns: Vec<String> = rules
        .iter()
        .filter(|r| !r.is_default().unwrap_or(false))
        .filter_map(|r| r.rule_arn().map(str::to_owned))
        .collect();
    let mut tags = BTreeMap::new();
    for chunk in arns.chunks(TAGS_PER_CALL) {
        let out = client
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| Error::aws("DescribeTags", arn, e))?;
        for description in out.tag_descriptions() {
            let Some(rule) = description.resource_arn() else {
                continue;
            };
            let map: BTreeMap<String, String> = description
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned())))
                .collect();
            tags.insert(rule.to_owned(), map);
        }
    }
    Ok(ListenerState::from_sdk(arn, default_actions, rules, &tags))
}

/// Deletes a rule; one already gone is what was wanted.
pub async fn delete_rule(client: &Client, arn: &str) -> Result<(), Error> {
    match client.delete_rule().rule_arn(arn).send().await {
        Ok(_) => Ok(()),
        // Already gone is what was wanted.
        Err(e) if e.code() == Some("RuleNotFound") => Ok(()),
        Err(e) => Err(Error::aws("DeleteRule", arn, e)),
    }
}

pub async fn set_priority(client: &Client, arn: &str, priority: u32) -> Result<(), Error> {
    client
        .set_rule_priorities()
        .rule_priorities(
            RulePriorityPair::builder()
                .rule_arn(arn)
                .priority(priority as i32)
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::aws("SetRulePriorities", arn, e))
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// Records on a rule, before it is moved, where it was and which window
/// moved it, so a disable (or a retry after a crash) can put it back.
pub async fn tag_shift(
    client: &Client,
    rule_arn: &str,
    original: u32,
    window_id: &str,
) -> Result<(), Error> {
    client
        .add_tags()
        .resource_arns(rule_arn)
        .tags(tag(TAG_ORIGINAL_PRIORITY, &original.to_string()))
        .tags(tag(TAG_SHIFTED_BY, window_id))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::aws("AddTags", rule_arn, e))
}

/// Removes what [`tag_shift`] recorded, once the rule is back.
pub async fn untag_shift(client: &Client, rule_arn: &str) -> Result<(), Error> {
    client
        .remove_tags()
        .resource_arns(rule_arn)
        .tag_keys(TAG_ORIGINAL_PRIORITY)
        .tag_keys(TAG_SHIFTED_BY)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::aws("RemoveTags", rule_arn, e))
}

/// Creates a rule on the listener; returns its ARN as ELBv2 gave it.
pub async fn create_rule(
    client: &Client,
    listener_arn: &str,
    priority: u32,
    conditions: &[RuleCondition],
    actions: &[Action],
    tags: &[(String, String)],
) -> Result<String, Error> {
    let tags: Vec<Tag> = tags.iter().map(|(k, v)| tag(k, v)).collect();
    let out = client
        .create_rule()
        .listener_arn(listener_arn)
        .priority(priority as i32)
        .set_conditions(Some(conditions.to_vec()))
        .set_actions(Some(actions.to_vec()))
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| Error::aws("CreateRule", listener_arn, e))?;
    Ok(out
        .rules()
        .first()
        .and_then(|r| r.rule_arn())
        .unwrap_or("(no ARN returned)")
        .to_owned())
}
