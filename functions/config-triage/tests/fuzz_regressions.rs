//! Inputs the fuzzer (`cargo xtask fuzz`, target `config_env`) found to
//! crash the configuration parser, kept so they never crash it again.

use config_triage::config::Config;
use toilkit_tests::settings::{accepted, rejected};

/// `RENOTIFY_HOURS` at the top of u64 overflowed when turned into seconds:
/// a panic at cold start instead of a configuration error.
#[test]
fn a_renotify_period_too_long_to_count_in_seconds_is_a_configuration_error() {
    let with = |hours| {
        [
            ("STATE_TABLE", "toilkit-config-triage-state"),
            (
                "SLACK_WEBHOOK_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-abc123",
            ),
            ("RENOTIFY_HOURS", hours),
        ]
    };
    for hours in [
        "9223372036854775807",
        "18446744073709551615",
        "5124095576030432",
    ] {
        let err = rejected(with(hours), Config::from_env);
        assert!(err.contains("RENOTIFY_HOURS"), "{err}");
        assert!(err.contains("too long"), "{err}");
    }
    // The largest period that still counts in seconds is accepted.
    let settings = accepted(with("5124095576030431"), Config::from_env);
    assert_eq!(settings.renotify.as_secs(), 5_124_095_576_030_431 * 3600);
}
