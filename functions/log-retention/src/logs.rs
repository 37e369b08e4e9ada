//! The CloudWatch Logs and tagging calls, one function per question or change.

use std::collections::HashMap;

use aws_sdk_cloudwatchlogs::types::{LogGroup, LogStream, OrderBy, PolicyType};

use crate::api::Api;
use crate::error::Error;
use crate::plan::{AccountPolicy, Activity, Group, LogClass, RecentEvents, ResourcePolicy};

/// DescribeLogGroups returns at most 50 groups a page.
pub const PAGE_SIZE: i32 = 50;
/// GetResources takes at most 100 ARNs a call.
pub const TAG_BATCH: usize = 100;
/// DescribeLogStreams returns at most 50 streams a page.
const STREAM_PAGE: i32 = 50;
/// Stream pages read per candidate; a group with more streams is kept,
/// since its newest stream may not have been seen.
pub const MAX_STREAM_PAGES: usize = 10;
/// The account-level policies whose selection criteria can name a log group:
/// a group named by one is kept (see [`AccountPolicy::names`]). Each kind is
/// one more call per region and run, and one more way for the check to fail
/// (which keeps every candidate), so only these are read.
const NAMING_POLICIES: [PolicyType; 2] = [
    PolicyType::SubscriptionFilterPolicy,
    PolicyType::TransformerPolicy,
];

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
        created_ms: g.creation_time(),
        // A group whose size is not reported is treated as not empty.
        stored_bytes: g.stored_bytes().unwrap_or(i64::MAX),
        deletion_protected: g.deletion_protection_enabled().unwrap_or(false),
        class: LogClass::from_api(g.log_group_class().map(|c| c.as_str())),
        metric_filters: g.metric_filter_count().unwrap_or(0),
        data_protection: g.data_protection_status().map(|s| s.as_str().to_owned()),
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

/// The tags of one group from CloudWatch Logs itself, which knows them as
/// soon as the group exists (the tagging API's index may lag behind).
pub async fn read_group_tags(c: &RegionClients, api: &Api, arn: &str) -> Result<Tags, Error> {
    let out = api
        .call(
            "ListTagsForResource",
            arn,
            c.logs.list_tags_for_resource().resource_arn(arn).send(),
        )
        .await?;
    Ok(out
        .tags()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect())
}

