//! Acting on one compliance change: read the state and the resource, decide
//! (see [`crate::plan`]), claim the notification with a conditional write,
//! deliver it ([`crate::notify`]), and give the claim back if delivery failed
//! so a retry delivers it.

use serde_json::json;
use shared::Deadline;
use shared::report::{Action, Report};
use time::OffsetDateTime;

use crate::App;
use crate::change::{Compliance, ComplianceChange};
use crate::error::Error;
use crate::exemption::{Exemptions, Outcome, Subject};
use crate::item;
use crate::notify::{self, Notification};
use crate::plan::{self, Notice, Occasion, Silence};
use crate::resource::Resource;
use crate::state::{Labels, StateRecord, Write};

/// Attempts when concurrent deliveries of the same resource race.
const MAX_ATTEMPTS: usize = 4;

/// Triage of one change. `Err` means people were not told something they
/// should have been: the caller fails the record or the invocation.
pub async fn triage(
    app: &App,
    exemptions: &Exemptions,
    change: &ComplianceChange,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    report.incr("changes");
    run(
        app,
        exemptions,
        change,
        Occasion::Event,
        now,
        deadline,
        report,
    )
    .await
}

/// The scheduled run's look at a violation Config still reports open
/// (`change` stands for its current verdict): announced if it was held as
/// flapping and its window has passed, silently left alone otherwise.
pub async fn announce_held(
    app: &App,
    exemptions: &Exemptions,
    change: &ComplianceChange,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    run(
        app,
        exemptions,
        change,
        Occasion::Schedule,
        now,
        deadline,
        report,
    )
    .await
}

