//! WAF IP sets: naming them by ARN, reading them, and writing them safely.
//!
//! `UpdateIPSet` replaces a set's whole content and is guarded by a lock
//! token. A write here is always "what was read, with this run's additions
//! and removals applied": when another writer got in first
//! (`WAFOptimisticLockException`), the set is read again and the same changes
//! are applied to the new content, so the other writer's addresses survive.
//! Nothing is written when the content would not change, and writes are
//! spaced at least a second apart (WAF's limit per account and Region).

use std::str::FromStr;
use std::time::{Duration, Instant};

use aws_sdk_wafv2::operation::update_ip_set::UpdateIPSetError;
use aws_sdk_wafv2::types::{IpAddressVersion, Scope};
use ipnet::IpNet;

use crate::delta::{Merged, SetDelta};
use crate::error::{Cause, Error};
use crate::family::Family;

/// Attempts at one set's update when other writers keep winning the lock.
pub const MAX_ATTEMPTS: u32 = 6;
/// WAF allows one Create/Update/Put call per second per account and Region.
pub const MIN_WRITE_INTERVAL: Duration = Duration::from_secs(1);

/// An IP set named by its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSetRef {
    pub arn: String,
    pub region: String,
    pub scope: Scope,
    pub name: String,
    pub id: String,
}

impl FromStr for IpSetRef {
    type Err = String;

    /// `arn:aws:wafv2:REGION:ACCOUNT:regional/ipset/NAME/ID`, or
    /// `global/ipset/...` for CloudFront (whose sets live in us-east-1).
    fn from_str(arn: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, _partition, service, region, _account, resource] = parts[..] else {
            return Err("is not an ARN".to_owned());
        };
        if prefix != "arn" || service != "wafv2" {
            return Err("is not a WAFv2 ARN (arn:aws:wafv2:...)".to_owned());
        }
        let resource: Vec<&str> = resource.split('/').collect();
        let [scope, "ipset", name, id] = resource[..] else {
            return Err(
                "is not an IP set ARN (…:regional/ipset/NAME/ID or …:global/ipset/NAME/ID)"
                    .to_owned(),
            );
        };
        let scope = match scope {
            "regional" => Scope::Regional,
            "global" => Scope::Cloudfront,
            other => return Err(format!("has scope {other:?}; expected regional or global")),
        };
        if name.is_empty() || id.is_empty() || region.is_empty() {
            return Err("lacks a region, a name or an id".to_owned());
        }
        Ok(Self {
            arn: arn.to_owned(),
            region: region.to_owned(),
            scope,
            name: name.to_owned(),
            id: id.to_owned(),
        })
    }
}

/// One configured IP set and the client for its Region.
pub struct ConfiguredSet {
    pub family: Family,
    pub set: IpSetRef,
    pub client: aws_sdk_wafv2::Client,
}

impl ConfiguredSet {
    pub fn new(family: Family, set: &IpSetRef, sdk: &aws_types::SdkConfig) -> Self {
        // An IP set is served by the Region in its ARN (us-east-1 for
        // CloudFront), whatever the function's own Region.
        let waf = aws_sdk_wafv2::config::Builder::from(sdk)
            .region(aws_sdk_wafv2::config::Region::new(set.region.clone()))
            .build();
        Self {
            family,
            set: set.clone(),
            client: aws_sdk_wafv2::Client::from_conf(waf),
        }
    }
}

/// One configured set with the content read for the plan.
pub struct SetState<'a> {
    pub family: Family,
    pub set: &'a IpSetRef,
    pub client: &'a aws_sdk_wafv2::Client,
    pub current: CurrentSet,
}

/// The address version WAF names a family by.
pub fn version(family: Family) -> IpAddressVersion {
    match family {
        Family::V4 => IpAddressVersion::Ipv4,
        Family::V6 => IpAddressVersion::Ipv6,
    }
}

fn error(set: &IpSetRef, operation: &'static str, source: impl Into<Cause>) -> Error {
    Error::IpSet {
        arn: set.arn.clone(),
        operation,
        source: source.into(),
    }
}

/// A set as read.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentSet {
    pub addresses: Vec<IpNet>,
    pub lock_token: String,
    pub description: Option<String>,
    /// Entries that are not CIDRs this function understands; written back
    /// unchanged, since they belong to someone else.
    pub unreadable: Vec<String>,
}

/// Keeps writes at least [`MIN_WRITE_INTERVAL`] apart within this process.
#[derive(Debug, Default)]
pub struct WriteGate {
    last: tokio::sync::Mutex<Option<Instant>>,
}

impl WriteGate {
    async fn wait(&self) -> tokio::sync::MutexGuard<'_, Option<Instant>> {
        let last = self.last.lock().await;
        if let Some(at) = *last {
            let ready = at + MIN_WRITE_INTERVAL;
            let now = Instant::now();
            if ready > now {
                tokio::time::sleep(ready - now).await;
            }
        }
        last
    }
}

/// What writing one set did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Written {
    /// `UpdateIPSet` calls that succeeded (0 when nothing changed).
    pub writes: u32,
    /// Lock conflicts met and resolved by re-reading.
    pub conflicts: u32,
    /// This run's additions that did not fit after merging.
    pub dropped: Vec<IpNet>,
    /// The content finally written (or found already right).
    pub size: usize,
    /// That content: what a report may call blocked.
    pub content: Vec<IpNet>,
}