/// The region's account-level policies that can name log groups, every page
/// of every kind.
pub async fn account_policies(c: &RegionClients, api: &Api) -> Result<Vec<AccountPolicy>, Error> {
    let mut found = Vec::new();
    for kind in NAMING_POLICIES {
        let mut token: Option<String> = None;
        loop {
            let out = api
                .call(
                    "DescribeAccountPolicies",
                    &c.region,
                    c.logs
                        .describe_account_policies()
                        .policy_type(kind.clone())
                        .set_next_token(token)
                        .send(),
                )
                .await?;
            found.extend(out.account_policies().iter().map(|p| AccountPolicy {
                kind: p.policy_type().unwrap_or(&kind).as_str().to_owned(),
                name: p.policy_name().unwrap_or_default().to_owned(),
                selection_criteria: p.selection_criteria().map(str::to_owned),
            }));
            token = out
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(found)
}

/// Subscription and metric filters and the streams' activity of a candidate.
/// Filters are read first: a group that has one needs no stream lookup.
/// Streams are read newest event first, page by page, until one shows
/// activity at or after `active_since_ms` (the answer is then known) or
/// [`MAX_STREAM_PAGES`] are read.
pub async fn activity(
    c: &RegionClients,
    api: &Api,
    name: &str,
    active_since_ms: i64,
) -> Result<Activity, Error> {
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
    let mut activity = Activity {
        subscription_filters: filters.subscription_filters().len(),
        ..Activity::default()
    };
    if activity.subscription_filters > 0 {
        return Ok(activity);
    }
    // One page answers: a group has at most a few metric filters, and one
    // is enough to keep it.
    let metric = api
        .call(
            "DescribeMetricFilters",
            name,
            c.logs.describe_metric_filters().log_group_name(name).send(),
        )
        .await?;
    activity.metric_filters = metric.metric_filters().len();
    if activity.metric_filters > 0 {
        return Ok(activity);
    }
    let mut token: Option<String> = None;
    for _ in 0..MAX_STREAM_PAGES {
        let page = api
            .call(
                "DescribeLogStreams",
                name,
                c.logs
                    .describe_log_streams()
                    .log_group_name(name)
                    .order_by(OrderBy::LastEventTime)
                    .descending(true)
                    .limit(STREAM_PAGE)
                    .set_next_token(token)
                    .send(),
            )
            .await?;
        for stream in page.log_streams() {
            match stream_activity(stream) {
                None => {
                    activity.unstamped_stream =
                        Some(stream.log_stream_name().unwrap_or("(unnamed)").to_owned());
                }
                Some(ms) => {
                    activity.last_activity_ms = activity.last_activity_ms.max(Some(ms));
                }
            }
        }
        let answered = activity.unstamped_stream.is_some()
            || activity
                .last_activity_ms
                .is_some_and(|last| last >= active_since_ms);
        token = page
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if answered || token.is_none() {
            return Ok(activity);
        }
    }
    activity.streams_unread = true;
    Ok(activity)
}

/// The latest of a stream's creation, last event and last ingestion; `None`
/// when it has no event timestamp yet, since those lag ingestion and the
/// stream may be receiving logs now.
fn stream_activity(stream: &LogStream) -> Option<i64> {
    let events = stream
        .last_event_timestamp()
        .max(stream.last_ingestion_time())?;
    Some(events.max(stream.creation_time().unwrap_or(i64::MIN)))
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

/// What DeleteLogGroup answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// This call deleted the group.
    Now,
    /// The group did not exist any more: someone (or an earlier attempt of
    /// this event) deleted it first.
    AlreadyGone,
}

/// Deletes a group.
pub async fn delete_group(c: &RegionClients, api: &Api, name: &str) -> Result<Deleted, Error> {
    match api
        .call(
            "DeleteLogGroup",
            name,
            c.logs.delete_log_group().log_group_name(name).send(),
        )
        .await
    {
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(Deleted::AlreadyGone),
        other => other.map(|_| Deleted::Now),
    }
}

/// One FilterLogEvents call over the group for an event since `since_ms`:
/// events are searchable almost as soon as they are ingested, while the
/// streams' `lastEventTimestamp`/`lastIngestionTime` lag by up to an hour.
pub async fn recent_events(
    c: &RegionClients,
    api: &Api,
    name: &str,
    since_ms: i64,
) -> Result<RecentEvents, Error> {
    let out = api
        .call(
            "FilterLogEvents",
            name,
            c.logs
                .filter_log_events()
                .log_group_name(name)
                .start_time(since_ms)
                .limit(1)
                .send(),
        )
        .await?;
    if let Some(event) = out.events().first() {
        let at = event
            .ingestion_time()
            .or(event.timestamp())
            .unwrap_or(since_ms);
        return Ok(RecentEvents::Found(at));
    }
    // A search can end a call with no event and a token before it has
    // covered the whole window.
    Ok(match out.next_token().filter(|t| !t.is_empty()) {
        Some(_) => RecentEvents::Unfinished,
        None => RecentEvents::None,
    })
}

/// The region's CloudWatch Logs resource policies, every page.
pub async fn resource_policies(c: &RegionClients, api: &Api) -> Result<Vec<ResourcePolicy>, Error> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = api
            .call(
                "DescribeResourcePolicies",
                &c.region,
                c.logs
                    .describe_resource_policies()
                    .set_next_token(token)
                    .send(),
            )
            .await?;
        found.extend(out.resource_policies().iter().map(|p| {
            ResourcePolicy::from_document(
                p.policy_name().unwrap_or("(unnamed)"),
                p.policy_document().unwrap_or_default(),
            )
        }));
        token = out
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if token.is_none() {
            return Ok(found);
        }
    }
}
