//! RDS for MySQL/MariaDB audit plugin records (`YYYYMMDD HH:MM:SS`
//! timestamps) through the rds-audit-notifier's whole pure path: line
//! assembly, the parser, classification, redaction and the Slack messages.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    toilkit_fuzz::rds::check("/aws/rds/instance/db-1/audit", input);
});
