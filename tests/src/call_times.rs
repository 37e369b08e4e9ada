//! When each AWS call left: an interceptor that time-stamps every HTTP
//! attempt by operation, and the busiest second of each operation, which is
//! what a rate quota is measured against.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Add to a client's config; clones share the record.
#[derive(Debug, Clone, Default)]
pub struct CallTimes(Arc<Mutex<Vec<(String, Instant)>>>);

impl CallTimes {
    /// Every call's start, by operation, in order.
    pub fn by_operation(&self) -> BTreeMap<String, Vec<Instant>> {
        let mut by_op: BTreeMap<String, Vec<Instant>> = BTreeMap::new();
        for (op, at) in self.0.lock().expect("call times lock").iter() {
            by_op.entry(op.clone()).or_default().push(*at);
        }
        for times in by_op.values_mut() {
            times.sort();
        }
        by_op
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
        let op = cfg.load::<Metadata>().map_or("unknown", |m| m.name());
        self.0
            .lock()
            .expect("call times lock")
            .push((op.to_owned(), Instant::now()));
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
