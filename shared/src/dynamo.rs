//! DynamoDB's conditional writes, read the same way in every function.
//!
//! A conditional `PutItem`, `UpdateItem` or `DeleteItem` whose condition
//! does not hold fails with `ConditionalCheckFailedException`. For the
//! functions that is an answer, not a failure: someone else wrote first, the
//! item moved on, the record already exists. [`conditional`] turns that one
//! error into `None` and leaves every other error an error.
//!
//! The check goes by the error's code, which every operation's error type
//! reports, so this module needs no DynamoDB client of its own.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The error code of a write whose condition did not hold.
pub const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailedException";

/// The outcome of a conditional write: `Ok(Some(output))` when it was
/// written, `Ok(None)` when its condition did not hold, `Err` otherwise.
///
/// ```ignore
/// let written = shared::dynamo::conditional(request.send().await)?.is_some();
/// ```
pub fn conditional<T, E: ProvideErrorMetadata>(result: Result<T, E>) -> Result<Option<T>, E> {
    match result {
        Ok(output) => Ok(Some(output)),
        Err(error) if error.code() == Some(CONDITIONAL_CHECK_FAILED) => Ok(None),
        Err(error) => Err(error),
    }
}

/// A hash of `bytes` that is the same in every build and on every machine
/// (FNV-1a, 64 bits), for what is derived from it and stored: a bounded
/// key, the item a counter lives in. `std`'s hasher may change between
/// Rust releases, which would move stored state after an upgrade.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn error(code: &str) -> Result<(), ErrorMetadata> {
        Err(ErrorMetadata::builder().code(code).build())
    }

    #[test]
    fn the_stable_hash_is_fnv1a() {
        // The published FNV-1a 64 test vectors: a changed value would move
        // every stored key derived from it.
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(stable_hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn only_a_failed_condition_means_not_written() {
        assert_eq!(conditional(Ok::<_, ErrorMetadata>(7)).unwrap(), Some(7));
        assert_eq!(conditional(error(CONDITIONAL_CHECK_FAILED)).unwrap(), None);
        let other = conditional(error("ProvisionedThroughputExceededException")).unwrap_err();
        assert_eq!(other.code(), Some("ProvisionedThroughputExceededException"));
    }
}
