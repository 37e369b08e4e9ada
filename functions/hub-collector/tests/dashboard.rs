//! The dashboard as a person sees it: a realistic hub state rendered, served
//! from loopback and opened in headless Chromium, which dumps the DOM it
//! built and takes a screenshot.
//!
//! Chromium runs with every request it makes sent to a loopback recorder
//! standing in as its proxy, except those to the page server; the proxy
//! bypass that Chromium keeps for loopback by default is removed
//! (`<-loopback>`), so even another port of this machine would land in the
//! recorder. Chromium (156) checks for updates and lists Google accounts at
//! start whatever its flags; its network log names each request's purpose
//! (its traffic annotation), so those two are told apart from the page's by
//! Chromium's own account, and everything else must never reach the
//! recorder.
//!
//! Without a `chromium` on PATH (`cargo xtask setup` installs it, as root)
//! the test says NOT RUN, and fails under `CI=true`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use hub_collector::dashboard::{self, Page};
use hub_collector::record::{Current, DaySummary, OpenItem, Source};
use serde_json::json;
use shared::envelope::Outcome;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use toilkit_tests::loopback::{self, Server};
use toilkit_tests::process::ChildGuard;

const TEST: &str = "hub-collector dashboard in Chromium";
const NOW: OffsetDateTime = datetime!(2026-12-07 09:00 UTC);
/// Long enough for a cold start on two busy cores; Chromium renders this
/// page in about a second.
const CHROMIUM_TIMEOUT: StdDuration = StdDuration::from_secs(90);
const WINDOW: (u32, u32) = (1400, 2400);

/// The traffic annotations of the requests Chromium makes for itself, not
/// for a page (`tools/traffic_annotation/summary/annotations.xml`).
const BROWSER_OWN: [(&str, &str); 3] = [
    ("54845618", "update_client"),
    ("35565745", "gaia_auth_list_accounts"),
    ("115188287", "chrome_variations_service"),
];

const FUNCTIONS: [&str; 7] = [
    "waf-ip-blocker",
    "rds-audit-notifier",
    "maintenance-switch",
    "config-triage",
    "access-denied-triage",
    "log-retention",
    "patch-waves",
];
/// A label a product account could set to anything: it must stay text.
const EVIL_LABEL: &str = "<script>document.title='pwned'</script>ledger";
const LABELS: [Option<&str>; 4] = [Some("shop-prod"), Some("search"), Some(EVIL_LABEL), None];
const ACCOUNTS: usize = 8;

fn account(a: usize) -> String {
    format!("{:012}", 210_000_000_000 + a)
}

fn source(a: usize, function: &str) -> Source {
    Source {
        account: account(a),
        region: if a % 4 == 1 { "us-east-1" } else { "eu-west-1" }.into(),
        function: function.into(),
    }
}

fn silent() -> Source {
    source(6, "patch-waves")
}

