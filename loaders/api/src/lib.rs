//! The contract between the fnhost proxy and its loaders.
//!
//! A **loader** turns a [`FunctionSpec`] (module, handler, install volume, timeout) into a
//! loaded [`Function`]; the proxy then hands each HTTP request to that function as an
//! [`Invocation`] and gets back a [`Response`] or an [`InvokeError`]. Nothing here knows about
//! hyper, sockets or metrics: those stay in the proxy, so every loader sees the same small,
//! engine-neutral surface.
//!
//! # Lifecycle and cost of each phase
//!
//! | phase | called | may block? | typical work |
//! |---|---|---|---|
//! | [`Loader::load`] | once per process, before the server reports ready | yes | start the interpreter, import the module, compile |
//! | [`Function::invoke`] | once per request, from a tokio worker | **no**: return a [`Call`] | hand the call to the engine's own threads |
//! | [`Stop::stop`] | past the deadline, from a tokio worker | **no**: return a future | interrupt the call, or give up its thread |
//!
//! # Layout
//!
//! - [`invocation`]: the request as a loader sees it ([`Invocation`], [`EventMeta`]).
//! - [`event`]: the Kubeless event decided once for every runtime: [`DataKind`] (what the
//!   body is as `event.data`, invalid JSON refused) and the function's [`Context`].
//! - [`call`]: one started call ([`Call`]: its answer, and how to [`Stop`] it).
//! - [`response`]: what a function produces ([`Response`]).
//! - [`error`]: [`LoadError`], [`InvokeError`] and the closed [`ErrorKind`] used for HTTP
//!   mapping and metric labels.
//! - [`spec`]: [`FunctionSpec`], everything a loader needs to load one function.
#![deny(missing_docs)]

pub mod call;
pub mod error;
pub mod event;
pub mod invocation;
pub mod response;
pub mod spec;

use std::sync::atomic::{AtomicUsize, Ordering};

pub use call::{Call, InvokeFuture, Stop, StopFuture, Stopped, answer_from};
pub use error::{ErrorKind, InvokeError, LoadError};
pub use event::{Context, DataKind, InvalidJson, decode_data};
pub use invocation::{CallStart, EventMeta, Invocation};
pub use response::{BuiltResponse, Response};
pub use spec::{FunctionSpec, Isolation, SpillTo, parse_quantity};

/// The Kubeless contract's JavaScript half (`js/kubeless.js`): Express's `req.is`, `event.data`
/// for the decided [`DataKind`], the return-value mapping. Both JavaScript hosts (the Node.js
/// worker and the embedded engine) run it before their own code, so neither has a copy.
pub const KUBELESS_JS: &str = include_str!("../js/kubeless.js");

/// A loaded function, ready to serve requests.
///
/// Implementations own whatever engine runs the code (an interpreter on its own threads, a
/// Wasm store, a worker process). `invoke` must not block the calling tokio thread.
pub trait Function: Send + Sync {
    /// Starts (or queues) one call. The proxy awaits [`Call::answer`] until
    /// [`Invocation::deadline`]; past it the proxy answers 408 itself and asks
    /// [`Call::stop`], and the engine stops the call in place or abandons it (gives up its
    /// thread and replaces it) so that the process keeps its capacity. The engine never needs
    /// its own timer for the deadline, though it may use the deadline where its engine can
    /// (an epoch or interrupt check that stops the guest exactly on time).
    fn invoke(&self, invocation: Invocation) -> Call;

    /// A short human description for the startup log, e.g. `python 3.11.2 (16 threads)`.
    fn describe(&self) -> String;

    /// `false` once the engine can no longer serve (its isolates or workers are gone and
    /// cannot be replaced). The proxy reports it on `/healthz` so that the orchestrator
    /// replaces the process; calls the engine could not stop are the proxy's own count.
    fn healthy(&self) -> bool {
        true
    }

    /// A snapshot of the engine's load, exported as gauges on `/metrics`.
    fn stats(&self) -> EngineStats {
        EngineStats::default()
    }
}

/// A snapshot of an engine's load.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EngineStats {
    /// Calls waiting for a thread, isolate or worker.
    pub queued: usize,
    /// Calls running now (abandoned ones included, as long as their code runs).
    pub running: usize,
}

/// Counts one in a load counter (a call waiting, a call running, a live isolate) for as long
/// as it lives: also when the future or thread holding it is dropped or unwinds, so a gauge
/// of [`EngineStats`] never leaks a count.
#[derive(Debug)]
pub struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    /// Adds one to `counter` until the guard is dropped.
    pub fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Counted(counter)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A kind of engine (Python, JavaScript, Wasm, native, worker process).
pub trait Loader: Send + Sync {
    /// The loader's name as shown in logs, e.g. `python`.
    fn name(&self) -> &'static str;

    /// Loads one function. Called at most once per process, before the server reports ready;
    /// it may block (import the module, compile). Errors name the module and the handler.
    fn load(&self, spec: &FunctionSpec) -> Result<Box<dyn Function>, LoadError>;
}
