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
/// digest went out.
pub async fn apply(
    app: &App,
    plan: &Plan,
    previous: &BTreeMap<String, Previous>,
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
        let result = deliver(app, owner, plan, now, deadline).await;
        match result {
            Ok(used) => {
                if let Err(error) = app.state.write(&changes, calls).await {
                    report.fail(&owner.owner, "write_state", &error);
                    failures.push(error);
                    continue;
                }
                report.add("state_records_written", changes.len() as u64);
                if let Some(used) = used {
                    report.incr("digests_sent");
                    report.applied(action(owner).with_detail(json!({"route": used})));
                }
            }
            Err(error) => {
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
    let messages = notify::digest(owner, plan, now);
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
