//! What one delivery's counts come to before anything is stored: which
//! counters are observations as they are, which must be added to their
//! window's stored total, and how the observations of several deliveries of
//! one event combine. Pure; the windows module does the storing.
//!
//! WAF delivers an object about every five minutes, so one window's requests
//! are often split over two or three objects. A counter that reached its
//! threshold within this run's input needs nothing stored: the IP is flagged
//! now. So does an allowed address: it is never blocked, and storing its
//! count would only cost writes.

use crate::config::Config;
use crate::detect::{Counts, Key};
use crate::plan::Observation;

/// Kept after a window ends, for objects delivered late.
const WINDOW_GRACE_SECONDS: i64 = 3600;

/// One counter to add to its window's item in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowAdd {
    /// The window item's key: `win#<window start>#<rule>#<address>`.
    pub pk: String,
    pub key: Key,
    /// Requests counted from this delivery.
    pub local: u32,
    pub last_seen_ms: i64,
    /// When the window item may go (its TTL).
    pub expires_at: i64,
}

impl WindowAdd {
    /// The observation when nothing stored could be added to it.
    pub fn alone(&self) -> Observation {
        self.with_total(u64::from(self.local))
    }

    pub fn with_total(&self, total: u64) -> Observation {
        Observation {
            key: self.key,
            local: self.local,
            total,
            last_seen_ms: self.last_seen_ms,
        }
    }
}

/// Splits one delivery's counters into observations that need nothing
/// stored and counts to add to their window.
pub fn split(counts: &Counts, config: &Config) -> (Vec<Observation>, Vec<WindowAdd>) {
    let detection = &config.detection;
    let mut ready = Vec::new();
    let mut adds = Vec::new();
    for (key, tally) in &counts.tallies {
        let local = tally.count;
        if local >= detection.threshold_for(key.rule) || config.allowed(key.ip) {
            ready.push(Observation {
                key: *key,
                local,
                total: u64::from(local),
                last_seen_ms: tally.last_seen_ms,
            });
        } else {
            adds.push(WindowAdd {
                pk: format!(
                    "win#{}#{}#{}",
                    key.window,
                    detection.rule_name(key.rule),
                    key.ip
                ),
                key: *key,
                local,
                last_seen_ms: tally.last_seen_ms,
                expires_at: key.window + detection.window_seconds + WINDOW_GRACE_SECONDS,
            });
        }
    }
    (ready, adds)
}

/// Observations of several deliveries of one event, one per counter. When
/// two deliveries hit the same counter, the larger stored total already
/// holds the other's stored part; a part not stored (it reached the
/// threshold alone) may be missing from it, so the total is at least the
/// sum of the local counts. It errs low only where the threshold is reached
/// anyway.
pub fn merge(into: &mut Vec<Observation>, more: Vec<Observation>) {
    if into.is_empty() {
        *into = more;
        return;
    }
    let mut index: std::collections::HashMap<Key, usize> =
        into.iter().enumerate().map(|(i, o)| (o.key, i)).collect();
    for obs in more {
        match index.get(&obs.key) {
            Some(&i) => {
                let old = &mut into[i];
                let local = old.local.saturating_add(obs.local);
                old.total = old.total.max(obs.total).max(u64::from(local));
                old.local = local;
                old.last_seen_ms = old.last_seen_ms.max(obs.last_seen_ms);
            }
            None => {
                index.insert(obs.key, into.len());
                into.push(obs);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_totals_never_fall_below_the_local_counts() {
        let key = Key {
            ip: "192.0.2.1".parse().unwrap(),
            window: 0,
            rule: None,
        };
        let obs = |local, total| Observation {
            key,
            local,
            total,
            last_seen_ms: 0,
        };
        let mut all = vec![obs(30, 70)];
        merge(&mut all, vec![obs(120, 120)]);
        assert_eq!(all, [obs(150, 150)]);
        merge(&mut all, vec![obs(5, 200)]);
        assert_eq!(all, [obs(155, 200)]);
    }
}
