//! The decision for one compliance change, without any AWS call: which
//! transition it is, whether people are told, and what the state becomes.
//!
//! People are told when a violation first appears and when an announced one
//! is resolved. Repeats of an announced violation are not told again, and a
//! violation that reappears within `RENOTIFY_HOURS` of the last notification
//! (a flapping resource) is held back; if it is still there after the window,
//! the next evaluation announces it, or the scheduled run does
//! ([`decide_held`]) when Config has nothing new to send.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::change::{Compliance, ComplianceChange};
use crate::exemption::Outcome;
use crate::severity::Severity;
use crate::state::StateRecord;
use shared::routing::{Route, Routes};

/// What happened to the rule's verdict on the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    NewViolation,
    StillNonCompliant,
    Resolved,
    NotApplicable,
    StillCompliant,
    InsufficientData,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewViolation => "new_violation",
            Self::StillNonCompliant => "still_non_compliant",
            Self::Resolved => "resolved",
            Self::NotApplicable => "not_applicable",
            Self::StillCompliant => "still_compliant",
            Self::InsufficientData => "insufficient_data",
        }
    }
}

/// Who is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    Violation,
    /// Compliant again, or no longer applicable (deleted, out of scope).
    Resolution,
}

/// Why nobody is told, counted in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silence {
    Exempted,
    Flapping,
    Repeat,
    StaleOrDuplicate,
    NeverAnnounced,
    NothingToTell,
}

impl Silence {
    pub fn counter(self) -> &'static str {
        match self {
            Self::Exempted => "exempted",
            Self::Flapping => "held_flapping",
            Self::Repeat => "repeats",
            Self::StaleOrDuplicate => "stale_or_duplicate",
            Self::NeverAnnounced => "never_announced",
            Self::NothingToTell => "nothing_to_tell",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub transition: Transition,
    /// `Some` when people are told.
    pub notice: Option<Notice>,
    /// `Some` when they are not, saying why.
    pub silence: Option<Silence>,
    /// Why, in words for the report.
    pub reason: String,
    /// The state to write; `None` leaves the table alone.
    pub next: Option<StateRecord>,
}

/// What asks for a decision: a compliance change, or the scheduled run
/// looking at a violation Config still reports open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    Event,
    Schedule,
}

/// Whether a message may follow, so the resource is worth looking up (its
/// tags decide exemptions, route and owner). `None`: there is nothing to
/// do, as when the schedule looks at a violation that is not held (the
/// digest covers it).
pub fn might_notify(
    occasion: Occasion,
    transition: Transition,
    prior: Option<&StateRecord>,
) -> Option<bool> {
    match occasion {
        Occasion::Event => Some(
            matches!(
                transition,
                Transition::NewViolation | Transition::StillNonCompliant
            ) || (matches!(transition, Transition::Resolved | Transition::NotApplicable)
                && prior.is_some_and(|p| p.announced)),
        ),
        Occasion::Schedule if !prior.is_some_and(StateRecord::held) => None,
        Occasion::Schedule => Some(true),
    }
}

/// Where a notice goes. An end goes where its start went: after a deletion
/// the tags are gone, and re-reading them would send it to the default
/// channel.
pub fn route<'a>(
    notice: Notice,
    prior: Option<&StateRecord>,
    routes: &'a Routes,
    tags: &BTreeMap<String, String>,
) -> Route<'a> {
    prior
        .filter(|_| notice == Notice::Resolution)
        .and_then(|p| p.route.as_deref())
        .and_then(|name| routes.named(name))
        .unwrap_or_else(|| routes.route(tags))
}

/// Only a new critical violation pages, and only where a topic is set.
pub fn pages(notice: Notice, severity: Severity, topic_configured: bool) -> bool {
    notice == Notice::Violation && severity == Severity::Critical && topic_configured
}

/// The previous verdict: toilkit's own memory first, else the event's.
pub fn transition(change: &ComplianceChange, prior: Option<&StateRecord>) -> Transition {
    let before = prior.map(|p| p.status).or(change.old);
    match change.new {
        Compliance::NonCompliant if before == Some(Compliance::NonCompliant) => {
            Transition::StillNonCompliant
        }
        Compliance::NonCompliant => Transition::NewViolation,
        Compliance::Compliant if before == Some(Compliance::NonCompliant) => Transition::Resolved,
        Compliance::Compliant => Transition::StillCompliant,
        Compliance::NotApplicable => Transition::NotApplicable,
        Compliance::InsufficientData => Transition::InsufficientData,
    }
}

