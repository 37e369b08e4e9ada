//! The invocation: what an operator, EventBridge Scheduler or the window
//! state machine asks for, checked completely before anything is changed.
//!
//! Every problem is collected, so one failed invocation names all of them.
//! Unknown fields are problems too: a misspelt `bypass_cidr` silently
//! ignored would lock the team out of their own site.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::{Config, DEFAULT_CONTENT_TYPE};
use crate::error::Error;
use crate::limits::{
    CLIENT_ADDRESS_HEADERS, CONTENT_TYPES, HEADER_WILDCARDS, HEADERS_ALB_REFUSES, MAX_BYPASS_CIDRS,
    MAX_BYPASS_HEADER_VALUES, MAX_HEADER_NAME_CHARS, MAX_HEADER_VALUE_CHARS, check_body,
    check_cidr, check_status_code, check_window_id, looks_like_address,
};
use crate::notify::{Event, Notice};
use crate::window::{BypassHeader, Mode, Page, Times, WindowSpec, format_time};

const KNOWN_FIELDS: [&str; 19] = [
    "action",
    "window_id",
    "listener_arns",
    "mode",
    "status_code",
    "content_type",
    "body",
    "target_group_arn",
    "bypass_cidrs",
    "bypass_header",
    "start_at",
    "end_at",
    "notify_topic_arn",
    "dry_run",
    "window",
    "event",
    "error",
    "execution_arn",
    "cleanup_of",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Enable,
    Disable,
    Status,
    Schedule,
    Cancel,
    Windows,
    Notify,
}

impl Action {
    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "enable" => Self::Enable,
            "disable" => Self::Disable,
            "status" => Self::Status,
            "schedule" => Self::Schedule,
            "cancel" => Self::Cancel,
            "windows" => Self::Windows,
            "notify" => Self::Notify,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enable => "enable",
            Self::Disable => "disable",
            Self::Status => "status",
            Self::Schedule => "schedule",
            Self::Cancel => "cancel",
            Self::Windows => "windows",
            Self::Notify => "notify",
        }
    }
}

/// A checked request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub action: Action,
    pub dry_run: bool,
    pub window_id: Option<String>,
    pub listener_arns: Vec<String>,
    /// For enable and schedule.
    pub window: Option<WindowSpec>,
    /// For schedule.
    pub times: Option<Times>,
    pub notify_topic_arn: Option<String>,
    /// For notify.
    pub notice: Option<Notice>,
    /// For enable, sent by the window state machine: its own execution.
    /// Enable checks it is still running before and after it writes, so a
    /// window cancelled while the task is in flight is not left on.
    pub execution_arn: Option<String>,
    /// For disable, sent by a clean-up execution of the window state
    /// machine: the window's own execution, which enable could not leave
    /// running with the window on. The clean-up leaves the window alone
    /// while that execution is still running (it ends the window itself).
    pub cleanup_of: Option<String>,
}

/// The request as sent; every field optional until checked.
#[derive(Debug, Default, Deserialize)]
struct Raw {
    action: Option<String>,
    window_id: Option<String>,
    listener_arns: Option<Vec<String>>,
    mode: Option<String>,
    status_code: Option<Value>,
    content_type: Option<String>,
    body: Option<String>,
    target_group_arn: Option<String>,
    bypass_cidrs: Option<Vec<String>>,
    bypass_header: Option<OneOrMany>,
    start_at: Option<String>,
    end_at: Option<String>,
    notify_topic_arn: Option<String>,
    dry_run: Option<bool>,
    event: Option<String>,
    error: Option<Value>,
    execution_arn: Option<String>,
    cleanup_of: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(BypassHeader),
    Many(Vec<BypassHeader>),
}

