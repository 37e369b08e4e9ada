//! The time an invocation has left.
//!
//! Long runs (a sweep of 100,000 log groups, a large WAF log) check the
//! deadline between units of work and stop cleanly with a margin, so the
//! report is still returned and the next run resumes where this one stopped.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::Context;

/// The margin kept by default between stopping work and Lambda's own timeout:
/// enough to write the report, the metrics and the result event.
pub const DEFAULT_MARGIN: Duration = Duration::from_secs(5);

/// A point in time after which no new unit of work may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    stop_at: Option<SystemTime>,
}

impl Deadline {
    /// No deadline at all (a local run, a unit test).
    pub const fn unbounded() -> Self {
        Self { stop_at: None }
    }

    /// Stop `after` from now.
    pub fn after(after: Duration) -> Self {
        Self {
            stop_at: Some(SystemTime::now() + after),
        }
    }

    /// The invocation's deadline less `margin`. A context without a deadline
    /// (`Context::default()` in tests) gives an unbounded one.
    pub fn from_context(ctx: &Context, margin: Duration) -> Self {
        if ctx.deadline == 0 {
            return Self::unbounded();
        }
        // Lambda sends milliseconds since the epoch. cargo-lambda's emulator
        // sends the timeout itself (600000); a value before 2001 cannot be an
        // epoch deadline, so it is read as milliseconds from now.
        let deadline = if ctx.deadline < 1_000_000_000_000 {
            SystemTime::now() + Duration::from_millis(ctx.deadline)
        } else {
            UNIX_EPOCH + Duration::from_millis(ctx.deadline)
        };
        Self {
            stop_at: Some(deadline.checked_sub(margin).unwrap_or(UNIX_EPOCH)),
        }
    }

    /// A deadline `reserve` earlier: work that must still be followed by
    /// something (posting what was found) stops there, and what follows gets
    /// the reserve.
    pub fn less(&self, reserve: Duration) -> Self {
        Self {
            stop_at: self
                .stop_at
                .map(|at| at.checked_sub(reserve).unwrap_or(UNIX_EPOCH)),
        }
    }

    /// Time left before work must stop; `None` when unbounded.
    pub fn remaining(&self) -> Option<Duration> {
        self.stop_at.map(|at| {
            at.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        })
    }

    /// Whether work must stop now.
    pub fn expired(&self) -> bool {
        self.remaining().is_some_and(|left| left.is_zero())
    }

    /// Whether `needed` still fits before the deadline.
    pub fn allows(&self, needed: Duration) -> bool {
        self.remaining().is_none_or(|left| left >= needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_deadline_keeps_the_margin() {
        let mut ctx = Context::default();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        ctx.deadline = (now + Duration::from_secs(60)).as_millis() as u64;
        let deadline = Deadline::from_context(&ctx, Duration::from_secs(10));
        let left = deadline.remaining().unwrap();
        assert!(
            left <= Duration::from_secs(50) && left > Duration::from_secs(45),
            "{left:?}"
        );
        assert!(!deadline.expired());
        assert!(!deadline.allows(Duration::from_secs(55)));
    }

    #[test]
    fn an_emulator_timeout_is_read_as_relative() {
        let mut ctx = Context::default();
        ctx.deadline = 600_000;
        let left = Deadline::from_context(&ctx, Duration::from_secs(5))
            .remaining()
            .unwrap();
        assert!(
            left > Duration::from_secs(590) && left <= Duration::from_secs(595),
            "{left:?}"
        );
    }

    #[test]
    fn a_reserve_stops_work_earlier_and_leaves_the_rest() {
        let deadline = Deadline::after(Duration::from_secs(30));
        let work = deadline.less(Duration::from_secs(10));
        let left = work.remaining().unwrap();
        assert!(
            left <= Duration::from_secs(20) && left > Duration::from_secs(15),
            "{left:?}"
        );
        assert!(
            Deadline::after(Duration::from_secs(5))
                .less(Duration::from_secs(10))
                .expired()
        );
        assert_eq!(
            Deadline::unbounded().less(Duration::from_secs(10)),
            Deadline::unbounded()
        );
    }

    #[test]
    fn a_passed_deadline_is_expired_and_none_is_unbounded() {
        assert!(Deadline::after(Duration::ZERO).expired());
        let unbounded = Deadline::from_context(&Context::default(), DEFAULT_MARGIN);
        assert_eq!(unbounded, Deadline::unbounded());
        assert!(!unbounded.expired());
        assert!(unbounded.allows(Duration::from_secs(3600)));
    }
}