pub fn decide(
    change: &ComplianceChange,
    prior: Option<&StateRecord>,
    exemption: &Outcome,
    now: time::OffsetDateTime,
    renotify: Duration,
) -> Decision {
    let transition = transition(change, prior);
    let event_ms = (change.at.unix_timestamp_nanos() / 1_000_000) as i64;
    let now_s = now.unix_timestamp();
    let version = prior.map_or(1, |p| p.version + 1);
    let skip = |silence: Silence, reason: String, next: Option<StateRecord>| Decision {
        transition,
        notice: None,
        silence: Some(silence),
        reason,
        next,
    };
    if let Some(p) = prior {
        if p.event_ms > event_ms {
            return skip(
                Silence::StaleOrDuplicate,
                "older than the evaluation already recorded (out-of-order delivery)".into(),
                None,
            );
        }
        if p.event_ms == event_ms && p.status == change.new {
            return skip(
                Silence::StaleOrDuplicate,
                "already processed (duplicate delivery)".into(),
                None,
            );
        }
    }
    let settle = |status: Compliance| StateRecord {
        status,
        announced: false,
        since: None,
        last_notified: prior.and_then(|p| p.last_notified),
        event_ms,
        version,
        route: None,
    };
    match transition {
        Transition::NewViolation | Transition::StillNonCompliant => {
            if let Outcome::Exempt(e) = exemption {
                return skip(
                    Silence::Exempted,
                    format!("exempted: {}", e.describe()),
                    None,
                );
            }
            let since = prior
                .filter(|p| p.status == Compliance::NonCompliant)
                .and_then(|p| p.since)
                .unwrap_or(change.at.unix_timestamp());
            // The route is the one announced to; apply sets it when announcing.
            let open = |announced: bool, last_notified: Option<i64>| StateRecord {
                status: Compliance::NonCompliant,
                announced,
                since: Some(since),
                last_notified,
                event_ms,
                version,
                route: prior.filter(|p| p.announced).and_then(|p| p.route.clone()),
            };
            let last = prior.and_then(|p| p.last_notified);
            if prior.is_some_and(|p| p.announced) {
                return skip(
                    Silence::Repeat,
                    "already notified; repeats are not notified again".into(),
                    (transition == Transition::NewViolation).then(|| open(true, last)),
                );
            }
            if let Some(last) = last {
                let ago = now_s - last;
                if ago >= 0 && (ago as u64) < renotify.as_secs() {
                    return skip(
                        Silence::Flapping,
                        format!(
                            "flapping: last notified {} ago, within RENOTIFY_HOURS ({}h)",
                            human_duration(ago as u64),
                            renotify.as_secs() / 3600
                        ),
                        Some(open(false, Some(last))),
                    );
                }
            }
            let reason = match (transition, exemption) {
                (_, Outcome::Expired(e)) => {
                    format!("violation; exemption expired: {}", e.describe())
                }
                (Transition::NewViolation, _) => "new violation".to_owned(),
                _ => "non-compliant and not yet notified".to_owned(),
            };
            Decision {
                transition,
                notice: Some(Notice::Violation),
                silence: None,
                reason,
                next: Some(open(true, Some(now_s))),
            }
        }
        Transition::Resolved | Transition::NotApplicable => {
            let status = change.new;
            if prior.is_some_and(|p| p.announced) {
                let reason = if transition == Transition::Resolved {
                    "resolved: compliant again".to_owned()
                } else {
                    "resolved: no longer applicable (deleted or out of scope)".to_owned()
                };
                Decision {
                    transition,
                    notice: Some(Notice::Resolution),
                    silence: None,
                    reason,
                    next: Some(settle(status)),
                }
            } else {
                let next = prior.filter(|p| p.status != status).map(|_| settle(status));
                skip(
                    Silence::NeverAnnounced,
                    "the violation was never notified, so neither is its end".into(),
                    next,
                )
            }
        }
        Transition::StillCompliant => {
            let next = prior
                .filter(|p| p.status != Compliance::Compliant)
                .map(|_| settle(Compliance::Compliant));
            skip(
                Silence::NothingToTell,
                "compliant; nothing to tell".into(),
                next,
            )
        }
        Transition::InsufficientData => skip(
            Silence::NothingToTell,
            "insufficient data: Config could not evaluate".into(),
            None,
        ),
    }
}