impl Request {
    /// Parses and checks `event`; `now` decides whether a window is in the past.
    pub fn parse(event: &Value, config: &Config, now: OffsetDateTime) -> Result<Self, Error> {
        let mut problems = Vec::new();
        let Some(object) = event.as_object() else {
            return Err(Error::InvalidRequest(vec![format!(
                "the event must be a JSON object like {{\"action\": \"status\", \"listener_arns\": [...]}}, got {}",
                type_name(event)
            )]));
        };
        let merged = merge_window(object, &mut problems);
        for key in merged.keys() {
            if !KNOWN_FIELDS.contains(&key.as_str()) {
                problems.push(format!(
                    "unknown field {key:?} (known: {})",
                    KNOWN_FIELDS.join(", ")
                ));
            }
        }
        let known: Map<String, Value> = merged
            .into_iter()
            .filter(|(k, _)| KNOWN_FIELDS.contains(&k.as_str()) && k != "window")
            .collect();
        let raw: Raw = match serde_json::from_value(Value::Object(known)) {
            Ok(raw) => raw,
            Err(e) => {
                problems.push(format!("a field has the wrong type: {e}"));
                return Err(Error::InvalidRequest(problems));
            }
        };

        let action = match raw.action.as_deref() {
            None => {
                problems.push(
                    "action is required: one of enable, disable, status, schedule, cancel, windows, notify"
                        .into(),
                );
                None
            }
            Some(a) => Action::parse(a).or_else(|| {
                problems.push(format!(
                    "action {a:?} is not one of enable, disable, status, schedule, cancel, windows, notify"
                ));
                None
            }),
        };

        let window_id = raw.window_id.clone();
        if let Some(id) = &window_id
            && let Err(why) = check_window_id(id)
        {
            problems.push(why);
        }
        let listener_arns = raw.listener_arns.clone().unwrap_or_default();
        for arn in &listener_arns {
            if let Err(why) = check_listener_arn(arn) {
                problems.push(why);
            }
        }
        let mut unique = listener_arns.clone();
        unique.sort();
        unique.dedup();
        if unique.len() != listener_arns.len() {
            problems.push("listener_arns lists a listener more than once".into());
        }
        if let Some(topic) = &raw.notify_topic_arn
            && !(topic.starts_with("arn:") && topic.contains(":sns:"))
        {
            problems.push(format!(
                "notify_topic_arn {topic:?} is not an SNS topic ARN"
            ));
        }

        for (field, value) in [
            ("execution_arn", &raw.execution_arn),
            ("cleanup_of", &raw.cleanup_of),
        ] {
            if let Some(arn) = value
                && !(arn.starts_with("arn:")
                    && arn.contains(":states:")
                    && arn.contains(":execution:"))
            {
                problems.push(format!(
                    "{field} {arn:?} is not a Step Functions execution ARN"
                ));
            }
        }

        let (needs_window_id, needs_listeners) = match action {
            Some(Action::Enable | Action::Schedule) => (true, true),
            Some(Action::Disable | Action::Status) => (false, true),
            Some(Action::Cancel | Action::Notify) => (true, false),
            Some(Action::Windows) | None => (false, false),
        };
        let name = action.map(Action::as_str).unwrap_or("this action");
        if needs_window_id && window_id.is_none() {
            problems.push(format!(
                "window_id is required for {name} (example: \"release-2026-12-01\")"
            ));
        }
        if needs_listeners && listener_arns.is_empty() {
            problems.push(format!(
                "listener_arns is required for {name}: the ALB listener ARNs to switch"
            ));
        }

        let window = if matches!(action, Some(Action::Enable | Action::Schedule)) {
            let page = page(&raw, config, &mut problems);
            let bypass_cidrs = cidrs(raw.bypass_cidrs.as_deref().unwrap_or(&[]), &mut problems);
            let bypass_headers = headers(raw.bypass_header, &mut problems);
            page.map(|page| WindowSpec {
                window_id: window_id.clone().unwrap_or_default(),
                listener_arns: listener_arns.clone(),
                page,
                bypass_cidrs,
                bypass_headers,
            })
        } else {
            None
        };

        let times = if action == Some(Action::Schedule) {
            times(
                raw.start_at.as_deref(),
                raw.end_at.as_deref(),
                now,
                &mut problems,
            )
        } else {
            None
        };

        let notice = if action == Some(Action::Notify) {
            let event = match raw.event.as_deref() {
                None => {
                    problems.push(format!(
                        "event is required for notify: one of {}",
                        Event::NAMES
                    ));
                    None
                }
                Some(e) => Event::parse(e).or_else(|| {
                    problems.push(format!("event {e:?} is not one of {}", Event::NAMES));
                    None
                }),
            };
            event.map(|event| Notice {
                event,
                window_id: window_id.clone().unwrap_or_default(),
                listener_arns: listener_arns.clone(),
                end_at: raw.end_at.clone(),
                cause: raw.error.as_ref().and_then(crate::notify::cause_of),
            })
        } else {
            None
        };

        match action {
            Some(action) if problems.is_empty() => Ok(Self {
                action,
                dry_run: config.dry_run || raw.dry_run.unwrap_or(false),
                window_id,
                listener_arns,
                window,
                times,
                notify_topic_arn: raw.notify_topic_arn,
                notice,
                execution_arn: raw.execution_arn,
                cleanup_of: raw.cleanup_of,
            }),
            _ => Err(Error::InvalidRequest(problems)),
        }
    }
}

