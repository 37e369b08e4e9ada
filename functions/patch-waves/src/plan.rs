//! The report's decisions, pure: from what EC2, Systems Manager and the
//! state table said, each running instance's coverage and findings, what
//! changed since the last report, and one digest per owner.
//!
//! Nothing here is async or holds a client; every rule is unit-tested.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::{Date, Duration, OffsetDateTime};

use crate::config::Config;

/// The tag EC2 Auto Scaling puts on every instance it launches.
pub const ASG_TAG: &str = "aws:autoscaling:groupName";
/// The tags Patch Manager reads an instance's patch group from.
pub const PATCH_GROUP_TAGS: [&str; 2] = ["Patch Group", "PatchGroup"];
/// The owner shown for an instance without the owner tag.
pub const NO_OWNER: &str = "(no owner tag)";
/// The patch group shown for an instance in none.
pub const NO_PATCH_GROUP: &str = "(no patch group)";

/// A running instance, as `DescribeInstances` tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Instance {
    pub id: String,
    pub tags: BTreeMap<String, String>,
    pub image_id: Option<String>,
    /// The instance profile's ARN; `None` when it has none.
    pub instance_profile: Option<String>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
}

impl Instance {
    pub fn name(&self) -> Option<&str> {
        self.tags.get("Name").map(String::as_str)
    }

    pub fn auto_scaling_group(&self) -> Option<&str> {
        self.tags.get(ASG_TAG).map(String::as_str)
    }
}

/// What `DescribeInstanceInformation` tells of a managed instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// `Online`, `ConnectionLost`, `Inactive`.
    pub ping_status: String,
    pub last_ping: Option<OffsetDateTime>,
    /// `PlatformName PlatformVersion`, for the report.
    pub platform: Option<String>,
}

/// What `DescribeInstancePatchStates` tells of a managed instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchState {
    pub patch_group: Option<String>,
    pub critical_missing: i32,
    pub security_missing: i32,
    pub missing: i32,
    pub failed: i32,
    pub pending_reboot: i32,
    /// `Scan` or `Install`.
    pub operation: String,
    pub operation_end: Option<OffsetDateTime>,
}

/// Whether an unmanaged instance can reach Systems Manager, as far as its
/// VPC's endpoints and its subnet's route table tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// No `ssm` interface endpoint in the VPC and no default route
    /// (`0.0.0.0/0`) in the subnet's route table.
    NoRoute { vpc: String, route_table: String },
    /// An endpoint or a default route; the route may still be blocked
    /// further on (security groups, NACLs, a proxy), which the API does not
    /// tell cheaply.
    Routed,
}

/// An Amazon Linux 2023 release, from an AMI name such as
/// `al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    /// `2023.6.20241212.0`.
    pub version: String,
    #[serde(skip)]
    key: (u32, Date, u32),
}

impl Release {
    /// The release in an AL2023 AMI name; `None` for any other image.
    pub fn from_ami_name(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("al2023-ami-")?;
        let version = rest.split('-').find(|p| p.starts_with("2023."))?;
        let mut parts = version.split('.');
        let (_, minor, date, patch) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let date = Date::parse(
            date,
            time::macros::format_description!("[year][month][day]"),
        )
        .ok()?;
        Some(Self {
            version: version.to_owned(),
            key: (minor.parse().ok()?, date, patch.parse().ok()?),
        })
    }

    pub fn date(&self) -> Date {
        self.key.1
    }
}

/// Releases compare by minor version, date and patch, not as text.
impl PartialOrd for Release {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Release {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

/// What the last report left open for one instance (the state table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    pub owner: String,
    pub name: Option<String>,
    pub patch_group: Option<String>,
    /// Each open finding and since when the reports have seen it.
    pub findings: BTreeMap<Kind, OffsetDateTime>,
}

/// Everything the report is decided from.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The running instances.
    pub instances: Vec<Instance>,
    /// The state of every other instance that is not terminated (pending,
    /// stopping, stopped), by id: not checked, their findings kept open.
    pub paused: BTreeMap<String, String>,
    pub agents: BTreeMap<String, Agent>,
    pub patch_states: BTreeMap<String, PatchState>,
    /// AL2023 releases by image id.
    pub releases: BTreeMap<String, Release>,
    /// The latest AL2023 release, or why it is not known.
    pub latest: Result<Release, String>,
    /// For unmanaged instances only.
    pub reach: BTreeMap<String, Reach>,
    pub previous: BTreeMap<String, Previous>,
}

