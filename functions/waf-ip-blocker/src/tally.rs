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
//!
//! The counters that are stored share items: a window and rule has
//! [`WINDOW_SHARDS`] items, and an address's counter is an attribute of the
//! one its hash picks. A log object's two thousand counters are then a few
//! dozen `UpdateItem` calls instead of one call each, and every object of
//! the window finds an address's counter in the same item.

use crate::config::Config;
use crate::detect::{Counts, Key};
use crate::plan::Observation;

/// Kept after a window ends, for objects delivered late.
const WINDOW_GRACE_SECONDS: i64 = 3600;

/// Items a window and rule's counters are spread over: sixteen per five
/// minutes of window, from 4 to 64. Fixed for a window length: an address
/// must find its counts in the same item in every delivery of the window.
///
/// An item holds its addresses' counts as one element per address and
/// delivery, about 30 bytes each (IPv4; up to 55 for IPv6), so about 13,000
/// before DynamoDB's 400 KB. With WAF's S3 objects every five minutes a
/// five-minute window sees two or three deliveries: about 70,000 addresses
/// below the threshold per window and rule. Longer windows and the
/// CloudWatch Logs trigger (a delivery every few seconds) hold fewer; a
/// full item is reported (`window_counts_item_full`) and its addresses
/// count each delivery alone.
pub fn window_shards(window_seconds: i64) -> u64 {
    let seconds = u64::try_from(window_seconds).unwrap_or(0);
    (16 * seconds).div_ceil(300).clamp(4, 64)
}

/// The window item an address's counts live in, and the address as the
/// counts name it: `win#<window start>#<rule>#<shard>`, the shard from a
/// hash of the address keyed with `salt` ([`Config::window_salt`]).
pub fn window_counter(
    salt: u64,
    window: i64,
    window_seconds: i64,
    rule: &str,
    ip: std::net::IpAddr,
) -> (String, String) {
    let counter = ip.to_string();
    let keyed = format!("{salt:016x} {counter}");
    let shard = shared::dynamo::stable_hash(keyed.as_bytes()) % window_shards(window_seconds);
    (format!("win#{window}#{rule}#{shard:02}"), counter)
}

/// One counter to add to its window's item in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowAdd {
    /// The window item's key ([`window_counter`]).
    pub pk: String,
    /// The counter's attribute in that item.
    pub counter: String,
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
    let salt = config.window_salt();
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
            let (pk, counter) = window_counter(
                salt,
                key.window,
                detection.window_seconds,
                detection.rule_name(key.rule),
                key.ip,
            );
            adds.push(WindowAdd {
                pk,
                counter,
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
    fn window_items_scale_with_the_window_and_keep_each_address_in_one() {
        assert_eq!(window_shards(60), 4);
        assert_eq!(window_shards(300), 16);
        assert_eq!(window_shards(600), 32);
        assert_eq!(window_shards(86_400), 64);
        let ip = "203.0.113.9".parse().unwrap();
        let (pk, counter) = window_counter(7, 1_800_000_000, 300, "*", ip);
        assert_eq!(counter, "203.0.113.9");
        // Persisted: the same address must land in the same item after an
        // upgrade, so the hash and the layout are pinned here.
        assert_eq!(pk, "win#1800000000#*#09");
        // Another deployment's salt spreads the addresses otherwise.
        let item = |salt, i| window_counter(salt, 0, 300, "/login", [198, 51, 100, i].into()).0;
        let shards: std::collections::HashSet<String> = (0..=255u8).map(|i| item(7, i)).collect();
        assert_eq!(shards.len(), 16, "{shards:?}");
        assert!((0..=255u8).any(|i| item(7, i) != item(8, i)));
    }

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
