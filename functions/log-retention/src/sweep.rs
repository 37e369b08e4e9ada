//! The sweep of one region: list, plan, read tags in batches, act, with
//! bounded concurrency, and a resume point when the deadline stops it.
//!
//! Listing is sequential (DescribeLogGroups pages by token) and runs ahead of
//! the work it finds: groups that would change are gathered across pages into
//! batches of 100 for one GetResources call each (or fewer, once a batch has
//! waited [`MAX_BATCH_PAGES`] pages), and every batch's groups are worked on
//! concurrently, at most [`CONCURRENCY`] at a time. A page is done
//! when all of its groups are; if the deadline stops the run, it resumes from
//! the first page that is not done. Redoing part of a page is harmless: a
//! group already changed is no longer planned.
//!
//! Listing stops before the deadline, once the groups already found would
//! take the rest of the invocation at the rate cap: they are worked on, and
//! the next invocation starts after the last page listed instead of listing
//! again pages whose groups were found but not reached.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use shared::report::Report;
use tokio::sync::{OnceCell, Semaphore};
use tokio::task::JoinSet;

use crate::FUNCTION;
use crate::api::Api;
use crate::apply::{self, Step};
use crate::config::Config;
use crate::error::Error;
use crate::logs::{self, RegionClients, TAG_BATCH, Tags};
use crate::plan::{
    self, AccountPolicy, ChangeKind, Deletion, Group, GroupPlan, ResourcePolicy, Retention, Verdict,
};

/// Groups worked on at once in a region. The rate cap, not this, bounds the
/// call rate; this only keeps enough calls in flight to use the cap.
pub const CONCURRENCY: usize = 8;
/// Tag batches queued ahead of the workers before listing waits.
const BATCHES_AHEAD: usize = 3;
/// A batch is sent unfilled once its first group was listed this many pages
/// ago. Where few groups need a change, a batch of 100 could otherwise take
/// longer to fill than an invocation lasts: the resume point, held at the
/// first unfinished page, would never move, and every invocation would list
/// the same pages again (at 5 calls a second and 1 group in 100 to change,
/// a batch fills after 10,000 groups, 40 seconds of listing).
const MAX_BATCH_PAGES: usize = 10;
/// Kept on top of the calls still queued when deciding whether to list
/// another page: one call's round trip, which the rate cap does not count.
const LISTING_ALLOWANCE: Duration = Duration::from_millis(300);

/// What one invocation has found and done so far, shared by its tasks.
#[derive(Debug)]
pub struct Run {
    pub config: Arc<Config>,
    pub dry_run: bool,
    pub now_ms: i64,
    report: Mutex<Report>,
    transitions: Mutex<BTreeMap<String, u64>>,
    stop_reasons: Mutex<Vec<String>>,
    deletions: AtomicU64,
}

impl Run {
    pub fn new(config: Arc<Config>, dry_run: bool, now_ms: i64) -> Self {
        Self {
            config,
            dry_run,
            now_ms,
            report: Mutex::new(Report::new(FUNCTION, dry_run)),
            transitions: Mutex::default(),
            stop_reasons: Mutex::default(),
            deletions: AtomicU64::new(0),
        }
    }

    pub fn report<T>(&self, f: impl FnOnce(&mut Report) -> T) -> T {
        f(&mut self.report.lock().expect("report lock"))
    }

    pub fn incr(&self, counter: &str) {
        self.report(|r| r.incr(counter));
    }

    /// Records why the run did not finish everything (once per reason).
    pub fn stop(&self, reason: &str) {
        let mut reasons = self.stop_reasons.lock().expect("stop lock");
        if !reasons.iter().any(|r| r == reason) {
            reasons.push(reason.to_owned());
        }
    }

    /// Takes one of the run's group deletions; `false` once the cap is used.
    fn reserve_deletion(&self) -> bool {
        let cap = self.config.max_group_deletions;
        self.deletions
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < cap).then_some(n + 1)
            })
            .is_ok()
    }

    /// Counts one `old → new` retention change for the report's tally.
    pub fn tally(&self, transition: String) {
        *self
            .transitions
            .lock()
            .expect("transitions lock")
            .entry(transition)
            .or_default() += 1;
    }

    /// The finished report: stop reasons and the `old → new` tally included.
    pub fn finish(&self) -> Report {
        let mut report = self.report(|r| r.clone());
        let reasons = self.stop_reasons.lock().expect("stop lock");
        if !reasons.is_empty() {
            report.stop_early(reasons.join("; "));
        }
        let transitions = self.transitions.lock().expect("transitions lock");
        if !transitions.is_empty() {
            report.detail("retention_changes", json!(*transitions));
        }
        report
    }
}

