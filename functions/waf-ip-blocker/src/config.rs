//! The function's configuration, read once at cold start.

use ipnet::IpNet;
use shared::config::Env;
use shared::secret::SecretRef;

use crate::detect::{ALL_ACTIONS, ClientIp, Detection, UriRule};
use crate::ipset::IpSetRef;

/// The longest block `BLOCK_MINUTES` may ask for: ten years.
pub const MAX_BLOCK_MINUTES: i64 = 10 * 365 * 24 * 60;

/// WAF's limit on addresses (CIDRs) in one IP set.
pub const IPSET_CAPACITY: usize = 10_000;

/// Collapsing nearby addresses into one prefix when a set is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aggregation {
    /// IPv4 prefix length to collapse into (e.g. 24).
    pub prefix: u8,
    /// Blocked addresses needed in one prefix before it is collapsed.
    pub min: usize,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub ledger_table: String,
    pub ipset_v4: Option<IpSetRef>,
    pub ipset_v6: Option<IpSetRef>,
    pub detection: Detection,
    pub block_seconds: i64,
    pub aggregation: Option<Aggregation>,
    pub allow: Vec<IpNet>,
    pub max_new_blocks: usize,
    pub dry_run: bool,
    pub slack: Option<SecretRef>,
    /// Addresses one set may hold; [`IPSET_CAPACITY`] outside tests.
    pub capacity: usize,
}

