//! Carries out an enable or disable plan on one listener, step by step,
//! recording each step in the report as soon as it is done, so a failure
//! says exactly how far it got. The calls themselves are in
//! [`crate::listener`].

use aws_sdk_elasticloadbalancingv2::Client;
use serde_json::json;
use shared::report::{Action as Step, Report};

use crate::error::Error;
use crate::listener::{create_rule, delete_rule, set_priority, tag_shift, untag_shift};
use crate::plan::{DisablePlan, EnableChange};
use crate::rules::ListenerState;

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
        tag_shift(client, shift.rule_arn, shift.original, window_id).await?;
    }
    for shift in &change.shifts {
        set_priority(client, shift.rule_arn, shift.to).await?;
        report.applied(shift_step(listener, shift.rule_arn, shift.from, shift.to));
    }
    for rule in &change.create {
        let arn = create_rule(
            client,
            &listener.arn,
            rule.priority,
            &rule.conditions,
            &rule.actions,
            &rule.tags,
        )
        .await?;
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
        untag_shift(client, arn).await?;
    }
    Ok(())
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
        crate::rules::Role::Bypass => {
            "lets allowlisted sources through to the listener's default action"
        }
        crate::rules::Role::Maintenance => "answers every other request with the maintenance page",
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
