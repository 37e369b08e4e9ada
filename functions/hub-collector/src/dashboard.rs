//! The dashboard: one self-contained HTML page (being written on its own branch).

use time::OffsetDateTime;

use crate::record::{Current, DaySummary, OpenItem, Source};

pub struct Page<'a> {
    pub now: OffsetDateTime,
    pub currents: &'a [Current],
    pub items: &'a [OpenItem],
    pub silent: &'a [Source],
}

pub fn render(page: &Page<'_>, days: impl IntoIterator<Item = DaySummary>) -> String {
    let runs: u64 = days.into_iter().map(|d| d.runs).sum();
    format!(
        "<!doctype html><title>toilkit</title><p>{} sources, {} items, {} silent, {runs} runs</p>",
        page.currents.len(),
        page.items.len(),
        page.silent.len()
    )
}