/// How a region's sweep ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Complete,
    /// The deadline came first; listing resumes at this token (`None`: the
    /// region's first page).
    Stopped {
        resume_token: Option<String>,
    },
    /// The groups could not be listed; the failure is in the report.
    Failed,
}

/// A group that would change or might be deleted, with the page it is on.
#[derive(Debug)]
struct Item {
    page: usize,
    group: Group,
    plan: GroupPlan,
}

/// Which pages still have unfinished groups.
#[derive(Debug, Default)]
struct Pages {
    start_tokens: BTreeMap<usize, Option<String>>,
    outstanding: BTreeMap<usize, usize>,
}

impl Pages {
    fn done(&mut self, page: usize) {
        if let Some(n) = self.outstanding.get_mut(&page) {
            *n -= 1;
            if *n == 0 {
                self.outstanding.remove(&page);
            }
        }
    }

    /// Groups found but not yet worked on.
    fn queued(&self) -> usize {
        self.outstanding.values().sum()
    }

    /// The token of the first unfinished page, or `next` if all are done.
    fn resume_from(&self, next: Option<String>) -> Option<String> {
        match self.outstanding.keys().next() {
            Some(page) => self.start_tokens.get(page).cloned().flatten(),
            None => next,
        }
    }
}

struct Region {
    run: Arc<Run>,
    clients: RegionClients,
    api: Api,
    permits: Arc<Semaphore>,
    pages: Mutex<Pages>,
    deadline_hit: AtomicBool,
    /// Read once, when the first candidate needs them; a failure is kept
    /// too, and keeps every candidate of the region.
    account_policies: OnceCell<Result<Arc<Vec<AccountPolicy>>, Arc<Error>>>,
    /// The same for the region's resource policies.
    resource_policies: OnceCell<Result<Arc<Vec<ResourcePolicy>>, Arc<Error>>>,
    /// The batch tags were already read from CloudWatch Logs itself (the
    /// CreateLogGroup path), so they need no second read before acting.
    own_tags_read: AtomicBool,
}

impl Region {
    fn new(run: Arc<Run>, clients: RegionClients, api: Api, concurrency: usize) -> Self {
        Self {
            run,
            clients,
            api,
            permits: Arc::new(Semaphore::new(concurrency)),
            pages: Mutex::default(),
            deadline_hit: AtomicBool::new(false),
            account_policies: OnceCell::new(),
            resource_policies: OnceCell::new(),
            own_tags_read: AtomicBool::new(false),
        }
    }

    /// Whether another page may be listed: the groups already found, and
    /// one more page's, can still be worked on before the deadline. Each
    /// needs at most one call of an operation, and each tag batch one call
    /// (`pending` groups waiting for a batch, `batches` sent).
    fn time_to_list(&self, pending: usize, batches: usize) -> bool {
        let queued = self.pages.lock().expect("pages lock").queued();
        let tag_calls = batches + pending.div_ceil(TAG_BATCH) + 1;
        let needed = self.api.time_for(queued + 1) + self.api.time_for(tag_calls);
        self.api.deadline().allows(needed + LISTING_ALLOWANCE)
    }

    fn done(&self, page: usize) {
        self.pages.lock().expect("pages lock").done(page);
    }

    async fn account_policies(&self) -> Result<Arc<Vec<AccountPolicy>>, Arc<Error>> {
        self.account_policies
            .get_or_init(|| async {
                logs::account_policies(&self.clients, &self.api)
                    .await
                    .map(Arc::new)
                    .map_err(Arc::new)
            })
            .await
            .clone()
    }

    async fn resource_policies(&self) -> Result<Arc<Vec<ResourcePolicy>>, Arc<Error>> {
        self.resource_policies
            .get_or_init(|| async {
                logs::resource_policies(&self.clients, &self.api)
                    .await
                    .map(Arc::new)
                    .map_err(Arc::new)
            })
            .await
            .clone()
    }

    /// Whether the group's own tags (ListTagsForResource) carry the exempt
    /// key. The tagging index the sweep reads first lags behind a tag just
    /// added, so this is asked of every group about to be deleted or have
    /// its retention shortened.
    async fn own_exempt(&self, item: &Item) -> Result<bool, Error> {
        if self.own_tags_read.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let tags = logs::read_group_tags(&self.clients, &self.api, &item.group.arn).await?;
        Ok(tags.contains_key(&self.run.config.exempt_tag_key))
    }
}

/// Where the tags of a batch come from.
enum TagSource {
    /// The Resource Groups Tagging API, 100 groups a call (the sweep).
    Index,
    /// The group's own tags from CloudWatch Logs, with those its creation
    /// request carried (a group created seconds ago, which the tagging
    /// index may not show yet).
    Own(Tags),
}

