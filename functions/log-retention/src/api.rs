//! Every AWS call goes through here: a rate cap per operation, a stop at the
//! deadline, and a count of calls by operation.
//!
//! CloudWatch Logs quotas are per operation, account and region, so each
//! region gets its own [`Api`] and each operation its own [`Limiter`]. The
//! SDK's adaptive retry mode (shared::aws) slows down further when the service
//! throttles anyway, for instance because other tools share the quota.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use shared::Deadline;
use tokio::time::Instant;

use crate::error::Error;

/// A call in flight when the deadline passes may run this much longer; it is
/// well inside the deadline's margin, which is kept for writing the report.
const GRACE: Duration = Duration::from_secs(2);

/// Counts every HTTP attempt (retries included) by operation name. One
/// counter is shared by all clients of an [`crate::App`].
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CallCounter {
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().expect("counter lock").clone()
    }

    /// Calls made since `before` was taken.
    pub fn since(&self, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
        self.snapshot()
            .into_iter()
            .map(|(op, n)| {
                let earlier = before.get(&op).copied().unwrap_or(0);
                (op, n - earlier)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let name = cfg
            .load::<Metadata>()
            .map_or("unknown", |m| m.name())
            .to_owned();
        *self
            .counts
            .lock()
            .expect("counter lock")
            .entry(name)
            .or_default() += 1;
        Ok(())
    }
}

/// Slots are spaced this much wider than `1/rps`, so that the small, uneven
/// delay between taking a slot and the request leaving (signing, a busy
/// core) cannot fit `rps + 1` requests into one second.
const HEADROOM: f64 = 1.04;

/// Spaces calls evenly: never more than `rps` starts in any second.
#[derive(Debug)]
pub struct Limiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Limiter {
    pub fn new(rps: f64) -> Self {
        Self {
            interval: Duration::from_secs_f64(HEADROOM / rps),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for the next free slot; `false` (and no slot taken) when that
    /// slot would come after `deadline`.
    pub async fn acquire(&self, deadline: &Deadline) -> bool {
        let slot = {
            let mut next = self.next.lock().expect("limiter lock");
            let now = Instant::now();
            let slot = (*next).max(now);
            if !deadline.allows(slot - now) {
                return false;
            }
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
        true
    }
}

/// The calls of one invocation in one region.
#[derive(Debug)]
pub struct Api {
    rps: f64,
    deadline: Deadline,
    limiters: Mutex<HashMap<&'static str, Arc<Limiter>>>,
}

impl Api {
    pub fn new(rps: f64, deadline: Deadline) -> Self {
        Self {
            rps,
            deadline,
            limiters: Mutex::new(HashMap::new()),
        }
    }

    pub fn deadline(&self) -> &Deadline {
        &self.deadline
    }

    fn limiter(&self, operation: &'static str) -> Arc<Limiter> {
        self.limiters
            .lock()
            .expect("limiters lock")
            .entry(operation)
            .or_insert_with(|| Arc::new(Limiter::new(self.rps)))
            .clone()
    }

    /// Runs one call of `operation` on `target` within the rate cap and the
    /// deadline; an AWS error keeps its code and full message.
    pub async fn call<T, E, R>(
        &self,
        operation: &'static str,
        target: &str,
        call: impl Future<Output = Result<T, SdkError<E, R>>>,
    ) -> Result<T, Error>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let stopped = || Error::Deadline {
            operation,
            target: target.to_owned(),
        };
        if self.deadline.expired() || !self.limiter(operation).acquire(&self.deadline).await {
            return Err(stopped());
        }
        let outcome = match self.deadline.remaining() {
            None => call.await,
            Some(left) => tokio::time::timeout(left + GRACE, call)
                .await
                .map_err(|_| Error::Unanswered {
                    operation,
                    target: target.to_owned(),
                })?,
        };
        outcome.map_err(|e| Error::Aws {
            operation,
            target: target.to_owned(),
            code: e.code().map(str::to_owned),
            message: DisplayErrorContext(&e).to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_limiter_spaces_calls_and_respects_the_deadline() {
        let limiter = Limiter::new(20.0);
        let start = Instant::now();
        for _ in 0..5 {
            assert!(limiter.acquire(&Deadline::unbounded()).await);
        }
        // Five starts at 20/s: the fifth is 4 intervals (200 ms) after the first.
        assert!(
            start.elapsed() >= Duration::from_millis(195),
            "{:?}",
            start.elapsed()
        );
        let slow = Limiter::new(0.5);
        assert!(slow.acquire(&Deadline::after(Duration::from_secs(1))).await);
        assert!(
            !slow.acquire(&Deadline::after(Duration::from_secs(1))).await,
            "the next slot, 2 s away, is past the deadline"
        );
    }
}
