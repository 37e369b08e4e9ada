//! The ELBv2 calls: reading a listener's rules and tags, and carrying out
//! an enable or disable plan step by step, recording each step in the report
//! as soon as it is done, so a failure says exactly how far it got.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_elasticloadbalancingv2::types::{Action, RulePriorityPair, Tag};
use serde_json::json;
use shared::report::{Action as Step, Report};

use crate::error::Error;
use crate::listener::{ListenerState, TAG_ORIGINAL_PRIORITY, TAG_SHIFTED_BY};
use crate::plan::{DisablePlan, EnableChange};

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

/// Carries out an enable plan on one listener.
pub async fn enable(
    client: &Client,
    listener: &ListenerState,
    window_id: &str,
    change: &EnableChange<'_>,
    report: &mut Report,
) -> Result<(), Error> {
    for arn in &change.remove_partial {
        delete_rule(client, arn).await?;
        report.applied(remove_partial_step(listener, arn));
    }
    // Every move is recorded on the rule before it is made.
    for shift in change.shifts.iter().filter(|s| s.needs_tag) {
        client
            .add_tags()
            .resource_arns(shift.rule_arn)
            .tags(tag(TAG_ORIGINAL_PRIORITY, &shift.original.to_string()))
            .tags(tag(TAG_SHIFTED_BY, window_id))
            .send()
            .await
            .map_err(|e| Error::aws("AddTags", shift.rule_arn, e))?;
    }
    for shift in &change.shifts {
        set_priority(client, shift.rule_arn, shift.to).await?;
        report.applied(shift_step(listener, shift.rule_arn, shift.from, shift.to));
    }
    for rule in &change.create {
        let tags: Vec<Tag> = rule.tags.iter().map(|(k, v)| tag(k, v)).collect();
        let out = client
            .create_rule()
            .listener_arn(&listener.arn)
            .priority(rule.priority as i32)
            .set_conditions(Some(rule.conditions.clone()))
            .set_actions(Some(rule.actions.clone()))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| Error::aws("CreateRule", &listener.arn, e))?;
        let arn = out
            .rules()
            .first()
            .and_then(|r| r.rule_arn())
            .unwrap_or("(no ARN returned)");
        report.applied(create_step(listener, rule).with_detail(json!({
            "listener": listener.arn, "rule": arn, "priority": rule.priority,
            "role": rule.role, "matches": rule.shown,
        })));
    }
    Ok(())
}

/// Carries out a disable plan on one listener.
pub async fn disable(
    client: &Client,
    listener: &ListenerState,
    plan: &DisablePlan<'_>,
    report: &mut Report,
) -> Result<(), Error> {
    for (rule, role) in &plan.delete {
        delete_rule(client, &rule.arn).await?;
        report.applied(delete_step(
            listener,
            rule.arn.as_str(),
            role.as_str(),
            rule.priority,
        ));
    }
    for restore in &plan.restore {
        set_priority(client, restore.rule_arn, restore.to).await?;
        report.applied(restore_step(
            listener,
            restore.rule_arn,
            restore.from,
            restore.to,
        ));
    }
    for arn in &plan.untag {
        client
            .remove_tags()
            .resource_arns(*arn)
            .tag_keys(TAG_ORIGINAL_PRIORITY)
            .tag_keys(TAG_SHIFTED_BY)
            .send()
            .await
            .map_err(|e| Error::aws("RemoveTags", *arn, e))?;
    }
    Ok(())
}

async fn delete_rule(client: &Client, arn: &str) -> Result<(), Error> {
    match client.delete_rule().rule_arn(arn).send().await {
        Ok(_) => Ok(()),
        // Already gone is what was wanted.
        Err(e) if e.code() == Some("RuleNotFound") => Ok(()),
        Err(e) => Err(Error::aws("DeleteRule", arn, e)),
    }
}

async fn set_priority(client: &Client, arn: &str, priority: u32) -> Result<(), Error> {
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

pub fn remove_partial_step(listener: &ListenerState, arn: &str) -> Step {
    Step::new(
        "delete_rule",
        arn,
        "left by an enable of this window that did not finish; built again",
    )
    .with_detail(json!({"listener": listener.arn}))
}

pub fn shift_step(listener: &ListenerState, arn: &str, from: u32, to: u32) -> Step {
    Step::new(
        "move_rule",
        arn,
        "makes room ahead of the existing rules; its original priority is tagged on it",
    )
    .with_detail(json!({"listener": listener.arn, "from": from, "to": to}))
}

pub fn create_step(listener: &ListenerState, rule: &crate::plan::NewRule) -> Step {
    let reason = match rule.role {
        crate::listener::Role::Bypass => {
            "lets allowlisted sources through to the listener's default action"
        }
        crate::listener::Role::Maintenance => {
            "answers every other request with the maintenance page"
        }
    };
    Step::new("create_rule", &listener.arn, reason).with_detail(json!({
        "listener": listener.arn, "priority": rule.priority, "role": rule.role, "matches": rule.shown,
    }))
}

pub fn delete_step(listener: &ListenerState, arn: &str, role: &str, priority: u32) -> Step {
    Step::new("delete_rule", arn, format!("the window's {role} rule"))
        .with_detail(json!({"listener": listener.arn, "priority": priority}))
}

pub fn restore_step(listener: &ListenerState, arn: &str, from: u32, to: u32) -> Step {
    Step::new(
        "restore_priority",
        arn,
        "back to the priority it had before maintenance",
    )
    .with_detail(json!({"listener": listener.arn, "from": from, "to": to}))
}
