//! Carries the report out: each owner's digest posted to its route, then
//! that owner's state records written. An owner whose digest could not be
//! posted keeps its old records, so the next report tells it the same
//! changes again; the others go on.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use shared::Deadline;
use shared::report::{Action, Report};
use shared::routing::DEFAULT_ROUTE;
use time::OffsetDateTime;

use crate::error::Error;
use crate::notify;
use crate::plan::{InstanceReport, OwnerReport, Plan, Previous};
use crate::state::Claim;
use crate::{App, Calls};

/// The action each digest is planned and applied as.
pub const POST_DIGEST: &str = "post_digest";
/// Time kept for one owner's digest and state write: Slack's retries and a
/// few batch writes.
pub const PER_DIGEST: Duration = Duration::from_secs(10);

/// The planned action for one owner's digest.
pub fn action(owner: &OwnerReport) -> Action {
    Action::new(
        POST_DIGEST,
        owner.owner.clone(),
        format!(
            "{} new, {} fixed, {} still open across {} running instance(s); to route {}",
            owner.new, owner.fixed, owner.still_open, owner.running, owner.route
        ),
    )
}

/// Posts every digest worth sending, writing each owner's state after its
/// digest went out. `run` is the schedule event's id: each digest is
/// claimed for it first, so a Lambda retry of the same event (another
/// owner's digest failed) posts only what is still undelivered.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    app: &App,
    plan: &Plan,
    previous: &BTreeMap<String, Previous>,
    run: Option<&str>,
    now: OffsetDateTime,
    deadline: &Deadline,
    report: &mut Report,
    calls: &mut Calls,
) -> Result<(), Error> {
    let owners: Vec<&OwnerReport> = plan.owners.values().collect();
    let mut failures = Vec::new();
    let mut attempted = 0;
    for (n, owner) in owners.iter().enumerate() {
        let changes: Vec<&InstanceReport> = owner.state_changes(previous).collect();
        if !owner.worth_sending() && changes.is_empty() {
            continue;
        }
        if !deadline.allows(PER_DIGEST) {
            let left = owners[n..].iter().filter(|o| o.worth_sending()).count();
            report.stop_early(format!(
                "deadline: {left} digest(s) not sent, from owner {}; their state is unchanged, so the next report tells them",
                owner.owner
            ));
            break;
        }
        attempted += 1;
        let claim = match run.filter(|_| owner.worth_sending()) {
            Some(run) => {
                let expires_at = now + CLAIM_KEPT;
                match app
                    .state
                    .claim_digest(run, &owner.owner, expires_at, calls)
                    .await
                {
                    Ok(Claim::Delivered) => {
                        report.incr("digests_already_sent");
                        report.skip(
                            &owner.owner,
                            "digest already sent by an earlier attempt of this schedule event",
                        );
                        // That attempt may have failed before its state write.
                        if let Err(error) = write_state(app, owner, &changes, report, calls).await {
                            failures.push(error);
                        }
                        continue;
                    }
                    Ok(found) => Some((run, found)),
                    Err(error) => {
                        report.fail(&owner.owner, POST_DIGEST, &error);
                        failures.push(error);
                        continue;
                    }
                }
            }
            None => None,
        };
        match deliver(app, owner, plan, now, deadline).await {
            Ok(used) => {
                if let (Some((run, _)), Some(_)) = (claim, &used)
                    && let Err(error) = app.state.mark_delivered(run, &owner.owner, calls).await
                {
                    // The digest went out: the invocation goes on. A retry
                    // of this event may post it once more.
                    report.fail(&owner.owner, "mark_digest_delivered", &error);
                }
                if let Err(error) = write_state(app, owner, &changes, report, calls).await {
                    failures.push(error);
                    continue;
                }
                if let Some(used) = used {
                    report.incr("digests_sent");
                    if used != owner.route {
                        // An alarm can watch this: a team not hearing its own
                        // digests.
                        report.incr("digests_to_default_route");
                    }
                    report.applied(action(owner).with_detail(json!({"route": used})));
                }
            }
            Err(error) => {
                if let Some((run, Claim::New)) = claim
                    && let Err(release) = app.state.release_digest(run, &owner.owner, calls).await
                {
                    // The claim stays unmarked, so a retry posts anyway.
                    report.fail(&owner.owner, "release_digest_claim", &release);
                }
                report.fail(&owner.owner, POST_DIGEST, &error);
                failures.push(error);
            }
        }
    }
    match failures.len() {
        0 => Ok(()),
        1 if attempted == 1 => Err(failures.remove(0)),
        failed => Err(Error::Partly {
            failed,
            total: attempted,
            first: Box::new(failures.remove(0)),
        }),
    }
}

/// How long a digest's claim is kept: longer than Lambda retries an event.
const CLAIM_KEPT: time::Duration = time::Duration::days(2);

/// Writes the owner's changed state records, reporting a failure.
async fn write_state(
    app: &App,
    owner: &OwnerReport,
    changes: &[&InstanceReport],
    report: &mut Report,
    calls: &mut Calls,
) -> Result<(), Error> {
    match app.state.write(changes, calls).await {
        Ok(()) => {
            report.add("state_records_written", changes.len() as u64);
            Ok(())
        }
        Err(error) => {
            report.fail(&owner.owner, "write_state", &error);
            Err(error)
        }
    }
}

/// Posts the owner's digest when it has something to say; the route it
/// went to. A team's webhook that cannot be read must not silence its
/// digest: the default route gets it, saying why.
async fn deliver(
    app: &App,
    owner: &OwnerReport,
    plan: &Plan,
    now: OffsetDateTime,
    deadline: &Deadline,
) -> Result<Option<String>, Error> {
    if !owner.worth_sending() {
        return Ok(None);
    }
    let messages = notify::digest(owner, plan, now, None);
    let routes = &app.settings.routes;
    let route = routes
        .named(&owner.route)
        .or_else(|| routes.named(DEFAULT_ROUTE))
        .expect("the default route always exists");
    match notify::post(app, &messages, &route, &owner.owner, deadline).await {
        Ok(()) => Ok(Some(route.name.clone())),
        Err(Error::Webhook {
            route: team,
            source,
        }) if team != DEFAULT_ROUTE => {
            let default = routes
                .named(DEFAULT_ROUTE)
                .expect("the default route always exists");
            // The channel is told why the digest is there; the cause stays
            // in the report (it names the secret, never its value).
            let note = format!(
                "Sent here because the webhook of route {team} could not be read: see the function's report"
            );
            let messages = notify::digest(owner, plan, now, Some(&note));
            notify::post(app, &messages, &default, &owner.owner, deadline)
                .await
                .map(|()| {
                    Some(format!(
                        "{DEFAULT_ROUTE} (the webhook of {team} could not be read: {source})"
                    ))
                })
        }
        Err(error) => Err(error),
    }
}
