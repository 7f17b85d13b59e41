//! The embedded CPython loader: serves unmodified Kubeless Python functions in-process.
//!
//! CPython is embedded with pyo3 and started once. The user's module is imported once, before
//! the server reports ready, so module state persists between calls (upstream forked a
//! process per request). Calls run on interpreter-owned threads; tokio threads never hold the
//! GIL (see [`pool`] for how calls are scheduled) and timed-out calls are stopped without
//! stopping the process (see [`watchdog`]).
//!
//! # Layout
//!
//! - `fnhost.py`: the Python side, importable by functions as `fnhost` (`Response`,
//!   `HTTPError`, the Bottle-compatible request object, the interruptible `time.sleep`).
//! - [`interpreter`]: starting CPython, importing the module, finding the handler.
//! - [`pool`]: interpreter threads and the job queue; `gil_meter`: how busy the GIL is, which
//!   the pool asks before it grows.
//! - [`job`]: one call's state machine and reply slot.
//! - [`call`]: building `event`/`context` and calling the handler.
//! - [`convert`]: return values and exceptions to responses.
//! - [`function`]: the [`fnhost_loader_api::Function`] implementation and deadlines.
//! - [`watchdog`]: stopping calls that ran past their deadline.
//! - `signal`, `async_exc`: the two FFI pieces the watchdog uses.
//! - `spill`: `FNHOST_INTERPRETERS`, worker processes that share the calls once this
//!   interpreter's GIL is saturated.
//! - [`worker`]: `FNHOST_ISOLATION=process`, the function in worker processes of its own
//!   (`fnhost worker python`), so that a crash costs the calls of one worker, not fnhost.

mod async_exc;
pub mod call;
pub mod convert;
pub mod function;
mod gil_meter;
pub mod interpreter;
pub mod job;
pub mod pool;
mod signal;
mod spill;
pub mod watchdog;
pub mod worker;

use std::sync::{Arc, OnceLock};

use fnhost_loader_api::{Function, FunctionSpec, Isolation, LoadError, Loader};
use pyo3::prelude::*;

use crate::call::Loaded;
use crate::function::Shared;
use crate::pool::{Limits, Pool, RunJob};

pub use crate::function::PythonFunction;
pub use crate::interpreter::executable_dir;

/// Loads Python functions into the embedded interpreter.
#[derive(Debug, Default, Clone, Copy)]
pub struct PythonLoader;

impl Loader for PythonLoader {
    fn name(&self) -> &'static str {
        "python"
    }

    fn load(&self, spec: &FunctionSpec) -> Result<Box<dyn Function>, LoadError> {
        if let Isolation::Process { worker_program } = &spec.isolation {
            let command = fnhost_workers::serve::command("python", spec, worker_program);
            return fnhost_workers::start_blocking("python", spec, command, spec.workers);
        }
        let boot = interpreter::start()?;
        let (loaded, timeout_type, description, switch_interval) = Python::attach(
            |py| -> Result<_, LoadError> {
                let handler = interpreter::import_handler(py, spec)?;
                let context =
                    call::build_context(py, &spec.context()).map_err(|e| engine_error(py, &e))?;
                let timeout_type = py
                    .import("fnhost")
                    .and_then(|m| m.getattr("FunctionTimeout"))
                    .map_err(|e| engine_error(py, &e))?
                    .unbind();
                let (version, library) = interpreter::describe_runtime(py);
                let kind = if handler.is_coroutine_function {
                    "async "
                } else {
                    ""
                };
                let limits = Limits::new(spec.concurrency, spec.max_concurrency);
                let description = format!(
                    "python {version} ({library}), {kind}handler {}.{}, {} threads (up to {} while calls wait on I/O)",
                    spec.module, spec.handler, limits.keep, limits.max
                );
                let switch_interval = interpreter::switch_interval(py);
                let loaded = Loaded {
                    handler,
                    context: context.unbind(),
                    boot,
                    timeout: spec.timeout,
                };
                Ok((loaded, timeout_type, description, switch_interval))
            },
        )?;
        let limits = Limits::new(spec.concurrency, spec.max_concurrency);
        let local = start_function(limits, switch_interval, loaded, timeout_type, description)?;
        Ok(match &spec.spill {
            Some(to) => Box::new(spill::SpillFunction::new(local, spec, to)),
            None => Box::new(local),
        })
    }
}

fn engine_error(py: Python<'_>, err: &PyErr) -> LoadError {
    LoadError::Engine {
        engine: "python",
        detail: interpreter::describe_err(py, err),
    }
}

fn start_function(
    limits: Limits,
    switch_interval: std::time::Duration,
    loaded: Loaded,
    timeout_type: Py<PyAny>,
    description: String,
) -> Result<PythonFunction, LoadError> {
    let pool = Pool::new(limits, switch_interval);
    let (stop_tx, stop_rx) = std::sync::mpsc::channel();
    let shared = Arc::new(Shared {
        pool: pool.clone(),
        loaded: Arc::new(loaded),
        stop: parking_lot::Mutex::new(stop_tx),
        description,
        event_loop: OnceLock::new(),
    });
    let weak = Arc::downgrade(&shared);
    let run: Arc<RunJob> = Arc::new(move |py, slot, job| {
        if let Some(shared) = weak.upgrade() {
            function::run_job(py, slot, &shared, job);
        }
    });
    let spawn_err = |e: std::io::Error| LoadError::Engine {
        engine: "python",
        detail: format!("cannot start a thread: {e}"),
    };
    pool.start(run).map_err(spawn_err)?;
    std::thread::Builder::new()
        .name("fnhost-py-watchdog".to_owned())
        .spawn(move || watchdog::run(&stop_rx, &pool, &timeout_type))
        .map_err(spawn_err)?;
    Ok(PythonFunction { shared })
}
