//! One started call as the proxy holds it: the answer to wait for, and the engine's way to
//! stop the call when its deadline passes.
//!
//! The proxy owns the deadline: it races [`Call::answer`] against `FUNC_TIMEOUT`, answers 408
//! itself, and then asks the engine to [`Stop`] the call. The engine says what that achieved
//! ([`Stopped`]); a call that could not be stopped in place is *abandoned* (its thread or
//! worker was given up and replaced), and the proxy keeps waiting for its answer in the
//! background to learn when it finally returns. The engines therefore know nothing about
//! 408s, abandoned-call counters or `/healthz`.

use std::future::Future;
use std::pin::Pin;

use crate::{InvokeError, Response};

/// The answer of one call: the function's response, or why there is none.
pub type InvokeFuture = Pin<Box<dyn Future<Output = Result<Response, InvokeError>> + Send>>;

/// What [`Stop::stop`] resolves to.
pub type StopFuture = Pin<Box<dyn Future<Output = Stopped> + Send>>;

/// What stopping a call achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The call is over, or will be without using the engine's capacity any more (it was
    /// still queued, was interrupted, or its worker was killed). The proxy drops its answer.
    InPlace,
    /// The call could not be interrupted: the engine gave up its thread and put a new one in
    /// its place. The code is still running; its answer resolves when it finally returns.
    Abandoned,
}

/// How the engine stops one call past its deadline.
pub struct Stop(Box<dyn FnOnce() -> StopFuture + Send>);

impl Stop {
    /// A stop that runs `stop` when the proxy asks.
    pub fn new(stop: impl FnOnce() -> StopFuture + Send + 'static) -> Stop {
        Stop(Box::new(stop))
    }

    /// For engines whose answer future owns the whole call (its slot, its store): dropping
    /// the answer stops it, so stopping has nothing more to do.
    pub fn by_dropping_the_answer() -> Stop {
        Stop::new(|| Box::pin(std::future::ready(Stopped::InPlace)))
    }

    /// Stops the call; resolves once the engine knows whether it stopped in place.
    pub fn stop(self) -> StopFuture {
        (self.0)()
    }
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stop")
    }
}

/// What [`crate::Function::invoke`] returns: the call, started (or queued) in the engine.
pub struct Call {
    /// Resolves when the engine is done with the call. Before the deadline: the function's
    /// answer. After [`Stopped::Abandoned`]: when the stuck code finally returned.
    pub answer: InvokeFuture,
    /// Asked by the proxy once the deadline passed and the answer has not come.
    pub stop: Stop,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call").finish_non_exhaustive()
    }
}

/// The answer that arrives through a reply channel (any oneshot receiver): a channel closed
/// without a reply (the engine dropped the call) is [`InvokeError::Unavailable`], `lost` saying
/// where.
pub fn answer_from<F, E>(reply: F, lost: &'static str) -> InvokeFuture
where
    F: Future<Output = Result<Result<Response, InvokeError>, E>> + Send + 'static,
{
    Box::pin(async move {
        reply
            .await
            .unwrap_or_else(|_| Err(InvokeError::Unavailable(lost.to_owned())))
    })
}

impl Call {
    /// A call whose answer and stop are given.
    pub fn new(answer: InvokeFuture, stop: Stop) -> Call {
        Call { answer, stop }
    }

    /// A call that failed before it reached the engine (it was closed, for example).
    pub fn failed(error: InvokeError) -> Call {
        Call {
            answer: Box::pin(std::future::ready(Err(error))),
            stop: Stop::by_dropping_the_answer(),
        }
    }
}