async fn run(
    app: &App,
    exemptions: &Exemptions,
    change: &ComplianceChange,
    occasion: Occasion,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
) -> Result<(), Error> {
    let key = change.key();
    let target = change.target();
    let severity = app.settings.severity.severity_of(&change.rule);
    let labels = Labels {
        rule: change.rule.clone(),
        resource_type: change.resource_type.clone(),
        resource_id: change.resource_id.clone(),
    };
    let mut resource: Option<Resource> = None;
    for _ in 0..MAX_ATTEMPTS {
        let prior = app.state.get(&key).await?;
        let transition = plan::transition(change, prior.as_ref());
        let Some(might_notify) = plan::might_notify(occasion, transition, prior.as_ref()) else {
            return Ok(());
        };
        if might_notify && resource.is_none() {
            resource = Some(app.enricher.lookup(&change.resource_ref()).await);
        }
        let outcome = match (&resource, change.new) {
            (Some(res), Compliance::NonCompliant) => exemptions.check(
                &Subject {
                    rule: &change.rule,
                    resource_id: &change.resource_id,
                    arn: res.arn.as_deref(),
                    resource_type: &change.resource_type,
                    tags: &res.tags,
                },
                now,
            ),
            _ => Outcome::None,
        };
        let decision = match occasion {
            Occasion::Event => {
                plan::decide(change, prior.as_ref(), &outcome, now, app.settings.renotify)
            }
            Occasion::Schedule => {
                plan::decide_held(prior.as_ref(), &outcome, now, app.settings.renotify)
            }
        };
        let detail = json!({
            "transition": decision.transition,
            "severity": severity,
            "status": change.new,
        });
        let Some(notice) = decision.notice else {
            if let Some(next) = &decision.next
                && !app.settings.dry_run
                && app
                    .state
                    .put(&key, &labels, next, prior.as_ref().map(|p| p.version))
                    .await?
                    == Write::Conflict
            {
                report.incr("state_conflicts");
                continue;
            }
            if let Some(silence) = decision.silence {
                report.incr(silence.counter());
            }
            // A stale delivery is older than the evaluation already
            // recorded: its compliance is not the resource's now.
            if occasion == Occasion::Event && decision.silence != Some(Silence::StaleOrDuplicate) {
                let owner = resource
                    .as_ref()
                    .and_then(|r| app.settings.routes.owner(&r.tags))
                    .or(prior.as_ref().and_then(team_of));
                report
                    .items
                    .extend(item::changed(change, severity, owner, &outcome));
            }
            report.skip(target, decision.reason);
            return Ok(());
        };
        let resource = resource.clone().unwrap_or_default();
        let route = plan::route(notice, prior.as_ref(), &app.settings.routes, &resource.tags);
        let page = plan::pages(notice, severity, app.settings.critical_topic_arn.is_some());
        let action_name = match notice {
            Notice::Violation => "notify_violation",
            Notice::Resolution => "notify_resolution",
        };
        let mut detail = detail;
        detail["route"] = json!(route.name);
        detail["page"] = json!(page);
        if let Some(arn) = &resource.arn {
            detail["arn"] = json!(arn);
        }
        if let Outcome::Expired(e) = &outcome {
            detail["expired_exemption"] = json!(e);
        }
        let action = Action::new(action_name, &target, &decision.reason).with_detail(detail);
        let owner = app.settings.routes.owner(&resource.tags).or(
            // The tags of a deleted resource are gone; its team is not.
            Some(route.name.as_str()).filter(|name| *name != shared::routing::DEFAULT_ROUTE),
        );
        if app.settings.dry_run {
            report.plan(action);
            return Ok(());
        }
        let mut next = decision
            .next
            .expect("a notification always updates the state");
        if notice == Notice::Violation {
            next.route = Some(route.name.clone());
        }
        if app
            .state
            .put(&key, &labels, &next, prior.as_ref().map(|p| p.version))
            .await?
            == Write::Conflict
        {
            // Another delivery of this resource got there first.
            report.incr("state_conflicts");
            continue;
        }
        // Only once the state is written: a conflict goes round again, and
        // would name the item twice.
        if occasion == Occasion::Event {
            report
                .items
                .extend(item::changed(change, severity, owner, &outcome));
        }
        report.plan(action.clone());
        if matches!(outcome, Outcome::Expired(_)) {
            report.incr("expired_exemption_matched");
        }
        let notification = Notification {
            change,
            notice,
            transition: decision.transition,
            severity,
            resource: &resource,
            owner,
            since: next.since.or(prior.as_ref().and_then(|p| p.since)),
            expired_exemption: match &outcome {
                Outcome::Expired(e) => Some(e),
                _ => None,
            },
            now,
        };
        return match notify::deliver(app, &notification, &route, page, deadline).await {
            Ok(()) => {
                report.incr(match notice {
                    Notice::Violation => "violations_notified",
                    Notice::Resolution => "resolutions_notified",
                });
                if page {
                    report.incr("critical_paged");
                }
                report.applied(action);
                Ok(())
            }
            Err(error) => {
                release(app, &key, &labels, prior.as_ref(), &next, report).await;
                report.fail(&target, action_name, &error);
                Err(error)
            }
        };
    }
    Err(Error::Contended { key })
}

/// The team an earlier notice went to, when it went to a team.
fn team_of(prior: &StateRecord) -> Option<&str> {
    prior
        .route
        .as_deref()
        .filter(|name| *name != shared::routing::DEFAULT_ROUTE)
}

/// Gives back a claim whose notification was not delivered, so the retry
/// finds the violation unannounced. If this fails too the report says so:
/// the retry will then see the claim and stay silent.
async fn release(
    app: &App,
    key: &str,
    labels: &Labels,
    prior: Option<&StateRecord>,
    claimed: &StateRecord,
    report: &mut Report,
) {
    let undone = match prior {
        Some(p) => {
            let restored = StateRecord {
                version: claimed.version + 1,
                ..p.clone()
            };
            app.state
                .put(key, labels, &restored, Some(claimed.version))
                .await
        }
        None => app.state.delete(key, claimed.version).await,
    };
    match undone {
        Ok(Write::Done) => {}
        Ok(Write::Conflict) => report.fail(key, "release_claim", "the state changed meanwhile"),
        Err(e) => report.fail(key, "release_claim", e),
    }
}
