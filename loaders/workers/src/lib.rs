//! Long-lived worker processes, for every loader that runs functions outside fnhost: the
//! framed worker protocol (`docs/worker-protocol.md`) over a Unix socket, never the worker's
//! stdout; one worker process and the tasks that write its calls and route its results; the
//! pool of call slots with replacement after a crash or a timeout; and [`ProcessFunction`],
//! the [`fnhost_loader_api::Function`] over such a pool. A timed-out call's worker is killed
//! and replaced; a crashed worker fails its calls with a clear 500 and is replaced; the proxy
//! keeps serving.
//!
//! Shared by the process loader (Node.js, Ruby, Go, Java, C# shims) and the native loader
//! (`FNHOST_ISOLATION=process`); neither depends on the other.
//!
//! # Layout
//!
//! - [`protocol`]: frames and their JSON headers.
//! - [`worker`]: one worker process and the task routing its results.
//! - [`pool`]: the worker slots, leases, replacement with backoff.
//! - [`memory`]: the workers' memory limit (`FUNC_MEMORY_LIMIT`), watched from `/proc`.
//! - [`function`]: [`ProcessFunction`] over a pool, and [`start_blocking`] for loaders.
//! - [`serve`]: the worker side, for workers that are fnhost itself (`fnhost worker LOADER`,
//!   `FNHOST_ISOLATION=process`): a function loaded in the worker answers the host's calls.

pub mod function;
pub mod memory;
pub mod pool;
pub mod protocol;
pub mod serve;
pub mod worker;

pub use function::{ProcessFunction, start_blocking};
pub use worker::{WorkerCommand, WorkerError, WorkerGone};
