//! The native loader: functions as shared objects with fnhost's C ABI
//! (`include/fnhost_native.h`, documented in `docs/native-abi.md`), called in-process on a
//! pool of threads. The fastest path fnhost has: no interpreter, no serialisation; the
//! request is lent to the function and the response copied out through callbacks.
//!
//! # Layout
//!
//! - [`abi`]: the `#[repr(C)]` mirror of the header and the response callbacks.
//! - [`library`]: opening the `.so`, checking the ABI version, `fnhost_init`, the handler.
//! - [`call`]: one call, from [`Invocation`] to [`Response`].
//! - [`pool`]: the calling threads, and what happens to a call past its deadline.
//! - [`worker`]: the worker process of `FNHOST_ISOLATION=process`, served by
//!   `fnhost-workers`' worker server.

pub mod abi;
pub mod call;
pub mod library;
pub mod pool;
pub mod worker;

use std::sync::Arc;

use fnhost_loader_api::{
    Call, EngineStats, Function, FunctionSpec, Invocation, InvokeError, Isolation, LoadError,
    Loader, Stop, answer_from,
};
use tokio::sync::oneshot;

use crate::pool::{Job, JobState, Pool};

/// Loads native functions.
#[derive(Debug, Default, Clone, Copy)]
pub struct NativeLoader;

impl Loader for NativeLoader {
    fn name(&self) -> &'static str {
        "native"
    }

    fn load(&self, spec: &FunctionSpec) -> Result<Box<dyn Function>, LoadError> {
        if let Isolation::Process { worker_program } = &spec.isolation {
            return load_isolated(spec, worker_program, spec.workers);
        }
        let loaded = library::open(spec)?;
        let context = spec.context();
        let threads = spec.concurrency.max(1);
        let pool = Pool::start(&loaded, context, threads).map_err(|e| LoadError::Engine {
            engine: "native",
            detail: format!("cannot start threads: {e}"),
        })?;
        Ok(Box::new(NativeFunction {
            pool,
            threads,
            path: library::library_path(spec),
        }))
    }
}

/// Starts worker processes (`<worker_program> worker native ...`) and waits for the first.
/// Needs the tokio runtime the proxy serves on (entered, not running this thread).
fn load_isolated(
    spec: &FunctionSpec,
    worker_program: &std::path::Path,
    workers: usize,
) -> Result<Box<dyn Function>, LoadError> {
    let command = fnhost_workers::serve::command("native", spec, worker_program);
    fnhost_workers::start_blocking("native", spec, command, workers)
}

/// A loaded native function.
pub struct NativeFunction {
    pool: Arc<Pool>,
    threads: usize,
    path: std::path::PathBuf,
}

impl Function for NativeFunction {
    fn invoke(&self, invocation: Invocation) -> Call {
        let (reply, answer) = oneshot::channel();
        let state = Arc::new(JobState::default());
        let job = Job {
            invocation,
            reply,
            state: state.clone(),
        };
        if !self.pool.submit(job) {
            return Call::failed(InvokeError::Unavailable(
                "the native thread pool stopped".to_owned(),
            ));
        }
        let pool = self.pool.clone();
        let stop = Stop::new(move || Box::pin(std::future::ready(pool.stop(&state))));
        Call::new(answer_from(answer, "the native call was dropped"), stop)
    }

    fn describe(&self) -> String {
        format!(
            "native ABI v{} ({}), {} threads",
            abi::ABI_VERSION,
            self.path.display(),
            self.threads
        )
    }

    fn stats(&self) -> EngineStats {
        use std::sync::atomic::Ordering::Relaxed;
        EngineStats {
            queued: self.pool.queued.load(Relaxed),
            running: self.pool.running.load(Relaxed),
        }
    }
}
