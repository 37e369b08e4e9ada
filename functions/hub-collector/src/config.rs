//! The collector's configuration, read once at cold start.

use std::collections::BTreeMap;

use shared::config::{Constraint, Env, Kind, Parameter, Required, Setting, Source};
use shared::secret::SecretRef;
use shared::settings::{self, SLACK_WEBHOOK_PARAMETER, SLACK_WEBHOOK_SECRET_ARN};

/// How often each toilkit function reports when it runs on its schedule, in
/// minutes. Functions that run only on events (an S3 object, an audit log, a
/// denied call, an operator's switch) are not here: their silence means a
/// quiet account, not a broken one, unless `EXPECTED_INTERVALS` says so.
pub const DEFAULT_INTERVALS: &[(&str, u32)] = &[
    ("config-triage", 1440),
    ("log-retention", 1440),
    ("patch-waves", 1440),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub table: String,
    pub history_bucket: String,
    pub dashboard_bucket: String,
    /// Minutes between two reports of each watched function.
    pub intervals: BTreeMap<String, u32>,
    pub silence_margin_minutes: u32,
    pub failures_alert: u32,
    pub render_interval_seconds: u32,
    pub link_hours: u32,
    pub slack: Option<SecretRef>,
    pub dry_run: bool,
}

impl Config {
    /// Reads every variable; problems are recorded in `env` and reported
    /// together by `env.finish()`.
    pub fn from_env(env: &mut Env) -> Self {
        let table = env.required(&STATE_TABLE);
        let history_bucket = env.required(&HISTORY_BUCKET);
        let dashboard_bucket = env.required(&DASHBOARD_BUCKET);
        let mut intervals: BTreeMap<String, u32> = DEFAULT_INTERVALS
            .iter()
            .map(|(f, m)| ((*f).to_owned(), *m))
            .collect();
        if let Some(given) = env.optional_with(&EXPECTED_INTERVALS, parse_intervals) {
            // An operator's 0 stops watching a function the defaults watch.
            for (function, minutes) in given {
                if minutes == 0 {
                    intervals.remove(&function);
                } else {
                    intervals.insert(function, minutes);
                }
            }
        }
        let silence_margin_minutes = env.or_default(&SILENCE_MARGIN_MINUTES);
        let failures_alert = env.or_default_with(&FAILURES_ALERT, |v| match v.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err("expected a whole number of reports, at least 1".to_owned()),
        });
        let render_interval_seconds = env.or_default(&RENDER_INTERVAL_SECONDS);
        let link_hours = env.or_default_with(&DASHBOARD_LINK_HOURS, |v| match v.parse::<u32>() {
            Ok(n) if (1..=MAX_LINK_HOURS).contains(&n) => Ok(n),
            _ => Err(format!(
                "expected a whole number of hours from 1 to {MAX_LINK_HOURS}"
            )),
        });
        let slack = SecretRef::slack_webhook_from_env(env);
        let dry_run = env.flag(&DRY_RUN);
        // The hub's rule takes every toilkit event on the bus it listens on,
        // so a report of its own published there would run it again, and
        // that run's report again, without end.
        if env.raw(&REFUSED_RESULT_EVENT_BUS).is_some() {
            env.problem(
                REFUSED_RESULT_EVENT_BUS.name,
                "must be unset for the hub: its rule would take its own reports and run on each of them, without end",
                "unset",
            );
        }
        Self {
            table,
            history_bucket,
            dashboard_bucket,
            intervals,
            silence_margin_minutes,
            failures_alert,
            render_interval_seconds,
            link_hours,
            slack,
            dry_run,
        }
    }

    /// The configuration from explicit variables; tests use this.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, shared::config::ConfigError> {
        let mut env = Env::from_pairs(pairs);
        let config = Self::from_env(&mut env);
        env.finish()?;
        Ok(config)
    }
}

/// S3 signs a link for at most seven days (SigV4's limit), and never for
/// longer than the credentials that sign it last.
pub const MAX_LINK_HOURS: u32 = 168;

fn parse_intervals(text: &str) -> Result<BTreeMap<String, u32>, String> {
    let map: BTreeMap<String, u32> = shared::config::parse_json(text)?;
    if let Some(function) = map.keys().find(|f| !crate::plan::is_function_name(f)) {
        return Err(format!("{function:?} is not a function name"));
    }
    Ok(map)
}

