//! Acting on one compliance change: read the state, decide (see
//! [`crate::plan`]), claim the notification with a conditional write, deliver
//! it, and give the claim back if delivery failed so a retry delivers it.

use aws_sdk_sns::Client as Sns;
use serde_json::json;
use shared::Deadline;
use shared::report::{Action, Report};
use time::OffsetDateTime;

use crate::App;
use crate::change::{Compliance, ComplianceChange};
use crate::error::{Cause, Error};
use crate::exemption::{Exemptions, Outcome, Subject};
use crate::notify::Notification;
use crate::plan::{self, Notice, Transition};
use crate::resource::{Resource, ResourceRef};
use crate::severity::Severity;
use crate::state::{Labels, StateRecord, Write};

/// Attempts when concurrent deliveries of the same resource race.
const MAX_ATTEMPTS: usize = 4;

/// What asks for a decision: a compliance change, or the scheduled run
/// looking at a violation Config still reports open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Event,
    Schedule,
}

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
        Trigger::Event,
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
        Trigger::Schedule,
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
    trigger: Trigger,
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
        let might_notify = match trigger {
            Trigger::Event => {
                matches!(
                    transition,
                    Transition::NewViolation | Transition::StillNonCompliant
                ) || (matches!(transition, Transition::Resolved | Transition::NotApplicable)
                    && prior.as_ref().is_some_and(|p| p.announced))
            }
            // Nothing held: the digest covers it, and there is nothing to say.
            Trigger::Schedule if !prior.as_ref().is_some_and(StateRecord::held) => return Ok(()),
            Trigger::Schedule => true,
        };
        if might_notify && resource.is_none() {
            resource = Some(lookup(app, change).await);
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
        let decision = match trigger {
            Trigger::Event => {
                plan::decide(change, prior.as_ref(), &outcome, now, app.settings.renotify)
            }
            Trigger::Schedule => {
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
            report.skip(target, decision.reason);
            return Ok(());
        };
        let resource = resource.clone().unwrap_or_default();
        // An end goes where its start went: after a deletion the tags are
        // gone, and re-reading them would send it to the default channel.
        let announced_to = prior
            .as_ref()
            .filter(|_| notice == Notice::Resolution)
            .and_then(|p| p.route.as_deref())
            .and_then(|name| app.settings.routes.named(name));
        let route = announced_to.unwrap_or_else(|| app.settings.routes.route(&resource.tags));
        let page = notice == Notice::Violation
            && severity == Severity::Critical
            && app.settings.critical_topic_arn.is_some();
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
            owner: app.settings.routes.owner(&resource.tags).or(
                // The tags of a deleted resource are gone; its team is not.
                Some(route.name.as_str()).filter(|name| *name != crate::routing::DEFAULT_ROUTE),
            ),
            since: next.since.or(prior.as_ref().and_then(|p| p.since)),
            expired_exemption: match &outcome {
                Outcome::Expired(e) => Some(e),
                _ => None,
            },
            now,
        };
        return match deliver(app, &notification, &route, page, deadline).await {
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

async fn lookup(app: &App, change: &ComplianceChange) -> Resource {
    let r = ResourceRef {
        account: change.account.clone(),
        region: change.region.clone(),
        resource_type: change.resource_type.clone(),
        resource_id: change.resource_id.clone(),
    };
    app.enricher
        .enrich(std::slice::from_ref(&r))
        .await
        .remove(&r)
        .unwrap_or_default()
}

async fn deliver(
    app: &App,
    n: &Notification<'_>,
    route: &crate::routing::Route<'_>,
    page: bool,
    deadline: &Deadline,
) -> Result<(), Error> {
    let target = n.change.target();
    // Paging first: if Slack then fails, the retry pages again, which is
    // better than a critical violation nobody is paged for.
    if page && let Some(topic) = &app.settings.critical_topic_arn {
        publish(&app.sns, topic, n)
            .await
            .map_err(|source| Error::Sns {
                topic: topic.clone(),
                target: target.clone(),
                source,
            })?;
    }
    let webhook = app
        .secrets
        .get(route.webhook)
        .await
        .map_err(|source| Error::Webhook {
            route: route.name.clone(),
            source,
        })?;
    app.slack
        .send_all(&webhook, &n.slack(), deadline)
        .await
        .map_err(|source| Error::Slack {
            target,
            route: route.name.clone(),
            source,
        })
}

async fn publish(sns: &Sns, topic: &str, n: &Notification<'_>) -> Result<(), Cause> {
    sns.publish()
        .topic_arn(topic)
        .subject(n.sns_subject())
        .message(n.sns_body())
        .send()
        .await
        .map(|_| ())
        .map_err(shared::aws::cause)
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
