//! The dashboard: one self-contained HTML page, rendered from what the hub
//! keeps. Pure: no I/O, no clock (the caller says when "now" is).
//!
//! The page loads nothing from anywhere: no script, font, image, stylesheet
//! or link to another host. The CSS is inline, the charts are inline SVG,
//! and the only links are anchors within the page, so it can be sent as an
//! email attachment or opened offline and shows the same thing. Everything
//! that came from a product account (labels, keys, fields, reasons) is
//! escaped: a label cannot become markup.
//!
//! Every count links to the list or table that holds what it counts, in the
//! same page; long lists are cut at [`MAX_LIST_ROWS`] and say how many rows
//! they left out, so the page stays under [`PAGE_BUDGET_BYTES`] however many
//! items the accounts report.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::{self, Write as _};

use shared::envelope::Outcome;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime};

use crate::plan::category_key;
use crate::record::{Current, DaySummary, OpenItem, Source};

/// The most the page may weigh. Whether it is served from a Lambda function
/// URL (6 MB response cap) or from S3, people open it on a laptop or a phone
/// several times a day; 2 MB renders in well under a second and still holds
/// every list below at its cap (checked for 200 accounts × 7 functions).
pub const PAGE_BUDGET_BYTES: usize = 2 * 1024 * 1024;

/// Rows of one item list: enough to act on, few enough to read; the rest is
/// counted ("and N more").
pub const MAX_LIST_ROWS: usize = 200;

/// Rows (account × Region) of the last-runs table: one row is an account's
/// whole suite, so this is ~1,000 accounts before it is cut.
pub const MAX_RUN_ROWS: usize = 1_000;

/// The trends cover this many days, today included.
pub const TREND_DAYS: usize = 30;

/// Audit categories are a short fixed list in rds-audit-notifier; a hub fed
/// something else still keeps this many and folds the rest into "other", so
/// memory stays flat whatever the summaries say.
const MAX_CATEGORIES: usize = 32;

/// What the page shows.
pub struct Page<'a> {
    pub now: OffsetDateTime,
    pub currents: &'a [Current],
    pub items: &'a [OpenItem],
    /// Sources the heartbeat judged silent (no report for longer than their schedule plus a margin).
    pub silent: &'a [Source],
}

/// The page. `days`: the last 30 days of [`DaySummary`], in any order,
/// streamed: each is added into one of 30 fixed day buckets (and a category
/// map of at most 32 entries) as it passes and dropped, so memory stays flat
/// however many summaries the table holds. A summary dated outside the 30
/// days (today in `page.now`'s date included) is skipped.
pub fn render(page: &Page<'_>, days: impl IntoIterator<Item = DaySummary>) -> String {
    let history = History::from_days(page.now.date(), days);
    let view = View::new(page);
    let mut out = String::with_capacity(256 * 1024);
    head(&mut out, page.now);
    summary(&mut out, &view, &history);
    runs(&mut out, &view);
    violations(&mut out, &view);
    blocked(&mut out, &view, &history);
    windows(&mut out, &view);
    log_retention(&mut out, &view);
    audit(&mut out, &view, &history);
    silent(&mut out, &view);
    other_items(&mut out, &view);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// Writing to a `String` cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

// ---------------------------------------------------------------- history

/// One day of the trends, summed over every source.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Day {
    /// A summary for this day arrived: zero is then a count, not a gap.
    seen: bool,
    blocked: u64,
    audit: u64,
}

/// The 30 days, aggregated as the summaries stream past.
#[derive(Debug, PartialEq)]
struct History {
    /// The first day of the window.
    first: Date,
    days: [Day; TREND_DAYS],
    /// Audit alerts of the 30 days by category.
    audit_by_category: BTreeMap<String, u64>,
}

impl History {
    fn from_days(today: Date, days: impl IntoIterator<Item = DaySummary>) -> Self {
        let first = today - Duration::days(TREND_DAYS as i64 - 1);
        let mut history = Self {
            first,
            days: [Day::default(); TREND_DAYS],
            audit_by_category: BTreeMap::new(),
        };
        for summary in days {
            let offset = (summary.date - first).whole_days();
            let Some(day) = usize::try_from(offset)
                .ok()
                .and_then(|i| history.days.get_mut(i))
            else {
                continue;
            };
            day.seen = true;
            day.blocked += summary
                .open_by_kind
                .get("blocked_address")
                .copied()
                .unwrap_or(0);
            day.audit += summary.records.get("audit_alert").copied().unwrap_or(0);
            for (record, count) in &summary.records {
                let Some(category) = record.strip_prefix("audit_alert/") else {
                    continue;
                };
                let known = history.audit_by_category.contains_key(category);
                let category = if known || history.audit_by_category.len() < MAX_CATEGORIES - 1 {
                    category
                } else {
                    "other"
                };
                *history
                    .audit_by_category
                    .entry(category.to_owned())
                    .or_default() += count;
            }
        }
        history
    }

    fn date(&self, i: usize) -> Date {
        self.first + Duration::days(i as i64)
    }
}

// ---------------------------------------------------------------- the view

const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "other"];
const AGES: [&str; 3] = ["&lt; 1 d", "1–7 d", "&gt; 7 d"];
const SECTION_KINDS: [&str; 6] = [
    "blocked_address",
    "violation",
    "window",
    "listener",
    "log_group",
    "audit_alert",
];

/// One row of the last-runs table: an account in one Region.
struct RunRow<'a> {
    /// `row-N`, its anchor.
    id: usize,
    account: &'a str,
    region: &'a str,
    by_function: BTreeMap<&'a str, &'a Current>,
}

