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
//! - [`worker`]: the worker process of `FNHOST_ISOLATION=process`, over the worker protocol
//!   of `fnhost-loader-process`.

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
use fnhost_workers::WorkerCommand;
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
    let command = WorkerCommand {
        program: worker_program.to_path_buf(),
        args: worker_args(spec),
        env: Vec::new(),
        dir: spec.dir.clone(),
        start_timeout: std::time::Duration::from_secs(60),
    };
    fnhost_workers::start_blocking("native", spec, command, workers)
}

/// The arguments of `fnhost worker native` for `spec`.
pub fn worker_args(spec: &FunctionSpec) -> Vec<String> {
    vec![
        "worker".to_owned(),
        "native".to_owned(),
        "--dir".to_owned(),
        spec.dir.display().to_string(),
        "--module".to_owned(),
        spec.module.clone(),
        "--handler".to_owned(),
        spec.handler.clone(),
        "--runtime".to_owned(),
        spec.runtime.clone(),
        "--memory-limit".to_owned(),
        spec.memory_limit.clone(),
        "--timeout".to_owned(),
        spec.timeout.as_secs_f64().to_string(),
    ]
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
