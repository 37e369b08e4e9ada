//! Logging set-up, shared so every function logs the same way.
//!
//! It behaves as the Lambda runtime's default subscriber does: JSON lines
//! when `AWS_LAMBDA_LOG_FORMAT=JSON`, the level from `AWS_LAMBDA_LOG_LEVEL`
//! (Lambda's logging controls) or `RUST_LOG`, no timestamps (Lambda adds
//! them). The filter is a `Targets` list (`info,aws_smithy_runtime=debug`)
//! rather than an `EnvFilter`: the latter's regex engine is about half a
//! megabyte of every binary, for span and field filters nobody sets here.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Installs the subscriber for the process; call once, first thing in `main`.
pub fn init() {
    let filter = filter(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let lines = fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(std::io::stdout);
    let registry = tracing_subscriber::registry();
    // A second init (tests, demos) keeps the first subscriber.
    let _ = if json {
        registry.with(lines.json().with_filter(filter)).try_init()
    } else {
        registry.with(lines.with_filter(filter)).try_init()
    };
}

/// `RUST_LOG` directives (`target=level`, comma separated) over a default
/// level: `AWS_LAMBDA_LOG_LEVEL`, else a bare level in `RUST_LOG`, else INFO.
/// Lambda's `TRACE`…`FATAL` names are accepted; `FATAL` means errors only.
fn filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let directives: Targets = rust_log
        .and_then(|text| text.parse().ok())
        .unwrap_or_default();
    let level = lambda_level
        .and_then(level)
        .or(directives.default_level())
        .unwrap_or(LevelFilter::INFO);
    directives.with_default(level)
}

fn level(name: &str) -> Option<LevelFilter> {
    if name.eq_ignore_ascii_case("fatal") {
        return Some(LevelFilter::ERROR);
    }
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn enabled(filter: &Targets, target: &str, level: Level) -> bool {
        filter.would_enable(target, &level)
    }

    #[test]
    fn lambda_level_is_the_default_and_rust_log_targets_refine_it() {
        let f = filter(Some("WARN"), Some("aws_smithy_runtime=debug"));
        assert!(enabled(&f, "waf_ip_blocker", Level::WARN));
        assert!(!enabled(&f, "waf_ip_blocker", Level::INFO));
        assert!(enabled(&f, "aws_smithy_runtime::client", Level::DEBUG));
    }

    #[test]
    fn without_settings_the_level_is_info() {
        let f = filter(None, None);
        assert!(enabled(&f, "shared", Level::INFO));
        assert!(!enabled(&f, "shared", Level::DEBUG));
    }

    #[test]
    fn a_bare_rust_log_level_applies_when_lambda_sets_none() {
        let f = filter(None, Some("debug"));
        assert!(enabled(&f, "shared", Level::DEBUG));
        assert!(!enabled(&f, "shared", Level::TRACE));
    }

    #[test]
    fn fatal_means_errors_only_and_nonsense_falls_back_to_info() {
        let f = filter(Some("FATAL"), None);
        assert!(enabled(&f, "shared", Level::ERROR));
        assert!(!enabled(&f, "shared", Level::WARN));
        let f = filter(Some("loud"), Some("=[bad"));
        assert!(enabled(&f, "shared", Level::INFO));
        assert!(!enabled(&f, "shared", Level::DEBUG));
    }
}
