//! AWS calls of a run held, stalled, failed, answered or raced at the wire,
//! to stage a race, a deadline or an outage against the emulator.
//!
//! A [`Gate`] is an SDK interceptor for any service client (every SDK crate
//! re-exports the same `Intercept` trait). It watches the requests of one
//! operation (the `x-amz-target` of the JSON protocols ends with it, or the
//! Query protocol's form body starts `Action=<operation>&`), optionally only
//! those whose body contains a needle, counts them, and acts on the first
//! one, on every one, or on every one from the Nth; every other request goes
//! through untouched.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// A held call is let go after this long whatever happens, so a test that
/// never releases it fails on its assertions instead of hanging CI.
const HOLD_AT_MOST: Duration = Duration::from_secs(60);

pub struct Gate {
    operation: &'static str,
    needle: Option<String>,
    /// Matching requests seen so far, attempts included.
    seen: AtomicUsize,
    /// The first matching request acted on, counting from 1.
    from: usize,
    /// The last one; `None` acts on every one from `from`.
    until: Option<usize>,
    action: Action,
}

enum Action {
    Stall(Duration),
    Hold(Arc<Latch>),
    Fail(String),
    Answer(Box<dyn Fn() -> HttpResponse + Send + Sync>),
    Run(Box<dyn Fn() + Send + Sync>),
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("operation", &self.operation)
            .field("needle", &self.needle)
            .field("from", &self.from)
            .field("until", &self.until)
            .finish_non_exhaustive()
    }
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

/// Which gate answers the attempt in flight: the decision is taken when the
/// request leaves and carried out when its response comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AnsweredBy(usize);

impl Storable for AnsweredBy {
    type Storer = StoreReplace<Self>;
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
    pub fn fail(operation: &'static str, error: impl Into<String>) -> Self {
        Self::new(operation, Action::Fail(error.into()))
    }

    /// Sends the first `operation`, then replaces the service's answer with
    /// `response` (a throttle in the service's own wire format, say), which
    /// the SDK deserializes and classifies as if the service had sent it.
    pub fn answer(
        operation: &'static str,
        response: impl Fn() -> HttpResponse + Send + Sync + 'static,
    ) -> Self {
        Self::new(operation, Action::Answer(Box::new(response)))
    }

    /// Runs `meanwhile` to its end before sending the first `operation`: what
    /// another writer does at that very moment (it may block on its own
    /// async work with `tokio::task::block_in_place`).
    pub fn run(operation: &'static str, meanwhile: impl Fn() + Send + Sync + 'static) -> Self {
        Self::new(operation, Action::Run(Box::new(meanwhile)))
    }

    /// Only the requests whose body contains `needle` (a listener's id, a
    /// condition) count as the operation's.
    pub fn containing(mut self, needle: impl Into<String>) -> Self {
        self.needle = Some(needle.into());
        self
    }

    /// Acts on every matching request, not only the first.
    pub fn every(self) -> Self {
        self.from_call(1)
    }

    /// Acts on the `n`th matching request (counting from 1, retries
    /// included) and on every one after it.
    pub fn from_call(mut self, n: usize) -> Self {
        self.from = n;
        self.until = None;
        self
    }

    fn new(operation: &'static str, action: Action) -> Self {
        Self {
            operation,
            needle: None,
            seen: AtomicUsize::new(0),
            from: 1,
            until: Some(1),
            action,
        }
    }

    fn id(&self) -> usize {
        self as *const Self as usize
    }

    fn matches(&self, context: &BeforeTransmitInterceptorContextRef<'_>) -> bool {
        let request = context.request();
        let body = request.body().bytes().unwrap_or_default();
        let body = String::from_utf8_lossy(body);
        let json_target = request
            .headers()
            .get("x-amz-target")
            .is_some_and(|target| target.ends_with(self.operation));
        let query_action = body.starts_with(&format!(
            "Action={}&",
            self.operation.trim_start_matches('.')
        ));
        (json_target || query_action)
            && self
                .needle
                .as_deref()
                .is_none_or(|needle| body.contains(needle))
    }

    /// Counts a matching request; whether this one is acted on.
    fn acts_on_this_one(&self) -> bool {
        let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        n >= self.from && self.until.is_none_or(|until| n <= until)
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
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !self.matches(context) || !self.acts_on_this_one() {
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
            Action::Fail(error) => return Err(error.clone().into()),
            Action::Answer(_) => {
                cfg.interceptor_state().store_put(AnsweredBy(self.id()));
            }
            Action::Run(meanwhile) => meanwhile(),
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Action::Answer(response) = &self.action else {
            return Ok(());
        };
        if cfg.load::<AnsweredBy>() == Some(&AnsweredBy(self.id())) {
            // A retry of this request is a new attempt, decided afresh.
            cfg.interceptor_state().unset::<AnsweredBy>();
            *context.response_mut() = response();
        }
        Ok(())
    }
}
