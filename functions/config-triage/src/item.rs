//! What the result event says of a violation: an item keyed like the state
//! table (account, Region, rule, resource type and id), open while the
//! resource is non-compliant and not exempt, closed once it is compliant,
//! gone or exempted. Pure: it decides nothing.

use shared::envelope::Item;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::change::{Compliance, ComplianceChange};
use crate::compliance::OpenViolation;
use crate::digest::Entry;
use crate::exemption::{Exemption, Outcome};
use crate::severity::Severity;

pub const KIND: &str = "violation";

/// An open violation of the digest's listing.
pub fn listed(key: String, entry: &Entry) -> Item {
    described(Item::open(KIND, key), &entry.violation)
        .with("severity", entry.severity.as_str())
        .with("owner", entry.owner.as_deref())
        .with("name", entry.name.as_deref())
        .with("since", entry.since.and_then(rfc3339))
}

/// A listed violation an exemption covers: nobody is asked to act on it.
pub fn exempted(key: String, violation: &OpenViolation, exemption: &Exemption) -> Item {
    described(Item::closed(KIND, key), violation).with("exempted", exemption.describe())
}

/// What one compliance change says of its resource; `None` when Config
/// could not tell (insufficient data), which leaves the item as it was.
pub fn changed(
    change: &ComplianceChange,
    severity: Severity,
    owner: Option<&str>,
    outcome: &Outcome,
) -> Option<Item> {
    let item = match (change.new, outcome) {
        (Compliance::NonCompliant, Outcome::Exempt(e)) => {
            Item::closed(KIND, change.key()).with("exempted", e.describe())
        }
        (Compliance::NonCompliant, _) => Item::open(KIND, change.key())
            .with("severity", severity.as_str())
            .with("owner", owner)
            .with("since", change.at.format(&Rfc3339).ok()),
        (Compliance::Compliant | Compliance::NotApplicable, _) => {
            Item::closed(KIND, change.key()).with("status", change.new.as_str())
        }
        (Compliance::InsufficientData, _) => return None,
    };
    Some(
        item.with("rule", change.rule.as_str())
            .with("resource_type", change.resource_type.as_str())
            .with("resource_id", change.resource_id.as_str())
            .with("account", change.account.as_str())
            .with("region", change.region.as_str()),
    )
}

fn described(item: Item, v: &OpenViolation) -> Item {
    item.with("rule", v.rule.as_str())
        .with("resource_type", v.resource_type.as_str())
        .with("resource_id", v.resource_id.as_str())
        .with("account", v.account.as_str())
        .with("region", v.region.as_str())
}

fn rfc3339(secs: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()?
        .format(&Rfc3339)
        .ok()
}