/// The state machine passes its whole input as `window`; fields given at
/// the top level win over it.
fn merge_window(object: &Map<String, Value>, problems: &mut Vec<String>) -> Map<String, Value> {
    let mut merged = Map::new();
    match object.get("window") {
        None | Some(Value::Null) => {}
        Some(Value::Object(window)) => {
            for (k, v) in window {
                if k != "window" && k != "action" {
                    merged.insert(k.clone(), v.clone());
                }
            }
        }
        Some(other) => problems.push(format!(
            "window must be an object (the window's fields), got {}",
            type_name(other)
        )),
    }
    for (k, v) in object {
        merged.insert(k.clone(), v.clone());
    }
    merged
}

fn page(raw: &Raw, config: &Config, problems: &mut Vec<String>) -> Option<Page> {
    let mode = match raw.mode.as_deref() {
        None => config.default_mode,
        Some(m) => match Mode::parse(m) {
            Ok(mode) => mode,
            Err(why) => {
                problems.push(why);
                return None;
            }
        },
    };
    match mode {
        Mode::FixedResponse => {
            let status_code = match &raw.status_code {
                None | Some(Value::Null) => Some(config.default_status_code),
                Some(v) => match parse_status(v) {
                    Ok(code) => Some(code),
                    Err(why) => {
                        problems.push(why);
                        None
                    }
                },
            };
            let content_type = raw
                .content_type
                .clone()
                .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned());
            if !CONTENT_TYPES.contains(&content_type.as_str()) {
                problems.push(format!(
                    "content_type {content_type:?} is not one ALB allows: {}",
                    CONTENT_TYPES.join(", ")
                ));
            }
            let body = raw
                .body
                .clone()
                .unwrap_or_else(|| config.default_body.clone());
            if let Err(why) = check_body(&body) {
                problems.push(format!("body {why}"));
            }
            Some(Page::FixedResponse {
                status_code: status_code?,
                content_type,
                body,
            })
        }
        Mode::Forward => match raw.target_group_arn.as_deref() {
            None => {
                problems.push(
                    "target_group_arn is required in forward mode: the target group serving the maintenance page"
                        .into(),
                );
                None
            }
            Some(arn) if !(arn.starts_with("arn:") && arn.contains(":targetgroup/")) => {
                problems.push(format!(
                    "target_group_arn {arn:?} is not a target group ARN"
                ));
                None
            }
            Some(arn) => Some(Page::Forward {
                target_group_arn: arn.to_owned(),
            }),
        },
    }
}

fn parse_status(value: &Value) -> Result<u16, String> {
    let code = match value {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.trim().parse::<u16>().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("status_code {value} is not a number"))?;
    check_status_code(code)
        .map(|()| code)
        .map_err(|why| format!("status_code {why}"))
}

fn check_listener_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "elasticloadbalancing"
        && parts[5].starts_with("listener/app/")
        && parts[5].split('/').count() == 5;
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{arn:?} is not an Application Load Balancer listener ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/NAME/ID/ID)"
        ))
    }
}