/// The scheduled run's decision on a violation Config still reports open.
/// Config sends events only on changes, so a violation held back as
/// flapping would otherwise stay silent for as long as it stays broken: once
/// its renotify window has passed, the schedule announces it.
pub fn decide_held(
    prior: Option<&StateRecord>,
    exemption: &Outcome,
    now: time::OffsetDateTime,
    renotify: Duration,
) -> Decision {
    let skip = |silence: Silence, reason: String| Decision {
        transition: Transition::StillNonCompliant,
        notice: None,
        silence: Some(silence),
        reason,
        next: None,
    };
    let Some(p) = prior.filter(|p| p.held()) else {
        return skip(
            Silence::NothingToTell,
            "not held: announced already, or not open in the state table".into(),
        );
    };
    if let Outcome::Exempt(e) = exemption {
        return skip(Silence::Exempted, format!("exempted: {}", e.describe()));
    }
    let now_s = now.unix_timestamp();
    if let Some(last) = p.last_notified {
        let ago = now_s - last;
        if ago >= 0 && (ago as u64) < renotify.as_secs() {
            return skip(
                Silence::Flapping,
                format!(
                    "held as flapping: last notified {} ago, within RENOTIFY_HOURS ({}h)",
                    human_duration(ago as u64),
                    renotify.as_secs() / 3600
                ),
            );
        }
    }
    let reason = match exemption {
        Outcome::Expired(e) => format!(
            "held as flapping, still non-compliant after RENOTIFY_HOURS; exemption expired: {}",
            e.describe()
        ),
        _ => format!(
            "held as flapping, still non-compliant after RENOTIFY_HOURS ({}h); announced by the scheduled run",
            renotify.as_secs() / 3600
        ),
    };
    Decision {
        transition: Transition::StillNonCompliant,
        notice: Some(Notice::Violation),
        silence: None,
        reason,
        next: Some(StateRecord {
            announced: true,
            last_notified: Some(now_s),
            version: p.version + 1,
            ..p.clone()
        }),
    }
}

