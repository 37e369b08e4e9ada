//! A run's changes to one IP set, and merging them into whatever the set
//! holds when it is written.
//!
//! The plan decides the changes from the content it read; another writer
//! may change the set before the write, so the same changes are merged
//! again into the content found then ([`SetDelta::apply`]).

use std::collections::HashSet;

use ipnet::IpNet;

/// Changes to one IP set, applied to whatever content it has when written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetDelta {
    /// Wanted in the set, best first: when merging leaves less room than
    /// planned, the last ones are dropped.
    pub add: Vec<IpNet>,
    pub remove: HashSet<IpNet>,
}

/// A set's content after a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub content: Vec<IpNet>,
    pub dropped: Vec<IpNet>,
}

impl SetDelta {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// `current` without `remove`, plus `add` as far as `capacity` allows.
    /// Addresses not named in `remove` are never dropped.
    pub fn apply(&self, current: &[IpNet], capacity: usize) -> Merged {
        let mut seen = HashSet::new();
        let mut content: Vec<IpNet> = current
            .iter()
            .filter(|n| !self.remove.contains(n) && seen.insert(**n))
            .copied()
            .collect();
        let mut dropped = Vec::new();
        for net in &self.add {
            if seen.contains(net) {
                continue;
            }
            if content.len() < capacity {
                seen.insert(*net);
                content.push(*net);
            } else {
                dropped.push(*net);
            }
        }
        content.sort();
        Merged { content, dropped }
    }
}