/// Each kind of finding; its name is the second half of the result event
/// key (`<instance id>/<kind>`) and the state table's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Unmanaged,
    AgentOffline,
    NoPatchScan,
    ScanStale,
    MissingCritical,
    MissingSecurity,
    Failed,
    PendingReboot,
    Al2023Behind,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Unmanaged,
        Kind::AgentOffline,
        Kind::NoPatchScan,
        Kind::ScanStale,
        Kind::MissingCritical,
        Kind::MissingSecurity,
        Kind::Failed,
        Kind::PendingReboot,
        Kind::Al2023Behind,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Unmanaged => "unmanaged",
            Kind::AgentOffline => "agent_offline",
            Kind::NoPatchScan => "no_patch_scan",
            Kind::ScanStale => "scan_stale",
            Kind::MissingCritical => "missing_critical",
            Kind::MissingSecurity => "missing_security",
            Kind::Failed => "failed",
            Kind::PendingReboot => "pending_reboot",
            Kind::Al2023Behind => "al2023_behind",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// How a person calls it, in the digest.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Unmanaged => "not managed by SSM",
            Kind::AgentOffline => "SSM agent offline",
            Kind::NoPatchScan => "never scanned for patches",
            Kind::ScanStale => "patch scan stale",
            Kind::MissingCritical => "critical patches missing",
            Kind::MissingSecurity => "security patches missing",
            Kind::Failed => "patches failed",
            Kind::PendingReboot => "installed, pending reboot",
            Kind::Al2023Behind => "Amazon Linux 2023 release behind",
        }
    }
}

/// How an instance is covered by Systems Manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    Online,
    AgentOffline,
    Unmanaged,
    /// Stopped (or starting, or stopping): not checked in this report.
    NotRunning,
    /// Terminated: EC2 no longer lists it.
    Gone,
}

/// Whether a finding is new this report or was open before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    New,
    StillOpen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub detail: String,
    pub change: Change,
    /// Since when the reports have seen it open.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

/// A finding the last report had open and this one does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fixed {
    pub kind: Kind,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// `fixed`, or why it ended otherwise.
    pub how: String,
}

/// One instance in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceReport {
    pub id: String,
    pub name: Option<String>,
    pub owner: String,
    pub patch_group: String,
    pub coverage: Coverage,
    pub auto_scaling_group: Option<String>,
    pub findings: Vec<Finding>,
    pub fixed: Vec<Fixed>,
    /// `false` for an instance no longer running: it is reported only for
    /// what ended.
    pub running: bool,
}

impl InstanceReport {
    /// The state the table should hold for it after this report: its open
    /// findings and since when; empty when it has none (the record goes).
    pub fn next_state(&self) -> BTreeMap<Kind, OffsetDateTime> {
        self.findings.iter().map(|f| (f.kind, f.since)).collect()
    }

    pub fn changed(&self) -> bool {
        !self.fixed.is_empty() || self.findings.iter().any(|f| f.change == Change::New)
    }

    pub fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("{} ({name})", self.id),
            None => self.id.clone(),
        }
    }
}

/// One owner's part: what its digest shows and the state it writes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OwnerReport {
    pub owner: String,
    /// The route's name (the owner, or `default`).
    pub route: String,
    pub running: usize,
    pub new: usize,
    pub still_open: usize,
    pub fixed: usize,
    /// Instances with something to say (open or ended findings), by patch
    /// group.
    pub instances: Vec<InstanceReport>,
    /// Running instances of the owner that have nothing to report, whose
    /// state record (if any) is unchanged.
    #[serde(skip)]
    pub clean: usize,
}

impl OwnerReport {
    /// Whether the digest has anything to say.
    pub fn worth_sending(&self) -> bool {
        self.new + self.still_open + self.fixed > 0
    }

