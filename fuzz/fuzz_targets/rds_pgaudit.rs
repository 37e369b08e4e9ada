//! RDS for PostgreSQL log lines (`%t:%r:%u@%d:[%p]:` prefix) carrying
//! pgaudit CSV records and authentication failures, through the
//! rds-audit-notifier's whole pure path.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    toilkit_fuzz::rds::check("/aws/rds/instance/pg-1/postgresql", input);
});
