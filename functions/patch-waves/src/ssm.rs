//! The Systems Manager calls: which instances are managed and how their
//! agent is, their patch states (batched, 50 instance ids a call), and the
//! public parameter naming the latest Amazon Linux 2023 AMI. No decisions.

use std::collections::BTreeMap;

use aws_sdk_ssm::Client;
use time::OffsetDateTime;

use crate::Calls;
use crate::error::Error;
use crate::plan::{Agent, PatchState};

/// `DescribeInstanceInformation` returns at most 50 a page.
const INFORMATION_PAGE: i32 = 50;
/// `DescribeInstancePatchStates` takes at most 50 instance ids.
pub const PATCH_STATES_BATCH: usize = 50;

fn at(t: Option<&aws_sdk_ssm::primitives::DateTime>) -> Option<OffsetDateTime> {
    t.and_then(|t| OffsetDateTime::from_unix_timestamp(t.secs()).ok())
}

/// Every managed EC2 instance's agent, by instance id (hybrid nodes,
/// `mi-...`, are not EC2 instances and are left out).
pub async fn agents(client: &Client, calls: &mut Calls) -> Result<BTreeMap<String, Agent>, Error> {
    let mut out = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        calls.incr("DescribeInstanceInformation");
        let page = client
            .describe_instance_information()
            .max_results(INFORMATION_PAGE)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| Error::Aws {
                operation: "DescribeInstanceInformation",
                target: "managed instances".to_owned(),
                source: shared::aws::cause(e),
            })?;
        for info in page.instance_information_list() {
            let Some(id) = info.instance_id().filter(|id| id.starts_with("i-")) else {
                continue;
            };
            let platform = match (info.platform_name(), info.platform_version()) {
                (Some(name), Some(version)) => Some(format!("{name} {version}")),
                (Some(name), None) => Some(name.to_owned()),
                _ => None,
            };
            out.insert(
                id.to_owned(),
                Agent {
                    ping_status: info
                        .ping_status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_else(|| "Unknown".to_owned()),
                    last_ping: at(info.last_ping_date_time()),
                    platform,
                },
            );
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(out)
}

/// The patch state of each of `instances` that has one, by instance id.
pub async fn patch_states(
    client: &Client,
    instances: &[&str],
    calls: &mut Calls,
) -> Result<BTreeMap<String, PatchState>, Error> {
    let mut out = BTreeMap::new();
    for batch in instances.chunks(PATCH_STATES_BATCH) {
        let mut token: Option<String> = None;
        loop {
            calls.incr("DescribeInstancePatchStates");
            let page = client
                .describe_instance_patch_states()
                .set_instance_ids(Some(batch.iter().map(|s| (*s).to_owned()).collect()))
                .max_results(PATCH_STATES_BATCH as i32)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| Error::Aws {
                    operation: "DescribeInstancePatchStates",
                    target: format!("{} instance(s) from {}", batch.len(), batch[0]),
                    source: shared::aws::cause(e),
                })?;
            for state in page.instance_patch_states() {
                out.insert(
                    state.instance_id().to_owned(),
                    PatchState {
                        patch_group: Some(state.patch_group().to_owned()).filter(|g| !g.is_empty()),
                        critical_missing: state.critical_non_compliant_count().unwrap_or(0),
                        security_missing: state.security_non_compliant_count().unwrap_or(0),
                        missing: state.missing_count(),
                        failed: state.failed_count(),
                        pending_reboot: state.installed_pending_reboot_count().unwrap_or(0),
                        operation: state.operation().as_str().to_owned(),
                        operation_end: at(Some(state.operation_end_time())),
                    },
                );
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
    }
    Ok(out)
}

/// The AMI id the public parameter `name` holds.
pub async fn latest_image(client: &Client, name: &str, calls: &mut Calls) -> Result<String, Error> {
    calls.incr("GetParameter");
    let out = client
        .get_parameter()
        .name(name)
        .send()
        .await
        .map_err(|e| Error::Aws {
            operation: "GetParameter",
            target: name.to_owned(),
            source: shared::aws::cause(e),
        })?;
    out.parameter()
        .and_then(|p| p.value())
        .map(str::to_owned)
        .ok_or_else(|| Error::Aws {
            operation: "GetParameter",
            target: name.to_owned(),
            source: "the parameter has no value".into(),
        })
}
