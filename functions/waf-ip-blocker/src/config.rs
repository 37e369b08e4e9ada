//! The function's configuration, read once at cold start.

use ipnet::IpNet;
use shared::config::{Constraint, Env, Kind, Parameter, Required, Setting, Source};
use shared::secret::SecretRef;
use shared::settings;

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
        let ledger_table: String = env.required(&LEDGER_TABLE);
        let ipset_v4: Option<IpSetRef> = env.optional(&IPSET_V4_ARN);
        let ipset_v6: Option<IpSetRef> = env.optional(&IPSET_V6_ARN);
        if env.raw(&IPSET_V4_ARN).is_none() && env.raw(&IPSET_V6_ARN).is_none() {
            env.problem(
                IPSET_V4_ARN.name,
                "neither IPSET_V4_ARN nor IPSET_V6_ARN is set; at least one IP set is needed",
                "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/blocked-v4/a1b2c3d4",
            );
        }
        let threshold: u32 = env.or_default(&THRESHOLD);
        if threshold == 0 {
            env.invalid(&THRESHOLD, "must be at least 1");
        }
        let window_seconds: i64 = env.or_default(&WINDOW_SECONDS);
        if !(60..=86_400).contains(&window_seconds) {
            env.invalid(&WINDOW_SECONDS, "must be between 60 and 86400");
        }
        let mut count_actions: Vec<String> = env
            .list(&COUNT_ACTIONS)
            .into_iter()
            .map(|a| a.to_ascii_uppercase())
            .collect();
        for action in &count_actions {
            if !ALL_ACTIONS.contains(&action.as_str()) {
                let what = format!(
                    "{action:?} is not a WAF action ({})",
                    ALL_ACTIONS.join(", ")
                );
                env.invalid(&COUNT_ACTIONS, what);
            }
        }
        if count_actions.is_empty() {
            count_actions = ALL_ACTIONS.iter().map(|a| a.to_string()).collect();
        }
        let uri_rules: Vec<UriRule> = env.json(&URI_RULES).unwrap_or_default();
        for rule in &uri_rules {
            if !rule.ignore && rule.threshold.is_none_or(|t| t == 0) {
                env.problem(
                    URI_RULES.name,
                    format!(
                        "rule for {:?} needs a threshold of at least 1 or \"ignore\": true",
                        rule.path.as_str()
                    ),
                    r#"[{"path": "/login", "threshold": 20}]"#,
                );
            }
        }
        let client_ip = match env.optional::<String>(&CLIENT_IP_HEADER) {
            Some(name) => ClientIp::Header {
                name,
                hop: env.or_default(&CLIENT_IP_HOP),
            },
            None => ClientIp::Connection,
        };
        if let ClientIp::Header { name, .. } = &client_ip
            && (name.len() > 128 || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'))
        {
            // The template refuses these too; a function deployed without
            // it must not read a name WAF never writes as a header.
            env.invalid(
                &CLIENT_IP_HEADER,
                "must be an HTTP header name: up to 128 letters, digits and -",
            );
        }
        if let ClientIp::Header { hop: 0, .. } = client_ip {
            env.invalid(&CLIENT_IP_HOP, "counts from 1 (the rightmost address)");
        }
        let block_minutes: i64 = env.or_default(&BLOCK_MINUTES);
        if block_minutes < 1 {
            env.invalid(&BLOCK_MINUTES, "must be at least 1");
        }
        // Minutes become seconds added to "now": a larger value would
        // overflow (a panic at cold start, or a wrapped expiry in the past).
        if block_minutes > MAX_BLOCK_MINUTES {
            env.invalid(
                &BLOCK_MINUTES,
                format!("must be at most {MAX_BLOCK_MINUTES} (ten years)"),
            );
        }
        let aggregation = env
            .optional::<u8>(&AGGREGATE_V4_PREFIX)
            .map(|prefix| Aggregation {
                prefix,
                min: env.or_default(&AGGREGATE_MIN),
            });
        if let Some(a) = aggregation {
            if !(8..=31).contains(&a.prefix) {
                env.invalid(&AGGREGATE_V4_PREFIX, "must be between 8 and 31");
            }
            if a.min < 2 {
                env.invalid(&AGGREGATE_MIN, "must be at least 2");
            }
        }
        let allow = env.list_of::<AllowEntry>(&ALLOW_CIDRS);
        let max_new_blocks = env.or_default(&MAX_NEW_BLOCKS_PER_RUN);
        let dry_run = env.flag(&DRY_RUN);
        let slack = SecretRef::slack_webhook_from_env(env);
        Self {
            ledger_table,
            ipset_v4,
            ipset_v6,
            detection: Detection {
                threshold,
                window_seconds,
                count_actions,
                count_labels: env.list(&COUNT_LABELS),
                count_rules: env.list(&COUNT_RULES),
                ignore_uri_suffixes: env.list(&IGNORE_URI_SUFFIXES),
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

    /// What spreads addresses over window items ([`crate::tally`]): a hash
    /// of the IP sets' ids, which AWS chose at random and no log shows. An
    /// attacker who cannot tell which addresses share an item cannot fill
    /// the item of the address they attack. Another IP set moves the
    /// counters of the window in progress to other items, once.
    pub fn window_salt(&self) -> u64 {
        let ids: Vec<&str> = [&self.ipset_v4, &self.ipset_v6]
            .into_iter()
            .flatten()
            .map(|set| set.id.as_str())
            .collect();
        shared::dynamo::stable_hash(ids.join(" ").as_bytes())
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

/// Every variable the function reads, in the order the README and the
/// template list them (`cargo xtask gen` writes both from this list).
pub const SETTINGS: &[Setting] = &[
    LEDGER_TABLE,
    IPSET_V4_ARN,
    IPSET_V6_ARN,
    THRESHOLD,
    WINDOW_SECONDS,
    COUNT_ACTIONS,
    COUNT_LABELS,
    COUNT_RULES,
    IGNORE_URI_SUFFIXES,
    URI_RULES,
    CLIENT_IP_HEADER,
    CLIENT_IP_HOP,
    BLOCK_MINUTES,
    AGGREGATE_V4_PREFIX,
    AGGREGATE_MIN,
    ALLOW_CIDRS,
    MAX_NEW_BLOCKS_PER_RUN,
    DRY_RUN,
    Setting {
        description: "Secrets Manager secret with the Slack webhook for the summary of new blocks (not with `SLACK_WEBHOOK_PARAMETER`).",
        ..settings::SLACK_WEBHOOK_SECRET_ARN
    },
    Setting {
        description: "SSM SecureString parameter with the Slack webhook (not with `SLACK_WEBHOOK_SECRET_ARN`).",
        ..settings::SLACK_WEBHOOK_PARAMETER
    },
    settings::RESULT_EVENT_BUS,
    settings::RESULT_LABEL,
];

pub const LEDGER_TABLE: Setting = Setting {
    name: "LEDGER_TABLE",
    kind: Kind::Text,
    required: Required::Yes,
    default: None,
    example: "toilkit-waf-ledger",
    description: "DynamoDB table (key `pk`, TTL `expires_at`) holding blocks, window counts and counted objects.",
    source: Source::Template("!Ref WafLedgerTable"),
};

pub const IPSET_V4_ARN: Setting = Setting {
    name: "IPSET_V4_ARN",
    kind: Kind::Text,
    required: Required::OneOf("one of the two"),
    default: None,
    example: "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/blocked-v4/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
    description: "IPv4 IP set to write; scope (`regional` or `global` = CloudFront), Region, name and id come from the ARN.",
    source: Source::Parameter(Parameter {
        name: "WafIpSetV4Arn",
        constraint: Constraint::Pattern {
            pattern: "^$|^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:(regional|global)/ipset/[A-Za-z0-9_-]{1,128}/[A-Za-z0-9-]{1,64}$",
            description: Some("Empty, or a WAFv2 IP set ARN."),
        },
        max_length: Some(256),
        default: None,
        attribute: None,
    }),
};

pub const IPSET_V6_ARN: Setting = Setting {
    name: "IPSET_V6_ARN",
    kind: Kind::Text,
    required: Required::OneOf("one of the two"),
    default: None,
    example: "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/blocked-v6/a1b2c3d4-5678-90ab-cdef-EXAMPLE22222",
    description: "IPv6 IP set to write.",
    source: Source::Parameter(Parameter {
        name: "WafIpSetV6Arn",
        constraint: Constraint::Pattern {
            pattern: "^$|^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:(regional|global)/ipset/[A-Za-z0-9_-]{1,128}/[A-Za-z0-9-]{1,64}$",
            description: Some("Empty, or a WAFv2 IP set ARN."),
        },
        max_length: Some(256),
        default: None,
        attribute: None,
    }),
};

pub const THRESHOLD: Setting = Setting {
    name: "THRESHOLD",
    kind: Kind::Number,
    required: Required::No,
    default: Some("100"),
    example: "100",
    description: "Requests per window that flag an IP.",
    source: Source::Parameter(Parameter {
        name: "WafThreshold",
        constraint: Constraint::Range {
            min: 1,
            max: 999999999,
        },
        max_length: None,
        default: None,
        attribute: Some("threshold"),
    }),
};

pub const WINDOW_SECONDS: Setting = Setting {
    name: "WINDOW_SECONDS",
    kind: Kind::Number,
    required: Required::No,
    default: Some("300"),
    example: "300",
    description: "Window length in seconds, aligned to UTC (60 to 86400).",
    source: Source::Parameter(Parameter {
        name: "WafWindowSeconds",
        constraint: Constraint::Range {
            min: 60,
            max: 86400,
        },
        max_length: None,
        default: None,
        attribute: Some("window_seconds"),
    }),
};

pub const COUNT_ACTIONS: Setting = Setting {
    name: "COUNT_ACTIONS",
    kind: Kind::List,
    required: Required::No,
    default: Some("ALLOW,BLOCK,COUNT,CAPTCHA,CHALLENGE"),
    example: "BLOCK,COUNT",
    description: "WAF actions whose requests count.",
    source: Source::Parameter(Parameter {
        name: "WafCountActions",
        constraint: Constraint::Pattern {
            pattern: "^$|^(ALLOW|BLOCK|COUNT|CAPTCHA|CHALLENGE)(,(ALLOW|BLOCK|COUNT|CAPTCHA|CHALLENGE))*$",
            description: Some("A comma-separated list of ALLOW, BLOCK, COUNT, CAPTCHA, CHALLENGE."),
        },
        max_length: Some(64),
        default: None,
        attribute: Some("count_actions"),
    }),
};

pub const COUNT_LABELS: Setting = Setting {
    name: "COUNT_LABELS",
    kind: Kind::List,
    required: Required::No,
    default: None,
    example: "awswaf:managed:aws:known-bad-inputs:Log4JRCE_Header",
    description: "If set (with or without `COUNT_RULES`), only requests carrying one of these labels (or terminated by a `COUNT_RULES` rule) count.",
    source: Source::Parameter(Parameter {
        name: "WafCountLabels",
        constraint: settings::PRINTABLE_ONE_LINE,
        max_length: Some(128),
        default: None,
        attribute: Some("count_labels"),
    }),
};

pub const COUNT_RULES: Setting = Setting {
    name: "COUNT_RULES",
    kind: Kind::List,
    required: Required::No,
    default: None,
    example: "AWS-AWSManagedRulesKnownBadInputsRuleSet,ScannerProbe",
    description: "If set, only requests terminated by one of these rules (`terminatingRuleId`, or carrying a `COUNT_LABELS` label) count.",
    source: Source::Parameter(Parameter {
        name: "WafCountRules",
        constraint: settings::PRINTABLE_ONE_LINE,
        max_length: Some(128),
        default: None,
        attribute: Some("count_rules"),
    }),
};

pub const IGNORE_URI_SUFFIXES: Setting = Setting {
    name: "IGNORE_URI_SUFFIXES",
    kind: Kind::List,
    required: Required::No,
    default: None,
    example: ".css,.js,.png,.ico",
    description: "Requests whose URI ends with one of these do not count.",
    source: Source::Parameter(Parameter {
        name: "WafIgnoreUriSuffixes",
        constraint: settings::PRINTABLE_ONE_LINE,
        max_length: Some(128),
        default: None,
        attribute: Some("ignore_uri_suffixes"),
    }),
};

pub const URI_RULES: Setting = Setting {
    name: "URI_RULES",
    kind: Kind::Json(
        "list(object({\n  path      = string\n  threshold = optional(number)\n  ignore    = optional(bool)\n}))",
    ),
    required: Required::No,
    default: None,
    example: r#"[{"path": "/login", "threshold": 20}, {"path": "/static/*", "ignore": true}]"#,
    description: "Per-path thresholds or exclusions (wildcards `*` and `?`); the first matching rule applies.",
    source: Source::Parameter(Parameter {
        name: "WafUriRules",
        constraint: settings::JSON_ARRAY,
        max_length: Some(512),
        default: None,
        attribute: Some("uri_rules"),
    }),
};

pub const CLIENT_IP_HEADER: Setting = Setting {
    name: "CLIENT_IP_HEADER",
    kind: Kind::Text,
    required: Required::No,
    default: None,
    example: "X-Forwarded-For",
    description: "Take the client IP from this request header instead of `httpRequest.clientIp` (only behind a proxy you trust: the README's \"Client IP behind proxies\" says why).",
    source: Source::Parameter(Parameter {
        name: "WafClientIpHeader",
        constraint: Constraint::Pattern {
            pattern: "^$|^[A-Za-z0-9-]{1,128}$",
            description: Some("Empty, or an HTTP header name."),
        },
        max_length: None,
        default: None,
        attribute: Some("client_ip_header"),
    }),
};

pub const CLIENT_IP_HOP: Setting = Setting {
    name: "CLIENT_IP_HOP",
    kind: Kind::Number,
    required: Required::No,
    default: Some("1"),
    example: "1",
    description: "Which address of `CLIENT_IP_HEADER`, counted from the right (1 = the last, added by the nearest proxy).",
    source: Source::Parameter(Parameter {
        name: "WafClientIpHop",
        constraint: Constraint::Range { min: 1, max: 32 },
        max_length: None,
        default: None,
        attribute: Some("client_ip_hop"),
    }),
};

pub const BLOCK_MINUTES: Setting = Setting {
    name: "BLOCK_MINUTES",
    kind: Kind::Number,
    required: Required::No,
    default: Some("240"),
    example: "240",
    description: "How long a block lasts; an IP that offends again is extended.",
    source: Source::Parameter(Parameter {
        name: "WafBlockMinutes",
        constraint: Constraint::Range {
            min: 1,
            max: 5256000,
        },
        max_length: None,
        default: None,
        attribute: Some("block_minutes"),
    }),
};

pub const AGGREGATE_V4_PREFIX: Setting = Setting {
    name: "AGGREGATE_V4_PREFIX",
    kind: Kind::Number,
    required: Required::No,
    default: None,
    example: "24",
    description: "When the set is full, collapse IPv4 addresses into prefixes of this length (8 to 31).",
    source: Source::Parameter(Parameter {
        name: "WafAggregateV4Prefix",
        constraint: Constraint::Pattern {
            pattern: "^$|^(8|9|[12][0-9]|3[01])$",
            description: Some("Empty, or an IPv4 prefix length from 8 to 31."),
        },
        max_length: None,
        default: None,
        attribute: Some("aggregate_v4_prefix"),
    }),
};

pub const AGGREGATE_MIN: Setting = Setting {
    name: "AGGREGATE_MIN",
    kind: Kind::Number,
    required: Required::No,
    default: Some("10"),
    example: "10",
    description: "Blocked addresses one prefix needs before it is collapsed.",
    source: Source::Parameter(Parameter {
        name: "WafAggregateMin",
        constraint: Constraint::Range {
            min: 2,
            max: 999999999,
        },
        max_length: None,
        default: None,
        attribute: Some("aggregate_min"),
    }),
};

pub const ALLOW_CIDRS: Setting = Setting {
    name: "ALLOW_CIDRS",
    kind: Kind::List,
    required: Required::No,
    default: None,
    example: "10.0.0.0/8,2001:db8::/32,192.0.2.10",
    description: "Addresses and CIDRs (IPv4 and IPv6) that are never blocked.",
    source: Source::Parameter(Parameter {
        name: "WafAllowCidrs",
        constraint: Constraint::Pattern {
            pattern: "^[0-9A-Fa-f:./, ]*$",
            description: Some(
                "Comma-separated IPv4/IPv6 CIDRs, at most 1024 characters (aggregate into wider CIDRs; the environment is limited to 4 KB).",
            ),
        },
        max_length: Some(1024),
        default: None,
        attribute: Some("allow_cidrs"),
    }),
};

pub const MAX_NEW_BLOCKS_PER_RUN: Setting = Setting {
    name: "MAX_NEW_BLOCKS_PER_RUN",
    kind: Kind::Number,
    required: Required::No,
    default: Some("1000"),
    example: "1000",
    description: "Most new blocks per run; the rest are reported and wait.",
    source: Source::Parameter(Parameter {
        name: "WafMaxNewBlocksPerRun",
        constraint: Constraint::Range {
            min: 1,
            max: 999999999,
        },
        max_length: None,
        default: None,
        attribute: Some("max_new_blocks_per_run"),
    }),
};

pub const DRY_RUN: Setting = settings::dry_run("WafDryRun", settings::DRY_RUN.description);

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
    use toilkit_tests::settings::{assert_names_all, rejected};

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
        let text = rejected(
            [
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
            ],
            Config::from_env,
        );
        assert_names_all(
            &text,
            &[
                "LEDGER_TABLE",
                "THRESHOLD",
                "COUNT_ACTIONS: \"DROP\"",
                "URI_RULES",
                "ALLOW_CIDRS: item \"nonsense\"",
                "CLIENT_IP_HOP",
                "IPSET_V4_ARN",
                "AGGREGATE_V4_PREFIX",
            ],
        );
    }

    #[test]
    fn a_client_ip_header_must_be_a_header_name() {
        for bad in [r#"x","value":"y"#, "X Forwarded For", r"X\u002dF"] {
            let text = rejected(
                [
                    ("LEDGER_TABLE", "ledger"),
                    (
                        "IPSET_V4_ARN",
                        "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/v4/id",
                    ),
                    ("CLIENT_IP_HEADER", bad),
                ],
                Config::from_env,
            );
            assert_names_all(&text, &["CLIENT_IP_HEADER"]);
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