fn at(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

/// The hub as a busy morning leaves it, every section with something in it,
/// and what the page should say of it.
struct State {
    currents: Vec<Current>,
    items: Vec<OpenItem>,
    silent: Vec<Source>,
}

impl State {
    fn realistic() -> Self {
        let mut currents = Vec::new();
        let mut items = Vec::new();
        for a in 0..ACCOUNTS {
            let label = LABELS[a % LABELS.len()].map(str::to_owned);
            for (f, function) in FUNCTIONS.iter().enumerate() {
                // The silent source last reported three days ago.
                let silence = if source(a, function) == silent() {
                    Duration::days(3)
                } else {
                    Duration::ZERO
                };
                let failed = (a, f) == (2, 0) || (a, f) == (5, 3);
                currents.push(Current {
                    source: source(a, function),
                    label: label.clone(),
                    run_id: format!("run-{a}-{f}"),
                    started_at: NOW - Duration::minutes(5 + (a * 7 + f) as i64) - silence,
                    ended_at: NOW - Duration::minutes(4 + (a * 7 + f) as i64) - silence,
                    outcome: if failed {
                        Outcome::Failed
                    } else if (a, f) == (3, 5) {
                        Outcome::StoppedEarly
                    } else {
                        Outcome::Ok
                    },
                    reason: failed.then(|| "AccessDeniedException: not authorized".into()),
                    dry_run: (a, f) == (4, 2),
                    counters: BTreeMap::from([
                        ("groups_scanned".into(), 120 + a as u64),
                        ("applied".into(), a as u64),
                    ]),
                    failures_in_a_row: if failed { 3 } else { 0 },
                    schema_version: 1,
                    unknown_schema: false,
                    items_omitted: 0,
                    named_unchanged: Vec::new(),
                });
            }
            let item =
                |function: &str, kind: &str, key: String, fields: serde_json::Value| OpenItem {
                    source: source(a, function),
                    label: label.clone(),
                    kind: kind.into(),
                    key,
                    fields: fields.as_object().cloned().unwrap(),
                    first_seen: NOW - Duration::hours(30),
                    last_seen: NOW - Duration::minutes(10),
                };
            // Three addresses an account, the last one expired an hour ago.
            for i in 0..3 {
                items.push(item(
                    "waf-ip-blocker",
                    "blocked_address",
                    format!("203.0.113.{}/32", a * 3 + i),
                    json!({"expires_at": at(NOW + Duration::hours([2, 5, -1][i])),
                           "first_blocked_at": at(NOW - Duration::hours(1)), "hits": 40 + i,
                           "reason": "40 requests in the 300 s window (threshold 40)"}),
                ));
            }
            for (i, (severity, hours)) in
                [("CRITICAL", 3), ("HIGH", 50), ("MEDIUM", 400), ("LOW", 2)]
                    .into_iter()
                    .enumerate()
                    .take(1 + a % 4)
            {
                items.push(item(
                    "config-triage",
                    "violation",
                    format!("{}/eu-west-1/restricted-ssh/AWS::EC2::SecurityGroup/sg-{a}{i}", account(a)),
                    json!({"severity": severity, "owner": "team-net", "rule": "restricted-ssh",
                           "resource_id": format!("sg-{a}{i}"), "since": at(NOW - Duration::hours(hours))}),
                ));
            }
            if a == 0 {
                items.push(item(
                    "maintenance-switch",
                    "window",
                    "w-20261207-db".into(),
                    json!({"phase": "on", "start_at": at(NOW - Duration::minutes(20)), "end_at": at(NOW + Duration::minutes(40))}),
                ));
                items.push(item(
                    "maintenance-switch",
                    "listener",
                    "arn:aws:elasticloadbalancing:eu-west-1:210000000000:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2".into(),
                    json!({"window_id": "w-20261207-db", "since": at(NOW - Duration::minutes(20))}),
                ));
            }
            if a == 1 {
                items.push(item(
                    "maintenance-switch",
                    "window",
                    "w-20261209-upgrade".into(),
                    json!({"phase": "upcoming", "start_at": at(NOW + Duration::days(2)), "end_at": at(NOW + Duration::days(2) + Duration::hours(2))}),
                ));
            }
            for (i, days) in [14, 30, 90].into_iter().enumerate().take(1 + a % 3) {
                items.push(item(
                    "log-retention",
                    "log_group",
                    format!("{}:/aws/lambda/service-{i}", source(a, "").region),
                    json!({"retention_days": days, "retention_before": null, "change": "set"}),
                ));
            }
            for i in 0..2 {
                items.push(item(
                    "rds-audit-notifier",
                    "audit_alert",
                    format!("orders-db/4970{a}{i}"),
                    json!({"categories": if i == 0 { json!(["ddl"]) } else { json!(["failed_login", "privilege"]) },
                           "user": "admin", "database": "orders", "operation": "DROP TABLE",
                           "time": at(NOW - Duration::hours(i + 1))}),
                ));
            }
            items.push(item(
                "patch-waves",
                "patch_finding",
                format!("i-0{a:016x}/missing_security"),
                json!({"finding": "missing_security"}),
            ));
        }
        Self {
            currents,
            items,
            silent: vec![silent()],
        }
    }

    /// 30 days of every source's summaries: blocked addresses rising by one
    /// a day in each account, an alert of each kind a day in each account.
    fn days() -> impl Iterator<Item = DaySummary> {
        (0..30i64).flat_map(|d| {
            (0..ACCOUNTS).flat_map(move |a| {
                FUNCTIONS.iter().map(move |f| DaySummary {
                    date: NOW.date() - Duration::days(d),
                    source: source(a, f),
                    label: None,
                    runs: 24,
                    failed: 0,
                    open_by_kind: match *f {
                        "waf-ip-blocker" => {
                            BTreeMap::from([("blocked_address".into(), 30 - d as u64)])
                        }
                        _ => BTreeMap::new(),
                    },
                    records: match *f {
                        "rds-audit-notifier" => BTreeMap::from([
                            // Three alerts a day, one of them of two categories.
                            ("audit_alert".into(), 3),
                            ("audit_alert/ddl".into(), 2),
                            ("audit_alert/failed_login".into(), 2),
                        ]),
                        _ => BTreeMap::new(),
                    },
                    counters: BTreeMap::new(),
                })
            })
        })
    }

    fn page(&self) -> Page<'_> {
        Page {
            now: NOW,
            currents: &self.currents,
            items: &self.items,
            silent: &self.silent,
        }
    }

    fn of_kind(&self, kind: &str) -> impl Iterator<Item = &OpenItem> {
        self.items.iter().filter(move |i| i.kind == kind)
    }

    /// The summary's numbers, counted from the state itself.
    fn expected(&self) -> Vec<(&'static str, usize)> {
        let open = |i: &&OpenItem| {
            OffsetDateTime::parse(i.fields["expires_at"].as_str().unwrap(), &Rfc3339).unwrap() > NOW
        };
        let severity = |s: &str| {
            self.of_kind("violation")
                .filter(|i| {
                    i.fields["severity"]
                        .as_str()
                        .unwrap()
                        .eq_ignore_ascii_case(s)
                })
                .count()
        };
        vec![
            ("sum-accounts", ACCOUNTS),
            ("sum-sources", ACCOUNTS * FUNCTIONS.len()),
            (
                "sum-failed",
                self.currents
                    .iter()
                    .filter(|c| c.outcome == Outcome::Failed)
                    .count(),
            ),
            ("sum-violations", self.of_kind("violation").count()),
            ("sum-critical", severity("critical")),
            ("violations-count-high", severity("high")),
            ("violations-count-medium", severity("medium")),
            (
                "sum-blocked",
                self.of_kind("blocked_address").filter(open).count(),
            ),
            (
                "blocked-count",
                self.of_kind("blocked_address").filter(open).count(),
            ),
            ("sum-windows-on", 1),
            // Three alerts a day in each account (four category hits), for 30 days.
            ("sum-audit", 30 * ACCOUNTS * 3),
            ("sum-silent", self.silent.len()),
            ("log-groups-count", self.of_kind("log_group").count()),
            ("sum-log-groups", self.of_kind("log_group").count()),
        ]
    }
}