fn cidrs(values: &[String], problems: &mut Vec<String>) -> Vec<IpNet> {
    let mut out: Vec<IpNet> = Vec::new();
    for value in values {
        let text = value.trim();
        // A bare address is the one host: operators paste IPs, not CIDRs.
        let parsed = text.parse::<IpNet>().or_else(|_| {
            text.parse::<std::net::IpAddr>()
                .map(IpNet::from)
                .map_err(|_| ())
        });
        match parsed {
            Ok(net) => {
                if let Err(why) = check_cidr(net) {
                    problems.push(format!("bypass_cidrs item {value:?} {why}"));
                    continue;
                }
                if !out.contains(&net) {
                    out.push(net);
                }
            }
            Err(()) => problems.push(format!(
                "bypass_cidrs item {value:?} is not a CIDR (example: 203.0.113.0/24 or 2001:db8::/32)"
            )),
        }
    }
    if out.len() > MAX_BYPASS_CIDRS {
        problems.push(format!(
            "bypass_cidrs has {} CIDRs; at most {MAX_BYPASS_CIDRS} (ALB allows 100 rules per listener)",
            out.len()
        ));
    }
    out
}

fn headers(raw: Option<OneOrMany>, problems: &mut Vec<String>) -> Vec<BypassHeader> {
    let headers = match raw {
        None => Vec::new(),
        Some(OneOrMany::One(h)) => vec![h],
        Some(OneOrMany::Many(hs)) => hs,
    };
    let mut total = 0;
    for h in &headers {
        let name_ok = !h.name.is_empty()
            && h.name.len() <= MAX_HEADER_NAME_CHARS
            && h.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'+-.^_`|~".contains(c));
        if !name_ok {
            problems.push(format!(
                "bypass_header name {:?} must be 1 to {MAX_HEADER_NAME_CHARS} header-name characters, without '*' (ALB takes no wildcards in a header condition's name)",
                h.name
            ));
        }
        if HEADERS_ALB_REFUSES
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&h.name))
        {
            problems.push(format!(
                "bypass_header {:?} is refused: ALB does not take the host header in an http-header condition",
                h.name
            ));
        }
        let address_header = CLIENT_ADDRESS_HEADERS
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&h.name));
        if address_header {
            problems.push(format!(
                "bypass_header {:?} is refused: a client can send this header itself with any address in it (ALB keeps a client's X-Forwarded-For and only appends the address it sees, and a rule matches any copy of the header), so anyone could get through; put the addresses in bypass_cidrs, or use a secret header",
                h.name
            ));
        }
        if h.values.is_empty() {
            problems.push(format!("bypass_header {:?} has no values", h.name));
        }
        for (i, v) in h.values.iter().enumerate() {
            // The value itself is never echoed: it may be the secret.
            if v.is_empty() || v.chars().count() > MAX_HEADER_VALUE_CHARS {
                problems.push(format!(
                    "bypass_header {:?} value #{} must be 1 to {MAX_HEADER_VALUE_CHARS} characters",
                    h.name,
                    i + 1
                ));
            }
            // Whatever the name: the value list above only names the
            // usual headers, and a client can send any header.
            if !address_header && looks_like_address(v) {
                problems.push(format!(
                    "bypass_header {:?} value #{} is refused: it is a client address (an IP address, CIDR or address pattern), which a client can send in any header it likes, so anyone could get through; put the addresses in bypass_cidrs, or use a secret token",
                    h.name,
                    i + 1
                ));
            }
            if v.contains(HEADER_WILDCARDS) {
                problems.push(format!(
                    "bypass_header {:?} value #{} contains '*' or '?', which ALB matches as wildcards in header values (they cannot be escaped), so other values would get through; use a long random token of letters, digits, '-' and '_'",
                    h.name,
                    i + 1
                ));
            }
        }
        total += h.values.len();
    }
    if total > MAX_BYPASS_HEADER_VALUES {
        problems.push(format!(
            "bypass_header has {total} values; at most {MAX_BYPASS_HEADER_VALUES}"
        ));
    }
    headers
}

