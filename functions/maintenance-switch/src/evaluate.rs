//! Which rule of a listener answers a request, as ALB decides it: rules in
//! priority order, the first whose conditions all match wins (values within
//! one condition are alternatives), else the default action.
//!
//! The demo and the tests use it to show what an outside user and a
//! bypassing user get during maintenance, without a real load balancer.

use std::net::IpAddr;

use aws_sdk_elasticloadbalancingv2::types::{Action, RuleCondition};
use ipnet::IpNet;
use shared::pattern::Pattern;

use crate::rules::{ListenerState, RuleState};

/// The parts of an HTTP request that listener rules look at.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub source_ip: IpAddr,
    pub method: String,
    pub host: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
}

impl HttpRequest {
    /// `GET http://<host><path>` from `source_ip`.
    pub fn get(source_ip: IpAddr, host: &str, path: &str) -> Self {
        Self {
            source_ip,
            method: "GET".into(),
            host: host.into(),
            path: path.into(),
            headers: Vec::new(),
            query: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn header(&self, name: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The rule that answered (`None`: the default action) and its actions.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome<'a> {
    pub rule: Option<&'a RuleState>,
    pub actions: &'a [Action],
}

pub fn evaluate<'a>(listener: &'a ListenerState, request: &HttpRequest) -> Outcome<'a> {
    let mut rules: Vec<&RuleState> = listener.rules.iter().collect();
    rules.sort_by_key(|r| r.priority);
    rules
        .into_iter()
        .find(|r| r.conditions.iter().all(|c| matches(c, request)))
        .map(|r| Outcome {
            rule: Some(r),
            actions: &r.actions,
        })
        .unwrap_or(Outcome {
            rule: None,
            actions: &listener.default_actions,
        })
}

/// Whether one condition matches. A condition of a kind this evaluator does
/// not know never matches, so it can only under-report a match.
pub fn matches(condition: &RuleCondition, request: &HttpRequest) -> bool {
    let legacy = condition.values.clone().unwrap_or_default();
    match condition.field.as_deref() {
        Some("source-ip") => {
            let values = condition
                .source_ip_config
                .as_ref()
                .and_then(|c| c.values.clone())
                .unwrap_or(legacy);
            values
                .iter()
                .filter_map(|v| v.parse::<IpNet>().ok())
                .any(|net| net.contains(&request.source_ip))
        }
        Some("path-pattern") => {
            let values = condition
                .path_pattern_config
                .as_ref()
                .and_then(|c| c.values.clone())
                .unwrap_or(legacy);
            // Path patterns are case-sensitive.
            values
                .iter()
                .any(|p| Pattern::new(p).matches(&request.path))
        }
        Some("host-header") => {
            let values = condition
                .host_header_config
                .as_ref()
                .and_then(|c| c.values.clone())
                .unwrap_or(legacy);
            values.iter().any(|p| wild_ci(p, &request.host))
        }
        Some("http-header") => {
            let Some(cfg) = &condition.http_header_config else {
                return false;
            };
            let name = cfg.http_header_name.as_deref().unwrap_or("");
            let values = cfg.values.clone().unwrap_or_default();
            request
                .header(name)
                .any(|got| values.iter().any(|p| wild_ci(p, got)))
        }
        Some("http-request-method") => condition
            .http_request_method_config
            .as_ref()
            .and_then(|c| c.values.as_ref())
            .is_some_and(|vs| vs.contains(&request.method)),
        Some("query-string") => condition
            .query_string_config
            .as_ref()
            .and_then(|c| c.values.as_ref())
            .is_some_and(|pairs| {
                pairs.iter().any(|pair| {
                    let value = pair.value.as_deref().unwrap_or("");
                    request.query.iter().any(|(k, v)| {
                        pair.key.as_deref().is_none_or(|key| wild_ci(key, k)) && wild_ci(value, v)
                    })
                })
            }),
        _ => false,
    }
}

/// Host and header matches ignore case.
fn wild_ci(pattern: &str, text: &str) -> bool {
    Pattern::new(&pattern.to_lowercase()).matches(&text.to_lowercase())
}

/// One line saying what a rule matches, for people; secret header values
/// are not shown.
pub fn describe_conditions(conditions: &[RuleCondition]) -> String {
    conditions
        .iter()
        .map(|c| {
            let (field, values) = crate::rules::condition_key(c);
            match field.as_str() {
                "http-header" => {
                    let name = c
                        .http_header_config
                        .as_ref()
                        .and_then(|h| h.http_header_name.as_deref())
                        .unwrap_or("?");
                    let bypass = crate::window::BypassHeader {
                        name: name.to_owned(),
                        values: c
                            .http_header_config
                            .as_ref()
                            .and_then(|h| h.values.clone())
                            .unwrap_or_default(),
                    };
                    let shown = if bypass.is_secret() {
                        "(secret)".to_owned()
                    } else {
                        bypass.values.join(" | ")
                    };
                    format!("header {name} = {shown}")
                }
                "source-ip" => format!("source IP in {}", values.join(" | ")),
                "path-pattern" => format!("path {}", values.join(" | ")),
                "host-header" => format!("host {}", values.join(" | ")),
                other => format!("{other} {}", values.join(" | ")),
            }
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// One line saying what an action does, for people.
pub fn describe_actions(actions: &[Action]) -> String {
    actions
        .iter()
        .map(|a| {
            if let Some(f) = &a.fixed_response_config {
                format!(
                    "fixed response {} ({})",
                    f.status_code.as_deref().unwrap_or("?"),
                    f.content_type.as_deref().unwrap_or("no content type")
                )
            } else if let Some(tg) = a.target_group_arn.as_deref().or_else(|| {
                a.forward_config
                    .as_ref()
                    .and_then(|f| f.target_groups.as_ref())
                    .and_then(|t| t.first())
                    .and_then(|t| t.target_group_arn.as_deref())
            }) {
                let name = tg.split(":targetgroup/").nth(1).unwrap_or(tg);
                let name = name.split('/').next().unwrap_or(name);
                format!("forward to target group {name}")
            } else if let Some(r) = &a.redirect_config {
                format!(
                    "redirect {} to {}:{}",
                    r.status_code.as_ref().map(|s| s.as_str()).unwrap_or("?"),
                    r.protocol.as_deref().unwrap_or("#{protocol}"),
                    r.port.as_deref().unwrap_or("#{port}")
                )
            } else {
                a.r#type
                    .as_ref()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_else(|| "unknown action".into())
            }
        })
        .collect::<Vec<_>>()
        .join(", then ")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use aws_sdk_elasticloadbalancingv2::types::{
        ActionTypeEnum, FixedResponseActionConfig, HostHeaderConditionConfig,
        HttpHeaderConditionConfig, HttpRequestMethodConditionConfig, PathPatternConditionConfig,
        SourceIpConditionConfig,
    };

    use super::*;

    fn forward(name: &str) -> Action {
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(format!(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{name}/1"
            ))
            .build()
    }

    fn rule(priority: u32, conditions: Vec<RuleCondition>, action: Action) -> RuleState {
        RuleState {
            arn: format!("rule-{priority}"),
            priority,
            conditions,
            actions: vec![action],
            tags: BTreeMap::new(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn listener() -> ListenerState {
        let maintenance = Action::builder()
            .r#type(ActionTypeEnum::FixedResponse)
            .fixed_response_config(
                FixedResponseActionConfig::builder()
                    .status_code("503")
                    .content_type("text/html")
                    .build(),
            )
            .build();
        ListenerState {
            arn: "l".into(),
            default_actions: vec![forward("web")],
            rules: vec![
                rule(
                    20,
                    vec![
                        RuleCondition::builder()
                            .field("path-pattern")
                            .path_pattern_config(
                                PathPatternConditionConfig::builder()
                                    .values("/api/*")
                                    .build(),
                            )
                            .build(),
                        RuleCondition::builder()
                            .field("http-request-method")
                            .http_request_method_config(
                                HttpRequestMethodConditionConfig::builder()
                                    .values("POST")
                                    .build(),
                            )
                            .build(),
                    ],
                    forward("api"),
                ),
                rule(
                    10,
                    vec![
                        RuleCondition::builder()
                            .field("host-header")
                            .host_header_config(
                                HostHeaderConditionConfig::builder()
                                    .values("*.Admin.example.com")
                                    .build(),
                            )
                            .build(),
                    ],
                    forward("admin"),
                ),
                rule(
                    2,
                    vec![
                        RuleCondition::builder()
                            .field("path-pattern")
                            .values("*")
                            .build(),
                    ],
                    maintenance,
                ),
                rule(
                    1,
                    vec![
                        RuleCondition::builder()
                            .field("source-ip")
                            .source_ip_config(
                                SourceIpConditionConfig::builder()
                                    .values("203.0.113.0/24")
                                    .values("2001:db8::/32")
                                    .build(),
                            )
                            .build(),
                    ],
                    forward("web"),
                ),
                rule(
                    0,
                    vec![
                        RuleCondition::builder()
                            .field("http-header")
                            .http_header_config(
                                HttpHeaderConditionConfig::builder()
                                    .http_header_name("X-Bypass")
                                    .values("s3cret")
                                    .build(),
                            )
                            .build(),
                    ],
                    forward("web"),
                ),
            ],
        }
    }

    #[test]
    fn the_lowest_matching_priority_wins() {
        let l = listener();
        let outside = evaluate(
            &l,
            &HttpRequest::get(ip("198.51.100.1"), "shop.example.com", "/"),
        );
        assert_eq!(outside.rule.unwrap().priority, 2);
        assert_eq!(
            describe_actions(outside.actions),
            "fixed response 503 (text/html)"
        );
        let v4 = evaluate(
            &l,
            &HttpRequest::get(ip("203.0.113.77"), "shop.example.com", "/"),
        );
        assert_eq!(v4.rule.unwrap().priority, 1);
        assert_eq!(describe_actions(v4.actions), "forward to target group web");
        let v6 = evaluate(&l, &HttpRequest::get(ip("2001:db8:1::5"), "x", "/"));
        assert_eq!(v6.rule.unwrap().priority, 1);
        let outside_v6 = evaluate(&l, &HttpRequest::get(ip("2001:db9::5"), "x", "/"));
        assert_eq!(outside_v6.rule.unwrap().priority, 2);
        let header =
            HttpRequest::get(ip("198.51.100.1"), "x", "/").with_header("x-bypass", "S3CRET");
        assert_eq!(evaluate(&l, &header).rule.unwrap().priority, 0);
    }

    #[test]
    fn all_conditions_must_match_and_the_default_answers_the_rest() {
        let mut l = listener();
        l.rules.retain(|r| r.priority >= 10);
        let mut post = HttpRequest::get(ip("198.51.100.1"), "shop.example.com", "/api/orders");
        assert!(
            evaluate(&l, &post).rule.is_none(),
            "GET does not match the POST rule"
        );
        post.method = "POST".into();
        assert_eq!(evaluate(&l, &post).rule.unwrap().priority, 20);
        let admin = HttpRequest::get(ip("198.51.100.1"), "eu.admin.EXAMPLE.com", "/api/orders");
        assert_eq!(evaluate(&l, &admin).rule.unwrap().priority, 10);
        let other = HttpRequest::get(ip("198.51.100.1"), "shop.example.com", "/API/orders");
        let outcome = evaluate(&l, &other);
        assert!(outcome.rule.is_none(), "path patterns are case-sensitive");
        assert_eq!(outcome.actions, l.default_actions.as_slice());
    }
}