/// Every variable the collector reads, in the order the README lists them.
pub const SETTINGS: &[Setting] = &[
    STATE_TABLE,
    HISTORY_BUCKET,
    DASHBOARD_BUCKET,
    EXPECTED_INTERVALS,
    SILENCE_MARGIN_MINUTES,
    FAILURES_ALERT,
    RENDER_INTERVAL_SECONDS,
    DASHBOARD_LINK_HOURS,
    HUB_SLACK_WEBHOOK_SECRET_ARN,
    HUB_SLACK_WEBHOOK_PARAMETER,
    DRY_RUN,
    REFUSED_RESULT_EVENT_BUS,
];

pub const STATE_TABLE: Setting = Setting {
    name: "STATE_TABLE",
    kind: Kind::Text,
    required: Required::Yes,
    default: None,
    example: "toilkit-hub-state",
    description: "DynamoDB table of the current state (each function's last report and open items) and the daily summaries; the template creates it.",
    source: Source::Template("!Ref StateTable"),
};

pub const HISTORY_BUCKET: Setting = Setting {
    name: "HISTORY_BUCKET",
    kind: Kind::Text,
    required: Required::Yes,
    default: None,
    example: "toilkit-hub-history-123456789012",
    description: "S3 bucket of every report as a JSON line, under `reports/date=YYYY-MM-DD/account=<id>/`, which the template's Athena table reads; the template creates it.",
    source: Source::Template("!Ref HistoryBucket"),
};

pub const DASHBOARD_BUCKET: Setting = Setting {
    name: "DASHBOARD_BUCKET",
    kind: Kind::Text,
    required: Required::Yes,
    default: None,
    example: "toilkit-hub-dashboard-123456789012",
    description: "Private S3 bucket the dashboard page is written to (`index.html`); the template creates it.",
    source: Source::Template("!Ref DashboardBucket"),
};

pub const EXPECTED_INTERVALS: Setting = Setting {
    name: "EXPECTED_INTERVALS",
    kind: Kind::Json("map(number)"),
    required: Required::No,
    default: None,
    example: r#"{"log-retention": 1440, "waf-ip-blocker": 60}"#,
    description: "JSON object: minutes between two reports of a function, added to or replacing the built-in ones (config-triage, log-retention and patch-waves: 1440); 0 stops watching a function. A watched function silent for longer than its interval plus `SILENCE_MARGIN_MINUTES` is reported silent.",
    source: Source::Parameter(Parameter {
        name: "ExpectedIntervals",
        constraint: Constraint::Pattern {
            pattern: r#"^$|^\s*\{[\x20-\x7E\t\n\r]*\}\s*$"#,
            description: Some("Empty, or a JSON object of function name to minutes."),
        },
        max_length: Some(1024),
        default: None,
        attribute: Some("expected_intervals"),
    }),
};

pub const SILENCE_MARGIN_MINUTES: Setting = Setting {
    name: "SILENCE_MARGIN_MINUTES",
    kind: Kind::Number,
    required: Required::No,
    default: Some("60"),
    example: "60",
    description: "Minutes a watched function may be late before the heartbeat calls it silent.",
    source: Source::Parameter(Parameter {
        name: "SilenceMarginMinutes",
        constraint: Constraint::Range { min: 0, max: 10080 },
        max_length: None,
        default: None,
        attribute: Some("silence_margin_minutes"),
    }),
};

pub const FAILURES_ALERT: Setting = Setting {
    name: "FAILURES_ALERT",
    kind: Kind::Number,
    required: Required::No,
    default: Some("3"),
    example: "3",
    description: "The heartbeat alerts on a function whose last this many reports in a row ended `failed`.",
    source: Source::Parameter(Parameter {
        name: "FailuresAlert",
        constraint: Constraint::Range { min: 1, max: 100 },
        max_length: None,
        default: None,
        attribute: Some("failures_alert"),
    }),
};

pub const RENDER_INTERVAL_SECONDS: Setting = Setting {
    name: "RENDER_INTERVAL_SECONDS",
    kind: Kind::Number,
    required: Required::No,
    default: Some("300"),
    example: "300",
    description: "A report that changes the state renders the dashboard again, at most once in this many seconds; the schedule renders it in any case.",
    source: Source::Parameter(Parameter {
        name: "RenderIntervalSeconds",
        constraint: Constraint::Range { min: 0, max: 86400 },
        max_length: None,
        default: None,
        attribute: Some("render_interval_seconds"),
    }),
};