impl Config {
    /// Reads every variable; problems are recorded in `env`.
    pub fn from_env(env: &mut Env) -> Self {
        let ledger_table: String = env.required("LEDGER_TABLE", "toilkit-waf-ledger");
        let ipset_v4: Option<IpSetRef> = env.optional(
            "IPSET_V4_ARN",
            "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/blocked-v4/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
        );
        let ipset_v6: Option<IpSetRef> = env.optional(
            "IPSET_V6_ARN",
            "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/blocked-v6/a1b2c3d4-5678-90ab-cdef-EXAMPLE22222",
        );
        if env.raw("IPSET_V4_ARN").is_none() && env.raw("IPSET_V6_ARN").is_none() {
            env.problem(
                "IPSET_V4_ARN",
                "neither IPSET_V4_ARN nor IPSET_V6_ARN is set; at least one IP set is needed",
                "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/blocked-v4/a1b2c3d4",
            );
        }
        let threshold: u32 = env.or_default("THRESHOLD", 100, "100");
        if threshold == 0 {
            env.problem("THRESHOLD", "must be at least 1", "100");
        }
        let window_seconds: i64 = env.or_default("WINDOW_SECONDS", 300, "300");
        if !(60..=86_400).contains(&window_seconds) {
            env.problem("WINDOW_SECONDS", "must be between 60 and 86400", "300");
        }
        let mut count_actions: Vec<String> = env
            .list("COUNT_ACTIONS")
            .into_iter()
            .map(|a| a.to_ascii_uppercase())
            .collect();
        for action in &count_actions {
            if !ALL_ACTIONS.contains(&action.as_str()) {
                let what = format!(
                    "{action:?} is not a WAF action ({})",
                    ALL_ACTIONS.join(", ")
                );
                env.problem("COUNT_ACTIONS", what, "BLOCK,COUNT");
            }
        }
        if count_actions.is_empty() {
            count_actions = ALL_ACTIONS.iter().map(|a| a.to_string()).collect();
        }
        let uri_rules: Vec<UriRule> = env
            .json(
                "URI_RULES",
                r#"[{"path": "/login", "threshold": 20}, {"path": "/static/*", "ignore": true}]"#,
            )
            .unwrap_or_default();
        for rule in &uri_rules {
            if !rule.ignore && rule.threshold.is_none_or(|t| t == 0) {
                env.problem(
                    "URI_RULES",
                    format!(
                        "rule for {:?} needs a threshold of at least 1 or \"ignore\": true",
                        rule.path.as_str()
                    ),
                    r#"[{"path": "/login", "threshold": 20}]"#,
                );
            }
        }
        let client_ip = match env.optional::<String>("CLIENT_IP_HEADER", "X-Forwarded-For") {
            Some(name) => ClientIp::Header {
                name,
                hop: env.or_default("CLIENT_IP_HOP", 1, "1"),
            },
            None => ClientIp::Connection,
        };
        if let ClientIp::Header { hop: 0, .. } = client_ip {
            env.problem(
                "CLIENT_IP_HOP",
                "counts from 1 (the rightmost address)",
                "1",
            );
        }
        let block_minutes: i64 = env.or_default("BLOCK_MINUTES", 240, "240");
        if block_minutes < 1 {
            env.problem("BLOCK_MINUTES", "must be at least 1", "240");
        }
        // Minutes become seconds added to "now": a larger value would
        // overflow (a panic at cold start, or a wrapped expiry in the past).
        if block_minutes > MAX_BLOCK_MINUTES {
            env.problem(
                "BLOCK_MINUTES",
                format!("must be at most {MAX_BLOCK_MINUTES} (ten years)"),
                "240",
            );
        }
        let aggregation = env
            .optional::<u8>("AGGREGATE_V4_PREFIX", "24")
            .map(|prefix| Aggregation {
                prefix,
                min: env.or_default("AGGREGATE_MIN", 10, "10"),
            });
        if let Some(a) = aggregation {
            if !(8..=31).contains(&a.prefix) {
                env.problem("AGGREGATE_V4_PREFIX", "must be between 8 and 31", "24");
            }
            if a.min < 2 {
                env.problem("AGGREGATE_MIN", "must be at least 2", "10");
            }
        }
        let allow = env.list_of::<AllowEntry>("ALLOW_CIDRS", "10.0.0.0/8,2001:db8::/32,192.0.2.10");
        let max_new_blocks = env.or_default("MAX_NEW_BLOCKS_PER_RUN", 1000, "1000");
        let dry_run = env.flag("DRY_RUN", false);
        let slack = SecretRef::slack_webhook_from_env(env);
        Self {
            ledger_table,
            ipset_v4,
            ipset_v6,
            detection: Detection {
                threshold,
                window_seconds,
                count_actions,
                count_labels: env.list("COUNT_LABELS"),
                count_rules: env.list("COUNT_RULES"),
                ignore_uri_suffixes: env.list("IGNORE_URI_SUFFIXES"),
                uri_rules,
                client_ip,
            },
            block_seconds: block_minutes.clamp(1, MAX_BLOCK_MINUTES) * 60,
            aggregation,
            allow: allow.into_iter().map(|a| a.0).collect(),
            max_new_blocks,
            dry_run,
            slack,
            capacity: IPSET_CAPACITY,
        }
    }

    /// Whether `ip` is in `ALLOW_CIDRS`. An IPv4-mapped IPv6 address is
    /// checked as the IPv4 address it is.
    pub fn allowed(&self, ip: std::net::IpAddr) -> bool {
        let ip = crate::detect::normalise(ip);
        self.allow.iter().any(|net| net.contains(&ip))
    }

    /// Whether any allowed address falls inside `net` (an aggregate must not
    /// block one).
    pub fn overlaps_allowed(&self, net: &IpNet) -> bool {
        self.allow
            .iter()
            .any(|a| net.contains(&a.network()) || a.contains(&net.network()))
    }
}

/// An `ALLOW_CIDRS` item: a CIDR or a single address.
struct AllowEntry(IpNet);

impl std::str::FromStr for AllowEntry {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<IpNet>()
            .map(|n| Self(normalise_net(n.trunc())))
            .or_else(|_| {
                s.parse::<std::net::IpAddr>()
                    .map(|ip| Self(IpNet::from(crate::detect::normalise(ip))))
            })
            .map_err(|_| "not an IP address or CIDR".to_owned())
    }
}

