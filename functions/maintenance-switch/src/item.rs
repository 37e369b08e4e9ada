//! What the result event says of maintenance: each listener, in
//! maintenance or not (keyed by its ARN), and each window, scheduled or on
//! (keyed by its window id, which names its execution too). Pure.

use shared::envelope::Item;
use shared::report::Report;

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