pub const DASHBOARD_LINK_HOURS: Setting = Setting {
    name: "DASHBOARD_LINK_HOURS",
    kind: Kind::Number,
    required: Required::No,
    default: Some("24"),
    example: "24",
    description: "Hours the digest's pre-signed link to the dashboard is valid for (at most 168, and never longer than the function's role credentials last: see the README).",
    source: Source::Parameter(Parameter {
        name: "DashboardLinkHours",
        constraint: Constraint::Range { min: 1, max: 168 },
        max_length: None,
        default: None,
        attribute: Some("link_hours"),
    }),
};

pub const HUB_SLACK_WEBHOOK_SECRET_ARN: Setting = Setting {
    description: "Webhook (Secrets Manager) of the heartbeat's alerts and the daily digest. Set this or `SLACK_WEBHOOK_PARAMETER`; with neither, the hub posts nothing and says so in its report.",
    ..SLACK_WEBHOOK_SECRET_ARN
};

pub const HUB_SLACK_WEBHOOK_PARAMETER: Setting = Setting {
    description: "Webhook (SSM SecureString parameter) of the alerts and the digest, instead of a secret.",
    ..SLACK_WEBHOOK_PARAMETER
};

/// Every function's result bus, which the hub reads only to refuse it.
pub const REFUSED_RESULT_EVENT_BUS: Setting = Setting {
    example: "",
    description: "Must be unset: the hub refuses to start with it. Its rule takes every toilkit event on the bus it listens on, so a report of its own published there would run it again, without end.",
    source: Source::Unset,
    ..settings::RESULT_EVENT_BUS
};

pub const DRY_RUN: Setting = settings::dry_run(
    "HubDryRun",
    "Store reports, but post nothing to Slack and write no dashboard.",
);

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("STATE_TABLE", "t"),
            ("HISTORY_BUCKET", "h"),
            ("DASHBOARD_BUCKET", "d"),
        ]
    }

    #[test]
    fn defaults_watch_the_scheduled_functions() {
        let config = Config::from_pairs(base()).unwrap();
        assert_eq!(config.intervals.get("log-retention"), Some(&1440));
        assert_eq!(config.intervals.get("waf-ip-blocker"), None);
        assert_eq!(config.silence_margin_minutes, 60);
        assert_eq!(config.failures_alert, 3);
        assert!(!config.dry_run);
    }

    #[test]
    fn intervals_add_replace_and_zero_stops_watching() {
        let mut pairs = base();
        pairs.push((
            "EXPECTED_INTERVALS",
            r#"{"waf-ip-blocker": 60, "log-retention": 0, "patch-waves": 720}"#,
        ));
        let config = Config::from_pairs(pairs).unwrap();
        assert_eq!(config.intervals.get("waf-ip-blocker"), Some(&60));
        assert_eq!(config.intervals.get("log-retention"), None);
        assert_eq!(config.intervals.get("patch-waves"), Some(&720));
    }

    #[test]
    fn every_problem_is_named_together() {
        let error = Config::from_pairs([
            ("EXPECTED_INTERVALS", r#"{"Bad Name": 5}"#),
            ("FAILURES_ALERT", "0"),
            ("DASHBOARD_LINK_HOURS", "200"),
        ])
        .unwrap_err()
        .to_string();
        for name in [
            "STATE_TABLE",
            "HISTORY_BUCKET",
            "DASHBOARD_BUCKET",
            "EXPECTED_INTERVALS",
            "FAILURES_ALERT",
            "DASHBOARD_LINK_HOURS",
        ] {
            assert!(error.contains(name), "{name} missing from: {error}");
        }
    }

    #[test]
    fn a_result_bus_is_refused_since_the_hub_would_collect_its_own_reports() {
        let mut pairs = base();
        pairs.push(("RESULT_EVENT_BUS", "default"));
        let error = Config::from_pairs(pairs).unwrap_err().to_string();
        assert!(error.contains("RESULT_EVENT_BUS"), "{error}");
        assert!(error.contains("own reports"), "{error}");
        let mut pairs = base();
        pairs.push(("RESULT_EVENT_BUS", ""));
        assert!(Config::from_pairs(pairs).is_ok(), "an empty value is unset");
    }
}