/// Plans one listed group and counts it.
fn plan_listed(run: &Run, group: &Group) -> GroupPlan {
    let config = &run.config;
    let plan = plan::plan_group(
        group,
        &config.policy,
        config.override_existing,
        config.delete_empty_after_days,
        run.now_ms,
    );
    run.report(|r| {
        r.incr("groups_scanned");
        match &plan.retention {
            Retention::Unchanged => r.incr("groups_unchanged"),
            Retention::KeptByRule(why) => {
                r.incr("groups_kept_by_rule");
                r.skip(&group.name, format!("kept as it is by {why}"));
            }
            Retention::KeptByClass(why) => {
                r.incr("groups_unchanged");
                r.skip(&group.name, format!("retention left as it is: {why}"));
            }
            Retention::Change(_) => {}
        }
        if let Deletion::Kept(why) = &plan.deletion {
            r.incr("deletion_candidates");
            r.incr("deletion_kept");
            r.skip(&group.name, format!("not deleted: {why}"));
        }
    });
    plan
}

/// Sweeps one region from `start` (a DescribeLogGroups token).
pub async fn sweep_region(
    run: Arc<Run>,
    clients: RegionClients,
    api: Api,
    start: Option<String>,
) -> Outcome {
    let region = Arc::new(Region::new(run.clone(), clients, api, CONCURRENCY));
    let name = region.clients.region.clone();
    let resuming = start.is_some();
    let mut token = start;
    let mut page = 0usize;
    let mut pending: Vec<Item> = Vec::new();
    let mut tasks = JoinSet::new();
    let mut failed = false;
    let mut listing_stopped = false;
    loop {
        while tasks.len() >= BATCHES_AHEAD {
            tasks.join_next().await;
        }
        if region.deadline_hit.load(Ordering::SeqCst) {
            break;
        }
        // The first page is always listed: an invocation that listed
        // nothing would hand on the same resume point, and the sweep would
        // never advance however low the cap or short the invocation.
        if page > 0 && !region.time_to_list(pending.len(), tasks.len()) {
            // Listing further would find groups this invocation cannot
            // finish, and the next one would list their pages again: work
            // on what was found, and resume after the last page listed.
            if !pending.is_empty() {
                tasks.spawn(process_batch(
                    region.clone(),
                    std::mem::take(&mut pending),
                    TagSource::Index,
                ));
            }
            listing_stopped = true;
            break;
        }
        let (groups, next) =
            match logs::list_page(&region.clients, &region.api, token.clone()).await {
                Ok(listed) => listed,
                Err(e) if e.is_deadline() => {
                    region.deadline_hit.store(true, Ordering::SeqCst);
                    break;
                }
                Err(e) if resuming && page == 0 && token.is_some() => {
                    // A resume token the service no longer accepts: start over;
                    // the groups already done are not planned again.
                    run.report(|r| {
                        r.skip(
                            &name,
                            format!("resume token not accepted ({e}); listing from the start"),
                        )
                    });
                    token = None;
                    continue;
                }
                Err(e) => {
                    run.report(|r| r.fail(&name, "list_log_groups", &e));
                    failed = true;
                    break;
                }
            };
        region
            .pages
            .lock()
            .expect("pages lock")
            .start_tokens
            .insert(page, token.clone());
        for group in groups {
            let plan = plan_listed(&run, &group);
            if plan.needs_tags() {
                *region
                    .pages
                    .lock()
                    .expect("pages lock")
                    .outstanding
                    .entry(page)
                    .or_default() += 1;
                pending.push(Item { page, group, plan });
            }
        }
        token = next;
        while pending.len() >= TAG_BATCH {
            let batch: Vec<Item> = pending.drain(..TAG_BATCH).collect();
            tasks.spawn(process_batch(region.clone(), batch, TagSource::Index));
        }
        if pending
            .first()
            .is_some_and(|first| page - first.page + 1 >= MAX_BATCH_PAGES)
        {
            let batch = std::mem::take(&mut pending);
            tasks.spawn(process_batch(region.clone(), batch, TagSource::Index));
        }
        if token.is_none() {
            if !pending.is_empty() {
                tasks.spawn(process_batch(
                    region.clone(),
                    std::mem::take(&mut pending),
                    TagSource::Index,
                ));
            }
            break;
        }
        page += 1;
    }
    while tasks.join_next().await.is_some() {}
    if failed {
        return Outcome::Failed;
    }
    if listing_stopped || region.deadline_hit.load(Ordering::SeqCst) {
        let resume_token = region.pages.lock().expect("pages lock").resume_from(token);
        return Outcome::Stopped { resume_token };
    }
    Outcome::Complete
}