fn times(
    start: Option<&str>,
    end: Option<&str>,
    now: OffsetDateTime,
    problems: &mut Vec<String>,
) -> Option<Times> {
    let parse = |field: &str, v: Option<&str>, problems: &mut Vec<String>| match v {
        None => {
            problems.push(format!(
                "{field} is required for schedule (RFC 3339, e.g. 2026-12-01T22:00:00Z)"
            ));
            None
        }
        Some(text) => match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(t) => Some(t),
            Err(e) => {
                problems.push(format!(
                    "{field} {text:?} is not an RFC 3339 time (e.g. 2026-12-01T22:00:00Z): {e}"
                ));
                None
            }
        },
    };
    let start_at = parse("start_at", start, problems);
    let end_at = parse("end_at", end, problems);
    let (start_at, end_at) = (start_at?, end_at?);
    if end_at <= start_at {
        problems.push(format!(
            "end_at {} is not after start_at {}",
            format_time(end_at),
            format_time(start_at)
        ));
        return None;
    }
    if end_at <= now {
        problems.push(format!(
            "end_at {} is already past (now {})",
            format_time(end_at),
            format_time(now)
        ));
        return None;
    }
    Some(Times { start_at, end_at })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const L1: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2";
    const NOW: OffsetDateTime = datetime!(2026-11-21 10:00 UTC);

    fn parse(event: Value) -> Result<Request, Error> {
        Request::parse(&event, &Config::default(), NOW)
    }

    fn problems(event: Value) -> Vec<String> {
        match parse(event) {
            Err(Error::InvalidRequest(p)) => p,
            other => panic!("expected InvalidRequest, got {other:?}"),
        }
    }

    #[test]
    fn enable_uses_the_configured_defaults() {
        let config = Config {
            default_body: "<p>soon</p>".into(),
            default_status_code: 502,
            ..Config::default()
        };
        let req = Request::parse(
            &json!({"action": "enable", "window_id": "w1", "listener_arns": [L1]}),
            &config,
            NOW,
        )
        .unwrap();
        let window = req.window.unwrap();
        assert_eq!(
            window.page,
            Page::FixedResponse {
                status_code: 502,
                content_type: "text/html".into(),
                body: "<p>soon</p>".into()
            }
        );
        assert!(window.bypass_cidrs.is_empty());
    }

    #[test]
    fn forward_mode_needs_a_target_group() {
        let p = problems(
            json!({"action": "enable", "window_id": "w1", "listener_arns": [L1],
                                "mode": "forward"}),
        );
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("target_group_arn is required in forward mode"));
        let req = parse(json!({"action": "enable", "window_id": "w1", "listener_arns": [L1],
            "mode": "forward",
            "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/maint/1"}))
        .unwrap();
        assert!(matches!(req.window.unwrap().page, Page::Forward { .. }));
    }

    #[test]
    fn every_validation_error_is_reported_together() {
        let p = problems(json!({
            "action": "enable",
            "window_id": "bad id!",
            "listener_arns": ["arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/net/nlb/1/2", L1, L1],
            "status_code": 302,
            "content_type": "text/xml",
            "body": "x".repeat(1025),
            "bypass_cidrs": ["203.0.113.0/24", "10.0.0.300/8", "2001:db8::/129"],
            "bypass_header": {"name": "X Bad", "values": ["", "s3cr3t-value-123"]},
            "notify_topic_arn": "topic",
            "bypass_cidr": ["typo"],
        }));
        let all = p.join("\n");
        for expected in [
            "unknown field \"bypass_cidr\"",
            "window_id \"bad id!\"",
            "listener/net/nlb/1/2\" is not an Application Load Balancer listener ARN",
            "listener_arns lists a listener more than once",
            "status_code 302 is not allowed",
            "content_type \"text/xml\" is not one ALB allows",
            "body is 1025 characters; ALB allows at most 1024",
            "\"10.0.0.300/8\" is not a CIDR",
            "\"2001:db8::/129\" is not a CIDR",
            "bypass_header name \"X Bad\"",
            "value #1 must be 1 to 128 characters",
            "notify_topic_arn \"topic\" is not an SNS topic ARN",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }
        assert_eq!(p.len(), 12, "{all}");
        assert!(!all.contains("s3cr3t"), "a secret value leaked: {all}");
    }

    #[test]
    fn status_codes_and_content_types() {
        for ok in [200, 204, 403, 418, 503, 599] {
            assert!(check_status_code(ok).is_ok(), "{ok}");
        }
        for bad in [100, 199, 301, 302, 399, 600] {
            assert!(check_status_code(bad).is_err(), "{bad}");
        }
        for ct in CONTENT_TYPES {
            let req = parse(
                json!({"action": "enable", "window_id": "w", "listener_arns": [L1],
                                   "content_type": ct, "status_code": "200"}),
            );
            assert!(req.is_ok(), "{ct}");
        }
        assert!(
            problems(
                json!({"action": "enable", "window_id": "w", "listener_arns": [L1],
                            "status_code": "abc"})
            )[0]
            .contains("not a number")
        );
        // Exactly 1024 characters is allowed, counted as characters, not bytes.
        let body: String = "é".repeat(1024);
        assert!(
            parse(
                json!({"action": "enable", "window_id": "w", "listener_arns": [L1], "body": body})
            )
            .is_ok()
        );
    }

    #[test]
    fn cidrs_are_normalised_and_bare_addresses_accepted() {
        let req = parse(
            json!({"action": "enable", "window_id": "w", "listener_arns": [L1],
            "bypass_cidrs": ["203.0.113.7", "203.0.113.0/24", " 203.0.113.0/24", "2001:db8::/32", "10.0.0.0/8"]}),
        )
        .unwrap();
        let cidrs: Vec<String> = req
            .window
            .unwrap()
            .bypass_cidrs
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            cidrs,
            [
                "203.0.113.7/32",
                "203.0.113.0/24",
                "2001:db8::/32",
                "10.0.0.0/8"
            ]
        );
    }

    /// A host address with a prefix is a typo (or a misunderstanding): made
    /// into its network silently, "203.0.113.9/24" lets 256 addresses in.
    #[test]
    fn a_host_address_with_a_prefix_is_refused_not_widened() {
        let problems = problems(
            json!({"action": "enable", "window_id": "w", "listener_arns": [L1],
            "bypass_cidrs": ["203.0.113.9/24", "2001:db8::1/32"]}),
        );
        let text = problems.join("\n");
        assert_eq!(problems.len(), 2, "{text}");
        assert!(
            text.contains("bypass_cidrs item \"203.0.113.9/24\" has host bits set")
                && text.contains("203.0.113.9/32 for that one host"),
            "{text}"
        );
        assert!(
            text.contains("bypass_cidrs item \"2001:db8::1/32\" has host bits set"),
            "{text}"
        );
    }

    #[test]
    fn required_fields_depend_on_the_action() {
        assert!(problems(json!({}))[0].contains("action is required"));
        assert!(problems(json!({"action": "reboot"}))[0].contains("\"reboot\" is not one of"));
        let p = problems(json!({"action": "enable"}));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(problems(json!({"action": "status"}))[0].contains("listener_arns is required"));
        assert!(problems(json!({"action": "cancel"}))[0].contains("window_id is required"));
        let p = problems(json!({"action": "notify", "window_id": "w", "event": "exploded"}));
        assert!(
            p[0].contains("event \"exploded\" is not one of started"),
            "{p:?}"
        );
        let notify = parse(
            json!({"action": "notify", "event": "enable_failed", "window": {
            "window_id": "w", "listener_arns": [L1], "start_at": "2031-01-01T00:00:00Z"},
            "error": {"Error": "EnableFailed", "Cause": "boom"}}),
        )
        .unwrap();
        assert_eq!(
            notify.notice.unwrap().cause.as_deref(),
            Some("EnableFailed: boom")
        );
        assert!(parse(json!({"action": "windows"})).is_ok());
        assert!(parse(json!({"action": "disable", "listener_arns": [L1]})).is_ok());
        assert!(problems(json!([1]))[0].contains("must be a JSON object"));
    }

    #[test]
    fn schedule_needs_sane_times() {
        let base = json!({"action": "schedule", "window_id": "w", "listener_arns": [L1]});
        let with = |start: &str, end: &str| {
            let mut e = base.clone();
            e["start_at"] = json!(start);
            e["end_at"] = json!(end);
            e
        };
        let p = problems(base.clone());
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            problems(with("2026-12-01T22:00:00Z", "2026-12-01T21:00:00Z"))[0]
                .contains("is not after start_at")
        );
        assert!(
            problems(with("2026-11-01T22:00:00Z", "2026-11-01T23:00:00Z"))[0]
                .contains("already past")
        );
        assert!(problems(with("tomorrow", "2026-12-01T23:00:00Z"))[0].contains("not an RFC 3339"));
        let req = parse(with("2026-12-01T23:00:00+01:00", "2026-12-02T01:30:00.5Z")).unwrap();
        let times = req.times.unwrap();
        assert_eq!(format_time(times.start_at), "2026-12-01T22:00:00Z");
        assert_eq!(format_time(times.end_at), "2026-12-02T01:30:00Z");
    }

    #[test]
    fn the_state_machine_shape_merges_the_window_fields() {
        // A window scheduled before X-Forwarded-For bypasses were refused
        // still ends: disable does not check the bypass settings.
        let req = parse(json!({"action": "disable", "window": {
            "window_id": "w9", "listener_arns": [L1], "start_at": "2026-12-01T22:00:00Z",
            "end_at": "2026-12-01T23:00:00Z", "mode": "fixed-response",
            "bypass_header": [{"name": "X-Forwarded-For", "values": ["203.0.113.*"]}]}}))
        .unwrap();
        assert_eq!(req.action, Action::Disable);
        assert_eq!(req.window_id.as_deref(), Some("w9"));
        assert_eq!(req.listener_arns, [L1]);
    }

    #[test]
    fn secret_header_values_stay_out_of_debug_and_summaries() {
        let req = parse(
            json!({"action": "enable", "window_id": "w", "listener_arns": [L1],
            "bypass_header": [{"name": "X-Maintenance-Bypass", "values": ["hunter2-token"]},
                              {"name": "X-Team", "values": ["fake-team-1", "fake-team-2"]}]}),
        )
        .unwrap();
        let window = req.window.clone().unwrap();
        let shown = format!("{req:?} {}", window.summary());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("fake-team"), "{shown}");
        assert!(shown.contains("1 secret value(s) not shown"), "{shown}");
        assert!(shown.contains("2 secret value(s) not shown"), "{shown}");
        // The state machine's input does carry it: enable needs it.
        assert!(
            Value::Object(window.to_fields())
                .to_string()
                .contains("hunter2-token")
        );
    }

    #[test]
    fn header_bypasses_a_client_can_forge_are_refused() {
        let problems = problems(
            json!({"action": "schedule", "window_id": "w", "listener_arns": [L1],
            "start_at": "2031-01-01T00:00:00Z", "end_at": "2031-01-01T01:00:00Z",
            "bypass_header": [
                {"name": "X-Forwarded-For", "values": ["203.0.113.7"]},
                {"name": "true-client-ip", "values": ["203.0.113.7"]},
                {"name": "X-Bypass", "values": ["fake-?oken", "fake-token-ok", "*"]}]}),
        );
        let text = problems.join("\n");
        assert_eq!(problems.len(), 4, "{text}");
        assert!(
            text.contains("bypass_header \"X-Forwarded-For\" is refused"),
            "{text}"
        );
        assert!(
            text.contains("bypass_header \"true-client-ip\" is refused"),
            "{text}"
        );
        assert!(
            text.contains("\"X-Bypass\" value #1 contains '*' or '?'"),
            "{text}"
        );
        assert!(
            text.contains("\"X-Bypass\" value #3 contains '*' or '?'"),
            "{text}"
        );
        assert!(!text.contains("fake-"), "secrets are not echoed: {text}");
    }

    /// What makes a bypass forgeable is that its values are addresses, not
    /// secrets: any header a client can send with an allowlisted address in
    /// it lets anyone through (and the address would be hidden as a
    /// "secret" in reports), whatever the header is called.
    #[test]
    fn address_bypasses_under_any_header_name_are_refused() {
        let mut accepted = Vec::new();
        for name in [
            "X-Original-Forwarded-For",
            "X-Forwarded",
            "Forwarded-For",
            "Client-IP",
            "X-Originating-IP",
            "X-Remote-Addr",
        ] {
            let event = json!({"action": "schedule", "window_id": "w", "listener_arns": [L1],
                "start_at": "2031-01-01T00:00:00Z", "end_at": "2031-01-01T01:00:00Z",
                "bypass_header": {"name": name, "values": ["203.0.113.7"]}});
            if parse(event).is_ok() {
                accepted.push(name);
            }
        }
        assert!(
            accepted.is_empty(),
            "address bypasses anyone can forge were accepted: {accepted:?}"
        );
        // Every way of writing an address, under a name of the team's own.
        for value in [
            "203.0.113.0/24",
            "2001:db8::7",
            "[2001:db8::7]:443",
            "203.0.113.7:443",
            "for=203.0.113.7",
            "10.0.0.1, 203.0.113.7",
            "203.0.113.",
        ] {
            let problems = problems(json!({"action": "enable", "window_id": "w",
                "listener_arns": [L1],
                "bypass_header": {"name": "X-Team-Bypass", "values": ["fake-token-0001", value]}}));
            let text = problems.join("\n");
            assert_eq!(problems.len(), 1, "{value}: {text}");
            assert!(
                text.contains(
                    "bypass_header \"X-Team-Bypass\" value #2 is refused: it is a client address"
                ),
                "{value}: {text}"
            );
        }
        // Secret tokens (and digits-only ones) are still accepted.
        parse(
            json!({"action": "enable", "window_id": "w", "listener_arns": [L1],
            "bypass_header": {"name": "X-Team-Bypass",
                "values": ["fake-token-0001", "0123456789", "a_B-c.d"]}}),
        )
        .unwrap();
    }

    /// ALB refuses wildcards in an http-header condition's name and the host
    /// header in one; accepted at schedule, the window would only fail at
    /// start_at (CreateRule ValidationError, enable_failed).
    #[test]
    fn header_names_alb_cannot_take_are_refused_when_scheduling() {
        let mut accepted = Vec::new();
        for name in ["Host", "X-Bypass-*", "host"] {
            let event = json!({"action": "schedule", "window_id": "w", "listener_arns": [L1],
                "start_at": "2031-01-01T00:00:00Z", "end_at": "2031-01-01T01:00:00Z",
                "bypass_header": {"name": name, "values": ["fake-token-0001"]}});
            if parse(event).is_ok() {
                accepted.push(name);
            }
        }
        assert!(accepted.is_empty(), "accepted: {accepted:?}");
    }

    /// The CIDR form of a wildcard: a bypass for every address means nobody
    /// sees the maintenance page while every report says maintenance is on.
    /// A typo of "/30" as "/0" would be truncated to it.
    #[test]
    fn a_bypass_for_every_address_is_refused() {
        let mut accepted = Vec::new();
        for cidr in [
            "0.0.0.0/0",
            "::/0",
            "203.0.113.7/0",
            "10.0.0.0/7",
            "2001:db8::/31",
        ] {
            let event = json!({"action": "schedule", "window_id": "w", "listener_arns": [L1],
                "start_at": "2031-01-01T00:00:00Z", "end_at": "2031-01-01T01:00:00Z",
                "bypass_cidrs": [cidr]});
            if parse(event).is_ok() {
                accepted.push(cidr);
            }
        }
        assert!(accepted.is_empty(), "accepted: {accepted:?}");
        let text = problems(
            json!({"action": "enable", "window_id": "w", "listener_arns": [L1],
            "bypass_cidrs": ["0.0.0.0/0"]}),
        )
        .join("\n");
        assert!(
            text.contains("bypass_cidrs item \"0.0.0.0/0\" is too wide")
                && text.contains("at least /8"),
            "{text}"
        );
    }

    #[test]
    fn enable_takes_the_execution_that_sent_it() {
        let arn = "arn:aws:states:eu-west-1:123456789012:execution:maintenance-window:w";
        let req = parse(
            json!({"action": "enable", "window": {"window_id": "w", "listener_arns": [L1]},
            "execution_arn": arn}),
        )
        .unwrap();
        assert_eq!(req.execution_arn.as_deref(), Some(arn));
        let problems = problems(
            json!({"action": "enable", "window_id": "w", "listener_arns": [L1],
            "execution_arn": "release-1"}),
        );
        assert_eq!(
            problems,
            ["execution_arn \"release-1\" is not a Step Functions execution ARN"]
        );
    }
}