/// What a server got: method and path (the page server), or method and
/// host (the recorder).
type Seen = Arc<Mutex<Vec<String>>>;

fn page_server(html: String) -> (Server, Seen) {
    let seen = Seen::default();
    let log = seen.clone();
    let html = Arc::new(html);
    let server = Server::start(move |req| {
        log.lock()
            .unwrap()
            .push(format!("{} {}", req.method, req.path));
        let response = if req.path == "/" {
            loopback::response(
                200,
                &[("content-type", "text/html; charset=utf-8")],
                html.as_bytes().to_vec(),
            )
        } else {
            loopback::response(404, &[], "not found")
        };
        async move { response }
    });
    (server, seen)
}

fn recorder() -> (Server, Seen) {
    let seen = Seen::default();
    let log = seen.clone();
    let server = Server::start(move |req| {
        log.lock().unwrap().push(format!(
            "{} {}{}",
            req.method,
            req.header("host").unwrap_or("(no host)"),
            req.path
        ));
        async move { loopback::response(502, &[], "the test's recorder forwards nothing") }
    });
    (server, seen)
}

/// Runs Chromium on the page with `args` and waits for it; its stdout. Its
/// whole process group is killed afterwards, and no process of it may be
/// left: not in the group, nor the crash handler, which starts a session of
/// its own and is found by the home directory this run gives it.
fn chromium(
    binary: &Path,
    dir: &Path,
    name: &str,
    proxy: &Server,
    page: &Server,
    args: &[String],
) -> String {
    let profile = dir.join(format!("profile-{name}"));
    let home = dir.join(format!("home-{name}"));
    for fresh in [&profile, &home] {
        let _ = std::fs::remove_dir_all(fresh);
    }
    std::fs::create_dir_all(&home).unwrap();
    let stdout = dir.join(format!("{name}.stdout"));
    let stderr = dir.join(format!("{name}.stderr"));
    let mut command = Command::new(binary);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter",
            "--hide-scrollbars",
            "--net-log-capture-mode=Default",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!(
            "--log-net-log={}",
            dir.join(format!("{name}.netlog.json")).display()
        ))
        .arg(format!("--proxy-server=http://{}", proxy.addr()))
        // Loopback goes through the proxy too, except the page server.
        .arg(format!("--proxy-bypass-list=<-loopback>;{}", page.addr()))
        .args(args)
        .arg(format!("{}/", page.url()))
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap());
    let described = toilkit_tests::tool::describe(&command);
    let mut child = ChildGuard::spawn(name, command)
        .unwrap_or_else(|e| panic!("`{described}` did not start: {e}"));
    let pgid = child.id();
    let status = child.wait_for(CHROMIUM_TIMEOUT);
    // Helpers (zygote, crash handler) may outlive the browser: the group goes.
    child.stop();
    let marker = home.to_string_lossy().into_owned();
    let left = leftovers(pgid, &marker, StdDuration::from_secs(5));
    if !left.is_empty() {
        for pid in &left {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        panic!("Chromium processes left running 5 s after it ended: {left:?}");
    }
    let errors = std::fs::read_to_string(&stderr).unwrap_or_default();
    match status {
        Some(status) if status.success() => {}
        Some(status) => panic!("`{described}` failed ({status}):\n{errors}"),
        None => panic!("`{described}` did not finish within {CHROMIUM_TIMEOUT:?}:\n{errors}"),
    }
    for done in [&profile, &home] {
        let _ = std::fs::remove_dir_all(done);
    }
    std::fs::read_to_string(&stdout).unwrap()
}