/// Reads every configured set, in order.
pub async fn read_all(sets: &[ConfiguredSet]) -> Result<Vec<SetState<'_>>, Error> {
    let mut states = Vec::with_capacity(sets.len());
    for configured in sets {
        let current = read(
            &configured.client,
            &configured.set,
            version(configured.family),
        )
        .await?;
        states.push(SetState {
            family: configured.family,
            set: &configured.set,
            client: &configured.client,
            current,
        });
    }
    Ok(states)
}

pub async fn read(
    client: &aws_sdk_wafv2::Client,
    set: &IpSetRef,
    expect: IpAddressVersion,
) -> Result<CurrentSet, Error> {
    let out = client
        .get_ip_set()
        .name(&set.name)
        .scope(set.scope.clone())
        .id(&set.id)
        .send()
        .await
        .map_err(|e| error(set, "GetIPSet", shared::aws::cause(e)))?;
    let ip_set = out
        .ip_set
        .ok_or_else(|| error(set, "GetIPSet", "the answer holds no IP set"))?;
    if ip_set.ip_address_version != expect {
        return Err(error(
            set,
            "GetIPSet",
            format!(
                "the set holds {} addresses but is configured for {}",
                ip_set.ip_address_version.as_str(),
                expect.as_str()
            ),
        ));
    }
    let mut addresses = Vec::new();
    let mut unreadable = Vec::new();
    for a in &ip_set.addresses {
        match a.parse::<IpNet>() {
            Ok(net) => addresses.push(net.trunc()),
            Err(_) => {
                tracing::warn!(set = %set.arn, address = %a, "unreadable address in IP set kept as is");
                unreadable.push(a.clone());
            }
        }
    }
    Ok(CurrentSet {
        addresses,
        lock_token: out.lock_token.unwrap_or_default(),
        description: ip_set.description,
        unreadable,
    })
}

/// Applies `delta` to the set, re-reading and merging again on lock
/// conflicts; writes only when the content changes.
pub async fn write(
    client: &aws_sdk_wafv2::Client,
    set: &IpSetRef,
    expect: IpAddressVersion,
    mut current: CurrentSet,
    delta: &SetDelta,
    capacity: usize,
    gate: &WriteGate,
) -> Result<Written, Error> {
    let mut written = Written::default();
    for attempt in 1..=MAX_ATTEMPTS {
        let Merged { content, dropped } = delta.apply(&current.addresses, capacity);
        written.dropped = dropped;
        written.size = content.len();
        written.content = content.clone();
        if same_content(&content, &current.addresses) {
            return Ok(written);
        }
        let mut last = gate.wait().await;
        let result = client
            .update_ip_set()
            .name(&set.name)
            .scope(set.scope.clone())
            .id(&set.id)
            .set_description(current.description.clone())
            .set_addresses(Some(
                content
                    .iter()
                    .map(IpNet::to_string)
                    .chain(current.unreadable.iter().cloned())
                    .collect(),
            ))
            .lock_token(&current.lock_token)
            .send()
            .await;
        *last = Some(Instant::now());
        drop(last);
        match result {
            Ok(_) => {
                written.writes += 1;
                return Ok(written);
            }
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateIPSetError::WafOptimisticLockException(_))
                ) =>
            {
                written.conflicts += 1;
                tracing::info!(set = %set.arn, attempt, "another writer changed the IP set; merging again");
                if attempt == MAX_ATTEMPTS {
                    break;
                }
                // Jitter keeps two blockers that collided from colliding again.
                let pause = Duration::from_millis(50 + fastrand::u64(0..250 * u64::from(attempt)));
                tokio::time::sleep(pause).await;
                current = read(client, set, expect.clone()).await?;
            }
            Err(e) => {
                return Err(error(set, "UpdateIPSet", shared::aws::cause(e)));
            }
        }
    }
    Err(error(
        set,
        "UpdateIPSet",
        format!("other writers changed the set on each of {MAX_ATTEMPTS} attempts"),
    ))
}

fn same_content(a: &[IpNet], b: &[IpNet]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    a.dedup();
    b.sort();
    b.dedup();
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_give_scope_region_name_and_id() {
        let r: IpSetRef = "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/blocked/a1b2-c3"
            .parse()
            .unwrap();
        assert_eq!(r.scope, Scope::Regional);
        assert_eq!(
            (r.region.as_str(), r.name.as_str(), r.id.as_str()),
            ("eu-west-1", "blocked", "a1b2-c3")
        );
        let g: IpSetRef = "arn:aws:wafv2:us-east-1:123456789012:global/ipset/cdn-block/x9"
            .parse()
            .unwrap();
        assert_eq!(g.scope, Scope::Cloudfront);
        for bad in [
            "blocked",
            "arn:aws:s3:::bucket",
            "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/acl/id",
            "arn:aws:wafv2:eu-west-1:123456789012:local/ipset/n/i",
            "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/n",
        ] {
            assert!(bad.parse::<IpSetRef>().is_err(), "{bad}");
        }
    }
}
