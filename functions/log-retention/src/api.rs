//! Every AWS call goes through here: a rate cap per operation, a stop at the
//! deadline, and a count of calls by operation.
//!
//! CloudWatch Logs quotas are per operation, account and region, so each
//! region gets its own [`Api`] and each operation its own [`Limiter`]. The
//! SDK's adaptive retry mode (shared::aws) slows down further when the service
//! throttles anyway, for instance because other tools share the quota.
//!
//! The pace outlives an invocation: a run that stops at its deadline hands
//! on each operation's next free slot ([`Pace`]) with its resume point, and
//! the invocation that carries on starts its limiters there. Without it the
//! first calls of the next invocation land in the same second as the last
//! calls of the one before (31 in one second at a cap of 30, measured).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// Each operation's next free slot, in milliseconds since the Unix epoch:
/// what one invocation hands to the next so that the rate cap holds across
/// both. Wall-clock time, because the next invocation may run in another
/// Lambda instance; a slot already past is left out.
pub type Pace = BTreeMap<String, i64>;

/// Spaces calls evenly: never more than `rps` starts in any second.
#[derive(Debug)]
pub struct Limiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Limiter {
    pub fn new(rps: f64) -> Self {
        Self::starting_at(rps, Instant::now())
    }

    /// A limiter whose first slot is `first` (or now, if that is earlier).
    pub fn starting_at(rps: f64, first: Instant) -> Self {
        Self {
            interval: Duration::from_secs_f64(HEADROOM / rps),
            next: Mutex::new(first.max(Instant::now())),
        }
    }

    fn next_slot(&self) -> Instant {
        *self.next.lock().expect("limiter lock")
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

/// The calls of one invocation in one region. Clones share the limiters.
#[derive(Debug, Clone)]
pub struct Api {
    rps: f64,
    deadline: Deadline,
    limiters: Arc<Mutex<HashMap<&'static str, Arc<Limiter>>>>,
    /// Where the invocation before this one left each operation's limiter.
    inherited: Arc<HashMap<String, Instant>>,
}

impl Api {
    pub fn new(rps: f64, deadline: Deadline) -> Self {
        Self {
            rps,
            deadline,
            limiters: Arc::default(),
            inherited: Arc::default(),
        }
    }

    /// Carries on at the pace an earlier invocation handed on.
    pub fn with_pace(mut self, pace: &Pace) -> Self {
        let (now, now_ms) = (Instant::now(), epoch_ms(SystemTime::now()));
        self.inherited = Arc::new(
            pace.iter()
                .filter_map(|(operation, &at_ms)| {
                    let ahead = u64::try_from(at_ms.saturating_sub(now_ms)).ok()?;
                    // A slot far ahead is a clock gone wrong, not a pace:
                    // never wait for more than one interval at the lowest rate.
                    let ahead = Duration::from_millis(ahead).min(self.longest_wait());
                    Some((operation.clone(), now + ahead))
                })
                .collect(),
        );
        self
    }

    /// Each operation's next free slot, to hand on with the resume point.
    pub fn pace(&self) -> Pace {
        let (now, now_ms) = (Instant::now(), epoch_ms(SystemTime::now()));
        self.limiters
            .lock()
            .expect("limiters lock")
            .iter()
            .filter_map(|(operation, limiter)| {
                let ahead = limiter.next_slot().checked_duration_since(now)?;
                // Rounded up: handing on a slot a little late keeps the cap.
                let ahead_ms = ahead.as_micros().div_ceil(1000) as i64;
                Some((operation.to_string(), now_ms + ahead_ms))
            })
            .collect()
    }

    /// The least time `calls` calls of one operation take at the cap.
    pub fn time_for(&self, calls: usize) -> Duration {
        Duration::from_secs_f64(calls as f64 * HEADROOM / self.rps)
    }

    fn longest_wait(&self) -> Duration {
        Duration::from_secs_f64(HEADROOM / self.rps)
    }

    pub fn deadline(&self) -> &Deadline {
        &self.deadline
    }

    fn limiter(&self, operation: &'static str) -> Arc<Limiter> {
        self.limiters
            .lock()
            .expect("limiters lock")
            .entry(operation)
            .or_insert_with(|| {
                let first = self
                    .inherited
                    .get(operation)
                    .copied()
                    .unwrap_or_else(Instant::now);
                Arc::new(Limiter::starting_at(self.rps, first))
            })
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

pub(crate) fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_pace_carries_over_to_the_next_invocation() {
        let first = Api::new(2.0, Deadline::unbounded());
        assert!(
            first
                .limiter("DescribeLogGroups")
                .acquire(&Deadline::unbounded())
                .await
        );
        let pace = first.pace();
        let handed_on = pace["DescribeLogGroups"] - epoch_ms(SystemTime::now());
        assert!(
            (400..=530).contains(&handed_on),
            "the next slot is one interval (520 ms) on: {handed_on} ms"
        );
        // The next invocation's first call waits for that slot.
        let next = Api::new(2.0, Deadline::unbounded()).with_pace(&pace);
        let start = Instant::now();
        assert!(
            next.limiter("DescribeLogGroups")
                .acquire(&Deadline::unbounded())
                .await
        );
        assert!(
            start.elapsed() >= Duration::from_millis(350),
            "{:?}",
            start.elapsed()
        );
        // An operation the pace does not name, and a slot already past, start now.
        let start = Instant::now();
        assert!(
            next.limiter("PutRetentionPolicy")
                .acquire(&Deadline::unbounded())
                .await
        );
        let stale = Api::new(2.0, Deadline::unbounded())
            .with_pace(&Pace::from([("DescribeLogGroups".to_owned(), 0)]));
        assert!(
            stale
                .limiter("DescribeLogGroups")
                .acquire(&Deadline::unbounded())
                .await
        );
        assert!(start.elapsed() < Duration::from_millis(100));
    }

    #[tokio::test]
    async fn a_pace_from_a_clock_gone_wrong_waits_one_interval_at_most() {
        let far = epoch_ms(SystemTime::now()) + 3_600_000;
        let api = Api::new(20.0, Deadline::unbounded())
            .with_pace(&Pace::from([("DescribeLogGroups".to_owned(), far)]));
        let start = Instant::now();
        assert!(
            api.limiter("DescribeLogGroups")
                .acquire(&Deadline::unbounded())
                .await
        );
        assert!(
            start.elapsed() < Duration::from_millis(200),
            "{:?}",
            start.elapsed()
        );
    }

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
