//! When each AWS call left: an interceptor that time-stamps every HTTP
//! attempt by operation, and the busiest second of each operation, which is
//! what a rate quota is measured against; and how long each attempt waited
//! for its answer, which tells when the far side, not a quota, set the pace.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// Add to a client's config; clones share the record.
#[derive(Debug, Clone, Default)]
pub struct CallTimes(Arc<Mutex<Vec<Attempt>>>);

#[derive(Debug)]
struct Attempt {
    operation: String,
    sent: Instant,
    answered: Option<Instant>,
}

/// Which record an attempt in flight is, kept in its own config bag.
#[derive(Debug, Clone, Copy)]
struct AttemptIndex(usize);

impl Storable for AttemptIndex {
    type Storer = StoreReplace<Self>;
}

impl CallTimes {
    /// Every call's start, by operation, in order.
    pub fn by_operation(&self) -> BTreeMap<String, Vec<Instant>> {
        let mut by_op: BTreeMap<String, Vec<Instant>> = BTreeMap::new();
        for attempt in self.0.lock().expect("call times lock").iter() {
            by_op
                .entry(attempt.operation.clone())
                .or_default()
                .push(attempt.sent);
        }
        for times in by_op.values_mut() {
            times.sort();
        }
        by_op
    }

    /// How long each answered attempt of `operation` took, sent to answer.
    pub fn round_trips(&self, operation: &str) -> Vec<Duration> {
        self.0
            .lock()
            .expect("call times lock")
            .iter()
            .filter(|a| a.operation == operation)
            .filter_map(|a| Some(a.answered?.duration_since(a.sent)))
            .collect()
    }

    /// The most calls of each operation that started within one second.
    pub fn busiest_second(&self) -> BTreeMap<String, usize> {
        self.by_operation()
            .into_iter()
            .map(|(op, times)| (op, busiest_second(&times)))
            .collect()
    }
}

/// The most of `sorted` that fall within one second of each other.
pub fn busiest_second(sorted: &[Instant]) -> usize {
    (0..sorted.len())
        .map(|i| {
            sorted[i..]
                .iter()
                .take_while(|t| t.duration_since(sorted[i]) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

impl Intercept for CallTimes {
    fn name(&self) -> &'static str {
        "CallTimes"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map_or("unknown", |m| m.name())
            .to_owned();
        let mut attempts = self.0.lock().expect("call times lock");
        cfg.interceptor_state()
            .store_put(AttemptIndex(attempts.len()));
        attempts.push(Attempt {
            operation,
            sent: Instant::now(),
            answered: None,
        });
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(&AttemptIndex(i)) = cfg.load::<AttemptIndex>()
            && let Some(attempt) = self.0.lock().expect("call times lock").get_mut(i)
        {
            attempt.answered = Some(Instant::now());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_second_counts_starts_less_than_a_second_apart() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(busiest_second(&[]), 0);
        assert_eq!(busiest_second(&[at(0), at(500), at(999), at(1000)]), 3);
        assert_eq!(busiest_second(&[at(0), at(1000), at(2000)]), 1);
    }
}