/// The live processes of group `pgid`, or whose command line holds
/// `marker`, once none is left or `patience` ran out.
fn leftovers(pgid: u32, marker: &str, patience: StdDuration) -> Vec<u32> {
    let start = std::time::Instant::now();
    loop {
        let members: Vec<u32> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                // `pid (comm) state ppid pgrp ...`; comm may hold spaces.
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    return false;
                };
                let fields: Vec<&str> = stat
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .collect();
                let alive = fields.first().is_some_and(|state| *state != "Z");
                let in_group = fields.get(2) == Some(&pgid.to_string().as_str());
                let ours = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(marker));
                alive && (in_group || ours)
            })
            .collect();
        if members.is_empty() || start.elapsed() > patience {
            return members;
        }
        std::thread::sleep(StdDuration::from_millis(100));
    }
}

/// Every URL request in a Chromium network log: its URL and the traffic
/// annotation that says what it was for.
fn requests_in(netlog: &Path) -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(netlog).unwrap_or_else(|e| panic!("{}: {e}", netlog.display()));
    let log: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not whole JSON: {e}", netlog.display()));
    let alive = log["constants"]["logEventTypes"]["REQUEST_ALIVE"]
        .as_u64()
        .expect("REQUEST_ALIVE in the log's constants");
    log["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"].as_u64() == Some(alive))
        .filter_map(|e| {
            let params = &e["params"];
            Some((
                params["url"].as_str()?.to_owned(),
                params["traffic_annotation"].to_string(),
            ))
        })
        .collect()
}

/// Checks one run's network: the page's requests went to the page server
/// only, and the recorder got nothing but the browser's own.
fn assert_only_the_page_server(name: &str, netlog: &Path, page: &Server, recorded: &[String]) {
    let requests = requests_in(netlog);
    let own: BTreeSet<&str> = BROWSER_OWN.iter().map(|(hash, _)| *hash).collect();
    let (browser, for_page): (Vec<_>, Vec<_>) = requests
        .iter()
        .partition(|(_, annotation)| own.contains(annotation.as_str()));
    let page_url = format!("{}/", page.url());
    assert!(
        !for_page.is_empty(),
        "{name}: the network log has no request for the page"
    );
    for (url, annotation) in &for_page {
        assert_eq!(
            url, &page_url,
            "{name}: a request not to the page server (traffic annotation {annotation})"
        );
    }
    let browser_hosts: BTreeSet<String> = browser
        .iter()
        .filter_map(|(url, _)| {
            let rest = url.split_once("://")?.1;
            Some(rest.split(['/', '?']).next()?.to_owned())
        })
        .collect();
    for request in recorded {
        let host = request.split_whitespace().nth(1).unwrap_or("");
        let host = host.split('/').next().unwrap_or("");
        let bare = host.trim_end_matches(":443").trim_end_matches(":80");
        assert!(
            browser_hosts.contains(host) || browser_hosts.contains(bare),
            "{name}: the recorder got a request Chromium's log does not name as its own ({BROWSER_OWN:?}): {request}; all: {recorded:?}"
        );
    }
    eprintln!(
        "{name}: the page's requests: {for_page:?}; Chromium's own, to the recorder: {recorded:?}"
    );
}

/// The text of the element whose id is `id`, up to its first tag.
fn text_of<'d>(dom: &'d str, id: &str) -> &'d str {
    let at = dom
        .find(&format!(" id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element #{id} in the DOM"));
    let rest = &dom[at..];
    let start = rest.find('>').unwrap() + 1;
    &rest[start..start + rest[start..].find('<').unwrap()]
}