/// What the sections show, sorted once so the page does not depend on the
/// order anything arrived in.
struct View<'a> {
    now: OffsetDateTime,
    functions: Vec<&'a str>,
    /// Label, then its rows (by account and Region).
    products: Vec<(Option<&'a str>, Vec<RunRow<'a>>)>,
    /// The row id of each account and Region (`row-N`).
    row_ids: HashMap<(&'a str, &'a str), usize>,
    failed: Vec<&'a Current>,
    dry_runs: usize,
    accounts: usize,
    /// By severity (as [`SEVERITIES`]), oldest first.
    violations: [Vec<(&'a OpenItem, i64)>; 5],
    blocked_now: Vec<&'a OpenItem>,
    blocked_expired: usize,
    windows_on: Vec<&'a OpenItem>,
    windows_upcoming: Vec<&'a OpenItem>,
    listeners: Vec<&'a OpenItem>,
    log_groups: Vec<&'a OpenItem>,
    audit_alerts: Vec<&'a OpenItem>,
    silent: Vec<(&'a Source, Option<&'a Current>)>,
    silent_set: HashSet<&'a Source>,
    other: Vec<&'a OpenItem>,
}

impl<'a> View<'a> {
    fn new(page: &Page<'a>) -> Self {
        let now = page.now;
        let mut functions = BTreeSet::new();
        let mut grouped: BTreeMap<(Option<&str>, &str, &str), BTreeMap<&str, &Current>> =
            BTreeMap::new();
        for current in page.currents {
            let source = &current.source;
            functions.insert(source.function.as_str());
            grouped
                .entry((
                    current.label.as_deref(),
                    source.account.as_str(),
                    source.region.as_str(),
                ))
                .or_default()
                .insert(source.function.as_str(), current);
        }
        let mut products: Vec<(Option<&str>, Vec<RunRow>)> = Vec::new();
        for ((label, account, region), by_function) in grouped {
            if products.last().is_none_or(|(l, _)| *l != label) {
                products.push((label, Vec::new()));
            }
            if let Some((_, rows)) = products.last_mut() {
                rows.push(RunRow {
                    id: 0,
                    account,
                    region,
                    by_function,
                });
            }
        }
        // "no label" last: named products are what people look for first.
        products.sort_by_key(|(label, _)| (label.is_none(), *label));
        // Numbered in the order shown, so the rows a cut leaves out are the
        // last numbers; an account whose functions carry two labels has two
        // rows, and links go to the first.
        let mut row_ids = HashMap::new();
        for (id, row) in products.iter_mut().flat_map(|(_, rows)| rows).enumerate() {
            row.id = id;
            row_ids.entry((row.account, row.region)).or_insert(id);
        }
        let mut failed: Vec<&Current> = page
            .currents
            .iter()
            .filter(|c| c.outcome == Outcome::Failed)
            .collect();
        failed.sort_by(|a, b| {
            b.failures_in_a_row
                .cmp(&a.failures_in_a_row)
                .then(b.ended_at.cmp(&a.ended_at))
                .then(a.source.cmp(&b.source))
        });
        let accounts = page
            .currents
            .iter()
            .map(|c| c.source.account.as_str())
            .collect::<BTreeSet<_>>()
            .len();

        let mut items: Vec<&OpenItem> = page.items.iter().collect();
        items.sort_by(|a, b| {
            (&a.kind, &a.source, &a.key, a.first_seen).cmp(&(
                &b.kind,
                &b.source,
                &b.key,
                b.first_seen,
            ))
        });
        let of_kind = |kind: &'static str| items.iter().copied().filter(move |i| i.kind == kind);

        let mut violations: [Vec<(&OpenItem, i64)>; 5] = Default::default();
        for item in of_kind("violation") {
            let since = time_field(item, "since").unwrap_or(item.first_seen);
            let severity = str_field(item, "severity")
                .unwrap_or("")
                .to_ascii_lowercase();
            let i = SEVERITIES[..4]
                .iter()
                .position(|s| *s == severity)
                .unwrap_or(4);
            violations[i].push((item, (now - since).whole_seconds()));
        }
        for list in &mut violations {
            list.sort_by_key(|(_, age)| std::cmp::Reverse(*age));
        }

        let (mut blocked_now, expired): (Vec<_>, Vec<_>) = of_kind("blocked_address")
            .partition(|i| time_field(i, "expires_at").is_none_or(|t| t > now));
        blocked_now.sort_by_key(|i| (&i.source.account, time_field(i, "expires_at")));

        let (mut windows_on, mut windows_upcoming): (Vec<_>, Vec<_>) =
            of_kind("window").partition(|i| window_is_on(i, now));
        windows_on.sort_by_key(|i| (time_field(i, "end_at"), &i.source));
        windows_upcoming.sort_by_key(|i| (time_field(i, "start_at"), &i.source));

        let mut audit_alerts: Vec<&OpenItem> = of_kind("audit_alert").collect();
        audit_alerts
            .sort_by_key(|i| std::cmp::Reverse(time_field(i, "time").unwrap_or(i.last_seen)));

        let last_report: HashMap<&Source, &Current> =
            page.currents.iter().map(|c| (&c.source, c)).collect();
        let mut silent: Vec<(&Source, Option<&Current>)> = page
            .silent
            .iter()
            .map(|s| (s, last_report.get(s).copied()))
            .collect();
        silent.sort_by_key(|(s, _)| *s);

        Self {
            now,
            functions: functions.into_iter().collect(),
            products,
            row_ids,
            dry_runs: page.currents.iter().filter(|c| c.dry_run).count(),
            failed,
            accounts,
            violations,
            blocked_now,
            blocked_expired: expired.len(),
            windows_on,
            windows_upcoming,
            listeners: of_kind("listener").collect(),
            log_groups: of_kind("log_group").collect(),
            audit_alerts,
            silent_set: page.silent.iter().collect(),
            silent,
            other: items
                .iter()
                .copied()
                .filter(|i| !SECTION_KINDS.contains(&i.kind.as_str()))
                .collect(),
        }
    }

    fn violations_open(&self) -> usize {
        self.violations.iter().map(Vec::len).sum()
    }

    fn row_link(&self, account: &str, region: &str) -> Option<String> {
        self.row_ids
            .get(&(account, region))
            .filter(|id| **id < MAX_RUN_ROWS)
            .map(|id| format!("#row-{id}"))
    }
}

/// A window is on from its start to its end, and stays on while its end
/// failed (`failed_to_end`: maintenance may still be up).
fn window_is_on(item: &OpenItem, now: OffsetDateTime) -> bool {
    match str_field(item, "phase") {
        Some("on" | "ending" | "failed_to_end") => true,
        Some("upcoming" | "scheduled") => false,
        _ => time_field(item, "start_at").is_some_and(|s| s <= now),
    }
}

// ---------------------------------------------------------------- sections

fn head(out: &mut String, now: OffsetDateTime) {
    w!(
        out,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>toilkit hub</title>
<style>{STYLE}</style>
</head>
<body>
<header><h1>toilkit hub</h1><p>Rendered <time datetime="{iso}">{rendered}</time>. Times are UTC; hover a relative time for the exact one.</p></header>
<main>
"#,
        rendered = esc(&absolute(now)),
        iso = esc(&iso(now)),
    );
}

const STYLE: &str = "
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d2329;background:#f6f7f9}
header{background:#1d2329;color:#fff;padding:12px 24px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#c9d1d9}
main{padding:8px 24px 48px;max-width:1400px}
section{background:#fff;border:1px solid #d8dde3;border-radius:6px;padding:8px 16px 16px;margin:16px 0}
h2{font-size:17px;margin:8px 0}h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #e1e5ea;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}td.num{text-align:right}
a{color:#0b5cad}
.cards{display:flex;flex-wrap:wrap;gap:10px;padding:0;list-style:none}
.cards li{border:1px solid #d8dde3;border-radius:6px;padding:8px 12px;min-width:130px;background:#fff}
.cards a{font-size:24px;font-weight:700;text-decoration:none;display:block}
.cards .bad a{color:#b3261e}
.ok{color:#1a7f37}.failed{background:#fde7e9;color:#b3261e;font-weight:600}.stopped{color:#9a6700}.quiet{background:#f3f4f6;color:#6a737d}
.tag{display:inline-block;font-size:11px;border-radius:3px;padding:0 4px;margin-left:4px;background:#e7ecf2;color:#33404d;font-weight:400}
.dry{background:#fff3c4;color:#6a5300}.tag.silent{background:#fde7e9;color:#b3261e;text-decoration:none}
.muted{color:#6a737d}.more{font-style:italic;color:#6a737d}
time{white-space:nowrap}
svg{background:#fbfcfd;border:1px solid #e1e5ea}
.bar{fill:#2f6fb3}.gap{fill:#d8dde3}
";

fn summary(out: &mut String, view: &View, history: &History) {
    let sources: usize = view
        .products
        .iter()
        .flat_map(|(_, rows)| rows)
        .map(|r| r.by_function.len())
        .sum();
    let audit_30d: u64 = history.days.iter().map(|d| d.audit).sum();
    let cards: [(&str, &str, String, &str, bool); 10] = [
        (
            "accounts",
            "#runs",
            view.accounts.to_string(),
            "accounts reporting",
            false,
        ),
        (
            "sources",
            "#runs",
            sources.to_string(),
            "functions reporting",
            false,
        ),
        (
            "failed",
            "#failed-runs",
            view.failed.len().to_string(),
            "failed last run",
            !view.failed.is_empty(),
        ),
        (
            "violations",
            "#violations",
            view.violations_open().to_string(),
            "open violations",
            false,
        ),
        (
            "critical",
            "#violations-critical",
            view.violations[0].len().to_string(),
            "critical violations",
            !view.violations[0].is_empty(),
        ),
        (
            "blocked",
            "#blocked-list",
            view.blocked_now.len().to_string(),
            "addresses blocked now",
            false,
        ),
        (
            "windows-on",
            "#windows-on",
            view.windows_on.len().to_string(),
            "maintenance windows on",
            false,
        ),
        (
            "log-groups",
            "#log-groups",
            view.log_groups.len().to_string(),
            "log groups with retention set",
            false,
        ),
        (
            "audit",
            "#audit",
            audit_30d.to_string(),
            "audit alerts, 30 days",
            false,
        ),
        (
            "silent",
            "#silent",
            view.silent.len().to_string(),
            "sources silent",
            !view.silent.is_empty(),
        ),
    ];
    out.push_str("<section id=\"summary\"><h2>Summary</h2><ul class=\"cards\">");
    for (id, href, number, what, bad) in cards {
        w!(
            out,
            "<li{}><a id=\"sum-{id}\" href=\"{href}\">{number}</a>{what}</li>",
            if bad { " class=\"bad\"" } else { "" }
        );
    }
    out.push_str("</ul></section>\n");
}

fn runs(out: &mut String, view: &View) {
    out.push_str("<section id=\"runs\"><h2>Last runs by product and account</h2>");
    w!(
        out,
        "<p>Each function's last report in each account and Region. <a href=\"#failed-runs\">{}</a> failed, {} dry run(s) (marked <span class=\"tag dry\">dry run</span>: planned only, changed nothing).</p>",
        view.failed.len(),
        view.dry_runs
    );
    if view.products.is_empty() {
        out.push_str("<p class=\"muted\">No reports yet.</p>");
    }
    let mut row = 0;
    let total_rows: usize = view.products.iter().map(|(_, rows)| rows.len()).sum();
    for (i, (label, rows)) in view.products.iter().enumerate() {
        if row >= MAX_RUN_ROWS {
            break;
        }
        w!(
            out,
            "<h3 id=\"product-{i}\">{} <span class=\"muted\">({} account(s))</span></h3>",
            label_html(*label),
            rows.iter()
                .map(|r| r.account)
                .collect::<BTreeSet<_>>()
                .len()
        );
        out.push_str("<table><thead><tr><th>Account</th><th>Region</th>");
        for function in &view.functions {
            w!(out, "<th>{}</th>", esc(function));
        }
        out.push_str("</tr></thead><tbody>");
        for r in rows {
            if row >= MAX_RUN_ROWS {
                break;
            }
            w!(
                out,
                "<tr id=\"row-{}\"><td>{}</td><td>{}</td>",
                r.id,
                esc(r.account),
                esc(r.region)
            );
            for function in &view.functions {
                match r.by_function.get(function) {
                    Some(c) => run_cell(out, view, c),
                    None => out.push_str("<td class=\"muted\">—</td>"),
                }
            }
            out.push_str("</tr>");
            row += 1;
        }
        out.push_str("</tbody></table>");
    }
    more(out, row, total_rows, "account and Region rows");

    out.push_str("<h3 id=\"failed-runs\">Failed last runs</h3>");
    if view.failed.is_empty() {
        out.push_str("<p class=\"ok\">No function's last run failed.</p>");
    } else {
        out.push_str("<table><thead><tr><th>Product</th><th>Account</th><th>Region</th><th>Function</th><th>When</th><th>Failed in a row</th><th>Why</th></tr></thead><tbody>");
        for c in view.failed.iter().take(MAX_LIST_ROWS) {
            w!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                label_html(c.label.as_deref()),
                account_html(view, &c.source.account, &c.source.region),
                esc(&c.source.region),
                esc(&c.source.function),
                when(view.now, c.ended_at),
                c.failures_in_a_row,
                esc(c.reason.as_deref().unwrap_or("")),
            );
        }
        out.push_str("</tbody></table>");
        more(
            out,
            view.failed.len().min(MAX_LIST_ROWS),
            view.failed.len(),
            "failed runs",
        );
    }
    out.push_str("</section>\n");
}

fn run_cell(out: &mut String, view: &View, c: &Current) {
    let silent = view.silent_set.contains(&c.source);
    let (class, text) = match c.outcome {
        Outcome::Failed => ("failed", "FAILED"),
        // Its last report was fine, but that was long ago: not green.
        _ if silent => ("quiet", outcome_text(c.outcome)),
        Outcome::Ok => ("ok", "ok"),
        Outcome::StoppedEarly => ("stopped", "stopped early"),
    };
    w!(out, "<td class=\"{class}\"");
    if let Some(reason) = &c.reason {
        w!(out, " title=\"{}\"", esc(reason));
    }
    out.push('>');
    if c.outcome == Outcome::Failed {
        // The failures in a row are part of the link: the list says why.
        w!(out, "<a href=\"#failed-runs\">{text}");
        if c.failures_in_a_row > 1 {
            w!(out, " ×{}", c.failures_in_a_row);
        }
        out.push_str("</a>");
    } else {
        out.push_str(text);
    }
    if c.dry_run {
        out.push_str("<span class=\"tag dry\">dry run</span>");
    }
    if c.unknown_schema {
        w!(
            out,
            "<span class=\"tag\">schema v{}</span>",
            c.schema_version
        );
    }
    if silent {
        out.push_str("<a class=\"tag silent\" href=\"#silent\">silent since</a>");
    }
    w!(out, "<br>{}</td>", when(view.now, c.ended_at));
}

fn violations(out: &mut String, view: &View) {
    out.push_str("<section id=\"violations\"><h2>Open Config violations</h2>");
    if view.violations_open() == 0 {
        out.push_str("<p class=\"ok\">No open violation.</p></section>\n");
        return;
    }
    out.push_str("<p>By severity and by how long each has been open (its <code>since</code>, else when the hub first saw it).</p>");
    out.push_str("<table><thead><tr><th>Severity</th><th>Open</th>");
    for age in AGES {
        w!(out, "<th>{age}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for (severity, list) in SEVERITIES.iter().zip(&view.violations) {
        if list.is_empty() {
            continue;
        }
        let mut by_age = [0usize; 3];
        for (_, age) in list {
            by_age[age_bucket(*age)] += 1;
        }
        w!(
            out,
            "<tr><th>{severity}</th><td class=\"num\"><a id=\"violations-count-{severity}\" href=\"#violations-{severity}\">{}</a></td>",
            list.len()
        );
        for (bucket, n) in by_age.iter().enumerate() {
            w!(
                out,
                "<td class=\"num\"><a id=\"violations-{severity}-age-{bucket}\" href=\"#violations-{severity}\">{n}</a></td>"
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    for (severity, list) in SEVERITIES.iter().zip(&view.violations) {
        if list.is_empty() {
            continue;
        }
        w!(
            out,
            "<h3 id=\"violations-{severity}\">{severity} ({}), oldest first</h3>",
            list.len()
        );
        out.push_str("<table><thead><tr><th>Account</th><th>Region</th><th>Rule</th><th>Resource</th><th>Owner</th><th>Open since</th><th>Product</th></tr></thead><tbody>");
        for (item, age) in list.iter().take(MAX_LIST_ROWS) {
            let since = time_field(item, "since").unwrap_or(item.first_seen);
            let resource = str_field(item, "resource_id").unwrap_or(&item.key);
            w!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} <span class=\"muted\">({})</span></td><td>{}</td></tr>",
                account_html(view, &item.source.account, &item.source.region),
                esc(&item.source.region),
                esc(&field_text(item, "rule")),
                esc(resource),
                esc(&field_text(item, "owner")),
                when(view.now, since),
                AGES[age_bucket(*age)],
                label_html(item.label.as_deref()),
            );
        }
        out.push_str("</tbody></table>");
        more(out, list.len().min(MAX_LIST_ROWS), list.len(), "violations");
    }
    out.push_str("</section>\n");
}

fn age_bucket(seconds: i64) -> usize {
    match seconds {
        s if s < 86_400 => 0,
        s if s <= 7 * 86_400 => 1,
        _ => 2,
    }
}

fn blocked(out: &mut String, view: &View, history: &History) {
    out.push_str("<section id=\"blocked\"><h2>Addresses blocked now</h2>");
    let accounts = view
        .blocked_now
        .iter()
        .map(|i| i.source.account.as_str())
        .collect::<BTreeSet<_>>()
        .len();
    w!(
        out,
        "<p><a id=\"blocked-count\" href=\"#blocked-list\">{}</a> address(es) blocked in <a href=\"#blocked-list\">{accounts}</a> account(s).",
        view.blocked_now.len()
    );
    if view.blocked_expired > 0 {
        w!(
            out,
            " {} more are past their expiry and not listed: the next run of their waf-ip-blocker removes them.",
            view.blocked_expired
        );
    }
    out.push_str("</p>");
    out.push_str("<h3 id=\"blocked-trend\">Blocked addresses, last 30 days</h3>");
    chart(
        out,
        history,
        |d| d.blocked,
        "addresses blocked at the day's end, summed over accounts",
    );
    out.push_str("<h3 id=\"blocked-list\">Blocked addresses, by account and expiry</h3>");
    if view.blocked_now.is_empty() {
        out.push_str("<p class=\"muted\">None.</p>");
    } else {
        out.push_str("<table><thead><tr><th>Account</th><th>Region</th><th>Address</th><th>Expires</th><th>Hits</th><th>Why</th><th>Blocked since</th></tr></thead><tbody>");
        for item in view.blocked_now.iter().take(MAX_LIST_ROWS) {
            let expires = time_field(item, "expires_at")
                .map(|t| when(view.now, t))
                .unwrap_or_else(|| "no expiry".into());
            let since = time_field(item, "first_blocked_at").unwrap_or(item.first_seen);
            w!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{expires}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                account_html(view, &item.source.account, &item.source.region),
                esc(&item.source.region),
                esc(&item.key),
                esc(&field_text(item, "hits")),
                esc(&field_text(item, "reason")),
                when(view.now, since),
            );
        }
        out.push_str("</tbody></table>");
        more(
            out,
            view.blocked_now.len().min(MAX_LIST_ROWS),
            view.blocked_now.len(),
            "blocked addresses",
        );
    }
    out.push_str("</section>\n");
}

fn windows(out: &mut String, view: &View) {
    out.push_str("<section id=\"windows\"><h2>Maintenance windows on or upcoming</h2>");
    w!(
        out,
        "<p><a href=\"#windows-on\">{}</a> on now, <a href=\"#windows-upcoming\">{}</a> upcoming, <a href=\"#listeners\">{}</a> listener(s) in maintenance.</p>",
        view.windows_on.len(),
        view.windows_upcoming.len(),
        view.listeners.len()
    );
    for (id, title, list) in [
        ("windows-on", "On now", &view.windows_on),
        ("windows-upcoming", "Upcoming", &view.windows_upcoming),
    ] {
        w!(out, "<h3 id=\"{id}\">{title}</h3>");
        if list.is_empty() {
            out.push_str("<p class=\"muted\">None.</p>");
            continue;
        }
        out.push_str("<table><thead><tr><th>Account</th><th>Region</th><th>Window</th><th>Phase</th><th>Starts</th><th>Ends</th><th>Product</th></tr></thead><tbody>");
        for item in list.iter().take(MAX_LIST_ROWS) {
            w!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                account_html(view, &item.source.account, &item.source.region),
                esc(&item.source.region),
                esc(&item.key),
                esc(&field_text(item, "phase")),
                optional_when(view.now, time_field(item, "start_at")),
                optional_when(view.now, time_field(item, "end_at")),
                label_html(item.label.as_deref()),
            );
        }
        out.push_str("</tbody></table>");
        more(out, list.len().min(MAX_LIST_ROWS), list.len(), "windows");
    }
    out.push_str("<h3 id=\"listeners\">Listeners in maintenance</h3>");
    if view.listeners.is_empty() {
        out.push_str("<p class=\"muted\">None.</p>");
    } else {
        out.push_str("<table><thead><tr><th>Account</th><th>Region</th><th>Listener</th><th>Window</th><th>Since</th></tr></thead><tbody>");
        for item in view.listeners.iter().take(MAX_LIST_ROWS) {
            let since = time_field(item, "since").unwrap_or(item.first_seen);
            w!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                account_html(view, &item.source.account, &item.source.region),
                esc(&item.source.region),
                esc(&item.key),
                esc(&field_text(item, "window_id")),
                when(view.now, since),
            );
        }
        out.push_str("</tbody></table>");
        more(
            out,
            view.listeners.len().min(MAX_LIST_ROWS),
            view.listeners.len(),
            "listeners",
        );
    }
    out.push_str("</section>\n");
}

fn log_retention(out: &mut String, view: &View) {
    out.push_str("<section id=\"log-retention\"><h2>Log retention coverage</h2>");
    // Per account and Region: the groups whose retention toilkit set, by
    // retention, and the last sweep's counters.
    let mut per_account: BTreeMap<(&str, &str), BTreeMap<String, usize>> = BTreeMap::new();
    for item in &view.log_groups {
        *per_account
            .entry((&item.source.account, &item.source.region))
            .or_default()
            .entry(field_text(item, "retention_days"))
            .or_default() += 1;
    }
    let sweeps: BTreeMap<(&str, &str), &Current> = view
        .products
        .iter()
        .flat_map(|(_, rows)| rows)
        .filter_map(|r| {
            r.by_function
                .get("log-retention")
                .map(|c| ((r.account, r.region), *c))
        })
        .collect();
    let keys: BTreeSet<(&str, &str)> = per_account.keys().chain(sweeps.keys()).copied().collect();
    w!(
        out,
        "<p><a id=\"log-groups-count\" href=\"#log-groups\">{}</a> log group(s) whose retention toilkit set, in <a href=\"#log-accounts\">{}</a> account/Region(s) with a log-retention sweep or group.</p>",
        view.log_groups.len(),
        keys.len()
    );
    if keys.is_empty() {
        out.push_str("<p class=\"muted\">No log-retention report yet.</p></section>\n");
        return;
    }
    out.push_str("<table id=\"log-accounts\"><thead><tr><th>Account</th><th>Region</th><th>Groups set</th><th>By retention (days)</th><th>Last sweep</th><th>Its counters</th></tr></thead><tbody>");
    for key in keys.iter().take(MAX_LIST_ROWS) {
        let by_days = per_account.get(key);
        let set: usize = by_days.map(|m| m.values().sum()).unwrap_or(0);
        w!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\"><a href=\"#log-groups\">{set}</a></td><td>",
            account_html(view, key.0, key.1),
            esc(key.1)
        );
        for (days, n) in by_days.into_iter().flatten() {
            let days = if days.is_empty() { "?" } else { days };
            w!(out, "{}: <a href=\"#log-groups\">{n}</a> ", esc(days));
        }
        out.push_str("</td>");
        match sweeps.get(key) {
            Some(c) => {
                w!(out, "<td>{}</td><td>", when(view.now, c.ended_at));
                // Plain numbers: no section of the page lists a sweep's counters.
                for (name, value) in &c.counters {
                    w!(out, "{} {value} ", esc(name));
                }
                out.push_str("</td>");
            }
            None => out.push_str("<td class=\"muted\">no report</td><td></td>"),
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    more(out, keys.len().min(MAX_LIST_ROWS), keys.len(), "accounts");
    out.push_str("<h3 id=\"log-groups\">Log groups whose retention toilkit set</h3>");
    if view.log_groups.is_empty() {
        out.push_str("<p class=\"muted\">None.</p>");
    } else {
        out.push_str("<table><thead><tr><th>Account</th><th>Log group</th><th>Retention (days)</th><th>Before</th><th>Change</th><th>Last seen</th></tr></thead><tbody>");
        for item in view.log_groups.iter().take(MAX_LIST_ROWS) {
            w!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                account_html(view, &item.source.account, &item.source.region),
                esc(&item.key),
                esc(&field_text(item, "retention_days")),
                esc(&field_text(item, "retention_before")),
                esc(&field_text(item, "change")),
                when(view.now, item.last_seen),
            );
        }
        out.push_str("</tbody></table>");
        more(
            out,
            view.log_groups.len().min(MAX_LIST_ROWS),
            view.log_groups.len(),
            "log groups",
        );
    }
    out.push_str("</section>\n");
}

fn audit(out: &mut String, view: &View, history: &History) {
    out.push_str("<section id=\"audit\"><h2>Audit alerts by category</h2>");
    // The rows the day summaries count under (`plan::category_key`), so an
    // alert kept and the same alert summed fall in one row.
    let mut open_by_category: BTreeMap<String, usize> = BTreeMap::new();
    for item in &view.audit_alerts {
        let mut keys: BTreeSet<String> = categories(item).map(category_key).collect();
        if keys.is_empty() {
            keys.insert("other".to_owned());
        }
        for key in keys {
            *open_by_category.entry(key).or_default() += 1;
        }
    }
    let names: BTreeSet<&str> = history
        .audit_by_category
        .keys()
        .chain(open_by_category.keys())
        .map(String::as_str)
        .collect();
    if names.is_empty() {
        out.push_str("<p class=\"muted\">No audit alert in the last 30 days.</p>");
    } else {
        out.push_str("<p>Alerts sent in the last 30 days (from the day summaries; an alert of several categories counts in each), and the alerts the hub still keeps.</p>");
        out.push_str("<table><thead><tr><th>Category</th><th>Last 30 days</th><th>Alerts kept</th></tr></thead><tbody>");
        for (i, name) in names.iter().enumerate() {
            w!(
                out,
                "<tr><td>{}</td><td class=\"num\"><a id=\"audit-30d-{i}\" href=\"#audit-trend\">{}</a></td><td class=\"num\"><a id=\"audit-open-{i}\" href=\"#audit-alerts\">{}</a></td></tr>",
                esc(name),
                history.audit_by_category.get(*name).copied().unwrap_or(0),
                open_by_category.get(*name).copied().unwrap_or(0),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("<h3 id=\"audit-trend\">Audit alerts per day, last 30 days</h3>");
    chart(
        out,
        history,
        |d| d.audit,
        "audit alerts sent, summed over accounts",
    );
    out.push_str("<h3 id=\"audit-alerts\">Alerts kept, newest first</h3>");
    if view.audit_alerts.is_empty() {
        out.push_str("<p class=\"muted\">None.</p>");
    } else {
        out.push_str("<table><thead><tr><th>Account</th><th>When</th><th>Categories</th><th>User</th><th>Database</th><th>Operation</th><th>Product</th></tr></thead><tbody>");
        for item in view.audit_alerts.iter().take(MAX_LIST_ROWS) {
            let at = time_field(item, "time").unwrap_or(item.last_seen);
            w!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                account_html(view, &item.source.account, &item.source.region),
                when(view.now, at),
                esc(&categories(item).collect::<Vec<_>>().join(", ")),
                esc(&field_text(item, "user")),
                esc(&field_text(item, "database")),
                esc(&field_text(item, "operation")),
                label_html(item.label.as_deref()),
            );
        }
        out.push_str("</tbody></table>");
        more(
            out,
            view.audit_alerts.len().min(MAX_LIST_ROWS),
            view.audit_alerts.len(),
            "audit alerts",
        );
    }
    out.push_str("</section>\n");
}

fn categories(item: &OpenItem) -> impl Iterator<Item = &str> {
    item.fields
        .get("categories")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
}

fn silent(out: &mut String, view: &View) {
    out.push_str("<section id=\"silent\"><h2>Sources gone silent</h2>");
    if view.silent.is_empty() {
        out.push_str("<p class=\"ok\">Every source reported within its schedule.</p></section>\n");
        return;
    }
    w!(
        out,
        "<p><a href=\"#silent-list\">{}</a> function(s) have not reported for longer than their schedule plus a margin: not deployed any more, failing to start (a bad configuration publishes nothing), or their events do not reach the hub.</p>",
        view.silent.len()
    );
    out.push_str("<table id=\"silent-list\"><thead><tr><th>Account</th><th>Region</th><th>Function</th><th>Last report</th><th>Its outcome</th></tr></thead><tbody>");
    for (source, last) in view.silent.iter().take(MAX_LIST_ROWS) {
        let (at, outcome) = match last {
            Some(c) => (when(view.now, c.ended_at), outcome_text(c.outcome)),
            None => ("<span class=\"muted\">none kept</span>".to_owned(), ""),
        };
        w!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{at}</td><td>{outcome}</td></tr>",
            account_html(view, &source.account, &source.region),
            esc(&source.region),
            esc(&source.function),
        );
    }
    out.push_str("</tbody></table>");
    more(
        out,
        view.silent.len().min(MAX_LIST_ROWS),
        view.silent.len(),
        "sources",
    );
    out.push_str("</section>\n");
}

fn other_items(out: &mut String, view: &View) {
    out.push_str("<section id=\"other\"><h2>Other open items</h2>");
    if view.other.is_empty() {
        out.push_str("<p class=\"muted\">None.</p></section>\n");
        return;
    }
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for item in &view.other {
        *by_kind.entry(&item.kind).or_default() += 1;
    }
    out.push_str("<p>");
    for (kind, n) in &by_kind {
        w!(out, "{}: <a href=\"#other-list\">{n}</a>. ", esc(kind));
    }
    out.push_str("</p><table id=\"other-list\"><thead><tr><th>Kind</th><th>Account</th><th>Region</th><th>Function</th><th>Key</th><th>First seen</th><th>Last seen</th></tr></thead><tbody>");
    for item in view.other.iter().take(MAX_LIST_ROWS) {
        w!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&item.kind),
            account_html(view, &item.source.account, &item.source.region),
            esc(&item.source.region),
            esc(&item.source.function),
            esc(&item.key),
            when(view.now, item.first_seen),
            when(view.now, item.last_seen),
        );
    }
    out.push_str("</tbody></table>");
    more(
        out,
        view.other.len().min(MAX_LIST_ROWS),
        view.other.len(),
        "items",
    );
    out.push_str("</section>\n");
}

// ---------------------------------------------------------------- parts

/// A bar per day; a day no summary arrived for is a grey stub, so a gap in
/// the history is not mistaken for a quiet day.
fn chart(out: &mut String, history: &History, value: impl Fn(&Day) -> u64, what: &str) {
    const W: usize = 720;
    const H: usize = 140;
    const TOP: usize = 16;
    const BOTTOM: usize = 20;
    let step = W / TREND_DAYS;
    let max = history.days.iter().map(&value).max().unwrap_or(0).max(1);
    w!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\"><title>{what}</title>"
    );
    let plot = (H - TOP - BOTTOM) as u64;
    for (i, day) in history.days.iter().enumerate() {
        let x = i * step + 2;
        let v = value(day);
        let date = history.date(i);
        if !day.seen {
            w!(
                out,
                "<rect class=\"gap\" x=\"{x}\" y=\"{}\" width=\"{}\" height=\"2\"><title>{date}: no summary</title></rect>",
                H - BOTTOM - 2,
                step - 4
            );
            continue;
        }
        let h = (v * plot).div_ceil(max);
        w!(
            out,
            "<rect class=\"bar\" x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{h}\"><title>{date}: {v}</title></rect>",
            H as u64 - BOTTOM as u64 - h,
            step - 4
        );
    }
    w!(
        out,
        "<text x=\"2\" y=\"12\" font-size=\"11\">max {max}</text><text x=\"2\" y=\"{}\" font-size=\"11\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{}</text></svg>",
        H - 5,
        history.first,
        W - 2,
        H - 5,
        history.date(TREND_DAYS - 1),
    );
    w!(
        out,
        "<p class=\"muted\">Per day: {what}. Hover a bar for its figure; a grey stub is a day with no summary.</p>"
    );
}

/// "and N more", said on the page whenever a list was cut.
fn more(out: &mut String, shown: usize, total: usize, what: &str) {
    if total > shown {
        w!(
            out,
            "<p class=\"more\">… and {} more {what} (only the first {shown} are listed, to keep the page readable).</p>",
            total - shown
        );
    }
}

fn label_html(label: Option<&str>) -> String {
    match label {
        Some(label) => esc(label).to_string(),
        None => "<i class=\"muted\">no label</i>".to_owned(),
    }
}

/// The account, linked to its row of the last-runs table when it has one.
fn account_html(view: &View, account: &str, region: &str) -> String {
    match view.row_link(account, region) {
        Some(href) => format!("<a href=\"{href}\">{}</a>", esc(account)),
        None => esc(account).to_string(),
    }
}

fn outcome_text(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::StoppedEarly => "stopped early",
        Outcome::Failed => "failed",
    }
}

fn str_field<'i>(item: &'i OpenItem, name: &str) -> Option<&'i str> {
    item.fields.get(name).and_then(|v| v.as_str())
}

fn time_field(item: &OpenItem, name: &str) -> Option<OffsetDateTime> {
    str_field(item, name).and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

/// A field as a person reads it: a string as it is, anything else as JSON,
/// nothing when absent or null.
fn field_text(item: &OpenItem, name: &str) -> String {
    match item.fields.get(name) {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(value) => value.to_string(),
    }
}

/// A time as people read it, on the page and in Slack: to the minute, in UTC.
pub(crate) fn absolute(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
}

fn iso(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// When, relative to the page ("3 h ago", "in 2 d"), the exact time on hover.
fn when(now: OffsetDateTime, t: OffsetDateTime) -> String {
    let seconds = (now - t).whole_seconds();
    let span = seconds.unsigned_abs();
    let amount = match span {
        s if s < 60 => {
            return format!(
                "<time datetime=\"{}\" title=\"{}\">just now</time>",
                iso(t),
                absolute(t)
            );
        }
        s if s < 3_600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3_600),
        s => format!("{} d", s / 86_400),
    };
    let relative = if seconds >= 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    };
    format!(
        "<time datetime=\"{}\" title=\"{}\">{relative}</time>",
        iso(t),
        absolute(t)
    )
}

fn optional_when(now: OffsetDateTime, t: Option<OffsetDateTime>) -> String {
    t.map(|t| when(now, t))
        .unwrap_or_else(|| "<span class=\"muted\">—</span>".to_owned())
}

/// Text made safe for HTML content and quoted attribute values.
struct Escaped<'s>(&'s str);

fn esc(text: &str) -> Escaped<'_> {
    Escaped(text)
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-12-07 09:00 UTC);
    const RETENTIONS: [u32; 3] = [14, 30, 90];
    const FUNCTIONS: [&str; 7] = [
        "waf-ip-blocker",
        "rds-audit-notifier",
        "maintenance-switch",
        "config-triage",
        "access-denied-triage",
        "log-retention",
        "patch-waves",
    ];

    fn source(account: usize, function: &str) -> Source {
        Source {
            account: format!("{:012}", 100_000_000_000 + account),
            region: "eu-west-1".into(),
            function: function.into(),
        }
    }

    fn current(source: Source, label: Option<&str>, outcome: Outcome) -> Current {
        Current {
            source,
            label: label.map(str::to_owned),
            run_id: "run".into(),
            started_at: NOW - Duration::minutes(62),
            ended_at: NOW - Duration::minutes(61),
            outcome,
            reason: (outcome == Outcome::Failed)
                .then(|| "ThrottlingException: Rate exceeded".into()),
            dry_run: false,
            counters: BTreeMap::from([("applied".into(), 3), ("planned".into(), 4)]),
            failures_in_a_row: u32::from(outcome == Outcome::Failed),
            schema_version: 1,
            unknown_schema: false,
            items_omitted: 0,
            named_unchanged: Vec::new(),
        }
    }

    fn item(
        source: Source,
        label: Option<&str>,
        kind: &str,
        key: &str,
        fields: serde_json::Value,
    ) -> OpenItem {
        OpenItem {
            source,
            label: label.map(str::to_owned),
            kind: kind.into(),
            key: key.into(),
            fields: fields.as_object().cloned().unwrap_or_default(),
            first_seen: NOW - Duration::days(2),
            last_seen: NOW - Duration::hours(1),
        }
    }

    fn at(t: OffsetDateTime) -> String {
        iso(t)
    }

    fn summary(date: Date, source: Source, blocked: u64, ddl: u64) -> DaySummary {
        DaySummary {
            date,
            source,
            label: None,
            runs: 24,
            failed: 1,
            open_by_kind: BTreeMap::from([("blocked_address".into(), blocked)]),
            records: BTreeMap::from([
                ("audit_alert".into(), ddl + 1),
                ("audit_alert/ddl".into(), ddl),
                ("audit_alert/failed_login".into(), 1),
                ("denied_call".into(), 2),
                ("denied_call/high".into(), 2),
            ]),
            counters: BTreeMap::new(),
        }
    }

    /// A fleet of `accounts` accounts, every function in each, and the items
    /// a realistic day leaves open.
    struct Fleet {
        currents: Vec<Current>,
        items: Vec<OpenItem>,
        silent: Vec<Source>,
    }

    const LABELS: [Option<&str>; 5] = [
        Some("shop-prod"),
        Some("shop-staging"),
        Some("billing"),
        Some("search"),
        None,
    ];

    fn fleet(accounts: usize) -> Fleet {
        let mut currents = Vec::new();
        let mut items = Vec::new();
        for a in 0..accounts {
            let label = LABELS[a % LABELS.len()];
            for (f, function) in FUNCTIONS.iter().enumerate() {
                let outcome = match (a * 7 + f) % 17 {
                    0 => Outcome::Failed,
                    5 => Outcome::StoppedEarly,
                    _ => Outcome::Ok,
                };
                let mut c = current(source(a, function), label, outcome);
                c.dry_run = (a * 7 + f) % 23 == 3;
                currents.push(c);
            }
            let waf = source(a, "waf-ip-blocker");
            for i in 0..40 {
                let expires = NOW + Duration::minutes(i * 7 - 20);
                items.push(item(
                    waf.clone(),
                    label,
                    "blocked_address",
                    &format!("198.51.{}.{i}/32", a % 250),
                    json!({"expires_at": at(expires), "first_blocked_at": at(NOW - Duration::hours(3)),
                           "hits": 40 + i, "reason": format!("{} requests in the 300 s window (threshold 40)", 40 + i)}),
                ));
            }
            let config = source(a, "config-triage");
            for i in 0..15 {
                let severity = ["CRITICAL", "high", "medium", "low"][i % 4];
                items.push(item(
                    config.clone(),
                    label,
                    "violation",
                    &format!("{}/eu-west-1/s3-bucket-public-read-prohibited/AWS::S3::Bucket/bucket-{i}", config.account),
                    json!({"severity": severity, "owner": "team-storage", "rule": "s3-bucket-public-read-prohibited",
                           "resource_id": format!("bucket-{i}"), "since": at(NOW - Duration::hours(i as i64 * 20))}),
                ));
            }
            let logs = source(a, "log-retention");
            for i in 0..25 {
                items.push(item(
                    logs.clone(),
                    label,
                    "log_group",
                    &format!("eu-west-1:/aws/lambda/service-{i}"),
                    json!({"retention_days": RETENTIONS[i % 3], "retention_before": null, "change": "set"}),
                ));
            }
            let rds = source(a, "rds-audit-notifier");
            for i in 0..30 {
                items.push(item(
                    rds.clone(),
                    label,
                    "audit_alert",
                    &format!("orders-db/{i}"),
                    json!({"categories": if i % 3 == 0 { json!(["ddl", "grant"]) } else { json!(["failed_login"]) },
                           "user": "admin", "database": "orders", "operation": "DROP TABLE",
                           "time": at(NOW - Duration::hours(i))}),
                ));
            }
            let patch = source(a, "patch-waves");
            for i in 0..10 {
                items.push(item(
                    patch.clone(),
                    label,
                    "patch_finding",
                    &format!("i-0{i:016x}/missing_security"),
                    json!({"finding": "missing_security"}),
                ));
            }
            if a % 10 == 0 {
                let switch = source(a, "maintenance-switch");
                items.push(item(
                    switch.clone(),
                    label,
                    "window",
                    "w-on",
                    json!({"phase": "on", "start_at": at(NOW - Duration::minutes(30)), "end_at": at(NOW + Duration::minutes(30))}),
                ));
                items.push(item(
                    switch.clone(),
                    label,
                    "window",
                    "w-next",
                    json!({"phase": "upcoming", "start_at": at(NOW + Duration::days(1)), "end_at": at(NOW + Duration::days(1) + Duration::hours(1))}),
                ));
                items.push(item(
                    switch,
                    label,
                    "listener",
                    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/web/1/2",
                    json!({"window_id": "w-on", "since": at(NOW - Duration::minutes(30))}),
                ));
            }
        }
        let silent = (0..accounts)
            .step_by(50)
            .map(|a| source(a, "patch-waves"))
            .chain([source(accounts + 1, "waf-ip-blocker")])
            .collect();
        Fleet {
            currents,
            items,
            silent,
        }
    }

    /// 30 days of every source's summaries, made as they are read.
    fn history(accounts: usize) -> impl Iterator<Item = DaySummary> {
        (0..30i64).flat_map(move |d| {
            (0..accounts).flat_map(move |a| {
                FUNCTIONS.iter().map(move |f| {
                    let date = NOW.date() - Duration::days(d);
                    let blocked = if *f == "waf-ip-blocker" {
                        30 + d as u64
                    } else {
                        0
                    };
                    let ddl = u64::from(*f == "rds-audit-notifier");
                    summary(date, source(a, f), blocked, ddl)
                })
            })
        })
    }

    fn page(fleet: &Fleet) -> Page<'_> {
        Page {
            now: NOW,
            currents: &fleet.currents,
            items: &fleet.items,
            silent: &fleet.silent,
        }
    }

    /// Every `attr="value"` of the page, in order.
    fn attributes<'p>(html: &'p str, attr: &str) -> Vec<&'p str> {
        let needle = format!(" {attr}=\"");
        html.match_indices(&needle)
            .map(|(at, _)| {
                let rest = &html[at + needle.len()..];
                &rest[..rest.find('"').expect("a closed attribute")]
            })
            .collect()
    }

    /// The text of the element whose id is `id`, up to its first tag.
    fn text_of<'p>(html: &'p str, id: &str) -> &'p str {
        let at = html
            .find(&format!(" id=\"{id}\""))
            .unwrap_or_else(|| panic!("no element {id}"));
        let rest = &html[at..];
        let start = rest.find('>').unwrap() + 1;
        &rest[start..start + rest[start..].find('<').unwrap()]
    }

    #[test]
    fn escaping_turns_markup_into_text() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#).to_string(),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(esc("plain").to_string(), "plain");
        assert_eq!(esc("").to_string(), "");
    }

    #[test]
    fn a_script_in_a_label_key_or_field_renders_as_text() {
        let evil = "<script>alert(1)</script>";
        let mut c = current(source(1, "waf-ip-blocker"), Some(evil), Outcome::Failed);
        c.reason = Some(format!("\"><img src=x onerror=alert(1)>{evil}"));
        let items = [
            item(
                c.source.clone(),
                Some(evil),
                "blocked_address",
                evil,
                json!({"reason": evil, "hits": 3}),
            ),
            item(
                c.source.clone(),
                None,
                "violation",
                evil,
                json!({"severity": evil, "rule": evil}),
            ),
            item(c.source.clone(), None, evil, evil, json!({})),
        ];
        let currents = [c];
        let html = render(
            &Page {
                now: NOW,
                currents: &currents,
                items: &items,
                silent: &[],
            },
            [],
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot;&gt;&lt;img src=x"));
    }

    #[test]
    fn every_in_page_link_has_its_target_and_nothing_leaves_the_page() {
        let fleet = fleet(20);
        let html = render(&page(&fleet), history(20));
        let ids: BTreeSet<&str> = attributes(&html, "id").into_iter().collect();
        assert_eq!(
            ids.len(),
            attributes(&html, "id").len(),
            "an id is used twice"
        );
        let hrefs = attributes(&html, "href");
        assert!(hrefs.len() > 100, "{}", hrefs.len());
        for href in hrefs {
            if href == "data:," {
                continue;
            }
            let target = href
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("a link out of the page: {href}"));
            assert!(ids.contains(target), "#{target} has no element");
        }
        assert!(attributes(&html, "src").is_empty());
        assert!(!html.contains("url("));
        assert!(!html.contains("@import"));
        // The SVG namespace is a name, not a request.
        assert_eq!(
            html.matches("http").count(),
            html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        );
        for section in [
            "summary",
            "runs",
            "failed-runs",
            "violations",
            "blocked",
            "windows",
            "log-retention",
            "audit",
            "silent",
            "other",
        ] {
            assert!(ids.contains(section), "{section}");
        }
    }

    #[test]
    fn the_numbers_are_the_inputs() {
        let acct = |a| source(a, "config-triage");
        let currents = [
            current(source(1, "waf-ip-blocker"), Some("shop"), Outcome::Ok),
            current(source(1, "config-triage"), Some("shop"), Outcome::Failed),
            current(source(2, "log-retention"), None, Outcome::StoppedEarly),
        ];
        let violation = |a, key: &str, severity: &str, hours: i64| {
            item(
                acct(a),
                None,
                "violation",
                key,
                json!({"severity": severity, "since": at(NOW - Duration::hours(hours))}),
            )
        };
        let waf = source(1, "waf-ip-blocker");
        let rds = source(2, "rds-audit-notifier");
        let items = [
            violation(1, "a", "CRITICAL", 2),
            violation(1, "b", "critical", 30),
            violation(2, "c", "critical", 24 * 10),
            violation(2, "d", "low", 1),
            violation(2, "e", "whatever", 1),
            item(
                waf.clone(),
                None,
                "blocked_address",
                "192.0.2.1/32",
                json!({"expires_at": at(NOW + Duration::hours(1))}),
            ),
            item(
                waf.clone(),
                None,
                "blocked_address",
                "192.0.2.2/32",
                json!({"expires_at": at(NOW + Duration::hours(2))}),
            ),
            item(
                waf,
                None,
                "blocked_address",
                "192.0.2.3/32",
                json!({"expires_at": at(NOW - Duration::hours(1))}),
            ),
            item(
                rds.clone(),
                None,
                "audit_alert",
                "db/1",
                json!({"categories": ["ddl", "grant"]}),
            ),
            item(
                rds,
                None,
                "audit_alert",
                "db/2",
                json!({"categories": ["ddl"]}),
            ),
            item(
                source(2, "maintenance-switch"),
                None,
                "window",
                "w1",
                json!({"phase": "on"}),
            ),
            item(
                source(2, "maintenance-switch"),
                None,
                "window",
                "w2",
                json!({"phase": "upcoming", "start_at": at(NOW + Duration::hours(5))}),
            ),
            item(
                source(2, "log-retention"),
                None,
                "log_group",
                "eu-west-1:/a",
                json!({"retention_days": 14}),
            ),
        ];
        let silent = [source(2, "patch-waves")];
        let days = [
            summary(NOW.date(), source(1, "waf-ip-blocker"), 7, 0),
            summary(
                NOW.date() - Duration::days(1),
                source(1, "waf-ip-blocker"),
                5,
                0,
            ),
            summary(NOW.date(), source(2, "rds-audit-notifier"), 0, 4),
            // Outside the 30 days: not counted.
            summary(
                NOW.date() - Duration::days(30),
                source(2, "rds-audit-notifier"),
                100,
                100,
            ),
        ];
        let html = render(
            &Page {
                now: NOW,
                currents: &currents,
                items: &items,
                silent: &silent,
            },
            days,
        );
        for (id, expected) in [
            ("sum-accounts", "2"),
            ("sum-sources", "3"),
            ("sum-failed", "1"),
            ("sum-violations", "5"),
            ("sum-critical", "3"),
            ("sum-blocked", "2"),
            ("sum-windows-on", "1"),
            // ddl 4, and failed_login 1 in each of the three summaries within the 30 days.
            ("sum-audit", "7"),
            ("sum-silent", "1"),
            ("violations-count-critical", "3"),
            ("violations-critical-age-0", "1"),
            ("violations-critical-age-1", "1"),
            ("violations-critical-age-2", "1"),
            ("violations-count-low", "1"),
            ("violations-count-other", "1"),
            ("blocked-count", "2"),
            ("log-groups-count", "1"),
        ] {
            assert_eq!(text_of(&html, id), expected, "{id}");
        }
        // Categories in name order: ddl, failed_login, grant.
        assert_eq!(text_of(&html, "audit-30d-0"), "4");
        assert_eq!(text_of(&html, "audit-30d-1"), "3");
        assert_eq!(text_of(&html, "audit-open-0"), "2");
        assert_eq!(text_of(&html, "audit-open-2"), "1");
        assert!(html.contains(&format!("{}: 7</title>", NOW.date())));
        assert!(html.contains(&format!("{}: 5</title>", NOW.date() - Duration::days(1))));
        assert!(html.contains(&format!("{}: no summary", NOW.date() - Duration::days(2))));
        assert!(html.contains("192.0.2.1/32") && !html.contains("192.0.2.3/32"));
        assert!(html.contains("1 more are past their expiry"));
    }

    #[test]
    fn the_200_account_page_stays_under_budget_and_says_what_it_cut() {
        let fleet = fleet(200);
        let html = render(&page(&fleet), history(200));
        eprintln!(
            "200 accounts × 7 functions, {} items: {} bytes (budget {PAGE_BUDGET_BYTES})",
            fleet.items.len(),
            html.len()
        );
        assert!(html.len() < PAGE_BUDGET_BYTES, "{} bytes", html.len());
        assert_eq!(
            attributes(&html, "id")
                .iter()
                .filter(|id| id.starts_with("row-"))
                .count(),
            200
        );
        assert!(
            html.contains("and 7200 more blocked addresses"),
            "the cut is said"
        );
        assert!(html.contains("and 5800 more audit alerts"));
    }

    #[test]
    fn the_page_does_not_depend_on_the_order_of_days_or_items() {
        let fleet = fleet(12);
        let forward: Vec<DaySummary> = history(12).collect();
        let expected = render(&page(&fleet), forward.clone());
        let mut backward = forward.clone();
        backward.reverse();
        assert_eq!(render(&page(&fleet), backward), expected);
        let mut shuffled = forward;
        let mut rng = fastrand_like(7);
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng() % (i + 1));
        }
        assert_eq!(render(&page(&fleet), shuffled), expected);
        let mut reordered = Fleet {
            currents: fleet.currents.iter().rev().cloned().collect(),
            items: fleet.items.iter().rev().cloned().collect(),
            silent: fleet.silent.iter().rev().cloned().collect(),
        };
        reordered.items.rotate_left(17);
        assert_eq!(render(&page(&reordered), history(12)), expected);
    }

    /// A small deterministic generator: the test needs a shuffle, not a crate.
    fn fastrand_like(seed: u64) -> impl FnMut() -> usize {
        let mut state = seed;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as usize
        }
    }

    /// An alert kept and the same alert summed in its day fall in one row,
    /// named as the summaries name it; an alert without a category is "other".
    #[test]
    fn an_audit_category_is_one_row_whether_kept_or_summed() {
        let src = source(1, "rds-audit-notifier");
        let items = [
            item(
                src.clone(),
                None,
                "audit_alert",
                "db/1",
                json!({"categories": ["Privilege <x>"]}),
            ),
            item(src.clone(), None, "audit_alert", "db/2", json!({})),
        ];
        let day = DaySummary {
            date: NOW.date(),
            source: src.clone(),
            label: None,
            runs: 1,
            failed: 0,
            open_by_kind: BTreeMap::new(),
            records: BTreeMap::from([
                ("audit_alert".into(), 2),
                ("audit_alert/privilege__x_".into(), 1),
                ("audit_alert/other".into(), 1),
            ]),
            counters: BTreeMap::new(),
        };
        let currents = [current(src, None, Outcome::Ok)];
        let html = render(
            &Page {
                now: NOW,
                currents: &currents,
                items: &items,
                silent: &[],
            },
            [day],
        );
        let rows: Vec<&str> = html
            .split("<tr><td>")
            .skip(1)
            .filter(|r| r.contains("audit-30d-"))
            .collect();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows[0].starts_with("other</td>"), "{}", rows[0]);
        assert!(rows[1].starts_with("privilege__x_</td>"), "{}", rows[1]);
        for row in rows {
            assert_eq!(
                row.matches(">1</a>").count(),
                2,
                "one summed, one kept: {row}"
            );
        }
        assert!(
            html.contains(r##"id="sum-audit" href="#audit">2<"##),
            "alerts, not category hits"
        );
    }

    #[test]
    fn the_days_are_summed_into_thirty_buckets_whatever_their_number() {
        let history = History::from_days(NOW.date(), history(50));
        assert_eq!(history.days.len(), TREND_DAYS);
        assert!(history.days.iter().all(|d| d.seen));
        assert_eq!(history.days[TREND_DAYS - 1].blocked, 50 * 30);
        assert_eq!(history.days[0].blocked, 50 * (30 + 29));
        let alerts: u64 = self::history(50)
            .filter(|s| s.date == NOW.date())
            .map(|s| s.records["audit_alert"])
            .sum();
        assert_eq!(
            history.days[TREND_DAYS - 1].audit,
            alerts,
            "alerts, not category hits"
        );
        assert_eq!(history.audit_by_category["ddl"], 50 * 30);
        assert_eq!(history.audit_by_category["failed_login"], 50 * 7 * 30);
        assert!(
            !history.audit_by_category.contains_key("high"),
            "denied calls are not audit alerts"
        );
    }

    #[test]
    fn unknown_categories_beyond_the_cap_fold_into_other() {
        let days = (0..100).map(|i| {
            let mut s = summary(NOW.date(), source(1, "rds-audit-notifier"), 0, 0);
            s.records = BTreeMap::from([(format!("audit_alert/c{i:03}"), 1)]);
            s
        });
        let history = History::from_days(NOW.date(), days);
        assert_eq!(history.audit_by_category.len(), MAX_CATEGORIES);
        assert_eq!(
            history.audit_by_category["other"],
            100 - (MAX_CATEGORIES as u64 - 1)
        );
    }

    #[test]
    fn times_are_relative_with_the_exact_time_on_hover() {
        assert!(when(NOW, NOW - Duration::hours(3)).contains(">3 h ago<"));
        assert!(when(NOW, NOW + Duration::minutes(5)).contains(">in 5 min<"));
        assert!(when(NOW, NOW - Duration::days(9)).contains(">9 d ago<"));
        assert!(when(NOW, NOW).contains("title=\"2026-12-07 09:00 UTC\""));
    }
}
