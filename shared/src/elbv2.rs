//! ELBv2 targets: where an instance is registered and how healthy it is,
//! and taking it out of service and back. Behind the `elbv2` feature, so
//! that only the functions that drain targets link the ELBv2 SDK.
//!
//! Each call is one batched request per target group (never one per
//! target), and returns the SDK's error for the caller to name in its own.

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::error::SdkError;
use aws_sdk_elasticloadbalancingv2::operation::deregister_targets::DeregisterTargetsError;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_group_attributes::DescribeTargetGroupAttributesError;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsError;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthError;
use aws_sdk_elasticloadbalancingv2::operation::register_targets::RegisterTargetsError;
use aws_sdk_elasticloadbalancingv2::types::TargetDescription;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use serde::{Deserialize, Serialize};

/// ELBv2's default deregistration delay, used when a target group does not
/// list the attribute.
pub const DEFAULT_DEREGISTRATION_DELAY_SECONDS: u64 = 300;

/// One target of a target group, as ELBv2 registered it: the port matters,
/// since an instance can be registered on several, and putting it back must
/// restore each.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Target {
    pub target_group: String,
    pub id: String,
    pub port: Option<i32>,
}

/// A target and what `DescribeTargetHealth` says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetHealth {
    pub target: Target,
    /// `initial`, `healthy`, `unhealthy`, `unused`, `draining`,
    /// `unavailable` (and newer states, kept as ELBv2 spells them).
    pub state: String,
    pub reason: Option<String>,
}

impl TargetHealth {
    /// Registered and taking (or about to take) traffic: what deregistering
    /// would change. `draining` and `unused` targets are already out.
    pub fn in_service(&self) -> bool {
        matches!(self.state.as_str(), "healthy" | "initial" | "unhealthy")
    }

    pub fn healthy(&self) -> bool {
        self.state == "healthy"
    }
}

/// Every target registered in `target_group`, with its health.
pub async fn health(
    client: &Client,
    target_group: &str,
) -> Result<Vec<TargetHealth>, SdkError<DescribeTargetHealthError, HttpResponse>> {
    let out = client
        .describe_target_health()
        .target_group_arn(target_group)
        .send()
        .await?;
    Ok(out
        .target_health_descriptions()
        .iter()
        .filter_map(|d| {
            let target = d.target()?;
            let health = d.target_health();
            Some(TargetHealth {
                target: Target {
                    target_group: target_group.to_owned(),
                    id: target.id()?.to_owned(),
                    port: target.port(),
                },
                state: health
                    .and_then(|h| h.state())
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_else(|| "unknown".to_owned()),
                reason: health
                    .and_then(|h| h.reason())
                    .map(|r| r.as_str().to_owned()),
            })
        })
        .collect())
}

/// The target type of `target_group` (`instance`, `ip`, `lambda`, `alb`):
/// an instance registered by its IP address is not found by its id.
pub async fn target_type(
    client: &Client,
    target_group: &str,
) -> Result<Option<String>, SdkError<DescribeTargetGroupsError, HttpResponse>> {
    let out = client
        .describe_target_groups()
        .target_group_arns(target_group)
        .send()
        .await?;
    Ok(out
        .target_groups()
        .first()
        .and_then(|g| g.target_type())
        .map(|t| t.as_str().to_owned()))
}

/// How long ELBv2 keeps a deregistered target draining, in seconds.
pub async fn deregistration_delay(
    client: &Client,
    target_group: &str,
) -> Result<u64, SdkError<DescribeTargetGroupAttributesError, HttpResponse>> {
    let out = client
        .describe_target_group_attributes()
        .target_group_arn(target_group)
        .send()
        .await?;
    Ok(out
        .attributes()
        .iter()
        .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
        .and_then(|a| a.value()?.parse().ok())
        .unwrap_or(DEFAULT_DEREGISTRATION_DELAY_SECONDS))
}

fn descriptions<'a>(targets: impl IntoIterator<Item = &'a Target>) -> Vec<TargetDescription> {
    targets
        .into_iter()
        .map(|t| {
            TargetDescription::builder()
                .id(&t.id)
                .set_port(t.port)
                .build()
        })
        .collect()
}

/// Takes `targets` (all of `target_group`) out of service; ELBv2 lets their
/// connections drain for the group's deregistration delay.
pub async fn deregister(
    client: &Client,
    target_group: &str,
    targets: &[&Target],
) -> Result<(), SdkError<DeregisterTargetsError, HttpResponse>> {
    client
        .deregister_targets()
        .target_group_arn(target_group)
        .set_targets(Some(descriptions(targets.iter().copied())))
        .send()
        .await
        .map(|_| ())
}

/// Puts `targets` (all of `target_group`) back. Registering a target that
/// is registered already changes nothing, so this is safe to repeat.
pub async fn register(
    client: &Client,
    target_group: &str,
    targets: &[&Target],
) -> Result<(), SdkError<RegisterTargetsError, HttpResponse>> {
    client
        .register_targets()
        .target_group_arn(target_group)
        .set_targets(Some(descriptions(targets.iter().copied())))
        .send()
        .await
        .map(|_| ())
}