fn attributes<'d>(dom: &'d str, attr: &str) -> Vec<&'d str> {
    let needle = format!(" {attr}=\"");
    dom.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &dom[at + needle.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

fn headings(dom: &str) -> Vec<&str> {
    dom.match_indices("<h2>")
        .map(|(at, _)| {
            let rest = &dom[at + 4..];
            &rest[..rest.find("</h2>").unwrap()]
        })
        .collect()
}

#[test]
fn a_person_sees_every_section_its_numbers_and_nothing_from_another_host() {
    let Some(binary) = toilkit_tests::tool::on_path(
        TEST,
        "chromium",
        "`cargo xtask setup` installs Debian's chromium, as root",
    ) else {
        return;
    };
    let state = State::realistic();
    let html = dashboard::render(&state.page(), State::days());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hub-dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("dashboard.html"), &html).unwrap();
    let (page, served) = page_server(html);
    let (proxy, recorded) = recorder();

    let dom = chromium(
        &binary,
        &dir,
        "dump-dom",
        &proxy,
        &page,
        &["--dump-dom".into()],
    );
    assert_only_the_page_server(
        "dump-dom",
        &dir.join("dump-dom.netlog.json"),
        &page,
        &recorded.lock().unwrap(),
    );
    std::fs::write(dir.join("dom.html"), &dom).unwrap();

    let screenshot = dir.join("dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    recorded.lock().unwrap().clear();
    chromium(
        &binary,
        &dir,
        "screenshot",
        &proxy,
        &page,
        &[
            format!("--screenshot={}", screenshot.display()),
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
        ],
    );
    assert_only_the_page_server(
        "screenshot",
        &dir.join("screenshot.netlog.json"),
        &page,
        &recorded.lock().unwrap(),
    );
    assert_eq!(
        *served.lock().unwrap(),
        ["GET /", "GET /"],
        "the page server saw only the page, once a run"
    );

    // What a person sees: the sections, in order.
    assert_eq!(
        headings(&dom),
        [
            "Summary",
            "Last runs by product and account",
            "Open Config violations",
            "Addresses blocked now",
            "Maintenance windows on or upcoming",
            "Log retention coverage",
            "Audit alerts by category",
            "Sources gone silent",
            "Other open items",
        ]
    );
    assert!(
        dom.contains(
            "Rendered <time datetime=\"2026-12-07T09:00:00Z\">2026-12-07 09:00 UTC</time>"
        ),
        "the page says when it was rendered"
    );
    // The numbers, as the state has them.
    for (id, expected) in state.expected() {
        assert_eq!(text_of(&dom, id), expected.to_string(), "#{id}");
    }
    // Every in-page link lands on an element; none leaves the page.
    let ids: BTreeSet<&str> = attributes(&dom, "id").into_iter().collect();
    let hrefs = attributes(&dom, "href");
    assert!(hrefs.len() > 50, "{} links", hrefs.len());
    for href in hrefs.iter().filter(|h| **h != "data:,") {
        let target = href
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("a link out of the page: {href}"));
        assert!(ids.contains(target), "#{target} has no element");
    }
    // The label stayed text: no script ran, none is in the DOM.
    assert!(!dom.contains("<script"), "a label became a script");
    assert!(dom.contains("<title>toilkit hub</title>"));
    assert!(dom.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;ledger"));
    // Each failed run is marked and says who and why.
    assert_eq!(dom.matches("<td class=\"failed\"").count(), 2);
    assert!(dom.contains("tag dry\">dry run</span>"));
    // The silent source is marked where its last run is, and listed with
    // when it last reported.
    assert_eq!(dom.matches("class=\"tag silent\"").count(), 1);
    let silent_row = &dom[dom.find("id=\"silent-list\"").unwrap()..];
    let silent_row = &silent_row[..silent_row.find("</table>").unwrap()];
    assert!(
        silent_row.contains(&account(6)) && silent_row.contains(">3 d ago<"),
        "{silent_row}"
    );

    let png = std::fs::read(&screenshot)
        .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", screenshot.display()));
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), WINDOW);
    // A blank page of that size compresses to a few kilobytes.
    assert!(
        png.len() > 50_000,
        "the screenshot is nearly empty: {} bytes",
        png.len()
    );
    eprintln!(
        "screenshot: {} ({} bytes); DOM: {}",
        screenshot.display(),
        png.len(),
        dir.join("dom.html").display()
    );
}
