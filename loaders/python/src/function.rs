//! The loaded Python function: how a call travels from a tokio task to an interpreter
//! thread and back, and how the proxy stops it past its deadline.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use fnhost_loader_api::{
    Call, EngineStats, Function, Invocation, InvokeError, Stop, Stopped, answer_from,
};
use pyo3::prelude::*;

use crate::call::{self, Loaded, Outcome};
use crate::job::{CancelAction, Job};
use crate::pool::{Pool, Slot};
use crate::watchdog::{StopRequest, StopSender};

/// State shared by the function handle, its threads and its watchdog.
pub(crate) struct Shared {
    pub(crate) pool: Arc<Pool>,
    pub(crate) loaded: Arc<Loaded>,
    pub(crate) stop: parking_lot::Mutex<StopSender>,
    pub(crate) description: String,
    pub(crate) event_loop: OnceLock<()>,
}

impl Shared {
    /// Stops a job: at once when it is queued or done, else through the watchdog, which
    /// sends what it achieved.
    fn request_stop(&self, job: Arc<Job>) -> tokio::sync::oneshot::Receiver<Stopped> {
        let (verdict, stopped) = tokio::sync::oneshot::channel();
        let action = job.cancel();
        if action == CancelAction::Nothing {
            let _ = verdict.send(Stopped::InPlace);
        } else {
            // The watchdog only stops when the process exits; a send error means it is gone.
            let _ = self.stop.lock().send(StopRequest {
                job,
                action,
                verdict,
            });
        }
        stopped
    }
}

/// A Python function served by interpreter-owned threads.
pub struct PythonFunction {
    pub(crate) shared: Arc<Shared>,
}

/// The share of time the interpreter threads run from which the interpreter counts as
/// saturated (worker interpreters are started then: `spill`).
pub(crate) const SATURATED: f64 = 0.85;

impl PythonFunction {
    /// Calls wait for a thread while the interpreter threads ran at least [`SATURATED`] of
    /// the time: more threads here would not help them.
    pub(crate) fn saturated(&self) -> bool {
        self.shared.pool.queued() > 0
            && self
                .shared
                .pool
                .gil_busy()
                .is_some_and(|busy| busy.on_cpu >= SATURATED)
    }
}

impl Function for PythonFunction {
    fn invoke(&self, invocation: Invocation) -> Call {
        let (job, reply) = Job::new(invocation);
        let job = Arc::new(job);
        if !self.shared.pool.submit(job.clone()) {
            return Call::failed(InvokeError::Unavailable(
                "the interpreter is shutting down".to_owned(),
            ));
        }
        let answer = answer_from(reply, "the interpreter dropped the call");
        let shared = self.shared.clone();
        let stop = Stop::new(move || {
            let stopped = shared.request_stop(job);
            Box::pin(async move { stopped.await.unwrap_or(Stopped::InPlace) })
        });
        Call::new(answer, stop)
    }

    fn describe(&self) -> String {
        self.shared.description.clone()
    }

    fn stats(&self) -> EngineStats {
        EngineStats {
            queued: self.shared.pool.queued(),
            running: self.shared.pool.running(),
        }
    }
}

impl Drop for PythonFunction {
    fn drop(&mut self) {
        self.shared.pool.shutdown();
    }
}

/// Runs one job on an interpreter thread (GIL held).
pub(crate) fn run_job(py: Python<'_>, slot: &Arc<Slot>, shared: &Arc<Shared>, job: Arc<Job>) {
    let Some(invocation) = job.start() else {
        return; // cancelled while queued
    };
    if !invocation.start.begin() {
        job.finish(Err(InvokeError::ClientGone));
        return;
    }
    slot.current_job.store(job.id(), Ordering::Release);
    let outcome = call::call(py, &shared.loaded, &invocation);
    slot.current_job.store(0, Ordering::Release);
    if job.is_cancelled() {
        crate::async_exc::clear_for_current_thread(py);
    }
    match outcome {
        Outcome::Reply(reply) => job.finish(reply),
        Outcome::Pending(awaitable) => submit_async(py, shared, job, &awaitable),
    }
}

fn submit_async(py: Python<'_>, shared: &Arc<Shared>, job: Arc<Job>, awaitable: &Bound<'_, PyAny>) {
    shared.event_loop.get_or_init(|| start_event_loop(shared));
    let done = AsyncDone {
        job: job.clone(),
        shared: shared.clone(),
    };
    let submitted = shared
        .loaded
        .boot
        .submit_async
        .bind(py)
        .call1((awaitable, done));
    match submitted {
        Ok(future) => {
            if !job.set_async(future.unbind()) {
                // Cancelled between the call and now: cancel the task right away.
                drop(shared.request_stop(job));
            }
        }
        Err(e) => job.finish(Err(InvokeError::Unavailable(
            crate::interpreter::describe_err(py, &e),
        ))),
    }
}

fn start_event_loop(shared: &Arc<Shared>) {
    let shared = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("fnhost-py-async".to_owned())
        .spawn(move || {
            Python::attach(|py| {
                if let Err(e) = shared.loaded.boot.run_event_loop.bind(py).call0() {
                    tracing::error!(
                        "the asyncio event loop stopped: {}",
                        crate::interpreter::describe_err(py, &e)
                    );
                }
            });
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the asyncio event loop thread: {e}");
    }
}

/// The done-callback of an async call's future; runs on the event loop thread.
#[pyclass(frozen)]
struct AsyncDone {
    job: Arc<Job>,
    shared: Arc<Shared>,
}

#[pymethods]
impl AsyncDone {
    #[allow(
        clippy::needless_pass_by_value,
        reason = "pyo3 hands a Python call's arguments over by value"
    )]
    fn __call__(&self, py: Python<'_>, future: Bound<'_, PyAny>) {
        let loaded = &self.shared.loaded;
        let cancelled = future
            .call_method0("cancelled")
            .and_then(|c| c.is_truthy())
            .unwrap_or(false);
        let reply = if cancelled {
            Err(InvokeError::Timeout(loaded.timeout))
        } else {
            match future.call_method0("result") {
                Ok(value) => crate::convert::to_response(py, &loaded.boot, &value),
                Err(err) => crate::convert::from_exception(py, &loaded.boot, &err, loaded.timeout),
            }
        };
        self.job.finish(reply);
    }
}
