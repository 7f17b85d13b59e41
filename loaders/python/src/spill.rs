//! More than one core for a CPU-bound function (`FNHOST_INTERPRETERS`).
//!
//! One interpreter runs Python on one core at a time, whatever its threads. When calls queue
//! while its GIL is busy (the [`crate::gil_meter`] says the interpreter threads ran at least
//! [`crate::function::SATURATED`] of the last few milliseconds), worker processes are started, once,
//! each an `fnhost worker python` with an interpreter of its own (`fnhost-workers`); from
//! then on each call goes to whichever side has fewer calls outstanding per interpreter. A
//! function that never saturates its GIL (hello world, calls that wait on I/O) never starts
//! them, so it pays nothing: no memory, no hop to another process.
//!
//! Module state is per interpreter, as under Granian or gunicorn with several workers
//! (`docs/compat.md`). Timeouts, crashes and `/metrics` work as for every call: the proxy
//! counts each call once, whichever interpreter ran it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use fnhost_loader_api::{Call, EngineStats, Function, FunctionSpec, Invocation, SpillTo};
use fnhost_workers::{ProcessFunction, WorkerCommand};

use crate::function::PythonFunction;

/// A Python function served in process, with worker processes to share its calls once its
/// interpreter is saturated.
pub(crate) struct SpillFunction {
    local: PythonFunction,
    workers: Arc<OnceLock<ProcessFunction>>,
    starting: AtomicBool,
    spec: FunctionSpec,
    command: WorkerCommand,
    count: usize,
}

impl SpillFunction {
    pub(crate) fn new(local: PythonFunction, spec: &FunctionSpec, to: &SpillTo) -> SpillFunction {
        let worker_spec = FunctionSpec {
            spill: None,
            ..spec.clone()
        };
        let command = fnhost_workers::serve::command("python", &worker_spec, &to.worker_program);
        SpillFunction {
            local,
            workers: Arc::new(OnceLock::new()),
            starting: AtomicBool::new(false),
            spec: worker_spec,
            command,
            count: to.workers.max(1),
        }
    }

    /// Starts the worker processes in the background, once; calls stay here meanwhile.
    fn start_workers(&self) {
        if self.starting.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (spec, command, count) = (self.spec.clone(), self.command.clone(), self.count);
        let workers = self.workers.clone();
        tracing::info!(
            workers = count,
            "the interpreter is saturated while calls wait: starting worker processes to share them (FNHOST_INTERPRETERS)"
        );
        runtime.spawn(async move {
            match ProcessFunction::start(&spec, command, count).await {
                Ok(function) => {
                    tracing::info!(workers = count, "worker interpreters ready");
                    let _ = workers.set(function);
                }
                Err(e) => tracing::warn!(
                    "cannot start worker interpreters ({e}); calls stay in this process"
                ),
            }
        });
    }

    /// Whether the workers should take the next call: this interpreter is saturated and has
    /// more calls outstanding than each worker has on average.
    fn to_workers(&self, workers: &ProcessFunction) -> bool {
        let here = outstanding(&self.local.stats());
        let there = outstanding(&workers.stats());
        there < here * self.count && self.local.saturated()
    }
}

fn outstanding(stats: &EngineStats) -> usize {
    stats.queued + stats.running
}

impl Function for SpillFunction {
    fn invoke(&self, invocation: Invocation) -> Call {
        match self.workers.get() {
            Some(workers) if self.to_workers(workers) => return workers.invoke(invocation),
            Some(_) => {}
            // Once started (or failed to start), no call measures the interpreter again.
            None if !self.starting.load(Ordering::Acquire) && self.local.saturated() => {
                self.start_workers();
            }
            None => {}
        }
        self.local.invoke(invocation)
    }

    fn describe(&self) -> String {
        format!(
            "{}; up to {} more interpreter(s) in worker processes when this one is saturated",
            self.local.describe(),
            self.count
        )
    }

    fn healthy(&self) -> bool {
        self.local.healthy()
    }

    fn stats(&self) -> EngineStats {
        let here = self.local.stats();
        let there = self.workers.get().map(Function::stats).unwrap_or_default();
        EngineStats {
            queued: here.queued + there.queued,
            running: here.running + there.running,
        }
    }
}