    /// The state records this owner's report changes: each instance whose
    /// open findings (or their `since`) differ from the table's.
    pub fn state_changes<'a>(
        &'a self,
        previous: &'a BTreeMap<String, Previous>,
    ) -> impl Iterator<Item = &'a InstanceReport> + 'a {
        self.instances.iter().filter(move |i| {
            let before = previous.get(&i.id);
            let after = i.next_state();
            match before {
                None => !after.is_empty(),
                Some(p) => {
                    p.findings != after
                        || p.owner != i.owner
                        || p.name != i.name
                        || p.patch_group.as_deref() != Some(i.patch_group.as_str())
                }
            }
        })
    }
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Plan {
    pub owners: BTreeMap<String, OwnerReport>,
    pub running: usize,
    pub online: usize,
    pub agent_offline: usize,
    pub unmanaged: usize,
    pub in_auto_scaling_groups: usize,
    pub by_kind: BTreeMap<Kind, usize>,
    /// The latest AL2023 release, or why it is not known.
    pub latest: Result<Release, String>,
}

/// The report for `facts` at `now`.
pub fn plan(facts: &Facts, config: &Config, now: OffsetDateTime) -> Plan {
    let mut plan = Plan {
        owners: BTreeMap::new(),
        running: 0,
        online: 0,
        agent_offline: 0,
        unmanaged: 0,
        in_auto_scaling_groups: 0,
        by_kind: BTreeMap::new(),
        latest: facts.latest.clone(),
    };
    let mut seen = BTreeSet::new();
    for instance in &facts.instances {
        seen.insert(instance.id.as_str());
        let report = assess(instance, facts, config, now);
        plan.running += 1;
        match report.coverage {
            Coverage::Online => plan.online += 1,
            Coverage::AgentOffline => plan.agent_offline += 1,
            Coverage::Unmanaged => plan.unmanaged += 1,
            Coverage::NotRunning | Coverage::Gone => {}
        }
        if report.auto_scaling_group.is_some() {
            plan.in_auto_scaling_groups += 1;
        }
        for f in &report.findings {
            *plan.by_kind.entry(f.kind).or_default() += 1;
        }
        let route = config.routes.route(&instance.tags).name;
        add(&mut plan.owners, report, route);
    }
    // What the table had open for an instance not running now: a stopped
    // one keeps its findings (it is unpatched still, and office-hours fleets
    // are stopped when the report runs); a terminated one's end.
    for (id, previous) in &facts.previous {
        if seen.contains(id.as_str()) || previous.findings.is_empty() {
            continue;
        }
        let tags = BTreeMap::from([(config.routes.owner_tag_key.clone(), previous.owner.clone())]);
        let route = config.routes.route(&tags).name;
        // Spelled as `ROUTES` spells it, as `owner_of` does for running
        // instances, so one team's stopped and running instances share a
        // digest whatever spelling the record was written with.
        let owner = if route == shared::routing::DEFAULT_ROUTE {
            previous.owner.clone()
        } else {
            route.clone()
        };
        let paused = facts.paused.get(id);
        let (findings, fixed) = match paused {
            Some(state) => (
                previous
                    .findings
                    .iter()
                    .map(|(kind, since)| Finding {
                        kind: *kind,
                        detail: format!(
                            "not checked again in this report: the instance is {state}"
                        ),
                        change: Change::StillOpen,
                        since: *since,
                    })
                    .collect(),
                Vec::new(),
            ),
            None => (
                Vec::new(),
                previous
                    .findings
                    .iter()
                    .map(|(kind, since)| Fixed {
                        kind: *kind,
                        since: *since,
                        how: "instance terminated".to_owned(),
                    })
                    .collect(),
            ),
        };
        let report = InstanceReport {
            id: id.clone(),
            name: previous.name.clone(),
            owner,
            patch_group: previous
                .patch_group
                .clone()
                .unwrap_or_else(|| NO_PATCH_GROUP.to_owned()),
            coverage: if paused.is_some() {
                Coverage::NotRunning
            } else {
                Coverage::Gone
            },
            auto_scaling_group: None,
            findings,
            fixed,
            running: false,
        };
        add(&mut plan.owners, report, route);
    }
    for owner in plan.owners.values_mut() {
        owner.instances.sort_by(|a, b| {
            (&a.patch_group, !a.changed(), &a.id).cmp(&(&b.patch_group, !b.changed(), &b.id))
        });
    }
    plan
}

fn add(owners: &mut BTreeMap<String, OwnerReport>, report: InstanceReport, route: String) {
    let owner = owners
        .entry(report.owner.clone())
        .or_insert_with(|| OwnerReport {
            owner: report.owner.clone(),
            route,
            ..OwnerReport::default()
        });
    if report.running {
        owner.running += 1;
    }
    for f in &report.findings {
        match f.change {
            Change::New => owner.new += 1,
            Change::StillOpen => owner.still_open += 1,
        }
    }
    owner.fixed += report.fixed.len();
    if report.findings.is_empty() && report.fixed.is_empty() {
        owner.clean += 1;
    } else {
        owner.instances.push(report);
    }
}

