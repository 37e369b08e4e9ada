//! What the result event says of maintenance: each listener, in
//! maintenance or not (keyed by its ARN), and each window, scheduled or on
//! (keyed by its window id, which names its execution too). Pure.

use shared::envelope::Item;
use shared::report::Report;

use crate::notify::{Event, Notice};
use crate::rules::ListenerStatus;
use crate::windows::WindowEntry;

pub const LISTENER: &str = "listener";
pub const WINDOW: &str = "window";

/// The listeners as the run leaves them; a later status replaces an
/// earlier one of the same run.
pub fn listeners(report: &mut Report, statuses: &[ListenerStatus]) {
    report.items.retain(|i| i.kind != LISTENER);
    for s in statuses {
        let item = if s.maintenance {
            Item::open(LISTENER, &s.listener_arn)
                .with("window_id", s.window_id.as_deref())
                .with("since", s.since.as_deref())
                .with("bypass_rules", s.bypass_rules)
        } else {
            Item::closed(LISTENER, &s.listener_arn)
        };
        report.item(item.with(
            "leftover_rules",
            (s.leftover_rules > 0).then_some(s.leftover_rules),
        ));
    }
}

/// A window that is scheduled or on.
pub fn window(entry: &WindowEntry) -> Item {
    Item::open(WINDOW, &entry.window_id)
        .with("phase", entry.phase)
        .with("start_at", entry.start_at.as_deref())
        .with("end_at", entry.end_at.as_deref())
        .with("listener_arns", entry.listener_arns.clone())
        .with("execution_arn", entry.execution_arn.as_str())
}

/// A window whose execution was stopped: nothing will switch it any more.
pub fn cancelled(window_id: &str) -> Item {
    Item::closed(WINDOW, window_id).with("phase", "cancelled")
}

/// The window as the state machine's notice leaves it: the execution tells
/// the function each moment, so this is where a window that ran its course
/// is closed. One that failed to end stays open: maintenance may be on.
pub fn noticed(notice: &Notice) -> Item {
    let id = notice.window_id.as_str();
    match notice.event {
        Event::Started => Item::open(WINDOW, id)
            .with("phase", "on")
            .with("end_at", notice.end_at.as_deref())
            .with("listener_arns", notice.listener_arns.clone()),
        Event::Ended => Item::closed(WINDOW, id).with("phase", "ended"),
        Event::EnableFailed => Item::closed(WINDOW, id).with("phase", "failed_to_start"),
        Event::DisableFailed => Item::open(WINDOW, id)
            .with("phase", "failed_to_end")
            .with("listener_arns", notice.listener_arns.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::envelope::ItemState;

    fn notice(event: Event) -> Notice {
        Notice {
            event,
            window_id: "w1".into(),
            listener_arns: vec![
                "arn:aws:elasticloadbalancing:eu-west-1:1:listener/app/a/b/c".into(),
            ],
            end_at: Some("2026-12-07T02:00:00Z".into()),
            cause: None,
        }
    }

    /// A window that runs its course is closed by its own end, not left
    /// open in a collector for ever; one that failed to end stays open.
    #[test]
    fn a_window_is_closed_when_it_ends_or_fails_to_start_and_stays_open_when_it_fails_to_end() {
        let state = |event| {
            let item = noticed(&notice(event));
            assert_eq!((item.kind.as_str(), item.key.as_str()), (WINDOW, "w1"));
            (item.state, item.fields["phase"].clone())
        };
        assert_eq!(state(Event::Started), (ItemState::Open, "on".into()));
        assert_eq!(state(Event::Ended), (ItemState::Closed, "ended".into()));
        assert_eq!(
            state(Event::EnableFailed),
            (ItemState::Closed, "failed_to_start".into())
        );
        assert_eq!(
            state(Event::DisableFailed),
            (ItemState::Open, "failed_to_end".into())
        );
    }
}