/// "3h 20m", "2d 4h", "45s".
pub fn human_duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exemption::Exemptions;
    use time::OffsetDateTime;
    use time::macros::datetime;

    const DAY: Duration = Duration::from_secs(24 * 3600);
    const T0: OffsetDateTime = datetime!(2026-03-01 10:00 UTC);

    fn change(new: Compliance, old: Option<Compliance>, at: OffsetDateTime) -> ComplianceChange {
        ComplianceChange {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            rule: "restricted-ssh".into(),
            resource_type: "AWS::EC2::SecurityGroup".into(),
            resource_id: "sg-1".into(),
            new,
            old,
            annotation: None,
            at,
        }
    }

    fn run(
        new: Compliance,
        old: Option<Compliance>,
        at: OffsetDateTime,
        prior: Option<&StateRecord>,
    ) -> Decision {
        decide(&change(new, old, at), prior, &Outcome::None, at, DAY)
    }

    use Compliance::*;

    fn announced_to(route: &str) -> StateRecord {
        StateRecord {
            status: NonCompliant,
            announced: true,
            since: Some(0),
            last_notified: Some(0),
            event_ms: 0,
            version: 1,
            route: Some(route.into()),
        }
    }

    #[test]
    fn an_end_goes_where_its_start_went_and_a_start_where_the_tags_say() {
        let secret = |name: &str| format!("secret:{name}").parse().unwrap();
        let routes = Routes {
            owner_tag_key: "owner".into(),
            by_owner: [
                ("payments".to_owned(), secret("p")),
                ("web".to_owned(), secret("w")),
            ]
            .into(),
            default: secret("d"),
        };
        let web: BTreeMap<String, String> = [("owner".to_owned(), "web".to_owned())].into();
        let prior = announced_to("payments");
        let end = route(Notice::Resolution, Some(&prior), &routes, &BTreeMap::new());
        assert_eq!(
            end.name, "payments",
            "the tags of a deleted resource are gone"
        );
        let start = route(Notice::Violation, Some(&prior), &routes, &web);
        assert_eq!(start.name, "web");
        let unrouted = route(Notice::Violation, None, &routes, &BTreeMap::new());
        assert_eq!(unrouted.name, shared::routing::DEFAULT_ROUTE);
    }

    #[test]
    fn only_a_critical_violation_pages_and_only_with_a_topic() {
        assert!(pages(Notice::Violation, Severity::Critical, true));
        assert!(!pages(Notice::Violation, Severity::Critical, false));
        assert!(!pages(Notice::Violation, Severity::High, true));
        assert!(!pages(Notice::Resolution, Severity::Critical, true));
    }

    #[test]
    fn the_resource_is_looked_up_only_when_a_message_may_follow() {
        let announced = announced_to("web");
        let held = StateRecord {
            announced: false,
            ..announced.clone()
        };
        let event = |t, prior| might_notify(Occasion::Event, t, prior);
        assert_eq!(event(Transition::NewViolation, None), Some(true));
        assert_eq!(event(Transition::Resolved, Some(&announced)), Some(true));
        assert_eq!(event(Transition::Resolved, Some(&held)), Some(false));
        assert_eq!(event(Transition::StillCompliant, None), Some(false));
        let schedule =
            |prior| might_notify(Occasion::Schedule, Transition::StillNonCompliant, prior);
        assert_eq!(schedule(Some(&held)), Some(true));
        assert_eq!(
            schedule(Some(&announced)),
            None,
            "nothing held: nothing to do"
        );
    }

    #[test]
    fn every_transition_is_named() {
        let t = |new, old| transition(&change(new, old, T0), None);
        assert_eq!(t(NonCompliant, Some(Compliant)), Transition::NewViolation);
        assert_eq!(t(NonCompliant, None), Transition::NewViolation);
        assert_eq!(
            t(NonCompliant, Some(NonCompliant)),
            Transition::StillNonCompliant
        );
        assert_eq!(t(Compliant, Some(NonCompliant)), Transition::Resolved);
        assert_eq!(t(Compliant, Some(Compliant)), Transition::StillCompliant);
        assert_eq!(
            t(NotApplicable, Some(NonCompliant)),
            Transition::NotApplicable
        );
        assert_eq!(t(InsufficientData, None), Transition::InsufficientData);
    }

    #[test]
    fn a_new_violation_is_notified_then_repeats_are_not_then_resolution_is() {
        let first = run(NonCompliant, Some(Compliant), T0, None);
        assert_eq!(first.notice, Some(Notice::Violation));
        let state = first.next.unwrap();
        assert!(state.announced);
        assert_eq!(state.since, Some(T0.unix_timestamp()));
        assert_eq!(state.version, 1);

        let t1 = T0 + time::Duration::hours(30);
        let repeat = run(NonCompliant, Some(NonCompliant), t1, Some(&state));
        assert_eq!(repeat.transition, Transition::StillNonCompliant);
        assert_eq!(repeat.notice, None, "{}", repeat.reason);
        assert!(repeat.next.is_none(), "a repeat writes nothing");
        assert_eq!(repeat.silence, Some(Silence::Repeat));

        let t2 = T0 + time::Duration::hours(31);
        let fixed = run(Compliant, Some(NonCompliant), t2, Some(&state));
        assert_eq!(fixed.notice, Some(Notice::Resolution));
        let state = fixed.next.unwrap();
        assert!(!state.announced);
        assert_eq!(state.version, 2);
        assert_eq!(state.last_notified, Some(T0.unix_timestamp()));
    }

    #[test]
    fn a_violation_back_within_the_renotify_window_is_held_then_announced_after_it() {
        let state = run(NonCompliant, Some(Compliant), T0, None).next.unwrap();
        let state = run(
            Compliant,
            None,
            T0 + time::Duration::minutes(5),
            Some(&state),
        )
        .next
        .unwrap();
        let back_at = T0 + time::Duration::minutes(10);
        let back = run(NonCompliant, Some(Compliant), back_at, Some(&state));
        assert_eq!(back.transition, Transition::NewViolation);
        assert_eq!(back.notice, None);
        assert!(back.reason.contains("flapping"), "{}", back.reason);
        assert_eq!(back.silence, Some(Silence::Flapping));
        let held = back.next.unwrap();
        assert!(!held.announced);

        // Fixed again while held: nobody was told it broke, so nobody is told.
        let quiet = run(
            Compliant,
            None,
            T0 + time::Duration::minutes(20),
            Some(&held),
        );
        assert_eq!(quiet.notice, None);

        // Still broken after the window: now it is announced.
        let later = T0 + time::Duration::hours(25);
        let still = run(NonCompliant, Some(NonCompliant), later, Some(&held));
        assert_eq!(still.notice, Some(Notice::Violation), "{}", still.reason);
        assert_eq!(still.next.unwrap().since, held.since);
    }

    #[test]
    fn the_schedule_announces_a_held_violation_once_its_window_has_passed() {
        let state = run(NonCompliant, Some(Compliant), T0, None).next.unwrap();
        let state = run(
            Compliant,
            None,
            T0 + time::Duration::minutes(5),
            Some(&state),
        )
        .next
        .unwrap();
        let held = run(
            NonCompliant,
            Some(Compliant),
            T0 + time::Duration::minutes(10),
            Some(&state),
        )
        .next
        .unwrap();
        assert!(held.held());

        let early = decide_held(
            Some(&held),
            &Outcome::None,
            T0 + time::Duration::hours(2),
            DAY,
        );
        assert_eq!(early.notice, None);
        assert_eq!(early.silence, Some(Silence::Flapping));

        let later = T0 + time::Duration::hours(25);
        let due = decide_held(Some(&held), &Outcome::None, later, DAY);
        assert_eq!(due.notice, Some(Notice::Violation), "{}", due.reason);
        let next = due.next.unwrap();
        assert!(next.announced && !next.held());
        assert_eq!(next.since, held.since);
        assert_eq!(next.last_notified, Some(later.unix_timestamp()));
        assert_eq!(next.version, held.version + 1);

        // Announced now: the next schedule, and the next event, stay quiet.
        assert_eq!(
            decide_held(Some(&next), &Outcome::None, later, DAY).notice,
            None
        );
        assert_eq!(decide_held(None, &Outcome::None, later, DAY).notice, None);
    }

    #[test]
    fn not_applicable_closes_an_announced_violation() {
        let state = run(NonCompliant, None, T0, None).next.unwrap();
        let gone = run(
            NotApplicable,
            Some(NonCompliant),
            T0 + time::Duration::hours(1),
            Some(&state),
        );
        assert_eq!(gone.transition, Transition::NotApplicable);
        assert_eq!(gone.notice, Some(Notice::Resolution));
        assert!(gone.reason.contains("no longer applicable"));
        let nothing = run(NotApplicable, None, T0, None);
        assert_eq!(nothing.notice, None);
        assert!(nothing.next.is_none());
    }

    #[test]
    fn compliant_and_insufficient_data_say_nothing_and_write_nothing_new() {
        for new in [Compliant, InsufficientData] {
            let d = run(new, None, T0, None);
            assert_eq!(d.notice, None);
            assert!(d.next.is_none());
        }
    }

    #[test]
    fn out_of_order_and_duplicate_deliveries_are_ignored() {
        let state = run(NonCompliant, None, T0, None).next.unwrap();
        let dup = run(NonCompliant, None, T0, Some(&state));
        assert!(dup.reason.contains("duplicate"));
        assert!(dup.next.is_none());
        let old = run(Compliant, None, T0 - time::Duration::hours(1), Some(&state));
        assert!(old.reason.contains("out-of-order"));
        assert!(old.next.is_none());
    }

    #[test]
    fn exempted_violations_are_skipped_and_expired_exemptions_say_so() {
        let exemptions = Exemptions::parse(
            r#"[{"rule": "restricted-ssh", "reason": "bastion", "expires": "2026-02-01"}]"#,
        )
        .unwrap();
        let c = change(NonCompliant, None, T0);
        let tags = Default::default();
        let subject = crate::exemption::Subject {
            rule: &c.rule,
            resource_id: &c.resource_id,
            arn: None,
            resource_type: &c.resource_type,
            tags: &tags,
        };
        let before_expiry = datetime!(2026-01-15 0:00 UTC);
        let outcome = exemptions.check(&subject, before_expiry);
        let d = decide(&c, None, &outcome, before_expiry, DAY);
        assert_eq!(d.notice, None);
        assert!(
            d.reason.contains("exempted") && d.reason.contains("bastion"),
            "{}",
            d.reason
        );

        let outcome = exemptions.check(&subject, T0);
        let d = decide(&c, None, &outcome, T0, DAY);
        assert_eq!(d.notice, Some(Notice::Violation));
        assert!(d.reason.contains("exemption expired"), "{}", d.reason);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(3 * 3600 + 1200), "3h 20m");
        assert_eq!(human_duration(2 * 86_400 + 4 * 3600), "2d 4h");
    }
}
