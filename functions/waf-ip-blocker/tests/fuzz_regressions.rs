//! Inputs the fuzzer (`cargo xtask fuzz`, target `config_env`) found to
//! crash the configuration parser, kept so they never crash it again.

use toilkit_tests::settings::{accepted, rejected};
use waf_ip_blocker::config::{Config, MAX_BLOCK_MINUTES};

const V4: &str = "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/blocked-v4/a1b2c3d4";

/// `BLOCK_MINUTES` near the top of i64 overflowed when turned into
/// seconds: a panic at cold start instead of a configuration error.
#[test]
fn a_block_too_long_to_count_in_seconds_is_a_configuration_error() {
    let with = |minutes| {
        [
            ("LEDGER_TABLE", "toilkit-waf-ledger"),
            ("IPSET_V4_ARN", V4),
            ("BLOCK_MINUTES", minutes),
        ]
    };
    for minutes in ["9223372036854775807", "153722867280912931", "5256001"] {
        let err = rejected(with(minutes), Config::from_env);
        assert!(err.contains("BLOCK_MINUTES"), "{err}");
        assert!(err.contains("at most"), "{err}");
    }
    let config = accepted(with("5256000"), Config::from_env);
    assert_eq!(config.block_seconds, MAX_BLOCK_MINUTES * 60);
}
