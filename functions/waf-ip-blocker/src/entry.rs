//! A block as the ledger records it: one address (or aggregated prefix), its
//! history, and whose it is. Pure data; the ledger module stores it.

use ipnet::IpNet;

/// A blocked address or aggregated prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `/32` or `/128` for an address; wider for an aggregate.
    pub net: IpNet,
    pub aggregate: bool,
    /// Seconds since the epoch.
    pub first_blocked: i64,
    pub last_blocked: i64,
    pub expires_at: i64,
    /// Requests counted in the windows that reached a threshold.
    pub hits: u64,
    /// The latest offending request, ms since the epoch (ranks "most recent").
    pub last_seen_ms: i64,
    /// Times the address reached a threshold.
    pub offences: u32,
    pub reason: String,
    /// Where it was seen: `s3://bucket/key` or `logs:<log group>`.
    pub source: String,
    /// The address was already in the IP set, put there by someone else,
    /// when this function first blocked it: the block's end leaves it there.
    pub preexisting: bool,
    /// Read from an item of the old shape, whose TTL is the block's end:
    /// to be rewritten so that TTL cannot delete it while it is in a set.
    pub legacy_ttl: bool,
    /// The run (its deliveries' id) that last wrote the item, and the one
    /// that opened the current block: a retry of that run finds its own
    /// write and neither adds its hits again nor calls the block extended.
    pub by: String,
    pub opened_by: String,
}

impl Entry {
    pub fn pk(&self) -> String {
        pk_for(&self.net, self.aggregate)
    }

    /// What the end of the block does to the set, for the report.
    pub fn end_reason(&self, why: &str) -> String {
        if self.preexisting {
            format!("{why}; left in the IP set, where it was before this function blocked it")
        } else {
            why.to_owned()
        }
    }

    /// `expires_at` is when the block ends (stored as `blocked_until`).
    pub fn is_active(&self, now: i64) -> bool {
        self.expires_at > now
    }
}

/// The ledger key of a block (`ip#<address>`) or an aggregate (`net#<cidr>`):
/// one item per address, whichever run decides it.
pub fn pk_for(net: &IpNet, aggregate: bool) -> String {
    if aggregate {
        format!("net#{net}")
    } else {
        format!("ip#{}", net.addr())
    }
}