/// An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) as the IPv4 network
/// it maps, since addresses are checked in their IPv4 form.
fn normalise_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.network().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                .map(IpNet::V4)
                .unwrap_or(net),
            None => net,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_the_arn_gives_scope_name_and_id() {
        let mut env = Env::from_pairs([
            ("LEDGER_TABLE", "ledger"),
            (
                "IPSET_V6_ARN",
                "arn:aws:wafv2:us-east-1:123456789012:global/ipset/v6/abcd-1234",
            ),
        ]);
        let c = Config::from_env(&mut env);
        env.finish().unwrap();
        assert_eq!(c.detection.threshold, 100);
        assert_eq!(c.detection.window_seconds, 300);
        assert_eq!(c.detection.count_actions.len(), 5);
        assert_eq!(c.block_seconds, 240 * 60);
        assert_eq!(c.max_new_blocks, 1000);
        assert!(!c.dry_run && c.ipset_v4.is_none() && c.aggregation.is_none());
        let v6 = c.ipset_v6.unwrap();
        assert_eq!((v6.name.as_str(), v6.id.as_str()), ("v6", "abcd-1234"));
        assert_eq!(v6.scope, aws_sdk_wafv2::types::Scope::Cloudfront);
    }

    #[test]
    fn every_problem_is_reported_together() {
        let mut env = Env::from_pairs([
            ("THRESHOLD", "0"),
            ("COUNT_ACTIONS", "BLOCK,DROP"),
            ("URI_RULES", r#"[{"path":"/login"}]"#),
            ("ALLOW_CIDRS", "10.0.0.0/8,nonsense"),
            ("CLIENT_IP_HEADER", "X-Forwarded-For"),
            ("CLIENT_IP_HOP", "0"),
            (
                "IPSET_V4_ARN",
                "arn:aws:wafv2:us-east-1:1:regional/webacl/x/y",
            ),
            ("AGGREGATE_V4_PREFIX", "4"),
        ]);
        let _ = Config::from_env(&mut env);
        let text = env.finish().unwrap_err().to_string();
        for name in [
            "LEDGER_TABLE",
            "THRESHOLD",
            "COUNT_ACTIONS: \"DROP\"",
            "URI_RULES",
            "ALLOW_CIDRS: item \"nonsense\"",
            "CLIENT_IP_HOP",
            "IPSET_V4_ARN",
            "AGGREGATE_V4_PREFIX",
        ] {
            assert!(text.contains(name), "{name} missing from: {text}");
        }
    }

    #[test]
    fn the_allowlist_takes_addresses_and_cidrs_of_both_families() {
        let mut env = Env::from_pairs([
            ("LEDGER_TABLE", "ledger"),
            (
                "IPSET_V4_ARN",
                "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/v4/id",
            ),
            ("ALLOW_CIDRS", "192.0.2.7, 10.1.2.3/8, 2001:db8::/32"),
        ]);
        let c = Config::from_env(&mut env);
        env.finish().unwrap();
        assert!(c.allowed("192.0.2.7".parse().unwrap()));
        assert!(!c.allowed("192.0.2.8".parse().unwrap()));
        assert!(c.allowed("10.200.0.1".parse().unwrap()));
        assert!(c.allowed("2001:db8:1::5".parse().unwrap()));
        assert!(c.overlaps_allowed(&"192.0.2.0/24".parse().unwrap()));
        assert!(!c.overlaps_allowed(&"192.0.3.0/24".parse().unwrap()));
    }

    #[test]
    fn ipv4_mapped_addresses_meet_the_ipv4_allowlist() {
        let mut env = Env::from_pairs([
            ("LEDGER_TABLE", "ledger"),
            (
                "IPSET_V4_ARN",
                "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/v4/id",
            ),
            ("ALLOW_CIDRS", "198.51.100.0/24, ::ffff:10.0.0.0/104"),
        ]);
        let c = Config::from_env(&mut env);
        env.finish().unwrap();
        assert!(c.allowed("::ffff:198.51.100.7".parse().unwrap()));
        assert!(c.allowed("10.9.8.7".parse().unwrap()));
        assert!(c.allowed("::ffff:10.9.8.7".parse().unwrap()));
        assert!(!c.allowed("::ffff:203.0.113.7".parse().unwrap()));
    }
}
