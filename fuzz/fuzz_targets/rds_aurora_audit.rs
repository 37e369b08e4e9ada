//! Aurora MySQL advanced auditing records (timestamps in microseconds since
//! the epoch, TABLE rows with an empty retcode) through the
//! rds-audit-notifier's whole pure path.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    toilkit_fuzz::rds::check("/aws/rds/cluster/aurora-1/audit", input);
});