/// One running instance: its coverage, its findings against the last
/// report's, and what ended.
pub fn assess(
    instance: &Instance,
    facts: &Facts,
    config: &Config,
    now: OffsetDateTime,
) -> InstanceReport {
    let mut found: Vec<(Kind, String)> = Vec::new();
    let agent = facts.agents.get(&instance.id);
    let patch = facts.patch_states.get(&instance.id);
    let coverage = match agent {
        None => {
            found.push((Kind::Unmanaged, unmanaged_reason(instance, facts)));
            Coverage::Unmanaged
        }
        Some(agent) if agent.ping_status != "Online" => {
            let last = match agent.last_ping {
                Some(at) => format!("last ping {} ago ({})", age(now - at), rfc3339(at)),
                None => "no ping recorded".to_owned(),
            };
            found.push((
                Kind::AgentOffline,
                format!(
                    "{}, {last}: patching cannot reach it. Check the instance is up and its agent running.",
                    agent.ping_status
                ),
            ));
            Coverage::AgentOffline
        }
        Some(_) => Coverage::Online,
    };
    if agent.is_some() {
        match patch {
            None => found.push((
                Kind::NoPatchScan,
                "managed, but Patch Manager has no patch state for it: no scan has run. Add it to a patch policy or maintenance window that runs AWS-RunPatchBaseline.".to_owned(),
            )),
            Some(state) => patch_findings(state, config, now, &mut found),
        }
    }
    if let (Some(image), Ok(latest)) = (&instance.image_id, &facts.latest)
        && let Some(release) = facts.releases.get(image)
        && release < latest
    {
        let days = (latest.date() - release.date()).whole_days();
        found.push((
            Kind::Al2023Behind,
            format!(
                "Amazon Linux 2023 {} is {days} days behind the latest release {}: AL2023 receives security updates only for the release it is locked to. Move to the latest (dnf upgrade --releasever={} or a new AMI).",
                release.version, latest.version, latest.version
            ),
        ));
    }
    let previous = facts.previous.get(&instance.id);
    // A finding ends only on evidence: one this run could not check again
    // (the instance no longer answers to Systems Manager, a release that
    // could not be read) stays open, saying so, instead of reading "fixed".
    if let Some(previous) = previous {
        for kind in previous.findings.keys() {
            if found.iter().any(|(k, _)| k == kind) {
                continue;
            }
            if let Some(why) = unchecked(*kind, instance, agent.is_some(), facts) {
                found.push((*kind, format!("{UNCHECKED}{why}")));
            }
        }
    }
    let was = |kind: Kind| previous.and_then(|p| p.findings.get(&kind)).copied();
    let findings: Vec<Finding> = found
        .into_iter()
        .map(|(kind, detail)| match was(kind) {
            Some(since) => Finding {
                kind,
                detail,
                change: Change::StillOpen,
                since,
            },
            None => Finding {
                kind,
                detail,
                change: Change::New,
                since: now,
            },
        })
        .collect();
    let open: BTreeSet<Kind> = findings.iter().map(|f| f.kind).collect();
    let fixed = previous
        .map(|p| {
            p.findings
                .iter()
                .filter(|(kind, _)| !open.contains(kind))
                .map(|(kind, since)| Fixed {
                    kind: *kind,
                    since: *since,
                    how: if agent.is_none() && matches!(kind, Kind::NoPatchScan | Kind::ScanStale) {
                        "no longer applies: the instance is not managed now".to_owned()
                    } else {
                        "fixed".to_owned()
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    let findings = with_ages(findings, now);
    InstanceReport {
        id: instance.id.clone(),
        name: instance.name().map(str::to_owned),
        owner: owner_of(instance, config),
        patch_group: patch
            .and_then(|p| p.patch_group.clone())
            .filter(|g| !g.is_empty())
            .or_else(|| {
                PATCH_GROUP_TAGS
                    .iter()
                    .find_map(|t| instance.tags.get(*t).cloned())
            })
            .unwrap_or_else(|| NO_PATCH_GROUP.to_owned()),
        coverage,
        auto_scaling_group: instance.auto_scaling_group().map(str::to_owned),
        findings,
        fixed,
        running: true,
    }
}

/// How the detail of a finding carried open unchecked begins.
const UNCHECKED: &str = "not checked again in this report: ";

/// Why this run cannot tell whether a finding of `kind` still holds;
/// `None` when it can.
fn unchecked(kind: Kind, instance: &Instance, managed: bool, facts: &Facts) -> Option<String> {
    match kind {
        // Coverage is read for every running instance.
        Kind::Unmanaged | Kind::AgentOffline => None,
        Kind::Al2023Behind => match (&facts.latest, &instance.image_id) {
            (Err(why), _) => Some(format!(
                "the latest Amazon Linux 2023 release is unknown ({why})"
            )),
            (Ok(_), Some(image)) if !facts.releases.contains_key(image) => Some(format!(
                "the release of its image {image} could not be read (EC2 no longer describes it)"
            )),
            (Ok(_), None) => Some("EC2 names no image for it".to_owned()),
            (Ok(_), Some(_)) => None,
        },
        // Without Systems Manager there is no scan to be missing or stale:
        // `unmanaged` says what is wrong, and these end as no longer
        // applying.
        Kind::NoPatchScan | Kind::ScanStale if !managed => None,
        // Patch Manager's state is read only for managed instances.
        _ if !managed => Some(
            "the instance is not managed by Systems Manager now, so its patch state is not read"
                .to_owned(),
        ),
        _ => None,
    }
}

/// The owner tag's value (trimmed), or [`NO_OWNER`].
pub fn owner_of(instance: &Instance, config: &Config) -> String {
    // An owner `ROUTES` names is spelled as there: routing ignores case, so
    // `Payments` and `payments` are one team, with one digest, not two.
    let route = config.routes.route(&instance.tags);
    if route.name != shared::routing::DEFAULT_ROUTE {
        return route.name;
    }
    config
        .routes
        .owner(&instance.tags)
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .unwrap_or(NO_OWNER)
        .to_owned()
}

/// The age of the oldest missing critical patch is not in any patch API
/// (`PatchComplianceData` has no release date), so the report tells how
/// long its own reports have seen critical patches missing.
fn with_ages(mut findings: Vec<Finding>, now: OffsetDateTime) -> Vec<Finding> {
    for f in &mut findings {
        // A finding carried unchecked is not known to be missing now.
        if f.kind == Kind::MissingCritical
            && f.change == Change::StillOpen
            && !f.detail.starts_with(UNCHECKED)
        {
            f.detail = format!(
                "{}; missing for at least {} (first reported {})",
                f.detail,
                age(now - f.since),
                rfc3339(f.since)
            );
        }
    }
    findings
}

fn patch_findings(
    state: &PatchState,
    config: &Config,
    now: OffsetDateTime,
    found: &mut Vec<(Kind, String)>,
) {
    if state.critical_missing > 0 {
        found.push((
            Kind::MissingCritical,
            format!("{} critical patch(es) missing", state.critical_missing),
        ));
    }
    if state.security_missing > 0 {
        found.push((
            Kind::MissingSecurity,
            format!("{} security patch(es) missing", state.security_missing),
        ));
    }
    if state.failed > 0 {
        found.push((
            Kind::Failed,
            format!(
                "{} patch(es) failed to install in the last {}",
                state.failed,
                state.operation.to_lowercase()
            ),
        ));
    }
    if state.pending_reboot > 0 {
        found.push((
            Kind::PendingReboot,
            format!(
                "{} patch(es) installed, not in effect until the instance reboots",
                state.pending_reboot
            ),
        ));
    }
    let stale_after = Duration::days(i64::from(config.scan_stale_days));
    match state.operation_end {
        Some(end) if now - end > stale_after => found.push((
            Kind::ScanStale,
            format!(
                "last patch {} ended {} ago ({}), more than {} days",
                state.operation.to_lowercase(),
                age(now - end),
                rfc3339(end),
                config.scan_stale_days
            ),
        )),
        Some(_) => {}
        None => found.push((
            Kind::ScanStale,
            "no time recorded for the last patch operation".to_owned(),
        )),
    }
}

/// Why an instance is not managed, as far as the API tells.
fn unmanaged_reason(instance: &Instance, facts: &Facts) -> String {
    let mut why = Vec::new();
    if instance.instance_profile.is_none() {
        why.push("no instance profile".to_owned());
    }
    if let Some(Reach::NoRoute { vpc, route_table }) = facts.reach.get(&instance.id) {
        why.push(format!(
            "no route to SSM (no ssm VPC endpoint in {vpc}, no default route in route table {route_table})"
        ));
    }
    let why = if why.is_empty() {
        "the API tells no reason (the agent may be missing or stopped, or the role lacks AmazonSSMManagedInstanceCore)".to_owned()
    } else {
        why.join("; ")
    };
    format!(
        "{why}. Turn on Default Host Management Configuration (Systems Manager, Fleet Manager, account management), or attach an instance profile with AmazonSSMManagedInstanceCore."
    )
}

/// `3 d 4 h`, `5 h`, `12 min`.
pub fn age(d: Duration) -> String {
    let minutes = d.whole_minutes().max(0);
    let (days, hours) = (minutes / 1440, (minutes % 1440) / 60);
    match (days, hours) {
        (0, 0) => format!("{minutes} min"),
        (0, h) => format!("{h} h"),
        (d, 0) => format!("{d} d"),
        (d, h) => format!("{d} d {h} h"),
    }
}

pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use shared::config::Env;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-12-07 06:00 UTC);

    #[test]
    fn owners_routing_finds_without_case_get_one_digest() {
        let f = facts(vec![
            instance("i-1", "Payments"),
            instance("i-2", "payments "),
            instance("i-3", "Search"),
        ]);
        let plan = plan(&f, &config(), NOW);
        let owners: Vec<&str> = plan.owners.keys().map(String::as_str).collect();
        assert_eq!(owners, ["Search", "payments"]);
        assert_eq!(plan.owners["payments"].instances.len(), 2);
        assert_eq!(plan.owners["payments"].route, "payments");
        assert_eq!(plan.owners["Search"].route, "default");
    }

    #[test]
    fn a_stopped_instance_joins_its_team_whatever_spelling_its_record_has() {
        let mut f = facts(vec![instance("i-1", "payments")]);
        f.paused.insert("i-2".into(), "stopped".into());
        f.previous.insert(
            "i-2".into(),
            Previous {
                owner: "Payments".into(),
                name: None,
                patch_group: None,
                findings: BTreeMap::from([(Kind::Unmanaged, NOW - Duration::days(3))]),
            },
        );
        let plan = plan(&f, &config(), NOW);
        let owners: Vec<&str> = plan.owners.keys().map(String::as_str).collect();
        assert_eq!(owners, ["payments"]);
        let stopped = &plan.owners["payments"].instances;
        assert!(stopped.iter().any(|r| r.id == "i-2" && !r.running));
    }

    fn config() -> Config {
        let mut env = Env::from_pairs([
            ("STATE_TABLE", "t"),
            ("SLACK_WEBHOOK_PARAMETER", "/toilkit/slack"),
            ("ROUTES", r#"{"payments": "/toilkit/slack/payments"}"#),
        ]);
        let config = Config::from_env(&mut env);
        env.finish().unwrap();
        config
    }

    fn instance(id: &str, owner: &str) -> Instance {
        Instance {
            id: id.into(),
            tags: BTreeMap::from([
                ("owner".to_owned(), owner.to_owned()),
                ("Name".to_owned(), format!("{id}-name")),
            ]),
            image_id: Some("ami-old".into()),
            instance_profile: Some("arn:aws:iam::1:instance-profile/ssm".into()),
            vpc_id: Some("vpc-1".into()),
            subnet_id: Some("subnet-1".into()),
        }
    }

    fn online() -> Agent {
        Agent {
            ping_status: "Online".into(),
            last_ping: Some(NOW - Duration::minutes(3)),
            platform: Some("Amazon Linux 2023".into()),
        }
    }

    fn clean_scan() -> PatchState {
        PatchState {
            patch_group: Some("web".into()),
            operation: "Scan".into(),
            operation_end: Some(NOW - Duration::hours(20)),
            ..PatchState::default()
        }
    }

    fn facts(instances: Vec<Instance>) -> Facts {
        Facts {
            instances,
            paused: BTreeMap::new(),
            agents: BTreeMap::new(),
            patch_states: BTreeMap::new(),
            releases: BTreeMap::new(),
            latest: Err("not asked".into()),
            reach: BTreeMap::new(),
            previous: BTreeMap::new(),
        }
    }

    fn kinds(report: &InstanceReport) -> Vec<Kind> {
        report.findings.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn an_instance_without_an_instance_profile_is_unmanaged_with_the_reason_and_the_dhmc_advice() {
        let mut i = instance("i-1", "payments");
        i.instance_profile = None;
        let mut f = facts(vec![i.clone()]);
        f.reach.insert(
            "i-1".into(),
            Reach::NoRoute {
                vpc: "vpc-1".into(),
                route_table: "rtb-9".into(),
            },
        );
        let r = assess(&i, &f, &config(), NOW);
        assert_eq!(r.coverage, Coverage::Unmanaged);
        assert_eq!(kinds(&r), [Kind::Unmanaged]);
        let detail = &r.findings[0].detail;
        assert!(detail.contains("no instance profile"), "{detail}");
        assert!(detail.contains("no route to SSM"), "{detail}");
        assert!(
            detail.contains("rtb-9") && detail.contains("vpc-1"),
            "{detail}"
        );
        assert!(
            detail.contains("Default Host Management Configuration"),
            "{detail}"
        );
    }

    #[test]
    fn an_unmanaged_instance_with_a_profile_and_a_route_says_the_api_tells_no_reason() {
        let i = instance("i-1", "payments");
        let mut f = facts(vec![i.clone()]);
        f.reach.insert("i-1".into(), Reach::Routed);
        let r = assess(&i, &f, &config(), NOW);
        assert!(
            r.findings[0].detail.contains("the API tells no reason"),
            "{}",
            r.findings[0].detail
        );
    }

    #[test]
    fn an_agent_that_lost_its_connection_is_offline_with_its_last_ping() {
        let i = instance("i-1", "payments");
        let mut f = facts(vec![i.clone()]);
        f.agents.insert(
            "i-1".into(),
            Agent {
                ping_status: "ConnectionLost".into(),
                last_ping: Some(NOW - Duration::days(3)),
                platform: None,
            },
        );
        f.patch_states.insert("i-1".into(), clean_scan());
        let r = assess(&i, &f, &config(), NOW);
        assert_eq!(r.coverage, Coverage::AgentOffline);
        assert_eq!(kinds(&r), [Kind::AgentOffline]);
        assert!(
            r.findings[0]
                .detail
                .contains("ConnectionLost, last ping 3 d ago")
        );
    }

    #[test]
    fn patch_counts_become_findings_and_an_old_scan_is_stale() {
        let i = instance("i-1", "payments");
        let mut f = facts(vec![i.clone()]);
        f.agents.insert("i-1".into(), online());
        f.patch_states.insert(
            "i-1".into(),
            PatchState {
                critical_missing: 2,
                security_missing: 5,
                missing: 9,
                failed: 1,
                pending_reboot: 3,
                operation_end: Some(NOW - Duration::days(9)),
                ..clean_scan()
            },
        );
        let r = assess(&i, &f, &config(), NOW);
        assert_eq!(
            kinds(&r),
            [
                Kind::MissingCritical,
                Kind::MissingSecurity,
                Kind::Failed,
                Kind::PendingReboot,
                Kind::ScanStale
            ]
        );
        assert_eq!(r.patch_group, "web");
        assert!(
            r.findings[4].detail.contains("9 d ago"),
            "{:?}",
            r.findings[4]
        );
        assert!(
            r.findings
                .iter()
                .all(|f| f.change == Change::New && f.since == NOW)
        );
    }

    #[test]
    fn a_managed_instance_never_scanned_is_reported() {
        let i = instance("i-1", "payments");
        let mut f = facts(vec![i.clone()]);
        f.agents.insert("i-1".into(), online());
        let r = assess(&i, &f, &config(), NOW);
        assert_eq!(kinds(&r), [Kind::NoPatchScan]);
    }

    #[test]
    fn an_al2023_instance_behind_the_latest_release_says_by_how_much() {
        let i = instance("i-1", "payments");
        let mut f = facts(vec![i.clone()]);
        f.agents.insert("i-1".into(), online());
        f.patch_states.insert("i-1".into(), clean_scan());
        f.releases.insert(
            "ami-old".into(),
            Release::from_ami_name("al2023-ami-2023.6.20241212.0-kernel-6.1-x86_64").unwrap(),
        );
        f.latest =
            Ok(Release::from_ami_name("al2023-ami-2023.9.20251110.0-kernel-6.1-x86_64").unwrap());
        let r = assess(&i, &f, &config(), NOW);
        assert_eq!(kinds(&r), [Kind::Al2023Behind]);
        let d = &r.findings[0].detail;
        assert!(
            d.contains("2023.6.20241212.0 is 333 days behind the latest release 2023.9.20251110.0"),
            "{d}"
        );
        // The latest release itself is not behind.
        f.releases
            .insert("ami-old".into(), f.latest.clone().unwrap());
        assert!(assess(&i, &f, &config(), NOW).findings.is_empty());
    }

    #[test]
    fn release_names_parse_and_compare_by_version_not_text() {
        let minimal =
            Release::from_ami_name("al2023-ami-minimal-2023.10.20260101.0-kernel-6.12-arm64");
        assert_eq!(minimal.unwrap().version, "2023.10.20260101.0");
        let a = Release::from_ami_name("al2023-ami-2023.10.20260101.0-kernel-6.12-arm64").unwrap();
        let b = Release::from_ami_name("al2023-ami-2023.9.20251110.1-kernel-6.1-x86_64").unwrap();
        assert!(b < a);
        assert!(
            Release::from_ami_name("amzn2-ami-kernel-5.10-hvm-2.0.20241217.0-x86_64-gp2").is_none()
        );
    }

    #[test]
    fn the_digest_tells_new_fixed_and_still_open_against_the_last_report() {
        let i = instance("i-1", "payments");
        let mut f = facts(vec![i.clone()]);
        f.agents.insert("i-1".into(), online());
        f.patch_states.insert(
            "i-1".into(),
            PatchState {
                critical_missing: 1,
                pending_reboot: 1,
                ..clean_scan()
            },
        );
        let since = NOW - Duration::days(12);
        f.previous.insert(
            "i-1".into(),
            Previous {
                owner: "payments".into(),
                name: Some("i-1-name".into()),
                patch_group: Some("web".into()),
                findings: BTreeMap::from([(Kind::MissingCritical, since), (Kind::Failed, since)]),
            },
        );
        f.previous.insert(
            "i-gone".into(),
            Previous {
                owner: "payments".into(),
                name: None,
                patch_group: None,
                findings: BTreeMap::from([(Kind::Unmanaged, since)]),
            },
        );
        let plan = plan(&f, &config(), NOW);
        let owner = &plan.owners["payments"];
        assert_eq!(owner.route, "payments");
        assert_eq!((owner.new, owner.still_open, owner.fixed), (1, 1, 2));
        let r = owner.instances.iter().find(|r| r.id == "i-1").unwrap();
        let critical = &r.findings[0];
        assert_eq!(
            (critical.change, critical.since),
            (Change::StillOpen, since)
        );
        assert!(
            critical.detail.contains("missing for at least 12 d"),
            "{}",
            critical.detail
        );
        assert_eq!(r.findings[1].change, Change::New);
        assert_eq!(r.fixed[0].kind, Kind::Failed);
        let gone = owner.instances.iter().find(|r| r.id == "i-gone").unwrap();
        assert_eq!(gone.fixed[0].how, "instance terminated");
        let changes: Vec<&str> = owner
            .state_changes(&f.previous)
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(changes, ["i-gone", "i-1"], "by patch group, then id");
        assert!(gone.next_state().is_empty(), "its record is deleted");
    }

    #[test]
    fn unrouted_owners_go_to_the_default_route_and_untagged_instances_have_no_owner() {
        let mut untagged = instance("i-2", "x");
        untagged.tags.remove("owner");
        let f = facts(vec![instance("i-1", "search"), untagged]);
        let plan = plan(&f, &config(), NOW);
        assert_eq!(plan.owners["search"].route, "default");
        assert_eq!(plan.owners[NO_OWNER].route, "default");
        assert_eq!(plan.unmanaged, 2);
    }

    #[test]
    fn an_auto_scaling_instance_is_named_as_such() {
        let mut i = instance("i-1", "payments");
        i.tags.insert(ASG_TAG.into(), "web-asg".into());
        let r = assess(&i, &facts(vec![i.clone()]), &config(), NOW);
        assert_eq!(r.auto_scaling_group.as_deref(), Some("web-asg"));
    }
}