/// Applies the policy to one group (the CreateLogGroup trigger), whose
/// creation request carried `created_with` tags; `false` when the deadline
/// stopped it.
pub async fn process_one(
    run: Arc<Run>,
    clients: RegionClients,
    api: Api,
    group: Group,
    created_with: Tags,
) -> bool {
    let plan = plan_listed(&run, &group);
    if !plan.needs_tags() {
        return true;
    }
    let region = Arc::new(Region::new(run, clients, api, 1));
    process_batch(
        region.clone(),
        vec![Item {
            page: 0,
            group,
            plan,
        }],
        TagSource::Own(created_with),
    )
    .await;
    !region.deadline_hit.load(Ordering::SeqCst)
}

/// Reads the tags of a batch (one call from the index), then works on its
/// groups.
async fn process_batch(region: Arc<Region>, batch: Vec<Item>, source: TagSource) {
    let run = &region.run;
    let read = match source {
        TagSource::Index => {
            let arns: Vec<String> = batch.iter().map(|i| i.group.arn.clone()).collect();
            logs::read_tags(&region.clients, &region.api, &arns).await
        }
        TagSource::Own(created_with) => {
            region.own_tags_read.store(true, Ordering::SeqCst);
            own_tags(&region, &batch, created_with).await
        }
    };
    let tags = match read {
        Ok(tags) => tags,
        Err(e) if e.is_deadline() => {
            region.deadline_hit.store(true, Ordering::SeqCst);
            return;
        }
        Err(e) => {
            // Without tags the exemption cannot be checked, so nothing changes.
            for item in &batch {
                run.report(|r| r.fail(&item.group.name, "read_tags", &e));
                region.done(item.page);
            }
            return;
        }
    };
    let exempt_key = &run.config.exempt_tag_key;
    let mut workers = JoinSet::new();
    for item in batch {
        let exempt = tags
            .get(&item.group.arn)
            .is_some_and(|t| t.contains_key(exempt_key));
        if exempt {
            run.report(|r| {
                r.incr("groups_exempt");
                r.skip(&item.group.name, format!("exempt: tagged {exempt_key}"));
            });
            region.done(item.page);
            continue;
        }
        let Ok(permit) = region.permits.clone().acquire_owned().await else {
            return;
        };
        let region = region.clone();
        workers.spawn(async move {
            let _permit = permit;
            if process_group(&region, &item).await {
                region.done(item.page);
            } else {
                region.deadline_hit.store(true, Ordering::SeqCst);
            }
        });
    }
    while workers.join_next().await.is_some() {}
}

/// The tags of each group of `batch` from CloudWatch Logs, with
/// `created_with` added.
async fn own_tags(
    region: &Region,
    batch: &[Item],
    created_with: Tags,
) -> Result<std::collections::HashMap<String, Tags>, Error> {
    let mut all = std::collections::HashMap::new();
    for item in batch {
        let mut tags = logs::read_group_tags(&region.clients, &region.api, &item.group.arn).await?;
        tags.extend(created_with.clone());
        all.insert(item.group.arn.clone(), tags);
    }
    Ok(all)
}

/// What the last checks before acting on a group found.
enum OwnTags {
    NotRead,
    Exempt,
    NotExempt,
    /// Unreadable: nothing destructive is done.
    Failed,
}

