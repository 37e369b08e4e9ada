//! The CloudWatch Logs and tagging calls, one function per question or change.

use std::collections::HashMap;

use aws_sdk_cloudwatchlogs::types::{LogGroup, OrderBy};

use crate::api::Api;
use crate::error::Error;
use crate::plan::{Activity, Group};

/// DescribeLogGroups returns at most 50 groups a page.
pub const PAGE_SIZE: i32 = 50;
/// GetResources takes at most 100 ARNs a call.
pub const TAG_BATCH: usize = 100;

/// The clients for one region.
#[derive(Debug, Clone)]
pub struct RegionClients {
    pub region: String,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
}

pub type Tags = HashMap<String, String>;

fn to_group(g: &LogGroup) -> Option<Group> {
    let name = g.log_group_name()?.to_owned();
    let arn = g
        .log_group_arn()
        .map(str::to_owned)
        .or_else(|| g.arn().map(|a| a.trim_end_matches(":*").to_owned()))
        .unwrap_or_default();
    Some(Group {
        name,
        arn,
        retention: g.retention_in_days(),
        created_ms: g.creation_time().unwrap_or(0),
        // A group whose size is not reported is treated as not empty.
        stored_bytes: g.stored_bytes().unwrap_or(i64::MAX),
        deletion_protected: g.deletion_protection_enabled().unwrap_or(false),
    })
}

/// One page of the region's groups, in name order, and the next page's token.
pub async fn list_page(
    c: &RegionClients,
    api: &Api,
    token: Option<String>,
) -> Result<(Vec<Group>, Option<String>), Error> {
    let out = api
        .call(
            "DescribeLogGroups",
            &c.region,
            c.logs
                .describe_log_groups()
                .set_next_token(token)
                .limit(PAGE_SIZE)
                .send(),
        )
        .await?;
    let groups = out.log_groups().iter().filter_map(to_group).collect();
    let next = out
        .next_token()
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    Ok((groups, next))
}

/// One group by exact name; `None` when it no longer exists.
pub async fn describe_group(
    c: &RegionClients,
    api: &Api,
    name: &str,
) -> Result<Option<Group>, Error> {
    // The exact name sorts first among the names it is a prefix of.
    let out = api
        .call(
            "DescribeLogGroups",
            name,
            c.logs
                .describe_log_groups()
                .log_group_name_prefix(name)
                .limit(1)
                .send(),
        )
        .await?;
    Ok(out
        .log_groups()
        .iter()
        .filter_map(to_group)
        .find(|g| g.name == name))
}

/// The tags of up to [`TAG_BATCH`] groups in one GetResources call (more
/// only if the service paginates). Untagged groups are absent from the map.
pub async fn read_tags(
    c: &RegionClients,
    api: &Api,
    arns: &[String],
) -> Result<HashMap<String, Tags>, Error> {
    debug_assert!(arns.len() <= TAG_BATCH);
    let mut found = HashMap::new();
    let mut token: Option<String> = None;
    loop {
        // The ARN list cannot be combined with a pagination token.
        let request = match &token {
            None => c
                .tagging
                .get_resources()
                .set_resource_arn_list(Some(arns.to_vec())),
            Some(t) => c.tagging.get_resources().pagination_token(t),
        };
        let what = format!("{} log groups", arns.len());
        let out = api.call("GetResources", &what, request.send()).await?;
        for mapping in out.resource_tag_mapping_list() {
            let Some(arn) = mapping.resource_arn() else {
                continue;
            };
            let tags: Tags = mapping
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect();
            found.insert(arn.trim_end_matches(":*").to_owned(), tags);
        }
        token = out
            .pagination_token()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if token.is_none() {
            return Ok(found);
        }
    }
}

/// Subscription filters and the latest stream activity of a candidate.
/// Filters are read first: a group that has one needs no stream lookup.
pub async fn activity(c: &RegionClients, api: &Api, name: &str) -> Result<Activity, Error> {
    let filters = api
        .call(
            "DescribeSubscriptionFilters",
            name,
            c.logs
                .describe_subscription_filters()
                .log_group_name(name)
                .send(),
        )
        .await?;
    let subscription_filters = filters.subscription_filters().len();
    if subscription_filters > 0 {
        return Ok(Activity {
            subscription_filters,
            last_activity_ms: None,
        });
    }
    // Ordered by last event, newest first: one stream answers for all.
    let streams = api
        .call(
            "DescribeLogStreams",
            name,
            c.logs
                .describe_log_streams()
                .log_group_name(name)
                .order_by(OrderBy::LastEventTime)
                .descending(true)
                .limit(1)
                .send(),
        )
        .await?;
    let last_activity_ms = streams
        .log_streams()
        .iter()
        .filter_map(|s| s.last_event_timestamp().max(s.last_ingestion_time()))
        .max();
    Ok(Activity {
        subscription_filters,
        last_activity_ms,
    })
}

pub async fn put_retention(
    c: &RegionClients,
    api: &Api,
    name: &str,
    days: i32,
) -> Result<(), Error> {
    api.call(
        "PutRetentionPolicy",
        name,
        c.logs
            .put_retention_policy()
            .log_group_name(name)
            .retention_in_days(days)
            .send(),
    )
    .await
    .map(|_| ())
}

/// Deletes a group; one already gone counts as deleted.
pub async fn delete_group(c: &RegionClients, api: &Api, name: &str) -> Result<(), Error> {
    match api
        .call(
            "DeleteLogGroup",
            name,
            c.logs.delete_log_group().log_group_name(name).send(),
        )
        .await
    {
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
        other => other.map(|_| ()),
    }
}
