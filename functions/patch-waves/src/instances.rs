//! The EC2 calls: the running instances, the AMIs they were launched from,
//! and the network facts that say whether an unmanaged instance can reach
//! Systems Manager. Every call is paged or batched; none is made per
//! instance. No decisions here.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{Filter, RouteState};

use crate::Calls;
use crate::error::Error;
use crate::plan::{Instance, Reach, Release};

/// `DescribeInstances` returns at most 1,000 instances a page.
const INSTANCES_PAGE: i32 = 1000;
/// Image ids asked in one `DescribeImages`.
const IMAGES_BATCH: usize = 200;
/// Values in one filter of `DescribeRouteTables`.
const FILTER_VALUES: usize = 200;

fn filter(name: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
    let mut builder = Filter::builder().name(name);
    for v in values {
        builder = builder.values(v);
    }
    builder.build()
}

/// Every instance of the Region that is not terminated, page after page:
/// the running ones, and the state of the others by id (pending, stopping,
/// stopped), whose findings the report keeps rather than ends.
pub async fn present(
    client: &Client,
    calls: &mut Calls,
) -> Result<(Vec<Instance>, BTreeMap<String, String>), Error> {
    let mut out = Vec::new();
    let mut paused = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        calls.incr("DescribeInstances");
        let page = client
            .describe_instances()
            .filters(filter(
                "instance-state-name",
                ["pending", "running", "stopping", "stopped"],
            ))
            .max_results(INSTANCES_PAGE)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| Error::Aws {
                operation: "DescribeInstances",
                target: "the instances not terminated".to_owned(),
                source: shared::aws::cause(e),
            })?;
        for reservation in page.reservations() {
            for i in reservation.instances() {
                let Some(id) = i.instance_id() else { continue };
                let state = i
                    .state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_owned())
                    .unwrap_or_default();
                if state != "running" {
                    paused.insert(id.to_owned(), state);
                    continue;
                }
                out.push(Instance {
                    id: id.to_owned(),
                    tags: i
                        .tags()
                        .iter()
                        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                        .collect(),
                    image_id: i.image_id().map(str::to_owned),
                    instance_profile: i
                        .iam_instance_profile()
                        .and_then(|p| p.arn().or(p.id()))
                        .map(str::to_owned),
                    vpc_id: i.vpc_id().map(str::to_owned),
                    subnet_id: i.subnet_id().map(str::to_owned),
                });
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok((out, paused))
}

/// Snapshots every EBS volume of `instance` at once (`CreateSnapshots`, one
/// crash-consistent set), tagged with the rollout and the date after which
/// they may be deleted; returns the snapshot ids.
pub async fn snapshot(
    client: &Client,
    instance: &str,
    rollout: &str,
    expires_at: &str,
    calls: &mut Calls,
) -> Result<Vec<String>, Error> {
    use aws_sdk_ec2::types::{
        CopyTagsFromSource, InstanceSpecification, ResourceType, Tag, TagSpecification,
    };
    let tag = |key: &str, value: &str| Tag::builder().key(key).value(value).build();
    calls.incr("CreateSnapshots");
    let out = client
        .create_snapshots()
        .instance_specification(
            InstanceSpecification::builder()
                .instance_id(instance)
                .exclude_boot_volume(false)
                .build(),
        )
        .description(format!(
            "toilkit patch-waves: before patching, rollout {rollout}"
        ))
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Snapshot)
                .tags(tag("toilkit:rollout", rollout))
                .tags(tag("toilkit:instance", instance))
                .tags(tag("toilkit:expires-at", expires_at))
                .build(),
        )
        .copy_tags_from_source(CopyTagsFromSource::Volume)
        .send()
        .await
        .map_err(|e| Error::Aws {
            operation: "CreateSnapshots",
            target: instance.to_owned(),
            source: shared::aws::cause(e),
        })?;
    Ok(out
        .snapshots()
        .iter()
        .filter_map(|s| s.snapshot_id().map(str::to_owned))
        .collect())
}