/// Deletes the group if every guard allows, otherwise changes its retention
/// if planned. `false` when the deadline stopped it.
async fn process_group(region: &Region, item: &Item) -> bool {
    let run = &region.run;
    let (clients, api) = (&region.clients, &region.api);
    let name = item.group.name.as_str();
    let exempt_key = &run.config.exempt_tag_key;
    let mut own = OwnTags::NotRead;
    if item.plan.deletion_candidate()
        && let Some(days) = run.config.delete_empty_after_days
    {
        run.incr("deletion_candidates");
        let active_since_ms = run.now_ms - i64::from(days) * 86_400_000;
        match guards(region, item, active_since_ms).await {
            Err(e) if e.is_deadline() => return false,
            Err(e) => run.report(|r| r.fail(name, "check_deletion_guards", &e)),
            Ok(mut activity) => {
                let mut verdict =
                    match plan::kept_before_search(&item.group, &activity, days, run.now_ms) {
                        Some(why) => Verdict::Keep(why),
                        None => Verdict::Delete,
                    };
                if verdict == Verdict::Delete {
                    // The last checks, only for a group every other guard
                    // would let go: its own tags, then its events.
                    own = match region.own_exempt(item).await {
                        Ok(true) => OwnTags::Exempt,
                        Ok(false) => OwnTags::NotExempt,
                        Err(e) if e.is_deadline() => return false,
                        Err(e) => {
                            run.report(|r| r.fail(name, "read_own_tags", &e));
                            OwnTags::Failed
                        }
                    };
                    if let OwnTags::Exempt = own {
                        run.report(|r| {
                            r.incr("groups_exempt");
                            r.skip(name, format!("exempt: tagged {exempt_key}"));
                        });
                        return true;
                    }
                    if let OwnTags::NotExempt = own {
                        match logs::recent_events(clients, api, name, active_since_ms).await {
                            Ok(found) => activity.recent_events = found,
                            Err(e) if e.is_deadline() => return false,
                            Err(e) => {
                                run.report(|r| r.fail(name, "search_recent_events", &e));
                            }
                        }
                        verdict =
                            plan::deletion_verdict(&item.group, false, &activity, days, run.now_ms);
                    } else {
                        verdict = Verdict::Keep(format!(
                            "its own tags could not be read, so an {exempt_key} tag may be on it"
                        ));
                    }
                }
                let failed_check = matches!(own, OwnTags::Failed)
                    || (matches!(own, OwnTags::NotExempt)
                        && activity.recent_events == plan::RecentEvents::Unsearched);
                match verdict {
                    // A failed check is already reported as a failure, with
                    // the service's error.
                    Verdict::Keep(_) if failed_check => run.incr("deletion_kept"),
                    Verdict::Keep(why) => run.report(|r| {
                        r.incr("deletion_kept");
                        r.skip(name, format!("not deleted: {why}"));
                    }),
                    Verdict::Delete if !run.reserve_deletion() => {
                        run.report(|r| {
                            r.incr("deletion_deferred_by_cap");
                            r.skip(
                                name,
                                "not deleted: MAX_GROUP_DELETIONS_PER_RUN reached; a later run will",
                            );
                        });
                        run.stop("MAX_GROUP_DELETIONS_PER_RUN reached");
                    }
                    Verdict::Delete => {
                        match apply::delete_group(run, clients, api, &item.group, days).await {
                            Step::Done => return true,
                            Step::Stopped => return false,
                            // Recorded; the retention change still applies.
                            Step::Failed => {}
                        }
                    }
                }
            }
        }
    }
    let Retention::Change(change) = &item.plan.retention else {
        return true;
    };
    if change.kind == ChangeKind::Shorten {
        // Shortening deletes the older events: the group's own tags decide,
        // as for a deletion.
        if let OwnTags::NotRead = own {
            own = match region.own_exempt(item).await {
                Ok(true) => OwnTags::Exempt,
                Ok(false) => OwnTags::NotExempt,
                Err(e) if e.is_deadline() => return false,
                Err(e) => {
                    run.report(|r| r.fail(name, "read_own_tags", &e));
                    OwnTags::Failed
                }
            };
            if let OwnTags::Exempt = own {
                run.report(|r| {
                    r.incr("groups_exempt");
                    r.skip(name, format!("exempt: tagged {exempt_key}"));
                });
            }
        }
        match own {
            OwnTags::NotRead | OwnTags::NotExempt => {}
            OwnTags::Exempt => return true,
            OwnTags::Failed => {
                run.report(|r| {
                    r.skip(
                        name,
                        format!("retention not shortened: its own tags could not be read, so an {exempt_key} tag may be on it"),
                    )
                });
                return true;
            }
        }
    }
    apply::set_retention(run, clients, api, name, change).await != Step::Stopped
}

/// The guards a candidate's filters, streams and the region's policies
/// answer. A policy that cannot be read keeps every candidate.
async fn guards(
    region: &Region,
    item: &Item,
    active_since_ms: i64,
) -> Result<plan::Activity, Arc<Error>> {
    let name = item.group.name.as_str();
    let accounts = region.account_policies().await?;
    let resources = region.resource_policies().await?;
    let mut activity = logs::activity(&region.clients, &region.api, name, active_since_ms)
        .await
        .map_err(Arc::new)?;
    activity.named_by = accounts
        .iter()
        .filter(|p| p.names(name))
        .map(|p| format!("{} {}", p.kind, p.name))
        .collect();
    activity.unreadable_policies = accounts
        .iter()
        .filter(|p| !p.readable())
        .map(|p| format!("{} {}", p.kind, p.name))
        .collect();
    activity.destination_of = resources
        .iter()
        .filter(|p| p.names(&item.group.arn))
        .map(|p| p.name.clone())
        .collect();
    Ok(activity)
}
