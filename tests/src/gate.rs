//! One AWS call of a run, held or failed at the wire, to stage a race, a
//! deadline or an outage against the emulator.
//!
//! A [`Gate`] is an SDK interceptor for any service client (every SDK crate
//! re-exports the same `Intercept` trait). It acts on the first request whose
//! `x-amz-target` ends with the operation given (`.GetIPSet`,
//! `BatchWriteItem`), once, and lets every other request through untouched.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// A held call is let go after this long whatever happens, so a test that
/// never releases it fails on its assertions instead of hanging CI.
const HOLD_AT_MOST: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Gate {
    operation: &'static str,
    armed: AtomicBool,
    action: Action,
}

#[derive(Debug)]
enum Action {
    Stall(Duration),
    Hold(Arc<Latch>),
    Fail(&'static str),
}

/// The test's side of a held call: has the run reached it, and let it go.
#[derive(Debug, Default)]
pub struct Latch {
    reached: AtomicBool,
    released: AtomicBool,
}

impl Latch {
    pub fn is_reached(&self) -> bool {
        self.reached.load(Ordering::SeqCst)
    }

    /// Blocks the calling thread until the run reaches the held call.
    pub fn wait_reached(&self) {
        let start = Instant::now();
        while !self.is_reached() && start.elapsed() < HOLD_AT_MOST {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn release(&self) {
        self.released.store(true, Ordering::SeqCst);
    }
}

impl Gate {
    /// Sleeps `how_long` before sending the first `operation` (after the
    /// service took every earlier call): the run's deadline can pass there.
    pub fn stall(operation: &'static str, how_long: Duration) -> Self {
        Self::new(operation, Action::Stall(how_long))
    }

    /// Holds the first `operation` until the test releases it through the
    /// returned latch: what the run read stays read while another run goes.
    pub fn hold(operation: &'static str) -> (Self, Arc<Latch>) {
        let latch = Arc::new(Latch::default());
        (Self::new(operation, Action::Hold(latch.clone())), latch)
    }

    /// Fails the first `operation` with `error` before it is sent, as a
    /// reset connection or an unreachable endpoint would.
    pub fn fail(operation: &'static str, error: &'static str) -> Self {
        Self::new(operation, Action::Fail(error))
    }

    fn new(operation: &'static str, action: Action) -> Self {
        Self {
            operation,
            armed: AtomicBool::new(true),
            action,
        }
    }
}

impl Intercept for Gate {
    fn name(&self) -> &'static str {
        "toilkit_tests::Gate"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default();
        if !target.ends_with(self.operation) || !self.armed.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        match &self.action {
            Action::Stall(how_long) => std::thread::sleep(*how_long),
            Action::Hold(latch) => {
                latch.reached.store(true, Ordering::SeqCst);
                let start = Instant::now();
                while !latch.released.load(Ordering::SeqCst) && start.elapsed() < HOLD_AT_MOST {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            Action::Fail(error) => return Err((*error).into()),
        }
        Ok(())
    }
}