/// The Amazon Linux 2023 release of each of `images` that is one, by
/// image id: `DescribeImages` in batches. An image EC2 no longer lists
/// (deregistered, or shared and since unshared) is left out.
pub async fn al2023_releases(
    client: &Client,
    images: &BTreeSet<String>,
    calls: &mut Calls,
) -> Result<BTreeMap<String, Release>, Error> {
    let mut out = BTreeMap::new();
    let images: Vec<&String> = images.iter().collect();
    for batch in images.chunks(IMAGES_BATCH) {
        calls.incr("DescribeImages");
        let page = client
            .describe_images()
            // Amazon deprecates its AL2023 AMIs as they age, and EC2 leaves
            // deprecated AMIs of others out unless asked: the instances
            // furthest behind would otherwise go unseen.
            .include_deprecated(true)
            // A filter, not `ImageIds`: an id EC2 no longer knows (an AMI
            // deregistered while instances still run it) is then left out
            // of the answer instead of failing the whole call.
            .filters(
                Filter::builder()
                    .name("image-id")
                    .set_values(Some(batch.iter().map(|s| (*s).clone()).collect()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| Error::Aws {
                operation: "DescribeImages",
                target: format!("{} image(s) from {}", batch.len(), batch[0]),
                source: shared::aws::cause(e),
            })?;
        for image in page.images() {
            if let (Some(id), Some(release)) = (
                image.image_id(),
                image.name().and_then(Release::from_ami_name),
            ) {
                out.insert(id.to_owned(), release);
            }
        }
    }
    Ok(out)
}

/// For each of `instances` (the unmanaged ones) in a VPC subnet, whether it
/// has a route to Systems Manager: an `ssm` interface endpoint in its VPC,
/// or a default route in its subnet's route table (the subnet's own, else
/// the VPC's main one). One paged `DescribeVpcEndpoints` and paged
/// `DescribeRouteTables` of those VPCs.
pub async fn reach(
    client: &Client,
    region: &str,
    instances: &[&Instance],
    calls: &mut Calls,
) -> Result<BTreeMap<String, Reach>, Error> {
    let vpcs: BTreeSet<&str> = instances
        .iter()
        .filter_map(|i| i.vpc_id.as_deref())
        .collect();
    if vpcs.is_empty() {
        return Ok(BTreeMap::new());
    }
    let service = format!("com.amazonaws.{region}.ssm");
    let mut with_endpoint = BTreeSet::new();
    let mut token: Option<String> = None;
    loop {
        calls.incr("DescribeVpcEndpoints");
        let page = client
            .describe_vpc_endpoints()
            .filters(filter("service-name", [service.as_str()]))
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| Error::Aws {
                operation: "DescribeVpcEndpoints",
                target: service.clone(),
                source: shared::aws::cause(e),
            })?;
        for endpoint in page.vpc_endpoints() {
            let usable = endpoint
                .state()
                .is_none_or(|s| s.as_str().eq_ignore_ascii_case("available"));
            if usable && let Some(vpc) = endpoint.vpc_id() {
                with_endpoint.insert(vpc.to_owned());
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    // Route tables only of VPCs without an endpoint.
    let asked: Vec<&str> = vpcs
        .iter()
        .copied()
        .filter(|v| !with_endpoint.contains(*v))
        .collect();
    // subnet -> (table, default route); vpc -> main (table, default route)
    let mut by_subnet: BTreeMap<String, (String, bool)> = BTreeMap::new();
    let mut main: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for batch in asked.chunks(FILTER_VALUES) {
        let mut token: Option<String> = None;
        loop {
            calls.incr("DescribeRouteTables");
            let page = client
                .describe_route_tables()
                .filters(filter("vpc-id", batch.iter().copied()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| Error::Aws {
                    operation: "DescribeRouteTables",
                    target: format!("{} VPC(s) from {}", batch.len(), batch[0]),
                    source: shared::aws::cause(e),
                })?;
            for table in page.route_tables() {
                let Some(id) = table.route_table_id() else {
                    continue;
                };
                let default_route = table.routes().iter().any(|r| {
                    (r.destination_cidr_block() == Some("0.0.0.0/0")
                        || r.destination_ipv6_cidr_block() == Some("::/0"))
                        && r.state() != Some(&RouteState::Blackhole)
                });
                for association in table.associations() {
                    if association.main() == Some(true)
                        && let Some(vpc) = table.vpc_id()
                    {
                        main.insert(vpc.to_owned(), (id.to_owned(), default_route));
                    }
                    if let Some(subnet) = association.subnet_id() {
                        by_subnet.insert(subnet.to_owned(), (id.to_owned(), default_route));
                    }
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
    }
    let mut out = BTreeMap::new();
    for instance in instances {
        let Some(vpc) = instance.vpc_id.as_deref() else {
            continue;
        };
        if with_endpoint.contains(vpc) {
            out.insert(instance.id.clone(), Reach::Routed);
            continue;
        }
        let table = instance
            .subnet_id
            .as_deref()
            .and_then(|s| by_subnet.get(s))
            .or_else(|| main.get(vpc));
        // A subnet whose table was not listed tells nothing.
        if let Some((table, default_route)) = table {
            out.insert(
                instance.id.clone(),
                if *default_route {
                    Reach::Routed
                } else {
                    Reach::NoRoute {
                        vpc: vpc.to_owned(),
                        route_table: table.clone(),
                    }
                },
            );
        }
    }
    Ok(out)
}
