//! The isolates: one thread per isolate, each owning one [`Engine`] with the function loaded,
//! all taking calls from one queue. A call drives the engine through `runtime.js`'s state
//! strings: promise jobs run until the call settles, timers are waited for on the isolate's
//! thread, and the deadline stops the script (the engine's interrupt check) or the wait. An
//! isolate whose call timed out or whose engine broke is replaced by a fresh one, so no call
//! sees the state a stopped script left behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use fnhost_loader_api::{Counted, InvokeError, LoadError, Response};
use serde::Deserialize;

use crate::engine::{Deadline, Engine, EngineError};

/// The JavaScript side of the loader.
const RUNTIME_JS: &str = include_str!("../js/runtime.js");

/// What every isolate loads.
pub struct Setup {
    /// The module, for load errors.
    pub module: String,
    /// The handler, for load errors.
    pub handler: String,
    /// `__fnhost_load`'s argument: folder, module, handler, search path, context.
    pub config_json: String,
    /// Per-isolate memory limit in bytes.
    pub memory_limit: Option<usize>,
    /// The function's timeout, for the 408.
    pub timeout: Duration,
    /// Calls running now.
    pub running: AtomicUsize,
    /// Isolates able to take calls.
    pub live: AtomicUsize,
}

/// One call for an isolate.
pub struct Job {
    /// The call JSON `runtime.js` reads.
    pub call_json: String,
    /// When it must be answered.
    pub deadline: Instant,
    /// Where the answer goes.
    pub reply: tokio::sync::oneshot::Sender<Result<Response, InvokeError>>,
    /// Whether it may still start (its client may have left).
    pub start: std::sync::Arc<fnhost_loader_api::CallStart>,
}

/// A loaded engine, or why the function cannot load.
pub fn boot<E: Engine>(setup: &Setup) -> Result<(E, Arc<Deadline>), LoadError> {
    let deadline = Deadline::new();
    let fail = |e: EngineError| LoadError::Engine {
        engine: E::NAME,
        detail: e.to_string(),
    };
    let mut engine = E::new(setup.memory_limit, deadline.clone()).map_err(fail)?;
    engine
        .eval("fnhost:kubeless.js", fnhost_loader_api::KUBELESS_JS)
        .map_err(fail)?;
    engine.eval("fnhost:runtime.js", RUNTIME_JS).map_err(fail)?;
    let started = Instant::now();
    engine
        .call("__fnhost_load", &setup.config_json, 0.0)
        .map_err(|e| LoadError::ImportFailed {
            module: setup.module.clone(),
            handler: setup.handler.clone(),
            detail: e.to_string(),
        })?;
    tracing::debug!("isolate loaded the function in {:?}", started.elapsed());
    Ok((engine, deadline))
}

/// The isolate thread: serves jobs until the queue closes; replaces its engine after a
/// timeout or an engine failure (retrying with backoff while a new one cannot load).
pub fn serve<E: Engine>(
    setup: &Setup,
    jobs: &Receiver<Job>,
    mut loaded: (E, Arc<Deadline>),
    _live: Counted<'_>,
) {
    while let Ok(job) = jobs.recv() {
        if job.reply.is_closed() && Instant::now() >= job.deadline {
            continue;
        }
        if !job.start.begin() {
            let _ = job.reply.send(Err(InvokeError::ClientGone));
            continue;
        }
        setup.running.fetch_add(1, Ordering::Relaxed);
        let (engine, deadline) = &mut loaded;
        deadline.arm(job.deadline);
        let outcome = drive(engine, deadline, &job, setup.timeout);
        deadline.disarm();
        setup.running.fetch_sub(1, Ordering::Relaxed);
        let replace = matches!(
            outcome,
            Err(InvokeError::Timeout(_) | InvokeError::Unavailable(_))
        );
        let _ = job.reply.send(outcome);
        if replace {
            loaded = reboot::<E>(setup);
        }
    }
}

/// A fresh engine with the function loaded; retries with backoff (100 ms doubling to 10 s)
/// while loading fails, which it can only do if the function's files changed underneath.
fn reboot<E: Engine>(setup: &Setup) -> (E, Arc<Deadline>) {
    let mut delay = Duration::from_millis(100);
    loop {
        match boot::<E>(setup) {
            Ok(fresh) => return fresh,
            Err(e) => {
                tracing::error!("cannot replace a JavaScript isolate ({e}); retrying in {delay:?}");
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Runs one call to the end: a result, the function's error, or the deadline.
fn drive<E: Engine>(
    engine: &mut E,
    deadline: &Deadline,
    job: &Job,
    timeout: Duration,
) -> Result<Response, InvokeError> {
    let started = Instant::now();
    let now = || started.elapsed().as_secs_f64() * 1e3;
    let failed = |e: EngineError| match e {
        EngineError::Interrupted => InvokeError::Timeout(timeout),
        EngineError::Threw(text) => InvokeError::FunctionFailed(text),
        EngineError::Broken(text) => InvokeError::Unavailable(text),
    };
    let mut state = engine
        .call("__fnhost_call", &job.call_json, now())
        .map_err(failed)?;
    loop {
        if let Some(result) = state.strip_prefix('R') {
            return response(result);
        }
        if deadline.expired() {
            return Err(InvokeError::Timeout(timeout));
        }
        if !engine.run_jobs().map_err(failed)? {
            match state.strip_prefix('W') {
                Some(wait) => {
                    let ms = wait.parse::<f64>().unwrap_or(0.0);
                    let wait = Duration::try_from_secs_f64(ms / 1e3).unwrap_or(Duration::ZERO);
                    let until = Instant::now().checked_add(wait).unwrap_or(job.deadline);
                    sleep_until(until, job.deadline, timeout)?;
                }
                // Nothing scheduled and nothing to run: the promise can never settle.
                None => sleep_until(job.deadline, job.deadline, timeout)?,
            }
        }
        state = engine.call("__fnhost_poll", "", now()).map_err(failed)?;
    }
}

fn sleep_until(until: Instant, deadline: Instant, timeout: Duration) -> Result<(), InvokeError> {
    let until = until.min(deadline);
    std::thread::sleep(until.saturating_duration_since(Instant::now()));
    if Instant::now() >= deadline {
        return Err(InvokeError::Timeout(timeout));
    }
    Ok(())
}

/// What `runtime.js` settles a call with.
#[derive(Deserialize)]
struct CallResult {
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    error: Option<String>,
}

fn response(json: &str) -> Result<Response, InvokeError> {
    let result: CallResult = serde_json::from_str(json)
        .map_err(|e| InvokeError::BadReturn(format!("unreadable call result: {e}")))?;
    if let Some(error) = result.error {
        return Err(InvokeError::FunctionFailed(error));
    }
    Response::from_parts(result.status.unwrap_or(200), result.headers, result.body)
}
