//! Carrying one batch's plan out: claim each announcement with a conditional
//! write, deliver it ([`crate::notify`]), give the claim back when it could
//! not be sent; count every group into its day's digest; then remember what
//! was seen.
//!
//! Sightings are remembered only once every alert went out: a retry must
//! plan the same alerts, and a key remembered as known would turn a
//! critical alert into an ordinary one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::json;
use shared::Deadline;
use shared::report::{Action, Report};
use time::OffsetDateTime;

use crate::App;
use crate::enrich::Context;
use crate::error::Error;
use crate::notify::{self, Announcement};
use crate::plan::{Decision, Facts, Plan, Severity};
use crate::state::Tally;

/// What one alert needs before the deadline: a claim, a page, a post with
/// Slack's retries.
const PER_ALERT: Duration = Duration::from_secs(10);

/// Ordinary (medium) alerts one delivery posts one by one. Past it they are
/// listed in one message, and counted in the digest: a broken deploy that
/// denies a hundred roles is one incident, not a hundred messages. High and
/// critical alerts are never held back.
pub const MAX_ORDINARY_ALERTS: usize = 20;

/// The announcements of `plan` to send now, most severe first.
pub fn announcements(plan: &Plan) -> Vec<Announcement<'_>> {
    let mut all: Vec<Announcement> = plan
        .recon
        .iter()
        .filter(|r| r.decision == Decision::Announce)
        .map(Announcement::Recon)
        .chain(
            plan.groups
                .iter()
                .filter(|g| g.decision == Decision::Announce)
                .map(Announcement::Group),
        )
        .collect();
    all.sort_by_key(|a| std::cmp::Reverse(a.severity()));
    all
}

/// The report's name for an alert: critical ones are paged as well.
pub fn kind(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "page",
        Severity::High | Severity::Medium => "alert",
    }
}

pub async fn apply(
    app: &App,
    plan: &Plan,
    facts: &Facts,
    context: &Context,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    let config = &app.settings;
    let renotify = time::Duration::try_from(config.renotify).unwrap_or(time::Duration::DAY);
    let announcements = announcements(plan);
    let total = announcements.len();
    let mut failed: Vec<Error> = Vec::new();
    let no_tags = BTreeMap::new();
    let mut ordinary = 0;
    let mut over_cap: Vec<&Announcement> = Vec::new();
    for (sent, announcement) in announcements.iter().enumerate() {
        if !deadline.allows(PER_ALERT) {
            report.stop_early("the deadline is near; the retry sends the rest");
            return Err(Error::Deadline { left: total - sent });
        }
        let key = announcement.key();
        if announcement.severity() == Severity::Medium {
            ordinary += 1;
            if ordinary > MAX_ORDINARY_ALERTS {
                report.skip(
                    key,
                    format!(
                        "over the cap of {MAX_ORDINARY_ALERTS} ordinary alerts a delivery: listed in one message, counted in the digest"
                    ),
                );
                over_cap.push(announcement);
                continue;
            }
        }
        let tags = context.tags_of(announcement.principal());
        let route = config.routes.route(tags.unwrap_or(&no_tags));
        let owner = tags.and_then(|t| config.routes.owner(t));
        if !app
            .state
            .claim(key, announcement.severity(), now, renotify)
            .await?
        {
            report.skip(key, "announced by a concurrent delivery");
            continue;
        }
        match notify::deliver(app, announcement, context, owner, &route, deadline).await {
            Ok(used) => report.applied(
                Action::new(kind(announcement.severity()), key, announcement.title())
                    .with_detail(json!({"route": used, "owner": owner})),
            ),
            Err(error) => {
                report.fail(key, kind(announcement.severity()), &error);
                // The claim goes back so that the retry sends it; if that
                // fails too, the group stays quiet until the renotify period
                // ends, and the report says why.
                if let Err(release) = app.state.release(key, now).await {
                    report.fail(key, "release_claim", &release);
                }
                failed.push(error);
            }
        }
    }

    if !over_cap.is_empty() {
        let route = config
            .routes
            .named(shared::routing::DEFAULT_ROUTE)
            .expect("the default route always exists");
        let key = format!("{} more", over_cap.len());
        if let Err(error) =
            notify::post(app, &notify::over_cap(&over_cap), &route, &key, deadline).await
        {
            report.fail(&key, "alert", &error);
            failed.push(error);
        }
    }
    for group in &plan.groups {
        // The day of the calls, not of the invocation: a retry after
        // midnight counts into the same day, once.
        app.state
            .tally(
                group.last.date(),
                &Tally {
                    group: group.key.clone(),
                    principal: group.who.principal.clone(),
                    who: group.who.describe(),
                    action: group.action.clone(),
                    count: group.count,
                    event_ids: group.event_ids.clone(),
                },
            )
            .await?;
    }
    let window =
        time::Duration::try_from(config.recon_window).unwrap_or(time::Duration::minutes(10));
    for (principal, events) in &plan.recent {
        let kept: BTreeSet<_> = events.iter().collect();
        let stale: Vec<_> = facts
            .recent
            .get(principal)
            .map(|before| {
                before
                    .iter()
                    .filter(|e| !kept.contains(e))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        app.state
            .add_recent(principal, events, &stale, window)
            .await?;
    }

    if !failed.is_empty() {
        let count = failed.len();
        let first = failed.swap_remove(0);
        return Err(if total == 1 {
            first
        } else {
            Error::Partly {
                failed: count,
                total,
                first: Box::new(first),
            }
        });
    }
    for principal in &plan.new.principals {
        // Only people and workloads the digest should name: a group formed.
        if let Some(group) = plan.groups.iter().find(|g| &g.who.principal == principal) {
            app.state.tally_new(group.first.date(), principal).await?;
        }
    }
    app.state.remember(&plan.new, now).await?;
    app.state.refresh(&facts.stale_sightings, now).await?;
    Ok(())
}

/// The digest of yesterday (UTC), once: claimed by day, so a retry of a
/// digest that went out is skipped, and given back if it did not go out.
pub async fn digest(
    app: &App,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    let config = &app.settings;
    let day = now.date().previous_day().unwrap_or(now.date());
    let counted = app.state.day(day).await?;
    let expired = config
        .rules
        .expired(now)
        .into_iter()
        .map(|r| r.to_string())
        .collect();
    let digest = crate::digest::summarize(day, &counted, expired, config.digest_top);
    let key = format!("digest-posted#{day}");
    let action = Action::new("post_digest", &key, digest.title()).with_detail(json!(digest));
    report.plan(action.clone());
    if config.dry_run {
        return Ok(());
    }
    // Held past the next digest's day, then forgotten.
    if !app
        .state
        .claim(&key, Severity::Critical, now, time::Duration::days(2))
        .await?
    {
        report.skip(&key, "this day's digest was already posted");
        return Ok(());
    }
    let route = config
        .routes
        .named(shared::routing::DEFAULT_ROUTE)
        .expect("the default route");
    match notify::post(app, &digest.slack(), &route, &key, deadline).await {
        Ok(()) => {
            report.applied(action);
            Ok(())
        }
        Err(error) => {
            // Every part is posted again on the retry; a digest is read
            // once, so a repeated part is better than a missing one.
            if let Err(release) = app.state.release(&key, now).await {
                report.fail(&key, "release_claim", &release);
            }
            report.fail(&key, "post_digest", &error);
            Err(error)
        }
    }
}
